"""scipy.linalg rules (issue 14 item 3): against central differences in both modes, to second order.

Every function that reads only part of its matrix (a triangle, the diagonal) is checked with
perturbations of every entry, so a gradient leaking into entries the function never reads fails.
"""

import numpy as np
import pytest
from conftest import assert_refused

import sct

sl = pytest.importorskip("scipy.linalg")

R = np.random.default_rng(3)
M = R.normal(size=(3, 3))
SPD = M @ M.T + 2 * np.eye(3)
SPD_STACK = np.stack([SPD, SPD + np.diag([1.0, 2.0, 0.5])])
GEN = M + 3 * np.eye(3)  # well conditioned, not symmetric
GEN_STACK = np.stack([GEN, GEN.T + np.eye(3)])
LOW = np.tril(GEN) + np.triu(R.normal(size=(3, 3)), 1)  # the upper part is garbage a triangular solve ignores
B = R.normal(size=3)
B2 = R.normal(size=(3, 2))
W = R.normal(size=(3, 3))
W6 = R.normal(size=(6, 6))


def solve_triangular_lower(a, b):
    return np.sum(sl.solve_triangular(a, b, lower=True) ** 2)


def solve_triangular_upper(a, b):
    return np.sum(sl.solve_triangular(a, b) * b)


def solve_triangular_trans(a, b):
    return np.sum(sl.solve_triangular(a, b, trans=1, lower=True) ** 2)


def solve_triangular_trans_t(a, b):
    return np.sum(sl.solve_triangular(a, b, trans="T") ** 2)


def solve_triangular_unit(a, b):
    return np.sum(sl.solve_triangular(a, b, lower=True, unit_diagonal=True) ** 2)


def cholesky_upper(a):
    return np.sum(sl.cholesky(a) * W)


def cholesky_lower(a):
    return np.sum(sl.cholesky(a, lower=True) * W)


def cholesky_of_product(m):
    return np.sum(sl.cholesky(m @ m.T + np.eye(3)) * W)


def cho_solve_lower(a, b):
    cf = sl.cho_factor(a, lower=True)
    return np.sum(sl.cho_solve(cf, b) ** 2)


def cho_solve_upper_display(a, b):
    c, low = sl.cho_factor(a)
    return np.sum(sl.cho_solve((c, low), b) * b)


def cho_solve_twice(a, b):
    cf = sl.cho_factor(a)
    x = sl.cho_solve(cf, b)
    return np.sum(sl.cho_solve(cf, x) ** 2)


def cho_factor_c(a):
    c, low = sl.cho_factor(a)
    return np.sum(c * W)  # both triangles: the factor's and a's own entries


def lu_factor_lu(a):
    lu, piv = sl.lu_factor(a)
    return np.sum(lu * W)


def lu_solve(a, b):
    lp = sl.lu_factor(a)
    return np.sum(sl.lu_solve(lp, b) ** 2)


def lu_solve_trans(a, b):
    lu, piv = sl.lu_factor(a)
    return np.sum(sl.lu_solve((lu, piv), b, trans=1) ** 2)


def solve_general(a, b):
    return np.sum(sl.solve(a, b) ** 2)


def solve_pos(a, b):
    return np.sum(sl.solve(a, b, assume_a="pos") ** 2)


def solve_sym_lower(a, b):
    return np.sum(sl.solve(a, b, assume_a="sym", lower=True) ** 2)


def solve_diagonal(a, b):
    return np.sum(sl.solve(a, b, assume_a="diagonal") ** 2)


def solve_upper_triangular(a, b):
    return np.sum(sl.solve(a, b, assume_a="upper triangular") ** 2)


def solve_transposed(a, b):
    return np.sum(sl.solve(a, b, transposed=True) ** 2)


def inv(a):
    return np.sum(sl.inv(a) * W)


def det(a):
    return np.sum(sl.det(a) ** 2)


def expm(a):
    return np.sum(sl.expm(a) * W)


def sqrtm(a):
    return np.sum(sl.sqrtm(a) * W)


def solve_sylvester(a, b, q):
    return np.sum(sl.solve_sylvester(a, b, q) * W)


def block_diag(a, v, s):
    return np.sum(sl.block_diag(a, v, s) ** 2 * W6[:4, :6])


