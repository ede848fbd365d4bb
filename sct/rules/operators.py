"""Rules for Python's operators (keyed by the functions of :mod:`operator`)."""

import operator

import numpy as np

from ..runtime import index_grad, matmul_grad_left, matmul_grad_right
from ..symbolic import call
from .table import defjvp, defvjp, elementwise, nondiff

elementwise(operator.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
elementwise(operator.sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
elementwise(operator.mul, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
elementwise(operator.truediv, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * x / y**2)
elementwise(
    operator.pow,
    lambda g, ans, x, y: g * y * x ** (y - 1),
    lambda g, ans, x, y: g * ans * np.log(x),
)
elementwise(operator.mod, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.floor_divide(x, y))
elementwise(operator.neg, lambda g, ans, x: -g)
elementwise(operator.pos, lambda g, ans, x: g)
nondiff(operator.floordiv, ndim=None)
nondiff(operator.gt, operator.ge, operator.lt, operator.le, operator.eq, operator.ne, operator.not_)


def _matmul_left(g, ans, a, b):
    if (_rank(a), _rank(b)) == (2, 2):
        return g @ b.T
    if (_rank(a), _rank(b)) == (2, 1):
        return np.outer(g, b)
    if (_rank(a), _rank(b)) == (1, 2):
        return b @ g
    return call(matmul_grad_left, g, a, b)


def _matmul_right(g, ans, a, b):
    if (_rank(a), _rank(b)) == (2, 2):
        return a.T @ g
    if (_rank(a), _rank(b)) == (2, 1):
        return a.T @ g
    if (_rank(a), _rank(b)) == (1, 2):
        return np.outer(a, g)
    return call(matmul_grad_right, g, a, b)


def _rank(x):
    return getattr(x, "ndim", None) if not isinstance(x, int | float) else 0


def _matmul_rank(ranks, args, kwargs):
    a, b = ranks
    if a is None or b is None:
        return None
    return max(a, b) - (a == 1) - (b == 1) if a >= 1 and b >= 1 else None


defvjp(operator.matmul, _matmul_left, _matmul_right, ndim=_matmul_rank)
defjvp(operator.matmul, lambda g, ans, a, b: g @ b, lambda g, ans, a, b: a @ g)


def _getitem_vjp(g, ans, x, index):
    return call(index_grad, g, x, index)


defvjp(operator.getitem, _getitem_vjp, None)
defjvp(operator.getitem, lambda g, ans, x, index: g[index], None)
