"""Rules for ``numpy.linalg``: inv, solve, det, slogdet, norm, cholesky, eigh, eigvalsh, eig, eigvals, svd,
qr, pinv, lstsq, matrix_power.

Matrices may be stacked (the last two axes are the matrix axes) unless a rule
says otherwise; ``solve`` takes a vector, or a stack of matrices, of right-hand
sides as NumPy does (a stack of vectors is ``b[..., None]``).

Symmetric inputs: ``np.linalg.cholesky`` and ``np.linalg.eigh`` read only the
lower triangle of their input, so their rules give the derivative of exactly
that function: a perturbation of the upper triangle changes nothing, and the
lower triangle's entries stand for both symmetric positions. For the usual
symmetric input built from other values (``A = B @ B.T``) that is the familiar
symmetric gradient.

Where the derivative exists: ``eigh``/``eig`` need distinct eigenvalues and
``svd`` distinct nonzero singular values (the vectors are not differentiable
at repeated ones); ``qr`` needs the leading square block of ``r`` invertible;
``pinv`` and ``lstsq`` need a rank that does not change nearby (full rank).
``svd`` with ``full_matrices=True`` (the default) of a non-square matrix
returns columns with no well-defined derivative: reverse mode checks at run
time that they got no cotangent and forward mode refuses, both saying to pass
``full_matrices=False``. ``eig`` of a real matrix with complex eigenvalues
gives complex eigenvectors whose phase LAPACK picks: only functions that do
not depend on that phase have a derivative, and the gradient of a real matrix
is real (autograd's convention). ``norm`` covers every ``ord`` of vectors
(also one held in a variable, decided at run time) and of matrices (``None``,
'fro', 'nuc', 1, -1, 2, -2, inf, -inf written as constants), over ``axis``
tuples; at ties (the largest entry of an inf-norm, say) the derivative is
shared equally.

Functions returning several arrays (``slogdet``, ``eigh``, ``eig``, ``svd``,
``qr``, ``lstsq``): the adjoint ``g`` of the tuple arrives as a list
``[g_first, g_second, ...]`` (zeros for an unused part), and their forward
rules return the tuple of tangents.
"""

import numbers

import gast
import numpy as np

from ..backend import linalg_helpers, runtime
from ..errors import SctError
from ..symbolic import Sym, call
from .table import defjvp, defvjp, elementwise, linear, nondiff, positional, sequence

linalg = np.linalg


def _T(x):
    """The transpose of (each matrix of) ``x``."""
    return x.T if getattr(x, "ndim", None) == 2 else np.swapaxes(x, -1, -2)


def _inv(a):
    """``np.linalg.inv(a)``, with ``a``'s rank: ``_T`` and ``_scale`` then write a matrix's forms (``.T``)."""
    inv = linalg.inv(a)
    if isinstance(inv, Sym):
        inv.ndim = getattr(a, "ndim", None)
    return inv


def _batched(x):
    return getattr(x, "ndim", None) != 2


def _scale(s, m):
    """Scalar(s) ``s`` times (each matrix of) ``m``."""
    return np.expand_dims(s, (-2, -1)) * m if _batched(m) else s * m


def _diagonal_part(x):
    """``x`` with everything off the diagonal zeroed (``np.eye(n) * x`` without building ``eye``)."""
    return np.triu(np.tril(x))


def _eye_like(x):
    return _diagonal_part(np.ones_like(x))


def _lower(t):
    """The symmetric matrix that a function reading only the lower triangle sees in ``t``."""
    return call(linalg_helpers.lower_symmetric, t)


def _lower_grad(G):
    """The gradient with respect to the lower triangle, from one valid for symmetric perturbations."""
    return call(linalg_helpers.lower_symmetric_adjoint, G)


