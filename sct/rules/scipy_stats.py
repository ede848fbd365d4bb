"""Rules for ``scipy.stats``, registered per distribution and method (``scipy.stats.norm.logpdf``...).

``scipy.stats.norm.logpdf`` is a bound method: every lookup makes a new one, but they compare and
hash equal, so the table entry keyed by it is found. Nothing is registered on the methods the
distributions share (``rv_continuous.logpdf``): a distribution without rules is refused.

Continuous distributions take ``(x, *shapes, loc=0, scale=1)``, discrete ones ``(k, *shapes, loc=0)``;
keyword operands are moved to their positions by the lowering (:func:`sct.rules.table.positional`),
so ``norm.logpdf(x, loc=m, scale=s)`` differentiates in ``m`` and ``s``. With ``z = (x - loc) / scale``
and ``f0`` the standard density, each rule is one partial derivative (the same rule serves both modes):

* ``logpdf``: ``d/dx = (log f0)'(z) / scale``, ``d/dloc = -d/dx``, ``d/dscale = -(z (log f0)'(z) + 1) / scale``,
  and the shape parameters' partials of ``log f0`` (digamma and friends); ``pdf``: the same times ``pdf``.
* ``cdf``: ``d/dx = pdf``, ``d/dloc = -pdf``, ``d/dscale = -z pdf``; ``sf = 1 - cdf``; ``logcdf`` and
  ``logsf`` divide by ``cdf`` and ``sf`` (as ``exp(logpdf - ans)``). Their derivatives in a shape
  parameter (t's df, gamma's a, ...) have no closed form: refused with a typed error.
* Discrete: derivatives in the rate or probability (``mu``, ``p``); ``k`` and ``loc`` are integers, refused.

``multivariate_normal.logpdf/pdf(x, mean, cov)``: SciPy reads only the lower triangle of ``cov`` (as
``np.linalg.cholesky`` does), so the rule gives the derivative of exactly that function; for a
symmetric ``cov`` built from other values it is the usual symmetric gradient. ``dirichlet.logpdf/pdf``:
``x`` has the components along its first axis; its derivative in ``x`` is the ambient gradient
``(alpha - 1) / x``, exact along the simplex (where SciPy defines the density).
"""

import math

import numpy as np
import scipy.special as sc
import scipy.stats as st

from ..backend import runtime
from ..backend.stats_helpers import (
    components_first,
    components_sum,
    cov_matrix,
    cov_matrix_grad,
    outer_sum,
    precision_times,
)
from ..errors import SctError
from ..symbolic import Sym, call
from .scipy_special import refused
from .table import defjvp, defvjp, elementwise, linear, positional

_LOG2 = math.log(2.0)
CONTINUOUS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")
DISCRETE = ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf")


def _static_number(v, value) -> bool:
    return not isinstance(v, Sym) and isinstance(v, int | float) and v == value


def _standardized(x, loc, scale):
    """``(x - loc) / scale``, without the no-op parts of the defaults."""
    z = x if _static_number(loc, 0) else x - loc
    return z if _static_number(scale, 1) else z / scale


def _over(value, scale):
    return value if _static_number(scale, 1) else value / scale


