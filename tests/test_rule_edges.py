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


# ---- every rule at its edge points ----------------------------------------------------------------
# For each differentiable NumPy / numpy.linalg / math rule of the catalog: calls at points where
# rules often break although the derivative exists (zeros, equal values where that is smooth,
# length-1 axes that broadcast, reductions over one element, repeated indices). Each is checked
# against central differences in both modes, and each gradient must have its argument's shape.
# Kinks and ties (abs at 0, max of equal values) have no derivative and are not tested here.
def fn1(fn):
    def f(x):
        return fn(x)

    return f


def fn2(fn):
    def f(x, y):
        return fn(x, y)

    return f


ZERO3 = np.array([0.0, -0.0, 0.3])
AT_ONE = np.array([1.0, 1.0, 2.0])
COL = np.array([[0.5], [-1.2], [2.0]])  # (3, 1): a length-1 axis
ROW = np.array([[0.4, -0.7, 1.1]])  # (1, 3)
ZEROS_IN = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]])  # one zero, two zeros
EQUAL = np.full((2, 3), 0.7)


def e(name, f, *args, wrt=None):
    return pytest.param(f, args, wrt, id=name)


EDGES = {}


def edges(name, *cases):
    EDGES[name] = list(cases)


_AT_ZERO = [
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arctanh", "exp",
    "exp2", "expm1", "log1p", "sinc", "square", "negative", "positive", "deg2rad", "degrees", "rad2deg",
    "radians", "conjugate", "real", "nan_to_num",
]  # fmt: skip
for _n in _AT_ZERO:
    edges(f"np.{_n}", e("zero", fn1(getattr(np, _n)), ZERO3), e("0-d", fn1(getattr(np, _n)), np.array(0.0)))
for _n in ("log", "log2", "log10", "sqrt", "reciprocal"):  # ans == 0 or 1 where x == 1
    edges(f"np.{_n}", e("one", fn1(getattr(np, _n)), AT_ONE))
edges("np.cbrt", e("one", fn1(np.cbrt), AT_ONE * -1.0))
edges("np.absolute", e("size-1", fn1(np.abs), np.array([-0.5])))
edges("np.fabs", e("size-1", fn1(np.fabs), np.array([-0.5])))
edges("np.arccosh", e("0-d", fn1(np.arccosh), np.array(1.5)))


def _binary(name, x, y, **kw):
    fn = getattr(np, name)
    edges(f"np.{name}", e("x-zero", fn2(fn), x, y, **kw), e("broadcast", fn2(fn), COL + 3.0, ROW + 3.0))


_binary("add", ZERO3, ZERO3)
_binary("subtract", ZERO3, ZERO3)
_binary("multiply", ZERO3, ZERO3)
_binary("divide", ZERO3, AT_ONE)
_binary("power", ZERO3, np.array([2.0, 3.0, 0.5]), wrt=(1,))
_binary("float_power", ZERO3, np.array([2.0, 3.0, 0.5]), wrt=(1,))
_binary("arctan2", ZERO3, AT_ONE)
_binary("hypot", ZERO3, AT_ONE)
_binary("logaddexp", EQUAL, EQUAL)
_binary("logaddexp2", EQUAL, EQUAL)
_binary("remainder", AT_ONE * 0.5, AT_ONE + 0.5)  # remainder jumps at x = 0
_binary("fmod", ZERO3, AT_ONE + 0.5)
_binary("copysign", AT_ONE, -AT_ONE)
EDGES["np.power"].append(e("x-zero-dx", fn2(np.power), ZERO3, np.array([2.0, 0.0, 0.0]), wrt=(0,)))
EDGES["np.float_power"].append(e("x-zero-dx", fn2(np.float_power), ZERO3, np.array([2.0, 0.0, 0.0]), wrt=(0,)))
for _n in ("maximum", "minimum", "fmax", "fmin"):  # ties have no derivative: only broadcasting
    edges(f"np.{_n}", e("broadcast", fn2(getattr(np, _n)), COL, ROW))


def clip_broadcast(x, lo):
    return np.clip(x, lo, 5.0)


def where_broadcast(x, y):
    return np.where(x > 0.0, x, y)


edges("np.clip", e("broadcast", clip_broadcast, COL, ROW - 3.0))
edges("np.where", e("broadcast", where_broadcast, COL, ROW))