# ---- inv, solve, det, slogdet ---------------------------------------------------------------
defvjp(linalg.inv, lambda g, ans, a: -_T(ans) @ g @ _T(ans), ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(linalg.inv, lambda t, ans, a: -ans @ t @ ans)


def _rank(x):
    return x.ndim if isinstance(x, Sym) else np.ndim(x)


def _solve_case(a, b):
    """The case: "plain" (one matrix, ranks known), "known" (stacks, ranks known) or "unknown"."""
    ra, rb = _rank(a), _rank(b)
    if ra is None or rb is None:
        return "unknown"
    return "plain" if ra == 2 and rb in (1, 2) else "known"


def _solve_b(g, ans, a, b):
    case = _solve_case(a, b)
    if case == "plain":
        return linalg.solve(_T(a), g)
    if case == "unknown":
        full = call(linalg_helpers.from_rhs, linalg.solve(_T(a), call(linalg_helpers.as_rhs, g, b)), b)
        return call(runtime.unbroadcast, full, b)
    if _rank(b) == 1:  # a stack of matrices, one vector broadcast against it
        return call(runtime.unbroadcast, linalg.solve(_T(a), g[..., None])[..., 0], b)
    full = linalg.solve(_T(a), g)
    return full if _rank(b) >= _rank(a) else call(runtime.unbroadcast, full, b)


def _solve_a(g, ans, a, b):
    case = _solve_case(a, b)
    if case == "plain":
        return runtime.solve_grad(_solve_b(g, ans, a, b), ans, b)  # inline: -np.outer(gb, x) or -gb @ x.T
    if case == "unknown":
        gb = linalg.solve(_T(a), call(linalg_helpers.as_rhs, g, b))
        return call(runtime.unbroadcast, -gb @ _T(call(linalg_helpers.as_rhs, ans, b)), a)
    if _rank(b) == 1:
        gb = linalg.solve(_T(a), g[..., None])
        return -gb @ _T(ans[..., None])
    full = -linalg.solve(_T(a), g) @ _T(ans)
    return full if _rank(a) >= _rank(b) else call(runtime.unbroadcast, full, a)


def _solve_jvp_a(t, ans, a, b):
    case = _solve_case(a, b)
    if case == "plain":
        return -linalg.solve(a, t @ ans)
    if case == "unknown":
        rhs = t @ call(linalg_helpers.as_rhs, ans, b)
        return -call(linalg_helpers.from_rhs, linalg.solve(a, rhs), b)
    if _rank(b) == 1:
        return -linalg.solve(a, t @ ans[..., None])[..., 0]
    return -linalg.solve(a, t @ ans)


defvjp(linalg.solve, _solve_a, _solve_b, ndim=lambda ranks, args, kwargs: _solve_rank(ranks))
defjvp(linalg.solve, _solve_jvp_a, lambda t, ans, a, b: linalg.solve(a, t))


def _solve_rank(ranks):
    ra, rb = ranks[0], ranks[1]
    if rb == 1 and ra is not None:
        return ra - 1
    return None if None in (ra, rb) else max(ra, rb)


# solve_grad(gb, x, b) = -gb x^T: linear in gb and in x.
defvjp(
    runtime.solve_grad,
    lambda G, ans, gb, x, b: -G @ x,
    lambda G, ans, gb, x, b: -_T(G) @ gb,
    None,
    ndim=lambda ranks, args, kwargs: None if None in ranks[1:] else ranks[1] + (ranks[2] == 1),
)
defjvp(
    runtime.solve_grad,
    lambda t, ans, gb, x, b: call(runtime.solve_grad, t, x, b),
    lambda t, ans, gb, x, b: call(runtime.solve_grad, gb, t, b),
    None,
)


def _trace_last(x):
    return np.trace(x, 0, -2, -1)


# d det(a) = <cofactor(a), da>: the cofactor matrix is det(a) inv(a).T, but exists for singular a too.
# Its own derivative (second order) goes through inv(a): it needs an invertible matrix.
defvjp(linalg.det, lambda g, ans, a: _scale(g, call(runtime.cofactor, a)), ndim=lambda ranks, args, kwargs: None)
defjvp(linalg.det, lambda t, ans, a: _sum_last2(call(runtime.cofactor, a) * t))


def _sum_last2(x):
    return np.sum(x, axis=(-2, -1)) if _batched(x) else np.sum(x)


def _cofactor_vjp(G, ans, a):
    inv_t, det = _T(linalg.inv(a)), linalg.det(a)
    return _scale(_sum_last2(G * inv_t), ans) - _scale(det, inv_t @ _T(G) @ inv_t)


def _cofactor_jvp(t, ans, a):
    inv = linalg.inv(a)
    return _scale(_sum_last2(ans * t), _T(inv)) - _scale(linalg.det(a), _T(inv @ t @ inv))


defvjp(runtime.cofactor, _cofactor_vjp, ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(runtime.cofactor, _cofactor_jvp)


def _slogdet_vjp(g, ans, a):
    """Only the log-determinant carries a derivative (the sign is piecewise constant)."""
    return _scale(g[1], _T(_inv(a)))


def _slogdet_jvp(t, ans, a):
    return (call(runtime.zeros_like, ans[0]), _trace_last(linalg.solve(a, t)))


# A pair: indexable like a vector (for a single matrix, each part is a scalar).
defvjp(linalg.slogdet, _slogdet_vjp, ndim=lambda ranks, args, kwargs: 1 if ranks[0] == 2 else None)
defjvp(linalg.slogdet, _slogdet_jvp)


# ---- norm ---------------------------------------------------------------------------------------
def _static_ord(ord):
    """``np.inf`` and ``-np.inf`` reach a rule as expressions: their values."""
    node = getattr(ord, "node", None)
    if isinstance(node, gast.Attribute) and node.attr == "inf":
        return np.inf
    negated = isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub)
    if negated and isinstance(node.operand, gast.Attribute) and node.operand.attr == "inf":
        return -np.inf
    return ord


_VECTOR_KINDS = {2: "2", 1: "1", np.inf: "inf", -np.inf: "inf", 0: "0"}
_MATRIX_KINDS = {1: "cols", -1: "cols", np.inf: "rows", -np.inf: "rows", 2: "sv", -2: "sv", "nuc": "nuc"}


def _norm_args(x, ord, axis, keepdims=False, vector=False):
    """Which norm this is: "2", "1", "inf" (also -inf), "0", "p" (any other number), "var" (an ord known
    only at run time) for vectors ("2" also for the flattened array of "fro"), and "cols", "rows", "sv",
    "nuc" for matrices."""
    ord = _static_ord(ord)
    rank = x.ndim if isinstance(x, Sym) else np.ndim(x)
    if isinstance(axis, Sym) or isinstance(keepdims, Sym):
        raise SctError("sct differentiates np.linalg.norm with axis and keepdims written as constants")
    if ord is None or isinstance(ord, str) and ord == "fro":
        return "2"
    if axis is None and rank is None and not vector:
        raise SctError("sct differentiates np.linalg.norm with ord=... only where the rank of x is known")
    matrix = not vector and ((axis is None and rank == 2) or (isinstance(axis, tuple) and len(axis) == 2))
    if matrix and not isinstance(ord, Sym) and ord in _MATRIX_KINDS:
        return _MATRIX_KINDS[ord]
    if not matrix and isinstance(ord, numbers.Number):
        return _VECTOR_KINDS.get(ord, "p")
    if not matrix and isinstance(ord, Sym):
        return "var"
    if matrix and isinstance(ord, Sym):
        raise SctError(
            "sct differentiates np.linalg.norm of a matrix only with ord written as a constant (None, 'fro', "
            "'nuc', 1, -1, 2, -2, np.inf); for ord=-np.inf write np.min(np.sum(np.abs(x), axis=-1))"
        )
    raise SctError(f"np.linalg.norm has no ord={ord!r} for matrices")


def _norm_expand(v, axis, keepdims):
    """A norm's value or adjoint, with the reduced axes put back (size 1) for broadcasting."""
    if axis is None or keepdims:
        return v
    return np.expand_dims(v, axis)


def _matrix_axes(axis):
    return (0, 1) if axis is None else axis


def _matrix_slope(kind, x, ord, axis, n):
    """d norm / d x for a matrix norm over ``axis`` (None: the two axes of a matrix); ``n`` expanded."""
    rows, cols = _matrix_axes(axis)
    if kind in ("cols", "rows"):  # the largest (smallest) absolute column (row) sum; ties share
        summed, across = (rows, cols) if kind == "cols" else (cols, rows)
        hit = np.equal(np.sum(np.abs(x), axis=summed, keepdims=True), n)
        return np.sign(x) * (hit / np.sum(hit, axis=across, keepdims=True))
    m = x if axis is None else np.moveaxis(x, (rows, cols), (-2, -1))
    usv = linalg.svd(m, full_matrices=False)
    if kind == "nuc":  # the sum of the singular values: u @ vh
        d = usv[0] @ usv[2]
    elif _static_ord(ord) > 0:  # the largest singular value
        d = usv[0][..., :, :1] @ usv[2][..., :1, :]
    else:  # the smallest
        d = usv[0][..., :, -1:] @ usv[2][..., -1:, :]
    return d if axis is None else np.moveaxis(d, (-2, -1), (rows, cols))


def _vector_slope(kind, x, ord, axis, n):
    if kind == "p":
        return np.sign(x) * (np.abs(x) / call(runtime.nonzero_or_one, n)) ** (_static_ord(ord) - 1)
    return call(linalg_helpers.norm_slope, x, n, ord, axis)


def _norm_vjp(g, ans, x, ord=None, axis=None, keepdims=False, _vector=False):
    kind = _norm_args(x, ord, axis, keepdims, _vector)
    g = _norm_expand(g, axis, keepdims)
    if kind == "1":
        return g * np.sign(x)
    if kind == "0":
        return None
    n = _norm_expand(ans, axis, keepdims)
    if kind == "2":  # subgradient 0 at 0
        return g * x / call(runtime.nonzero_or_one, n)
    if kind == "inf":  # ties for the largest (smallest) magnitude split g equally (like JAX's max).
        hit = np.equal(np.abs(x), n)
        return g * np.sign(x) * hit / np.sum(hit, axis=axis, keepdims=True)
    if kind in ("p", "var"):
        return g * _vector_slope(kind, x, ord, axis, n)
    return g * _matrix_slope(kind, x, ord, axis, n)


def _norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False, _vector=False):
    kind = _norm_args(x, ord, axis, keepdims, _vector)
    if kind == "1":
        return np.sum(np.sign(x) * t, axis=axis, keepdims=keepdims)
    if kind == "2":
        return np.sum(x * t, axis=axis, keepdims=keepdims) / call(runtime.nonzero_or_one, ans)
    if kind == "0":
        return None
    n = _norm_expand(ans, axis, keepdims)
    if kind == "inf":
        hit = np.equal(np.abs(x), n)
        share = hit / np.sum(hit, axis=axis, keepdims=True)
        return np.sum(np.sign(x) * t * share, axis=axis, keepdims=keepdims)
    vector = kind in ("p", "var")
    slope = _vector_slope(kind, x, ord, axis, n) if vector else _matrix_slope(kind, x, ord, axis, n)
    return np.sum(slope * t, axis=_matrix_axes(axis) if kind in _MATRIX_NAMES else axis, keepdims=keepdims)