def gp_log_marginal(x, y):
    """A Gaussian-process marginal likelihood: cholesky, solve_triangular, as in the tutorial."""
    k = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2) + 0.1 * np.eye(x.shape[0])
    chol = sl.cholesky(k, lower=True)
    alpha = sl.solve_triangular(chol, y, lower=True)
    return -0.5 * np.sum(alpha**2) - np.sum(np.log(np.diag(chol)))


X5 = np.linspace(-1.0, 1.5, 5) + 0.1 * R.normal(size=5)
Y5 = R.normal(size=5)

CASES = [
    ("solve_triangular-lower-vector", solve_triangular_lower, (LOW, B)),
    ("solve_triangular-lower-matrix", solve_triangular_lower, (LOW, B2)),
    ("solve_triangular-upper", solve_triangular_upper, (LOW.T.copy(), B)),
    ("solve_triangular-trans", solve_triangular_trans, (LOW, B2)),
    ("solve_triangular-trans-T", solve_triangular_trans_t, (LOW.T.copy(), B)),
    ("solve_triangular-unit", solve_triangular_unit, (LOW, B)),
    ("solve_triangular-stack", solve_triangular_lower, (np.stack([LOW, LOW + np.eye(3)]), R.normal(size=(2, 3, 2)))),
    ("cholesky-upper", cholesky_upper, (SPD,)),
    ("cholesky-lower", cholesky_lower, (SPD,)),
    ("cholesky-stack", cholesky_upper, (SPD_STACK,)),
    ("cholesky-of-product", cholesky_of_product, (M,)),
    ("cho_solve-lower", cho_solve_lower, (SPD, B)),
    ("cho_solve-upper-display", cho_solve_upper_display, (SPD, B2)),
    ("cho_solve-twice", cho_solve_twice, (SPD, B)),
    ("cho_factor-c", cho_factor_c, (SPD,)),
    ("lu_factor", lu_factor_lu, (GEN,)),
    ("lu_factor-stack", lu_factor_lu, (GEN_STACK,)),
    ("lu_solve", lu_solve, (GEN, B)),
    ("lu_solve-trans", lu_solve_trans, (GEN, B2)),
    ("solve-general", solve_general, (GEN, B)),
    ("solve-general-stack", solve_general, (GEN_STACK, R.normal(size=(2, 3, 2)))),
    ("solve-pos", solve_pos, (SPD, B2)),
    ("solve-sym-lower", solve_sym_lower, (GEN, B)),
    ("solve-diagonal", solve_diagonal, (GEN, B)),
    ("solve-upper-triangular", solve_upper_triangular, (GEN, B2)),
    ("solve-transposed", solve_transposed, (GEN, B)),
    ("inv", inv, (GEN,)),
    ("inv-stack", inv, (GEN_STACK,)),
    ("det", det, (GEN,)),
    ("det-stack", det, (GEN_STACK,)),
    ("expm", expm, (0.5 * M,)),
    ("expm-stack", expm, (0.5 * GEN_STACK,)),
    ("sqrtm", sqrtm, (SPD,)),
    ("solve_sylvester", solve_sylvester, (SPD, GEN, M)),
    ("block_diag", block_diag, (R.normal(size=(2, 3)), R.normal(size=2), 1.5)),
    ("gp_log_marginal", gp_log_marginal, (X5, Y5)),
]


@pytest.mark.parametrize("fn, args", [pytest.param(f, a, id=i) for i, f, a in CASES])
def test_scipy_linalg_rule(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=2)


def cho_solve_stack(a, b):
    cf = sl.cho_factor(a)
    return np.sum(sl.cho_solve(cf, b) ** 2)


def lu_solve_stack(a, b):
    lu, piv = sl.lu_factor(a)
    return np.sum(sl.lu_solve((lu, piv), b) ** 2)


@pytest.mark.parametrize(
    "fn, args",
    [
        (cho_solve_stack, (SPD_STACK, R.normal(size=(2, 3, 2)))),
        (cho_solve_stack, (SPD_STACK, B)),
        (lu_solve_stack, (GEN_STACK, R.normal(size=(2, 3, 1)))),
    ],
    ids=["cho_solve-stack", "cho_solve-stack-one-vector", "lu_solve-stack"],
)
def test_batched_factor_and_solve(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=1)


def solve_banded_structure(a, b):
    return np.sum(sl.solve(a, b, assume_a="banded"))


