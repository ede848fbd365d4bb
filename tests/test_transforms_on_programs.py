"""Every transform, option and backend on the realistic programs, against an independent answer.

tests/test_realistic_programs_2.py checks ``sct.grad``/``sct.jvp`` on programs as users write them;
here the same programs (and a few written alike) go through what else a user calls: ``vjp`` with a
cotangent that is not one, called more than once; ``value_and_grad``; Jacobians and Hessians of loops;
grads of grads; bound methods called many times; ``checkpoint=`` bit for bit; one gradient object
called with arguments of many kinds in turn; ``sct export``. The hunt that wrote these found the bugs
each test names.
"""

import numpy as np
import programs as P
import pytest
import test_realistic_programs_2 as R

import sct


def fd_jacobian(f, x, h=1e-6):
    """Central differences: ``out.shape + x.shape`` (x an array or a float)."""
    x = np.asarray(x, dtype=float)
    columns = {}
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = h
        columns[idx] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    out_shape = np.shape(next(iter(columns.values())))
    J = np.zeros(out_shape + x.shape)
    for idx, col in columns.items():
        J[(...,) + idx] = col
    return J


def same(a, b):
    la, lb = P.tree_leaves(a), P.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(la, lb))


def wrt_of(args):
    return tuple(i for i, a in enumerate(args) if R._floating(a))


_LOOPED = {"while_break_continue", "newton_sqrt", "rk4", "adam_unrolled", "rnn_rollout", "early_returns", "mlp_tree"}
LOOPS = [(f, a) for f, a, _ in R.PROGRAMS if f.__name__ in _LOOPED | {"conv1d_loops"}]


# ---- sct.vjp ------------------------------------------------------------------------------------
@pytest.mark.parametrize("f, args", LOOPS, ids=[f.__name__ for f, _ in LOOPS])
def test_vjp_fn_called_again_and_again(f, args):
    """vjp_fn(2.5) is 2.5 x the gradient, however many times it is called (the docs promise it).

    Found: the backward sweep pops the forward sweep's records, so a second call raised IndexError
    ('pop from empty list') or TypeError for every program with a loop; and for a ``while`` with a
    ``break`` the split code did not compile (``nonlocal _`` for the backward loop's own counter)."""
    wrt = wrt_of(args)
    grads = sct.grad(f, wrt=wrt)(*P.snapshot(list(args)))
    out, vjp_fn = sct.vjp(f, *P.snapshot(list(args)))
    assert out == f(*P.snapshot(list(args)))
    for scale in (2.5, 1.0, -0.5, 2.5):
        pulled = vjp_fn(scale)
        for k, i in enumerate(wrt):
            for g, p in zip(P.tree_leaves(grads[k]), P.tree_leaves(pulled[i]), strict=True):
                np.testing.assert_allclose(p, scale * np.asarray(g), rtol=1e-12, atol=1e-14)


def test_vjp_fn_of_a_vector_loop_twice_against_differences():
    def rollout(y0, k):
        y = y0
        for _ in range(4):
            y = y + 0.1 * (-k * y + np.sin(y))
        return y

    x = np.array([0.3, -0.5, 1.1])
    J = fd_jacobian(lambda z: rollout(z, 0.7), x)
    _, vjp_fn = sct.vjp(rollout, x, 0.7)
    for ct in (np.array([0.5, -2.0, 3.0]), np.array([1.0, 0.0, 0.0]), np.array([0.5, -2.0, 3.0])):
        np.testing.assert_allclose(vjp_fn(ct)[0], ct @ J, rtol=1e-6, atol=1e-8)


# ---- bound methods ------------------------------------------------------------------------------
class Model:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        y = x
        for i in range(3):
            y = np.tanh(self.w * y + i)
        return np.sum(y**2)

    def pair(self, a, b):
        return np.sum(self.w * a * b) + np.sum(np.sin(a))


def test_a_bound_method_gradient_called_many_times():
    """Found: from its third call (once the fast dispatcher was made the object's ``__call__``)
    ``sct.grad(obj.method)`` lost ``obj``: 'loss was called with 1 arguments; wrt asks for argument 1'."""
    m = Model(np.array([0.5, 1.5, -0.7]))
    x = np.array([0.3, -0.5, 1.1])
    g = sct.grad(m.loss)
    vg = sct.value_and_grad(m.pair, wrt=(0, 1))
    for k in range(5):
        z = x + 0.1 * k
        np.testing.assert_allclose(g(z), fd_jacobian(m.loss, z), rtol=1e-6, atol=1e-8)
        value, (ga, gb) = vg(z, 2.0 * z)
        assert value == m.pair(z, 2.0 * z)
        np.testing.assert_allclose(ga, fd_jacobian(lambda a, z=z: m.pair(a, 2.0 * z), z), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gb, fd_jacobian(lambda b, z=z: m.pair(z, b), 2.0 * z), rtol=1e-6, atol=1e-8)
    H = sct.hessian(m.loss)
    for k in range(3):
        z = x - 0.2 * k
        np.testing.assert_allclose(H(z), fd_jacobian(sct.grad(m.loss), z), rtol=1e-5, atol=1e-7)
