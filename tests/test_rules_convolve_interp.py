"""Rules for np.convolve (any mode, either operand longer), np.interp (x, xp and fp; outside the points
too), and np.searchsorted/np.digitize (integers: no derivative), each against central differences,
forward mode and second order."""

import numpy as np
import pytest
from conftest import numeric_grad

import sct

rng = np.random.default_rng(7)


def convolved(a, v, mode):
    y = np.convolve(a, v, mode)
    return np.sum(np.sin(y) * np.arange(1.0, 1.0 + len(y)))


@pytest.mark.parametrize("n, m", [(5, 3), (5, 4), (3, 5), (4, 4), (6, 1), (1, 3)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve(n, m, mode):
    a, v = rng.normal(size=n), rng.normal(size=m)
    ga, gv = sct.grad(convolved, wrt=(0, 1))(a, v, mode)
    np.testing.assert_allclose(ga, numeric_grad(convolved, [a, v, mode], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gv, numeric_grad(convolved, [a, v, mode], 1), rtol=1e-6, atol=1e-8)
    sct.check_grads(convolved, (a, v, mode), modes=("fwd", "rev"), order=2)


XP = np.array([0.0, 0.3, 0.7, 1.2, 2.0])
FP = np.array([0.5, -0.2, 1.1, 0.4, 0.9])
X = np.array([-0.5, 0.13, 0.41, 0.77, 1.5, 2.5])  # two outside the points


def interpolated(x, xp, fp):
    return np.sum(np.sin(np.interp(x, xp, fp)) * np.arange(1.0, 1.0 + np.size(x)))


def cubed(x, fp):
    return np.sum(np.interp(x, XP, fp) ** 3 * np.arange(1.0, 1.0 + np.size(x)))


@pytest.mark.parametrize("i", [0, 1, 2])
def test_interp_first_derivatives(i):
    args = [X, XP, FP]
    np.testing.assert_allclose(sct.grad(interpolated, wrt=i)(*args), numeric_grad(interpolated, args, i), atol=1e-8)
    t = rng.normal(size=np.shape(args[i]))
    tangents = tuple(t if k == i else np.zeros_like(a) for k, a in enumerate(args))
    _, dot = sct.jvp(interpolated, tuple(args), tangents)
    assert dot == pytest.approx(np.vdot(numeric_grad(interpolated, args, i), t), rel=1e-7, abs=1e-9)


def test_interp_at_a_scalar_and_second_derivatives_in_x_and_fp():
    g = sct.grad(lambda x, fp: np.sin(np.interp(x, XP, fp)), wrt=(0, 1))(0.5, FP)
    assert isinstance(g[0], float) and g[1].shape == FP.shape
    sct.check_grads(cubed, (X, FP), modes=("fwd", "rev"), order=2)


def test_interp_refuses_what_it_does_not_model():
    with pytest.raises(sct.SctError, match="left="):
        sct.grad(lambda x: np.sum(np.interp(x, XP, FP, left=0.0)))(X)
    with pytest.raises(sct.SctError, match="second derivatives of np.interp with respect to its points"):
        sct.hessian(interpolated, wrt=1)(X, XP, FP)


def binned(x, edges, w):
    i = np.searchsorted(edges, x)
    j = np.digitize(x, edges)
    return np.sum(np.take(w, i) * x**2 + np.take(w, j) * x)


def test_searchsorted_and_digitize_are_integers():
    x, edges, w = np.array([0.1, 0.55, 0.9]), np.array([0.0, 0.5, 1.0]), np.array([1.0, 2.0, 3.0, 4.0])
    gx, gw = sct.grad(binned, wrt=(0, 2))(x, edges, w)
    np.testing.assert_allclose(gx, numeric_grad(binned, [x, edges, w], 0), rtol=1e-7)
    np.testing.assert_allclose(gw, numeric_grad(binned, [x, edges, w], 2), rtol=1e-7, atol=1e-9)


def test_interp_with_repeated_points():
    # a flat segment (repeated points) is met only past either end: np.interp's first or last value there,
    # no NaN from 0 / 0 in the weights
    xp, fp = np.array([0.0, 0.0, 1.0, 2.0, 2.0]), np.array([3.0, 4.0, 5.0, 6.0, 7.0])
    x = np.array([-1.0, 0.0, 0.5, 1.5, 2.0, 2.5])
    with np.errstate(all="raise"):
        g = sct.grad(interpolated, wrt=2)(x, xp, fp)
    np.testing.assert_allclose(g, numeric_grad(interpolated, [x, xp, fp], 2), rtol=1e-7, atol=1e-9)