_MATRIX_NAMES = ("cols", "rows", "sv", "nuc")


def _norm_rank(ranks, args, kwargs):
    axis = args[2] if len(args) > 2 else kwargs.get("axis")
    keepdims = args[3] if len(args) > 3 else kwargs.get("keepdims", False)
    if keepdims is True:
        return ranks[0]
    if axis is None and keepdims is False:
        return 0
    if ranks[0] is None or not isinstance(axis, int | tuple):
        return None
    return ranks[0] - (len(axis) if isinstance(axis, tuple) else 1)


defvjp(linalg.norm, _norm_vjp, ndim=_norm_rank)
defjvp(linalg.norm, _norm_jvp)


# NumPy 2's vector_norm (any axes, flattened where axis=None) and matrix_norm (the last two axes).
def _reduced_rank(rank, axis, keepdims):
    if keepdims is True:
        return rank
    if axis is None:
        return 0
    return None if rank is None else rank - (len(axis) if isinstance(axis, tuple) else 1)


defvjp(
    linalg.vector_norm,
    lambda g, ans, x, axis=None, keepdims=False, ord=2: _norm_vjp(g, ans, x, ord, axis, keepdims, _vector=True),
    ndim=lambda ranks, args, kwargs: _reduced_rank(ranks[0], kwargs.get("axis"), kwargs.get("keepdims", False)),
)
defjvp(
    linalg.vector_norm,
    lambda t, ans, x, axis=None, keepdims=False, ord=2: _norm_jvp(t, ans, x, ord, axis, keepdims, _vector=True),
)
defvjp(
    linalg.matrix_norm,
    lambda g, ans, x, keepdims=False, ord="fro": _norm_vjp(g, ans, x, ord, (-2, -1), keepdims),
    ndim=lambda ranks, args, kwargs: _reduced_rank(ranks[0], (-2, -1), kwargs.get("keepdims", False)),
)
defjvp(linalg.matrix_norm, lambda t, ans, x, keepdims=False, ord="fro": _norm_jvp(t, ans, x, ord, (-2, -1), keepdims))
# nonzero_or_one(n) is n where n != 0: its derivative is 1 there (and 0 where it put a 1).
elementwise(runtime.nonzero_or_one, lambda g, ans, x: g * (np.abs(x) > 0))


