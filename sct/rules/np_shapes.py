"""Rules for NumPy's shape functions: reshaping, joining, flipping, tiling, indexing.

Every one is linear in its array operand, so its forward rule is the function
itself applied to the tangent (``linear``) and its reverse rule undoes the
rearrangement: a flip flips back, a join splits (:func:`sct.backend.runtime.join_part`),
a tile sums its tiles (:func:`sct.backend.runtime.untile`). The runtime helpers the
reverse rules call are registered at the end, so generated code differentiates
again.
"""

import numbers

import numpy as np

from ..backend import runtime, runtime_numpy
from ..errors import SctError
from ..symbolic import Sym, call, dotted
from .table import defjvp, defvjp, linear, nondiff, refuse_keywords, same, sequence


# ---- ranks ---------------------------------------------------------------------------
def _rank(k=0, plus=0):
    """The rank of operand ``k``, plus ``plus``."""
    return lambda ranks, args, kwargs: None if len(ranks) <= k or ranks[k] is None else ranks[k] + plus


def _fixed(n):
    return lambda ranks, args, kwargs: n


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _at_least(n):
    return lambda ranks, args, kwargs: None if ranks[0] is None else max(ranks[0], n)


def _squeeze_rank(ranks, args, kwargs):
    axis = _arg(args, kwargs, 1, "axis")
    if ranks[0] is None or axis is None or not isinstance(axis, int | tuple):
        return None
    return ranks[0] - (len(axis) if isinstance(axis, tuple) else 1)


def _expand_rank(ranks, args, kwargs):
    axis = _arg(args, kwargs, 1, "axis")
    if ranks[0] is None or not isinstance(axis, int | tuple):
        return None
    return ranks[0] + (len(axis) if isinstance(axis, tuple) else 1)


def _shape_rank(k):
    """Rank of a function whose operand ``k`` is the result's shape (``np.broadcast_to(x, shape)``)."""

    def rank(ranks, args, kwargs):
        shape = _arg(args, kwargs, k, "shape")
        if isinstance(shape, int):
            return 1
        return len(shape) if isinstance(shape, tuple | list) else None

    return rank


def _tile_rank(ranks, args, kwargs):
    reps = _arg(args, kwargs, 1, "reps")
    n = 1 if isinstance(reps, int) else len(reps) if isinstance(reps, tuple | list) else None
    return None if ranks[0] is None or n is None else max(ranks[0], n)


def _axis_none_flat(ranks, args, kwargs, k=2):
    """``np.repeat``/``np.take``-style: the input's rank with an axis, 1 (flattened) without."""
    axis = _arg(args, kwargs, k, "axis")
    return 1 if axis is None else ranks[0]


def _take_rank(ranks, args, kwargs):
    axis = _arg(args, kwargs, 2, "axis")
    index = ranks[1] if len(ranks) > 1 else None
    if index is None:
        return None
    if axis is None:
        return index
    return None if ranks[0] is None else ranks[0] - 1 + index


def _join_rank(how):
    """Joins of a literal list: the analysis sees no ranks of the items, so only ``axis=None`` is known."""

    def rank(ranks, args, kwargs):
        axis = _arg(args, kwargs, 1, "axis", 0)
        return 1 if how == "concatenate" and axis is None else None

    return rank


# ---- reshaping ---------------------------------------------------------------------------
def _same_shape(g, ans, x, *args, **kwargs):
    """The gradient of a function that only changes the shape: ``g`` in the shape of ``x``."""
    return np.reshape(g, np.shape(x))


linear(np.ravel, _same_shape, ndim=_fixed(1), rest=(None,))
linear(np.squeeze, _same_shape, ndim=_squeeze_rank, rest=(None,))
linear(np.expand_dims, _same_shape, ndim=_expand_rank, rest=(None,))
linear(np.atleast_1d, _same_shape, ndim=_at_least(1))
linear(np.atleast_2d, _same_shape, ndim=_at_least(2))
linear(np.atleast_3d, _same_shape, ndim=_at_least(3))
linear(np.broadcast_to, lambda g, ans, x, shape: call(runtime.unbroadcast, g, x), ndim=_shape_rank(1), rest=(None,))


