"""Helpers for the derivatives of ``scipy.signal.convolve`` and ``correlate`` (rules: :mod:`sct.rules.scipy_signal`).

Every mode of ``convolve(a, b, mode)`` is a window of the full convolution:
``full`` all of it, ``valid`` the part where the shorter operand lies inside the
longer, ``same`` the centred part of ``a``'s shape. The adjoint in ``a`` is the
cotangent placed back in that window of the full shape, correlated ``valid``
with ``b``; the adjoint in ``b`` likewise with ``a``. ``correlate(a, b)`` is
``convolve(a, flip(b))``. SciPy is imported only when a helper runs.
"""

from __future__ import annotations

import numpy as np

from .runtime import HELPERS as _ALL


def _window(a_shape, b_shape, mode):
    """The slices of the full convolution that ``mode`` keeps."""
    full = [m + n - 1 for m, n in zip(a_shape, b_shape)]
    if mode == "full":
        return tuple(slice(0, f) for f in full)
    if mode == "valid":
        return tuple(slice(min(m, n) - 1, max(m, n)) for m, n in zip(a_shape, b_shape))
    if mode == "same":
        return tuple(slice((f - m) // 2, (f - m) // 2 + m) for f, m in zip(full, a_shape))
    raise ValueError(f"convolution mode {mode!r}: use 'full', 'valid' or 'same'")


def _full_cotangent(g, a, b, mode):
    """``g`` placed back in the window of the full convolution of ``a`` and ``b`` that ``mode`` keeps."""
    a_shape, b_shape = np.shape(a), np.shape(b)
    if mode == "full":
        return np.asarray(g)
    out = np.zeros([m + n - 1 for m, n in zip(a_shape, b_shape)], dtype=np.result_type(g, 0.0))
    out[_window(a_shape, b_shape, mode)] = g
    return out


def convolve_grad_left(g, a, b, mode="full", method="auto"):
    """The adjoint of ``convolve(a, b, mode)`` in ``a`` applied to ``g``: linear in ``g`` and ``b``."""
    from scipy import signal

    return signal.correlate(_full_cotangent(g, a, b, mode), b, "valid", method)


def convolve_grad_right(g, a, b, mode="full", method="auto"):
    """The adjoint of ``convolve(a, b, mode)`` in ``b`` applied to ``g``: linear in ``g`` and ``a``."""
    from scipy import signal

    return signal.correlate(_full_cotangent(g, a, b, mode), a, "valid", method)


def signal_convolve(a, b, mode="full", method="auto"):
    """``scipy.signal.convolve``, under a name generated code can call."""
    from scipy import signal

    return signal.convolve(a, b, mode, method)


def signal_correlate(a, b, mode="full", method="auto"):
    """``scipy.signal.correlate``, under a name generated code can call."""
    from scipy import signal

    return signal.correlate(a, b, mode, method)


HELPERS = {f.__name__: f for f in (convolve_grad_left, convolve_grad_right, signal_convolve, signal_correlate)}


_ALL.update(HELPERS)
