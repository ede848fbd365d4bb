"""Products and numpy.linalg: reverse and forward mode against central differences, to second order."""

import numpy as np
import pytest

import sct

R = np.random.default_rng(11)
A = R.normal(size=(3, 4))
B = R.normal(size=(4, 2))
S = 0.3 * R.normal(size=(3, 3)) + 2 * np.eye(3)  # well conditioned
M = R.normal(size=(3, 3))
U = R.normal(size=3)
V = R.normal(size=4)
T3 = R.normal(size=(2, 3, 4))
T4 = R.normal(size=(4, 3, 2))
P = R.normal(size=(2, 3))
W = R.normal(size=(3, 3))  # a fixed weight, so outputs are not symmetric in their entries
SPD = M @ M.T + 3 * np.eye(3)
# Symmetric with well-separated eigenvalues (1, 4, 9), so eigenvectors are smooth functions of it.
Q = np.linalg.qr(R.normal(size=(3, 3)))[0]
SYM = Q @ np.diag([1.0, 4.0, 9.0]) @ Q.T


# ---- products ----------------------------------------------------------------------------
def inner_vectors(x, y):
    return np.inner(x, y) ** 2


def inner_matrices(x, y):
    return np.inner(x, y) ** 2


def inner_scalar(x, y):
    return np.inner(x, y) ** 2


def outer(x, y):
    return np.outer(x, y) ** 2


def outer_flattens(x, y):
    return np.outer(x, y) ** 2


def vdot(x, y):
    return np.vdot(x, y) ** 2


def tensordot_int(x, y):
    return np.tensordot(x, y, 1) ** 2


def tensordot_pairs(x, y):
    return np.tensordot(x, y, axes=([0, 1], [1, 0])) ** 2


def tensordot_default(x, y):
    return np.tensordot(x, y) ** 2


def einsum_matmul(x, y):
    return np.einsum("ij,jk->ik", x, y) ** 2


def einsum_implicit(x, y):
    return np.einsum("ij,jk", x, y) ** 2


def einsum_batch(x, y):
    return np.einsum("bij,jkb->ikb", x, y) ** 2


def einsum_sum_one(x, y):
    return np.einsum("ij,k->k", x, y) ** 2


def einsum_three(x, y, z):
    return np.einsum("i,ij,j->", x, y, z) ** 2


def einsum_transpose(x):
    return np.einsum("ij->ji", x) ** 2


def kron(x, y):
    return np.kron(x, y) ** 2


def kron_vectors(x, y):
    return np.kron(x, y) ** 2


def trace(x):
    return np.trace(x @ x)


def cross(x, y):
    return np.cross(x, y) ** 2


def cross_batched(x, y):
    return np.cross(x, y) ** 2


def multi_dot(x, y, z):
    return np.linalg.multi_dot([x, y, z]) ** 2


def dot_matmul(x, y):
    return np.dot(x, y) + np.matmul(x, y) ** 2


# ---- linalg --------------------------------------------------------------------------------
def inv(x):
    return np.linalg.inv(x) * W


def solve_vector(a, b):
    return np.linalg.solve(a, b) ** 2


def solve_matrix(a, b):
    return np.linalg.solve(a, b) * W


def det(x):
    return np.linalg.det(x)


def slogdet(x):
    sign, logdet = np.linalg.slogdet(x)
    return sign * logdet


def slogdet_index(x):
    return np.linalg.slogdet(x)[1] ** 2


def norm(x):
    return np.linalg.norm(x)


def norm_matrix(x):
    return np.linalg.norm(x) ** 2


def norm_fro(x):
    return np.linalg.norm(x, "fro")


def norm_axis(x):
    return np.linalg.norm(x, axis=1)


def norm_keepdims(x):
    return np.linalg.norm(x, axis=0, keepdims=True) * A


def norm_1(x):
    return np.linalg.norm(x, 1)


def norm_inf(x):
    return np.linalg.norm(x, np.inf)


def norm_inf_axis(x):
    return np.linalg.norm(x, np.inf, axis=1)


def cholesky(x):
    return np.linalg.cholesky(x) * W


def cholesky_of_product(x):
    return np.sum(np.linalg.cholesky(x @ x.T + 3 * np.eye(3)) * W)


def eigh_values(x):
    w, v = np.linalg.eigh(x)
    return w * np.array([1.0, 2.0, 3.0])