# Reductions: over a length-1 axis, of a single element, of equal values, with zeros.
def reductions(fn, x=COL, zeros=None):
    def axis1(x):
        return fn(x, axis=1)

    def axis1_keep(x):
        return fn(x, axis=1, keepdims=True) * x

    def single(x):
        return fn(x[:1, :1])

    cases = [e("length-1 axis", axis1, x), e("keepdims", axis1_keep, x), e("one element", single, x)]
    if zeros is not None:

        def everything(x):
            return fn(x)

        def axis0(x):
            return fn(x, axis=0)

        cases += [e("zeros", everything, zeros), e("zeros-axis", axis0, zeros)]
    return cases


for _n in ("sum", "mean", "nansum", "nanmean", "median", "max", "min", "amax", "amin", "nanmax", "nanmin"):
    edges(f"np.{_n}", *reductions(getattr(np, _n)))
for _n in ("prod", "nanprod"):
    edges(f"np.{_n}", *reductions(getattr(np, _n), zeros=ZEROS_IN))
for _n in ("var", "std", "nanvar", "nanstd"):
    edges(f"np.{_n}", *reductions(getattr(np, _n), zeros=EQUAL))
edges("np.ptp", *reductions(np.ptp))


def average_weighted(x):
    return np.average(x, axis=1, weights=np.array([2.0]))


def cumsum_axis1(x):
    return np.cumsum(x, axis=1)


def cumprod_axis0(x):
    return np.cumprod(x, axis=0)


def cumprod_axis1(x):
    return np.cumprod(x, axis=1)


def cumprod_flat(x):
    return np.cumprod(x)


def sort_axis1(x):
    return np.sort(x, axis=1)


edges("np.average", e("length-1 axis", average_weighted, COL))
edges("np.cumsum", e("length-1 axis", cumsum_axis1, COL))
edges(
    "np.cumprod",
    e("length-1 axis", cumprod_axis1, COL),
    e("zeros", cumprod_axis0, ZEROS_IN),
    e("zeros-row", cumprod_axis1, ZEROS_IN),
    e("zeros-flat", cumprod_flat, ZEROS_IN),
)
edges("np.sort", e("length-1 axis", sort_axis1, COL))


# Products with length-1 axes and zeros.
def cross_broadcast(a, b):
    return np.cross(a, b)


def tensordot_one(a, b):
    return np.tensordot(a, b, axes=1)


def multi_dot_cols(a, b, c):
    return np.linalg.multi_dot([a, b, c])


edges("np.dot", e("length-1", fn2(np.dot), COL, ROW), e("zeros", fn2(np.dot), ZERO3, ZERO3))
edges(
    "np.matmul",
    e("length-1", fn2(np.matmul), COL, ROW),
    e("batch-broadcast", fn2(np.matmul), RNG.uniform(size=(1, 2, 3)), RNG.uniform(size=(4, 3, 2))),
)
edges("np.inner", e("length-1", fn2(np.inner), ROW, ROW * 2.0))
edges("np.outer", e("zeros", fn2(np.outer), ZERO3, ZERO3))
edges("np.vdot", e("zeros", fn2(np.vdot), ZERO3, ZERO3))
edges("np.tensordot", e("length-1", tensordot_one, COL, ROW))
edges("np.kron", e("length-1", fn2(np.kron), ROW, COL))
edges("np.cross", e("broadcast", cross_broadcast, ROW, np.ones((2, 3)) * ZERO3))
edges("np.linalg.multi_dot", e("length-1", multi_dot_cols, COL, ROW, COL))


# Shape functions (all linear): length-1 axes, repeated indices, one-element joins.
def squeeze1(x):
    return np.squeeze(x, axis=1)


def expand0(x):
    return np.expand_dims(x, 0)


def broadcast_rows(x):
    return np.broadcast_to(x, (2, 3))


def tile_col(x):
    return np.tile(x, (1, 2))


def repeat_col(x):
    return np.repeat(x, 2, axis=1)


def pad_col(x):
    return np.pad(x, 1)


def take_repeated(x):
    return np.take(x, np.array([0, 0, 2, 0]))


def take_along_repeated(x):
    return np.take_along_axis(x, np.array([[0, 0, 0]]), axis=0)