# ---- location-scale families with shape parameters ----------------------------------------------
class Family:
    """A continuous distribution: ``dlog0(z, *shapes)`` is ``(log f0)'(z)``, ``dshape[k](z, *shapes)``
    the partial of ``log f0`` in shape parameter k."""

    def __init__(self, dist, shapes=(), dlog0=None, dshape=()):
        self.dist, self.shapes, self.dlog0, self.dshape = dist, shapes, dlog0, dshape
        self.name = dist.name

    def split(self, x, rest, kwargs):
        if kwargs:
            raise SctError(f"sct differentiates scipy.stats.{self.name} with the operands x, shapes, loc, scale only")
        n = len(self.shapes)
        shapes, extra = list(rest[:n]), list(rest[n:])
        loc = extra[0] if extra else 0.0
        scale = extra[1] if len(extra) > 1 else 1.0
        return shapes, loc, scale

    def partial(self, method, which):
        """The rule for operand ``which`` ("x", "loc", "scale" or a shape's index) of ``method``."""
        if isinstance(which, int) and method not in ("logpdf", "pdf"):
            shape = f"its shape parameter {self.shapes[which]!r}"
            return refused(f"scipy.stats.{self.name}.{method}", shape, "it has no closed form; pass it as a constant")

        def rule(g, ans, x, *rest, **kwargs):
            shapes, loc, scale = self.split(x, rest, kwargs)
            z = _standardized(x, loc, scale)
            return g * self.derivative(method, which, ans, z, shapes, scale, (x, *rest))

        return rule

    def derivative(self, method, which, ans, z, shapes, scale, args):
        if method in ("logpdf", "pdf"):
            value = self.dlogpdf(which, z, shapes, scale)
            return value if method == "logpdf" else ans * value
        density = {
            "cdf": lambda: call(self.dist.pdf, *args),
            "sf": lambda: -call(self.dist.pdf, *args),
            "logcdf": lambda: np.exp(call(self.dist.logpdf, *args) - ans),
            "logsf": lambda: -np.exp(call(self.dist.logpdf, *args) - ans),
        }[method]()
        if which == "x":  # the density of x (with loc and scale) already holds 1 / scale
            return density
        if which == "loc":
            return -density
        return -z * density

    def dlogpdf(self, which, z, shapes, scale):
        if isinstance(which, int):
            return self.dshape[which](z, *shapes)
        slope = self.dlog0(z, *shapes)
        if which == "x":
            return _over(slope, scale)
        if which == "loc":
            return -_over(slope, scale)
        return -_over(z * slope + 1.0, scale)

    def register(self):
        operands = ["x", *range(len(self.shapes)), "loc", "scale"]
        for method in CONTINUOUS:
            fn = getattr(self.dist, method)
            elementwise(fn, *[self.partial(method, which) for which in operands])
            positional(fn, "x", *self.shapes, ("loc", 0.0), ("scale", 1.0))


def _t_ddf(z, df):
    z2 = z * z
    return 0.5 * (
        sc.digamma(0.5 * (df + 1.0))
        - sc.digamma(0.5 * df)
        - 1.0 / df
        - np.log1p(z2 / df)
        + (df + 1.0) * z2 / (df * (df + z2))
    )


FAMILIES = [
    Family(st.norm, dlog0=lambda z: -z),
    Family(st.cauchy, dlog0=lambda z: -2.0 * z / (1.0 + z * z)),
    Family(st.logistic, dlog0=lambda z: -np.tanh(0.5 * z)),
    Family(st.laplace, dlog0=lambda z: -np.sign(z)),
    Family(st.expon, dlog0=lambda z: -1.0),  # z >= 0 (the density is 0 below)
    Family(st.t, ("df",), lambda z, df: -(df + 1.0) * z / (df + z * z), (_t_ddf,)),
    Family(
        st.gamma,
        ("a",),
        lambda z, a: (a - 1.0) / z - 1.0,
        (lambda z, a: np.log(z) - sc.digamma(a),),
    ),
    Family(
        st.chi2,
        ("df",),
        lambda z, df: (0.5 * df - 1.0) / z - 0.5,
        (lambda z, df: 0.5 * (np.log(z) - _LOG2 - sc.digamma(0.5 * df)),),
    ),
    Family(
        st.beta,
        ("a", "b"),
        lambda z, a, b: (a - 1.0) / z - (b - 1.0) / (1.0 - z),
        (
            lambda z, a, b: np.log(z) - sc.digamma(a) + sc.digamma(a + b),
            lambda z, a, b: np.log1p(-z) - sc.digamma(b) + sc.digamma(a + b),
        ),
    ),
]
for _family in FAMILIES:
    _family.register()