def eigh_vectors(x):
    w, v = np.linalg.eigh(x)
    return np.abs(v) * W + w


def eigvalsh(x):
    return np.linalg.eigvalsh(x) ** 2


def matrix_power(x):
    return np.linalg.matrix_power(x, 3) * W


def matrix_power_negative(x):
    return np.linalg.matrix_power(x, -2) * W


def matrix_power_one(x):
    return np.linalg.matrix_power(x, 1) * W


CASES = [
    (inner_vectors, (V, V[::-1].copy())),
    (inner_matrices, (A, P.T @ P[:, :2] @ np.ones((2, 4)))),
    (inner_scalar, (1.5, V)),
    (outer, (U, V)),
    (outer_flattens, (P, U)),
    (vdot, (A, A[::-1].copy())),
    (tensordot_int, (A, B)),
    (tensordot_pairs, (T3[:, :, :2].copy(), np.ones((3, 2)) + P.T)),
    (tensordot_default, (T3, A)),
    (einsum_matmul, (A, B)),
    (einsum_implicit, (A, B)),
    (einsum_batch, (T3, T4)),
    (einsum_sum_one, (A, V)),
    (einsum_three, (U, A, V)),
    (einsum_transpose, (A,)),
    (kron, (P, M)),
    (kron_vectors, (U, V)),
    (trace, (M,)),
    (cross, (U, U[::-1] + 1.0)),
    (cross_batched, (R.normal(size=(4, 3)), U)),
    (multi_dot, (A, B, P)),
    (dot_matmul, (A, B)),
    (inv, (S,)),
    (solve_vector, (S, U)),
    (solve_matrix, (S, M)),
    (det, (S,)),
    (slogdet, (S,)),
    (slogdet_index, (-S,)),
    (norm, (V,)),
    (norm_matrix, (A,)),
    (norm_fro, (A,)),
    (norm_axis, (A,)),
    (norm_keepdims, (A,)),
    (norm_1, (V,)),
    (norm_inf, (V,)),
    (norm_inf_axis, (A,)),
    (cholesky, (SPD,)),
    (cholesky_of_product, (M,)),
    (eigh_values, (SYM,)),
    (eigh_vectors, (SYM,)),
    (eigvalsh, (SYM,)),
    (matrix_power, (M,)),
    (matrix_power_negative, (S,)),
    (matrix_power_one, (M,)),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_product_and_linalg_rule(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize("fn, args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_source_without_ranks(fn, args):
    """``sct.source``/``sct dump`` know no argument ranks: rank-dependent rules call runtime helpers."""
    if fn in (norm_1, norm_inf):  # a vector norm or a matrix norm: only the rank tells
        with pytest.raises(sct.SctError, match="rank of x is known"):
            sct.source(fn, wrt=0)
        return
    assert "def grad_" in sct.source(fn, wrt=0)
    assert "def jvp_" in sct.source(fn, wrt=0, mode="forward")


# np.einsum with repeated indices and an ellipsis is differentiated: tests/test_rules_numpy_more.py


def test_runtime_product_helpers_match_inline_rules():
    g = R.normal(size=(2, 3, 2))
    a, b = T3, R.normal(size=(4, 2))
    from sct.backend import runtime

    assert np.allclose(runtime.tensordot_grad_left(g, a, b, 1), np.tensordot(g, b, axes=([2], [1])))
    assert np.allclose(runtime.tensordot_grad_right(g, a, b, 1), np.tensordot(a, g, axes=([0, 1], [0, 1])))


def test_norm_subgradients_at_zero_and_ties():
    """The 2-norm's subgradient at 0 is 0; ties for the inf-norm's largest magnitude split equally."""
    assert np.array_equal(sct.grad(norm)(np.zeros(3)), np.zeros(3))
    x = np.array([3.0, -3.0, 1.0])
    assert np.allclose(sct.grad(norm_inf)(x), [0.5, -0.5, 0.0])
    _, tangent = sct.jvp(norm_inf, (x,), (np.array([1.0, 1.0, 5.0]),))
    assert np.isclose(tangent, 0.5 * 1.0 - 0.5 * 1.0)


def test_dot_of_higher_rank_arrays_contracts_like_numpy():
    # np.dot(a, b) for N-d arrays sums a's last axis with b's second-to-last (not matmul's batching)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4, 2))

    def f(a, b):
        return np.sum(np.dot(a, b) ** 2)

    sct.check_grads(f, (a, b), modes=("rev",), order=1)
