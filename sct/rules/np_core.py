"""Rules for the core of NumPy: the products and shape functions that nearly every
numerical program uses. Further families live beside this file."""

import numpy as np

from ..analysis import complex_values
from ..backend import runtime_numpy
from ..backend.runtime import dot_grad_left, dot_grad_right, matmul_grad_left, matmul_grad_right
from ..symbolic import call
from .operators import _matmul_rank
from .table import defjvp, defvjp, linear, nondiff, same


# ---- products and shapes -----------------------------------------------------
def _dot_rank(ranks, args, kwargs):
    a, b = ranks
    if a is None or b is None:
        return None
    return max(a, b) if 0 in (a, b) else a + b - 2


def _left(fallback):
    return lambda g, ans, a, b: _dot_left(g, ans, a, b, fallback)


def _right(fallback):
    return lambda g, ans, a, b: _dot_right(g, ans, a, b, fallback)


def _dot_left(g, ans, a, b, fallback=dot_grad_left):
    """Vectors and matrices as a person writes them; other ranks through ``fallback``."""
    ranks = (getattr(a, "ndim", 0), getattr(b, "ndim", 0))
    if ranks == (2, 2):
        return g @ b.T
    if ranks == (2, 1):
        return np.outer(g, b)
    if ranks == (1, 2):
        return b @ g
    if ranks == (1, 1):
        return g * b
    return call(fallback, g, a, b)


def _dot_right(g, ans, a, b, fallback=dot_grad_right):
    ranks = (getattr(a, "ndim", 0), getattr(b, "ndim", 0))
    if ranks in ((2, 2), (2, 1)):
        return a.T @ g
    if ranks == (1, 2):
        return np.outer(a, g)
    if ranks == (1, 1):
        return g * a
    return call(fallback, g, a, b)


# np.dot of N-d arrays contracts a's last axis with b's second-to-last; np.matmul broadcasts
# over leading (batch) axes instead: the same 1-d/2-d rules, different fallbacks and ranks.
defvjp(np.dot, _left(dot_grad_left), _right(dot_grad_right), ndim=_dot_rank)
defjvp(np.dot, lambda g, ans, a, b: np.dot(g, b), lambda g, ans, a, b: np.dot(a, g))
defvjp(np.matmul, _left(matmul_grad_left), _right(matmul_grad_right), ndim=_matmul_rank)
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


# x.astype(dtype), with the dtype read when the code is compiled (sct.frontend.expressions): to a float
# dtype the derivative is the identity; to an integer or bool dtype NumPy truncates, which has none.
def astype_float(x, dtype):
    """``x.astype(dtype)`` to a float dtype (the rule-table key of the method)."""
    return x.astype(dtype)


def astype_integer(x, dtype):
    """``x.astype(dtype)`` to an integer or bool dtype (the rule-table key of the method)."""
    return x.astype(dtype)


def astype_complex(x, dtype):
    """``x.astype(dtype)`` to a complex dtype (the rule-table key of the method)."""
    return x.astype(dtype)


# A complex x cast to a real dtype loses its imaginary part (as np.real); a real x cast to a complex
# dtype gains a zero one: its adjoint's real part is taken where x is real (sct.analysis.complex_values).
def _real_cast(g, ans, x, dtype):
    return np.real(g) if complex_values.on() else g


defvjp(astype_float, _real_cast, None, ndim=same)
defjvp(astype_float, _real_cast, None)
defvjp(astype_complex, lambda g, ans, x, dtype: g, None, ndim=same)
defjvp(astype_complex, lambda g, ans, x, dtype: g, None)
nondiff(astype_integer, ndim=same)


# np.astype(x, dtype) (NumPy 2): the dtype is read when the code runs (runtime_numpy.cast_like).
if hasattr(np, "astype"):
    linear(
        np.astype,
        lambda g, ans, x, dtype, **kw: call(runtime_numpy.cast_like, g, x, dtype),
        ndim=same,
        rest=(None,),
    )
    linear(
        runtime_numpy.cast_like,
        lambda G, ans, g, x, dtype: call(runtime_numpy.cast_like, G, x, dtype),
        rest=(None, None),
    )
linear(np.transpose, _transpose_vjp, ndim=same, rest=(None,))
linear(np.reshape, lambda g, ans, x, *shape, **kw: np.reshape(g, np.shape(x)), ndim=_reshape_rank, rest=(None,))
# Elementwise functions: np_elementwise.py; reductions and non-differentiable functions: np_reductions.py.