def _array_vjp(g, ans, items, *args, **kwargs):
    """``np.array([a, b, ...])``: item i's contribution is ``g[i]`` (nested lists: ``g[i][j]``)."""
    if isinstance(items, list | tuple):
        return type(items)(_array_vjp(g[i], None, item) for i, item in enumerate(items))
    if isinstance(items, Sym):
        return call(runtime.like_items, g, items)
    return g


def _array_jvp(t, ans, items, *args, **kwargs):
    return call(np.array, t, *args, **kwargs)


def _array_rank(ranks, args, kwargs):
    """``np.array(x)``: x's rank for an array; for a literal list, unknown (its items' ranks are not seen)."""
    return ranks[0] if ranks and ranks[0] is not None and not isinstance(args[0], list | tuple) else None


for _fn in (np.array, np.asarray):
    defvjp(_fn, _array_vjp, ndim=_array_rank)
    defjvp(_fn, _array_jvp)


# ---- permuting and flipping ------------------------------------------------------------
def _negate(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple | list) else -shift


linear(np.swapaxes, lambda g, ans, x, axis1, axis2: np.swapaxes(g, axis1, axis2), rest=(None, None))
linear(np.moveaxis, lambda g, ans, x, source, destination: np.moveaxis(g, destination, source), rest=(None, None))
linear(np.flip, lambda g, ans, x, axis=None: np.flip(g, axis), rest=(None,))
linear(np.fliplr, lambda g, ans, x: np.fliplr(g))
linear(np.flipud, lambda g, ans, x: np.flipud(g))
linear(np.roll, lambda g, ans, x, shift, axis=None: np.roll(g, _negate(shift), axis), rest=(None, None))
linear(np.rot90, lambda g, ans, x, k=1, axes=(0, 1): np.rot90(g, -k, axes), rest=(None, None))
linear(np.triu, lambda g, ans, x, k=0: np.triu(g, k), rest=(None,))
linear(np.tril, lambda g, ans, x, k=0: np.tril(g, k), rest=(None,))


# ---- repeating, padding, taking ------------------------------------------------------------
def _repeat_vjp(g, ans, x, repeats, axis=None):
    if isinstance(repeats, numbers.Integral):
        return call(runtime.unrepeat, g, x, repeats, axis)
    return call(runtime_numpy.unrepeat_any, g, x, repeats, axis)  # a count computed at run time, or one per item


def _pad_vjp(g, ans, x, pad_width, mode="constant", **kwargs):
    if mode != "constant" or any(not _is_zero(v) for v in _flat(kwargs.get("constant_values", 0))):
        raise SctError("sct differentiates np.pad only in mode='constant' with constant_values=0")
    return call(runtime.unpad, g, pad_width)


def _flat(value):
    if isinstance(value, tuple | list):
        return [v for item in value for v in _flat(item)]
    return [value]


def _is_zero(value):
    return isinstance(value, numbers.Number) and value == 0


linear(np.tile, lambda g, ans, x, reps: call(runtime.untile, g, x, reps), ndim=_tile_rank, rest=(None,))
linear(np.repeat, _repeat_vjp, ndim=_axis_none_flat, rest=(None, None))
linear(np.pad, _pad_vjp, ndim=same, rest=(None,))
linear(
    np.take,
    lambda g, ans, x, indices, axis=None, out=None, mode="raise": call(
        runtime.untake, g, x, indices, axis, *([] if mode == "raise" else [mode])
    ),
    ndim=_take_rank,
    rest=(None, None),
)
linear(
    np.take_along_axis,
    lambda g, ans, x, indices, axis=-1: call(runtime.untake_along, g, x, indices, axis),
    ndim=lambda ranks, args, kwargs: ranks[1] if len(ranks) > 1 else None,
    rest=(None, None),
)


# ---- diagonals ---------------------------------------------------------------------------------
def _diag_rank(ranks, args, kwargs):
    return {1: 2, 2: 1}.get(ranks[0])


linear(
    np.diagonal,
    lambda g, ans, x, offset=0, axis1=0, axis2=1: call(runtime.undiagonal, g, x, offset, axis1, axis2),
    ndim=_rank(0, -1),
    rest=(None, None, None),
)
linear(
    np.trace,
    lambda g, ans, x, offset=0, axis1=0, axis2=1, **kw: call(runtime.untrace, g, x, offset, axis1, axis2),
    ndim=_rank(0, -2),
    rest=(None, None, None),
)
linear(np.diag, lambda g, ans, x, k=0: call(runtime.diag_grad, g, x, k), ndim=_diag_rank, rest=(None,))