# ---- cholesky, eigh ------------------------------------------------------------------------------
def _phi(x):
    """The lower triangle of ``x`` with its diagonal halved."""
    return call(linalg_helpers.tril_half_diagonal, x)


def _cholesky_vjp(g, ans, a):
    """S = L^-T phi(L^T g) L^-1 (Murray 2016), then onto the lower triangle that cholesky reads."""
    inv = linalg.inv(ans)
    s = _T(inv) @ _phi(_T(ans) @ g) @ inv
    return _phi(call(linalg_helpers.plus_transpose, s))  # = _lower_grad of the symmetric part of s


def _cholesky_jvp(t, ans, a):
    inv = linalg.inv(ans)
    return ans @ _phi(inv @ _lower(t) @ _T(inv))


defvjp(linalg.cholesky, _cholesky_vjp, ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(linalg.cholesky, _cholesky_jvp)


def _eigh_check(kwargs):
    if kwargs.get("UPLO", "L") != "L":
        raise SctError("sct differentiates np.linalg.eigh with the default UPLO='L' only")


def _eigh_vjp(g, ans, a, **kwargs):
    _eigh_check(kwargs)
    w, v = ans[0], ans[1]
    inner = g[0][..., :, None] * _eye(w.shape[-1]) + _gaps_times(w, _T(v) @ g[1])
    return _lower_grad(v @ inner @ _T(v))


def _eigh_jvp(t, ans, a, **kwargs):
    _eigh_check(kwargs)
    w, v = ans[0], ans[1]
    m = _T(v) @ _lower(t) @ v
    return (np.diagonal(m, 0, -2, -1), v @ _gaps_times(w, m))


defvjp(linalg.eigh, _eigh_vjp, ndim=lambda ranks, args, kwargs: None)
defjvp(linalg.eigh, _eigh_jvp)


def _eigvalsh_vjp(g, ans, a, **kwargs):
    _eigh_check(kwargs)
    v = linalg.eigh(a)[1]
    return _lower_grad((v * g[..., None, :]) @ _T(v))


def _eigvalsh_jvp(t, ans, a, **kwargs):
    _eigh_check(kwargs)
    v = linalg.eigh(a)[1]
    return np.diagonal(_T(v) @ _lower(t) @ v, 0, -2, -1)


defvjp(linalg.eigvalsh, _eigvalsh_vjp, ndim=lambda ranks, args, kwargs: None if ranks[0] is None else ranks[0] - 1)
defjvp(linalg.eigvalsh, _eigvalsh_jvp)


# ---- matrix_power --------------------------------------------------------------------------------
def _power(x, k):
    if k == 0:
        return None
    return x if k == 1 else call(linalg.matrix_power, x, k)


def _product(*factors):
    value = None
    for f in factors:
        if f is not None:
            value = f if value is None else value @ f
    return value


def _power_sum(x, t, n):
    """sum over k < n of x^k t x^(n-1-k) (the derivative of x^n along t, or its adjoint for x^T)."""
    total = None
    for k in range(n):
        term = _product(_power(x, k), t, _power(x, n - 1 - k))
        total = term if total is None else total + term
    return total


def _check_power(n):
    if not isinstance(n, numbers.Integral):
        raise SctError("sct differentiates np.linalg.matrix_power only with a constant integer power")


def _matrix_power_vjp(g, ans, a, n):
    _check_power(n)
    if n == 0:
        return None
    if n > 0:
        return _power_sum(_T(a), g, n)
    b = _T(linalg.inv(a))
    return -b @ _power_sum(b, g, -n) @ b


def _matrix_power_jvp(t, ans, a, n):
    _check_power(n)
    if n == 0:
        return None
    if n > 0:
        return _power_sum(a, t, n)
    b = linalg.inv(a)
    return _power_sum(b, -b @ t @ b, -n)


defvjp(linalg.matrix_power, _matrix_power_vjp, None, ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(linalg.matrix_power, _matrix_power_jvp, None)


# The second derivative of a norm whose ord is known only at run time.
def _norm_slope_vjp_x(G, ans, x, n, ord, axis=None):
    return G * call(linalg_helpers.norm_curvature, x, n, ord)


def _norm_slope_vjp_n(G, ans, x, n, ord, axis=None):
    c = call(linalg_helpers.norm_curvature, x, n, ord)
    return call(runtime.unbroadcast, -G * c * x / call(runtime.nonzero_or_one, n), n)


def _norm_slope_jvp_n(t, ans, x, n, ord, axis=None):
    return -call(linalg_helpers.norm_curvature, x, n, ord) * x * t / call(runtime.nonzero_or_one, n)


defvjp(linalg_helpers.norm_slope, _norm_slope_vjp_x, _norm_slope_vjp_n, None, None, ndim=lambda r, a, k: r[0])
defjvp(linalg_helpers.norm_slope, _norm_slope_vjp_x, _norm_slope_jvp_n, None, None)


# ---- svd ------------------------------------------------------------------------------------------
# With a = u diag(s) vh (reduced: k = min(m, n) columns) and distinct, nonzero singular values.
def _gaps_times(w, x):
    """F * x with F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it; 0 where x is 0."""
    return call(linalg_helpers.gaps_times, w, x)


def _sym(x):
    return call(linalg_helpers.plus_transpose, x)


def _eye(n):
    return call(np.eye, n)


def _svd_flags(full_matrices=True, compute_uv=True, hermitian=False):
    for flag in (full_matrices, compute_uv, hermitian):
        if not isinstance(flag, bool):
            raise SctError("sct differentiates np.linalg.svd with full_matrices, compute_uv and hermitian constants")
    if hermitian:
        raise SctError("sct differentiates np.linalg.svd only with hermitian=False (the default)")
    return full_matrices, compute_uv


def _tall(a):
    """Whether (each matrix of) ``a`` has more rows than columns: a Python bool at run time."""
    return a.shape[-2] > a.shape[-1]


def _wide(a):
    return a.shape[-1] > a.shape[-2]


def _svd_reduced_vjp(gu, gs, gvh, u, s, vh, a):
    """Townsend (2016): the adjoint of the reduced SVD, with the tall and wide projections."""
    inner = _sym(_gaps_times(s**2, _T(u) @ gu)) * s[..., None, :] + s[..., :, None] * _sym(
        _gaps_times(s**2, vh @ _T(gvh))
    )
    inner = inner + gs[..., :, None] * _eye(s.shape[-1])
    tall = _tall(a) * (gu - u @ (_T(u) @ gu)) / s[..., None, :]
    wide = _wide(a) * (gvh - (gvh @ _T(vh)) @ vh) / s[..., :, None]
    return u @ inner @ vh + tall @ vh + u @ wide


def _svd_reduced_jvp(t, u, s, vh, a):
    """The tangents (du, ds, dvh) of the reduced SVD (as JAX's svd_jvp_rule, for real matrices)."""
    ds = _T(u) @ t @ _T(vh)
    tv = t @ _T(vh)
    tu = _T(t) @ u
    du = u @ _gaps_times(s**2, _sym(ds * s[..., None, :])) + _tall(a) * (tv - u @ (_T(u) @ tv)) / s[..., None, :]
    dv = _T(vh) @ _gaps_times(s**2, _sym(s[..., :, None] * ds)) + _wide(a) * (tu - _T(vh) @ (vh @ tu)) / s[..., None, :]
    return du, np.diagonal(ds, 0, -2, -1), _T(dv)


def _svd_vjp(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    full, uv = _svd_flags(full_matrices, compute_uv, hermitian)
    if not uv:  # ans is s alone: d s = diag(u^T da v)
        usv = linalg.svd(a, full_matrices=False)
        return (usv[0] * g[..., None, :]) @ usv[2]
    u, s, vh, gu, gs, gvh = ans[0], ans[1], ans[2], g[0], g[1], g[2]
    if not full:
        return _svd_reduced_vjp(gu, gs, gvh, u, s, vh, a)
    k = s.shape[-1]  # the extra columns of a full u (rows of vh) must not have been used
    check = call(linalg_helpers.svd_extra_unused, gu, gvh, k)
    u, vh = u[..., :, :k], vh[..., :k, :]
    return check + _svd_reduced_vjp(gu[..., :, :k], gs, gvh[..., :k, :], u, s, vh, a)


def _svd_jvp(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    full, uv = _svd_flags(full_matrices, compute_uv, hermitian)
    if not uv:
        usv = linalg.svd(a, full_matrices=False)
        return np.sum(usv[0] * (t @ _T(usv[2])), axis=-2)
    du, ds, dvh = _svd_reduced_jvp(t, ans[0], ans[1], ans[2], a)
    if full:  # a square matrix (checked first): the full and the reduced SVD agree
        du = call(linalg_helpers.svd_square_only, a) + du
    return du, ds, dvh


def _svd_rank(ranks, args, kwargs):
    uv = args[2] if len(args) > 2 else kwargs.get("compute_uv", True)
    return None if uv is not False or ranks[0] is None else ranks[0] - 1


defvjp(linalg.svd, _svd_vjp, None, None, None, ndim=_svd_rank)
defjvp(linalg.svd, _svd_jvp, None, None, None)
defvjp(
    linalg.svdvals,
    lambda g, ans, a: _svd_vjp(g, ans, a, compute_uv=False),
    ndim=lambda ranks, args, kwargs: None if ranks[0] is None else ranks[0] - 1,
)
defjvp(linalg.svdvals, lambda t, ans, a: _svd_jvp(t, ans, a, compute_uv=False))


# ---- qr -----------------------------------------------------------------------------------------
# a = q r in mode="reduced", with k = min(m, n) and r[:, :k] invertible. For a wide matrix
# a = [x | y] (x square): q, u = qr(x) and r = [u | q^T y] (Liao et al. 2019).
def _qr_mode(mode="reduced"):
    if mode not in ("reduced", "r"):
        raise SctError(f"sct differentiates np.linalg.qr in mode='reduced' (the default) and 'r', not mode={mode!r}")
    return mode


def _qr_vjp(g, ans, a, mode="reduced"):
    if _qr_mode(mode) == "r":
        qr = linalg.qr(a)
        q, r, gq, gr = qr[0], qr[1], None, g
    else:
        q, r, gq, gr = ans[0], ans[1], g[0], g[1]
    k = r.shape[-2]
    u, gu, gv = r[..., :, :k], gr[..., :, :k], gr[..., :, k:]
    gq = a[..., :, k:] @ _T(gv) if gq is None else gq + a[..., :, k:] @ _T(gv)
    m = u @ _T(gu) - _T(gq) @ q
    gx = _T(linalg.solve(u, _T(gq + q @ _lower(m))))  # (gq + q copyltu(m)) u^-T
    return np.concatenate([gx, q @ gv], axis=-1)


def _qr_jvp(t, ans, a, mode="reduced"):
    wanted = _qr_mode(mode)
    qr = linalg.qr(a) if wanted == "r" else ans
    q, r = qr[0], qr[1]
    k = r.shape[-2]
    u = r[..., :, :k]
    dx_rinv = _T(linalg.solve(_T(u), _T(t[..., :, :k])))  # dx u^-1
    c = call(linalg_helpers.upper_fold, _T(q) @ dx_rinv)  # q^T dx u^-1 minus its skew lower part
    dq = dx_rinv - q @ c
    du = c @ u
    dr = np.concatenate([du, _T(dq) @ a[..., :, k:] + _T(q) @ t[..., :, k:]], axis=-1)
    return dr if wanted == "r" else (dq, dr)


defvjp(linalg.qr, _qr_vjp, None, ndim=lambda ranks, args, kwargs: None)
defjvp(linalg.qr, _qr_jvp, None)


# ---- pinv, lstsq ----------------------------------------------------------------------------------
# Where the rank of a is constant nearby (full rank, say): Golub & Pereyra (1973).
def _pinv_check(hermitian=False, **_):
    if hermitian is not False:
        raise SctError("sct differentiates np.linalg.pinv only with hermitian=False (the default)")


def _pinv_grad(g, p, a):
    """The adjoint in a of p = pinv(a), applied to g:
    -p^T g p^T + (I - a p) g^T p p^T + p^T p g^T (I - p a)."""
    left = _T(g) @ p @ _T(p)
    right = (_T(p) @ p) @ _T(g)
    return -_T(p) @ g @ _T(p) + (left - a @ (p @ left)) + (right - (right @ p) @ a)


def _pinv_tangent(t, p, a):
    """-p t p + p p^T t^T (I - a p) + (I - p a) t^T p^T p."""
    left = p @ (_T(p) @ _T(t))
    right = _T(t) @ (_T(p) @ p)
    return -p @ t @ p + (left - (left @ a) @ p) + (right - p @ (a @ right))


def _pinv_vjp(g, ans, a, *args, **kwargs):
    _pinv_check(**kwargs)
    return _pinv_grad(g, ans, a)


def _pinv_jvp(t, ans, a, *args, **kwargs):
    _pinv_check(**kwargs)
    return _pinv_tangent(t, ans, a)


defvjp(linalg.pinv, _pinv_vjp, ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(linalg.pinv, _pinv_jvp)


# lstsq(a, b) = (x, residuals, rank, sv): x = pinv(a) b; residuals = sum((b - a x)**2, axis=0) where
# a has full column rank and more rows than columns (else empty, as NumPy returns it); sv are a's
# singular values. Since a^T (b - a x) = 0, d residuals = 2 sum(r (db - da x), axis=0).
def _lstsq_ranks(a, b):
    ra, rb = _rank(a), _rank(b)
    if ra != 2 or rb not in (1, 2):
        raise SctError("sct differentiates np.linalg.lstsq only where the ranks of a (2) and b (1 or 2) are known")
    return rb == 1


def _residual_weights(g_res, b, vector):
    """The residuals' cotangent, zeros where NumPy returned no residuals."""
    if vector:
        return np.sum(g_res)
    return np.pad(g_res, (0, b.shape[-1] - g_res.shape[0]))


def _lstsq_vjp_a(g, ans, a, b, *args, **kwargs):
    vector = _lstsq_ranks(a, b)
    x, gx = ans[0], g[0]
    r = b - a @ x
    w = _residual_weights(g[1], b, vector)
    outer = gx[:, None] * b if vector else gx @ _T(b)
    residual = -2 * w * (r[:, None] * x) if vector else -2 * (r * w) @ _T(x)
    usv = linalg.svd(a, full_matrices=False)
    singular = (usv[0] * g[3]) @ usv[2]
    return _pinv_grad(outer, linalg.pinv(a), a) + residual + singular


def _lstsq_vjp_b(g, ans, a, b, *args, **kwargs):
    vector = _lstsq_ranks(a, b)
    r = b - a @ ans[0]
    return _T(linalg.pinv(a)) @ g[0] + 2 * r * _residual_weights(g[1], b, vector)


def _lstsq_jvp(ta, tb, ans, a, b):
    """The tangents of (x, residuals, rank, sv) along ta (of a) and tb (of b); either may be None."""
    x = ans[0]
    p = linalg.pinv(a)
    dx = None if ta is None else _pinv_tangent(ta, p, a) @ b
    dx = p @ tb if dx is None else (dx if tb is None else dx + p @ tb)
    r = b - a @ x
    change = -(ta @ x) if tb is None else (tb if ta is None else tb - ta @ x)
    dres = np.atleast_1d(2 * np.sum(r * change, axis=0))[: ans[1].shape[0]]
    if ta is None:
        dsv = call(runtime.zeros_like, ans[3])
    else:
        usv = linalg.svd(a, full_matrices=False)
        dsv = np.sum(usv[0] * (ta @ _T(usv[2])), axis=-2)
    return dx, dres, call(runtime.zeros_like, ans[2]), dsv


def _lstsq_jvp_a(t, ans, a, b, *args, **kwargs):
    _lstsq_ranks(a, b)
    return _lstsq_jvp(t, None, ans, a, b)


def _lstsq_jvp_b(t, ans, a, b, *args, **kwargs):
    _lstsq_ranks(a, b)
    return _lstsq_jvp(None, t, ans, a, b)


defvjp(linalg.lstsq, _lstsq_vjp_a, _lstsq_vjp_b, ndim=lambda ranks, args, kwargs: None)
defjvp(linalg.lstsq, _lstsq_jvp_a, _lstsq_jvp_b)


# ---- eig ----------------------------------------------------------------------------------------
# a v = v diag(w) with distinct eigenvalues; NumPy scales each eigenvector to unit length. For a
# real matrix with complex eigenvalues the eigenvectors are complex and their phase is LAPACK's
# choice, which no rule models: a function of them must not depend on that phase (|v| does not).
# The gradient of a real matrix is real (the real part), as in autograd.
def _real_part(x):
    """The real part of ``x``, kept in ``x``'s dtype: its adjoint stays complex where ``x`` is, so
    differentiating the rule again never adds a complex cotangent into a real array."""
    return 0.5 * (x + np.conj(x))


def _eig_vjp(g, ans, a):
    w, v, gw, gv = ans[0], ans[1], g[0], g[1]
    eye = _eye(w.shape[-1])
    vt = _T(v)
    inner = gw[..., None, :] * eye + _gaps_times(w, vt @ gv - (vt @ np.conj(v)) @ (_real_part(vt @ gv) * eye))
    return call(linalg_helpers.real_if_real, linalg.solve(vt, inner @ vt), a)


def _eig_jvp(t, ans, a):
    w, v = ans[0], ans[1]
    m = linalg.solve(v, t @ v)
    dv = v @ _gaps_times(w, m)
    dv = dv - v * _real_part(np.sum(np.conj(v) * dv, axis=-2))[..., None, :]  # unit length stays unit length
    return np.diagonal(m, 0, -2, -1), dv


defvjp(linalg.eig, _eig_vjp, ndim=lambda ranks, args, kwargs: None)
defjvp(linalg.eig, _eig_jvp)


def _eigvals_vjp(g, ans, a):
    v = linalg.eig(a)[1]
    vt = _T(v)
    return call(linalg_helpers.real_if_real, linalg.solve(vt, g[..., :, None] * vt), a)


def _eigvals_jvp(t, ans, a):
    v = linalg.eig(a)[1]
    return np.diagonal(linalg.solve(v, t @ v), 0, -2, -1)


defvjp(linalg.eigvals, _eigvals_vjp, ndim=lambda ranks, args, kwargs: None if ranks[0] is None else ranks[0] - 1)
defjvp(linalg.eigvals, _eigvals_jvp)

linear(
    linalg_helpers.real_if_real,
    lambda g, ans, r, x: call(linalg_helpers.real_if_real, g, x),
    rest=(None,),
)
nondiff(linalg_helpers.svd_extra_unused, linalg_helpers.svd_square_only, ndim=lambda ranks, args, kwargs: 0)
# as_rhs and from_rhs add or drop a trailing axis of length 1: each is the other's adjoint.
linear(linalg_helpers.as_rhs, lambda g, ans, y, b: call(linalg_helpers.from_rhs, g, b), ndim=None, rest=(None,))
linear(linalg_helpers.from_rhs, lambda g, ans, y, b: call(linalg_helpers.as_rhs, g, b), ndim=None, rest=(None,))


# y = gaps_times(w, x) = F * x with F[i, j] = 1 / (w[j] - w[i]): linear in x, and dF = -F**2 (dw[j] - dw[i]),
# so along dw, dy = -F * y * (dw[j] - dw[i]).
def _gaps_times_vjp_w(G, ans, w, x):
    h = _gaps_times(w, G * ans)
    return np.sum(h, axis=-1) - np.sum(h, axis=-2)


defvjp(
    linalg_helpers.gaps_times,
    _gaps_times_vjp_w,
    lambda G, ans, w, x: _gaps_times(w, G),
    ndim=lambda ranks, args, kwargs: ranks[1],
)
defjvp(
    linalg_helpers.gaps_times,
    lambda t, ans, w, x: -_gaps_times(w, ans * (t[..., None, :] - t[..., :, None])),
    lambda t, ans, w, x: _gaps_times(w, t),
)
linear(linalg_helpers.plus_transpose, lambda g, ans, x: call(linalg_helpers.plus_transpose, g))
linear(linalg_helpers.lower_symmetric, lambda g, ans, x: call(linalg_helpers.lower_symmetric_adjoint, g))
linear(linalg_helpers.lower_symmetric_adjoint, lambda g, ans, x: call(linalg_helpers.lower_symmetric, g))
linear(linalg_helpers.tril_half_diagonal, lambda g, ans, x: call(linalg_helpers.tril_half_diagonal, g))
linear(linalg_helpers.upper_fold, lambda g, ans, x: call(linalg_helpers.upper_fold_adjoint, g))
linear(linalg_helpers.upper_fold_adjoint, lambda g, ans, x: call(linalg_helpers.upper_fold, g))

# Operands passed by keyword (np.linalg.solve(a, b=b)) move to their positions.
positional(linalg.solve, "a", "b")
positional(linalg.lstsq, "a", "b")


# Results that are tuples of arrays: their gradients add item by item (sct.passes.containers).
sequence("tuple", linalg.slogdet, linalg.eigh, linalg.eig, linalg.lstsq)
sequence("maybe", linalg.svd, linalg.qr)  # svd(compute_uv=False) and qr(mode="r") return one array