def diag_one(x):
    return np.diag(x[:1, :1])


def diagonal_col(x):
    return np.diagonal(x)


def trace_col(x):
    return np.trace(x)


def transpose_col(x):
    return np.transpose(x)


def swap_col(x):
    return np.swapaxes(x, 0, 1)


def move_col(x):
    return np.moveaxis(x, 0, -1)


def reshape_col(x):
    return np.reshape(x, (1, 3))


def roll_col(x):
    return np.roll(x, 1, axis=1)


def rot_col(x):
    return np.rot90(x)


def flip_col(x):
    return np.flip(x, axis=1)


def join_one(fn):
    def f(x):
        return fn([x])

    return f


def join_two(fn):
    def f(x, y):
        return fn([x, y])

    return f


def split_col(x):
    return np.split(x, 3)[1]


def array_split_col(x):
    return np.array_split(x, 2)[1]


def full_of(s):
    return np.full((2, 3), s)


def full_like_of(s):
    return np.full_like(EQUAL, s)


def array_of(x, y):
    return np.array([x, y])


def asarray_of(x):
    return np.asarray(x)


def linspace_two(a, b):
    return np.linspace(a, b, 2)


def linspace_none(a, b):
    return np.linspace(a, b, 0)


def einsum_col(a, b):
    return np.einsum("ij,jk->ik", a, b)


def r_col(x, y):
    return np.r_[x, y, 0.0]


def c_col(x, y):
    return np.c_[x, y]


for _name, _f, _x in [
    ("np.squeeze", squeeze1, COL),
    ("np.expand_dims", expand0, COL),
    ("np.broadcast_to", broadcast_rows, ROW),
    ("np.tile", tile_col, COL),
    ("np.repeat", repeat_col, COL),
    ("np.pad", pad_col, COL),
    ("np.take", take_repeated, ZERO3),
    ("np.take_along_axis", take_along_repeated, COL @ ROW),
    ("np.diag", diag_one, COL),
    ("np.diagonal", diagonal_col, COL),
    ("np.trace", trace_col, COL),
    ("np.transpose", transpose_col, COL),
    ("np.swapaxes", swap_col, COL),
    ("np.moveaxis", move_col, COL),
    ("np.reshape", reshape_col, COL),
    ("np.roll", roll_col, COL),
    ("np.rot90", rot_col, COL),
    ("np.flip", flip_col, COL),
    ("np.fliplr", fn1(np.fliplr), COL),
    ("np.flipud", fn1(np.flipud), ROW),
    ("np.tril", fn1(np.tril), COL),
    ("np.triu", fn1(np.triu), ROW),
    ("np.ravel", fn1(np.ravel), COL),
    ("np.copy", fn1(np.copy), COL),
    ("np.atleast_1d", fn1(np.atleast_1d), np.array(0.5)),
    ("np.atleast_2d", fn1(np.atleast_2d), np.array(0.5)),
    ("np.atleast_3d", fn1(np.atleast_3d), np.array(0.5)),
    ("np.asarray", asarray_of, COL),
    ("np.split", split_col, COL),
    ("np.array_split", array_split_col, COL),
    ("np.full", full_of, 0.0),
    ("np.full_like", full_like_of, 0.0),
]:
    edges(_name, e("edge", _f, _x))
for _n in ("concatenate", "stack", "hstack", "vstack", "dstack", "column_stack"):
    edges(f"np.{_n}", e("one item", join_one(getattr(np, _n)), COL), e("two", join_two(getattr(np, _n)), COL, COL))
edges("np.array", e("scalars", array_of, 0.0, 0.0))
edges("np.linspace", e("num 2", linspace_two, COL, ROW), e("num 0", linspace_none, 0.0, 1.0))
edges("np.einsum", e("length-1", einsum_col, COL, ROW))
edges("np.r_", e("length-1", r_col, ZERO3[:1], 0.0))
edges("np.c_", e("length-1", c_col, ZERO3[:1], ZERO3[:1]))


def add_at_repeated(x, v):
    a = x * 1.0
    np.add.at(a, np.array([0, 0, -3, 2]), v)  # one position three times, through a negative index
    return np.sum(a * a)


