"""Gradients of straight-line code: against finite differences and hand-derived values."""

import math

import functions as F
import numpy as np
import pytest
from conftest import assert_grads_match

import sct


def test_seed_against_hand_derivation():
    x, y = 1.5, 2.0
    s = 1.0 / (1.0 + math.exp(-y))
    num, den = x + s, x**2 + y
    dx = 1.0 / den - num * 2 * x / den**2
    dy = s * (1 - s) / den - num / den**2
    gx, gy = sct.grad(F.seed, wrt=(0, 1))(x, y)
    assert gx == pytest.approx(dx, rel=1e-12)
    assert gy == pytest.approx(dy, rel=1e-12)


@pytest.mark.parametrize(
    "fn, args",
    [
        (F.seed, (1.5, 2.0)),
        (F.scalar_math, (0.7, 0.3)),
        (F.polynomial, (0.4, -1.3)),
    ],
)
def test_scalar_functions(fn, args):
    grads = sct.grad(fn, wrt=tuple(range(len(args))))(*args)
    assert_grads_match(fn, args, grads)


def test_scalar_gradients_are_floats():
    gx, gy = sct.grad(F.seed, wrt=(0, 1))(1.5, 2.0)
    assert isinstance(gx, float) and isinstance(gy, float)


@pytest.mark.parametrize("fn, shapes", F.ARRAY_CASES)
def test_array_functions(fn, shapes, rng):
    args = [rng.normal(size=s) if s else float(rng.normal()) for s in shapes]
    grads = sct.grad(fn, wrt=tuple(range(len(args))))(*args)
    for g, a in zip(grads, args):
        assert np.shape(g) == np.shape(a)
    assert_grads_match(fn, args, grads)


def test_mixed_scalar_and_array_specialisations_agree(rng):
    x = rng.normal(size=3)
    vector = sct.grad(F.seed_sum, wrt=(0, 1))(x, np.full(3, 2.0))
    for i in range(3):
        scalar = sct.grad(F.seed, wrt=(0, 1))(float(x[i]), 2.0)
        assert vector[0][i] == pytest.approx(scalar[0])
        assert vector[1][i] == pytest.approx(scalar[1])


def test_wrt_forms():
    x, y = 1.5, 2.0
    both = sct.grad(F.seed, wrt=(0, 1))(x, y)
    assert sct.grad(F.seed)(x, y) == both[0]
    assert sct.grad(F.seed, wrt=1)(x, y) == both[1]
    assert sct.grad(F.seed, wrt="y")(x, y) == both[1]
    assert sct.grad(F.seed, wrt=("x", "y"))(x, y) == both
    assert sct.grad(F.seed, wrt=(1, 0))(x, y) == both[::-1]
    assert isinstance(sct.grad(F.seed, wrt=(0,))(x, y), tuple)


def test_decorator_forms():
    @sct.grad
    def f(x):
        return x * x

    @sct.grad(wrt=(0, 1))
    def g(x, y):
        return x * y

    assert f(3.0) == 6.0
    assert g(2.0, 5.0) == (5.0, 2.0)
    assert f.__wrapped__(3.0) == 9.0
    assert f.__name__ == "f"


def test_has_aux():
    def f(x):
        return x**2, {"note": "aux", "x": x}

    g, aux = sct.grad(f, has_aux=True)(3.0)
    assert g == 6.0 and aux == {"note": "aux", "x": 3.0}
    (value, aux), g = sct.value_and_grad(f, has_aux=True)(3.0)
    assert value == 9.0 and g == 6.0


def test_value_and_grad_runs_forward_once():
    calls = []

    def counted(x):
        calls.append(x)
        return x

    sct.defvjp(counted, lambda g, ans, x: g) if hasattr(sct, "defvjp") else None

    def f(x):
        return np.sin(x) * 2.0

    value, g = sct.value_and_grad(f)(0.5)
    assert value == pytest.approx(2 * math.sin(0.5))
    assert g == pytest.approx(2 * math.cos(0.5))


def test_vjp_of_vector_function(rng):
    def f(x, W):
        return np.tanh(W @ x)

    x, W = rng.normal(size=3), rng.normal(size=(2, 3))
    out, vjp_fn = sct.vjp(f, x, W)
    np.testing.assert_allclose(out, f(x, W))
    ct = rng.normal(size=2)
    gx, gW = vjp_fn(ct)
    assert_grads_match(lambda x, W: ct @ f(x, W), (x, W), (gx, gW))
    (only,) = sct.vjp(np.exp.__call__ if False else (lambda v: np.exp(v)), x)[1](np.ones(3))
    np.testing.assert_allclose(only, np.exp(x))


def test_inactive_argument_gets_zero_gradient(rng):
    def f(x, y):
        return np.sum(x * 2.0)

    x, y = rng.normal(size=3), rng.normal(size=(2, 2))
    gx, gy = sct.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 2.0)
    np.testing.assert_array_equal(gy, np.zeros((2, 2)))
    assert sct.grad(lambda a, b: a * 3.0, wrt=1)(2.0, 5.0) == 0.0


def test_arguments_are_never_mutated(rng):
    def f(x, W):
        y = x * x
        z = y + x
        return np.sum(z * x) + np.sum(W @ x)

    x, W = rng.normal(size=3), rng.normal(size=(3, 3))
    x0, W0 = x.copy(), W.copy()
    grads = sct.grad(f, wrt=(0, 1))(x, W)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(W, W0)
    assert_grads_match(f, (x, W), grads)


def test_accumulation_does_not_write_into_shared_arrays(rng):
    # x is used twice; its first contribution is delta_out passed through unchanged,
    # so an in-place accumulation would corrupt the caller's cotangent.
    def f(x):
        return x + x * 3.0

    x = rng.normal(size=4)
    out, vjp_fn = sct.vjp(f, x)
    ct = np.ones(4)
    (g,) = vjp_fn(ct)
    np.testing.assert_array_equal(ct, np.ones(4))
    np.testing.assert_allclose(g, 4.0)
    (g2,) = vjp_fn(ct)
    np.testing.assert_allclose(g2, 4.0)


def test_float32_stays_float32(rng):
    x = rng.normal(size=3).astype(np.float32)
    g = sct.grad(lambda v: np.sum(v * v))(x)
    assert g.dtype == np.float32


def test_cache_second_grad_does_not_recompile():
    def f(x):
        return x * x + 1.0

    sct.grad(f)(2.0)
    before = sct.pipeline.STATS["compiles"]
    assert sct.grad(f)(3.0) == 6.0
    assert sct.grad(f)(4.0) == 8.0
    assert sct.pipeline.STATS["compiles"] == before


def test_source_is_deterministic():
    first = sct.source(F.seed, wrt=(0, 1))
    sct.pipeline._CACHE.clear()
    assert sct.source(F.seed, wrt=(0, 1)) == first
    assert sct.grad(F.seed, wrt=(0, 1)).source == first
