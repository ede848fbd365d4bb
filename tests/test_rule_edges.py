"""Rules at the points where they used to return zero or NaN although the derivative exists (issue 12, §6).

Each reproducer is checked against central differences in forward and reverse mode
(``sct.check_grads``), with the gradient in the shape of its argument. Where the
derivative truly does not exist there is no test of a value.
"""

import math

import numpy as np
import pytest

import sct


def check(f, args, order=1, wrt=None):
    """Central differences agree in both modes, and every gradient has its argument's shape."""
    sct.check_grads(f, args, modes=("fwd", "rev"), order=order, wrt=wrt)
    positions = tuple(range(len(args))) if wrt is None else wrt
    grads = sct.grad(f, wrt=positions)(*args)
    for i, g in zip(positions, grads):
        assert np.shape(g) == np.shape(args[i]), f"argument {i}: gradient shape {np.shape(g)}"
        assert np.all(np.isfinite(g)), f"argument {i}: {g}"


RNG = np.random.default_rng(12)
X3 = RNG.uniform(-1.0, 1.0, 3)
Y2 = RNG.uniform(-1.0, 1.0, 2)
A23 = RNG.uniform(-1.0, 1.0, (2, 3))
B13 = RNG.uniform(-1.0, 1.0, (1, 3))
C22 = RNG.uniform(-1.0, 1.0, (2, 2))


# ---- np.r_ and np.c_ ---------------------------------------------------------------------------
def r_twice(x):
    return np.sum(np.r_[x, x] ** 2)


def c_columns(x):
    return np.sum(np.c_[x, 2 * x] ** 2)


def r_scalars_and_slice(x, y):
    return np.sum(np.r_[x, 1.0, y, 0:3] ** 3)


def r_scalar_items(x, s):
    return np.sum(np.r_[x, s, 2.0 * s] ** 3)


def r_matrices(a, b):
    return np.sum(np.r_[a, b] ** 3)


def c_matrices(a, c):
    return np.sum(np.c_[a, c] ** 3)


def c_vector_matrix_slice(x, a):
    return np.sum(np.c_[x[:2], a, 0:2] ** 3)


def r_single(x):
    return np.sum(np.r_[x] ** 3)