# ---- joining and splitting ------------------------------------------------------------------
def _join_vjp(how, default_axis):
    def vjp(g, ans, items, axis=default_axis, **kwargs):
        if isinstance(items, list | tuple):
            return type(items)(call(runtime.join_part, g, items, how, axis, i) for i in range(len(items)))
        return call(runtime.join_split, g, items, how, axis)

    return vjp


def _join(fn, how, axis_arg):
    default = 0 if axis_arg else None
    vjp = _join_vjp(how, default)
    if axis_arg:
        linear(fn, vjp, ndim=_join_rank(how), rest=(None,))
    else:
        linear(fn, lambda g, ans, items, **kw: vjp(g, ans, items), ndim=_join_rank(how))


_join(np.concatenate, "concatenate", True)
_join(np.stack, "stack", True)
_join(np.hstack, "hstack", False)
_join(np.vstack, "vstack", False)
_join(np.dstack, "dstack", False)
_join(np.column_stack, "column_stack", False)


def _split_vjp(g, ans, x, indices_or_sections, axis=0):
    """``g`` is the list of the parts' adjoints (zeros for unused parts): join them back."""
    return call(np.concatenate, g, axis=axis)


linear(np.split, _split_vjp, ndim=lambda ranks, args, kwargs: None, rest=(None, None))
linear(np.array_split, _split_vjp, ndim=lambda ranks, args, kwargs: None, rest=(None, None))


# ---- the runtime helpers above, differentiable in turn ------------------------------------------
def _rank_of(k):
    return lambda ranks, args, kwargs: ranks[k] if len(ranks) > k else None


def _join_part_rank(ranks, args, kwargs):
    how = _arg(args, kwargs, 2, "how")
    g = ranks[0]
    if g is None or how not in ("concatenate", "stack"):
        return None
    return g if how == "concatenate" else g - 1


linear(
    runtime.join_part,
    lambda G, ans, g, xs, how, axis, i: call(runtime.join_into, G, xs, how, axis, i),
    ndim=_join_part_rank,
    rest=(None, None, None, None),
)
linear(
    runtime.join_into,
    lambda G, ans, gi, xs, how, axis, i: call(runtime.join_part, G, xs, how, axis, i),
    rest=(None, None, None, None),
    ndim=lambda ranks, args, kwargs: None,
)
linear(
    runtime.join_split,
    lambda G, ans, g, xs, how, axis: call(runtime.join_merge, G, xs, how, axis),
    rest=(None, None, None),
    ndim=lambda ranks, args, kwargs: None,
)
linear(
    runtime.join_merge,
    lambda G, ans, gs, xs, how, axis: call(runtime.join_split, G, xs, how, axis),
    rest=(None, None, None),
    ndim=lambda ranks, args, kwargs: None,
)
linear(runtime.unstack, lambda G, ans, g, axis=0: np.stack(G, axis), rest=(None,), ndim=lambda r, a, k: None)
linear(runtime.untile, lambda G, ans, g, x, reps: np.tile(G, reps), ndim=_rank_of(1), rest=(None, None))
linear(
    runtime.unrepeat,
    lambda G, ans, g, x, repeats, axis=None: np.repeat(G, repeats, axis),
    ndim=_rank_of(1),
    rest=(None, None, None),
)
linear(runtime.unpad, lambda G, ans, g, pad_width: np.pad(G, pad_width), ndim=_rank_of(0), rest=(None,))
linear(
    runtime.untake,
    lambda G, ans, g, x, indices, axis=None, mode="raise": (
        np.take(G, indices, axis=axis) if mode == "raise" else np.take(G, indices, axis=axis, mode=mode)
    ),
    ndim=_rank_of(1),
    rest=(None, None, None),
)
linear(
    runtime.untake_along,
    lambda G, ans, g, x, indices, axis: np.take_along_axis(G, indices, axis),
    ndim=_rank_of(1),
    rest=(None, None, None),
)
linear(
    runtime.undiagonal,
    lambda G, ans, g, x, offset=0, axis1=0, axis2=1: np.diagonal(G, offset, axis1, axis2),
    ndim=_rank_of(1),
    rest=(None, None, None, None),
)
linear(
    runtime.untrace,
    lambda G, ans, g, x, offset=0, axis1=0, axis2=1: np.trace(G, offset, axis1, axis2),
    ndim=_rank_of(1),
    rest=(None, None, None, None),
)
linear(runtime.diag_grad, lambda G, ans, g, x, k=0: np.diag(G, k), ndim=_rank_of(1), rest=(None, None))
linear(runtime.like_items, lambda G, ans, g, x: call(np.array, G), ndim=lambda r, a, k: None, rest=(None,))


