"""Rules for NumPy's products: inner, outer, vdot, tensordot, einsum, kron, cross, multi_dot.

Each product is linear in every operand, so operand ``i``'s forward rule is the
product with the tangent in place of that operand, and its reverse rule
contracts the adjoint with the other operands (``np.dot`` and ``np.matmul``
live in :mod:`sct.rules.np_core`). Ranks decide which axes a reverse rule
contracts; they are known whenever the call was specialised.
"""

import numbers

import numpy as np

from ..analysis import complex_values
from ..backend import runtime, runtime_numpy
from ..backend.runtime_numpy import einsum_adjoint, einsum_form
from ..errors import SctError
from ..symbolic import Sym, call
from .np_core import _dot_left, _dot_right
from .table import broadcast, defjvp, defvjp, linear


def _bilinear_jvp(fn, **fixed):
    """Forward rules of a product linear in each of two operands: the tangent in that operand's place."""
    return (
        lambda t, ans, a, b, *args, **kwargs: call(fn, t, b, *args, **kwargs),
        lambda t, ans, a, b, *args, **kwargs: call(fn, a, t, *args, **kwargs),
    )


# ---- tensordot and inner -----------------------------------------------------------------------
def _known(*xs):
    return all(not isinstance(x, Sym) or x.ndim is not None for x in xs)


def _product_rule(helper, axes_of):
    """Inline NumPy code (the helper run on symbols) where ranks are known, else a call of the helper."""

    def rule(g, ans, a, b, *args, **kwargs):
        axes = axes_of(*args, **kwargs)
        if _known(a, b):
            return helper(g, a, b, axes)
        return call(helper, g, a, b, axes)

    return rule


def _td_axes(axes=2):
    return axes


def _tensordot_rank(ranks, args, kwargs):
    ra, rb = ranks[:2]
    axes = args[2] if len(args) > 2 else kwargs.get("axes", 2)
    if ra is None or rb is None or not isinstance(axes, int | tuple | list):
        return None
    return ra + rb - 2 * (axes if isinstance(axes, int) else len(axes[0]) if isinstance(axes[0], list | tuple) else 1)


defvjp(
    np.tensordot,
    _product_rule(runtime.tensordot_grad_left, _td_axes),
    _product_rule(runtime.tensordot_grad_right, _td_axes),
    None,
    ndim=_tensordot_rank,
)
defjvp(np.tensordot, *_bilinear_jvp(np.tensordot), None)


def _inner_rank(ranks, args, kwargs):
    ra, rb = ranks
    if ra is None or rb is None:
        return None
    return ra + rb if 0 in (ra, rb) else ra + rb - 2


defvjp(
    np.inner,
    _product_rule(runtime.tensordot_grad_left, lambda: "inner"),
    _product_rule(runtime.tensordot_grad_right, lambda: "inner"),
    ndim=_inner_rank,
)
defjvp(np.inner, *_bilinear_jvp(np.inner))

# tensordot_grad_left(g, a, b, axes) is the adjoint of ``a -> tensordot(a, b)`` applied to g: linear in g and b.
defvjp(
    runtime.tensordot_grad_left,
    lambda G, ans, g, a, b, axes=2: _inner_or(np.tensordot, np.inner, axes)(G, b),
    None,
    lambda G, ans, g, a, b, axes=2: call(runtime.tensordot_grad_right, g, G, b, axes),
    None,
    ndim=lambda ranks, args, kwargs: ranks[1],
)
defjvp(
    runtime.tensordot_grad_left,
    lambda t, ans, g, a, b, axes=2: call(runtime.tensordot_grad_left, t, a, b, axes),
    None,
    lambda t, ans, g, a, b, axes=2: call(runtime.tensordot_grad_left, g, a, t, axes),
    None,
)
defvjp(
    runtime.tensordot_grad_right,
    lambda G, ans, g, a, b, axes=2: _inner_or(np.tensordot, np.inner, axes)(a, G),
    lambda G, ans, g, a, b, axes=2: call(runtime.tensordot_grad_left, g, a, G, axes),
    None,
    None,
    ndim=lambda ranks, args, kwargs: ranks[2],
)
defjvp(
    runtime.tensordot_grad_right,
    lambda t, ans, g, a, b, axes=2: call(runtime.tensordot_grad_right, t, a, b, axes),
    lambda t, ans, g, a, b, axes=2: call(runtime.tensordot_grad_right, g, t, b, axes),
    None,
    None,
)


