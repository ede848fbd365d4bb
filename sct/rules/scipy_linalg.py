"""Rules for ``scipy.linalg``: solve_triangular, cholesky, cho_factor/cho_solve, lu_factor/lu_solve, solve,
inv, det, expm, sqrtm, solve_sylvester, block_diag. Imported by :mod:`sct.rules.scipy_rules` once SciPy is.

Which entries a function reads, and so which entries get a derivative:

* ``solve_triangular(a, b, lower=...)`` reads one triangle of ``a`` (without the diagonal with
  ``unit_diagonal=True``): the gradient is zero elsewhere.
* ``cholesky(a, lower=False)`` (SciPy's default is the *upper* factor) reads only the upper triangle
  of ``a`` (the lower one with ``lower=True``); each entry read stands for both symmetric positions,
  so for ``a = b @ b.T`` the familiar symmetric gradient comes out (as for ``np.linalg.cholesky``).
* ``cho_factor(a, lower)`` returns ``(c, lower)``: ``c`` holds the factor in one triangle and ``a``'s
  own entries in the other (SciPy leaves them there); both parts differentiate exactly.
  ``cho_solve((c, lower), b)`` reads only the factor's triangle of ``c``.
* ``lu_factor(a)`` returns ``(lu, piv)`` with ``a[p] = l @ u`` (``p`` the row order of the pivots,
  fixed near a generic point); ``lu_solve((lu, piv), b, trans)`` reads ``l`` and ``u`` from ``lu``.
* ``solve(a, b, assume_a=...)``: with ``assume_a`` None or "general" the whole of ``a``; "symmetric",
  "hermitian" and "positive definite" read one triangle (``lower``), like ``cholesky``; "diagonal"
  the diagonal; "upper triangular"/"lower triangular" that triangle.
* ``expm`` differentiates through the block matrix ``expm([[a, e], [0, a]])``, whose upper right
  block is the Frechet derivative along ``e`` (so every order is exact); ``sqrtm`` through a
  Sylvester equation, ``solve_sylvester`` has its own rules.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl

from ..backend import linalg_helpers as lh
from ..backend import runtime
from ..errors import SctError
from ..symbolic import Scatter, call
from . import np_linalg as npl
from .table import defjvp, defjvp_joint, defvjp, linear, lookup, nondiff, positional, sequence

_T = npl._T


def _rank(x):
    return npl._rank(x)


# ---- right-hand sides: a vector, or a stack of matrices (as numpy.linalg.solve) ----------------------
def _col(x, b):
    """``x`` as matrices: a column added where ``b`` is a vector (decided at run time where b's rank is unknown)."""
    rank = _rank(b)
    if rank is None:
        return call(lh.as_rhs, x, b)
    return x[..., None] if rank == 1 else x


def _uncol(x, b):
    rank = _rank(b)
    if rank is None:
        return call(lh.from_rhs, x, b)
    return x[..., 0] if rank == 1 else x


def _fit(g, x, full_rank):
    """``g`` summed down to ``x``'s shape where broadcasting may have made it larger."""
    rank = _rank(x)
    if rank is not None and full_rank is not None and rank >= full_rank:
        return g
    return call(runtime.unbroadcast, g, x)


def _adjoints(solve_t, g, ans, a, b):
    """(gM, gb) for ``x = solve(M, b)`` (M a function of ``a``), given ``solve_t(r) = M^-T r``:
    gb = M^-T g and gM = -gb x^T, each summed to its operand's shape."""
    gb = solve_t(_col(g, b))
    gm = -gb @ _T(_col(ans, b))
    ra, rb = _rank(a), _rank(b)
    full = None if ra is None or rb is None else max(ra, rb + (rb == 1))  # the rank of gb and gM as matrices
    return _fit(gm, a, full), _fit(_uncol(gb, b), b, None if full is None else full - (rb == 1))


# ---- solve_triangular --------------------------------------------------------------------------------
def _trans(trans=0):
    if trans in (0, "N"):
        return 0
    if trans in (1, "T", 2, "C"):
        return 1
    raise SctError("sct differentiates scipy.linalg.solve_triangular with trans given as a constant")


def _triangular_flags(trans=0, lower=False, unit_diagonal=False, **_):
    for flag in (lower, unit_diagonal):
        if not isinstance(flag, bool):
            raise SctError("sct differentiates scipy.linalg.solve_triangular with lower and unit_diagonal constants")
    return _trans(trans), lower, unit_diagonal


def _triangle(x, lower, unit_diagonal):
    """The entries of ``x`` that a triangular solve reads."""
    if lower:
        return np.tril(x, -1) if unit_diagonal else np.tril(x)
    return np.triu(x, 1) if unit_diagonal else np.triu(x)


def _st(a, rhs, trans, lower, unit_diagonal):
    """``scipy.linalg.solve_triangular`` as source, with only the flags that differ from the defaults."""
    flags = {}
    if trans:
        flags["trans"] = trans
    if lower:
        flags["lower"] = True
    if unit_diagonal:
        flags["unit_diagonal"] = True
    return call(sl.solve_triangular, a, rhs, **flags)


def _solve_triangular_vjp_a(g, ans, a, b, trans=0, lower=False, unit_diagonal=False, **kwargs):
    t, low, unit = _triangular_flags(trans, lower, unit_diagonal)
    gm = _adjoints(lambda r: _st(a, r, 1 - t, low, unit), g, ans, a, b)[0]
    return _triangle(gm if t == 0 else _T(gm), low, unit)


def _solve_triangular_vjp_b(g, ans, a, b, trans=0, lower=False, unit_diagonal=False, **kwargs):
    t, low, unit = _triangular_flags(trans, lower, unit_diagonal)
    return _adjoints(lambda r: _st(a, r, 1 - t, low, unit), g, ans, a, b)[1]


def _solve_triangular_jvp_a(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, **kwargs):
    tr, low, unit = _triangular_flags(trans, lower, unit_diagonal)
    da = _triangle(t, low, unit)
    return -_uncol(_st(a, (da if tr == 0 else _T(da)) @ _col(ans, b), tr, low, unit), b)


def _solve_triangular_jvp_b(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, **kwargs):
    tr, low, unit = _triangular_flags(trans, lower, unit_diagonal)
    return _st(a, t, tr, low, unit)


def _solve_rank(ranks, args, kwargs):
    ra, rb = ranks[0], ranks[1]
    if ra is None or rb is None:
        return None
    return ra - 1 if rb == 1 else max(ra, rb)


defvjp(sl.solve_triangular, _solve_triangular_vjp_a, _solve_triangular_vjp_b, ndim=_solve_rank)
defjvp(sl.solve_triangular, _solve_triangular_jvp_a, _solve_triangular_jvp_b)


# ---- cholesky, cho_factor, cho_solve -------------------------------------------------------------------
def _lower_flag(lower):
    if not isinstance(lower, bool):
        raise SctError("sct differentiates scipy.linalg.cholesky and cho_factor with lower given as a constant")
    return lower


def _cholesky_vjp(g, ans, a, lower=False, **kwargs):
    if _lower_flag(lower):
        return npl._cholesky_vjp(g, ans, a)
    return _T(npl._cholesky_vjp(_T(g), _T(ans), _T(a)))  # u = l^T, with l the factor of a^T


def _cholesky_jvp(t, ans, a, lower=False, **kwargs):
    if _lower_flag(lower):
        return npl._cholesky_jvp(t, ans, a)
    return _T(npl._cholesky_jvp(_T(t), _T(ans), _T(a)))


defvjp(sl.cholesky, _cholesky_vjp, ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(sl.cholesky, _cholesky_jvp)


def _cho_factor_vjp(g, ans, a, lower=False, **kwargs):
    """c = the factor in one triangle + a's own entries in the other (strictly)."""
    c, gc = ans[0], g[0]
    if _lower_flag(lower):
        return npl._cholesky_vjp(np.tril(gc), np.tril(c), a) + np.triu(gc, 1)
    return _T(npl._cholesky_vjp(np.tril(_T(gc)), _T(np.triu(c)), _T(a))) + np.tril(gc, -1)


def _cho_factor_jvp(t, ans, a, lower=False, **kwargs):
    c = ans[0]
    if _lower_flag(lower):
        dc = npl._cholesky_jvp(t, np.tril(c), a) + np.triu(t, 1)
    else:
        dc = _T(npl._cholesky_jvp(_T(t), _T(np.triu(c)), _T(a))) + np.tril(t, -1)
    return dc, call(runtime.zeros_like, ans[1])


defvjp(sl.cho_factor, _cho_factor_vjp, ndim=lambda ranks, args, kwargs: None)
defjvp(sl.cho_factor, _cho_factor_jvp)


def _factor(c_and_lower):
    """The lower factor f (a = f f^T) that ``(c, lower)`` holds, as source."""
    return call(lh.cholesky_factor, c_and_lower[0], c_and_lower[1])


def _cho_solve_vjp_c(g, ans, cl, b, **kwargs):
    """x = A^-1 b with A = f f^T: gA = -gb x^T, gf = (gA + gA^T) f, then onto the triangle c holds."""
    ga = _adjoints(lambda r: call(sl.cho_solve, cl, r), g, ans, cl[0], b)[0]
    gf = call(lh.plus_transpose, ga) @ _factor(cl)
    return Scatter(call(lh.cholesky_factor_adjoint, gf, cl[1]), 0)  # into the factor c of the pair (c, lower)


def _cho_solve_vjp_b(g, ans, cl, b, **kwargs):
    return _adjoints(lambda r: call(sl.cho_solve, cl, r), g, ans, cl[0], b)[1]


def _cho_solve_jvp_c(t, ans, cl, b, **kwargs):
    f = _factor(cl)
    df = call(lh.cholesky_factor, t[0], cl[1])
    da = call(lh.plus_transpose, df @ _T(f))
    return -_uncol(call(sl.cho_solve, cl, da @ _col(ans, b)), b)


defvjp(sl.cho_solve, _cho_solve_vjp_c, _cho_solve_vjp_b, ndim=_solve_rank)
defjvp(sl.cho_solve, _cho_solve_jvp_c, lambda t, ans, cl, b, **kwargs: call(sl.cho_solve, cl, t))
linear(lh.cholesky_factor, lambda g, ans, c, lower: call(lh.cholesky_factor_adjoint, g, lower), rest=(None,))
linear(lh.cholesky_factor_adjoint, lambda g, ans, G, lower: call(lh.cholesky_factor, g, lower), rest=(None,))


# ---- lu_factor, lu_solve ----------------------------------------------------------------------------
# a[p] = l u with l unit lower triangular (strictly lower part of lu) and u upper triangular.
def _rows(x, p):
    """``x[..., p, :]`` for (stacks of) matrices."""
    return np.take_along_axis(x, p[..., :, None], axis=-2)


def _unit_lower(lu):
    return np.tril(lu, -1) + npl._eye_like(lu)


def _lu_factor_vjp(g, ans, a, **kwargs):
    """With X = l^-1 da[p] u^-1: dl = l tril(X, -1), du = triu(X) u; so ga[p] = l^-T h u^-T with
    h = tril(l^T g, -1) + triu(g u^T)."""
    lu, gl = ans[0], g[0]
    h = np.tril(_T(_unit_lower(lu)) @ gl, -1) + np.triu(gl @ _T(np.triu(lu)))
    y = _st(lu, h, 1, True, True)  # l^-T h
    gap = _T(_st(lu, _T(y), 0, False, False))  # (u^-1 y^T)^T = y u^-T
    return _rows(gap, np.argsort(call(lh.lu_rows, ans[1]), axis=-1))


def _lu_factor_jvp(t, ans, a, **kwargs):
    lu = ans[0]
    z = _st(lu, _rows(t, call(lh.lu_rows, ans[1])), 0, True, True)  # l^-1 da[p]
    x = _T(_st(lu, _T(z), 1, False, False))  # z u^-1
    dlu = _unit_lower(lu) @ np.tril(x, -1) + np.triu(x) @ np.triu(lu)
    return dlu, call(runtime.zeros_like, ans[1])


defvjp(sl.lu_factor, _lu_factor_vjp, ndim=lambda ranks, args, kwargs: None)
defjvp(sl.lu_factor, _lu_factor_jvp)
nondiff(lh.lu_rows, ndim=lambda ranks, args, kwargs: ranks[0])


def _lu_solve_trans(trans=0, **kwargs):
    return _trans(trans)


def _lu_call(lp, rhs, trans):
    return call(sl.lu_solve, lp, rhs, trans=trans) if trans else call(sl.lu_solve, lp, rhs)


def _lu_solve_vjp_lu(g, ans, lp, b, trans=0, **kwargs):
    """x = M^-1 b with M = a or a^T and a[p] = l u; from gA, glu = tril(gA[p] u^T, -1) + triu(l^T gA[p])."""
    t = _lu_solve_trans(trans)
    lu = lp[0]
    gm = _adjoints(lambda r: _lu_call(lp, r, 1 - t), g, ans, lu, b)[0]
    gap = _rows(gm if t == 0 else _T(gm), call(lh.lu_rows, lp[1]))
    return Scatter(np.tril(gap @ _T(np.triu(lu)), -1) + np.triu(_T(_unit_lower(lu)) @ gap), 0)  # into lu of (lu, piv)


def _lu_solve_vjp_b(g, ans, lp, b, trans=0, **kwargs):
    t = _lu_solve_trans(trans)
    return _adjoints(lambda r: _lu_call(lp, r, 1 - t), g, ans, lp[0], b)[1]


def _lu_solve_jvp_lu(t, ans, lp, b, trans=0, **kwargs):
    tr = _lu_solve_trans(trans)
    lu, dlu = lp[0], t[0]
    dap = np.tril(dlu, -1) @ np.triu(lu) + _unit_lower(lu) @ np.triu(dlu)  # d(a[p])
    da = _rows(dap, np.argsort(call(lh.lu_rows, lp[1]), axis=-1))
    return -_uncol(_lu_call(lp, (da if tr == 0 else _T(da)) @ _col(ans, b), tr), b)


def _lu_solve_jvp_b(t, ans, lp, b, trans=0, **kwargs):
    return _lu_call(lp, t, _lu_solve_trans(trans))


defvjp(sl.lu_solve, _lu_solve_vjp_lu, _lu_solve_vjp_b, ndim=_solve_rank)
defjvp(sl.lu_solve, _lu_solve_jvp_lu, _lu_solve_jvp_b)


# ---- solve ----------------------------------------------------------------------------------------
_GENERAL = (None, "gen", "general")
_SYMMETRIC = ("sym", "symmetric", "her", "hermitian", "pos", "positive definite")
_STRUCTURES = _GENERAL + _SYMMETRIC + ("diagonal", "upper triangular", "lower triangular")


def _solve_flags(lower=False, assume_a=None, transposed=False, **_):
    if assume_a not in _STRUCTURES:
        raise SctError(
            f"sct differentiates scipy.linalg.solve with assume_a=None, 'general', 'symmetric', 'hermitian', "
            f"'positive definite', 'diagonal', 'upper triangular' or 'lower triangular' (not {assume_a!r})"
        )
    if not isinstance(lower, bool) or not isinstance(transposed, bool):
        raise SctError("sct differentiates scipy.linalg.solve with lower and transposed given as constants")
    return lower, assume_a, transposed


def _read(x, lower, assume_a):
    """The matrix that solve sees in ``x`` (the tangent map)."""
    if assume_a in _SYMMETRIC:
        return npl._lower(x) if lower else npl._lower(_T(x))
    if assume_a == "diagonal":
        return npl._diagonal_part(x)
    if assume_a == "upper triangular":
        return np.triu(x)
    if assume_a == "lower triangular":
        return np.tril(x)
    return x


def _read_adjoint(g, lower, assume_a):
    """The adjoint of :func:`_read`: a gradient onto the entries solve reads."""
    if assume_a in _SYMMETRIC:
        return npl._lower_grad(g) if lower else _T(npl._lower_grad(g))
    return _read(g, lower, assume_a)


def _solve_call(a, rhs, lower, assume_a, transposed):
    flags = {}
    if lower:
        flags["lower"] = True
    if assume_a is not None:
        flags["assume_a"] = assume_a
    if transposed:
        flags["transposed"] = True
    return call(sl.solve, a, rhs, **flags)


def _scipy_solve_vjp_a(g, ans, a, b, *args, **kwargs):
    lower, assume, transposed = _solve_flags(**kwargs)
    gm = _adjoints(lambda r: _solve_call(a, r, lower, assume, not transposed), g, ans, a, b)[0]
    return _read_adjoint(_T(gm) if transposed else gm, lower, assume)


def _scipy_solve_vjp_b(g, ans, a, b, *args, **kwargs):
    lower, assume, transposed = _solve_flags(**kwargs)
    return _adjoints(lambda r: _solve_call(a, r, lower, assume, not transposed), g, ans, a, b)[1]


def _scipy_solve_jvp_a(t, ans, a, b, *args, **kwargs):
    lower, assume, transposed = _solve_flags(**kwargs)
    da = _read(t, lower, assume)
    rhs = (_T(da) if transposed else da) @ _col(ans, b)
    return -_uncol(_solve_call(a, rhs, lower, assume, transposed), b)


def _scipy_solve_jvp_b(t, ans, a, b, *args, **kwargs):
    lower, assume, transposed = _solve_flags(**kwargs)
    return _solve_call(a, t, lower, assume, transposed)


def _no_positional_flags(fn):
    def rule(g, ans, a, b, *args, **kwargs):
        if args:
            raise SctError("sct differentiates scipy.linalg.solve with its options given by keyword")
        return fn(g, ans, a, b, **kwargs)

    return rule


defvjp(sl.solve, _no_positional_flags(_scipy_solve_vjp_a), _no_positional_flags(_scipy_solve_vjp_b), ndim=_solve_rank)
defjvp(sl.solve, _no_positional_flags(_scipy_solve_jvp_a), _no_positional_flags(_scipy_solve_jvp_b))


# ---- inv, det ------------------------------------------------------------------------------------------
defvjp(sl.inv, lambda g, ans, a, *args, **kwargs: -_T(ans) @ g @ _T(ans), ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(sl.inv, lambda t, ans, a, *args, **kwargs: -ans @ t @ ans)
defvjp(
    sl.det,
    lambda g, ans, a, *args, **kwargs: npl._scale(g, call(runtime.cofactor, a)),
    ndim=lambda ranks, args, kwargs: None if ranks[0] is None else ranks[0] - 2,
)
defjvp(sl.det, lambda t, ans, a, *args, **kwargs: npl._sum_last2(call(runtime.cofactor, a) * t))


# ---- expm, sqrtm, solve_sylvester -----------------------------------------------------------------
def _frechet(a, e):
    """The Frechet derivative of expm at ``a`` along ``e``: the upper right block of expm([[a, e], [0, a]])."""
    n = a.shape[-1]
    top = np.concatenate([a, e], axis=-1)
    bottom = np.concatenate([np.zeros_like(a), a], axis=-1)
    return call(sl.expm, np.concatenate([top, bottom], axis=-2))[..., :n, n:]


defvjp(sl.expm, lambda g, ans, a: _frechet(_T(a), g), ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(sl.expm, lambda t, ans, a: _frechet(a, t))


def _sqrtm_check(args, kwargs):
    if args or kwargs:
        raise SctError("sct differentiates scipy.linalg.sqrtm(a) without further arguments")


def _sqrtm_vjp(g, ans, a, *args, **kwargs):
    """x x = a, so x dx + dx x = da: dx solves a Sylvester equation; its adjoint solves the transposed one."""
    _sqrtm_check(args, kwargs)
    return call(sl.solve_sylvester, _T(ans), _T(ans), g)


def _sqrtm_jvp(t, ans, a, *args, **kwargs):
    _sqrtm_check(args, kwargs)
    return call(sl.solve_sylvester, ans, ans, t)


defvjp(sl.sqrtm, _sqrtm_vjp, ndim=lambda ranks, args, kwargs: ranks[0])
defjvp(sl.sqrtm, _sqrtm_jvp)


# y = solve_sylvester(a, b, q): a y + y b = q, so a dy + dy b = dq - da y - y db.
def _sylvester_t(g, a, b):
    return call(sl.solve_sylvester, _T(a), _T(b), g)


defvjp(
    sl.solve_sylvester,
    lambda g, ans, a, b, q: -_sylvester_t(g, a, b) @ _T(ans),
    lambda g, ans, a, b, q: -_T(ans) @ _sylvester_t(g, a, b),
    lambda g, ans, a, b, q: _sylvester_t(g, a, b),
    ndim=lambda ranks, args, kwargs: 2,
)
defjvp(
    sl.solve_sylvester,
    lambda t, ans, a, b, q: -call(sl.solve_sylvester, a, b, t @ ans),
    lambda t, ans, a, b, q: -call(sl.solve_sylvester, a, b, ans @ t),
    lambda t, ans, a, b, q: call(sl.solve_sylvester, a, b, t),
)


# ---- block_diag ----------------------------------------------------------------------------------
def _block_diag_vjp(i):
    return lambda g, ans, *arrs: call(lh.block_diag_part, g, i, *arrs)


def _block_diag_jvp(i):
    return lambda t, ans, *arrs: call(lh.block_diag_place, t, i, *arrs)


defvjp(sl.block_diag, _block_diag_vjp, ndim=lambda ranks, args, kwargs: 2)
defjvp(sl.block_diag, _block_diag_jvp)
defjvp_joint(sl.block_diag, lambda tangents, ans, *arrs: call(sl.block_diag, *tangents))
# block_diag_part(g, i, *arrs) and block_diag_place(b, i, *arrs) are linear in their first operand
# and each other's adjoint.
defvjp(
    lh.block_diag_part,
    lambda i: (lambda G, ans, g, k, *arrs: call(lh.block_diag_place, G, k, *arrs)) if i == 0 else None,
)
defjvp(
    lh.block_diag_part,
    lambda i: (lambda t, ans, g, k, *arrs: call(lh.block_diag_part, t, k, *arrs)) if i == 0 else None,
)
defvjp(
    lh.block_diag_place,
    lambda i: (lambda G, ans, b, k, *arrs: call(lh.block_diag_part, G, k, *arrs)) if i == 0 else None,
)
defjvp(
    lh.block_diag_place,
    lambda i: (lambda t, ans, b, k, *arrs: call(lh.block_diag_place, t, k, *arrs)) if i == 0 else None,
)


# overwrite_a=True / overwrite_b=True let SciPy destroy an operand that the derivative still reads.
def _no_overwrite(rule):
    if rule is None:
        return None

    def checked(g, ans, *args, **kwargs):
        for flag in ("overwrite_a", "overwrite_b"):
            if kwargs.get(flag, False) is not False:
                raise SctError(
                    f"sct differentiates scipy.linalg functions without {flag}=True (it destroys an operand)"
                )
        return rule(g, ans, *args, **kwargs)

    checked.__name__ = getattr(rule, "__name__", "rule")
    return checked


for _fn in (
    sl.solve_triangular,
    sl.cholesky,
    sl.cho_factor,
    sl.cho_solve,
    sl.lu_factor,
    sl.lu_solve,
    sl.solve,
    sl.inv,
    sl.det,
):
    _entry = lookup(_fn)
    _entry.vjp = [_no_overwrite(r) for r in _entry.vjp]
    _entry.jvp = [_no_overwrite(r) for r in _entry.jvp]


# Operands passed by keyword (solve(a, b=b)) move to their positions.
for _fn, _params in (
    (sl.solve_triangular, ("a", "b")),
    (sl.solve, ("a", "b")),
    (sl.cho_solve, ("c_and_lower", "b")),
    (sl.lu_solve, ("lu_and_piv", "b")),
    (sl.cholesky, ("a",)),
    (sl.cho_factor, ("a",)),
    (sl.lu_factor, ("a",)),
    (sl.inv, ("a",)),
    (sl.det, ("a",)),
    (sl.expm, ("A",)),
    (sl.sqrtm, ("A",)),
    (sl.solve_sylvester, ("a", "b", "q")),
):
    positional(_fn, *_params)


# Results that are tuples (an array and a flag, or two arrays): gradients add item by item.
sequence("tuple", sl.cho_factor, sl.lu_factor)
