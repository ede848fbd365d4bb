"""Every elementwise, reduction and non-differentiable rule, checked against central differences.

One table: (name, function, argument makers). Each case runs ``sct.check_grads`` in
forward and reverse mode, to second order where the second derivative exists. Inputs
lie in each function's domain and away from kinks and ties (ties have their own tests).
"""

import math

import numpy as np
import pytest

import sct


# ---- argument makers: each takes the test's rng -------------------------------------------
def real(*shape):
    return lambda rng: rng.uniform(-2.0, 2.0, size=shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, size=shape)


def unit(*shape):
    return lambda rng: rng.uniform(-0.8, 0.8, size=shape)


def above_one(*shape):
    return lambda rng: rng.uniform(1.2, 3.0, size=shape)


def nonzero(*shape):
    """Magnitudes in [0.5, 2] with random signs: away from the kink of abs, cbrt, sign..."""
    return lambda rng: rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def distinct(*shape, offset=0.0):
    """Well-separated values in random order (no ties for max/min/sort)."""
    values = np.linspace(-2.0, 2.0, int(np.prod(shape))) + offset
    return lambda rng: rng.permutation(values).reshape(shape)


def shifted(*shape):
    """Like ``distinct``, never equal to one of its values (the other operand of maximum...)."""
    return distinct(*shape, offset=0.1)


def with_nan(*shape):
    """Real values with one NaN (the nan* reductions skip it)."""

    def make(rng):
        x = rng.uniform(-2.0, 2.0, size=shape)
        x.flat[1] = np.nan
        return x

    return make


def scalar(lo, hi):
    return lambda rng: float(rng.uniform(lo, hi))


def unary(fn):
    def f(x):
        return fn(x)

    return f


def binary(fn):
    def f(x, y):
        return fn(x, y)

    return f


# ---- elementwise ---------------------------------------------------------------------------
UNARY = [
    (np.negative, real),
    (np.positive, real),
    (np.exp, real),
    (np.exp2, real),
    (np.expm1, real),
    (np.log, positive),
    (np.log2, positive),
    (np.log10, positive),
    (np.log1p, positive),
    (np.sqrt, positive),
    (np.cbrt, nonzero),
    (np.square, real),
    (np.reciprocal, nonzero),
    (np.abs, nonzero),
    (np.fabs, nonzero),
    (np.sin, real),
    (np.cos, real),
    (np.tan, unit),
    (np.arcsin, unit),
    (np.arccos, unit),
    (np.arctan, real),
    (np.sinh, real),
    (np.cosh, real),
    (np.tanh, real),
    (np.arcsinh, real),
    (np.arccosh, above_one),
    (np.arctanh, unit),
    (np.deg2rad, real),
    (np.radians, real),
    (np.rad2deg, real),
    (np.degrees, real),
    (np.sinc, nonzero),
    (np.conjugate, real),
    (np.real, real),
    (np.nan_to_num, real),
]
BINARY = [
    (np.add, real, real),
    (np.subtract, real, real),
    (np.multiply, real, real),
    (np.divide, real, nonzero),
    (np.power, positive, real),
    (np.float_power, positive, real),
    (np.arctan2, nonzero, nonzero),
    (np.hypot, nonzero, nonzero),
    (np.logaddexp, real, real),
    (np.logaddexp2, real, real),
    (np.maximum, distinct, shifted),
    (np.minimum, distinct, shifted),
    (np.fmax, distinct, shifted),
    (np.fmin, distinct, shifted),
    (np.copysign, nonzero, nonzero),
    (np.remainder, positive, above_one),
    (np.mod, real, above_one),
    (np.fmod, real, above_one),
]

CASES = [(fn.__name__, unary(fn), (make(3),), 2) for fn, make in UNARY]
CASES += [(fn.__name__, binary(fn), (mx(2, 3), my(2, 3)), 2) for fn, mx, my in BINARY]
# Broadcasting: the smaller operand's contribution is summed back to its shape.
CASES += [
    (f"{fn.__name__}-broadcast", binary(fn), (mx(2, 3), my(3)), 2)
    for fn, mx, my in [(np.multiply, real, real), (np.arctan2, nonzero, nonzero), (np.power, positive, real)]
]
CASES += [(f"{fn.__name__}-scalar", binary(fn), (mx(3), scalar(0.5, 1.5)), 2) for fn, mx, _ in BINARY[:6]]


