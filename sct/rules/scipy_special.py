"""Rules for ``scipy.special``: gamma-family, error functions, logistic, Bessel functions, logsumexp...

Imported only once the user's code imported SciPy (:func:`sct.rules.table.load_optional`).
Each derivative is written with SciPy's and NumPy's own functions, which have rules
themselves, so generated code differentiates again (``gammaln' = digamma``,
``digamma' = polygamma(1, .)``, ``polygamma(n, .)' = polygamma(n + 1, .)``).

Orders and other integer parameters (``polygamma``'s ``n``, ``iv``'s ``v``,
``multigammaln``'s ``d``) and the shape parameter ``a`` of ``gammainc``/``gammaincc``
carry no derivative that sct models: where one depends on a differentiated input,
the rule refuses with a typed error instead of contributing zero.
"""

import math

import numpy as np
import scipy.special as sc

from ..backend import runtime
from ..errors import SctError
from ..symbolic import Sym, call
from .table import broadcast, defjvp, defvjp, elementwise, nondiff, positional, reduction, same

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def refused(function: str, operand: str, instead: str = "pass it as a constant"):
    """A rule for an operand sct does not differentiate: it raises (located by the caller) instead of
    giving a zero derivative. ``operand`` ("its order n") is shown in docs/supported-functions.md."""

    def rule(g, ans, *args, **kwargs):
        raise SctError(f"sct has no derivative of {function} in {operand}; {instead}")

    rule.refuses = operand
    return rule


def _polygamma(n, x):
    return call(sc.polygamma, n, x)


# ---- gamma and beta functions -------------------------------------------------------------
elementwise(sc.gammaln, lambda g, ans, x: g * sc.digamma(x))
elementwise(sc.gamma, lambda g, ans, x: g * ans * sc.digamma(x))
elementwise(sc.digamma, lambda g, ans, x: g * _polygamma(1, x))  # also scipy.special.psi
elementwise(
    sc.polygamma,
    refused("scipy.special.polygamma", "its order n"),
    lambda g, ans, n, x: g * _polygamma(n + 1, x),
)
elementwise(
    sc.betaln,
    lambda g, ans, a, b: g * (sc.digamma(a) - sc.digamma(a + b)),
    lambda g, ans, a, b: g * (sc.digamma(b) - sc.digamma(a + b)),
)
elementwise(
    sc.beta,
    lambda g, ans, a, b: g * ans * (sc.digamma(a) - sc.digamma(a + b)),
    lambda g, ans, a, b: g * ans * (sc.digamma(b) - sc.digamma(a + b)),
)


# multigammaln(a, d) = d (d - 1) / 4 log(pi) + sum_{j < d} gammaln(a - j / 2): a's derivative sums
# digamma over the same d shifted arguments.
def _multigammaln_da(g, ans, a, d):
    return g * np.sum(sc.digamma(np.expand_dims(a, -1) - 0.5 * call(np.arange, d)), axis=-1)


_DIMENSION = refused("scipy.special.multigammaln", "its dimension d")
defvjp(sc.multigammaln, _multigammaln_da, _DIMENSION, ndim=same)
defjvp(sc.multigammaln, _multigammaln_da, _DIMENSION)


# Regularized incomplete gamma functions: d/dx P(a, x) = x^(a - 1) e^(-x) / Gamma(a) (written with
# ``x ** (a - 1)`` so that x = 0, a = 1 gives 1); Q = 1 - P. Their derivative in a has no closed form.
def _gammainc_dx(g, ans, a, x):
    return g * np.exp(-x - sc.gammaln(a)) * x ** (a - 1.0)


_GAMMAINC_A = "write the derivative in a with a custom rule (sct.defvjp), or pass a as a constant"
elementwise(sc.gammainc, refused("scipy.special.gammainc", "a", _GAMMAINC_A), _gammainc_dx)
elementwise(
    sc.gammaincc, refused("scipy.special.gammaincc", "a", _GAMMAINC_A), lambda g, ans, a, x: -_gammainc_dx(g, ans, a, x)
)

# ---- error functions and the normal distribution ---------------------------------------------
elementwise(sc.erf, lambda g, ans, x: g * (2.0 / _SQRT_PI) * np.exp(-x * x))
elementwise(sc.erfc, lambda g, ans, x: -g * (2.0 / _SQRT_PI) * np.exp(-x * x))
elementwise(sc.erfinv, lambda g, ans, x: g * (_SQRT_PI / 2.0) * np.exp(ans * ans))
elementwise(sc.erfcinv, lambda g, ans, x: -g * (_SQRT_PI / 2.0) * np.exp(ans * ans))
elementwise(sc.ndtr, lambda g, ans, x: g * np.exp(-0.5 * x * x) / _SQRT_2PI)
# log_ndtr' = phi(x) / Phi(x) = exp(-x^2 / 2 - log_ndtr(x)) / sqrt(2 pi): finite in both tails.
elementwise(sc.log_ndtr, lambda g, ans, x: g * np.exp(-0.5 * x * x - ans) / _SQRT_2PI)
elementwise(sc.ndtri, lambda g, ans, p: g * _SQRT_2PI * np.exp(0.5 * ans * ans))

