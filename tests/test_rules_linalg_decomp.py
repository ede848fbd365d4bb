"""numpy.linalg decompositions and the rest of issue 14 item 4: svd, qr, eig, pinv, lstsq, solve of stacks,
every ord of np.linalg.norm, batched matrices; against central differences in both modes, to second order.

Points are generic: distinct (and well separated) singular values and eigenvalues, well-conditioned
matrices. Repeated singular values or eigenvalues have no derivative of the vectors and are not tested.
"""

import importlib.util

import numpy as np
import pytest
from conftest import assert_refused

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
    ("lstsq_x-wide-minimum-norm", lstsq_x, (WIDE, B4[:2])),
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


# ---- norm: every ord, axis tuples, keepdims, an ord held in a variable ----------------------------
V5 = np.array([0.7, -1.3, 2.2, -0.4, 1.1])  # distinct magnitudes: max and min are unique
M34 = R.normal(size=(3, 4))
T234 = R.normal(size=(2, 3, 4))


def norm_of(ord, axis=None, keepdims=False):
    """A function calling np.linalg.norm with these arguments written as constants in its source."""
    name = f"norm_{len(_NORM_SOURCES)}"
    text = {np.inf: "np.inf", -np.inf: "-np.inf"}.get(ord, repr(ord)) if ord is not None else "None"
    _NORM_SOURCES.append(
        f"def {name}(x):\n    n = np.linalg.norm(x, {text}, {axis!r}, {keepdims!r})\n    return np.sum(n * np.cos(n))\n"
    )
    return name


_NORM_SOURCES = []


def _load_norms(tmp_dir):
    path = tmp_dir / "linalg_norm_cases.py"
    path.write_text("import numpy as np\n\n\n" + "\n\n".join(_NORM_SOURCES))
    spec = importlib.util.spec_from_file_location("linalg_norm_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def norm_ord_variable(x, p):
    return np.linalg.norm(x, p) ** 2


def norm_ord_variable_axis(x, p):
    return np.sum(np.linalg.norm(x, p, axis=1) * np.array([1.0, 2.0, 3.0]))


def norm_neg_inf(x):
    return np.linalg.norm(x, -np.inf)


def norm_keyword_ord(x):
    return np.linalg.norm(x, ord="nuc", axis=(2, 0))


def norm_inf_matrix(x):
    return np.linalg.norm(x, np.inf)


def norm_neg_inf_matrix(x):
    return np.linalg.norm(x, -np.inf)


VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 3, 0.5, -1.5, 4.0]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2]
NORM_CASES = (
    [(f"vector-{o}", norm_of(o), (V5,)) for o in VECTOR_ORDS]
    + [(f"vector-axis1-{o}", norm_of(o, 1), (M34,)) for o in VECTOR_ORDS]
    + [(f"vector-axis0-keepdims-{o}", norm_of(o, 0, True), (M34,)) for o in (2, 3, np.inf)]
    + [(f"matrix-{o}", norm_of(o), (M34,)) for o in MATRIX_ORDS]
    + [(f"matrix-axis(1,2)-{o}", norm_of(o, (1, 2)), (T234,)) for o in MATRIX_ORDS]
    + [(f"matrix-axis(2,0)-keepdims-{o}", norm_of(o, (2, 0), True), (T234,)) for o in ("nuc", 1, -2)]
    + [
        ("matrix-inf", norm_inf_matrix, (M34,)),
        ("vector--inf-expression", norm_neg_inf, (V5,)),
        ("matrix-keyword-ord-axis", norm_keyword_ord, (T234,)),
    ]
)


@pytest.fixture(scope="module")
def norms(tmp_path_factory):
    return _load_norms(tmp_path_factory.mktemp("norms"))


@pytest.mark.parametrize("fn, args", [pytest.param(f, a, id=i) for i, f, a in NORM_CASES])
def test_norm_rule(fn, args, norms):
    fn = getattr(norms, fn) if isinstance(fn, str) else fn
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, -1.5, np.inf, -np.inf, 0.0])
def test_norm_ord_in_a_variable(p):
    """The ord is known only at run time: a helper picks the formula; second order where it exists."""
    sct.check_grads(norm_ord_variable, (V5, p), modes=("fwd", "rev"), order=2, wrt=0)
    sct.check_grads(norm_ord_variable_axis, (M34, p), modes=("fwd", "rev"), order=2, wrt=0)


# ---- what sct refuses, and the results' types ------------------------------------------------------
from sct.backend.linalg_helpers import UndefinedDerivativeError  # noqa: E402


