"""scipy.special rules (issue 14, item 1): each against central differences in both modes, to second order.

Functions are checked at generic points drawn from their domains, with broadcasting operands, and at
edge points (0 for erf and xlogy, the tails of log_ndtr and expit, 0 for the Bessel functions). Operands
sct does not differentiate (orders, gammainc's a) are refused with a typed error, never a zero.
"""

import subprocess
import sys

import numpy as np
import pytest

import sct

sc = pytest.importorskip("scipy.special")

RNG = np.random.default_rng(14)
W4 = RNG.uniform(0.5, 1.5, 4)  # weights, so that the output's adjoint is not all ones
W23 = RNG.uniform(0.5, 1.5, (2, 3))
W34 = RNG.uniform(0.5, 1.5, (3, 4))


def check(f, args, order=2, wrt=None, **tol):
    sct.check_grads(f, args, modes=("fwd", "rev"), order=order, wrt=wrt, **tol)


def weighted(fn):
    def f(x):
        return np.sum(fn(x) * W4)

    return f


def weighted2(fn):
    def f(x, y):
        return np.sum(fn(x, y) * W23)

    return f


# ---- unary functions at generic points ----------------------------------------------------------
UNARY = [
    (sc.gammaln, 0.3, 4.0),
    (sc.gamma, 0.3, 3.0),
    (sc.digamma, 0.3, 4.0),
    (sc.psi, 0.3, 4.0),
    (sc.erf, -2.0, 2.0),
    (sc.erfc, -2.0, 2.0),
    (sc.erfinv, -0.9, 0.9),
    (sc.erfcinv, 0.1, 1.9),
    (sc.expit, -3.0, 3.0),
    (sc.logit, 0.1, 0.9),
    (sc.log_expit, -3.0, 3.0),
    (sc.ndtr, -3.0, 3.0),
    (sc.log_ndtr, -5.0, 5.0),
    (sc.ndtri, 0.05, 0.95),
    (sc.entr, 0.1, 2.0),
    (sc.i0, -2.0, 2.0),
    (sc.i1, -2.0, 2.0),
    (sc.i0e, -2.0, 2.0),
    (sc.i1e, -2.0, 2.0),
]


@pytest.mark.parametrize("fn, low, high", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_unary(fn, low, high):
    x = RNG.uniform(low, high, 4)
    check(weighted(fn), (x,))


@pytest.mark.parametrize("fn, low, high", UNARY[:4], ids=[u[0].__name__ for u in UNARY[:4]])
def test_unary_scalar_argument(fn, low, high):
    def f(x):
        return fn(x) * 1.5

    check(f, (float(RNG.uniform(low, high)),))


def test_generated_source_names_the_scipy_derivative():
    src = sct.grad(weighted(sc.gammaln)).source
    assert "scipy.special.digamma(x)" in src
    src = sct.grad(weighted(sc.digamma)).source
    assert "scipy.special.polygamma(1, x)" in src


# ---- binary functions, broadcasting ------------------------------------------------------------
BINARY = [
    (sc.betaln, (0.5, 3.0), (0.5, 3.0)),
    (sc.beta, (0.5, 3.0), (0.5, 3.0)),
    (sc.xlogy, (-1.0, 2.0), (0.2, 3.0)),
    (sc.xlog1py, (-1.0, 2.0), (-0.5, 2.0)),
    (sc.rel_entr, (0.2, 2.0), (0.2, 2.0)),
    (sc.kl_div, (0.2, 2.0), (0.2, 2.0)),
]
SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((1, 3), (2, 1)), ((2, 3), ())]


@pytest.mark.parametrize("fn, xs, ys", BINARY, ids=[b[0].__name__ for b in BINARY])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_binary_broadcasting(fn, xs, ys, shapes):
    x = RNG.uniform(*xs, shapes[0])
    y = RNG.uniform(*ys, shapes[1]) if shapes[1] else float(RNG.uniform(*ys))
    check(weighted2(fn), (x, y))
    grads = sct.grad(weighted2(fn), wrt=(0, 1))(x, y)
    assert np.shape(grads[0]) == np.shape(x) and np.shape(grads[1]) == np.shape(y)