def clip_consts(x):
    return np.clip(x, -0.5, 0.5)


def clip_arrays(x, lo, hi):
    return np.clip(x, lo, hi)


def clip_upper_only(x):
    return x.clip(None, 0.5)


def where_select(x, y):
    return np.where(x > 0.0, x * y, np.sin(y))


def where_broadcast(x, y):
    return np.where(x > 0.0, x, y)


def abs_builtin(x):
    return abs(x) * np.absolute(x)


def true_divide(x, y):
    return np.true_divide(x, y)


def methods(x):
    return x.conj() * x.conjugate() + x.round() * x + x.argsort() * x + x.clip(-0.5, 0.5)


CASES += [
    ("clip-constants", clip_consts, (distinct(2, 3),), 2),
    ("clip-arrays", clip_arrays, (distinct(6), lambda rng: np.full(6, -0.9), lambda rng: np.full(6, 0.9)), 2),
    ("clip-method-none", clip_upper_only, (distinct(5),), 2),
    ("where", where_select, (nonzero(2, 3), real(2, 3)), 2),
    ("where-broadcast", where_broadcast, (nonzero(2, 3), real(3)), 2),
    ("abs-absolute", abs_builtin, (nonzero(4),), 2),
    ("true_divide", true_divide, (real(2, 3), nonzero(3)), 2),
    ("methods", methods, (distinct(5),), 2),
]


# ---- math module (scalars) ------------------------------------------------------------------
def math_case(name, fn, *makers):
    return (f"math.{name}", unary(fn) if len(makers) == 1 else binary(fn), makers, 2)


CASES += [
    math_case("exp", math.exp, scalar(-1, 1)),
    math_case("expm1", math.expm1, scalar(-1, 1)),
    math_case("exp2", math.exp2, scalar(-1, 1)),
    math_case("log1p", math.log1p, scalar(0.5, 2)),
    math_case("log2", math.log2, scalar(0.5, 2)),
    math_case("log10", math.log10, scalar(0.5, 2)),
    math_case("log-base", math.log, scalar(0.5, 2), scalar(2, 3)),
    math_case("sqrt", math.sqrt, scalar(0.5, 2)),
    math_case("cbrt", math.cbrt, scalar(0.5, 2)),
    math_case("sin", math.sin, scalar(-2, 2)),
    math_case("cos", math.cos, scalar(-2, 2)),
    math_case("tan", math.tan, scalar(-1, 1)),
    math_case("asin", math.asin, scalar(-0.8, 0.8)),
    math_case("acos", math.acos, scalar(-0.8, 0.8)),
    math_case("atan", math.atan, scalar(-2, 2)),
    math_case("sinh", math.sinh, scalar(-2, 2)),
    math_case("cosh", math.cosh, scalar(-2, 2)),
    math_case("tanh", math.tanh, scalar(-2, 2)),
    math_case("asinh", math.asinh, scalar(-2, 2)),
    math_case("acosh", math.acosh, scalar(1.2, 3)),
    math_case("atanh", math.atanh, scalar(-0.8, 0.8)),
    math_case("fabs", math.fabs, scalar(0.5, 2)),
    math_case("erf", math.erf, scalar(-1, 1)),
    math_case("erfc", math.erfc, scalar(-1, 1)),
    math_case("degrees", math.degrees, scalar(-1, 1)),
    math_case("radians", math.radians, scalar(-1, 1)),
    math_case("atan2", math.atan2, scalar(0.5, 2), scalar(-2, -0.5)),
    math_case("hypot", math.hypot, scalar(0.5, 2), scalar(-2, -0.5)),
    math_case("pow", math.pow, scalar(0.5, 2), scalar(-2, 2)),
    math_case("copysign", math.copysign, scalar(0.5, 2), scalar(-2, -0.5)),
]


# ---- reductions and scans -------------------------------------------------------------------
def sum_tuple_axes(x):
    return np.sum(x, axis=(0, -1))


def sum_keepdims(x):
    return np.sum(x, axis=-2, keepdims=True) * x