# ---- logistic ------------------------------------------------------------------------------
elementwise(sc.expit, lambda g, ans, x: g * ans * (1.0 - ans))
elementwise(sc.logit, lambda g, ans, p: g / (p * (1.0 - p)))
elementwise(sc.log_expit, lambda g, ans, x: g * sc.expit(-x))


# ---- x log y and entropies -------------------------------------------------------------------
# xlogy(x, y) is 0 wherever x == 0 (also at y == 0): its derivative in y is x / y, and 0 there.
def _x_over(x, y):
    """``x / y``, and 0 where both are 0 (its derivative in x stays 1 / y where only x is 0)."""
    return x / np.where(np.logical_and(np.equal(x, 0), np.equal(y, 0)), 1.0, y)


elementwise(sc.xlogy, lambda g, ans, x, y: g * np.log(y), lambda g, ans, x, y: g * _x_over(x, y))
elementwise(sc.xlog1py, lambda g, ans, x, y: g * np.log1p(y), lambda g, ans, x, y: g * _x_over(x, 1.0 + y))
elementwise(sc.entr, lambda g, ans, x: -g * (np.log(x) + 1.0))  # -x log x
elementwise(  # x log(x / y)
    sc.rel_entr, lambda g, ans, x, y: g * (np.log(x / y) + 1.0), lambda g, ans, x, y: -g * _x_over(x, y)
)
elementwise(  # x log(x / y) - x + y
    sc.kl_div, lambda g, ans, x, y: g * np.log(x / y), lambda g, ans, x, y: g * (1.0 - _x_over(x, y))
)

# ---- Bessel functions (the order v is a constant) ----------------------------------------------
# I0' = I1 and I1' = (I0 + I2) / 2 (finite at 0, where I1 / x would be 0 / 0). The exponentially
# scaled ive(v, x) = iv(v, x) e^(-|x|) add -sign(x) times themselves.
elementwise(sc.i0, lambda g, ans, x: g * sc.i1(x))
elementwise(sc.i1, lambda g, ans, x: g * 0.5 * (sc.i0(x) + sc.iv(2.0, x)))
elementwise(sc.i0e, lambda g, ans, x: g * (sc.i1e(x) - np.sign(x) * ans))
elementwise(sc.i1e, lambda g, ans, x: g * (0.5 * (sc.i0e(x) + sc.ive(2.0, x)) - np.sign(x) * ans))


def _order(name):
    return refused(f"scipy.special.{name}", "its order v")


elementwise(sc.iv, _order("iv"), lambda g, ans, v, x: g * 0.5 * (sc.iv(v - 1.0, x) + sc.iv(v + 1.0, x)))
elementwise(
    sc.ive,
    _order("ive"),
    lambda g, ans, v, x: g * (0.5 * (sc.ive(v - 1.0, x) + sc.ive(v + 1.0, x)) - np.sign(x) * ans),
)
elementwise(sc.jv, _order("jv"), lambda g, ans, v, x: g * 0.5 * (sc.jv(v - 1.0, x) - sc.jv(v + 1.0, x)))
elementwise(sc.yv, _order("yv"), lambda g, ans, v, x: g * 0.5 * (sc.yv(v - 1.0, x) - sc.yv(v + 1.0, x)))


# ---- logsumexp, softmax, log_softmax --------------------------------------------------------------
def _expanded(value, axis, keepdims):
    """A reduced value with the reduced axes back (size 1), so it broadcasts against the operand."""
    return value if keepdims or axis is None else np.expand_dims(value, axis)


def _sum(value, axis, keepdims):
    if keepdims:
        return np.sum(value, axis=axis, keepdims=True)
    return np.sum(value) if axis is None else np.sum(value, axis=axis)


def _constant(value, what):
    """A static operand (a literal in the user's code): rules branch on it."""
    if isinstance(value, Sym):
        raise SctError(f"sct differentiates {what} written as a literal in the call")
    return value


def _check_sign(return_sign):
    return _constant(return_sign, "scipy.special.logsumexp with return_sign=")


def _lse_static(axis, keepdims, return_sign):
    _constant(axis, "scipy.special.logsumexp with axis=")
    _constant(keepdims, "scipy.special.logsumexp with keepdims=")
    return _check_sign(return_sign)


