"""The few helpers generated code calls.

Each is a small plain-NumPy function; ``sct export`` copies the source of the
ones a module uses into it, so exported code needs only NumPy.
"""

import contextlib
import math
import sys

import numpy as np

from ..errors import ZeroInputError


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undoing NumPy broadcasting); ``x`` may be a shape."""
    shape = x if type(x) is tuple else getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    have = getattr(g, "shape", None)
    if have == shape:  # the common case, without function calls
        return g
    if have is None:  # a Python number
        g = np.asarray(g)
        have = g.shape
    lead = len(have) - len(shape)
    if lead > 0:  # axes broadcasting added in front
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:  # axes of length 1 that broadcasting stretched
        g = g.sum(axis=axes, keepdims=True)
    if not isinstance(x, np.ndarray):
        return float(g) if g.ndim == 0 and isinstance(x, float) else g
    return g if g.shape == shape else g.reshape(shape)


def zeros_like(x):
    """A zero gradient with the structure of ``x`` (lists for tuples, so it can be updated)."""
    if isinstance(x, float | int | str | bytes | type(None)):  # keys and labels in containers: no gradient
        return 0.0
    if isinstance(x, list | tuple):
        return [zeros_like(v) for v in x]
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if callable(x):  # a recursive call's pullback: no adjoint of its own
        return 0.0
    return np.zeros(np.shape(x), dtype=np.result_type(x, 0.0))


def index_grad(g, x, index):
    """The gradient of ``x[index]`` scattered back into the shape of ``x``."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    np.add.at(out, index, g)
    return out


