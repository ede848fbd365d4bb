"""Rules for Python's operators (keyed by the functions of :mod:`operator`)."""

import operator

import numpy as np

from ..backend.runtime import appended, copied, dropped_last, matmul_grad_left, matmul_grad_right, zeros_like
from ..ir import IDENTITY_TESTS
from ..symbolic import Scatter, call
from .np_elementwise import power_dx, power_dy
from .table import defjvp, defjvp_joint, defvjp, elementwise, nondiff

elementwise(operator.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
elementwise(operator.sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
elementwise(operator.mul, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
elementwise(operator.truediv, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y)  # = -g * x / y**2
elementwise(operator.pow, power_dx(lambda x, y: x**y), power_dy(np.log))
elementwise(operator.mod, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.floor_divide(x, y))
elementwise(operator.neg, lambda g, ans, x: -g)
elementwise(operator.pos, lambda g, ans, x: g)
nondiff(operator.floordiv, ndim=None)
nondiff(operator.gt, operator.ge, operator.lt, operator.le, operator.eq, operator.ne, operator.not_)
nondiff(*IDENTITY_TESTS.values(), ndim=lambda ranks, args, kwargs: 0)  # is, is not, in, not in: a bool


def _matmul_left(g, ans, a, b):
    if (_rank(a), _rank(b)) == (2, 2):
        return g @ b.T
    if (_rank(a), _rank(b)) == (2, 1):
        return np.outer(g, b)
    if (_rank(a), _rank(b)) == (1, 2):
        return b @ g
    if (_rank(a), _rank(b)) == (1, 1):  # an inner product: g is a scalar
        return g * b
    return call(matmul_grad_left, g, a, b)


def _matmul_right(g, ans, a, b):
    if (_rank(a), _rank(b)) == (2, 2):
        return a.T @ g
    if (_rank(a), _rank(b)) == (2, 1):
        return a.T @ g
    if (_rank(a), _rank(b)) == (1, 2):
        return np.outer(a, g)
    if (_rank(a), _rank(b)) == (1, 1):
        return g * a
    return call(matmul_grad_right, g, a, b)


def _rank(x):
    return getattr(x, "ndim", None) if not isinstance(x, int | float) else 0


def _matmul_rank(ranks, args, kwargs):
    a, b = ranks
    if a is None or b is None:
        return None
    return max(a, b, 2) - (a == 1) - (b == 1) if a >= 1 and b >= 1 else None


defvjp(operator.matmul, _matmul_left, _matmul_right, ndim=_matmul_rank)
defjvp(operator.matmul, lambda g, ans, a, b: g @ b, lambda g, ans, a, b: a @ g)


defvjp(operator.getitem, lambda g, ans, x, index: Scatter(g, index), None)
defjvp(operator.getitem, lambda g, ans, x, index: g[index], None)

# Building a container: element i's adjoint is the container adjoint's item i.
defvjp(tuple, lambda i: lambda g, ans, *items: g[i])
defjvp(tuple, lambda i: lambda g, ans, *items: _replace_item(items, i, g, tuple))
defjvp_joint(tuple, lambda tangents, ans, *items: tuple(tangents))
defvjp(list, lambda i: lambda g, ans, *items: g[i])
defjvp(list, lambda i: lambda g, ans, *items: _replace_item(items, i, g, list))
defjvp_joint(list, lambda tangents, ans, *items: list(tangents))
defvjp(dict, lambda i: lambda g, ans, *values, keys: g[keys[i]])
defjvp(dict, lambda i: lambda g, ans, *values, keys: dict(zip(keys, _replace_item(values, i, g, list))))
defjvp_joint(dict, lambda tangents, ans, *values, keys: dict(zip(keys, tangents)))


def _replace_item(items, i, g, kind):
    """The tangent of a container from the tangent of item ``i`` (zeros elsewhere)."""
    return kind(g if j == i else call(zeros_like, item) for j, item in enumerate(items))


# A list grown by one item (list comprehensions, ``ys.append(y)``): the last adjoint is the item's.
defvjp(appended, lambda g, ans, items, item: g[:-1], lambda g, ans, items, item: g[-1])
defjvp_joint(appended, lambda tangents, ans, items, item: call(appended, *tangents))
defjvp(
    appended,
    lambda g, ans, items, item: call(appended, g, call(zeros_like, item)),
    lambda g, ans, items, item: call(appended, call(zeros_like, items), g),
)
# A list shrunk by its last item (``v = ys.pop()``): the dropped item gets no adjoint.
defvjp(dropped_last, lambda g, ans, items: call(appended, g, call(zeros_like, items[-1])))
defjvp(dropped_last, lambda g, ans, items: call(dropped_last, g))
# Copy on write (``x = copied(x)`` before ``x[i] = v``): the identity, for derivatives.
defvjp(copied, lambda g, ans, x: g, ndim=lambda ranks, args, kwargs: ranks[0])  # a copy: x's rank
defjvp(copied, lambda g, ans, x: call(copied, g))