# ---- np.r_[a, b, ...] and np.c_[a, b, ...] ----------------------------------------------------
# Lowered as a primitive keyed by np.r_ / np.c_ itself, with the items as its one operand.
# Each item's adjoint is its piece of g (runtime.concat_part); the tangent is np.r_ of the tangents.
# A slice item (np.r_[x, 0:3]) is a constant: np.r_[0:3] stands in for it (it fills the same place).
def _maker(kind):
    return Sym(dotted(f"np.{kind}_"))


def _concat_items(kind, items):
    parts = items if isinstance(items, tuple) else (items,)
    if parts and isinstance(parts[0], str):
        raise SctError(
            f"sct does not differentiate np.{kind}_ with a directive string ({parts[0]!r}); "
            "write np.concatenate, np.stack or np.column_stack instead"
        )
    return tuple(_maker("r")[p] if isinstance(p, slice) else p for p in parts)


def _concat_vjp(kind):
    def vjp(g, ans, maker, items):
        stand_ins = _concat_items(kind, items)
        shares = tuple(call(runtime.concat_part, g, stand_ins, kind, i) for i in range(len(stand_ins)))
        return shares if isinstance(items, tuple) else shares[0]

    return vjp


def _concat_jvp(kind):
    def jvp(t, ans, maker, items):
        stand_ins = _concat_items(kind, items)
        if not isinstance(items, tuple):
            return _maker(kind)[t]
        tangents = (np.zeros_like(s) if isinstance(p, slice) else d for p, s, d in zip(items, stand_ins, t))
        return _maker(kind)[tuple(tangents)]

    return jvp


for _kind, _fn in (("r", np.r_), ("c", np.c_)):
    defvjp(_fn, None, _concat_vjp(_kind), ndim=lambda ranks, args, kwargs: None)
    defjvp(_fn, None, _concat_jvp(_kind))
linear(
    runtime.concat_part,
    lambda G, ans, g, items, kind, i: call(runtime.concat_into, G, items, kind, i),
    ndim=lambda ranks, args, kwargs: None,
    rest=(None, None, None),
)
linear(
    runtime.concat_into,
    lambda G, ans, gi, items, kind, i: call(runtime.concat_part, G, items, kind, i),
    ndim=lambda ranks, args, kwargs: None,
    rest=(None, None, None),
)


# ---- np.append, np.rollaxis, np.vsplit/hsplit/dsplit, np.row_stack ----------------------------------
# np.append(arr, values, axis) is np.concatenate((arr, values), axis), both raveled where axis is None.
def _append_vjp(k):
    return lambda g, ans, arr, values, axis=None: call(runtime.join_part, g, [arr, values], "concatenate", axis, k)


def _append_jvp(k):
    def jvp(t, ans, arr, values, axis=None):
        parts = [t if j == k else call(runtime.zeros_like, v) for j, v in enumerate((arr, values))]
        return call(np.append, *parts) if axis is None else call(np.append, *parts, axis=axis)

    return jvp


def _append_rank(ranks, args, kwargs):
    return 1 if _arg(args, kwargs, 2, "axis") is None else ranks[0]


defvjp(np.append, _append_vjp(0), _append_vjp(1), None, ndim=_append_rank)
defjvp(np.append, _append_jvp(0), _append_jvp(1), None)
linear(
    np.rollaxis,
    lambda g, ans, x, axis, start=0: call(runtime_numpy.unrollaxis, g, x, axis, start),
    ndim=same,
    rest=(None, None),
)
linear(
    runtime_numpy.unrollaxis,
    lambda G, ans, g, x, axis, start=0: np.rollaxis(G, axis, start),
    ndim=_rank_of(1),
    rest=(None, None, None),
)
# The parts' adjoints (a list) joined back the way the split cut them.
linear(np.vsplit, lambda g, ans, x, sections: call(np.vstack, g), ndim=lambda r, a, k: None, rest=(None,))
linear(np.hsplit, lambda g, ans, x, sections: call(np.hstack, g), ndim=lambda r, a, k: None, rest=(None,))
linear(np.dsplit, lambda g, ans, x, sections: call(np.dstack, g), ndim=lambda r, a, k: None, rest=(None,))
if hasattr(np, "row_stack"):  # a deprecated alias of np.vstack (not the same function object)
    _join(np.row_stack, "vstack", False)


