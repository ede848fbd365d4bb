"""Transforms compose: sct.grad, jvp, vjp, hessian, ... called inside a function being differentiated.

Each nested transform is checked against central differences in both modes, to
second order of the outer function (so up to third derivatives of the inner
one), and its value against what the transform itself returns when the outer
function runs as plain Python.
"""

import numpy as np
import pytest
from conftest import numeric_grad
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sct

V = np.array([0.3, -0.2, 0.5])
X = np.array([0.1, 0.7, -0.4])
W = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [0.2, 0.1, 0.4]])
C = np.array([1.0, -2.0, 0.5])


def f(x):
    return np.sum(np.sin(x) * x**2)


def two(x, y):
    return np.sum(np.exp(x) * y) + np.sum(y**3)


def vec(x):
    return np.tanh(x) * x[0]


def cubic(x):
    return x**3 * np.sin(x)


def loglike(r, p):
    return -0.5 * r**2 * p + np.log(p + r**2)


def shifted(s):
    return C + s  # an array from a scalar: its tangent must come back array-shaped


DG = sct.grad(f)  # transforms made at module level, called inside
J = sct.jacobian(vec, mode="fwd")
JR = sct.jacobian(vec)
H = sct.hessian(f)


# ---- each transform inside -------------------------------------------------------------
def uses_grad(x):
    return np.sum(sct.grad(f)(x) * V)


def uses_grad_wrt(x, y):
    return np.sum(sct.grad(two, wrt=1)(x, y) ** 2) + np.sum(sct.grad(two, wrt="x")(x, y) * y)


def uses_grad_tuple(x, y):
    gx, gy = sct.grad(two, wrt=(0, 1))(x, y)
    return np.sum(gx * gy)


def uses_value_and_grad(x):
    value, g = sct.value_and_grad(f)(x)
    return value * np.sum(g)


def uses_jvp(x):
    y, dy = sct.jvp(f, (x,), (V,))
    return y * dy


def uses_vjp(x):
    out, vjp_fn = sct.vjp(vec, x)
    (g,) = vjp_fn(V)
    return np.sum(out * g)


def uses_hvp(x):
    return np.sum(sct.hvp(f, (x,), (V,)) * x)


def uses_hessian(x):
    return np.sum(sct.hessian(f)(x) * W)


def uses_jacobian(x):
    return np.sum(sct.jacobian(vec)(x) * W)


def uses_jacobian_fwd(x):
    return np.sum(sct.jacobian(vec, mode="fwd")(x) ** 2)


def uses_module_level(x):
    return np.sum(DG(x) * x) + np.sum(J(x) * W) + np.sum(H(x))


def uses_module_level_rev(x):
    return np.sum(JR(x) * W)


def uses_local_transform(x):
    dg = sct.grad(f)
    return np.sum(dg(x) ** 2)


def uses_grad_of_grad(x):
    return np.sum(sct.grad(sct.grad(cubic))(x) * x)


ARRAY_CASES = [
    uses_grad,
    uses_value_and_grad,
    uses_jvp,
    uses_vjp,
    uses_hvp,
    uses_hessian,
    uses_jacobian_fwd,
    uses_module_level,
    uses_local_transform,
]


