"""Runtime helpers for the linear-algebra rules (``sct.rules.np_linalg``, ``sct.rules.scipy_linalg``).

Generated code calls these by name; each is plain NumPy. Two of them only check,
at run time, that a derivative is defined (the shapes are not known when the
code is generated) and raise :class:`UndefinedDerivativeError` where it is not.
"""

import numpy as np

from ..errors import SctError
from .runtime import HELPERS as _ALL


class UndefinedDerivativeError(SctError, ValueError):
    """A derivative that does not exist at these arguments (raised by generated code at run time)."""


_SVD_FULL = (
    "np.linalg.svd(a) of a non-square matrix returns columns (full_matrices=True) that carry no "
    "well-defined derivative; pass full_matrices=False"
)


# The two checks raise the error class attached to them: UndefinedDerivativeError here, a plain
# ValueError in a module written by `sct export` (which holds no sct classes).
def svd_extra_unused(g_u, g_vh, k):
    """0.0, after checking that the extra columns of a full SVD got no cotangent (else no derivative exists)."""
    if np.any(g_u[..., :, k:]) or np.any(g_vh[..., k:, :]):
        raise getattr(svd_extra_unused, "error", ValueError)(_SVD_FULL)
    return 0.0


def svd_square_only(a):
    """0.0 for square matrices; a full SVD of a non-square one has columns without a derivative."""
    if np.shape(a)[-1] != np.shape(a)[-2]:
        raise getattr(svd_square_only, "error", ValueError)(_SVD_FULL + " (forward mode computes every column)")
    return 0.0


svd_extra_unused.error = svd_square_only.error = UndefinedDerivativeError


def as_rhs(g, b):
    """``g`` as a stack of matrices: a column added where ``b`` (solve's right-hand side) is a vector."""
    return g[..., None] if np.ndim(b) == 1 else g


def from_rhs(y, b):
    """The inverse of :func:`as_rhs`: the column dropped again where ``b`` is a vector."""
    return y[..., 0] if np.ndim(b) == 1 else y


def norm_slope(x, n, ord, axis=None):
    """The derivative of the vector norm ``n`` (broadcastable against ``x``) of order ``ord`` along ``axis``.

    For an ``ord`` known only at run time; ties for the largest (``inf``) or smallest (``-inf``)
    magnitude share the derivative equally, and the 2-norm's subgradient at 0 is 0.
    """
    magnitude = np.abs(x)
    if ord in (np.inf, -np.inf):
        hit = np.equal(magnitude, n)
        return np.sign(x) * hit / np.sum(hit, axis=axis, keepdims=True)
    if ord == 0:
        return np.zeros_like(magnitude)
    if ord == 1:
        return np.sign(x)
    return np.sign(x) * (magnitude / np.where(n == 0, 1.0, n)) ** (ord - 1)


def norm_curvature(x, n, ord):
    """``d norm_slope / dx`` (elementwise) of a p-norm, zero for ord 0, 1 and +-inf where it is piecewise constant."""
    if ord in (np.inf, -np.inf, 0, 1):
        return np.zeros(np.shape(x))
    safe = np.where(n == 0, 1.0, n)
    return (ord - 1) * (np.abs(x) / safe) ** (ord - 2) / safe


def real_if_real(r, x):
    """``r`` without its imaginary part where ``x`` is real: the gradient of a real argument is real."""
    return r if np.iscomplexobj(x) else np.real(r)


def inverse_gaps(w):
    """``F[..., i, j] = 1 / (w[..., j] - w[..., i])`` off the diagonal, 0 on it (``w`` must be distinct)."""
    diff = w[..., None, :] - w[..., :, None]
    eye = np.eye(np.shape(w)[-1], dtype=bool)
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, diff))