# ---- differences: np.diff, np.ediff1d, np.gradient ---------------------------------------------------
# np.diff(x, n, axis, prepend, append) is linear in [prepend, x, append] joined along ``axis``:
# diff_grad is its adjoint for one of the three parts, diff_tangent its tangent; each the other's transpose.
def _diff_options(n=1, axis=-1, prepend=None, append=None):
    return n, axis, prepend, append


def _diff_call(helper, part):
    """``helper(g, x, ...)`` with only the options that differ from their defaults spelled out."""

    def rule(g, ans, x, *args, **kwargs):
        options = (*_diff_options(*args, **kwargs), part)
        if any(isinstance(v, Sym) for v in options):  # by position: a keyword may not vary (second order)
            return call(helper, g, x, *options)
        defaults = {"n": 1, "axis": -1, "prepend": None, "append": None, "part": 1}
        given = zip(defaults, options)
        return call(helper, g, x, **{k: v for k, v in given if not _same(v, defaults[k])})

    return rule


def _same(value, default) -> bool:
    return not isinstance(value, Sym) and type(value) is type(default) and value == default


def _diff_vjp(part):
    return _diff_call(runtime_numpy.diff_grad, part)


def _diff_jvp(part):
    return _diff_call(runtime_numpy.diff_tangent, part)


def _diff_rule(make):
    return lambda i: make({0: 1, 3: 0, 4: 2}[i]) if i in (0, 3, 4) else None


defvjp(np.diff, _diff_rule(_diff_vjp), ndim=same)
defjvp(np.diff, _diff_rule(_diff_jvp))
_DIFF_HELPER = (None, None, None, None, None, None)
linear(
    runtime_numpy.diff_grad,
    lambda G, ans, g, x, n=1, axis=-1, prepend=None, append=None, part=1: call(
        runtime_numpy.diff_tangent, G, x, n, axis, prepend, append, part
    ),
    ndim=lambda ranks, args, kwargs: None,
    rest=_DIFF_HELPER,
)
linear(
    runtime_numpy.diff_tangent,
    lambda G, ans, t, x, n=1, axis=-1, prepend=None, append=None, part=1: call(
        runtime_numpy.diff_grad, G, x, n, axis, prepend, append, part
    ),
    ndim=_rank_of(1),
    rest=_DIFF_HELPER,
)


# np.ediff1d(x, to_end, to_begin) = [to_begin, np.diff(ravel(x)), to_end]: by x only.
def _ediff1d_vjp(g, ans, x, to_end=None, to_begin=None):
    begin = 0 if to_begin is None else np.size(to_begin)
    stop = None if to_end is None else -np.size(to_end)
    middle = g if to_begin is None and to_end is None else g[begin:stop]
    return np.reshape(call(runtime_numpy.diff_grad, middle, np.ravel(x), 1, 0), np.shape(x))


def _ediff1d_jvp(t, ans, x, to_end=None, to_begin=None):
    ends = {k: call(runtime.zeros_like, v) for k, v in (("to_end", to_end), ("to_begin", to_begin)) if v is not None}
    return call(np.ediff1d, t, **ends)


def _ediff1d_ends(g, ans, *args, **kwargs):
    raise SctError("sct differentiates np.ediff1d by its array only; join the ends with np.concatenate instead")


defvjp(np.ediff1d, _ediff1d_vjp, _ediff1d_ends, _ediff1d_ends, ndim=_fixed(1))
defjvp(np.ediff1d, _ediff1d_jvp, _ediff1d_ends, _ediff1d_ends)


# np.gradient(f, *spacing, axis=, edge_order=): linear in f for fixed spacing (a list of arrays for several axes).
def _gradient_vjp(i):
    def vjp(g, ans, f, *spacing, axis=None, edge_order=1):
        if i > 0:
            raise SctError("sct differentiates np.gradient by its values only, not by the spacing")
        options = {k: v for k, v, d in (("axis", axis, None), ("edge_order", edge_order, 1)) if not _same(v, d)}
        return call(runtime_numpy.ungradient, g, f, tuple(spacing), **options)

    return vjp


