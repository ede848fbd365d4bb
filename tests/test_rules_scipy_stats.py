"""scipy.stats rules (issue 14, item 2): one rule per (distribution, method), against central differences.

Every operand (x, shape parameters, loc, scale) is checked in both modes to second order, positionally and
by keyword, with broadcasting; the tails of logcdf/logsf; discrete distributions in their rate or
probability; multivariate_normal in x, mean and cov (SciPy reads cov's lower triangle: the rule is exact
for any perturbation, symmetric or not); dirichlet. What has no closed form is refused, never zero.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import sct

st = pytest.importorskip("scipy.stats")

RNG = np.random.default_rng(214)
W3 = RNG.uniform(0.5, 1.5, 3)
W23 = RNG.uniform(0.5, 1.5, (2, 3))


def check(f, args, order=2, wrt=None, **tol):
    sct.check_grads(f, args, modes=("fwd", "rev"), order=order, wrt=wrt, **tol)


# (distribution, shape values, x range, loc, scale): x inside the support for that loc and scale.
FAMILIES = [
    (st.norm, (), (-2.0, 2.0), 0.3, 1.4),
    (st.cauchy, (), (-2.0, 2.0), 0.3, 1.4),
    (st.logistic, (), (-2.0, 2.0), 0.3, 1.4),
    (st.laplace, (), (-2.0, 2.0), 0.3, 1.4),
    (st.expon, (), (0.5, 3.0), 0.2, 1.3),
    (st.t, (3.5,), (-2.0, 2.0), 0.3, 1.4),
    (st.gamma, (2.5,), (0.6, 3.0), 0.2, 1.3),
    (st.chi2, (4.5,), (0.6, 3.0), 0.2, 1.3),
    (st.beta, (2.5, 1.7), (0.05, 0.9), -0.1, 1.3),
]
METHODS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")


def weighted(fn, n_shapes):
    """f(x, *shapes, loc, scale) = sum(w * fn(...)), every operand positional."""
    if n_shapes == 0:

        def f(x, loc, scale):
            return np.sum(fn(x, loc, scale) * W3)

    elif n_shapes == 1:

        def f(x, s, loc, scale):
            return np.sum(fn(x, s, loc, scale) * W3)

    else:

        def f(x, s, r, loc, scale):
            return np.sum(fn(x, s, r, loc, scale) * W3)

    return f


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dist, shapes, xs, loc, scale", FAMILIES, ids=[f[0].name for f in FAMILIES])
def test_family_every_operand(dist, shapes, xs, loc, scale, method):
    fn = getattr(dist, method)
    f = weighted(fn, len(shapes))
    x = RNG.uniform(*xs, 3)
    args = (x, *shapes, loc, scale)
    smooth = method in ("logpdf", "pdf")
    wrt = None if smooth else (0, len(args) - 2, len(args) - 1)  # cdf & co.: not in the shapes (refused)
    check(f, args, wrt=wrt)


@pytest.mark.parametrize("method", ["cdf", "logcdf", "sf", "logsf"])
@pytest.mark.parametrize("dist, shapes, xs, loc, scale", FAMILIES[5:], ids=[f[0].name for f in FAMILIES[5:]])
def test_cdf_in_a_shape_parameter_is_refused(dist, shapes, xs, loc, scale, method):
    f = weighted(getattr(dist, method), len(shapes))
    args = (RNG.uniform(*xs, 3), *shapes, loc, scale)
    with pytest.raises(sct.SctError, match="shape parameter"):
        sct.grad(f, wrt=1)(*args)
    with pytest.raises(sct.SctError, match="shape parameter"):
        sct.jvp(f, args, (np.zeros(3), 1.0, *[0.0] * (len(args) - 2)))


# ---- keywords, defaults, broadcasting -----------------------------------------------------------------------
def norm_keywords(x, m, s):
    return np.sum(st.norm.logpdf(x, loc=m, scale=s) * W3)


def norm_positions(x, m, s):
    return np.sum(st.norm.logpdf(x, m, s) * W3)


def norm_scale_only(x, s):
    return np.sum(st.norm.logpdf(x, scale=s) * W3)


def norm_all_keywords(x, m, s):
    return np.sum(st.norm.cdf(x=x, scale=s, loc=m) * W3)


def t_keywords(x, df, s):
    return np.sum(st.t.logpdf(x, df=df, scale=s) * W3)


def t_positions(x, df, s):
    return np.sum(st.t.logpdf(x, df, 0.0, s) * W3)


def test_keywords_differentiate_like_positions():
    x, m, s = RNG.uniform(-2.0, 2.0, 3), 0.4, 1.3
    check(norm_keywords, (x, m, s))
    check(norm_all_keywords, (x, m, s))
    for a, b in zip(sct.grad(norm_keywords, wrt=(0, 1, 2))(x, m, s), sct.grad(norm_positions, wrt=(0, 1, 2))(x, m, s)):
        np.testing.assert_allclose(a, b)
    check(norm_scale_only, (x, s))
    check(t_keywords, (x, 4.0, s))
    for a, b in zip(sct.grad(t_keywords, wrt=(0, 1, 2))(x, 4.0, s), sct.grad(t_positions, wrt=(0, 1, 2))(x, 4.0, s)):
        np.testing.assert_allclose(a, b)


def test_keyword_source_shows_the_positions():
    src = sct.grad(norm_scale_only, wrt=1).source
    assert "st.norm.logpdf(x, 0.0, s)" in src


def norm_broadcast(x, m, s):
    return np.sum(st.norm.logpdf(x, m, s) * W23) + np.sum(st.laplace.logsf(x, m, s) * W23)


def test_broadcasting_operands():
    x, m, s = RNG.uniform(-1.0, 1.0, (2, 3)), RNG.uniform(-0.5, 0.5, 3), RNG.uniform(0.8, 1.5, (2, 1))
    check(norm_broadcast, (x, m, s))
    grads = sct.grad(norm_broadcast, wrt=(0, 1, 2))(x, m, s)
    assert [g.shape for g in grads] == [(2, 3), (3,), (2, 1)]


def test_scalars():
    def f(x, m, s):
        return st.gamma.logpdf(x, 2.0, m, s) + st.logistic.cdf(x, m, s)

    check(f, (1.7, 0.1, 1.2))


# ---- tails ---------------------------------------------------------------------------------------------------
def norm_logcdf(x):
    return st.norm.logcdf(x) + st.norm.logsf(x)


@pytest.mark.parametrize("x", [-30.0, -5.0, 5.0, 30.0])
def test_log_cdf_and_sf_tails(x):
    g = sct.grad(norm_logcdf)(x)
    assert np.isfinite(g)
    check(norm_logcdf, (x,), rtol=1e-4)


# ---- discrete -----------------------------------------------------------------------------------------------
K = np.array([0.0, 1.0, 3.0])


@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
def test_poisson_in_mu(method):
    fn = getattr(st.poisson, method)

    def f(mu):
        return np.sum(fn(K, mu) * W3)

    def g(mu):
        return np.sum(fn(K + 2.0, mu, loc=2.0) * W3)  # loc by keyword, constant

    check(f, (1.7,))
    check(f, (np.array([0.6, 1.7, 2.4]),))
    check(g, (1.7,))
    np.testing.assert_allclose(sct.grad(f)(1.7), sct.grad(g)(1.7))


@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
def test_bernoulli_in_p(method):
    fn = getattr(st.bernoulli, method)
    k = np.array([0.0, -1.0 if method == "logsf" else 1.0, 0.0])  # logsf(1) is log 0

    def f(p):
        return np.sum(fn(k, p) * W3)

    check(f, (0.3,))
    check(f, (np.array([0.2, 0.5, 0.7]),))


def test_poisson_in_k_is_refused():
    def f(k, mu):
        return st.poisson.logpmf(k, mu)

    with pytest.raises(sct.SctError, match="integers"):
        sct.grad(f, wrt=0)(2.0, 1.5)


# ---- multivariate normal --------------------------------------------------------------------------------------
def spd(d):
    a = RNG.normal(size=(d, d))
    return a @ a.T + d * np.eye(d)


def mvn_logpdf(x, mean, cov):
    return np.sum(st.multivariate_normal.logpdf(x, mean, cov) * 1.3)


def mvn_pdf_keywords(x, mean, cov):
    return np.sum(st.multivariate_normal.pdf(x, mean=mean, cov=cov) * 1.3)


@pytest.mark.parametrize("f", [mvn_logpdf, mvn_pdf_keywords], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x_shape", [(3,), (4, 3), (1, 3)], ids=str)
def test_multivariate_normal(f, x_shape):
    x, mean, cov = RNG.normal(size=x_shape), RNG.normal(size=3), spd(3)
    check(f, (x, mean, cov))  # cov perturbed in every entry: the rule matches SciPy's lower-triangle reading


def test_multivariate_normal_cov_upper_triangle_has_no_effect():
    x, mean, cov = RNG.normal(size=(4, 3)), RNG.normal(size=3), spd(3)
    g = sct.grad(mvn_logpdf, wrt=2)(x, mean, cov)
    assert np.all(np.triu(g, 1) == 0.0)


def test_multivariate_normal_symmetric_cov_gives_the_symmetric_gradient():
    def f(x, mean, b):
        return np.sum(st.multivariate_normal.logpdf(x, mean, b @ b.T + np.eye(3)))

    check(f, (RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=(3, 3))))


def mvn_diagonal(x, mean, var):
    return np.sum(st.multivariate_normal.logpdf(x, mean, var))


def mvn_mean_only(x, mean):
    return np.sum(st.multivariate_normal.logpdf(x, mean))


@pytest.mark.parametrize("x_shape", [(3,), (4, 3)], ids=str)
def test_multivariate_normal_diagonal_and_scalar_cov(x_shape):
    x, mean = RNG.normal(size=x_shape), RNG.normal(size=3)
    check(mvn_diagonal, (x, mean, RNG.uniform(0.5, 2.0, 3)))
    check(mvn_diagonal, (x, mean, 1.7))
    check(mvn_mean_only, (x, mean))


# ---- dirichlet ------------------------------------------------------------------------------------------------
def dirichlet_alpha(alpha, x):
    return st.dirichlet.logpdf(x, alpha) * 1.5 + st.dirichlet.pdf(x, alpha)


def dirichlet_of_softmax(theta, alpha):
    e = np.exp(theta)
    return st.dirichlet.logpdf(e / np.sum(e), alpha) + st.dirichlet.pdf(e / np.sum(e), alpha) * 0.1


def test_dirichlet_in_alpha():
    alpha, x = np.array([1.5, 2.0, 3.2]), np.array([0.2, 0.3, 0.5])
    check(dirichlet_alpha, (alpha, x), wrt=0)


def test_dirichlet_in_x_along_the_simplex():
    check(dirichlet_of_softmax, (RNG.normal(size=3), np.array([1.5, 2.0, 3.2])))


# ---- how the rules are found -----------------------------------------------------------------------------------
def test_bound_methods_are_found_and_shared_methods_are_not_registered():
    from sct.rules.table import TABLE, lookup

    assert st.norm.logpdf == st.norm.logpdf and hash(st.norm.logpdf) == hash(st.norm.logpdf)
    assert lookup(st.norm.logpdf) is not None and lookup(st.t.cdf) is not None
    assert lookup(st.norm.logpdf) is not lookup(st.t.logpdf)
    shared = type(st.norm).__mro__[1].logpdf  # rv_continuous.logpdf, the plain function
    assert shared not in TABLE and lookup(st.lognorm.logpdf) is None


def test_a_distribution_without_rules_is_refused():
    def f(x):
        return st.lognorm.logpdf(x, 0.5)

    with pytest.raises(sct.NonDifferentiableError, match="lognorm"):
        sct.grad(f)(1.2)


# ---- operands held in module globals (ranks the compiler does not know) ------------------------------------
SIGMA = spd(3)
MU = np.array([0.1, -0.2, 0.3])
DATA = RNG.normal(size=(5, 3))
ALPHA = np.array([1.5, 2.0, 3.2])


def mvn_global_cov(x):
    return np.sum(st.multivariate_normal.logpdf(x, MU, SIGMA))


def mvn_fit(mean, b, s):
    """A maximum-likelihood fit: the data are a global, the parameters are differentiated."""
    cov = b @ b.T + s * np.eye(3)
    return np.sum(st.multivariate_normal.logpdf(DATA, mean=mean, cov=cov))


def mvn_global_scaled(x, s):
    return np.sum(st.multivariate_normal.pdf(x, MU, s * SIGMA))


def dirichlet_global_alpha(theta):
    e = np.exp(theta)
    return st.dirichlet.logpdf(e / np.sum(e), ALPHA)


def test_globals_of_unknown_rank():
    check(mvn_global_cov, (RNG.normal(size=(4, 3)),))
    check(mvn_global_cov, (RNG.normal(size=3),))
    check(mvn_fit, (RNG.normal(size=3), RNG.normal(size=(3, 3)), 1.3))
    check(mvn_global_scaled, (RNG.normal(size=(2, 3)), 0.8))
    check(dirichlet_global_alpha, (RNG.normal(size=3),))


def test_multivariate_normal_source_solves_once_per_use():
    src = sct.grad(mvn_fit, wrt=(0, 1, 2)).source
    assert "precision_times(DATA - mean, cov)" in src and "cov_matrix_grad(" in src


# ---- for all broadcastable shapes ------------------------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=2, max_side=3), hst.integers(0, 2**16))
def test_location_scale_broadcasting_for_all_shapes(shapes, seed):
    rng = np.random.default_rng(seed)
    x_shape, loc_shape, scale_shape = shapes.input_shapes

    def draw(shape, low, high):
        return rng.uniform(low, high, shape) if shape else float(rng.uniform(low, high))

    x, m, s = draw(x_shape, -1.5, 1.5), draw(loc_shape, -0.5, 0.5), draw(scale_shape, 0.7, 1.5)
    check(norm_broadcast_any, (x, m, s), order=1)
    grads = sct.grad(norm_broadcast_any, wrt=(0, 1, 2))(x, m, s)
    assert [np.shape(g) for g in grads] == [np.shape(x), np.shape(m), np.shape(s)]


def norm_broadcast_any(x, m, s):
    return np.sum(st.norm.logcdf(x, m, s) * 1.3) + np.sum(st.t.logpdf(x, 4.0, m, s))