def svd_full_uses_thin_part(a):
    u, s, vt = np.linalg.svd(a)  # full_matrices=True: u is 4 x 4 for a 4 x 3 matrix
    return np.sum(s**2) + np.sum(u[:, :3] ** 2 * a) + np.sum(vt * a[:3, :3])


def svd_full_uses_extra_column(a):
    u, s, vt = np.linalg.svd(a)
    return np.sum(np.abs(u[:, 3]) * a[:, 0])


def test_full_svd_of_a_non_square_matrix():
    """Reverse mode is exact where the extra columns are unused, and refuses where they are used;
    forward mode computes every column's tangent, so it refuses non-square full SVDs."""
    sct.check_grads(svd_full_uses_thin_part, (TALL,), modes=("rev",), order=2)
    with pytest.raises(UndefinedDerivativeError, match="full_matrices=False"):
        sct.grad(svd_full_uses_extra_column)(TALL)
    with pytest.raises(UndefinedDerivativeError, match="full_matrices=False"):
        sct.jvp(svd_full_uses_thin_part, (TALL,), (TALL,))
    assert issubclass(UndefinedDerivativeError, sct.SctError)


def svd_hermitian(a):
    return np.sum(np.linalg.svd(a, hermitian=True)[1])


def qr_complete(a):
    return np.sum(np.linalg.qr(a, mode="complete")[0])


def pinv_hermitian(a):
    return np.sum(np.linalg.pinv(a, hermitian=True))


def norm_matrix_ord_variable(a, p):
    return np.linalg.norm(a, p)


def norm_axis_variable(a, k):
    return np.sum(np.linalg.norm(a, 2, k))


