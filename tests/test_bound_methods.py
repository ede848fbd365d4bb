"""The transforms take a bound method ``obj.m`` as ``sct.grad`` does: compiled for ``obj``'s class,
by the arguments after ``self`` (``self.k`` was refused as "not supported on arrays")."""

import numpy as np
import pytest

import sct


class Model:
    def __init__(self, k):
        self.k = k

    def loss(self, x, y):
        return np.sum(np.sin(x) * self.k * y)

    def field(self, x):
        return np.tanh(x * self.k)


M = Model(1.7)
X = np.linspace(0.1, 1.0, 3)
Y = 0.6


def plain_loss(x, y):
    return np.sum(np.sin(x) * 1.7 * y)


def plain_field(x):
    return np.tanh(x * 1.7)


def test_vjp_of_a_bound_method():
    out, vjp_fn = sct.vjp(M.loss, X, Y)
    dx, dy = vjp_fn(2.0)
    want_out, want = sct.vjp(plain_loss, X, Y)
    assert out == pytest.approx(want_out)
    np.testing.assert_allclose(dx, want(2.0)[0], rtol=1e-14)
    assert dy == pytest.approx(want(2.0)[1])


def test_jvp_of_a_bound_method():
    tangent = (np.array([0.3, -1.0, 0.5]), 0.25)
    out, dot = sct.jvp(M.loss, (X, Y), tangent)
    want_out, want_dot = sct.jvp(plain_loss, (X, Y), tangent)
    assert out == pytest.approx(want_out) and dot == pytest.approx(want_dot)
    h = 1e-6
    central = (M.loss(X + h * tangent[0], Y + h * tangent[1]) - M.loss(X - h * tangent[0], Y - h * tangent[1])) / 2e-6
    assert dot == pytest.approx(central, rel=1e-6)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_a_bound_method(mode):
    np.testing.assert_allclose(sct.jacobian(M.field, mode=mode)(X), sct.jacobian(plain_field, mode=mode)(X))


def test_hessian_of_a_bound_method():
    np.testing.assert_allclose(sct.hessian(M.loss)(X, Y), sct.hessian(plain_loss)(X, Y), rtol=1e-12)
    blocks = sct.hessian(M.loss, wrt=(0, 1))(X, Y)
    np.testing.assert_allclose(blocks[0][1], sct.hessian(plain_loss, wrt=(0, 1))(X, Y)[0][1], rtol=1e-12)


def test_hvp_of_a_bound_method_says_what_to_write():
    with pytest.raises(sct.SctError, match=r"lambda x: obj\.loss\(x\)"):
        sct.hvp(M.loss, (X, Y), (np.ones(3), 1.0))

    def wrapped(x):
        return M.loss(x, Y)

    def plain(x):
        return plain_loss(x, Y)

    np.testing.assert_allclose(sct.hvp(wrapped, (X,), (np.ones(3),)), sct.hvp(plain, (X,), (np.ones(3),)))
