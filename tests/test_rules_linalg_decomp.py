"""numpy.linalg decompositions and the rest of issue 14 item 4: svd, qr, eig, pinv, lstsq, solve of stacks,
every ord of np.linalg.norm, batched matrices; against central differences in both modes, to second order.

Points are generic: distinct (and well separated) singular values and eigenvalues, well-conditioned
matrices. Repeated singular values or eigenvalues have no derivative of the vectors and are not tested.
"""

import numpy as np
import pytest

import sct

R = np.random.default_rng(14)


def _with_singular_values(m, n, values, rng=R):
    u = np.linalg.qr(rng.normal(size=(m, m)))[0][:, : len(values)]
    v = np.linalg.qr(rng.normal(size=(n, n)))[0][:, : len(values)]
    return u @ np.diag(values) @ v.T


SQ = _with_singular_values(3, 3, [3.0, 2.0, 0.7])
TALL = _with_singular_values(4, 3, [3.0, 1.8, 0.9])
WIDE = _with_singular_values(2, 4, [2.5, 1.1])
STACK = np.stack([_with_singular_values(3, 3, [3.0, 1.5, 0.5]), _with_singular_values(3, 3, [2.0, 1.0, 0.4])])
STACK_TALL = np.stack([_with_singular_values(4, 2, [3.0, 1.5]), _with_singular_values(4, 2, [2.0, 0.6])])
WT = R.normal(size=(4, 4))  # fixed weights, so outputs are not symmetric in their entries
SPD = SQ @ SQ.T + np.eye(3)
# A real matrix with real, distinct eigenvalues; one with a complex pair.
EIG_REAL = np.array([[4.0, 1.0, 0.3], [0.5, 2.0, 0.2], [0.1, -0.4, -1.0]])
EIG_COMPLEX = np.array([[1.0, -2.0, 0.3], [1.5, 0.5, 0.2], [0.1, 0.4, 3.0]])


def w(shape):
    return WT[tuple(slice(0, n) for n in shape[-2:])]


# ---- svd -------------------------------------------------------------------------------------------
def svd_values(a):
    return np.sum(np.linalg.svd(a, compute_uv=False) * np.array([1.0, 2.0, 3.0])[: min(a.shape[-2:])])


def svd_full_square(a):
    u, s, vt = np.linalg.svd(a)
    return np.sum(u * w(u.shape)) + np.sum(s**2) + np.sum((vt * w(vt.shape)) ** 2)