# ---- functions with a constant order or shape ----------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2])
def test_polygamma(n):
    def f(x):
        return np.sum(sc.polygamma(n, x) * W4)

    check(f, (RNG.uniform(0.5, 3.0, 4),))


ORDERED = [(sc.iv, 0.1, 3.0), (sc.ive, -3.0, 3.0), (sc.jv, 0.1, 8.0), (sc.yv, 0.5, 8.0)]


@pytest.mark.parametrize("fn, low, high", ORDERED, ids=[o[0].__name__ for o in ORDERED])
@pytest.mark.parametrize("v", [0.0, 1.0, 2.5])
def test_bessel_constant_order(fn, low, high, v):
    if fn is sc.ive and v == 2.5:
        low = 0.1  # a non-integer order is defined for x > 0 only
    x = RNG.uniform(low, high, 4)

    def f(x):
        return np.sum(fn(v, x) * W4)

    check(f, (x,))


def test_bessel_array_of_orders_broadcasts():
    v = np.array([[0.0], [1.0]])

    def f(x):
        return np.sum(sc.jv(v, x) * W23)

    check(f, (RNG.uniform(0.5, 5.0, 3),))


@pytest.mark.parametrize("fn", [sc.gammainc, sc.gammaincc], ids=lambda f: f.__name__)
@pytest.mark.parametrize("a", [0.7, 1.0, 3.5, np.array([0.5, 2.0, 4.0])], ids=str)
def test_incomplete_gamma_in_x(fn, a):
    def f(x):
        return np.sum(fn(a, x) * W23)

    check(f, (RNG.uniform(0.2, 4.0, (2, 3)),))


def test_multigammaln():
    def f(a):
        return sc.multigammaln(a, 3) * 2.0

    check(f, (2.7,))

    def g(a):
        return np.sum(sc.multigammaln(a, 4) * W4)

    check(g, (RNG.uniform(2.0, 5.0, 4),))


# ---- logsumexp, softmax, log_softmax -----------------------------------------------------------------
A34 = RNG.normal(size=(3, 4))


# axis= and keepdims= reach the rule as literals (a closure variable is refused: see below).
def lse_all(a):
    return sc.logsumexp(a) * 1.5


def lse_rows(a):
    return np.sum(sc.logsumexp(a, axis=0) * W4)


def lse_columns_kept(a):
    return np.sum(sc.logsumexp(a, axis=1, keepdims=True) * np.array([[1.0], [2.0], [3.0]]))


def lse_last(a):
    return np.sum(sc.logsumexp(a, axis=-1) * np.array([1.0, 2.0, 3.0]))


def lse_tuple_kept(a):
    return np.sum(sc.logsumexp(a, axis=(0, 1), keepdims=True) * 2.0)


def lse_none_kept(a):
    return np.sum(sc.logsumexp(a, None, keepdims=True) * 2.0)


@pytest.mark.parametrize(
    "f", [lse_all, lse_rows, lse_columns_kept, lse_last, lse_tuple_kept, lse_none_kept], ids=lambda f: f.__name__
)
def test_logsumexp_axis_keepdims(f):
    check(f, (A34,))


def test_logsumexp_axis_from_a_variable_is_refused():
    axis = 0

    def f(a):
        return np.sum(sc.logsumexp(a, axis=axis))

    with pytest.raises(sct.SctError, match="axis= written as a literal"):
        sct.grad(f)(A34)


@pytest.mark.parametrize("b_shape", [(3, 4), (4,), (3, 1)], ids=str)
def test_logsumexp_b_by_keyword_and_position(b_shape):
    b = RNG.uniform(0.5, 2.0, b_shape)

    def by_keyword(a, b):
        return np.sum(sc.logsumexp(a, axis=1, b=b) * np.array([1.0, 2.0, 3.0]))

    def by_position(a, b):
        return np.sum(sc.logsumexp(a, 1, b) * np.array([1.0, 2.0, 3.0]))

    check(by_keyword, (A34, b))
    check(by_position, (A34, b))
    g1 = sct.grad(by_keyword, wrt=(0, 1))(A34, b)
    g2 = sct.grad(by_position, wrt=(0, 1))(A34, b)
    np.testing.assert_allclose(g1[0], g2[0])
    np.testing.assert_allclose(g1[1], g2[1])
    assert g1[1].shape == b.shape