def sum_method(x):
    return x.sum(1)


def mean_tuple_axes(x):
    return np.mean(x, axis=(2, 0), keepdims=True) * x


def mean_all(x):
    return np.mean(x)


def prod_all(x):
    return np.prod(x)


def prod_axis(x):
    return np.prod(x, axis=(0, 2))


def prod_keepdims(x):
    return x.prod(axis=-1, keepdims=True) * x


def max_all(x):
    return np.max(x)


def max_axis(x):
    return np.max(x, axis=1)


def min_tuple_axes(x):
    return np.min(x, axis=(0, 2), keepdims=True) * x


def amax_neg_axis(x):
    return np.amax(x, axis=-1)


def amin_all(x):
    return np.amin(x)


def min_method(x):
    return x.min(0)


def var_all(x):
    return np.var(x)


def var_ddof(x):
    return np.var(x, axis=0, ddof=1)


def std_axis(x):
    return np.std(x, axis=-1, keepdims=True) * x


def std_tuple_ddof(x):
    return x.std(axis=(0, 1), ddof=1)


def cumsum_flat(x):
    return np.cumsum(x)


def cumsum_axis(x):
    return np.cumsum(x, axis=0) * x


def cumprod_flat(x):
    return np.cumprod(x)


def cumprod_axis(x):
    return x.cumprod(axis=-1)


def nansum_axis(x):
    return np.nansum(x, axis=1)


def nanmean_all(x):
    return np.nanmean(x)


def nanmax_axis(x):
    return np.nanmax(x, axis=0)


def nanmin_all(x):
    return np.nanmin(x)


def nanprod_axis(x):
    return np.nanprod(x, axis=1, keepdims=True)


def nanvar_ddof(x):
    return np.nanvar(x, axis=1, ddof=1)


def nanstd_all(x):
    return np.nanstd(x)


def median_odd(x):
    return np.median(x, axis=0)


def median_even(x):
    return np.median(x)


def median_tuple(x):
    return np.median(x, axis=(0, 2), keepdims=True) * x


def average_weights(x):
    return np.average(x, axis=0, weights=np.array([0.5, 1.5]))


def average_plain(x):
    return np.average(x, axis=1)


def ptp_axis(x):
    return np.ptp(x, axis=1)


def sort_last(x):
    return np.sort(x) * np.arange(3.0)


def sort_axis0(x):
    return np.sort(x, axis=0) * np.arange(2.0)[:, None]


def sort_flat(x):
    return np.sort(x, axis=None) * np.arange(6.0)


def logsumexp(x):
    m = np.max(x)
    return np.log(np.sum(np.exp(x - m))) + m


def logsumexp_axis(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)) + m