def _gradient_jvp(i):
    def jvp(t, ans, f, *spacing, **kwargs):
        if i > 0:
            raise SctError("sct differentiates np.gradient by its values only, not by the spacing")
        return call(np.gradient, t, *spacing, **kwargs)

    return jvp


def _gradient_rank(ranks, args, kwargs):
    axis = kwargs.get("axis")
    if ranks[0] == 1 or isinstance(axis, int):
        return ranks[0]
    return None


defvjp(np.gradient, _gradient_vjp, ndim=_gradient_rank)
defjvp(np.gradient, _gradient_jvp)
linear(
    runtime_numpy.ungradient,
    lambda G, ans, g, f, spacing=(), axis=None, edge_order=1: call(
        np.gradient, G, *spacing, axis=axis, edge_order=edge_order
    ),
    ndim=_rank_of(1),
    rest=(None, None, None, None),
)


# ---- np.select and np.piecewise --------------------------------------------------------------------
# np.select(conditions, choices, default): each choice gets g where it was the one taken.
def _select_choices_vjp(g, ans, condlist, choicelist, default=0.0):
    if isinstance(choicelist, list | tuple):
        return [call(runtime_numpy.select_share, g, condlist, choicelist, default, k) for k in range(len(choicelist))]
    return call(runtime_numpy.select_split, g, condlist, choicelist, default)


def _select_default_vjp(g, ans, condlist, choicelist, default=0.0):
    k = len(choicelist) if isinstance(choicelist, list | tuple) else call(len, choicelist)
    return call(runtime_numpy.select_share, g, condlist, choicelist, default, k)


def _select_choices_jvp(t, ans, condlist, choicelist, default=0.0):
    return call(np.select, condlist, t, 0.0)


def _select_default_jvp(t, ans, condlist, choicelist, default=0.0):
    return call(np.select, condlist, call(runtime.zeros_like, choicelist), t)


defvjp(np.select, None, _select_choices_vjp, _select_default_vjp, ndim=lambda ranks, args, kwargs: None)
defjvp(np.select, None, _select_choices_jvp, _select_default_jvp)
_NONE = lambda ranks, args, kwargs: None  # noqa: E731
linear(
    runtime_numpy.select_share,
    lambda G, ans, g, *rest: call(runtime_numpy.select_into, G, *rest),
    ndim=_NONE,
    rest=(None, None, None, None),
)
linear(
    runtime_numpy.select_into,
    lambda G, ans, g, *rest: call(runtime_numpy.select_share, G, *rest),
    ndim=_NONE,
    rest=(None, None, None, None),
)
linear(
    runtime_numpy.select_split,
    lambda G, ans, g, *rest: call(runtime_numpy.select_merge, G, *rest),
    ndim=_NONE,
    rest=(None, None, None),
)
linear(
    runtime_numpy.select_merge,
    lambda G, ans, g, *rest: call(runtime_numpy.select_split, G, *rest),
    ndim=_NONE,
    rest=(None, None, None),
)


# np.piecewise(x, conditions, values): with values (not functions; the frontend refuses those) the
# result is constant wherever it is differentiable: no derivative by x. Values that vary are refused.
def _piecewise_rule(i):
    def rule(g, ans, x, condlist, funclist, *args, **kwargs):
        items = funclist if isinstance(funclist, list | tuple) else [funclist]
        if i == 0 and all(isinstance(v, numbers.Number) for v in items):
            return 0.0
        raise SctError(
            "sct differentiates np.piecewise only with constant values in its list; "
            "write np.select([c1, c2], [v1, v2]) for values that vary"
        )

    return rule


defvjp(np.piecewise, _piecewise_rule(0), None, _piecewise_rule(2), ndim=same)
defjvp(np.piecewise, _piecewise_rule(0), None, _piecewise_rule(2))
linear(
    runtime_numpy.unrepeat_any,
    lambda G, ans, g, x, repeats, axis=None: np.repeat(G, repeats, axis),
    ndim=_rank_of(1),
    rest=(None, None, None),
)


# Results that are lists of arrays (np.gradient: one array for a vector): gradients add item by item.
sequence("list", np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit, runtime.unstack)
sequence("maybe", np.gradient)