def test_logsumexp_return_sign():
    b = np.array([1.0, -0.5, 2.0, -0.2])  # mixed signs: the sum may be negative

    def f(a):
        value, sign = sc.logsumexp(a, b=b, return_sign=True)
        return value * 3.0 + sign

    a = np.array([0.3, 0.9, -0.4, 1.2])
    check(f, (a,))
    check(f, (np.array([0.3, 2.9, -0.4, 1.2]),))  # a negative sum: sign -1


def test_logsumexp_minus_infinity_entries():
    def f(a):
        return sc.logsumexp(a + np.array([0.0, -np.inf, 0.0]))

    g = sct.grad(f)(np.array([0.2, 0.5, -0.1]))
    assert g[1] == 0.0 and np.all(np.isfinite(g))
    check(f, (np.array([0.2, 0.5, -0.1]),))


def softmax_all(x):
    return np.sum(sc.softmax(x) ** 2 * W34)


def softmax_rows(x):
    return np.sum(sc.softmax(x, axis=0) ** 2 * W34)


def softmax_last(x):
    return np.sum(sc.softmax(x, axis=-1) ** 2 * W34)


def log_softmax_all(x):
    return np.sum(sc.log_softmax(x) ** 2 * W34)


def log_softmax_columns(x):
    return np.sum(sc.log_softmax(x, axis=1) ** 2 * W34)


def log_softmax_rows(x):
    return np.sum(sc.log_softmax(x, 0) ** 2 * W34)


SOFTMAXES = [softmax_all, softmax_rows, softmax_last, log_softmax_all, log_softmax_columns, log_softmax_rows]


@pytest.mark.parametrize("f", SOFTMAXES, ids=lambda f: f.__name__)
def test_softmax_axis(f):
    check(f, (A34,))


def test_softmax_axis_by_position_and_vector():
    def f(x):
        return np.sum(sc.softmax(x, 0) * W4) + np.sum(sc.log_softmax(x) * W4)

    check(f, (RNG.normal(size=4),))


# ---- edge points ---------------------------------------------------------------------------------
def test_erf_at_zero():
    def f(x):
        return sc.erf(x) + sc.erfc(x) * 2.0 + sc.erfinv(x)

    check(f, (0.0,))
    assert sct.grad(f)(0.0) == pytest.approx((1.0 - 2.0) * 2.0 / np.sqrt(np.pi) + np.sqrt(np.pi) / 2.0)


def test_xlogy_at_x_zero():
    def f(x, y):
        return np.sum(sc.xlogy(x, y)) + np.sum(sc.xlog1py(x, y))

    x, y = np.array([0.0, 0.0, 1.5]), np.array([0.5, 2.0, 0.7])
    check(f, (x, y))
    gx, gy = sct.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.log(y) + np.log1p(y))  # d/dx x log y = log y, also at x = 0
    assert gy[0] == 0.0 and gy[1] == 0.0


def test_xlogy_at_both_zero_has_zero_derivative_in_y():
    """xlogy(0, y) is 0 for every y >= 0: its derivative in y is 0 at y = 0, not 0 / 0."""

    def f(y):
        return np.sum(sc.xlogy(np.array([0.0, 2.0]), y))

    g = sct.grad(f)(np.array([0.0, 1.0]))
    assert g[0] == 0.0 and g[1] == 2.0
    _, t = sct.jvp(f, (np.array([0.0, 1.0]),), (np.array([1.0, 0.0]),))
    assert t == 0.0


@pytest.mark.parametrize("x", [-30.0, -8.0, 8.0, 30.0])
def test_log_ndtr_tails(x):
    def f(x):
        return sc.log_ndtr(x)

    check(f, (x,), rtol=1e-4)
    g = sct.grad(f)(x)
    assert np.isfinite(g)
    # phi(x) / Phi(x): about -x in the left tail, about phi(x) (tiny, not NaN) in the right one
    assert g == pytest.approx(np.exp(-0.5 * x * x - sc.log_ndtr(x)) / np.sqrt(2 * np.pi))


