"""Rules for NumPy's reductions and scans, and for the functions with no derivative.

Reductions take ``axis`` (None, an int, negative ints, a tuple) and ``keepdims``
as static operands, so a rule knows at compile time which axes were reduced:
``_spread`` broadcasts a reduced adjoint back over them.
"""

import numpy as np

from ..analysis import complex_values
from ..backend import runtime, runtime_numpy
from ..errors import SctError
from ..symbolic import Sym, call
from .table import broadcast, defjvp, defvjp, linear, nondiff, reduction, refuse_keywords, same


def _spread(g, x, axis, keepdims):
    """``g`` (a reduction's adjoint) broadcast back over the reduced axes of ``x``."""
    if _scalar(x):  # np.sum(0.5, axis=0) is 0.5: NumPy reduces a 0-d value over axis 0 (or -1) to itself
        return g
    if axis is None and not keepdims:
        return np.full_like(x, g)
    if not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


def _kept(value, axis, keepdims, x=None):
    """A reduced value with the reduced axes kept (size 1), so it broadcasts against the operand ``x``."""
    return value if keepdims or axis is None or _scalar(x) else np.expand_dims(value, axis)


def _scalar(x) -> bool:
    """``x`` is known to be 0-d when the code is compiled (a float, or a symbol of rank 0)."""
    return isinstance(x, float | int) or getattr(x, "ndim", None) == 0


def _sum(value, axis, keepdims):
    """``np.sum(value, axis, keepdims)``, spelled without the arguments left at their defaults."""
    if keepdims:
        return np.sum(value, axis=axis, keepdims=True)
    return np.sum(value) if axis is None else np.sum(value, axis=axis)


def _count(x, axis):
    """How many elements each result of a reduction of ``x`` over ``axis`` combined.

    The product of the reduced lengths, never a quotient: an empty ``x`` (or an
    empty result) must not divide by zero where NumPy itself returns nan.
    """
    if axis is None:
        return np.size(x)
    count = None
    for a in axis if isinstance(axis, tuple) else (axis,):
        length = np.shape(x)[a]
        count = length if count is None else count * length
    return count


# ---- sums and means -------------------------------------------------------------------
def _sum_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return _spread(g, x, axis, keepdims)


def _mean_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    if axis is None and not keepdims:
        return np.full_like(x, g) / np.size(x)  # not g / np.size(x): x may be empty
    return _spread(g, x, axis, keepdims) / _count(x, axis)


linear(np.sum, _sum_vjp, ndim=reduction, rest=(None,))
linear(np.mean, _mean_vjp, ndim=reduction, rest=(None,))


def _average_vjp(g, ans, x, axis=None, weights=None, returned=False, *, keepdims=False):
    if weights is None:
        return _mean_vjp(g, ans, x, axis, keepdims=keepdims)
    w = call(runtime.average_weights, weights, x, axis)
    return _spread(g, x, axis, keepdims) * w / np.sum(w, axis=axis, keepdims=True)


# The weights are taken as constants (no derivative); ``returned=True`` is not supported.
linear(np.average, _average_vjp, ndim=reduction, rest=(None,))


def _nan_free(x):
    return np.logical_not(np.isnan(x))


def _nansum_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return np.where(np.isnan(x), 0.0, _spread(g, x, axis, keepdims))


def _nansum_jvp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return _sum(np.where(np.isnan(x), 0.0, g), axis, keepdims)


def _nanmean_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    count = np.sum(_nan_free(x), axis=axis, keepdims=True)
    return np.where(np.isnan(x), 0.0, _spread(g, x, axis, keepdims) / count)


def _nanmean_jvp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    count = _sum(_nan_free(x), axis, keepdims)
    return _sum(np.where(np.isnan(x), 0.0, g), axis, keepdims) / count


# NaN positions get a zero derivative (they do not take part in the result).
defvjp(np.nansum, _nansum_vjp, ndim=reduction)
defjvp(np.nansum, _nansum_jvp)
defvjp(np.nanmean, _nanmean_vjp, ndim=reduction)
defjvp(np.nanmean, _nanmean_jvp)


