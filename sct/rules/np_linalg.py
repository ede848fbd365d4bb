"""Rules for ``numpy.linalg``: inv, solve, det, slogdet, norm, cholesky, eigh, eigvalsh, matrix_power.

Matrices may be stacked (the last two axes are the matrix axes) unless a rule
says otherwise. ``np.linalg.cholesky`` and ``np.linalg.eigh`` read only the
lower triangle of their input, so their rules give the derivative of exactly
that function: a perturbation of the upper triangle changes nothing, and the
lower triangle's entries stand for both symmetric positions. For the usual
symmetric input built from other values (``A = B @ B.T``) that is the familiar
symmetric gradient.

``np.linalg.slogdet`` and ``np.linalg.eigh`` return pairs: the adjoint ``g``
of the pair arrives as a list ``[g_first, g_second]`` (zeros for an unused
part), and their forward rules return the pair of tangents.
"""

import numbers

import numpy as np

from .. import runtime
from ..errors import SctError
from ..symbolic import Sym, call
from .table import defjvp, defvjp, elementwise

linalg = np.linalg


def _T(x):
    """The transpose of (each matrix of) ``x``."""
    return x.T if getattr(x, "ndim", None) == 2 else np.swapaxes(x, -1, -2)


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
    return np.tril(t) + _T(np.tril(t, -1))


def _lower_grad(G):
    """The gradient with respect to the lower triangle, from one valid for symmetric perturbations."""
    return np.tril(G + _T(G)) - _diagonal_part(G)