@pytest.mark.parametrize("x", [-40.0, 40.0])
def test_expit_tails_are_finite(x):
    def f(x):
        return sc.expit(x) + sc.log_expit(x)

    g = sct.grad(f)(x)
    assert np.isfinite(g)
    assert g == pytest.approx(sc.expit(x) * sc.expit(-x) + sc.expit(-x), abs=1e-15)


def test_ndtri_near_the_ends():
    def f(p):
        return np.sum(sc.ndtri(p))

    check(f, (np.array([1e-6, 0.5, 1.0 - 1e-6]),), eps=1e-9, rtol=1e-3)


def test_bessel_at_zero():
    def f(x):
        return sc.i0(x) + sc.i1(x) * 2.0 + sc.i0e(x) * 0.5 + sc.i1e(x) * 3.0 + sc.jv(1.0, x) + sc.iv(2.0, x)

    check(f, (0.0,), order=1)
    # i0' = i1(0) = 0, i1' = 1/2, i1e' = 1/2, jv(1, .)' = 1/2, iv(2, .)' = 0; i0e = e^-|x| i0 is even with a kink
    # at 0 (one-sided slopes -1 and 1): the rule takes sign(0) = 0, the central difference
    assert sct.grad(f)(0.0) == pytest.approx(0.0 + 2.0 * 0.5 + 0.0 + 3.0 * 0.5 + 0.5 + 0.0)


def test_gammainc_at_zero():
    def f(x):
        return sc.gammainc(1.0, x) + sc.gammainc(3.0, x)

    assert sct.grad(f)(0.0) == pytest.approx(1.0)  # e^0 0^0 / Gamma(1) = 1, and 0 for a = 3
    _, t = sct.jvp(f, (0.0,), (1.0,))
    assert t == pytest.approx(1.0)


# ---- refusals: no zero derivative where sct has none -------------------------------------------------
def polygamma_in_n(n, x):
    return sc.polygamma(n, x)


def gammainc_in_a(a, x):
    return sc.gammainc(a, x)


def gammaincc_in_a(a, x):
    return sc.gammaincc(a, x)


def iv_in_v(v, x):
    return sc.iv(v, x)


def jv_in_v(v, x):
    return sc.jv(v * 1.0, x)


REFUSED = [polygamma_in_n, gammainc_in_a, gammaincc_in_a, iv_in_v, jv_in_v]


@pytest.mark.parametrize("f", REFUSED, ids=lambda f: f.__name__)
def test_order_and_shape_operands_are_refused(f):
    with pytest.raises(sct.SctError, match="no derivative of scipy.special"):
        sct.grad(f, wrt=0)(2.0, 1.5)
    with pytest.raises(sct.SctError, match="no derivative of scipy.special"):
        sct.jvp(f, (2.0, 1.5), (1.0, 0.0))
    sct.check_grads(f, (2.0, 1.5), modes=("fwd", "rev"), wrt=1)  # the other operand is fine


def test_logsumexp_b_keyword_after_return_sign_still_refuses_nothing_silently():
    """``b=`` moves to its position; an unknown keyword stays a keyword and reaches SciPy (its error)."""

    def f(a, b):
        return sc.logsumexp(a, b=b, keepdims=False)

    a, b = np.array([0.1, 0.4]), np.array([1.0, 2.0])
    check(f, (a, b))
    assert "logsumexp(a, None, b, keepdims=False)" in sct.grad(f, wrt=1).source