def _nonzero(x, fn="np.cumprod"):
    """``x`` as a divisor in the second derivatives of ``fn``: the generated code checks it has no zeros
    (``runtime.nonzero_divisor``, whose typed error names ``fn``)."""
    return call(runtime.nonzero_divisor, x, fn)


# ---- products ---------------------------------------------------------------------------
# d prod / d x_i is the product of the other elements (runtime.prod_others), which is right
# at zeros too, where ans / x_i would divide by zero. Second derivatives go through the rules
# of prod_others below, which divide by x: a zero there raises (else NaN, silently).
def _times_initial(value, initial):
    """``initial=c`` multiplies the product by ``c``: so does it each element's derivative."""
    return value if initial is None else value * initial


def _prod_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=None, **kw):
    return _spread(g, x, axis, keepdims) * _times_initial(call(runtime.prod_others, x, axis), initial)


def _prod_jvp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=None, **kw):
    return _sum(g * _times_initial(call(runtime.prod_others, x, axis), initial), axis, keepdims)


defvjp(np.prod, _prod_vjp, ndim=reduction)
defjvp(np.prod, _prod_jvp)


def _others_vjp(G, ans, x, axis=None):
    """d prod_others(x)_i / d x_j = ans_i / x_j for j != i (and 0 for j == i); x non-zero."""
    weighted = G * ans
    return (np.sum(weighted, axis=axis, keepdims=True) - weighted) / _nonzero(x, "np.prod")


def _others_jvp(t, ans, x, axis=None):
    ratio = t / _nonzero(x, "np.prod")
    return ans * (np.sum(ratio, axis=axis, keepdims=True) - ratio)


defvjp(runtime.prod_others, _others_vjp, None, ndim=same)
defjvp(runtime.prod_others, _others_jvp, None)


# nanprod: NaNs count as 1 (and get a zero derivative).
def _nanprod_others(x, axis):
    return np.where(np.isnan(x), 0.0, call(runtime.prod_others, np.where(np.isnan(x), 1.0, x), axis))


def _nanprod_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=None, **kw):
    return _spread(g, x, axis, keepdims) * _times_initial(_nanprod_others(x, axis), initial)


def _nanprod_jvp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=None, **kw):
    return _sum(np.where(np.isnan(x), 0.0, g) * _times_initial(_nanprod_others(x, axis), initial), axis, keepdims)


defvjp(np.nanprod, _nanprod_vjp, ndim=reduction)
defjvp(np.nanprod, _nanprod_jvp)


# cumprod (non-zero inputs): d ans_i / d x_j = ans_i / x_j for j <= i along the axis.
def _reverse_cumsum(g, axis):
    """``sum_{i >= j} g_i`` along ``axis`` (the adjoint of cumsum), without flips."""
    return np.sum(g, axis=axis, keepdims=True) - np.cumsum(g, axis=axis) + g


def _cumsum_vjp(g, ans, x, axis=None, dtype=None, out=None):
    if axis is None:
        return np.reshape(_reverse_cumsum(g, 0), np.shape(x))
    return _reverse_cumsum(g, axis)


# cumprod: d ans_i / d x_j = the product of x_0..x_i but x_j, for j <= i. The helpers compute it
# exactly where x has zeros (ans_i / x_j would be 0 / 0); their own derivatives (second order)
# are written with that quotient and need non-zero inputs.
def _cumprod_vjp(g, ans, x, axis=None, dtype=None, out=None):
    return call(runtime.cumprod_grad, g, x, axis)


def _cumprod_jvp(g, ans, x, axis=None, dtype=None, out=None):
    return call(runtime.cumprod_tangent, g, x, axis)


def _scan_rank(ranks, args, kwargs):
    axis = args[1] if len(args) > 1 else kwargs.get("axis")
    return 1 if axis is None else ranks[0]


linear(np.cumsum, _cumsum_vjp, ndim=_scan_rank, rest=(None,))
defvjp(np.cumprod, _cumprod_vjp, None, ndim=_scan_rank)
defjvp(np.cumprod, _cumprod_jvp, None)