def gaps_times(w, x):
    """``inverse_gaps(w) * x``, and 0 wherever ``x`` is 0: where the eigenvectors (singular vectors) got
    no cotangent or tangent, repeated eigenvalues (singular values) do no harm; where they did, the
    product is NaN, as the derivative does not exist. Quietly: the function (``eigh``) does not warn
    there, so neither does its derivative, nor the products of this NaN (an infinity would make
    ``v @ inf`` warn, as ``inf * 0`` does, in the generated line).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        product = inverse_gaps(w) * x
    repeated = (w[..., None, :] == w[..., :, None]) & ~np.eye(np.shape(w)[-1], dtype=bool)
    return np.where(x == 0, 0.0, np.where(repeated, np.nan, product))


def plus_transpose(x):
    """``x + x^T`` for (each matrix of) ``x``."""
    return x + np.swapaxes(x, -1, -2)


def lower_symmetric(x):
    """The symmetric matrix that a function reading only the lower triangle of ``x`` sees."""
    return np.tril(x) + np.swapaxes(np.tril(x, -1), -1, -2)


def lower_symmetric_adjoint(g):
    """The adjoint of :func:`lower_symmetric`: ``tril(g + g^T)`` with the diagonal counted once."""
    return np.tril(g + np.swapaxes(g, -1, -2)) - np.tril(np.triu(g))


def tril_half_diagonal(x):
    """The lower triangle of ``x`` with its diagonal halved (its own adjoint)."""
    return np.tril(x) - 0.5 * np.tril(np.triu(x))


def upper_fold(x):
    """``triu(x) + tril(x, -1)^T``: the strictly lower triangle folded onto the upper one."""
    return np.triu(x) + np.swapaxes(np.tril(x, -1), -1, -2)


def upper_fold_adjoint(g):
    """The adjoint of :func:`upper_fold`: ``triu(g) + triu(g, 1)^T``."""
    return np.triu(g) + np.swapaxes(np.triu(g, 1), -1, -2)


def cholesky_factor(c, lower):
    """The lower-triangular factor ``f`` (``a = f f^T``) that ``scipy.linalg.cho_factor``'s ``c`` holds
    (``lower`` is an array of equal flags for a stack)."""
    return np.tril(c) if np.ravel(lower)[0] else np.swapaxes(np.triu(c), -1, -2)


def cholesky_factor_adjoint(g, lower):
    """The adjoint of :func:`cholesky_factor` in ``c``."""
    return np.tril(g) if np.ravel(lower)[0] else np.triu(np.swapaxes(g, -1, -2))


def lu_rows(piv):
    """The row order ``p`` with ``a[..., p, :] = l @ u`` from ``scipy.linalg.lu_factor``'s pivots (row i was
    interchanged with row piv[i], in turn)."""
    piv = np.asarray(piv)
    n = piv.shape[-1]
    flat = piv.reshape(-1, n)
    rows = np.arange(flat.shape[0])
    perm = np.tile(np.arange(n), (flat.shape[0], 1))
    for i in range(n):
        j = flat[:, i]
        here, there = perm[rows, i].copy(), perm[rows, j].copy()
        perm[rows, i], perm[rows, j] = there, here
    return perm.reshape(piv.shape)


def _block_corners(i, arrs):
    """Where ``scipy.linalg.block_diag(*arrs)`` puts block ``i``: (row, column, shape as a matrix)."""
    shapes = [np.atleast_2d(np.asarray(a)).shape if np.ndim(a) < 2 else np.shape(a) for a in arrs]
    row = sum(s[0] for s in shapes[:i])
    col = sum(s[1] for s in shapes[:i])
    return row, col, shapes[i]


def block_diag_part(g, i, *arrs):
    """Block ``i`` of ``g`` (shaped like ``scipy.linalg.block_diag(*arrs)``), in the shape of ``arrs[i]``."""
    row, col, (m, n) = _block_corners(i, arrs)
    return np.reshape(g[row : row + m, col : col + n], np.shape(arrs[i]))


def block_diag_place(b, i, *arrs):
    """Zeros shaped like ``scipy.linalg.block_diag(*arrs)`` with ``b`` as block ``i`` (the adjoint of the above)."""
    row, col, (m, n) = _block_corners(i, arrs)
    total = _block_corners(len(arrs) - 1, arrs)
    out = np.zeros((total[0] + total[2][0], total[1] + total[2][1]), dtype=np.result_type(b, 0.0))
    out[row : row + m, col : col + n] = np.reshape(b, (m, n))
    return out


HELPERS = {
    f.__name__: f
    for f in (
        cholesky_factor,
        cholesky_factor_adjoint,
        lu_rows,
        block_diag_part,
        block_diag_place,
        svd_extra_unused,
        svd_square_only,
        as_rhs,
        from_rhs,
        norm_slope,
        norm_curvature,
        real_if_real,
        inverse_gaps,
        gaps_times,
        plus_transpose,
        lower_symmetric,
        lower_symmetric_adjoint,
        tril_half_diagonal,
        upper_fold,
        upper_fold_adjoint,
    )
}
_ALL.update(HELPERS)
