"""Rules for the core of NumPy: the elementwise functions, reductions and products
that nearly every numerical program uses. Further families live beside this file."""

import numpy as np

from ..runtime import matmul_grad_left, matmul_grad_right
from ..symbolic import call
from .table import defjvp, defvjp, elementwise, linear, nondiff, reduction, same

# ---- elementwise -----------------------------------------------------------
elementwise(np.negative, lambda g, ans, x: -g)
elementwise(np.exp, lambda g, ans, x: g * ans)
elementwise(np.log, lambda g, ans, x: g / x)
elementwise(np.sin, lambda g, ans, x: g * np.cos(x))
elementwise(np.cos, lambda g, ans, x: -g * np.sin(x))
elementwise(np.tan, lambda g, ans, x: g * (1.0 + ans**2))
elementwise(np.tanh, lambda g, ans, x: g * (1.0 - ans**2))
elementwise(np.sqrt, lambda g, ans, x: g / (2.0 * ans))
elementwise(np.square, lambda g, ans, x: g * 2.0 * x)
elementwise(np.abs, lambda g, ans, x: g * np.sign(x))
elementwise(np.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
elementwise(np.subtract, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
elementwise(np.multiply, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
elementwise(np.divide, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y)
elementwise(
    np.power,
    lambda g, ans, x, y: g * y * x ** (y - 1),
    lambda g, ans, x, y: g * ans * np.log(x),
)
# Ties go to the first operand, so the two shares always add up to g.
elementwise(np.maximum, lambda g, ans, x, y: g * (x >= y), lambda g, ans, x, y: g * (x < y))
elementwise(np.minimum, lambda g, ans, x, y: g * (x <= y), lambda g, ans, x, y: g * (x > y))


# ---- reductions --------------------------------------------------------------
def _spread(g, x, axis, keepdims):
    """``g`` (a reduction's adjoint) broadcast back over the reduced axes of ``x``."""
    if axis is None and not keepdims:
        return np.full_like(x, g)
    if not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


def _sum_vjp(g, ans, x, axis=None, dtype=None, keepdims=False):
    return _spread(g, x, axis, keepdims)


def _mean_vjp(g, ans, x, axis=None, dtype=None, keepdims=False):
    if axis is None and not keepdims:
        return np.full_like(x, g / np.size(x))
    return _spread(g, x, axis, keepdims) / (np.size(x) / np.size(ans))


linear(np.sum, _sum_vjp, ndim=reduction, rest=(None,))
linear(np.mean, _mean_vjp, ndim=reduction, rest=(None,))


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
nondiff(np.shape, ndim=lambda ranks, args, kwargs: 1)  # a tuple: indexable like a vector
nondiff(np.ndim, np.size, np.argmax, np.argmin, np.sign, np.floor, np.ceil, np.round)
nondiff(np.arange, np.greater, np.less, np.equal)
nondiff(np.zeros_like, np.ones_like, ndim=same)


def _creation_rank(ranks, args, kwargs):
    """Rank of ``np.zeros(shape)``: 1 for an int, len(shape) for a tuple."""
    shape = args[0] if args else kwargs.get("shape")
    if isinstance(shape, int) or (ranks and ranks[0] == 0):
        return 1
    return len(shape) if isinstance(shape, tuple) else None


nondiff(np.zeros, np.ones, np.empty, ndim=_creation_rank)
