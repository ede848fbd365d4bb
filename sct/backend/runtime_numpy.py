"""Runtime helpers for the adjoints of more NumPy functions (diff, gradient, partition, select, rollaxis...).

Plain NumPy functions, like those in :mod:`sct.backend.runtime`; they add themselves to
its ``HELPERS``. Each is linear in its first operand, and the rules in
:mod:`sct.rules` pair each with its transpose so generated code differentiates again.
"""

import numpy as np

from ..errors import SctError
from .runtime import HELPERS, fit_to, unbroadcast


# ---- np.diff(x, n, axis, prepend, append) ------------------------------------------------------
def _diff_pieces(x, axis, prepend, append):
    """The shapes of [prepend, x, append] as np.diff joins them along ``axis`` (None: absent)."""
    shape = np.shape(x)
    axis = axis % len(shape)
    pieces = []
    for piece in (prepend, x, append):
        if piece is None:
            pieces.append(None)
        elif np.ndim(piece) == 0:  # a scalar: one slice along ``axis``
            pieces.append(shape[:axis] + (1,) + shape[axis + 1 :])
        else:
            pieces.append(np.shape(piece))
    return pieces, axis


def diff_grad(g, x, n=1, axis=-1, prepend=None, append=None, part=1):
    """The adjoint of ``np.diff(x, n, axis, prepend, append)`` applied to ``g``, for ``[prepend, x, append][part]``."""
    pieces, axis = _diff_pieces(x, axis, prepend, append)
    g = np.asarray(g)
    for _ in range(n):  # the transpose of one first difference: r[i] = g[i - 1] - g[i]
        width = [(0, 0)] * g.ndim
        width[axis] = (1, 0)
        before = np.pad(g, width)
        width[axis] = (0, 1)
        g = before - np.pad(g, width)
    start = sum(p[axis] for p in pieces[:part] if p is not None)
    index = [slice(None)] * g.ndim
    index[axis] = slice(start, start + pieces[part][axis])
    share = g[tuple(index)]
    owner = (prepend, x, append)[part]
    return np.sum(share) if np.ndim(owner) == 0 else share


def diff_tangent(t, x, n=1, axis=-1, prepend=None, append=None, part=1):
    """``np.diff`` of [prepend, x, append] with ``t`` in place of part ``part`` and zeros elsewhere."""
    pieces, axis = _diff_pieces(x, axis, prepend, append)
    dtype = np.result_type(t, 0.0)
    joined = [
        np.broadcast_to(t, shape) if k == part else np.zeros(shape, dtype)
        for k, shape in enumerate(pieces)
        if shape is not None
    ]
    return np.diff(np.concatenate(joined, axis=axis), n, axis=axis)