# cumprod_grad(g, x) = R(g ans) / x and cumprod_tangent(t, x) = ans cumsum(t / x) for non-zero x,
# with ans = cumprod(x) and R the reverse cumsum (cumsum's adjoint); each is linear in g (or t)
# and the adjoint of the other. The quotients by x check it has no zeros (else NaN, silently).
defvjp(
    runtime.cumprod_grad,
    lambda G, ans, g, x, axis=None: call(runtime.cumprod_tangent, G, x, axis),
    lambda G, ans, g, x, axis=None: (
        call(runtime.cumprod_grad, g * np.cumsum(G / _nonzero(x), axis=axis), x, axis) - G * ans / _nonzero(x)
    ),
    None,
    ndim=lambda ranks, args, kwargs: ranks[1],
)
defjvp(
    runtime.cumprod_grad,
    lambda t, ans, g, x, axis=None: call(runtime.cumprod_grad, t, x, axis),
    lambda t, ans, g, x, axis=None: (
        call(
            runtime.cumprod_grad,
            g * call(runtime.cumprod_tangent, t, x, axis) / np.cumprod(_nonzero(x), axis=axis),
            x,
            axis,
        )
        - ans * t / _nonzero(x)
    ),
    None,
)
defvjp(
    runtime.cumprod_tangent,
    lambda G, ans, t, x, axis=None: call(runtime.cumprod_grad, G, x, axis),
    lambda G, ans, t, x, axis=None: (
        call(runtime.cumprod_grad, G * np.cumsum(t / _nonzero(x), axis=axis), x, axis)
        - t / _nonzero(x) * call(runtime.cumprod_grad, G, x, axis)
    ),
    None,
    ndim=_scan_rank,
)
defjvp(
    runtime.cumprod_tangent,
    lambda T, ans, t, x, axis=None: call(runtime.cumprod_tangent, T, x, axis),
    lambda T, ans, t, x, axis=None: (
        call(runtime.cumprod_tangent, T, x, axis) * np.cumsum(t / _nonzero(x), axis=axis)
        - np.cumprod(x, axis=axis) * np.cumsum(t * T / _nonzero(x) ** 2, axis=axis)
    ),
    None,
)


defvjp(runtime.nonzero_divisor, lambda g, ans, x: g)  # x itself, or an error
defjvp(runtime.nonzero_divisor, lambda t, ans, x: t)