@pytest.mark.parametrize("fn", ARRAY_CASES, ids=lambda fn: fn.__name__)
def test_a_transform_inside_against_central_differences_to_second_order(fn):
    sct.check_grads(fn, (X,), modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize("fn", ARRAY_CASES, ids=lambda fn: fn.__name__)
def test_the_gradient_through_a_transform_matches_numeric_gradients(fn):
    assert np.allclose(sct.grad(fn)(X), numeric_grad(fn, (X,), 0), rtol=1e-5, atol=1e-6)


def test_a_reverse_mode_jacobian_inside_to_first_order():
    """``mode="rev"`` (the default) runs as sct.jacobian runs it (its second order: tests/test_aliases_in_loops.py)."""
    sct.check_grads(uses_jacobian, (X,), modes=("fwd", "rev"), order=1)
    sct.check_grads(uses_module_level_rev, (X,), modes=("fwd", "rev"), order=1)
    assert np.allclose(sct.grad(uses_jacobian)(X), numeric_grad(uses_jacobian, (X,), 0), rtol=1e-5, atol=1e-6)
    with pytest.raises(sct.SctError):
        sct.grad(sct.grad(uses_jacobian))(X)


@pytest.mark.parametrize("fn", [uses_grad_wrt, uses_grad_tuple], ids=lambda fn: fn.__name__)
def test_a_transform_by_position_or_name_inside(fn):
    y = np.array([0.4, -0.6, 1.1])
    sct.check_grads(fn, (X, y), modes=("fwd", "rev"), order=2)
    gx, gy = sct.grad(fn, wrt=(0, 1))(X, y)
    assert np.allclose(gx, numeric_grad(fn, (X, y), 0), rtol=1e-5, atol=1e-6)
    assert np.allclose(gy, numeric_grad(fn, (X, y), 1), rtol=1e-5, atol=1e-6)


def test_scalar_arguments_and_a_transform_of_a_transform():
    sct.check_grads(uses_grad_of_grad, (0.4,), modes=("fwd", "rev"), order=2)
    sct.check_grads(lambda x: sct.hessian(cubic)(x) * x, (0.4,), modes=("fwd", "rev"), order=2)


# ---- the idioms: Hessian-vector product, Newton step, third-order mixes ---------------------------
def test_hessian_vector_product_as_grad_of_jvp():
    hvp = sct.grad(lambda x: sct.jvp(f, (x,), (V,))[1])
    assert np.allclose(hvp(X), sct.hvp(f, (X,), (V,)))
    assert np.allclose(hvp(X), numeric_grad(lambda x: numeric_grad(f, (x,), 0) @ V, (X,), 0), atol=1e-4)


def newton(r, p):
    rprime = lambda r: sct.grad(loglike)(r, p)  # noqa: E731
    return r - rprime(r) / sct.grad(rprime)(r)


def test_a_newton_step_differentiated():
    sct.check_grads(newton, (0.7, 1.3), modes=("fwd", "rev"), order=2)
    g = sct.grad(newton, wrt=(0, 1))(0.7, 1.3)
    assert np.allclose(g, [numeric_grad(newton, (0.7, 1.3), i) for i in (0, 1)], rtol=1e-5)


def reverse_over_reverse(x):
    return sct.grad(lambda z: np.sum(sct.grad(f)(z) * V))(x) @ x


def reverse_over_forward(x):
    return sct.grad(lambda z: sct.jvp(f, (z,), (V,))[1])(x) @ V


def forward_over_reverse(x):
    return sct.jvp(sct.grad(f), (x,), (V,))[1] @ x


@pytest.mark.parametrize("fn", [reverse_over_reverse, reverse_over_forward, forward_over_reverse])
def test_third_order_mixes(fn):
    sct.check_grads(fn, (X,), modes=("fwd", "rev"), order=2)  # up to the fifth derivative of f


def test_a_lambda_reading_the_callers_variables_is_differentiated_through_them():
    def fn(x, p):
        return np.sum(sct.grad(lambda z: np.sum(np.sin(z * p) * p))(x) * x)

    sct.check_grads(fn, (X, 0.8), modes=("fwd", "rev"), order=2)


def in_a_loop(x):
    acc = 0.0
    for i in range(3):
        acc = acc + np.sum(sct.grad(f)(x * (i + 1.0)) * x)
    return acc


def test_a_transform_called_in_a_loop():
    sct.check_grads(in_a_loop, (X,), modes=("fwd", "rev"), order=2)


def with_default(x, p=2.0):
    return np.sum(np.sin(x) * p)


def test_a_transformed_function_with_defaults():
    def fn(x):
        return np.sum(sct.grad(with_default)(x) * x) + np.sum(sct.grad(with_default)(x, 3.0))

    sct.check_grads(fn, (X,), modes=("fwd", "rev"), order=2)
    assert np.isclose(fn(X), np.sum(2.0 * np.cos(X) * X) + np.sum(3.0 * np.cos(X)))


def with_aux(x):
    return np.sum(x**3), x[0] * 2.0


def test_has_aux_and_wrt_by_name_of_a_lambda_inside():
    def fn(x, p):
        g, aux = sct.grad(with_aux, has_aux=True)(x)
        return np.sum(g * x) * aux + np.sum(sct.grad(lambda a, b: np.sum(np.sin(a) * b * p), wrt="b")(x, x))

    sct.check_grads(fn, (X, 0.3), modes=("fwd", "rev"), order=2)


def test_a_jvp_tangent_is_shaped_like_the_value():
    def fn(s):
        return np.sum(sct.jvp(shifted, (s,), (1.0,))[1]) * s  # three ones, not one

    assert np.isclose(fn(0.5), 1.5)
    assert np.isclose(sct.grad(fn)(0.5), 3.0)
    sct.check_grads(fn, (0.5,), modes=("fwd", "rev"), order=2)


@settings(max_examples=10, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 4), elements=st.floats(-2, 2)))
def test_grad_of_jvp_is_the_hessian_vector_product_for_all_inputs(x):
    v = np.linspace(-1.0, 1.0, x.size)
    nested = sct.grad(lambda z: sct.jvp(f, (z,), (v,))[1])(x)
    assert np.allclose(nested, sct.hvp(f, (x,), (v,)), rtol=1e-9, atol=1e-9)