# ---- inv, solve, det, slogdet ---------------------------------------------------------------
defvjp(linalg.inv, lambda g, ans, a: -_T(ans) @ g @ _T(ans), ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(linalg.inv, lambda t, ans, a: -ans @ t @ ans)


def _known(x):
    return not isinstance(x, Sym) or x.ndim is not None


def _solve_b(g, ans, a, b):
    if _batched(a) and (b.ndim if isinstance(b, Sym) else np.ndim(b)) == 1:
        raise SctError("sct differentiates np.linalg.solve of a stack of matrices with a stack of right-hand sides")
    return linalg.solve(_T(a), g)


def _solve_a(g, ans, a, b):
    gb = _solve_b(g, ans, a, b)
    if _known(b):
        return runtime.solve_grad(gb, ans, b)  # inline: -np.outer(gb, x) or -gb @ x.T
    return call(runtime.solve_grad, gb, ans, b)


defvjp(linalg.solve, _solve_a, _solve_b, ndim=lambda ranks, args, kwargs: ranks[1])
defjvp(linalg.solve, lambda t, ans, a, b: -linalg.solve(a, t @ ans), lambda t, ans, a, b: linalg.solve(a, t))
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
    return _scale(g[1], _T(linalg.inv(a)))


def _slogdet_jvp(t, ans, a):
    return (call(runtime.zeros_like, ans[0]), _trace_last(linalg.solve(a, t)))


# A pair: indexable like a vector (for a single matrix, each part is a scalar).
defvjp(linalg.slogdet, _slogdet_vjp, ndim=lambda ranks, args, kwargs: 1 if ranks[0] == 2 else None)
defjvp(linalg.slogdet, _slogdet_jvp)


# ---- norm ---------------------------------------------------------------------------------------
def _static_ord(ord):
    """``np.inf`` reaches a rule as the expression ``np.inf``: its value."""
    if isinstance(ord, Sym) and getattr(ord.node, "attr", None) == "inf":
        return np.inf
    return ord


def _norm_args(x, ord, axis):
    """Which norm this is: "2", "1" or "inf" (of vectors, or of the flattened array for "fro")."""
    ord = _static_ord(ord)
    rank = x.ndim if isinstance(x, Sym) else np.ndim(x)
    if ord is None or isinstance(ord, str) and ord == "fro":
        return "2"
    if axis is None and rank is None:
        raise SctError("sct differentiates np.linalg.norm with ord=... only where the rank of x is known")
    matrix = (axis is None and rank == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    kinds = {2: "2", 1: "1", np.inf: "inf"}
    if not matrix and isinstance(ord, numbers.Number) and ord in kinds:
        return kinds[ord]
    raise SctError(
        f"sct differentiates np.linalg.norm for ord=None, 'fro', and 1, 2, inf of vectors only (not ord={ord!r}"
        + (" of a matrix)" if matrix else ")")
    )


def _norm_expand(v, axis, keepdims):
    """A norm's value or adjoint, with the reduced axes put back (size 1) for broadcasting."""
    if axis is None or keepdims:
        return v
    return np.expand_dims(v, axis)


def _norm_vjp(g, ans, x, ord=None, axis=None, keepdims=False):
    kind = _norm_args(x, ord, axis)
    g = _norm_expand(g, axis, keepdims)
    if kind == "1":
        return g * np.sign(x)
    n = _norm_expand(ans, axis, keepdims)
    if kind == "2":  # subgradient 0 at 0
        return g * x / call(runtime.nonzero_or_one, n)
    # inf: ties for the largest magnitude split g equally (like JAX's max).
    hit = np.equal(np.abs(x), n)
    return g * np.sign(x) * hit / np.sum(hit, axis=axis, keepdims=True)


def _norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    kind = _norm_args(x, ord, axis)
    if kind == "1":
        return np.sum(np.sign(x) * t, axis=axis, keepdims=keepdims)
    if kind == "2":
        return np.sum(x * t, axis=axis, keepdims=keepdims) / call(runtime.nonzero_or_one, ans)
    n = _norm_expand(ans, axis, keepdims)
    hit = np.equal(np.abs(x), n)
    share = hit / np.sum(hit, axis=axis, keepdims=True)
    return np.sum(np.sign(x) * t * share, axis=axis, keepdims=keepdims)


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
# nonzero_or_one(n) is n where n != 0: its derivative is 1 there (and 0 where it put a 1).
elementwise(runtime.nonzero_or_one, lambda g, ans, x: g * (np.abs(x) > 0))


# ---- cholesky, eigh ------------------------------------------------------------------------------
def _phi(x):
    """The lower triangle of ``x`` with its diagonal halved."""
    return np.tril(x) - 0.5 * _diagonal_part(x)


def _cholesky_vjp(g, ans, a):
    """S = L^-T phi(L^T g) L^-1 (Murray 2016), then onto the lower triangle that cholesky reads."""
    inv = linalg.inv(ans)
    s = _T(inv) @ _phi(_T(ans) @ g) @ inv
    return _lower_grad(0.5 * (s + _T(s)))


def _cholesky_jvp(t, ans, a):
    inv = linalg.inv(ans)
    return ans @ _phi(inv @ _lower(t) @ _T(inv))


defvjp(linalg.cholesky, _cholesky_vjp, ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(linalg.cholesky, _cholesky_jvp)


def _eigh_gaps(w, a):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (eigenvalues must be distinct)."""
    eye = _eye_like(a)
    return (1.0 - eye) / (w[..., None, :] - w[..., :, None] + eye)


def _eigh_check(kwargs):
    if kwargs.get("UPLO", "L") != "L":
        raise SctError("sct differentiates np.linalg.eigh with the default UPLO='L' only")


def _eigh_vjp(g, ans, a, **kwargs):
    _eigh_check(kwargs)
    w, v = ans[0], ans[1]
    inner = g[0][..., :, None] * _eye_like(a) + _eigh_gaps(w, a) * (_T(v) @ g[1])
    return _lower_grad(v @ inner @ _T(v))


def _eigh_jvp(t, ans, a, **kwargs):
    _eigh_check(kwargs)
    w, v = ans[0], ans[1]
    m = _T(v) @ _lower(t) @ v
    return (np.diagonal(m, 0, -2, -1), v @ (_eigh_gaps(w, a) * m))


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