CASES += [
    ("sum-tuple-axes", sum_tuple_axes, (real(2, 3, 2),), 2),
    ("sum-keepdims", sum_keepdims, (real(2, 3),), 2),
    ("sum-method", sum_method, (real(2, 3),), 2),
    ("mean-tuple-axes", mean_tuple_axes, (real(2, 3, 2),), 2),
    ("mean-all", mean_all, (real(2, 3),), 2),
    ("prod-all", prod_all, (nonzero(2, 3),), 2),
    ("prod-tuple-axes", prod_axis, (nonzero(2, 3, 2),), 2),
    ("prod-keepdims", prod_keepdims, (nonzero(2, 3),), 2),
    ("max-all", max_all, (distinct(2, 3),), 2),
    ("max-axis", max_axis, (distinct(2, 3),), 2),
    ("min-tuple-axes", min_tuple_axes, (distinct(2, 3, 2),), 2),
    ("amax-negative-axis", amax_neg_axis, (distinct(2, 3),), 2),
    ("amin-all", amin_all, (distinct(2, 3),), 2),
    ("min-method", min_method, (distinct(2, 3),), 2),
    ("var-all", var_all, (real(2, 3),), 2),
    ("var-ddof", var_ddof, (real(3, 2),), 2),
    ("std-keepdims", std_axis, (real(2, 3),), 2),
    ("std-tuple-ddof", std_tuple_ddof, (real(2, 3, 2),), 2),
    ("cumsum-flat", cumsum_flat, (real(2, 3),), 2),
    ("cumsum-axis", cumsum_axis, (real(2, 3),), 2),
    ("cumprod-flat", cumprod_flat, (nonzero(2, 3),), 2),
    ("cumprod-axis", cumprod_axis, (nonzero(2, 3),), 2),
    ("nansum", nansum_axis, (real(2, 3),), 2),
    ("nanmean", nanmean_all, (real(2, 3),), 2),
    ("nanmax", nanmax_axis, (lambda rng: np.array([[0.5, np.nan, -1.0], [1.5, 0.2, -2.0]]),), 2),
    ("nanmin", nanmin_all, (lambda rng: np.array([[0.5, np.nan, -1.0], [1.5, 0.2, -2.0]]),), 2),
    ("nanprod", nanprod_axis, (with_nan(2, 3),), 2),
    ("nanvar", nanvar_ddof, (with_nan(2, 4),), 2),
    ("nanstd", nanstd_all, (with_nan(2, 3),), 2),
    ("median-odd", median_odd, (distinct(3, 2),), 2),
    ("median-even", median_even, (distinct(2, 3),), 2),
    ("median-tuple-axes", median_tuple, (distinct(2, 3, 2),), 2),
    ("average-weights", average_weights, (real(2, 3),), 2),
    ("average", average_plain, (real(2, 3),), 2),
    ("ptp", ptp_axis, (distinct(2, 3),), 2),
    ("sort", sort_last, (distinct(2, 3),), 2),
    ("sort-axis0", sort_axis0, (distinct(2, 3),), 2),
    ("sort-flat", sort_flat, (distinct(2, 3),), 2),
    ("logsumexp", logsumexp, (real(2, 3),), 2),
    ("logsumexp-axis", logsumexp_axis, (real(2, 3),), 2),
]


@pytest.mark.parametrize("name, f, makers, order", CASES, ids=[c[0] for c in CASES])
def test_rule(name, f, makers, order, rng):
    args = tuple(make(rng) for make in makers)
    sct.check_grads(f, args, modes=("fwd", "rev"), order=order)


# ---- ties, zeros and NaNs ---------------------------------------------------------------------
def test_maximum_splits_ties_equally():
    def f(x, y):
        return np.sum(np.maximum(x, y) + 2.0 * np.minimum(x, y))

    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])
    dx, dy = sct.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(dx, [1.5, 1.0, 2.0])
    np.testing.assert_allclose(dy, [1.5, 2.0, 1.0])
    _, tangent = sct.jvp(f, (x, y), (np.ones(3), np.zeros(3)))
    assert tangent == pytest.approx(4.5)


