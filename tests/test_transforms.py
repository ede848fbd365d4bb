"""Jacobians, Hessians, Hessian-vector products and higher order, against finite differences."""

import math

import functions as F
import numpy as np
import programs as P
import pytest
from conftest import numeric_grad
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sct


def numeric_jacobian(f, x, eps=1e-6):
    """Central-difference Jacobian of ``f`` at array ``x``: shape ``out.shape + x.shape``."""
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        jac[(...,) + idx] = (np.asarray(f(hi)) - np.asarray(f(lo))) / (2 * eps)
    return jac


def vector_field(x):
    return np.tanh(x[:2] * 3.0) * np.sum(x**2)


def matrix_map(a):
    return np.sin(a) @ a.T


def scalar_of_matrix(a):
    return np.sum(np.tanh(a @ a.T)) + np.sum(a**3)


# ---- Jacobians -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, shape", [(vector_field, (4,)), (matrix_map, (2, 3)), (F.unary_chain, (3,))])
def test_jacobian_matches_central_differences(fn, shape, mode, rng):
    x = rng.normal(size=shape)
    jac = sct.jacobian(fn, mode=mode)(x)
    expected = numeric_jacobian(fn, x)
    assert np.shape(jac) == expected.shape == np.shape(fn(x)) + shape
    np.testing.assert_allclose(jac, expected, rtol=1e-6, atol=1e-8)


def test_jacobian_modes_agree_and_take_wrt(rng):
    W, b, x = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 3))

    def layer(W, b, x):
        return np.tanh(x @ W + b)

    rev = sct.jacobian(layer, wrt=("W", "b"))(W, b, x)
    fwd = sct.jacobian(layer, wrt=(0, 1), mode="fwd")(W, b, x)
    assert isinstance(rev, tuple) and len(rev) == 2
    assert rev[0].shape == (4, 2, 3, 2) and rev[1].shape == (4, 2, 2)
    for r, f in zip(rev, fwd):
        np.testing.assert_allclose(r, f, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rev[1], numeric_jacobian(lambda b: layer(W, b, x), b), rtol=1e-6, atol=1e-8)


def test_jacobian_of_scalars_is_a_float():
    jac = sct.jacobian(F.seed, wrt=1, mode="fwd")(1.5, 2.0)
    assert isinstance(jac, float)
    assert jac == pytest.approx(sct.grad(F.seed, wrt=1)(1.5, 2.0))


def test_jacobian_rejects_bad_modes_and_containers():
    with pytest.raises(sct.SctError, match="mode"):
        sct.jacobian(F.seed, mode="forward")


# ---- higher order ---------------------------------------------------------------------------
def cubic_sin(x):
    return 2.0 * x**3 + math.sin(x)


@pytest.mark.parametrize(
    "fn, args",
    [(F.seed, (1.5, 2.0)), (F.scalar_math, (0.7, 0.3)), (F.polynomial, (0.4, -1.3)), (cubic_sin, (0.9,))],
)
def test_second_derivatives_match_differences_of_the_first(fn, args):
    first = sct.grad(fn)
    second = sct.grad(first)
    assert second(*args) == pytest.approx(numeric_grad(first, args, 0, eps=1e-5), rel=1e-6, abs=1e-8)
    mixed = sct.grad(first, wrt=1) if len(args) > 1 else None
    if mixed is not None:
        assert mixed(*args) == pytest.approx(numeric_grad(first, args, 1, eps=1e-5), rel=1e-6, abs=1e-8)


def test_third_derivative_of_a_polynomial_and_sine():
    third = sct.grad(sct.grad(sct.grad(cubic_sin)))
    assert third(0.7) == pytest.approx(12.0 - math.cos(0.7), rel=1e-12)
    # the source of grad(g) is g's gradient: here the second derivative's code
    assert sct.source(sct.grad(sct.grad(cubic_sin))).startswith("def grad_grad_cubic_sin(x")


def test_grad_of_grad_is_the_derivative_of_the_gradient_not_of_f():
    # update_wrapper must not copy the inner Grad's fields onto the outer one
    g2 = sct.grad(sct.grad(cubic_sin))
    assert g2(2.0) == pytest.approx(12.0 * 2.0 - math.sin(2.0))


def test_grad_of_value_and_grad_and_has_aux():
    def f(x):
        return x**3, x * 2.0

    g = sct.grad(f, has_aux=True)
    assert g(2.0) == (12.0, 4.0)
    assert sct.grad(g, has_aux=True)(2.0) == (pytest.approx(12.0), 4.0)  # d(3x^2)/dx, and the aux
    value, grads = sct.value_and_grad(sct.grad(lambda x: x**4))(2.0)
    assert (value, grads) == (pytest.approx(32.0), pytest.approx(48.0))


def test_vjp_of_a_generated_vjp(rng):
    x, u, w = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)

    def field(x):
        return np.sin(x) * x

    _, field_vjp = sct.vjp(field, x)
    (gx,) = field_vjp(u)
    # vjp_fn is linear in the cotangent; its vjp is the Jacobian applied to w
    _, transpose = sct.vjp(field_vjp, u)
    (jw,) = transpose((w,))
    np.testing.assert_allclose(jw, (np.cos(x) * x + np.sin(x)) * w, rtol=1e-12)
    np.testing.assert_allclose(gx, (np.cos(x) * x + np.sin(x)) * u, rtol=1e-12)


