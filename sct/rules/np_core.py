"""Rules for the core of NumPy: the products and shape functions that nearly every
numerical program uses. Further families live beside this file."""

import numpy as np

from ..runtime import matmul_grad_left, matmul_grad_right
from ..symbolic import call
from .table import defjvp, defvjp, linear, same


# ---- products and shapes -----------------------------------------------------
def _dot_rank(ranks, args, kwargs):
    a, b = ranks
    if a is None or b is None:
        return None
    return max(a, b) if 0 in (a, b) else a + b - 2


def _dot_left(g, ans, a, b):
    ranks = (getattr(a, "ndim", 0), getattr(b, "ndim", 0))
    if ranks == (2, 2):
        return g @ b.T
    if ranks == (2, 1):
        return np.outer(g, b)
    if ranks == (1, 2):
        return b @ g
    if ranks == (1, 1):
        return g * b
    return call(matmul_grad_left, g, a, b)


def _dot_right(g, ans, a, b):
    ranks = (getattr(a, "ndim", 0), getattr(b, "ndim", 0))
    if ranks in ((2, 2), (2, 1)):
        return a.T @ g
    if ranks == (1, 2):
        return np.outer(a, g)
    if ranks == (1, 1):
        return g * a
    return call(matmul_grad_right, g, a, b)


defvjp(np.dot, _dot_left, _dot_right, ndim=_dot_rank)
defjvp(np.dot, lambda g, ans, a, b: np.dot(g, b), lambda g, ans, a, b: np.dot(a, g))
defvjp(np.matmul, _dot_left, _dot_right, ndim=_dot_rank)
defjvp(np.matmul, lambda g, ans, a, b: g @ b, lambda g, ans, a, b: a @ g)


def _transpose_vjp(g, ans, x, axes=None):
    if axes is None:
        return g.T
    return np.transpose(g, tuple(int(i) for i in np.argsort(axes)))


def _reshape_rank(ranks, args, kwargs):
    shape = args[1] if len(args) > 1 else kwargs.get("shape", kwargs.get("newshape"))
    if isinstance(shape, int):
        return 1
    return len(shape) if isinstance(shape, tuple) else None


linear(np.copy, lambda g, ans, x: g)
linear(np.transpose, _transpose_vjp, ndim=same, rest=(None,))
linear(np.reshape, lambda g, ans, x, *shape, **kw: np.reshape(g, np.shape(x)), ndim=_reshape_rank, rest=(None,))
# Elementwise functions: np_elementwise.py; reductions and non-differentiable functions: np_reductions.py.