def test_max_reduction_splits_ties_equally():
    def f(x):
        return np.max(x, axis=1)

    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    _, back = sct.vjp(f, x)
    np.testing.assert_allclose(back(np.array([1.0, 1.0]))[0], [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    _, tangent = sct.jvp(f, (x,), (np.array([[0.0, 1.0, 3.0], [1.0, 1.0, 1.0]]),))
    np.testing.assert_allclose(tangent, [2.0, 1.0])


def test_prod_with_a_zero_is_the_product_of_the_others():
    def f(x):
        return np.prod(x, axis=0)

    x = np.array([[2.0, 0.0], [0.0, 0.0], [3.0, 5.0]])
    _, back = sct.vjp(f, x)
    np.testing.assert_allclose(back(np.ones(2))[0], [[0.0, 0.0], [6.0, 0.0], [0.0, 0.0]])
    _, tangent = sct.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_allclose(tangent, [6.0, 0.0])


def test_nan_to_num_zeroes_nonfinite_positions():
    def f(x):
        return np.sum(np.nan_to_num(x) * x)

    x = np.array([2.0, np.nan, np.inf, -3.0])
    np.testing.assert_allclose(sct.grad(f)(x)[[0, 3]], [4.0, -6.0])
    _, tangent = sct.jvp(unary(np.nan_to_num), (x,), (np.ones(4),))
    np.testing.assert_allclose(tangent, [1.0, 0.0, 0.0, 1.0])


def test_nan_positions_get_zero_gradient():
    def f(x):
        return np.nansum(x, axis=0) + 2.0 * np.nanmean(x)

    x = np.array([1.0, np.nan, 3.0])
    np.testing.assert_allclose(sct.grad(f)(x), [2.0, 0.0, 2.0])
    _, tangent = sct.jvp(f, (x,), (np.array([1.0, 5.0, 2.0]),))
    assert tangent == pytest.approx(6.0)


# ---- no derivative: the function differentiates, and their contribution is zero --------------
def _floor(x):
    return x * np.floor(x) + x * np.ceil(x) + x * np.round(x) + x * np.around(x, 1) + x * np.rint(x)


def _more(x):
    a = np.floor_divide(x, 0.7) + np.signbit(x) + np.isclose(x, 0.5) + np.isposinf(x) + np.isneginf(x)
    return x * (a + np.allclose(x, 0.5) + np.array_equal(x, x) + (np.spacing(x) > 0))


def _trunc(x):
    return x * np.trunc(x) + x * np.fix(x) + x * np.sign(x) + x * np.heaviside(x, 0.5)


def _compare(x):
    # Scaled by 2.0, not 1.0: see test_multiplying_a_bool_array_by_one_keeps_its_value.
    a = np.greater(x, 0.1) * 2.0 + np.greater_equal(x, 0.2) + np.less(x, 0.3) + np.less_equal(x, 0.4)
    b = np.equal(x, 0.5) * 2.0 + np.not_equal(x, 0.6) + np.logical_and(x > 0, x < 1) + np.logical_or(x > 0, x < 1)
    c = np.logical_xor(x > 0, x < 1) * 2.0 + np.logical_not(x > 0) + np.isnan(x) + np.isinf(x) + np.isfinite(x)
    return x * (a + b + c)


def _indices(x):
    return x * np.argmax(x) + x * np.argmin(x) + x * np.argsort(x) + x * np.count_nonzero(x > 0)


def _shapes(x):
    return x * np.size(x) + x * np.ndim(x) + x * np.shape(x)[0] + x * np.all(x > -5) + x * np.any(x > 5)


def _creation(x):
    n = np.shape(x)[0]
    a = np.zeros_like(x) + np.ones_like(x) + np.zeros(n) + np.ones(n) + np.full(n, 2.0) + np.arange(n)
    b = np.linspace(0.0, 1.0, n) + np.sum(np.eye(n), axis=0) + np.sum(np.identity(n), axis=1)
    return x * (a + b + np.size(np.empty_like(x)) + np.size(np.empty(n)))


NONDIFF = [("rounding", _floor), ("sign-like", _trunc), ("comparisons", _compare), ("indices", _indices)]
NONDIFF += [("shapes", _shapes), ("creation", _creation), ("more", _more)]


@pytest.mark.parametrize("name, f", NONDIFF, ids=[n for n, _ in NONDIFF])
def test_nondiff_contributes_zero(name, f):
    x = np.array([0.37, -1.26, 2.71, 0.58])
    # f(x) = x * c(x) with c piecewise constant: the derivative is exactly c(x), nothing more.
    np.testing.assert_allclose(sct.grad(lambda_sum(f))(x), f(x) / x, rtol=1e-12, atol=1e-12)
    sct.check_grads(f, (x,), modes=("fwd", "rev"), order=2)


def lambda_sum(f):
    def total(x):
        return np.sum(f(x))

    return total


def test_multiplying_a_bool_array_by_one_keeps_its_value():
    # regression: the optimiser folded ``b * 1.0`` to ``b`` in the user's computation
    def f(x):
        return np.sum(x * (np.greater(x, 0.1) * 1.0 + np.greater(x, 0.2)))

    x = np.array([0.37, -1.26, 2.71])
    np.testing.assert_allclose(sct.grad(f)(x), [2.0, 0.0, 2.0])


def test_builtin_max_min_split_ties_equally():
    def f(x, y):
        return max(x, y) + 2.0 * min(x, y)

    assert sct.grad(f, wrt=(0, 1))(1.5, 1.5) == pytest.approx((1.5, 1.5))
    assert sct.grad(f, wrt=(0, 1))(2.0, 1.0) == pytest.approx((1.0, 2.0))
    sct.check_grads(f, (0.3, -0.4), modes=("fwd", "rev"), order=2)