def solve_lower_variable(a, b, low):
    return np.sum(sl.solve_triangular(a, b, lower=low))


def cholesky_lower_variable(a, low):
    return np.sum(sl.cholesky(a, lower=low))


def sqrtm_disp(a):
    return np.sum(sl.sqrtm(a, disp=False)[0])


@pytest.mark.parametrize(
    "fn, args, message",
    [
        (solve_banded_structure, (GEN, B), "assume_a"),
        (solve_lower_variable, (LOW, B, True), "lower and unit_diagonal constants"),
        (cholesky_lower_variable, (SPD, True), "lower given as a constant"),
        (sqrtm_disp, (SPD,), "without further arguments"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_refused_with_a_typed_error(fn, args, message, mode):
    assert_refused(fn, args, message, mode)


def test_generated_source_spells_scipy_by_its_public_names():
    source = sct.source(gp_log_marginal)
    assert "scipy.linalg.solve_triangular(" in source
    assert "_basic" not in source and "_decomp" not in source
    forward = sct.source(expm, mode="forward")
    assert "scipy.linalg.expm(np.concatenate(" in forward


def test_gradient_of_a_triangular_solve_is_zero_where_it_reads_nothing():
    g = sct.grad(solve_triangular_lower)(LOW, B)
    assert np.all(np.triu(g, 1) == 0)
    g = sct.grad(solve_triangular_unit)(LOW, B)
    assert np.all(np.triu(g) == 0)
    g = sct.grad(cholesky_upper)(SPD)
    assert np.all(np.tril(g, -1) == 0)


# ---- edge points: 1x1 matrices, the zero matrix, the identity, a single block ------------------------
ONE = np.array([[2.0]])
EDGE_CASES = [
    ("solve_triangular-1x1", solve_triangular_lower, (ONE, np.array([0.5]))),
    ("solve_triangular-unit-1x1", solve_triangular_unit, (ONE, np.array([0.5]))),
    ("cholesky-1x1", cholesky_upper, (np.array([[2.0]]),)),
    ("cho_solve-1x1", cho_solve_lower, (ONE, np.array([0.5]))),
    ("lu_solve-1x1", lu_solve, (ONE, np.array([0.5]))),
    ("lu_factor-1x1", lu_factor_lu, (ONE,)),
    ("solve-1x1", solve_general, (ONE, np.array([0.5]))),
    ("inv-1x1", inv, (ONE,)),
    ("det-singular", det, (np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 1.0, 1.0]]),)),
    ("expm-zero", expm, (np.zeros((3, 3)),)),
    ("sqrtm-identity", sqrtm, (np.eye(3),)),
    ("block_diag-one-block", lambda a: np.sum(sl.block_diag(a) * W), (M,)),
    ("block_diag-scalars", lambda s, t: np.sum(sl.block_diag(s, t) ** 2), (1.5, -0.5)),
]


@pytest.mark.parametrize("fn, args", [pytest.param(f, a, id=i) for i, f, a in EDGE_CASES])
def test_scipy_linalg_rule_at_edge_points(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=1)
    out, pullback = sct.vjp(fn, *args)
    grads = pullback(1.0)
    for g, a in zip(grads, args):
        assert np.shape(g) == np.shape(a) and np.all(np.isfinite(g))


def solve_by_keyword(a, b):
    return np.sum(sl.solve(a=a, b=b, assume_a="pos") ** 2) + np.sum(sl.solve_triangular(a, b=b, lower=True) ** 2)


def test_operands_by_keyword():
    sct.check_grads(solve_by_keyword, (SPD, B), modes=("fwd", "rev"), order=1)


def solve_overwrite(a, b):
    return np.sum(sl.solve(a, b, overwrite_a=True))


def cholesky_overwrite(a):
    return np.sum(sl.cholesky(a, overwrite_a=True))


@pytest.mark.parametrize(
    "fn, args", [(solve_overwrite, (GEN, B)), (cholesky_overwrite, (SPD,))], ids=["solve", "cholesky"]
)
def test_overwriting_an_operand_is_refused(fn, args):
    """SciPy may destroy an overwritten operand, which the derivative still reads: refused."""
    with pytest.raises(sct.SctError, match="overwrite_a=True"):
        sct.grad(fn)(*args)
    with pytest.raises(sct.SctError, match="overwrite_a=True"):
        sct.jvp(fn, args, args)