def subtract_at_empty(x, v):
    a = x * 1.0
    np.subtract.at(a, np.array([], dtype=int), v)  # no position: v gets no gradient
    np.subtract.at(a, (slice(None),), v * a)  # every position, v read as a scalar beside a
    return np.sum(a * a)


edges("np.add.at", e("repeated and negative", add_at_repeated, ZERO3, 0.0))
edges("np.subtract.at", e("empty and all", subtract_at_empty, ZERO3, 0.0))


# numpy.linalg: a singular matrix where the function is smooth there, powers 0 and 1.
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])
SPD = np.array([[2.0, 0.5], [0.5, 1.0]])


def matrix_power0(a):
    return np.linalg.matrix_power(a, 0)


def matrix_power1(a):
    return np.linalg.matrix_power(a, 1)


def norm_with_zero(x):
    return np.linalg.norm(x)


def norm_axis(x):
    return np.linalg.norm(x, axis=1)


def solve_col(a, b):
    return np.linalg.solve(a, b)


def slogdet_log(a):
    return np.linalg.slogdet(a)[1]


def eigvalsh_equal(a):
    return np.linalg.eigvalsh(a)


edges("np.linalg.det", e("singular", fn1(np.linalg.det), SINGULAR), e("1x1", fn1(np.linalg.det), np.array([[0.0]])))
edges("np.linalg.matrix_power", e("power 0", matrix_power0, SPD), e("power 1", matrix_power1, SPD))
edges("np.linalg.norm", e("a zero entry", norm_with_zero, ZERO3), e("length-1 axis", norm_axis, COL))
edges("np.linalg.inv", e("1x1", fn1(np.linalg.inv), np.array([[2.0]])))
edges("np.linalg.solve", e("1x1", solve_col, np.array([[2.0]]), np.array([[0.0]])))
edges("np.linalg.slogdet", e("1x1", slogdet_log, np.array([[2.0]])))
edges("np.linalg.cholesky", e("1x1", fn1(np.linalg.cholesky), np.array([[2.0]])))
edges("np.linalg.eigvalsh", e("1x1", eigvalsh_equal, np.array([[2.0]])))


def eigh_values(a):
    return np.linalg.eigh(a)[0]


edges("np.linalg.eigh", e("1x1", eigh_values, np.array([[2.0]])))


ONE_BY_ONE = np.array([[2.0]])