@pytest.mark.parametrize(
    "fn, args, message",
    [
        (svd_hermitian, (SPD,), "hermitian=False"),
        (qr_complete, (SQ,), "mode='reduced'"),
        (pinv_hermitian, (SPD,), "hermitian=False"),
        (norm_matrix_ord_variable, (SQ, 2.0), "ord written as a constant"),
        (norm_axis_variable, (SQ, 1), "axis and keepdims written as constants"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_refused_with_a_typed_error(fn, args, message, mode):
    assert_refused(fn, args, message, mode)


def eig_real_part(a):
    w_, v = np.linalg.eig(a)
    return np.sum(np.real(w_) * np.array([1.0, 2.0, 3.0])) + np.sum(np.real(w_**2))


def eig_vector_magnitudes(a):
    w_, v = np.linalg.eig(a)
    return np.sum(np.real(v * np.conj(v)) * WT[:3, :3])  # |v|**2: independent of LAPACK's phase


def eigvals_complex(a):
    return np.sum(np.real(np.linalg.eigvals(a) ** 2))


def eig_values_cubed(a):
    w_, v = np.linalg.eig(a)
    return np.sum(np.real(w_**3))


@pytest.mark.parametrize("fn", [eig_vector_magnitudes, eigvals_complex, eig_values_cubed], ids=lambda f: f.__name__)
def test_eig_of_a_matrix_with_complex_eigenvalues(fn):
    sct.check_grads(fn, (EIG_COMPLEX,), modes=("fwd", "rev"), order=2)


def test_eig_with_complex_eigenvalues_gives_a_real_gradient():
    """A real matrix with a complex pair of eigenvalues: the gradient of a real argument is real."""
    assert np.iscomplexobj(np.linalg.eigvals(EIG_COMPLEX))
    grad = sct.grad(eig_real_part)(EIG_COMPLEX)
    assert grad.dtype == np.float64
    sct.check_grads(eig_real_part, (EIG_COMPLEX,), modes=("fwd", "rev"), order=1)


def solve_with_unknown_ranks(a, b):
    w_, v = np.linalg.eigh(a)  # v's rank is unknown to sct: solve's rule decides at run time
    return np.sum(np.linalg.solve(v + 2 * np.eye(3), b) ** 2)


RHS = [B4[:3], R.normal(size=(3, 2)), R.normal(size=(2, 3, 2))]


@pytest.mark.parametrize("b", RHS, ids=["vector", "matrix", "stack"])
def test_solve_where_ranks_are_known_only_at_run_time(b):
    a = EIG_REAL + EIG_REAL.T
    sct.check_grads(solve_with_unknown_ranks, (a, b), modes=("fwd", "rev"), order=2)


def test_generated_source_names_the_decompositions():
    def f(a):
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        q, r = np.linalg.qr(a)
        return np.sum(u * vt[:, :1]) + np.sum(s) + np.sum(q * r[0])

    source = sct.source(f)
    for name in ("np.linalg.svd(", "np.linalg.qr(", "gaps_times(", "plus_transpose("):
        assert name in source, name
    forward = sct.source(f, mode="forward")
    assert "upper_fold(" in forward and "gaps_times(" in forward


# ---- for all shapes: batches, tall, wide and square matrices ------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _generic(batch, m, n, seed):
    """A stack of m x n matrices with well separated singular values (so every part is differentiable)."""
    rng = np.random.default_rng(seed)
    k = min(m, n)
    mats = [_with_singular_values(m, n, np.linspace(3.0, 0.8, k) + 0.3 * rng.random(k) / k, rng) for _ in range(batch)]
    return np.stack(mats) if batch > 1 else mats[0]


def any_shape_svd(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return np.sum((u * np.cos(a[..., :, :1])) ** 2) + np.sum(np.sin(s)) + np.sum((vt * np.sin(a[..., :1, :])) ** 2)


def any_shape_qr(a):
    q, r = np.linalg.qr(a)
    return np.sum(q * np.cos(a[..., :, : q.shape[-1]])) + np.sum(np.sin(r))


def any_shape_pinv_and_norms(a):
    return (
        np.sum(np.linalg.pinv(a) ** 2)
        + np.sum(np.linalg.norm(a, "nuc", (-2, -1)))
        + np.sum(np.linalg.norm(a, -2, (-2, -1)) ** 2)
    )


@settings(max_examples=12)
@given(
    batch=st.integers(1, 2),
    m=st.integers(1, 4),
    n=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    fn=st.sampled_from([any_shape_svd, any_shape_qr, any_shape_pinv_and_norms]),
)
def test_decompositions_for_all_shapes(batch, m, n, seed, fn):
    sct.check_grads(fn, (_generic(batch, m, n, seed),), modes=("fwd", "rev"), order=1)


# ---- NumPy 2's vector_norm, matrix_norm and svdvals --------------------------------------------
def vector_norm_flat(x):
    return np.linalg.vector_norm(x) + np.linalg.vector_norm(x, ord=3) ** 2 + np.linalg.vector_norm(x, ord=np.inf)


def vector_norm_axes(x):
    n = np.linalg.vector_norm(x, axis=(0, 2), ord=1.5, keepdims=True)
    return np.sum(n * np.cos(n)) + np.sum(np.linalg.vector_norm(x, axis=-1) ** 2)


def matrix_norm_all(x):
    return (
        np.sum(np.linalg.matrix_norm(x))
        + np.sum(np.linalg.matrix_norm(x, ord="nuc") ** 2)
        + np.sum(np.linalg.matrix_norm(x, ord=1, keepdims=True))
        + np.sum(np.linalg.matrix_norm(x, ord=-2))
    )


def svdvals(x):
    return np.sum(np.linalg.svdvals(x) ** 3)


@pytest.mark.parametrize(
    "fn, args",
    [(vector_norm_flat, (M34,)), (vector_norm_axes, (T234,)), (matrix_norm_all, (T234,)), (svdvals, (STACK_TALL,))],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_numpy2_norms_and_svdvals(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=2)


def solve_rhs_by_keyword(a, b):
    return np.sum(np.linalg.solve(a, b=b) ** 2) + np.sum(np.linalg.lstsq(a, b=b)[0])


def test_right_hand_side_by_keyword():
    sct.check_grads(solve_rhs_by_keyword, (SQ, B4[:3]), modes=("fwd", "rev"), order=2)


def svd_sum_of_values(a):
    u, s, vt = np.linalg.svd(a)
    return np.sum(s)


def eigh_trace(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w)


def eigh_uses_vectors(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v * WT[:3, :3])


def test_repeated_values_harm_only_the_vectors():
    """At repeated singular values / eigenvalues the vectors have no derivative; a function of the
    values alone that is smooth there (the nuclear norm, the trace) still gets its gradient."""
    rotation = np.linalg.qr(R.normal(size=(3, 3)))[0]  # all singular values 1
    assert np.allclose(sct.grad(svd_sum_of_values)(rotation), rotation)  # d sum(s) = u vt = the rotation
    assert np.allclose(sct.grad(eigh_trace)(np.eye(3)), np.eye(3))
    _, tangent = sct.jvp(eigh_trace, (np.eye(3),), (np.tril(R.normal(size=(3, 3))),))
    assert np.isfinite(tangent)
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(sct.grad(eigh_uses_vectors)(np.eye(3))))  # no derivative: not finite