def _inner_or(tensordot, inner, axes):
    if axes == "inner":
        return lambda x, y: call(inner, x, y)
    return lambda x, y: call(tensordot, x, y, axes=axes)


# ---- outer, vdot, kron, cross --------------------------------------------------------------------
def _flat(x):
    return x if getattr(x, "ndim", None) == 1 else np.ravel(x)


def _shaped(value, x):
    return value if getattr(x, "ndim", None) == 1 else np.reshape(value, np.shape(x))


defvjp(
    np.outer,
    lambda g, ans, a, b: _shaped(g @ _flat(b), a),
    lambda g, ans, a, b: _shaped(_flat(a) @ g, b),
    ndim=lambda ranks, args, kwargs: 2,
)
defjvp(np.outer, *_bilinear_jvp(np.outer))


# vdot(a, b) = sum(conj(a) b) is not holomorphic in a: with complex values its adjoint in a is
# conj(g b), in b g conj(a) (sct.analysis.complex_values); for real ones the conjugates are no-ops, left out.
def _conj(x):
    return np.conjugate(x) if complex_values.on() else x


defvjp(
    np.vdot,
    lambda g, ans, a, b: _shaped(_conj(g * _flat(b)), a),
    lambda g, ans, a, b: _shaped(g * _conj(_flat(a)), b),
    ndim=lambda ranks, args, kwargs: 0,
)
defjvp(np.vdot, *_bilinear_jvp(np.vdot))
defvjp(
    np.kron,
    lambda g, ans, a, b: call(runtime.kron_grad_left, g, a, b),
    lambda g, ans, a, b: call(runtime.kron_grad_right, g, a, b),
    ndim=lambda ranks, args, kwargs: None if None in ranks else max(ranks),
)
defjvp(np.kron, *_bilinear_jvp(np.kron))


def _cross_check(kwargs):
    if kwargs:
        raise SctError("sct differentiates np.cross of 3-vectors along the last axis only (no axis arguments)")


def _cross_left(g, ans, a, b, **kwargs):
    _cross_check(kwargs)
    return np.cross(b, g)


def _cross_right(g, ans, a, b, **kwargs):
    _cross_check(kwargs)
    return np.cross(g, a)


# Batched cross products broadcast their leading axes: the emitter sums the contributions back.
defvjp(np.cross, _cross_left, _cross_right, broadcasting=True, ndim=broadcast)
defjvp(np.cross, *_bilinear_jvp(np.cross))


# kron_grad_left(g, a, b) is the adjoint of ``a -> np.kron(a, b)`` applied to g: linear in g and in b.
defvjp(
    runtime.kron_grad_left,
    lambda G, ans, g, a, b: np.kron(G, b),
    None,
    lambda G, ans, g, a, b: call(runtime.kron_grad_right, g, G, b),
    ndim=lambda ranks, args, kwargs: ranks[1],
)
defjvp(
    runtime.kron_grad_left,
    lambda t, ans, g, a, b: call(runtime.kron_grad_left, t, a, b),
    None,
    lambda t, ans, g, a, b: call(runtime.kron_grad_left, g, a, t),
)
defvjp(
    runtime.kron_grad_right,
    lambda G, ans, g, a, b: np.kron(a, G),
    lambda G, ans, g, a, b: call(runtime.kron_grad_left, g, a, G),
    None,
    ndim=lambda ranks, args, kwargs: ranks[2],
)
defjvp(
    runtime.kron_grad_right,
    lambda t, ans, g, a, b: call(runtime.kron_grad_right, t, a, b),
    lambda t, ans, g, a, b: call(runtime.kron_grad_right, g, t, b),
    None,
)