def matmul_grad_left(g, a, b):
    """d(a @ b)/da applied to ``g``, for any ranks."""
    if np.ndim(b) == 1:
        if np.ndim(a) == 1:
            return g * b
        return np.expand_dims(g, -1) * b
    if np.ndim(a) == 1:
        return unbroadcast((b @ np.expand_dims(g, -1))[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_grad_right(g, a, b):
    """d(a @ b)/db applied to ``g``, for any ranks."""
    if np.ndim(a) == 1:
        if np.ndim(b) == 1:
            return g * a
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(g, -2), b)
    if np.ndim(b) == 1:
        return unbroadcast((np.swapaxes(a, -1, -2) @ np.expand_dims(g, -1))[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


HELPERS = {f.__name__: f for f in (unbroadcast, zeros_like, index_grad, matmul_grad_left, matmul_grad_right)}


def fresh_copy(x):
    """A copy of an adjoint that the generated code may then update in place."""
    if isinstance(x, list | tuple):
        return [fresh_copy(v) for v in x]
    if isinstance(x, dict):
        return {k: fresh_copy(v) for k, v in x.items()}
    return np.array(x, dtype=np.result_type(x, 0.0)) if isinstance(x, np.ndarray) else x


def add_at(acc, index, g):
    """``acc[index] += g`` that also sums repeated indices (fancy indexing); in place.

    Into a list or dict, items add as gradients do (``tree_add``): lists are
    never concatenated, nested containers add leaf by leaf.
    """
    if isinstance(acc, np.ndarray):
        np.add.at(acc, index, g)
    elif isinstance(acc, list) and isinstance(index, slice):  # elementwise: list + list would concatenate
        acc[index] = [tree_add(a, b) for a, b in zip(acc[index], g)]
    else:
        acc[index] = tree_add(acc[index], g)
    return acc


def added_at(a, index, v):
    """``np.add.at(a, index, v)`` on a copy of ``a``, returned: every repeat of a position adds (in NumPy's order).

    The user's ``np.add.at(a, index, v)`` statement is lowered to ``a = added_at(a, index, v)``.
    """
    out = a.copy() if isinstance(a, np.ndarray) else a  # not an array: NumPy's own error
    np.add.at(out, index, v)
    return out


def subtracted_at(a, index, v):
    """``np.subtract.at(a, index, v)`` on a copy of ``a``, returned (see :func:`added_at`)."""
    out = a.copy() if isinstance(a, np.ndarray) else a
    np.subtract.at(out, index, v)
    return out


def tree_add(a, b):
    """``a + b`` for gradients: leaf by leaf where they are lists, tuples or dicts (never concatenated)."""
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            raise ValueError(f"gradients of {len(a)} and {len(b)} items cannot be added")
        return [tree_add(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict):
        return {k: tree_add(v, b[k]) for k, v in a.items()}
    return a + b


def detached(x):
    """A copy of a returned value's arrays, containers of the same kinds: later updates in place do not reach it."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if type(x) in (list, tuple):
        return type(x)(detached(v) for v in x)
    if isinstance(x, dict):
        return {k: detached(v) for k, v in x.items()}
    return x


def like(g, x):
    """The gradient ``g`` with the container types of ``x`` (tuples stay tuples, a float for a float)."""
    if isinstance(x, tuple):
        return tuple(like(gi, xi) for gi, xi in zip(g, x))
    if isinstance(x, list):
        return [like(gi, xi) for gi, xi in zip(g, x)]
    if isinstance(x, dict):
        return {k: like(g[k], v) for k, v in x.items()}
    if np.iscomplexobj(g) and _real(x):  # the gradient of a real value is real (sct.analysis.complex_values)
        g = np.real(g)
    if type(x) is float and np.ndim(g) == 0 and not np.iscomplexobj(g):
        return float(g)
    return g


def _real(x) -> bool:
    return isinstance(x, float | np.floating) or isinstance(x, np.ndarray) and x.dtype.kind != "c"


HELPERS.update({f.__name__: f for f in (fresh_copy, add_at, added_at, subtracted_at, tree_add, detached, like)})


def tangent_like(t, out):
    """The tangent ``t`` of ``out`` in ``out``'s shape (generated tangent code may leave it broadcastable:
    ``dot_out = dot_s`` for ``out = c + s``, with ``c`` an array and ``s`` a scalar); what ``sct.jvp`` returns.
    """
    if isinstance(out, list | tuple):
        return type(out)(tangent_like(ti, oi) for ti, oi in zip(t, out))
    if isinstance(out, dict):
        return {k: tangent_like(t[k], v) for k, v in out.items()}
    if isinstance(out, float) and np.ndim(t) == 0:  # as sct.jvp returns it (sct.transforms._match)
        return float(t)
    if isinstance(out, np.ndarray) and np.shape(t) != out.shape:
        return np.broadcast_to(t, out.shape).copy()
    return t


def primal_like(out):
    """``out`` as ``sct.jvp`` returns it: a NumPy float64 scalar as the Python float it equals (in containers too),
    like its tangent (:func:`tangent_like`)."""
    if isinstance(out, list | tuple):
        return type(out)(primal_like(o) for o in out)
    if isinstance(out, dict):
        return {k: primal_like(v) for k, v in out.items()}
    return float(out) if type(out) is np.float64 else out


def cotangent_like(g, t):
    """The adjoint of :func:`tangent_like` in its tangent: ``g`` summed back to the structure of ``t``."""
    if isinstance(t, list | tuple):
        return type(t)(cotangent_like(gi, ti) for gi, ti in zip(g, t))
    if isinstance(t, dict):
        return {k: cotangent_like(g[k], v) for k, v in t.items()}
    return unbroadcast(g, t)


def grad_like(g, x):
    """A gradient as ``sct.grad`` returns it: a Python float for a Python float ``x``; a container's item by item."""
    if isinstance(x, list | tuple) and isinstance(g, list | tuple):
        return type(x)(grad_like(gi, xi) for gi, xi in zip(g, x))
    if isinstance(x, dict) and isinstance(g, dict):
        return {k: grad_like(g[k], v) for k, v in x.items()}
    if np.iscomplexobj(g) and _real(x):  # the gradient of a real value is real (sct.analysis.complex_values)
        g = np.real(g)
    if isinstance(x, float) and not isinstance(x, np.ndarray) and np.ndim(g) == 0 and not np.iscomplexobj(g):
        return float(g)
    return g


HELPERS.update({f.__name__: f for f in (tangent_like, cotangent_like, grad_like)})


def appended(items, item):
    """``items + [item]``: a list grown without changing the one it came from."""
    return [*items, item]


HELPERS["appended"] = appended
HELPERS["primal_like"] = primal_like


def prod_others(x, axis=None):
    """Each element's product of the others in its ``np.prod(x, axis)`` group (zeros allowed)."""
    x = np.asarray(x, dtype=np.result_type(x, 0.0))
    if x.ndim == 0 or x.size == 0:  # np.prod(0.5, axis=0) is the value alone; no elements: no products
        return np.ones_like(x)
    axes = tuple(range(x.ndim)) if axis is None else axis if type(axis) is tuple else (axis,)
    axes = tuple(a % x.ndim for a in axes)
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    flat = np.reshape(moved, moved.shape[: len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.transpose(np.reshape(left * right, moved.shape), np.argsort(rest + list(axes)))


def sort_order(x, axis=-1):
    """The permutation ``np.sort(x, axis)`` applies (stable), as ``np.argsort`` indices."""
    return np.argsort(np.ravel(x) if axis is None else x, axis=0 if axis is None else axis, kind="stable")


def sorted_like(v, x, axis=-1):
    """``v`` permuted the way ``np.sort(x, axis)`` permutes ``x``."""
    if axis is None:
        return np.ravel(v)[sort_order(x, None)]
    return np.take_along_axis(v, sort_order(x, axis), axis=axis)


def unsorted_like(v, x, axis=-1):
    """The inverse of ``sorted_like``: ``v`` put back where ``np.sort(x, axis)`` took each item."""
    out = np.zeros(np.shape(x), dtype=np.result_type(v, 0.0))
    if axis is None:
        np.ravel(out)[sort_order(x, None)] = v  # out is contiguous: ravel is a view
        return out
    np.put_along_axis(out, sort_order(x, axis), v, axis=axis)
    return out


HELPERS.update({f.__name__: f for f in (prod_others, sort_order, sorted_like, unsorted_like)})


def median_share(x, axis=None):
    """How much of ``np.median(x, axis)`` each element is: 1 for the middle one, 1/2 for each of two."""
    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axis is None else axis if type(axis) is tuple else (axis,)
    axes = tuple(a % x.ndim for a in axes)
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    flat = np.reshape(moved, moved.shape[: len(rest)] + (-1,))
    n = flat.shape[-1]
    order = np.argsort(flat, axis=-1, kind="stable")
    share = np.zeros(flat.shape)
    middle = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    for k in middle:
        np.put_along_axis(share, order[..., k : k + 1], 1.0 / len(middle), axis=-1)
    return np.transpose(np.reshape(share, moved.shape), np.argsort(rest + list(axes)))


HELPERS["median_share"] = median_share


# ---- shape and product helpers (adjoints of joins, tiles, takes, diagonals, kron) ----------
def _join_layout(xs, how, axis):
    """The shape each item of ``xs`` has inside ``np.<how>(xs, axis)``, and the axis they are joined on."""
    if how == "concatenate" and axis is None:
        return [(np.size(x),) for x in xs], 0
    if how == "stack":
        return [np.shape(np.expand_dims(x, axis)) for x in xs], axis
    if how == "hstack":
        shapes = [np.shape(np.atleast_1d(x)) for x in xs]
        return shapes, 0 if len(shapes[0]) == 1 else 1
    if how == "vstack":
        return [np.shape(np.atleast_2d(x)) for x in xs], 0
    if how == "dstack":
        return [np.shape(np.atleast_3d(x)) for x in xs], 2
    if how == "column_stack":
        return [np.shape(x) if np.ndim(x) > 1 else (np.size(x), 1) for x in xs], 1
    return [np.shape(x) for x in xs], axis


def join_part(g, xs, how, axis, i):
    """Item ``i``'s share of ``g``, the gradient of ``np.<how>(xs, axis)``, in the shape of ``xs[i]``."""
    shapes, axis = _join_layout(xs, how, axis)
    start = sum(s[axis] for s in shapes[:i])
    index = [slice(None)] * len(shapes[i])
    index[axis] = slice(start, start + shapes[i][axis])
    return np.reshape(g[tuple(index)], np.shape(xs[i]))


def join_into(gi, xs, how, axis, i):
    """The adjoint of ``join_part``: ``gi`` placed at item ``i``'s place in ``np.<how>(xs, axis)``, zeros elsewhere."""
    shapes, axis = _join_layout(xs, how, axis)
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    out = np.zeros(shape, dtype=np.result_type(gi, 0.0))
    start = sum(s[axis] for s in shapes[:i])
    index = [slice(None)] * len(shape)
    index[axis] = slice(start, start + shapes[i][axis])
    out[tuple(index)] = np.reshape(gi, shapes[i])
    return out


def join_split(g, xs, how, axis):
    """``g`` split into one share per item of ``xs`` (the gradient of a join of a list variable).

    An array ``xs`` is a sequence of its rows: its gradient is an array of their shares.
    """
    shares = [join_part(g, xs, how, axis, i) for i in range(len(xs))]
    return np.reshape(np.array(shares), np.shape(xs)) if isinstance(xs, np.ndarray) else shares


def join_merge(gs, xs, how, axis):
    """The adjoint of ``join_split``: the shares joined back into one array."""
    shapes, axis = _join_layout(xs, how, axis)
    return np.concatenate([np.reshape(gi, s) for gi, s in zip(gs, shapes)], axis=axis)


def unstack(g, axis=0):
    """``g`` cut along ``axis`` into a list (the gradient of ``np.stack`` of a list variable)."""
    return list(np.moveaxis(g, axis, 0))


def untile(g, x, reps):
    """The gradient of ``np.tile(x, reps)``: the tiles of ``g`` summed."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    shape = np.shape(x)
    n = max(len(shape), len(reps))
    full = (1,) * (n - len(shape)) + shape
    reps = (1,) * (n - len(reps)) + reps
    g = np.reshape(g, [d for pair in zip(reps, full) for d in pair])
    return np.reshape(np.sum(g, axis=tuple(range(0, 2 * n, 2))), shape)


def unrepeat(g, x, repeats, axis=None):
    """The gradient of ``np.repeat(x, repeats, axis)`` for an integer ``repeats``: the copies summed."""
    shape = np.shape(x)
    if axis is None:
        return np.reshape(np.sum(np.reshape(g, (-1, repeats)), axis=1), shape)
    axis = axis % len(shape)
    g = np.reshape(g, shape[:axis] + (shape[axis], repeats) + shape[axis + 1 :])
    return np.sum(g, axis=axis + 1)


def unpad(g, pad_width):
    """The gradient of ``np.pad(x, pad_width)``: the padding cut off again."""
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (np.ndim(g), 2))
    return g[tuple(slice(int(b), n - int(a)) for n, (b, a) in zip(np.shape(g), widths))]


def untake(g, x, indices, axis=None, mode="raise"):
    """The gradient of ``np.take(x, indices, axis, mode=mode)``: ``g`` added back at ``indices`` (repeats summed).

    ``mode="wrap"`` and ``"clip"`` first map the indices to the positions ``np.take`` reads."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    if mode != "raise":
        n = out.size if axis is None else out.shape[axis]
        indices = np.mod(indices, n) if mode == "wrap" else np.clip(indices, 0, n - 1)
    if axis is None:
        np.add.at(out.reshape(-1), np.ravel(indices), np.ravel(g))
        return out
    axis, k = axis % out.ndim, np.ndim(indices)
    np.add.at(np.moveaxis(out, axis, 0), indices, np.moveaxis(g, tuple(range(axis, axis + k)), tuple(range(k))))
    return out


_CONVOLVE_MODES = {0: "valid", 1: "same", 2: "full"}


def _convolve_window(a, v, mode) -> tuple:
    """``(start, size)`` of ``np.convolve(a, v, mode)`` in the full convolution."""
    n, m = np.size(a), np.size(v)
    mode = _CONVOLVE_MODES.get(mode, mode) if isinstance(mode, int) else mode
    size = {"full": n + m - 1, "same": max(n, m), "valid": max(n, m) - min(n, m) + 1}[mode]
    return (n + m - 1 - size) // 2, size


def convolve_full(g, a, v, mode="full"):
    """``g``, the adjoint of ``np.convolve(a, v, mode)``, placed in the full convolution (zeros elsewhere)."""
    start, size = _convolve_window(a, v, mode)
    out = np.zeros(np.size(a) + np.size(v) - 1, dtype=np.result_type(g, 0.0))
    out[start : start + size] = g
    return out


def convolve_part(G, a, v, mode="full"):
    """The part of the full convolution ``G`` that ``np.convolve(a, v, mode)`` returns (convolve_full's adjoint)."""
    start, size = _convolve_window(a, v, mode)
    return G[start : start + size]


HELPERS.update({"convolve_full": convolve_full, "convolve_part": convolve_part})


def interp_index(x, xp):
    """The segment ``i`` of ``np.interp(x, xp, fp)`` that holds each ``x``: ``xp[i] <= x < xp[i + 1]``, clipped
    to the first and last segments outside ``[xp[0], xp[-1]]``."""
    return np.clip(np.searchsorted(xp, x, side="right") - 1, 0, np.size(xp) - 2)


def _interp_segment(x, xp):
    """``(i, u, inside, h)``: x's segment, its place ``u`` in it, whether ``0 < u < 1``, the segment's width."""
    i = interp_index(x, xp)
    xp = np.asarray(xp)
    lo, h = xp[i], xp[i + 1] - xp[i]
    flat = h == 0  # repeated points, met only past either end: np.interp gives the last (first) value there
    h = np.where(flat, 1.0, h)
    u = np.where(flat, np.where(x >= lo, 1.0, 0.0), (x - lo) / h)
    return i, u, (u > 0.0) & (u < 1.0), h


def interp_slope(x, xp, fp):
    """``d np.interp(x, xp, fp) / dx``: the slope of x's segment, 0 outside ``[xp[0], xp[-1]]``."""
    i, _, inside, h = _interp_segment(x, xp)
    fp = np.asarray(fp)
    return np.where(inside, (fp[i + 1] - fp[i]) / h, 0.0)


def _scatter_pair(shape, i, below, above):
    out = np.zeros(shape, dtype=np.result_type(below, above, 0.0))
    np.add.at(out, np.ravel(i), np.ravel(below))
    np.add.at(out, np.ravel(i + 1), np.ravel(above))
    return out


def interp_grad_fp(g, x, xp, fp):
    """The adjoint of ``np.interp(x, xp, fp)`` in ``fp``: each ``g`` split between its segment's ends."""
    i, u, _, _ = _interp_segment(x, xp)
    t = np.clip(u, 0.0, 1.0)
    g = np.broadcast_to(g, np.shape(u))
    return _scatter_pair(np.shape(fp), i, g * (1.0 - t), g * t)


def interp_slope_grad_fp(G, x, xp, fp):
    """The adjoint of ``interp_slope(x, xp, fp)`` in ``fp``."""
    i, _, inside, h = _interp_segment(x, xp)
    w = np.where(inside, np.broadcast_to(G, np.shape(h)) / h, 0.0)
    return _scatter_pair(np.shape(fp), i, -w, w)


def interp_grad_xp(g, x, xp, fp):
    """The adjoint of ``np.interp(x, xp, fp)`` in ``xp``: the ends of x's segment move it."""
    i, u, _, h = _interp_segment(x, xp)
    s = interp_slope(x, xp, fp) * np.broadcast_to(g, np.shape(u))
    return _scatter_pair(np.shape(xp), i, s * (u - 1.0), -s * u)


def interp_tangent_xp(t, x, xp, fp):
    """The tangent of ``np.interp(x, xp, fp)`` along ``t`` in ``xp``."""
    i, u, _, _ = _interp_segment(x, xp)
    t = np.asarray(t)
    return interp_slope(x, xp, fp) * ((u - 1.0) * t[i] - u * t[i + 1])


HELPERS.update(
    {
        f.__name__: f
        for f in (interp_index, interp_slope, interp_grad_fp, interp_slope_grad_fp, interp_grad_xp, interp_tangent_xp)
    }
)


def untake_along(g, x, indices, axis):
    """The gradient of ``np.take_along_axis(x, indices, axis)`` (repeats summed)."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    if axis is None:
        np.add.at(out.reshape(-1), indices, g)
        return out
    axis = axis % out.ndim
    index = [np.reshape(np.arange(n), [-1 if d == i else 1 for d in range(out.ndim)]) for i, n in enumerate(g.shape)]
    index[axis] = indices
    np.add.at(out, tuple(index), g)
    return out


def undiagonal(g, x, offset=0, axis1=0, axis2=1):
    """The gradient of ``np.diagonal(x, offset, axis1, axis2)``: ``g`` written on that diagonal of zeros."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    i = np.arange(np.shape(g)[-1])
    view[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return out


def untrace(g, x, offset=0, axis1=0, axis2=1):
    """The gradient of ``np.trace(x, offset, axis1, axis2)``: ``g`` spread along the diagonal."""
    shape = np.shape(np.diagonal(x, offset, axis1, axis2))
    return undiagonal(np.broadcast_to(np.expand_dims(g, -1), shape), x, offset, axis1, axis2)


def diag_grad(g, x, k=0):
    """The gradient of ``np.diag(x, k)``: the diagonal of ``g`` for a vector ``x``, else ``g`` on it."""
    if np.ndim(x) == 1:
        return np.diag(g, k)
    return undiagonal(g, x, k, 0, 1)


def like_items(g, x):
    """``g`` cut into the nested list/tuple structure of ``x`` (the gradient of ``np.array(x)``)."""
    if isinstance(x, list | tuple):
        return [like_items(g[i], xi) for i, xi in enumerate(x)]
    if isinstance(x, float | int):
        return float(g)
    return g


def _kron_layout(g, a, b):
    n = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (n - np.ndim(a)) + np.shape(a)
    sb = (1,) * (n - np.ndim(b)) + np.shape(b)
    return n, sa, sb, np.reshape(g, [d for pair in zip(sa, sb) for d in pair])


def kron_grad_left(g, a, b):
    """d np.kron(a, b) / da applied to ``g``."""
    n, sa, sb, g = _kron_layout(g, a, b)
    return np.reshape(np.tensordot(g, np.reshape(b, sb), axes=(list(range(1, 2 * n, 2)), list(range(n)))), np.shape(a))


def kron_grad_right(g, a, b):
    """d np.kron(a, b) / db applied to ``g``."""
    n, sa, sb, g = _kron_layout(g, a, b)
    return np.reshape(np.tensordot(g, np.reshape(a, sa), axes=(list(range(0, 2 * n, 2)), list(range(n)))), np.shape(b))


def size_or_one(x):
    """``np.size(x)``, or 1 for an empty ``x``: the mean's adjoint ``g / size_or_one(x)`` is then a number
    (an empty ``x`` shares ``g`` among no elements, and NumPy's mean of it already warned)."""
    return np.size(x) or 1


def nonzero_or_one(x):
    """``x`` with its zeros replaced by ones: a safe divisor (norms' subgradient is 0 at 0)."""
    return np.where(x == 0, 1.0, x)


HELPERS.update(
    {
        f.__name__: f
        for f in (
            join_part,
            join_into,
            join_split,
            join_merge,
            unstack,
            untile,
            unrepeat,
            unpad,
            untake,
            untake_along,
            undiagonal,
            untrace,
            diag_grad,
            like_items,
            kron_grad_left,
            kron_grad_right,
            nonzero_or_one,
            size_or_one,
        )
    }
)


def average_weights(w, x, axis=None):
    """The weights of ``np.average(x, axis, weights=w)`` broadcast to the shape of ``x``."""
    w = np.asarray(w)
    if w.ndim == 1 and np.ndim(x) > 1 and axis is not None:  # 1-D weights along ``axis``
        w = np.reshape(w, [-1 if i == axis % np.ndim(x) else 1 for i in range(np.ndim(x))])
    return np.broadcast_to(w, np.shape(x))


HELPERS["average_weights"] = average_weights


def _ndim(x):
    """The rank of ``x``; also a rule's static rank when the product helpers below run on symbols."""
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def _tensordot_layout(a, b, axes):
    ra, rb = _ndim(a), _ndim(b)
    if axes == "inner":  # np.inner: the last axes of both
        axes = ([ra - 1], [rb - 1])
    if isinstance(axes, int):
        xa, xb = list(range(ra - axes, ra)), list(range(axes))
    else:
        xa, xb = ([x] if isinstance(x, int) else list(x) for x in axes)
    xa, xb = [i % ra for i in xa], [i % rb for i in xb]
    return xa, xb, [i for i in range(ra) if i not in xa], [i for i in range(rb) if i not in xb]


def _in_order(value, order):
    perm = tuple(int(i) for i in np.argsort(order))
    return value if perm == tuple(range(len(perm))) else np.transpose(value, perm)


def tensordot_grad_left(g, a, b, axes=2):
    """d np.tensordot(a, b, axes) / da applied to ``g`` (``axes="inner"``: np.inner)."""
    if axes == "inner" and 0 in (_ndim(a), _ndim(b)):
        return np.sum(g * b) if _ndim(a) == 0 else g * b
    xa, xb, free_a, free_b = _tensordot_layout(a, b, axes)
    n = len(free_a)
    value = np.tensordot(g, b, axes=(list(range(n, n + len(free_b))), free_b))
    return _in_order(value, free_a + [xa[xb.index(j)] for j in sorted(xb)])


def tensordot_grad_right(g, a, b, axes=2):
    """d np.tensordot(a, b, axes) / db applied to ``g`` (``axes="inner"``: np.inner)."""
    if axes == "inner" and 0 in (_ndim(a), _ndim(b)):
        return np.sum(g * a) if _ndim(b) == 0 else g * a
    xa, xb, free_a, free_b = _tensordot_layout(a, b, axes)
    value = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    return _in_order(value, [xb[xa.index(i)] for i in sorted(xa)] + free_b)


def solve_grad(gb, x, b):
    """d np.linalg.solve(a, b) / da applied to ``g``, given ``gb = solve(a.T, g)`` and the solution ``x``."""
    if _ndim(b) == 1:
        return -np.outer(gb, x)
    return -gb @ np.swapaxes(x, -1, -2)


HELPERS.update({f.__name__: f for f in (tensordot_grad_left, tensordot_grad_right, solve_grad)})


def dropped_last(items):
    """``items[:-1]``: a list shrunk without changing the one it came from (``ys.pop()``)."""
    return items[:-1]


HELPERS["dropped_last"] = dropped_last


class Pullback:
    """The reverse sweep of one recursive call; runs once however many operands ask for theirs."""

    def __init__(self, backward):
        self.backward, self.seen, self.grads = backward, None, None

    def __call__(self, cotangent, i):
        if self.grads is None or cotangent is not self.seen:
            with deep_recursion():
                self.seen, self.grads = cotangent, self.backward(cotangent)
        return self.grads[i]


_RECURSION = {"depth": 0, "limit": None}


@contextlib.contextmanager
def deep_recursion():
    """Room for a recursive function as deep as Python allows it.

    Each level of a differentiated recursion runs a few frames (the generated code and
    the call of the next level's) where Python runs one, so while one runs the
    interpreter's limit is raised eightfold, and restored when the outermost returns.
    """
    if _RECURSION["depth"] == 0:
        _RECURSION["limit"] = sys.getrecursionlimit()
        sys.setrecursionlimit(8 * _RECURSION["limit"])
    _RECURSION["depth"] += 1
    try:
        yield
    finally:
        _RECURSION["depth"] -= 1
        if _RECURSION["depth"] == 0:
            sys.setrecursionlimit(_RECURSION["limit"])


def pullback(record, cotangent, i):
    """Operand ``i``'s share of the adjoint of a recursive call's result (``record`` = (value, Pullback))."""
    return record[1](cotangent[0], i)


HELPERS["pullback"] = pullback


def copied(x):
    """A copy of an array or list about to be written into; anything else as it is.

    Copy on write: the caller's argument (or an array it can see) never changes.
    """
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, list | dict):
        return type(x)(x)
    return x


HELPERS["copied"] = copied


def _dot_axes(a, b):
    return ([np.ndim(a) - 1], [max(np.ndim(b) - 2, 0)])


def dot_grad_left(g, a, b):
    """d np.dot(a, b) / da applied to ``g``, for any ranks (a scalar operand included)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.sum(g * b) if np.ndim(a) == 0 else g * b
    return tensordot_grad_left(g, a, b, _dot_axes(a, b))


def dot_grad_right(g, a, b):
    """d np.dot(a, b) / db applied to ``g``, for any ranks (a scalar operand included)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.sum(g * a) if np.ndim(b) == 0 else g * a
    return tensordot_grad_right(g, a, b, _dot_axes(a, b))


HELPERS.update({"dot_grad_left": dot_grad_left, "dot_grad_right": dot_grad_right})


def sinc_derivative(x, n=1):
    """The ``n``-th derivative of ``np.sinc`` at ``x``, exact at 0 too (where the quotient is 0 / 0).

    Near 0 it sums the Taylor series of sinc(x) = sum_k (-1)^k (pi x)^(2k) / (2k+1)!;
    elsewhere Leibniz's rule on sin(pi x) * (pi x)^-1.
    """
    x = np.asarray(x, dtype=float)
    near = np.abs(x) < 0.5
    t = np.where(near, x, 0.0)
    series = np.zeros_like(t)
    for k in range((n + 1) // 2, (n + 1) // 2 + 25):
        series = series + (-1) ** k * np.pi ** (2 * k) / ((2 * k + 1) * math.factorial(2 * k - n)) * t ** (2 * k - n)
    s = np.where(near, 1.0, x)
    far = np.zeros_like(s)
    for j in range(n + 1):
        inverse = (-1) ** (n - j) * math.factorial(n - j) / (np.pi * s ** (n - j + 1))  # d^(n-j) (pi x)^-1
        far = far + math.comb(n, j) * np.pi**j * np.sin(np.pi * s + j * np.pi / 2) * inverse
    return np.where(near, series, far)[()]


HELPERS["sinc_derivative"] = sinc_derivative


def fit_to(g, x):
    """``g`` made the shape of ``x`` (same rank), axis by axis: summed where ``x`` has length 1 and
    ``g`` not, broadcast where ``g`` has length 1 and ``x`` not (einsum broadcasts length-1 axes)."""
    shape = np.shape(x)
    g = np.asarray(g)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g if g.shape == shape else np.broadcast_to(g, shape)


HELPERS["fit_to"] = fit_to


def _concat_widths(items, kind):
    """How much of the joined axis each item of ``np.r_[items]`` (kind "r") or ``np.c_[items]`` ("c") fills."""
    if kind == "r":  # items made at least 1-d, joined on axis 0
        return [np.shape(x)[0] if np.ndim(x) >= 1 else 1 for x in items]
    return [np.shape(x)[-1] if np.ndim(x) >= 2 else 1 for x in items]  # at least 2-d (vectors as columns), axis -1


def _concat_index(items, kind, i, ndim):
    widths = _concat_widths(items, kind)
    start = sum(widths[:i])
    index = [slice(None)] * ndim
    index[0 if kind == "r" else -1] = slice(start, start + widths[i])
    return tuple(index)


def concat_part(g, items, kind, i):
    """Item ``i``'s share of ``g``, the gradient of ``np.r_[items]`` or ``np.c_[items]``, in its shape."""
    return np.reshape(g[_concat_index(items, kind, i, np.ndim(g))], np.shape(items[i]))


def concat_into(gi, items, kind, i):
    """The adjoint of ``concat_part``: ``gi`` put at item ``i``'s place in the joined array, zeros elsewhere."""
    whole = (np.r_ if kind == "r" else np.c_)[tuple(items)]
    out = np.zeros(np.shape(whole), dtype=np.result_type(gi, 0.0))
    index = _concat_index(items, kind, i, out.ndim)
    out[index] = np.reshape(gi, np.shape(out[index]))
    return out


HELPERS.update({"concat_part": concat_part, "concat_into": concat_into})


def cofactor(a):
    """The cofactor matrix of (each matrix of) ``a``, the gradient of its determinant, singular or not.

    With ``a = u diag(s) vh``: det(u) det(vh) u diag(prod of the other s) vh, which is
    det(a) inv(a).T wherever ``a`` is invertible.
    """
    u, s, vh = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return np.expand_dims(sign, (-2, -1)) * (u * np.expand_dims(prod_others(s, -1), -2)) @ vh


HELPERS["cofactor"] = cofactor


def _along_first(x, axis):
    """``x`` as a float array with ``axis`` first (flattened for ``axis=None``), and the axis used."""
    x = np.asarray(x, dtype=np.result_type(x, 0.0))
    return (np.ravel(x), 0) if axis is None else (np.moveaxis(x, axis, 0), axis)


def _prefix_products(x):
    """x_0 ... x_(i-1) along the first axis (1 for i = 0)."""
    return np.cumprod(np.concatenate([np.ones_like(x[:1]), x[:-1]]), axis=0)


def cumprod_grad(g, x, axis=None):
    """The adjoint of ``np.cumprod(x, axis)`` applied to ``g``, exact where ``x`` has zeros.

    Item j gets (x_0 ... x_(j-1)) r_j with r_j = g_j + x_(j+1) r_(j+1), a scan from the end.
    """
    shape = np.shape(x)
    xs, axis = _along_first(x, axis)
    gs = np.moveaxis(np.asarray(g), axis, 0) if np.ndim(g) == np.ndim(xs) else np.ravel(g)
    if np.all(xs != 0):  # the usual case: sum_(i >= j) g_i ans_i / x_j, without a Python loop
        ans = np.cumprod(xs, axis=0)
        out = (np.sum(gs * ans, axis=0, keepdims=True) - np.cumsum(gs * ans, axis=0) + gs * ans) / xs
    else:
        r = np.empty(np.broadcast_shapes(np.shape(gs), xs.shape), dtype=np.result_type(gs, xs))
        for j in range(len(xs) - 1, -1, -1):
            r[j] = gs[j] if j == len(xs) - 1 else gs[j] + xs[j + 1] * r[j + 1]
        out = _prefix_products(xs) * r
    return np.reshape(np.moveaxis(out, 0, axis), shape)


def cumprod_tangent(t, x, axis=None):
    """The tangent of ``np.cumprod(x, axis)`` along ``t``, exact where ``x`` has zeros.

    T_i = T_(i-1) x_i + t_i (x_0 ... x_(i-1)), a scan from the start.
    """
    xs, first = _along_first(x, axis)
    ts, _ = _along_first(t, axis)
    out = np.empty(np.broadcast_shapes(ts.shape, xs.shape), dtype=np.result_type(ts, xs))
    before = _prefix_products(xs)
    for i in range(len(xs)):
        out[i] = ts[i] if i == 0 else out[i - 1] * xs[i] + ts[i] * before[i]
    return out if axis is None else np.moveaxis(out, 0, first)


def nonzero_divisor(x, fn="np.prod or np.cumprod"):
    """``x``, checked to have no zeros: the second derivatives of ``fn`` (``np.prod``, ``np.cumprod``) divide by it.

    (The first derivatives, :func:`prod_others`, :func:`cumprod_grad` and :func:`cumprod_tangent`, are
    exact at zeros; theirs would be NaN there, so a zero stops with a typed error instead.)
    """
    if np.any(np.asarray(x) == 0):
        raise ZeroInputError(
            f"a second derivative of {fn} at an input with a zero entry: sct writes it as a quotient by the input, "
            "which is not defined there (the first derivative is exact at zeros). Take the Hessian where no entry "
            "is zero, or write the product out as multiplications (`p = p * v` in a loop), which sct "
            "differentiates exactly to any order"
        )
    return x


HELPERS.update({"cumprod_grad": cumprod_grad, "cumprod_tangent": cumprod_tangent, "nonzero_divisor": nonzero_divisor})


# ---- writes through an index that may repeat (``y[[0, 0]] = v``) ------------------------------
def _kept(shape, index, block_shape):
    """Which items of a ``block_shape`` block written by ``y[index] = ...`` into ``shape`` NumPy keeps.

    NumPy keeps one write per position (it is not ``np.add.at``); rather than
    assume which, ask it: write numbered items through the index and read back.
    """
    order = np.arange(int(np.prod(block_shape))).reshape(block_shape)
    probe = np.zeros(shape, dtype=np.intp)
    probe[index] = order
    return probe[index] == order


def kept_writes(g, index):
    """``g[index]``, zero where ``y[index] = v`` lost the write to a later one at the same position."""
    block = g[index]
    if isinstance(g, list | tuple | dict):  # a list takes no index arrays, a dict keys: no position is written twice
        return block
    return np.where(_kept(np.shape(g), index, np.shape(block)), block, 0.0)


def put_kept(g, x, index):
    """Zeros of ``x``'s shape with ``g`` written at ``index`` (the adjoint of ``kept_writes``)."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    out[index] = g
    return out


HELPERS.update({f.__name__: f for f in (kept_writes, put_kept)})