# np.median: the derivative goes to the middle element (or half to each of the two middle ones).
def _median_vjp(g, ans, x, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _spread(g, x, axis, keepdims) * call(runtime.median_share, x, axis)


def _median_jvp(g, ans, x, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _sum(g * call(runtime.median_share, x, axis), axis, keepdims)


defvjp(np.median, _median_vjp, ndim=reduction)
defjvp(np.median, _median_jvp)
nondiff(runtime.median_share)


# ---- maxima and minima ------------------------------------------------------------------
# The derivative goes to the positions that attain the extremum; ties split it equally
# (as in JAX), so each of k tied positions gets g / k. With ``initial=c`` the extremum may be c,
# attained by no element: then none gets a share (not 0 / 0).
def _extremum_share(ans, x, axis, keepdims, initial=None):
    hit = np.equal(x, _kept(ans, axis, keepdims, x))
    count = np.sum(hit, axis=axis, keepdims=True)
    return hit / (count if initial is None else np.maximum(count, 1))


def _extremum_vjp(g, ans, x, axis=None, out=None, keepdims=False, initial=None, **kw):
    return _spread(g, x, axis, keepdims) * _extremum_share(ans, x, axis, keepdims, initial)


def _extremum_jvp(g, ans, x, axis=None, out=None, keepdims=False, initial=None, **kw):
    return _sum(g * _extremum_share(ans, x, axis, keepdims, initial), axis, keepdims)


for _fn in (np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin):  # NaN never attains it
    defvjp(_fn, _extremum_vjp, None, ndim=reduction)
    defjvp(_fn, _extremum_jvp, None)


def _ptp_share(x, axis):
    top, bottom = np.max(x, axis=axis, keepdims=True), np.min(x, axis=axis, keepdims=True)
    high, low = np.equal(x, top), np.equal(x, bottom)
    return high / np.sum(high, axis=axis, keepdims=True) - low / np.sum(low, axis=axis, keepdims=True)


def _ptp_vjp(g, ans, x, axis=None, out=None, keepdims=False):
    return _spread(g, x, axis, keepdims) * _ptp_share(x, axis)


def _ptp_jvp(g, ans, x, axis=None, out=None, keepdims=False):
    return _sum(g * _ptp_share(x, axis), axis, keepdims)


defvjp(np.ptp, _ptp_vjp, None, ndim=reduction)
defjvp(np.ptp, _ptp_jvp, None)


# ---- variance and standard deviation ------------------------------------------------------
def _centered(x, axis, ddof, ans):
    """d var / d x: 2 (x - mean) / (N - ddof), N the number of elements in each group.

    The mean as NumPy computes it (the sum over the count), but of an empty group quietly 0: it is
    subtracted from no element, and ``np.mean`` would warn "Mean of empty slice" where var does not.
    """
    count = _count(x, axis)
    mean = np.sum(x, axis=axis, keepdims=True) / np.maximum(count, 1)
    return 2.0 * (x - mean) / (count - ddof)


# Of complex values var is the mean of |x - mean|^2, real: its adjoint is Re(g) conj(d var / d x) and its
# tangent Re(sum(conj(d var / d x) t)) (sct.analysis.complex_values); for real values Re and conj are left out.
def _real(value):
    return np.real(value) if complex_values.on() else value


def _conj(value):
    return np.conjugate(value) if complex_values.on() else value


def _var_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _spread(_real(g), x, axis, keepdims) * _conj(_centered(x, axis, ddof, ans))


def _var_jvp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _real(_sum(g * _conj(_centered(x, axis, ddof, ans)), axis, keepdims))


# d std = d var / (2 std). Where a group's values are all equal std has a kink and, as in autograd,
# the derivative is taken as 0 there: the centred values are masked (x - mean is only rounding noise
# then, and std may be that noise rather than 0) and std == 0 is replaced by 1 as a divisor.
def _twice(std):
    return 2.0 * call(runtime.nonzero_or_one, std)


def _spread_out(x, axis, low=np.min, high=np.max):
    """True for each group of values that are not all equal (False for an empty group: no error)."""
    return high(x, axis=axis, keepdims=True, initial=-np.inf) > low(x, axis=axis, keepdims=True, initial=np.inf)


def _std_centered(x, axis, ddof, ans):
    return _centered(x, axis, ddof, ans) * _spread_out(x, axis)


def _std_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _spread(_real(g) / _twice(ans), x, axis, keepdims) * _conj(_std_centered(x, axis, ddof, ans))


def _std_jvp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _real(_sum(g * _conj(_std_centered(x, axis, ddof, ans)), axis, keepdims)) / _twice(ans)


defvjp(np.var, _var_vjp, ndim=reduction)
defjvp(np.var, _var_jvp)
defvjp(np.std, _std_vjp, ndim=reduction)
defjvp(np.std, _std_jvp)


def _nan_centered(x, axis, ddof):
    """d nanvar / d x: 2 (x - nanmean) / (N - ddof) with N the non-NaN count; 0 at NaNs."""
    count = np.sum(_nan_free(x), axis=axis, keepdims=True)
    return np.where(np.isnan(x), 0.0, 2.0 * (x - np.nanmean(x, axis=axis, keepdims=True)) / (count - ddof))


def _nanvar_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _spread(_real(g), x, axis, keepdims) * _conj(_nan_centered(x, axis, ddof))


def _nanvar_jvp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _real(_sum(np.where(np.isnan(x), 0.0, g) * _conj(_nan_centered(x, axis, ddof)), axis, keepdims))


def _nanstd_centered(x, axis, ddof):
    return _nan_centered(x, axis, ddof) * _spread_out(x, axis, np.nanmin, np.nanmax)


def _nanstd_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _spread(_real(g) / _twice(ans), x, axis, keepdims) * _conj(_nanstd_centered(x, axis, ddof))


def _nanstd_jvp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    tangent = np.where(np.isnan(x), 0.0, g) * _conj(_nanstd_centered(x, axis, ddof))
    return _real(_sum(tangent, axis, keepdims)) / _twice(ans)


defvjp(np.nanvar, _nanvar_vjp, ndim=reduction)
defjvp(np.nanvar, _nanvar_jvp)
defvjp(np.nanstd, _nanstd_vjp, ndim=reduction)
defjvp(np.nanstd, _nanstd_jvp)


# ---- sorting ------------------------------------------------------------------------------
# np.sort permutes its operand: the adjoint puts each item back where it came from.
def _sort_rank(ranks, args, kwargs):
    return 1 if (args[1] if len(args) > 1 else kwargs.get("axis", -1)) is None else ranks[0]


defvjp(np.sort, lambda g, ans, x, axis=-1, **kw: call(runtime.unsorted_like, g, x, axis), ndim=_sort_rank)
defjvp(np.sort, lambda g, ans, x, axis=-1, **kw: call(runtime.sorted_like, g, x, axis))
# The helpers are linear in ``v`` and piecewise constant in ``x``; each is the other's adjoint.
defvjp(runtime.sorted_like, lambda G, ans, v, x, axis=-1: call(runtime.unsorted_like, G, x, axis), None, None)
defjvp(runtime.sorted_like, lambda t, ans, v, x, axis=-1: call(runtime.sorted_like, t, x, axis), None, None)
defvjp(runtime.unsorted_like, lambda G, ans, v, x, axis=-1: call(runtime.sorted_like, G, x, axis), None, None)
defjvp(runtime.unsorted_like, lambda t, ans, v, x, axis=-1: call(runtime.unsorted_like, t, x, axis), None, None)
nondiff(runtime.sort_order, runtime.average_weights, runtime_numpy.permutation_of)


# np.partition permutes its operand too (in an order only NumPy knows): the helpers find the
# permutation that took x to ans, and put each item back (the adjoint) or take it along (the tangent).
def _partition_axis(axis=-1, kind="introselect", order=None):
    return axis


def _permutation_rule(helper):
    def rule(g, ans, x, kth, *args, **kwargs):
        axis = _partition_axis(*args, **kwargs)
        return call(helper, g, x, ans) if axis == -1 else call(helper, g, x, ans, axis)

    return rule


defvjp(np.partition, _permutation_rule(runtime_numpy.unpermuted_like), None, ndim=_sort_rank)
defjvp(np.partition, _permutation_rule(runtime_numpy.permuted_like), None)
_PERMUTE = (runtime_numpy.permuted_like, runtime_numpy.unpermuted_like)
for _fn, _other in (_PERMUTE, _PERMUTE[::-1]):  # each linear in v and the other's adjoint
    defvjp(_fn, lambda G, ans, v, x, a, axis=-1, _o=_other: call(_o, G, x, a, axis), None, None, None)
    defjvp(_fn, lambda t, ans, v, x, a, axis=-1, _f=_fn: call(_f, t, x, a, axis), None, None, None)

# ---- no derivative -------------------------------------------------------------------------
nondiff(np.shape, ndim=lambda ranks, args, kwargs: 1)  # a tuple: indexable like a vector
nondiff(np.ndim, np.size, runtime.size_or_one, ndim=lambda ranks, args, kwargs: 0)
nondiff(np.argmax, np.argmin, np.all, np.any, np.count_nonzero, ndim=reduction)
nondiff(np.argsort, ndim=_sort_rank)
# where x's items fall among sorted bins: integers, constant between the bins' edges
nondiff(np.searchsorted, ndim=lambda ranks, args, kwargs: ranks[1] if len(ranks) > 1 else None)
nondiff(np.digitize, ndim=lambda ranks, args, kwargs: ranks[0])
nondiff(
    np.greater,
    np.greater_equal,
    np.less,
    np.less_equal,
    np.equal,
    np.not_equal,
    np.logical_and,
    np.logical_or,
    np.logical_xor,
    np.logical_not,
    np.isnan,
    np.isinf,
    np.isfinite,
    ndim=broadcast,
)
nondiff(np.zeros_like, np.ones_like, np.empty_like, ndim=same)


def _creation_rank(ranks, args, kwargs):
    """Rank of ``np.zeros(shape)``: 1 for an int, len(shape) for a tuple."""
    shape = args[0] if args else kwargs.get("shape")
    if isinstance(shape, int) or (ranks and ranks[0] == 0):
        return 1
    return len(shape) if isinstance(shape, tuple) else None


nondiff(np.zeros, np.ones, np.empty, ndim=_creation_rank)
nondiff(np.eye, np.identity, ndim=lambda ranks, args, kwargs: 2)
nondiff(np.arange, ndim=lambda ranks, args, kwargs: 1)


# np.linspace(start, stop, num) = start (1 - t) + stop t, t = 0, 1/(num-1), ..., 1 laid along
# ``axis``: linear in (start, stop) together, so the tangent is linspace of the tangents.
def _linspace_check(retstep, dtype):
    if retstep is not False or dtype is not None:
        raise SctError("sct differentiates np.linspace without retstep= and dtype=; cast the result instead")


def _linspace_vjp(first):
    """Reverse rule for start (``first``) or stop: the adjoint along ``axis`` dotted with 1 - t or t."""

    def vjp(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
        _linspace_check(retstep, dtype)
        ends = (1.0, 0.0) if first else (0.0, 1.0)
        w = call(np.linspace, *ends, num) if endpoint is True else call(np.linspace, *ends, num, endpoint=endpoint)
        last = axis == -1 or (g.ndim is not None and axis == g.ndim - 1)
        value = (g if last else np.moveaxis(g, axis, -1)) @ w
        mine, other = (start, stop) if first else (stop, start)
        if not isinstance(other, Sym) or (mine.ndim == 0 and other.ndim == 0):
            return value  # nothing broadcast ``mine``
        return call(runtime.unbroadcast, value, mine)

    return vjp


def _linspace_jvp(first):
    def jvp(t, ans, start, stop, *args, **kwargs):
        _linspace_check(*_retstep_dtype(*args, **kwargs))
        zero = stop if first else start  # the other end: zeros in its shape
        zero = 0.0 * zero if isinstance(zero, Sym) else 0.0
        return call(np.linspace, t, zero, *args, **kwargs) if first else call(np.linspace, zero, t, *args, **kwargs)

    return jvp


def _retstep_dtype(num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return retstep, dtype


def _linspace_rank(ranks, args, kwargs):
    return None if None in ranks[:2] else 1 + max(ranks[:2])


defvjp(np.linspace, _linspace_vjp(True), _linspace_vjp(False), ndim=_linspace_rank)
defjvp(np.linspace, _linspace_jvp(True), _linspace_jvp(False))


# np.full(shape, fill): the adjoint of a scalar fill is the sum of g (generated code uses np.full).
def _fill_adjoint(g, fill):
    if getattr(fill, "ndim", None) == 0 or isinstance(fill, int | float):
        return np.sum(g)
    return call(runtime.unbroadcast, g, fill)


defvjp(np.full, None, lambda g, ans, shape, fill, **kw: _fill_adjoint(g, fill), ndim=_creation_rank)
defjvp(np.full, None, lambda t, ans, shape, fill, **kw: call(np.full, shape, t))


# ---- a keyword the rules above do not model -------------------------------------------------
# ``where=`` leaves elements out of a reduction: the rules above would give every element its share.
for _fn in (np.sum, np.mean, np.nansum, np.nanmean, np.var, np.std, np.nanvar, np.nanstd):
    refuse_keywords(_fn, ("where",), "multiply by the mask instead (`np.sum(x * m)`, `np.sum(x * m) / np.sum(m)`)")
for _fn in (np.prod, np.nanprod, np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin):
    refuse_keywords(_fn, ("where",), "select the elements first: `x[m]`, or `np.where(m, x, fill)`")