def svd_reduced(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    # u diag(s) vt is unique up to the signs of the pairs (u_i, v_i): use sign-invariant functions
    return np.sum((u * w(u.shape)) ** 2) + np.sum(s**3) + np.sum(vt[..., :1, :] * u[..., :1, :1] * w(vt.shape)[:1])


def svd_only_s_of_full(a):
    u, s, vt = np.linalg.svd(a)
    return np.sum(s * s[::-1])


def svd_reconstruct(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return np.sum(((u * s[..., None, :]) @ vt) * w(a.shape))


# ---- qr --------------------------------------------------------------------------------------------
def qr_both(a):
    q, r = np.linalg.qr(a)
    return np.sum(q * w(q.shape)) + np.sum(r * w(r.shape) ** 2)


def qr_r_only(a):
    r = np.linalg.qr(a, mode="r")
    return np.sum(r * w(r.shape))


# ---- eig -------------------------------------------------------------------------------------------
def eig_values(a):
    w_, v = np.linalg.eig(a)
    return np.sum(w_ * np.array([1.0, 2.0, 3.0]))


def eig_vectors(a):
    w_, v = np.linalg.eig(a)
    return np.sum((v * w(v.shape)) ** 2) + np.sum(w_**2)


def eigvals(a):
    return np.sum(np.linalg.eigvals(a) ** 3)


# ---- pinv, lstsq, solve, inv, det, slogdet ----------------------------------------------------------
def pinv(a):
    return np.sum(np.linalg.pinv(a) * w((a.shape[-1], a.shape[-2])))


B4 = R.normal(size=4)
B42 = R.normal(size=(4, 2))


def lstsq_x(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b)
    return np.sum(x * np.arange(1.0, 1.0 + x.size).reshape(x.shape))


def lstsq_all(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b)
    return np.sum(x**2) + np.sum(res) + np.sum(sv**2)


def solve_stack_vector(a, b):
    return np.sum(np.linalg.solve(a, b) * np.array([1.0, -2.0, 0.5]))


def solve_stack_stack(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


def solve_matrix_stack_rhs(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


def inv_stack(a):
    return np.sum(np.linalg.inv(a) * w((3, 3)))


def det_stack(a):
    return np.sum(np.linalg.det(a) ** 2)


def slogdet_stack(a):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(sign * logdet)


def cholesky_stack(a):
    return np.sum(np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + np.eye(3)) * w((3, 3)))


def eigh_stack(a):
    w_, v = np.linalg.eigh(a + np.swapaxes(a, -1, -2))
    return np.sum(w_ * np.array([1.0, 2.0, 3.0])) + np.sum((v * w((3, 3))) ** 2)


def matrix_power_stack(a):
    return np.sum(np.linalg.matrix_power(a, 3) * w((3, 3)))


def matrix_power_negative_stack(a):
    return np.sum(np.linalg.matrix_power(a, -3) * w((3, 3)))


SOLVE_A = np.stack([SPD, SPD + np.diag([1.0, 0.0, 2.0])])

CASES = [
    ("svd_values-square", svd_values, (SQ,)),
    ("svd_values-tall", svd_values, (TALL,)),
    ("svd_values-wide", svd_values, (WIDE,)),
    ("svd_values-stack", svd_values, (STACK,)),
    ("svd_full-square", svd_full_square, (SQ,)),
    ("svd_full-stack", svd_full_square, (STACK,)),
    ("svd_reduced-square", svd_reduced, (SQ,)),
    ("svd_reduced-tall", svd_reduced, (TALL,)),
    ("svd_reduced-wide", svd_reduced, (WIDE,)),
    ("svd_reduced-stack-tall", svd_reduced, (STACK_TALL,)),
    ("svd_reconstruct-wide", svd_reconstruct, (WIDE,)),
    ("qr-square", qr_both, (SQ,)),
    ("qr-tall", qr_both, (TALL,)),
    ("qr-wide", qr_both, (WIDE,)),
    ("qr-stack", qr_both, (STACK_TALL,)),
    ("qr_r-tall", qr_r_only, (TALL,)),
    ("eig_values-real", eig_values, (EIG_REAL,)),
    ("eig_vectors-real", eig_vectors, (EIG_REAL,)),
    ("eig_values-stack", eig_values, (np.stack([EIG_REAL, EIG_REAL.T + np.eye(3)]),)),
    ("eigvals-real", eigvals, (EIG_REAL,)),
    ("pinv-square", pinv, (SQ,)),
    ("pinv-tall", pinv, (TALL,)),
    ("pinv-wide", pinv, (WIDE,)),
    ("pinv-stack", pinv, (STACK_TALL,)),
    ("lstsq_x-vector", lstsq_x, (TALL, B4)),
    ("lstsq_x-matrix", lstsq_x, (TALL, B42)),
    ("lstsq_all-vector", lstsq_all, (TALL, B4)),
    ("lstsq_all-matrix", lstsq_all, (TALL, B42)),
    ("lstsq_all-square-no-residuals", lstsq_all, (SQ, B4[:3])),
    ("solve-stack-one-vector", solve_stack_vector, (SOLVE_A, B4[:3])),
    ("solve-stack-stack", solve_stack_stack, (SOLVE_A, R.normal(size=(2, 3, 2)))),
    ("solve-matrix-stack-rhs", solve_matrix_stack_rhs, (SPD, R.normal(size=(2, 3, 2)))),
    ("solve-stack-columns", solve_stack_stack, (SOLVE_A, R.normal(size=(2, 3, 1)))),
    ("inv-stack", inv_stack, (SOLVE_A,)),
    ("det-stack", det_stack, (SOLVE_A,)),
    ("slogdet-stack", slogdet_stack, (SOLVE_A * np.array([1.0, -1.0])[:, None, None],)),
    ("cholesky-stack", cholesky_stack, (STACK,)),
    ("eigh-stack", eigh_stack, (STACK,)),
    ("matrix_power-stack", matrix_power_stack, (STACK,)),
    ("matrix_power_negative-stack", matrix_power_negative_stack, (SOLVE_A,)),
]


@pytest.mark.parametrize("fn, args", [pytest.param(f, a, id=i) for i, f, a in CASES])
def test_decomposition_rule(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=2)