# ---- more of scipy.special -----------------------------------------------------------------------------
MORE_UNARY = [
    (sc.expm1, -2.0, 2.0),
    (sc.log1p, -0.5, 2.0),
    (sc.exp2, -2.0, 2.0),
    (sc.exp10, -1.0, 1.0),
    (sc.cbrt, 0.2, 3.0),
    (sc.sindg, -170.0, 170.0),
    (sc.cosdg, -170.0, 170.0),
    (sc.loggamma, 0.3, 4.0),
    (sc.erfcx, -1.0, 3.0),
    (sc.dawsn, -2.0, 2.0),
    (sc.expi, 0.3, 3.0),
    (sc.exp1, 0.3, 3.0),
    (sc.wrightomega, -2.0, 2.0),
    (sc.j0, -3.0, 3.0),
    (sc.j1, -3.0, 3.0),
    (sc.y0, 0.5, 5.0),
    (sc.y1, 0.5, 5.0),
    (sc.k0, 0.3, 3.0),
    (sc.k1, 0.3, 3.0),
    (sc.k0e, 0.3, 3.0),
    (sc.k1e, 0.3, 3.0),
] + ([(sc.softplus, -3.0, 3.0)] if hasattr(sc, "softplus") else [])


@pytest.mark.parametrize("fn, low, high", MORE_UNARY, ids=[u[0].__name__ for u in MORE_UNARY])
def test_more_unary(fn, low, high):
    check(weighted(fn), (RNG.uniform(low, high, 4),))


@pytest.mark.parametrize("fn", [sc.kv, sc.kve], ids=lambda f: f.__name__)
@pytest.mark.parametrize("v", [0.0, 1.0, 2.5])
def test_modified_bessel_k(fn, v):
    def f(x):
        return np.sum(fn(v, x) * W4)

    check(f, (RNG.uniform(0.3, 3.0, 4),))


MORE_BINARY = [
    (sc.huber, (0.5, 1.5), (-2.0, 2.0)),
    (sc.pseudo_huber, (0.5, 1.5), (-2.0, 2.0)),
]


@pytest.mark.parametrize("fn, xs, ys", MORE_BINARY, ids=[b[0].__name__ for b in MORE_BINARY])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_more_binary_broadcasting(fn, xs, ys, shapes):
    x = RNG.uniform(*xs, shapes[0])
    y = RNG.uniform(*ys, shapes[1]) if shapes[1] else float(RNG.uniform(*ys))
    check(weighted2(fn), (x, y))


@pytest.mark.parametrize("lmbda", [-0.5, 0.0, 0.7])
def test_box_cox_in_x(lmbda):
    def f(x):
        return np.sum(sc.boxcox(x, lmbda) * W4) + np.sum(sc.boxcox1p(x, lmbda) * W4)

    def g(y):
        return np.sum(sc.inv_boxcox(y, lmbda) * W4)

    check(f, (RNG.uniform(0.3, 3.0, 4),))
    check(g, (RNG.uniform(-0.5, 0.5, 4),))


def boxcox_in_lmbda(x, lmbda):
    return sc.boxcox(x, lmbda)


def betainc_in_a(a, x):
    return sc.betainc(a, 2.0, x)


@pytest.mark.parametrize("f", [boxcox_in_lmbda, betainc_in_a], ids=lambda f: f.__name__)
def test_more_refusals(f):
    with pytest.raises(sct.SctError, match="no derivative of"):
        sct.grad(f, wrt=1 if f is boxcox_in_lmbda else 0)(2.0, 0.5)


@pytest.mark.parametrize("a, b", [(1.0, 2.0), (2.5, 1.5), (0.7, 3.0)])
def test_betainc_in_x(a, b):
    def f(x):
        return np.sum(sc.betainc(a, b, x) * W4)

    check(f, (RNG.uniform(0.05, 0.95, 4),))


def betainc_a1_b2(x):
    return sc.betainc(1.0, 2.0, x)


def test_betainc_at_zero():
    assert sct.grad(betainc_a1_b2)(0.0) == pytest.approx(2.0)  # x^0 (1 - x)^1 / B(1, 2) at 0: 1 / (1/2)


def test_no_derivative_functions():
    def f(x):
        return np.sum(sc.gammasgn(x) * x) + np.sum(sc.round(x) * x)

    x = np.array([-0.5, 1.3, 2.6])
    np.testing.assert_allclose(sct.grad(f)(x), sc.gammasgn(x) + sc.round(x))


def test_importing_sct_does_not_import_scipy():
    code = "import sct, sys; assert 'scipy' not in sys.modules, sorted(m for m in sys.modules if 'scipy' in m)"
    subprocess.run([sys.executable, "-c", code], check=True)
