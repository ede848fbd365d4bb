"""Helpers that the rules of ``scipy.stats.multivariate_normal`` and ``dirichlet`` call in generated code.

They look at their operands' ranks at run time, so the rules work where the compiler cannot know them
(a covariance or a data set held in a module global). Each is linear in its first operand, and the
pairs are each other's adjoints, so generated code that calls them differentiates again
(their rules are in :mod:`sct.rules.scipy_stats`). NumPy only: SciPy is not imported here.
"""

from __future__ import annotations

import numpy as np

from .runtime import HELPERS as _ALL


def cov_matrix(cov, like):
    """The covariance matrix that SciPy's ``multivariate_normal`` sees in ``cov``.

    A number ``c`` means ``c I`` and a vector its diagonal matrix; of a matrix SciPy reads only
    the lower triangle, so the upper one is its mirror. ``like``'s last axis has the dimension.
    """
    ndim = np.ndim(cov)
    if ndim == 0:
        return cov * np.eye(np.shape(like)[-1])
    if ndim == 1:
        return np.diag(cov)
    return np.tril(cov) + np.tril(cov, -1).T


def cov_matrix_grad(G, cov):
    """The adjoint of :func:`cov_matrix`: a matrix ``G`` taken back to the shape ``cov`` has."""
    ndim = np.ndim(cov)
    if ndim == 0:
        return np.trace(G)
    if ndim == 1:
        return np.diagonal(G).copy()
    return np.tril(G + G.T) - np.diag(np.diag(G))


def precision_times(v, cov):
    """``v @ inv(C)`` for each row ``v`` (one sample or a batch), ``C = cov_matrix(cov, v)``, by a solve."""
    d = np.shape(v)[-1]
    rows = np.reshape(v, (-1, d))
    return np.reshape(np.linalg.solve(cov_matrix(cov, v), rows.T).T, np.shape(v))  # C is symmetric


def outer_sum(a, b):
    """``sum_n outer(a_n, b_n)`` over the rows of ``a`` and ``b`` (one sample or a batch)."""
    return np.reshape(a, (-1, np.shape(a)[-1])).T @ np.reshape(b, (-1, np.shape(b)[-1]))


def components_first(alpha, x):
    """``alpha`` (one value per component) laid along the first axis of ``x``, to broadcast against it."""
    return np.reshape(alpha, np.shape(alpha) + (1,) * (np.ndim(x) - 1))


def components_sum(share, alpha):
    """The adjoint of :func:`components_first`: ``share`` summed over every axis but the first."""
    return np.reshape(np.sum(share, axis=tuple(range(1, np.ndim(share)))), np.shape(alpha))


_OWN = (cov_matrix, cov_matrix_grad, precision_times, outer_sum, components_first, components_sum)
HELPERS = {f.__name__: f for f in _OWN}
_ALL.update(HELPERS)