# Decompositions (issue 14): 1x1 matrices, a single row or column (k = 1), a least-squares fit
# whose residual is zero.
def svd_parts(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return s + np.sum(u * vt[:, :1].T) + np.sum(vt * u[:1, :].T)


def qr_parts(a):
    q, r = np.linalg.qr(a)
    return np.sum(q) + r


def eig_values(a):
    return np.linalg.eig(a)[0]


def lstsq_solution(a, b):
    return np.linalg.lstsq(a, b)[0]


edges("np.linalg.svd", e("1x1", svd_parts, np.array([[2.0]])), e("row", svd_parts, ROW), e("column", svd_parts, COL))
edges("np.linalg.qr", e("1x1", qr_parts, np.array([[2.0]])), e("column", qr_parts, COL))
edges("np.linalg.eig", e("1x1", eig_values, np.array([[2.0]])))
edges("np.linalg.eigvals", e("1x1", fn1(np.linalg.eigvals), np.array([[2.0]])))
edges("np.linalg.pinv", e("1x1", fn1(np.linalg.pinv), np.array([[2.0]])), e("column", fn1(np.linalg.pinv), COL))
edges("np.linalg.lstsq", e("exact fit", lstsq_solution, COL, 2 * COL[:, 0]), e("column", lstsq_solution, COL, AT_ONE))
edges("np.linalg.svdvals", e("1x1", fn1(np.linalg.svdvals), np.array([[2.0]])), e("row", fn1(np.linalg.svdvals), ROW))
VECTOR_NORM, MATRIX_NORM = fn1(np.linalg.vector_norm), fn1(np.linalg.matrix_norm)
edges("np.linalg.vector_norm", e("a zero entry", VECTOR_NORM, ZERO3), e("column", VECTOR_NORM, COL))
edges("np.linalg.matrix_norm", e("column", MATRIX_NORM, COL), e("1x1", MATRIX_NORM, ONE_BY_ONE))

# math: scalars at 0 (or 1 for logarithms).
for _n in ("acos", "asin", "atan", "atanh", "asinh", "cos", "sin", "tan", "sinh", "cosh", "tanh", "degrees", "radians"):
    edges(f"math.{_n}", e("zero", fn1(getattr(math, _n)), 0.0))
for _n in ("erf", "erfc", "exp", "exp2", "expm1", "log1p"):
    edges(f"math.{_n}", e("zero", fn1(getattr(math, _n)), 0.0))
for _n in ("log", "log2", "log10", "sqrt"):
    edges(f"math.{_n}", e("one", fn1(getattr(math, _n)), 1.0))
edges("math.cbrt", e("one", fn1(math.cbrt), -1.0))
edges("math.acosh", e("above one", fn1(math.acosh), 1.5))
edges("math.fabs", e("negative", fn1(math.fabs), -0.5))
edges("math.copysign", e("negative", fn2(math.copysign), 0.5, -1.0, wrt=(0,)))
edges("math.atan2", e("y zero", fn2(math.atan2), 0.0, 1.0))
edges("math.hypot", e("x zero", fn2(math.hypot), 0.0, 1.0))
edges(
    "math.pow",
    e("x zero dx", fn2(math.pow), 0.0, 2.0, wrt=(0,)),
    e("x zero dy", fn2(math.pow), 0.0, 2.0, wrt=(1,)),
    e("y zero", fn2(math.pow), 0.0, 0.0, wrt=(0,)),
)


# The rest of NumPy (issue 14, item 5): length-1 axes, length-2 inputs, ties, none chosen.
def append_col(x):
    return np.append(x, 2.0 * x, axis=1)


def diff_two(x):
    return np.diff(x, prepend=0.0)


def ediff1d_col(x):
    return np.ediff1d(x, to_begin=1.0)


def gradient_two(x):
    return np.gradient(x, 0.5)


def gradient_col(x):
    return np.gradient(x, axis=0)


def vsplit_ones(x):
    return np.vsplit(x, 3)[1] * 2.0


def hsplit_one(x):
    return np.hsplit(x, 1)[0] ** 2


def dsplit_one(x):
    return np.dsplit(x[None], 1)[0] ** 2


def partition_col(x):
    return np.partition(x, 0, axis=1) * np.arange(3.0)[:, None]


def select_none_taken(x):
    return np.select([x > 10.0], [x**2], x * 3.0)


def rollaxis_col(x):
    return np.rollaxis(x, 1)


def imag_at_zero(x):
    return np.imag(x * (1.0 + 1.0j))


def angle_on_axis(x):
    return np.angle(x + 1.0j)


def real_if_close_col(x):
    return np.real_if_close(x * (1.0 + 0.0j))


def astype_zero_d(x):
    return np.astype(x, np.float64) * x


edges("np.append", e("length-1 axis", append_col, COL))
edges("np.diff", e("length 2", diff_two, np.array([0.0, 0.0])), e("length-1 axis", fn1(np.diff), COL))
edges("np.ediff1d", e("length-1 axis", ediff1d_col, COL), e("one item", fn1(np.ediff1d), np.array([0.5])))
edges("np.gradient", e("length 2", gradient_two, np.array([0.3, -0.2])), e("column", gradient_col, COL))
edges("np.vsplit", e("length-1 parts", vsplit_ones, COL))
edges("np.hsplit", e("one part", hsplit_one, COL))
edges("np.dsplit", e("one part", dsplit_one, COL))
edges("np.partition", e("length-1 axis", partition_col, COL))
edges("np.select", e("none taken", select_none_taken, ZERO3))
edges("np.rollaxis", e("length-1 axis", rollaxis_col, COL))
edges("np.imag", e("zero", imag_at_zero, ZERO3))
edges("np.angle", e("zero real part", angle_on_axis, ZERO3))
edges("np.real_if_close", e("length-1 axis", real_if_close_col, COL))
edges("np.astype", e("0-d", astype_zero_d, np.array(0.0)))


def convolve_same(a, v):
    return np.convolve(a, v, "same")


def interpolate(x, xp, fp):
    return np.interp(x, xp, fp)


edges(
    "np.convolve",
    e("length-1 kernel", convolve_same, np.array([0.5, -1.0, 2.0]), np.array([0.7])),
    e("zeros", convolve_same, ZERO3, np.array([0.2, 0.0])),
)
edges(
    "np.interp",
    e("outside the points", interpolate, np.array([-1.0, 3.0]), np.array([0.0, 1.0, 2.0]), np.array([0.5, -0.2, 1.1])),
    e(  # a flat segment past either end (moving xp there would unsort it: by x and fp only)
        "repeated points",
        interpolate,
        np.array([-0.5, 0.5, 2.5]),
        np.array([0.0, 0.0, 1.0, 2.0, 2.0]),
        np.array([3.0, 4.0, 5.0, 6.0, 7.0]),
        wrt=(0, 2),
    ),
)

# Rules with no edge point of their own beyond the cases above (say why).
NO_EDGE = {}
NO_EDGE["np.piecewise"] = "only constant values are differentiated (derivative 0); functions are refused"
NO_EDGE["np.row_stack"] = "NumPy's deprecated alias of np.vstack, one rule: tests/test_rules_numpy_more.py"
# Known to fail at these edge points although the derivative exists (to be fixed; see the report).
KNOWN = {}


def _counted_rules():
    from sct.rules import catalog

    return [
        name
        for lib, name, entry in catalog.builtin_entries()
        if lib in catalog.COUNTED and catalog.differentiable(entry) and lib not in catalog.SCIPY
    ]  # SciPy's rules have their edge points in their own tests (tests/test_rules_scipy_*.py)


def test_every_differentiable_rule_has_edge_cases():
    missing = [name for name in _counted_rules() if name not in EDGES and name not in NO_EDGE]
    assert missing == [], f"add edge cases (or a reason in NO_EDGE) for {missing}"


def _float_positions(args):
    return tuple(i for i, a in enumerate(args) if isinstance(a, float) or np.asarray(a).dtype.kind == "f")


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        pytest.param(
            *case.values,
            id=f"{name}-{case.id}",
            marks=[pytest.mark.xfail(reason=KNOWN[f"{name}-{case.id}"], strict=True)]
            if f"{name}-{case.id}" in KNOWN
            else [],
        )
        for name, cases in EDGES.items()
        for case in cases
    ],
)
def test_rule_at_edge_point(f, args, wrt):
    wrt = wrt or _float_positions(args)
    sct.check_grads(f, args, modes=("fwd", "rev"), order=1, wrt=wrt)
    out, pullback = sct.vjp(f, *args)
    grads = pullback(np.ones_like(np.asarray(out, dtype=float)))
    for i in wrt:
        assert np.shape(grads[i]) == np.shape(args[i]), f"argument {i}: gradient shape {np.shape(grads[i])}"
        assert np.all(np.isfinite(grads[i])), f"argument {i}: {grads[i]}"