# ---- np.interp: piecewise linear ---------------------------------------------------------------------
# With i = interp_index(x, xp) (x's segment), h = xp[i + 1] - xp[i], u = (x - xp[i]) / h and t = clip(u, 0, 1),
# np.interp(x, xp, fp) is fp[i] + (fp[i + 1] - fp[i]) t, outside [xp[0], xp[-1]] too (t is 0 or 1 there).
# It is linear in fp (its tangent there is np.interp(x, xp, t)), piecewise linear in x. The helpers
# (sct.backend.runtime) carry rules of their own, so Hessians in x and fp follow; second derivatives
# in xp are refused. left=, right= and period= are refused.
def _no_second_derivative_in_xp(*args, **kwargs):
    raise SctError(
        "sct does not take second derivatives of np.interp with respect to its points xp; "
        "differentiate twice by x or fp only (or write the interpolation with np.searchsorted and np.take)"
    )


defvjp(
    np.interp,
    lambda g, ans, x, xp, fp, **kw: g * call(runtime.interp_slope, x, xp, fp),
    lambda g, ans, x, xp, fp, **kw: call(runtime.interp_grad_xp, g, x, xp, fp),
    lambda g, ans, x, xp, fp, **kw: call(runtime.interp_grad_fp, g, x, xp, fp),
    ndim=lambda ranks, args, kwargs: ranks[0],
)
defjvp(
    np.interp,
    lambda t, ans, x, xp, fp, **kw: t * call(runtime.interp_slope, x, xp, fp),
    lambda t, ans, x, xp, fp, **kw: call(runtime.interp_tangent_xp, t, x, xp, fp),
    lambda t, ans, x, xp, fp, **kw: np.interp(x, xp, t),
)
refuse_keywords(
    np.interp, ("left", "right", "period"), "write the values outside the points with np.where, or wrap x yourself"
)
nondiff(runtime.interp_index, ndim=lambda ranks, args, kwargs: ranks[0])
_RANK_X = lambda ranks, args, kwargs: ranks[0]  # noqa: E731
_RANK_FP = lambda ranks, args, kwargs: 1  # noqa: E731
# interp_slope(x, xp, fp): constant in x between the points, linear in fp
defvjp(
    runtime.interp_slope,
    None,
    _no_second_derivative_in_xp,
    lambda G, ans, x, xp, fp: call(runtime.interp_slope_grad_fp, G, x, xp, fp),
    ndim=_RANK_X,
)
defjvp(
    runtime.interp_slope,
    None,
    _no_second_derivative_in_xp,
    lambda t, ans, x, xp, fp: call(runtime.interp_slope, x, xp, t),
)
# interp_slope_grad_fp(G, x, xp, fp), the transpose of interp_slope in fp: linear in G, constant in x
defvjp(
    runtime.interp_slope_grad_fp,
    lambda H, ans, G, x, xp, fp: call(runtime.interp_slope, x, xp, H),
    None,
    _no_second_derivative_in_xp,
    None,
    ndim=_RANK_FP,
)
defjvp(
    runtime.interp_slope_grad_fp,
    lambda t, ans, G, x, xp, fp: call(runtime.interp_slope_grad_fp, t, x, xp, fp),
    None,
    _no_second_derivative_in_xp,
    None,
)
# interp_grad_fp(g, x, xp, fp), the transpose of np.interp in fp: linear in g; its weights move with x
defvjp(
    runtime.interp_grad_fp,
    lambda H, ans, g, x, xp, fp: np.interp(x, xp, H),
    lambda H, ans, g, x, xp, fp: g * call(runtime.interp_slope, x, xp, H),
    _no_second_derivative_in_xp,
    None,
    ndim=_RANK_FP,
)
defjvp(
    runtime.interp_grad_fp,
    lambda t, ans, g, x, xp, fp: call(runtime.interp_grad_fp, t, x, xp, fp),
    lambda t, ans, g, x, xp, fp: call(runtime.interp_slope_grad_fp, g * t, x, xp, fp),
    _no_second_derivative_in_xp,
    None,
)
for _fn in (runtime.interp_grad_xp, runtime.interp_tangent_xp):
    defvjp(_fn, *[_no_second_derivative_in_xp] * 4, ndim=_RANK_FP if _fn is runtime.interp_grad_xp else _RANK_X)
    defjvp(_fn, *[_no_second_derivative_in_xp] * 4)
