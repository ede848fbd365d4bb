"""Rules for the functions generated code itself calls, so that it can be differentiated again.

``sct.grad(sct.grad(f))`` differentiates the generated ``grad_f``, which calls the
runtime helpers (``unbroadcast``, ``matmul_grad_left``, ...) and a few NumPy
functions that only adjoints use (``np.full_like``, ``np.broadcast_to``, ...).
Each helper is linear in its gradient operand, so its rules are short. NumPy
functions registered elsewhere keep their rules: the ones here are only the
fallbacks for functions nothing else registers.
"""

import numbers

import gast
import numpy as np

from ..backend import runtime
from ..symbolic import Sym, call, to_expr
from .table import defjvp, defjvp_joint, defvjp, linear, lookup, nondiff


def _rank_of_operand(k):
    return lambda ranks, args, kwargs: ranks[k] if len(ranks) > k else None


def _is_scalar(x) -> bool:
    return isinstance(x, numbers.Number) or getattr(x, "ndim", None) == 0


def scalar_sum(expr):
    """``np.sum(expr)`` (gast), with a negation that heads a product or quotient taken out of the sum:
    ``np.sum(-g * a / b)`` -> ``-np.sum(g * a / b)``, one pass over the array fewer.

    The same number to the bit: negation is exact and commutes with ``*``, ``/`` and rounding to
    nearest, so each term, each partial sum and the total only change sign.
    """
    positive = _without_leading_minus(expr)
    if positive is None:
        return to_expr(np.sum(Sym(expr)))
    return gast.UnaryOp(op=gast.USub(), operand=to_expr(np.sum(Sym(positive))))


def _without_leading_minus(expr):
    """``g * a / b`` for ``-g * a / b`` (new nodes along the way; the operands are shared), else None."""
    if not (isinstance(expr, gast.BinOp) and isinstance(expr.op, gast.Mult | gast.Div)):
        return None
    if isinstance(expr.left, gast.UnaryOp) and isinstance(expr.left.op, gast.USub):
        left = expr.left.operand
    else:
        left = _without_leading_minus(expr.left)
        if left is None:
            return None
    return gast.BinOp(left=left, op=expr.op, right=expr.right)


def _unbroadcast_to(g, x):
    """``g`` summed to the shape of ``x`` (``np.sum`` when ``x`` is known to be a scalar)."""
    return np.sum(g) if _is_scalar(x) else call(runtime.unbroadcast, g, x)


# ---- runtime helpers ---------------------------------------------------------------
linear(
    runtime.unbroadcast,
    lambda g, ans, grad, x: np.broadcast_to(g, np.shape(grad)),
    ndim=_rank_of_operand(1),
    rest=(None,),
)
linear(runtime.index_grad, lambda g, ans, grad, x, index: g[index], ndim=_rank_of_operand(1), rest=(None, None))
linear(runtime.fresh_copy, lambda g, ans, x: g)
linear(runtime.detached, lambda g, ans, x: g)
linear(runtime.like, lambda g, ans, grad, x: g, rest=(None,))
nondiff(runtime.zeros_like, ndim=_rank_of_operand(0))
# Transforms called inside differentiated code (sct.higher.for_call): linear in their first operand.
_RANK_1 = _rank_of_operand(1)
linear(runtime.tangent_like, lambda g, ans, t, out: call(runtime.cotangent_like, g, t), ndim=_RANK_1, rest=(None,))
linear(runtime.cotangent_like, lambda g, ans, G, t: call(runtime.tangent_like, g, G), ndim=_RANK_1, rest=(None,))
linear(runtime.grad_like, lambda g, ans, G, x: g, rest=(None,))  # a float() where x is a float
linear(runtime.primal_like, lambda g, ans, out: g)  # a float() of a NumPy float64: the identity


def _product_adjoints(left, right, product):
    """Rules for ``left(g, a, b)`` / ``right(g, a, b)``, the adjoints of ``product(a, b)`` in a / in b.

    ``left`` is linear in g and in b (a gives only its shape); ``right`` in g and in a.
    """
    defvjp(
        left,
        lambda G, ans, g, a, b: product(G, b),
        None,
        lambda G, ans, g, a, b: call(right, g, G, b),
        ndim=_rank_of_operand(1),
    )
    defjvp(left, lambda t, ans, g, a, b: call(left, t, a, b), None, lambda t, ans, g, a, b: call(left, g, a, t))
    defvjp(
        right,
        lambda G, ans, g, a, b: product(a, G),
        lambda G, ans, g, a, b: call(left, g, a, G),
        None,
        ndim=_rank_of_operand(2),
    )
    defjvp(right, lambda t, ans, g, a, b: call(right, t, a, b), lambda t, ans, g, a, b: call(right, g, t, b), None)