@pytest.mark.parametrize(
    "f, args",
    [
        (r_twice, (X3,)),
        (c_columns, (X3,)),
        (r_scalars_and_slice, (X3, Y2)),
        (r_scalar_items, (X3, 0.7)),
        (r_matrices, (A23, B13)),
        (c_matrices, (A23, C22)),
        (c_vector_matrix_slice, (X3, A23)),
        (r_single, (X3,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_r_and_c_differentiate_every_item(f, args):
    check(f, args, order=2)
    assert sct.value_and_grad(f, wrt=tuple(range(len(args))))(*args)[0] == pytest.approx(f(*args))


def test_a_constant_r_of_a_slice_stays_a_constant():
    def f(x):
        t = np.r_[0:5]
        return np.sum(x * t[:3])

    check(f, (X3,))


def test_a_directive_string_is_refused_where_the_items_carry_a_derivative():
    def f(x):
        return np.sum(np.r_["0,2", x, x])

    with pytest.raises(sct.SctError, match="directive") as info:
        sct.grad(f)(X3)
    assert "test_rule_edges.py" in str(info.value)

    def constant(x):
        return np.sum(x * np.r_["0,2", [1.0, 2.0, 3.0]])

    check(constant, (X3,))


# ---- np.linspace ---------------------------------------------------------------------------------
def linspace_stop(x):
    return np.sum(np.linspace(0.0, x, 5) ** 2)


def linspace_no_endpoint(a, b):
    return np.sum(np.linspace(a, b, 4, endpoint=False) ** 2)


def linspace_axis1(a, b):
    return np.sum(np.linspace(a, b, 4, axis=1) ** 3)


def linspace_last_axis_broadcast(a, b):
    return np.sum(np.linspace(a, b, 4, axis=-1) ** 3)


def linspace_num_in_a_variable(a, b):
    n = 6
    return np.sum(np.sin(np.linspace(a, b, n)))


def linspace_one_point(a, b):
    return np.sum(np.linspace(a, b, 1) ** 2)


def linspace_array_start(a):
    return np.sum(np.linspace(a, 2.0, 4) ** 2)


def linspace_broadcast(a, b):
    return np.sum(np.linspace(a, b, 3) ** 3)


@pytest.mark.parametrize(
    "f, args",
    [
        (linspace_stop, (2.0,)),
        (linspace_no_endpoint, (0.5, 2.0)),
        (linspace_axis1, (X3, X3[::-1].copy())),
        (linspace_last_axis_broadcast, (RNG.uniform(size=(2, 1)), X3)),
        (linspace_num_in_a_variable, (0.3, 1.7)),
        (linspace_one_point, (0.3, 1.7)),
        (linspace_array_start, (X3,)),
        (linspace_broadcast, (RNG.uniform(size=(2, 1)), X3)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_linspace_is_differentiable_in_start_and_stop(f, args):
    check(f, args, order=2)


def test_linspace_num_as_an_argument():
    def f(a, b, n):
        return np.sum(np.linspace(a, b, n) ** 2)

    check(f, (0.3, 1.7, 7), wrt=(0, 1))


def test_linspace_retstep_is_refused():
    def f(a):
        return np.sum(np.linspace(0.0, a, 5, retstep=True)[0])

    with pytest.raises(sct.SctError, match="retstep"):
        sct.grad(f)(1.0)


# ---- einsum --------------------------------------------------------------------------------------
def einsum_batch_broadcast(a, w):
    return np.sum(np.einsum("mnd,mdo->mno", a, w) ** 2)


def einsum_sum_broadcast(a, b):
    return np.sum(np.einsum("ij,jk->k", a, b) ** 2)


def einsum_matmul(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b) ** 2)


@pytest.mark.parametrize(
    "f, args",
    [
        (einsum_batch_broadcast, (RNG.uniform(size=(1, 2, 3)), RNG.uniform(size=(4, 3, 2)))),
        (einsum_batch_broadcast, (RNG.uniform(size=(4, 2, 3)), RNG.uniform(size=(1, 3, 2)))),
        (einsum_sum_broadcast, (RNG.uniform(size=(3, 1)), RNG.uniform(size=(4, 2)))),
        (einsum_sum_broadcast, (RNG.uniform(size=(3, 4)), RNG.uniform(size=(1, 2)))),
        (einsum_matmul, (RNG.uniform(size=(3, 1)), RNG.uniform(size=(4, 2)))),
        (einsum_matmul, (RNG.uniform(size=(3, 4)), RNG.uniform(size=(4, 2)))),
    ],
)
def test_einsum_sums_broadcast_axes_back(f, args):
    check(f, args, order=2)


W42, W32, W23 = RNG.uniform(size=(4, 2)), RNG.uniform(size=(3, 2)), RNG.uniform(size=(2, 3))


def einsum_ij_jk_ki(a, b):
    return np.sum(np.einsum("ij,jk->ki", a, b) * W42)


def einsum_ij_ji(a):
    return np.sum(np.einsum("ij->ji", a) * W32)


def einsum_ij_ij_ji(a, c):
    return np.sum(np.einsum("ij,ij->ji", a, c) * W32)


def einsum_i_j_ji(x, y):
    return np.sum(np.einsum("i,j->ji", x, y) * W23)


@pytest.mark.parametrize(
    "f, args",
    [
        (einsum_ij_jk_ki, (A23, RNG.uniform(size=(3, 4)))),
        (einsum_ij_ji, (A23,)),
        (einsum_ij_ij_ji, (A23, RNG.uniform(size=(2, 3)))),
        (einsum_i_j_ji, (X3, Y2)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_einsum_whose_output_is_transposed(f, args):
    check(f, args, order=2)


# ---- sinc, std, var ------------------------------------------------------------------------------
def test_sinc_at_zero():
    def f(x):
        return np.sum(np.sinc(x))

    check(f, (np.array([0.0, 1e-9, 0.5, -1.3, 2.0]),), order=2)
    assert sct.grad(f)(np.array([0.0]))[0] == 0.0
    # the second derivative at 0 is -pi^2 / 3
    assert sct.hessian(lambda x: np.sinc(x))(0.0) == pytest.approx(-(math.pi**2) / 3)


def std_all(x):
    return np.std(x)


def std_axis_ddof_keepdims(x):
    return np.sum(np.std(x, axis=1, ddof=1, keepdims=True) * x)


def std_method(x):
    return np.sum(x.std(axis=0))


def var_all(x):
    return np.var(x)


def var_axis_ddof(x):
    return np.sum(np.var(x, axis=0, ddof=1) ** 2)


def nanstd_axis(x):
    return np.sum(np.nanstd(x, axis=0))


FLAT = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])


@pytest.mark.parametrize(
    "f, x",
    [
        (std_all, np.ones(3)),
        (std_axis_ddof_keepdims, FLAT),
        (std_method, np.array([[1.0, 2.0], [1.0, 3.0]])),
        (var_all, np.ones(3)),
        (var_axis_ddof, FLAT.T.copy()),
        (nanstd_axis, np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0], [1.0, np.nan, 3.0]])),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_std_and_var_of_values_with_zero_spread(f, x):
    sct.check_grads(f, (x,), modes=("fwd", "rev"), order=1)
    assert np.all(np.isfinite(sct.grad(f)(x)))


def test_std_of_equal_values_has_derivative_zero_as_in_autograd():
    assert np.array_equal(sct.grad(std_all)(np.full(4, 2.5)), np.zeros(4))


# ---- powers at 0 ---------------------------------------------------------------------------------
def power_op(x, y):
    return x**y


def power_np(x, y):
    return np.sum(np.power(x, y))


def power_float(x, y):
    return np.sum(np.float_power(x, y))


def power_builtin(x, y):
    return pow(x, y)


def power_math(x, y):
    return math.pow(x, y)


@pytest.mark.parametrize("f", [power_op, power_builtin, power_math], ids=lambda f: f.__name__)
@pytest.mark.parametrize("y", [0.0, 1.0, 2.0, 2.5])
def test_scalar_power_at_zero_base(f, y):
    # d/dy exists for y > 0 (0 ** y = 0 nearby); d/dx at x = 0 for integer y (x < 0 is then defined).
    if y > 0:
        check(f, (0.0, y), wrt=(1,))
    if y == int(y):
        check(f, (0.0, y), wrt=(0,))
    check(f, (1.5, y))


@pytest.mark.parametrize("f", [power_np, power_float, power_op], ids=lambda f: f.__name__)
def test_array_power_at_zero_base(f):
    def g(x, y):
        return np.sum(f(x, y))

    x, y = np.array([0.0, 0.0, 1.5]), np.array([2.0, 3.0, 0.5])
    check(g, (x, y), wrt=(1,))
    check(g, (np.array([0.0, 0.0, 1.5]), np.array([0.0, 2.0, 0.0])), wrt=(0,))


def test_constant_powers_keep_their_plain_form():
    def f(x):
        return x**2 + 0.0**x

    check(f, (0.3,))
    assert "x ** 1" in sct.source(f) or "2 * x" in sct.source(f)
    assert "np.where" not in sct.source(f)


def test_power_of_zero_to_zero():
    def f(x):
        return np.sum(x**0.0)

    check(f, (np.array([0.0, 1.0]),))