# ---- einsum ---------------------------------------------------------------------------------------
def einsum_spec(spec, n):
    """``"ij,jk->ik"`` as (["ij", "jk"], "ik"); implicit output (no ``->``) made explicit.

    >>> einsum_spec("ij,jk", 2)
    (['ij', 'jk'], 'ik')
    """
    if not isinstance(spec, str):
        raise SctError("sct differentiates np.einsum only with a constant subscript string")
    if "." in spec:
        raise SctError(f"sct does not differentiate np.einsum with an ellipsis ({spec!r}); name every axis")
    spec = spec.replace(" ", "")
    inputs, _, out = spec.partition("->")
    letters = inputs.replace(",", "")
    if "->" not in spec:
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = inputs.split(",")
    if len(inputs) != n:
        raise SctError(f"np.einsum({spec!r}) names {len(inputs)} operands but gets {n}")
    for subs in inputs:
        if len(set(subs)) != len(subs):
            raise SctError(
                f"sct does not differentiate np.einsum({spec!r}): {subs!r} repeats an index "
                "(write np.trace or np.diagonal for a diagonal)"
            )
    return inputs, out


def _einsum_vjp(i):
    def rule(g, ans, spec, *operands):
        inputs, out = einsum_spec(spec, len(operands))
        k = i - 1
        others = [(s, x) for j, (s, x) in enumerate(zip(inputs, operands)) if j != k]
        x = operands[k]
        seen = set(out).union(*(set(s) for s, _ in others))
        kept = "".join(c for c in inputs[k] if c in seen)
        value = call(np.einsum, ",".join([out] + [s for s, _ in others]) + "->" + kept, g, *[y for _, y in others])
        missing = tuple(p for p, c in enumerate(inputs[k]) if c not in seen)
        if missing:  # indices only this operand has were summed away: the adjoint is constant along them
            value = np.expand_dims(value, missing)
        # An index shared with another operand may have length 1 here and n there or the other way
        # round (einsum broadcasts it): the adjoint is then summed or broadcast to this operand's shape.
        if set(inputs[k]) & set().union(*(set(s) for s, _ in others)):
            return call(runtime.fit_to, value, x)
        return np.broadcast_to(value, np.shape(x)) if missing else value

    return rule


def _einsum_rule(i):
    """Operand ``i``'s reverse rule: inline einsum code for the plain forms, the general adjoint otherwise."""

    def rule(g, ans, *args, optimize=False):  # how NumPy orders the contraction: not the value
        if isinstance(args[0], str) and "." not in args[0] and not _repeats(args[0]):
            return None if i == 0 else _einsum_vjp(i)(g, ans, *args)  # "ij,jk->ik": as it always was
        form = einsum_form(args, [_static_ndim(a) for a in args])
        if form is None:  # subscripts held in a variable, or an ellipsis over operands of unknown rank
            return call(runtime_numpy.einsum_grad, g, list(args), i)
        subs, out, positions = form
        if i not in positions:
            return None
        operands = [args[p] for p in positions]
        return einsum_adjoint(g, subs, out, operands, positions.index(i), call)

    return rule


def _einsum_jvp(i):
    """The tangent: einsum with the tangent in operand ``i``'s place (every form, subscripts untouched)."""

    def rule(t, ans, *args, **kwargs):
        if isinstance(args[0], str) and i == 0:
            return None
        return call(np.einsum, *[t if j == i else a for j, a in enumerate(args)], **kwargs)

    return rule


def _repeats(spec: str) -> bool:
    return any(len(set(s)) != len(s) for s in spec.replace(" ", "").partition("->")[0].split(","))


def _static_ndim(value):
    if isinstance(value, Sym):
        return value.ndim
    return 0 if isinstance(value, numbers.Number) else None


def _einsum_rank(ranks, args, kwargs):
    try:
        form = einsum_form(args, list(ranks) if args and not isinstance(args[0], str) else [None, *ranks[1:]])
    except (SctError, TypeError, ValueError):
        return None
    return None if form is None else len(form[1])