_product_adjoints(runtime.matmul_grad_left, runtime.matmul_grad_right, lambda a, b: a @ b)
_product_adjoints(runtime.dot_grad_left, runtime.dot_grad_right, np.dot)

# add_at(acc, index, g): acc with g added at index (in place; generated code owns acc).
defvjp(runtime.add_at, lambda G, ans, acc, index, g: G, None, lambda G, ans, acc, index, g: G[index])
defjvp(
    runtime.add_at,
    lambda t, ans, acc, index, g: t,
    None,
    lambda t, ans, acc, index, g: call(runtime.add_at, call(runtime.zeros_like, acc), index, t),
)
defjvp_joint(  # summing the operands' tangents with ``+`` would concatenate lists: add the item in
    runtime.add_at,
    lambda tangents, ans, acc, index, g: call(
        runtime.add_at, call(runtime.fresh_copy, tangents[0]), index, tangents[2]
    ),
)
lookup(runtime.add_at).ndim = _rank_of_operand(0)
# tree_add(a, b): gradients added leaf by leaf.
defvjp(runtime.tree_add, lambda G, ans, a, b: G, lambda G, ans, a, b: G)
defjvp(runtime.tree_add, lambda t, ans, a, b: t, lambda t, ans, a, b: t)
defjvp_joint(runtime.tree_add, lambda tangents, ans, a, b: call(runtime.tree_add, *tangents))

# kept_writes(g, index): g[index] where a write through index was kept; put_kept is its transpose.
linear(
    runtime.kept_writes,
    lambda G, ans, g, index: call(runtime.put_kept, G, g, index),
    ndim=lambda ranks, args, kwargs: None,
    rest=(None,),
)
linear(
    runtime.put_kept,
    lambda G, ans, g, x, index: call(runtime.kept_writes, G, index),
    ndim=_rank_of_operand(1),
    rest=(None, None),
)


# ---- NumPy functions that adjoints use -----------------------------------------------
def _fallback(fn, register):
    if lookup(fn) is None or not (lookup(fn).vjp or lookup(fn).nondiff):
        register()


_fallback(
    np.full_like,
    lambda: (
        defvjp(np.full_like, None, lambda g, ans, x, fill, **kw: _unbroadcast_to(g, fill), ndim=_rank_of_operand(0)),
        defjvp(np.full_like, None, lambda t, ans, x, fill, **kw: np.full_like(x, t)),
    ),
)
_fallback(
    np.broadcast_to,
    lambda: linear(
        np.broadcast_to, lambda g, ans, x, shape: _unbroadcast_to(g, x), ndim=lambda r, a, k: None, rest=(None,)
    ),
)
_fallback(
    np.expand_dims,
    lambda: linear(
        np.expand_dims,
        lambda g, ans, x, axis: np.reshape(g, np.shape(x)),
        ndim=lambda r, a, k: None if r[0] is None else r[0] + 1,
        rest=(None,),
    ),
)
_fallback(
    np.outer,
    lambda: (
        defvjp(np.outer, lambda g, ans, a, b: g @ b, lambda g, ans, a, b: a @ g, ndim=lambda r, a, k: 2),
        defjvp(np.outer, lambda t, ans, a, b: np.outer(t, b), lambda t, ans, a, b: np.outer(a, t)),
    ),
)


def _array_vjp(g, ans, items, *args, **kwargs):
    """``np.array([a, b, ...])``: item i's contribution is ``g[i]``."""
    if isinstance(items, list | tuple):
        return type(items)(g[i] for i in range(len(items)))
    return call(np.asarray, g) if _is_scalar(items) else call(list, g)


_fallback(
    np.array,
    lambda: (
        defvjp(np.array, _array_vjp, ndim=lambda r, a, k: None),
        defjvp(np.array, lambda t, ans, items, *args, **kwargs: call(np.array, t, *args, **kwargs)),
    ),
)