def _lse_weights(ans, a, axis, b, keepdims, return_sign):
    """d logsumexp / d a = sign * b * exp(a - logsumexp): the weights of a softmax."""
    value = ans[0] if return_sign else ans
    weights = np.exp(a - _expanded(value, axis, keepdims))
    if return_sign:
        weights = weights * _expanded(ans[1], axis, keepdims)
    return weights


def _lse_da(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    g = g[0] if _lse_static(axis, keepdims, return_sign) else g  # (value, sign): only the value carries a derivative
    weights = _lse_weights(ans, a, axis, b, keepdims, return_sign)
    share = _expanded(g, axis, keepdims) * (weights if b is None else b * weights)
    return share if b is None else call(runtime.unbroadcast, share, a)


def _lse_db(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    g = g[0] if _lse_static(axis, keepdims, return_sign) else g
    share = _expanded(g, axis, keepdims) * _lse_weights(ans, a, axis, b, keepdims, return_sign)
    return call(runtime.unbroadcast, share, b)


def _lse_tangent(t, ans, a, axis, b, keepdims, return_sign, weights):
    tangent = _sum(t * weights, axis, keepdims)
    return (tangent, call(runtime.zeros_like, ans[1])) if return_sign else tangent


def _lse_ta(t, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    _lse_static(axis, keepdims, return_sign)
    weights = _lse_weights(ans, a, axis, b, keepdims, return_sign)
    return _lse_tangent(t, ans, a, axis, b, keepdims, return_sign, weights if b is None else b * weights)


def _lse_tb(t, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    _lse_static(axis, keepdims, return_sign)
    weights = _lse_weights(ans, a, axis, b, keepdims, return_sign)
    return _lse_tangent(t, ans, a, axis, b, keepdims, return_sign, weights)


def _lse_rank(ranks, args, kwargs):
    return_sign = args[4] if len(args) > 4 else kwargs.get("return_sign", False)
    rank = reduction(ranks[:1], args[:2], {"keepdims": args[3] if len(args) > 3 else kwargs.get("keepdims", False)})
    if return_sign is not False:
        return 1 if return_sign is True and rank == 0 else None  # a pair of scalars: indexable like a vector
    return rank


def _static_axis(axis, name):
    return _constant(axis, f"{name} with axis=")


defvjp(sc.logsumexp, _lse_da, None, _lse_db, None, None, ndim=_lse_rank)
defjvp(sc.logsumexp, _lse_ta, None, _lse_tb, None, None)
positional(sc.logsumexp, "a", ("axis", None), ("b", None))  # keepdims= and return_sign= stay keywords


# softmax: d s = s (d x - sum(s d x)); log_softmax: d l = d x - sum(exp(l) d x), along ``axis``.
def _softmax_rule(g, ans, x, axis=None):
    axis = _static_axis(axis, "scipy.special.softmax")
    return ans * (g - np.sum(g * ans, axis=axis, keepdims=True))


def _log_softmax_vjp(g, ans, x, axis=None):
    axis = _static_axis(axis, "scipy.special.log_softmax")
    return g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True)


def _log_softmax_jvp(t, ans, x, axis=None):
    axis = _static_axis(axis, "scipy.special.log_softmax")
    return t - np.sum(np.exp(ans) * t, axis=axis, keepdims=True)


for _fn in (sc.softmax, sc.log_softmax):
    positional(_fn, "x", ("axis", None))
defvjp(sc.softmax, _softmax_rule, None, ndim=same)
defjvp(sc.softmax, _softmax_rule, None)
defvjp(sc.log_softmax, _log_softmax_vjp, None, ndim=same)
defjvp(sc.log_softmax, _log_softmax_jvp, None)


# ---- more of scipy.special: SciPy's own exponentials, logs and degrees (distinct from NumPy's ufuncs) ----
_LN2, _LN10, _DEGREE = math.log(2.0), math.log(10.0), math.pi / 180.0
elementwise(sc.expm1, lambda g, ans, x: g * (ans + 1.0))
elementwise(sc.log1p, lambda g, ans, x: g / (1.0 + x))
elementwise(sc.exp2, lambda g, ans, x: g * ans * _LN2)
elementwise(sc.exp10, lambda g, ans, x: g * ans * _LN10)
elementwise(sc.cbrt, lambda g, ans, x: g / (3.0 * ans * ans))
elementwise(sc.sindg, lambda g, ans, x: g * _DEGREE * sc.cosdg(x))
elementwise(sc.cosdg, lambda g, ans, x: -g * _DEGREE * sc.sindg(x))
elementwise(sc.loggamma, lambda g, ans, x: g * sc.digamma(x))  # real x > 0
elementwise(sc.erfcx, lambda g, ans, x: g * (2.0 * x * ans - 2.0 / _SQRT_PI))  # exp(x^2) erfc(x)
elementwise(sc.dawsn, lambda g, ans, x: g * (1.0 - 2.0 * x * ans))
elementwise(sc.expi, lambda g, ans, x: g * np.exp(x) / x)  # Ei' = e^x / x
elementwise(sc.exp1, lambda g, ans, x: -g * np.exp(-x) / x)  # E1' = -e^-x / x
elementwise(sc.wrightomega, lambda g, ans, x: g * ans / (1.0 + ans))  # w + log w = x
if hasattr(sc, "softplus"):  # SciPy >= 1.15
    elementwise(sc.softplus, lambda g, ans, x: g * sc.expit(x))

# ---- more Bessel functions: J, Y of orders 0 and 1, modified K (and exponentially scaled kve = kv e^x) ----
elementwise(sc.j0, lambda g, ans, x: -g * sc.j1(x))
elementwise(sc.j1, lambda g, ans, x: g * 0.5 * (sc.j0(x) - sc.jv(2.0, x)))
elementwise(sc.y0, lambda g, ans, x: -g * sc.y1(x))
elementwise(sc.y1, lambda g, ans, x: g * 0.5 * (sc.y0(x) - sc.yv(2.0, x)))
elementwise(sc.k0, lambda g, ans, x: -g * sc.k1(x))
elementwise(sc.k1, lambda g, ans, x: -g * 0.5 * (sc.k0(x) + sc.kv(2.0, x)))
elementwise(sc.k0e, lambda g, ans, x: g * (ans - sc.k1e(x)))
elementwise(sc.k1e, lambda g, ans, x: g * (ans - 0.5 * (sc.k0e(x) + sc.kve(2.0, x))))
elementwise(sc.kv, _order("kv"), lambda g, ans, v, x: -g * 0.5 * (sc.kv(v - 1.0, x) + sc.kv(v + 1.0, x)))
elementwise(sc.kve, _order("kve"), lambda g, ans, v, x: g * (ans - 0.5 * (sc.kve(v - 1.0, x) + sc.kve(v + 1.0, x))))


# ---- regularized incomplete beta (in x), Huber losses, Box-Cox (in x; lmbda is a constant) ---------------
# d/dx I_x(a, b) = x^(a-1) (1-x)^(b-1) / B(a, b), with xlogy so that a = 1 at x = 0 gives 1.
def _betainc_dx(g, ans, a, b, x):
    return g * np.exp(sc.xlogy(a - 1.0, x) + sc.xlog1py(b - 1.0, -x) - sc.betaln(a, b))


_BETAINC = "write the derivative with a custom rule (sct.defvjp), or pass it as a constant"
elementwise(
    sc.betainc,
    refused("scipy.special.betainc", "a", _BETAINC),
    refused("scipy.special.betainc", "b", _BETAINC),
    _betainc_dx,
)
# huber(delta, r): r^2 / 2 inside |r| <= delta, delta (|r| - delta / 2) outside.
elementwise(
    sc.huber,
    lambda g, ans, delta, r: g * np.where(np.abs(r) <= delta, 0.0, np.abs(r) - delta),
    lambda g, ans, delta, r: g * np.clip(r, -delta, delta),
)


# pseudo_huber(delta, r) = delta^2 (sqrt(1 + (r / delta)^2) - 1).
def _root(delta, r):
    return np.sqrt(1.0 + (r / delta) ** 2)


elementwise(
    sc.pseudo_huber,
    lambda g, ans, delta, r: g * (2.0 * delta * (_root(delta, r) - 1.0) - r * r / (delta * _root(delta, r))),
    lambda g, ans, delta, r: g * r / _root(delta, r),
)
# boxcox(x, l) = (x^l - 1) / l (log x at l = 0): d/dx = x^(l - 1); its derivative in l needs the limit at
# l = 0 to every order, which sct does not model: refused.
_LMBDA = refused("the Box-Cox transforms", "lmbda")
elementwise(sc.boxcox, lambda g, ans, x, lmbda: g * np.exp((lmbda - 1.0) * np.log(x)), _LMBDA)
elementwise(sc.boxcox1p, lambda g, ans, x, lmbda: g * np.exp((lmbda - 1.0) * np.log1p(x)), _LMBDA)
# inv_boxcox(y, l) = (l y + 1)^(1 / l) (exp(y) at l = 0): d/dy = ans / (l y + 1).
elementwise(sc.inv_boxcox, lambda g, ans, y, lmbda: g * ans / (lmbda * y + 1.0), _LMBDA)
nondiff(sc.gammasgn, sc.round, ndim=broadcast)


__all__ = ["refused"]