defvjp(np.einsum, _einsum_rule, ndim=_einsum_rank)
defjvp(np.einsum, _einsum_jvp)


def _refuse_second_order(*args, **kwargs):
    raise SctError(
        "sct differentiates np.einsum twice only where its subscripts are known when the code is compiled; "
        "write them as a string literal (and give operands with an ellipsis a known rank)"
    )


defvjp(runtime_numpy.einsum_grad, _refuse_second_order, _refuse_second_order, None, ndim=lambda r, a, k: None)
defjvp(
    runtime_numpy.einsum_grad,
    lambda t, ans, g, args, i: call(runtime_numpy.einsum_grad, t, args, i),
    _refuse_second_order,
    None,
)
# fit_to sums some axes and broadcasts others: its adjoint does the converse, fit_to again.
linear(runtime.fit_to, lambda G, ans, g, x: call(runtime.fit_to, G, g), ndim=lambda r, a, k: r[1], rest=(None,))


# ---- multi_dot -------------------------------------------------------------------------------------
def _multi_dot_vjp(g, ans, arrays):
    """Item i of ``L @ X @ R``: the adjoint through ``(L @ X) @ R``, then through ``L @ X``."""
    if not isinstance(arrays, list | tuple):
        raise SctError("sct differentiates np.linalg.multi_dot of a literal list ([a, b, c]) only")
    parts = []
    for i, x in enumerate(arrays):
        left = _chain(arrays[:i])
        right = _chain(arrays[i + 1 :])
        gx = g
        if right is not None:
            gx = _dot_left(gx, None, x if left is None else np.dot(left, x), right)
        if left is not None:
            gx = _dot_right(gx, None, left, x)
        parts.append(gx)
    return type(arrays)(parts)


def _chain(items):
    if not items:
        return None
    value = items[0]
    for item in items[1:]:
        value = np.dot(value, item)
    return value


def _multi_dot_jvp(t, ans, arrays):
    total = None
    for i, ti in enumerate(t):
        if isinstance(ti, numbers.Number):
            continue
        term = call(np.linalg.multi_dot, [ti if j == i else x for j, x in enumerate(arrays)])
        total = term if total is None else total + term
    return total


defvjp(np.linalg.multi_dot, _multi_dot_vjp, ndim=lambda ranks, args, kwargs: None)
defjvp(np.linalg.multi_dot, _multi_dot_jvp)


# ---- np.convolve: 1-d, linear in each operand --------------------------------------------------
# The full convolution y[n] = sum_m a[m] v[n - m] has adjoint sum_n G[n] v[n - m] in a, which is
# np.convolve(G, flip(v), "valid"), G the cotangent placed in the full convolution (runtime.convolve_full;
# 'same' and 'valid' are its centred parts, np.convolve's order of operands aside). The rules are
# written with np.convolve, np.flip and the two linear helpers, so derivatives of any order follow.
def _full(g, a, v, mode):
    return g if mode in ("full", 2) else call(runtime.convolve_full, g, a, v, mode)


defvjp(
    np.convolve,
    lambda g, ans, a, v, mode="full": np.convolve(_full(g, a, v, mode), np.flip(v), "valid"),
    lambda g, ans, a, v, mode="full": np.convolve(_full(g, a, v, mode), np.flip(a), "valid"),
    None,
    ndim=lambda ranks, args, kwargs: 1,
)
defjvp(np.convolve, *_bilinear_jvp(np.convolve), None)
linear(
    runtime.convolve_full,
    lambda G, ans, g, a, v, mode="full": call(runtime.convolve_part, G, a, v, mode),
    ndim=lambda ranks, args, kwargs: 1,
    rest=(None, None, None),
)
linear(
    runtime.convolve_part,
    lambda G, ans, g, a, v, mode="full": call(runtime.convolve_full, G, a, v, mode),
    ndim=lambda ranks, args, kwargs: 1,
    rest=(None, None, None),
)
