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

from .. import runtime
from ..errors import SctError
from ..symbolic import Sym, call
from .scipy_special import refused
from .table import defjvp, defvjp, elementwise, positional

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
def _T(x):
    return x.T if getattr(x, "ndim", None) == 2 else np.swapaxes(x, -1, -2)


def _lower(t):
    """The symmetric matrix SciPy sees in ``t``: it reads only the lower triangle."""
    return np.tril(t) + _T(np.tril(t, -1))


def _lower_grad(G):
    """The gradient in the lower triangle, from one that holds for symmetric perturbations."""
    return np.tril(G + _T(G)) - np.triu(np.tril(G))


def _cov_rank(cov):
    if not isinstance(cov, Sym):
        return 0  # a constant number: a multiple of the identity
    if cov.ndim not in (0, 1, 2):
        raise SctError("sct differentiates scipy.stats.multivariate_normal where the rank of cov is known")
    return cov.ndim


def _mvn_parts(x, mean, cov):
    """(residual, u, rank of cov) with u = cov^-1 (x - mean) for each row of x."""
    if not isinstance(x, Sym) or x.ndim not in (1, 2):
        raise SctError("sct differentiates scipy.stats.multivariate_normal for x of rank 1 or 2 (rows of samples)")
    r = x if mean is None or _static_number(mean, 0) else x - mean
    rank = _cov_rank(cov)
    if rank == 2:
        return r, r @ np.linalg.inv(_lower(cov)), rank
    return r, r / cov, rank


def _mvn_vjp(which, density):
    def rule(g, ans, x, mean=None, cov=1, allow_singular=False):
        g = g * ans if density else g
        r, u, rank = _mvn_parts(x, mean, cov)
        gu = np.expand_dims(g, -1) * u
        if which == "x":
            return -gu
        if which == "mean":
            return call(runtime.unbroadcast, gu, mean)
        if rank == 2:
            outer = np.outer(gu, u) if x.ndim == 1 else _T(gu) @ u
            return _lower_grad(-0.5 * (np.sum(g) * np.linalg.inv(_lower(cov)) - outer))
        share = -0.5 * (np.expand_dims(g, -1) / cov - gu * u)
        return np.sum(share) if rank == 0 else call(runtime.unbroadcast, share, cov)

    return rule


def _mvn_jvp(which, density):
    def rule(t, ans, x, mean=None, cov=1, allow_singular=False):
        r, u, rank = _mvn_parts(x, mean, cov)
        if which == "x":
            value = -np.sum(u * t, axis=-1)
        elif which == "mean":
            value = np.sum(u * t, axis=-1)
        elif rank == 2:
            tl = _lower(t)
            value = -0.5 * (np.sum(np.linalg.inv(_lower(cov)) * tl) - np.sum((u @ tl) * u, axis=-1))
        else:
            dimension = np.shape(x)[-1]
            trace = t * dimension / cov if rank == 0 else np.sum(t / cov)
            value = -0.5 * (trace - np.sum(u * u * t, axis=-1))
        value = np.reshape(value, np.shape(ans))  # SciPy squeezes a single row's result
        return ans * value if density else value

    return rule


def _one_sample(ranks, args, kwargs):
    """A single sample (x of rank 1) gives a scalar; SciPy squeezes a batch of one to a scalar too."""
    return 0 if ranks[0] == 1 else None


for _method, _density in (("logpdf", False), ("pdf", True)):
    _fn = getattr(st.multivariate_normal, _method)
    defvjp(
        _fn,
        *[_mvn_vjp(w, _density) for w in ("x", "mean", "cov")],
        None,
        ndim=_one_sample,
    )
    defjvp(_fn, *[_mvn_jvp(w, _density) for w in ("x", "mean", "cov")], None)
    positional(_fn, "x", ("mean", None), ("cov", 1))


# ---- dirichlet ---------------------------------------------------------------------------------------
def _column(alpha, x):
    """``alpha`` along the first axis of ``x`` (its components), to broadcast against it."""
    return alpha if x.ndim == 1 else np.expand_dims(alpha, -1)


def _dirichlet_parts(x, alpha):
    if not isinstance(x, Sym) or x.ndim not in (1, 2) or not isinstance(alpha, Sym) or alpha.ndim != 1:
        raise SctError("sct differentiates scipy.stats.dirichlet for alpha of rank 1 and x of rank 1 or 2")
    a = _column(alpha, x)
    return a, sc.digamma(np.sum(alpha)) - sc.digamma(a) + np.log(x)


def _dirichlet_vjp(which, density):
    def rule(g, ans, x, alpha):
        g = g * ans if density else g
        a, term = _dirichlet_parts(x, alpha)
        if which == "x":
            return g * (a - 1.0) / x
        share = g * term
        return share if x.ndim == 1 else np.sum(share, axis=-1)

    return rule


def _dirichlet_jvp(which, density):
    def rule(t, ans, x, alpha):
        a, term = _dirichlet_parts(x, alpha)
        value = np.sum(t * (a - 1.0) / x, axis=0) if which == "x" else np.sum(_column(t, x) * term, axis=0)
        value = value if x.ndim == 1 else np.reshape(value, np.shape(ans))
        return ans * value if density else value

    return rule


for _method, _density in (("logpdf", False), ("pdf", True)):
    _fn = getattr(st.dirichlet, _method)
    defvjp(
        _fn,
        _dirichlet_vjp("x", _density),
        _dirichlet_vjp("alpha", _density),
        ndim=_one_sample,
    )
    defjvp(_fn, _dirichlet_jvp("x", _density), _dirichlet_jvp("alpha", _density))
    positional(_fn, "x", "alpha")

__all__ = ["FAMILIES", "Family"]