# ---- discrete distributions ---------------------------------------------------------------------------
def _discrete(dist, shape, dlogpmf, dcdf):
    """``dlogpmf(k, s)``: the partial of logpmf in the shape ``s``; ``dcdf(k, s, args)``: of the cdf."""
    name = dist.name

    def partial(method):
        def rule(g, ans, k, s, *loc, **kwargs):
            if kwargs:
                raise SctError(f"sct differentiates scipy.stats.{name} with the operands k, {shape}, loc only")
            k = k if not loc or _static_number(loc[0], 0) else k - loc[0]
            if method in ("logpmf", "pmf"):
                value = dlogpmf(k, s)
                return g * (value if method == "logpmf" else ans * value)
            slope = dcdf(k, s, (k, s))
            if method == "cdf":
                return g * slope
            if method == "sf":
                return -g * slope
            # log cdf: slope / cdf, taken as 0 where the slope is (also where cdf is 0: log cdf is -inf there)
            share = slope / np.where(np.equal(slope, 0.0), 1.0, np.exp(ans))
            return g * share if method == "logcdf" else -g * share  # logsf: sf = 1 - cdf

        return rule

    integer = refused(f"scipy.stats.{name}", "k or loc (integers)", "pass them as constants")
    for method in DISCRETE:
        fn = getattr(dist, method)
        elementwise(fn, integer, partial(method), integer)
        positional(fn, "k", shape, ("loc", 0))


# poisson: logpmf = k log mu - mu - log k!; cdf(k) = Q(floor(k) + 1, mu), whose mu-derivative is -pmf(floor(k)).
_discrete(
    st.poisson,
    "mu",
    lambda k, mu: k / mu - 1.0,
    lambda k, mu, args: -call(st.poisson.pmf, np.floor(k), mu),
)


# bernoulli: logpmf = k log p + (1 - k) log(1 - p) on {0, 1}; cdf = 1 - p on [0, 1), 0 below, 1 above.
def _in_first_step(k):
    return np.logical_and(k >= 0.0, k < 1.0)


_discrete(
    st.bernoulli,
    "p",
    lambda k, p: k / p - (1.0 - k) / (1.0 - p),
    lambda k, p, args: np.where(_in_first_step(k), -1.0, 0.0),
)


# ---- multivariate normal ------------------------------------------------------------------------------
# The covariance SciPy sees is cov_matrix(cov): c I for a number, diag(v) for a vector, the lower triangle
# mirrored for a matrix; cov_matrix_grad takes a matrix gradient back to cov's shape. Both decide at run
# time, so a covariance or data set held in a global (rank unknown to the compiler) works too.
def _T(x):
    return x.T if getattr(x, "ndim", None) == 2 else np.swapaxes(x, -1, -2)


def _residual(x, mean):
    return x if mean is None or _static_number(mean, 0) else x - mean


def _rank(v):
    return v.ndim if isinstance(v, Sym) else np.ndim(v)


def _back_to(value, operand, other):
    """``value`` (shaped like ``operand`` broadcast against ``other``) summed back to ``operand``'s shape."""
    mine, theirs = _rank(operand), _rank(other)
    if mine is not None and theirs is not None and mine >= theirs:
        return value
    return call(runtime.unbroadcast, value, operand)


def _mvn_parts(x, mean, cov):
    """The residual r = x - mean and u = r C^-1 (C the covariance SciPy sees), row by row."""
    r = _residual(x, mean)
    return r, call(precision_times, r, cov)


def _precision(cov, r):
    return np.linalg.inv(call(cov_matrix, cov, r))


def _mvn_vjp(which, density):
    def rule(g, ans, x, mean=None, cov=1, allow_singular=False):
        g = g * ans if density else g
        r, u = _mvn_parts(x, mean, cov)
        gu = np.expand_dims(g, -1) * u
        if which == "x":
            return _back_to(-gu, x, mean)
        if which == "mean":
            return _back_to(gu, mean, x)
        outer = np.outer(gu, u) if _rank(x) == 1 else call(outer_sum, gu, u)
        return call(cov_matrix_grad, -0.5 * (np.sum(g) * _precision(cov, r) - outer), cov)

    return rule


def _mvn_jvp(which, density):
    def rule(t, ans, x, mean=None, cov=1, allow_singular=False):
        r, u = _mvn_parts(x, mean, cov)
        if which == "x":
            value = -np.sum(u * t, axis=-1)
        elif which == "mean":
            value = np.sum(u * t, axis=-1)
        else:
            tm = call(cov_matrix, t, r)
            value = -0.5 * (np.sum(_precision(cov, r) * tm) - np.sum((u @ tm) * u, axis=-1))
        if _rank(x) != 1:
            value = np.reshape(value, np.shape(ans))  # SciPy squeezes a single row's result
        return ans * value if density else value

    return rule