# ---- what is refused, with a typed error at the call -------------------------------------------
def by_parameter(x, fn):
    return sct.grad(fn)(x)


def by_variable_wrt(x, k):
    return sct.grad(f, wrt=k)(x)


def vjp_indexed(x):
    return np.sum(sct.vjp(f, x)[0])


def jacobian_tuple_wrt(x):
    return np.sum(sct.jacobian(vec, wrt=(0,))(x))


def jvp_without_tuples(x):
    p = (x,)
    return sct.jvp(f, p, p)[1]


@pytest.mark.parametrize(
    "fn, words",
    [
        (by_parameter, "known only at run time"),
        (by_variable_wrt, "must be a constant"),
        (vjp_indexed, "vjp_fn = sct.vjp"),
        (jacobian_tuple_wrt, "tuple wrt"),
        (jvp_without_tuples, "as tuples"),
    ],
)
def test_what_sct_cannot_compile_is_refused_at_the_call(fn, words):
    args = (X, f) if fn is by_parameter else (X, 0) if fn is by_variable_wrt else (X,)
    with pytest.raises(sct.UnsupportedSyntaxError, match=words) as info:
        sct.grad(fn)(*args)
    assert info.value.filename == __file__ and info.value.lineno > 0


# ---- a user's defvjp rule called with keywords, in forward mode -------------------------------------
def lse(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def lse_vjp(g, ans, x, axis=None):
    return np.expand_dims(g, axis) * np.exp(x - np.expand_dims(ans, axis))


sct.defvjp(lse, lse_vjp)


def lse_loss(x):
    return np.sum(lse(x, axis=0) ** 2)


def test_forward_mode_through_a_defvjp_rule_called_with_keywords():
    x = np.array([[0.1, 0.7, -0.4], [0.3, 0.2, 0.9]])
    v = np.full_like(x, 0.3)
    numeric = numeric_grad(lambda z: np.sum(sct.grad(lse_loss)(z) * v), (x,), 0)
    assert np.allclose(sct.hvp(lse_loss, (x,), (v,)), numeric, rtol=1e-5, atol=1e-6)
    sct.check_grads(lse_loss, (x,), modes=("fwd", "rev"), order=2)


# ---- the generated code ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [uses_grad, uses_vjp, uses_hvp, uses_jacobian, newton], ids=lambda fn: fn.__name__)
def test_the_outer_derivative_is_plain_deterministic_source_without_sct(fn):
    from sct import pipeline

    n = 2 if fn is newton else 1
    first = pipeline.build(fn, [0], (None,) * n).source
    assert first == pipeline.build(fn, [0], (None,) * n).source
    assert "sct." not in first  # the inner transform is inlined: nothing calls sct at run time
    sct.check_grads(fn, (0.7, 1.3) if fn is newton else (X,), modes=("rev",), order=1)