# ---- np.gradient(f, *varargs, axis, edge_order) ---------------------------------------------------
def _gradient_axes(f, varargs, axis):
    """``(axis, spacing)`` for each axis np.gradient differentiates along."""
    ndim = np.ndim(f)
    axes = tuple(range(ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(a % ndim for a in axes)
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1:
        spacing = [varargs[0]] * len(axes)
    else:
        spacing = list(varargs)
    return list(zip(axes, spacing))


def _band(n, h, edge_order):
    """``w[d][j]``: the weight of f[j - d] in the gradient at j, for d in -2..2 (the stencil is that narrow)."""
    combs = [np.gradient((np.arange(n) % 5 == r).astype(float), h, edge_order=edge_order) for r in range(5)]
    j = np.arange(n)
    return {d: np.choose((j - d) % 5, combs) * ((j - d >= 0) & (j - d < n)) for d in range(-2, 3)}


def ungradient(g, f, varargs=(), axis=None, edge_order=1):
    """The adjoint of ``np.gradient(f, *varargs, axis=axis, edge_order=edge_order)`` applied to ``g``."""
    axes = _gradient_axes(f, varargs, axis)
    parts = g if len(axes) > 1 else [g]
    out = np.zeros(np.shape(f), dtype=np.result_type(*parts, 0.0))
    for gi, (a, h) in zip(parts, axes):
        gi = np.moveaxis(np.broadcast_to(gi, np.shape(f)), a, -1)
        n = gi.shape[-1]
        acc = np.zeros(gi.shape, dtype=out.dtype)
        for d, w in _band(n, h, edge_order).items():  # out[k] += g[k + d] * w_d[k + d]
            lo, hi = max(0, -d), min(n, n - d)
            if lo < hi:
                acc[..., lo:hi] += (gi * w)[..., lo + d : hi + d]
        out += np.moveaxis(acc, -1, a)
    return out


# ---- permutations: np.partition --------------------------------------------------------------------
def permutation_of(x, ans, axis=-1):
    """Indices ``p`` with ``np.take_along_axis(x, p, axis) == ans``, for ``ans`` a permutation of ``x`` along ``axis``.

    Stable sorts of both put equal values in the same order, so the k-th smallest
    of ``ans`` is matched with the k-th smallest of ``x`` (ties to distinct positions).
    """
    if axis is None:
        x, ans, axis = np.ravel(x), np.ravel(ans), 0
    order_x = np.argsort(x, axis=axis, kind="stable")
    order_ans = np.argsort(ans, axis=axis, kind="stable")
    p = np.empty_like(order_x)
    np.put_along_axis(p, order_ans, order_x, axis)
    return p


def permuted_like(v, x, ans, axis=-1):
    """``v`` rearranged as ``x`` was into ``ans`` (the tangent of a permutation of ``x``)."""
    if axis is None:
        v = np.ravel(v)
    return np.take_along_axis(v, permutation_of(x, ans, axis), -1 if axis is None else axis)


def unpermuted_like(v, x, ans, axis=-1):
    """``v`` (shaped like ``ans``) put back where each item of ``ans`` came from in ``x``."""
    p = permutation_of(x, ans, axis)
    out = np.zeros(np.shape(p), dtype=np.result_type(v, 0.0))
    np.put_along_axis(out, p, v, -1 if axis is None else axis)
    return np.reshape(out, np.shape(x))


# ---- np.select(condlist, choicelist, default) ---------------------------------------------------
def _chosen(g, condlist, n, k):
    """``g`` where choice ``k`` (or the default, ``k == n``) was taken, 0 elsewhere."""
    choices = [g if j == k else 0.0 for j in range(n)]
    return np.select(condlist, choices, default=g if k == n else 0.0)


def _owner(choicelist, default, k):
    return choicelist[k] if k < len(choicelist) else default


def select_share(g, condlist, choicelist, default, k):
    """Choice ``k``'s share of ``g`` (the gradient of ``np.select``) in its shape (``k == len``: the default's)."""
    return unbroadcast(_chosen(g, condlist, len(choicelist), k), _owner(choicelist, default, k))


def select_into(gk, condlist, choicelist, default, k):
    """The adjoint of ``select_share``: ``gk`` where choice ``k`` was taken, 0 elsewhere, in the result's shape."""
    shape = np.broadcast_shapes(*(np.shape(c) for c in [*condlist, *choicelist, default]))
    return np.broadcast_to(_chosen(gk, condlist, len(choicelist), k), shape)


def select_split(g, condlist, choicelist, default):
    """Every choice's share of ``g``, a list (the gradient by a list variable of choices)."""
    return [select_share(g, condlist, choicelist, default, k) for k in range(len(choicelist))]


def select_merge(gs, condlist, choicelist, default):
    """The adjoint of ``select_split``: the shares put back where their choices were taken."""
    return sum(select_into(gk, condlist, choicelist, default, k) for k, gk in enumerate(gs))


# ---- np.rollaxis ---------------------------------------------------------------------------------
def _rollaxis_order(ndim, axis, start):
    axis, start = axis % ndim, start + ndim if start < 0 else start
    order = list(range(ndim))
    if axis < start:
        start -= 1
    order.remove(axis)
    order.insert(start, axis)
    return order


def unrollaxis(g, x, axis, start=0):
    """The adjoint of ``np.rollaxis(x, axis, start)``: the axes of ``g`` put back."""
    return np.transpose(g, np.argsort(_rollaxis_order(np.ndim(x), axis, start)))


# ---- complex values -----------------------------------------------------------------------------
def real_if_real(g, x):
    """``g``, its real part where ``x`` is real (the adjoint or tangent of a real value is real)."""
    return g if np.iscomplexobj(x) else np.real(g)


def cast_like(g, x, dtype):
    """The adjoint (or tangent) of ``np.astype(x, dtype)``: ``g``, none to an integer or bool dtype,
    the real part where the result or ``x`` is real."""
    kind = np.dtype(dtype).kind
    if kind not in "fc":
        return np.zeros(np.shape(g), dtype=np.result_type(g, 0.0))
    return g if kind == "c" and np.iscomplexobj(x) else np.real(g)


HELPERS.update(
    {
        f.__name__: f
        for f in (
            cast_like,
            diff_grad,
            diff_tangent,
            ungradient,
            permutation_of,
            permuted_like,
            unpermuted_like,
            select_share,
            select_into,
            select_split,
            select_merge,
            unrollaxis,
            real_if_real,
        )
    }
)


# ---- np.repeat with a count computed at run time (an int, or one count per item) --------------------
def unrepeat_any(g, x, repeats, axis=None):
    """The gradient of ``np.repeat(x, repeats, axis)``: each item's copies summed."""
    shape = np.shape(x)
    if axis is None:
        x, axis = np.ravel(x), 0
    axis = axis % np.ndim(x)
    n = np.shape(x)[axis]
    owner = np.repeat(np.arange(n), np.broadcast_to(repeats, (n,)) if np.ndim(repeats) else repeats)
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    np.add.at(np.moveaxis(out, axis, 0), owner, np.moveaxis(np.asarray(g), axis, 0))
    return np.reshape(out, shape)


HELPERS["unrepeat_any"] = unrepeat_any


# ---- np.einsum in every form: an ellipsis, repeated indices, sublists, subscripts in a variable -----
_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # NumPy's order of sublist integers


def _letters(sublist) -> str:
    return "".join("..." if item is Ellipsis else _LABELS[int(item)] for item in sublist)


def einsum_form(args, ndims):
    """``(subscripts of each operand, output subscripts, operand positions)``, letters only: every
    ellipsis spelled out, an implicit output made explicit. None where that needs what is not known
    (a subscript string or sublist held in a variable, an ellipsis over operands of unknown rank)."""

    if isinstance(args[0], str):
        inputs, arrow, out = args[0].replace(" ", "").partition("->")
        subs, positions = inputs.split(","), list(range(1, len(args)))
    elif len(args) > 1 and all(isinstance(args[p], list | tuple) for p in range(1, len(args), 2)):
        positions = list(range(0, len(args) - 1, 2)) if len(args) % 2 else list(range(0, len(args), 2))
        subs = [_letters(args[p + 1]) for p in positions]
        arrow, out = (True, _letters(args[-1])) if len(args) % 2 else ("", "")
    else:
        return None
    if len(subs) != len(positions):
        raise SctError(f"np.einsum names {len(subs)} operands but gets {len(positions)}")
    ell = ""
    if any("..." in s for s in subs):
        widths = [None if ndims[p] is None else ndims[p] - len(s) + 3 for s, p in zip(subs, positions) if "..." in s]
        if None in widths:
            return None
        used = set("".join(subs) + out)
        ell = "".join(c for c in _LABELS if c not in used)[: max(widths)]
        subs = [
            s.replace("...", ell[len(ell) - (ndims[p] - len(s) + 3) :]) if "..." in s else s
            for s, p in zip(subs, positions)
        ]
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(s for s in subs)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return subs, out, positions


def _direct(fn, *args, **kwargs):
    return fn(*args, **kwargs)


def einsum_adjoint(g, subs, out, operands, k, call=_direct):
    """The adjoint of ``np.einsum`` in operand ``k`` applied to ``g``, as one einsum (so it differentiates again).

    A repeated index of operand k (its diagonal) gets a fresh letter and an identity matrix ties the two;
    an index only operand k has (summed away) comes from a vector of ones; an index shared with another
    operand may have length 1 here and more there (einsum broadcasts it): ``fit_to`` sums it back.
    """
    x = operands[k]
    others = [(s, y) for j, (s, y) in enumerate(zip(subs, operands)) if j != k]
    free = iter(c for c in _LABELS[26:] + _LABELS[:26] if c not in "".join(subs) + out)  # lower case first
    mine, extra = "", []
    for p, c in enumerate(subs[k]):
        if c in mine:  # the diagonal: a fresh letter, tied to c by an identity matrix
            fresh = next(free)
            extra.append((c + fresh, call(np.eye, call(np.shape, x)[p])))
            c = fresh
        mine += c
    seen = set(out).union(*(set(s) for s, _ in others + extra))
    for p, c in enumerate(mine):
        if c not in seen:  # summed away: the adjoint is constant along it
            extra.append((c, call(np.ones, call(np.shape, x)[p])))
    terms = [(out, g)] + others + extra
    value = call(np.einsum, ",".join(s for s, _ in terms) + "->" + mine, *[y for _, y in terms])
    if set(subs[k]) & set().union(*(set(s) for s, _ in others)):
        return call(fit_to, value, x)
    return value


def einsum_grad(g, args, i):
    """The adjoint of ``np.einsum(*args)`` in the argument at position ``i``, worked out when called."""
    subs, out, positions = einsum_form(args, [np.ndim(a) for a in args])
    return einsum_adjoint(g, subs, out, [args[p] for p in positions], positions.index(i))


HELPERS.update({f.__name__: f for f in (einsum_form, einsum_adjoint, einsum_grad)})