# ---- the exported module computes the same gradients (it copies the new helpers) -----------------
def uses_the_new_helpers(x):
    joined = np.r_[x, 2.0 * x] + np.linspace(0.0, x[0], 6)
    mixed = np.einsum("ij,jk->ik", x[:1, None], x[None, :2])
    return (
        np.sum(np.sinc(joined))
        + np.std(x * 0.0 + 1.0)
        + np.sum(np.cumprod(x) * mixed[0, 0])
        + np.linalg.det(np.outer(x[:2], x[:2]))
    )


def test_export_agrees_with_grad():
    from sct.export import export_source

    x = np.array([0.0, 0.5, -1.5])
    namespace = {}
    exec(export_source(uses_the_new_helpers), namespace)
    np.testing.assert_allclose(namespace["gradient"](x), sct.grad(uses_the_new_helpers)(x))
    check(uses_the_new_helpers, (x,))


# ---- a reduction over axis 0 of a 0-d value (found by the "functions" idiom family) -------------
@pytest.mark.parametrize("reduce", [np.sum, np.max, np.min, np.prod, np.nansum], ids=lambda f: f.__name__)
def test_a_reduction_over_axis_0_of_a_scalar_is_the_scalar(reduce):
    W = np.arange(6.0).reshape(2, 3)

    def f(x):
        return np.sum(reduce(x, axis=0) * W)  # NumPy reduces a 0-d value over axis 0 to itself

    assert sct.grad(f)(0.3) == pytest.approx(np.sum(W))
    sct.check_grads(f, (0.3,), modes=("fwd", "rev"), order=2)