def _one_sample(ranks, args, kwargs):
    """A single sample (x of rank 1) gives a scalar; SciPy squeezes a batch of one to a scalar too."""
    return 0 if ranks[0] == 1 else None


for _method, _density in (("logpdf", False), ("pdf", True)):
    _fn = getattr(st.multivariate_normal, _method)
    defvjp(_fn, *[_mvn_vjp(w, _density) for w in ("x", "mean", "cov")], None, ndim=_one_sample)
    defjvp(_fn, *[_mvn_jvp(w, _density) for w in ("x", "mean", "cov")], None)
    positional(_fn, "x", ("mean", None), ("cov", 1))

# cov_matrix is linear in cov, cov_matrix_grad in G; each is the other's adjoint.
linear(cov_matrix, lambda G, ans, cov, like: call(cov_matrix_grad, G, cov), ndim=lambda r, a, k: 2, rest=(None,))
linear(cov_matrix_grad, lambda G, ans, M, cov: call(cov_matrix, G, M), ndim=lambda r, a, k: r[1], rest=(None,))
# u = precision_times(v, cov) = v C^-1: linear in v (C symmetric: its own adjoint); du = -u dC C^-1 in cov.
defvjp(
    precision_times,
    lambda G, ans, v, cov: call(precision_times, G, cov),
    lambda G, ans, v, cov: call(cov_matrix_grad, -call(outer_sum, ans, call(precision_times, G, cov)), cov),
    ndim=lambda r, a, k: r[0],
)
defjvp(
    precision_times,
    lambda t, ans, v, cov: call(precision_times, t, cov),
    lambda t, ans, v, cov: -call(precision_times, ans @ call(cov_matrix, t, v), cov),
)
# outer_sum(a, b) = rows(a)^T rows(b): bilinear.
defvjp(outer_sum, lambda G, ans, a, b: b @ G.T, lambda G, ans, a, b: a @ G, ndim=lambda r, a, k: 2)
defjvp(outer_sum, lambda t, ans, a, b: call(outer_sum, t, b), lambda t, ans, a, b: call(outer_sum, a, t))


# ---- dirichlet ---------------------------------------------------------------------------------------
# x holds the components along its first axis (one sample, or one per column); components_first lays
# alpha along that axis and components_sum sums a share back to alpha's shape.
def _dirichlet_parts(x, alpha):
    a = call(components_first, alpha, x)
    return a, sc.digamma(np.sum(alpha)) - sc.digamma(a) + np.log(x)


def _dirichlet_vjp(which, density):
    def rule(g, ans, x, alpha):
        g = g * ans if density else g
        a, term = _dirichlet_parts(x, alpha)
        if which == "x":
            return g * (a - 1.0) / x
        return call(components_sum, g * term, alpha)

    return rule


def _dirichlet_jvp(which, density):
    def rule(t, ans, x, alpha):
        a, term = _dirichlet_parts(x, alpha)
        if which == "x":
            value = np.sum(t * (a - 1.0) / x, axis=0)
        else:
            value = np.sum(call(components_first, t, x) * term, axis=0)
        if _rank(x) != 1:
            value = np.reshape(value, np.shape(ans))
        return ans * value if density else value

    return rule


for _method, _density in (("logpdf", False), ("pdf", True)):
    _fn = getattr(st.dirichlet, _method)
    defvjp(_fn, _dirichlet_vjp("x", _density), _dirichlet_vjp("alpha", _density), ndim=_one_sample)
    defjvp(_fn, _dirichlet_jvp("x", _density), _dirichlet_jvp("alpha", _density))
    positional(_fn, "x", "alpha")

linear(
    components_first,
    lambda G, ans, alpha, x: call(components_sum, G, alpha),
    ndim=lambda r, a, k: r[1],
    rest=(None,),
)
linear(
    components_sum,
    lambda G, ans, share, alpha: np.broadcast_to(call(components_first, G, share), np.shape(share)),
    ndim=lambda r, a, k: r[1],
    rest=(None,),
)

__all__ = ["FAMILIES", "Family"]