def test_second_order_through_a_branch():
    def relu_square(x):
        if x > 0.0:
            y = x * x * x
        else:
            y = -x
        return y

    g2 = sct.grad(sct.grad(relu_square))
    assert g2(1.5) == pytest.approx(9.0)
    assert g2(-1.5) == 0.0


def test_second_order_through_a_loop():
    def power(x):
        y = x
        for i in range(3):
            y = y * x
        return y

    assert sct.grad(sct.grad(power))(1.5) == pytest.approx(12 * 1.5**2)


# ---- Hessians -------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, shape", [(F.unary_chain, (3,)), (scalar_of_matrix, (2, 2)), (F.tan_chain, (2, 2))])
def test_hessian_matches_differences_of_the_gradient(fn, shape, rng):
    x = rng.normal(size=shape)
    hess = sct.hessian(fn)(x)
    expected = numeric_jacobian(sct.grad(fn), x, eps=1e-5)
    assert hess.shape == shape + shape
    np.testing.assert_allclose(hess, expected, rtol=1e-6, atol=1e-7)
    flat = hess.reshape(x.size, x.size)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-10, atol=1e-12)


def test_hessian_blocks_for_several_arguments(rng):
    x, y = rng.normal(size=2), rng.normal(size=3)

    def f(x, y):
        return np.sum(np.sin(x)) * np.sum(y**2) + np.sum(x) * np.sum(y)

    blocks = sct.hessian(f, wrt=(0, 1))(x, y)
    assert [[b.shape for b in row] for row in blocks] == [[(2, 2), (2, 3)], [(3, 2), (3, 3)]]
    np.testing.assert_allclose(blocks[0][1], blocks[1][0].T, rtol=1e-12)
    np.testing.assert_allclose(
        blocks[0][1], numeric_jacobian(lambda y: sct.grad(f)(x, y), y, eps=1e-5), rtol=1e-6, atol=1e-7
    )


def test_hvp_is_the_hessian_times_the_vector(rng):
    x, v = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    hv = sct.hvp(scalar_of_matrix, (x,), (v,))
    hess = sct.hessian(scalar_of_matrix)(x)
    np.testing.assert_allclose(hv, np.tensordot(hess, v, axes=2), rtol=1e-10, atol=1e-12)


def test_hvp_with_several_primals(rng):
    x, y = 0.4, rng.normal(size=3)
    vx, vy = 1.0, rng.normal(size=3)

    def f(x, y):
        return x**2 * np.sum(np.sin(y))

    hx, hy = sct.hvp(f, (x, y), (vx, vy))
    # H = [[2 S, 2x c^T], [2x c, -x^2 diag(s)]] with s = sin(y), c = cos(y), S = sum(s)
    s, c = np.sin(y), np.cos(y)
    assert hx == pytest.approx(2 * s.sum() * vx + 2 * x * c @ vy)
    np.testing.assert_allclose(hy, 2 * x * c * vx - x**2 * s * vy, rtol=1e-12)


# ---- random programs: forward-over-reverse against differences of the gradient -------------------
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(P.programs(), st.integers(0, 2**32 - 1))
def test_hvp_of_random_programs_matches_differences_of_the_gradient(program, seed):
    f, args, value, rng = P.sample(program, seed)
    wrt = tuple(range(len(args)))
    v = P.random_direction(args, rng)
    hv = sct.hvp(f, tuple(args), tuple(v))
    hv = hv if isinstance(hv, tuple) else (hv,)
    g = sct.grad(f, wrt=wrt)
    h = 1e-5
    with np.errstate(all="ignore"):
        hi, lo = g(*P._shift(args, v, h)), g(*P._shift(args, v, -h))
    hi, lo = (hi, lo) if isinstance(hi, tuple) else ((hi,), (lo,))
    for analytic, a, b, arg in zip(hv, hi, lo, args):
        numeric = (np.asarray(a) - np.asarray(b)) / (2 * h)
        assume(np.all(np.isfinite(numeric)) and np.max(np.abs(numeric), initial=0.0) < 1e4)
        assert np.shape(analytic) == np.shape(arg)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-5 * (1 + np.max(np.abs(numeric))))


@pytest.mark.parametrize("fn, args", [(F.loop_with_branch, (0.8,)), (F.loop_break, (0.7,)), (F.while_loop, (1.3,))])
def test_second_order_through_loops_matches_differences(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=2)


def test_hvp_through_an_rnn(rng):
    Wx = rng.normal(size=(4, 3))
    Wh, b, xs = np.eye(4) * 0.5, np.ones(4), rng.normal(size=(3, 3))

    def f(Wx):
        return F.rnn(Wx, Wh, b, xs)

    v = rng.normal(size=(4, 3))
    g = sct.grad(f)
    expected = (g(Wx + 1e-6 * v) - g(Wx - 1e-6 * v)) / 2e-6
    hv = sct.hvp(f, (Wx,), (v,))
    np.testing.assert_allclose(hv, expected, rtol=1e-5, atol=1e-7)
