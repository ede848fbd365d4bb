"""The few helpers generated code calls.

Each is a small plain-NumPy function; ``sct export`` copies the source of the
ones a module uses into it, so exported code needs only NumPy.
"""

import numpy as np


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undoing NumPy broadcasting)."""
    shape = np.shape(x)
    if np.shape(g) == shape:
        return g
    g = np.sum(g, axis=tuple(range(np.ndim(g) - len(shape)))) if np.ndim(g) > len(shape) else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(g)[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if not isinstance(x, np.ndarray):
        return float(g) if np.ndim(g) == 0 and isinstance(x, float) else g
    return np.reshape(g, shape)


def zeros_like(x):
    """A zero gradient with the structure of ``x``."""
    if isinstance(x, float | int):
        return 0.0
    return np.zeros(np.shape(x), dtype=np.result_type(x, 0.0))


def index_grad(g, x, index):
    """The gradient of ``x[index]`` scattered back into the shape of ``x``."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    np.add.at(out, index, g)
    return out


def matmul_grad_left(g, a, b):
    """d(a @ b)/da applied to ``g``, for any ranks."""
    if np.ndim(b) == 1:
        if np.ndim(a) == 1:
            return g * b
        return np.expand_dims(g, -1) * b
    if np.ndim(a) == 1:
        return unbroadcast((b @ np.expand_dims(g, -1))[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_grad_right(g, a, b):
    """d(a @ b)/db applied to ``g``, for any ranks."""
    if np.ndim(a) == 1:
        if np.ndim(b) == 1:
            return g * a
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(g, -2), b)
    if np.ndim(b) == 1:
        return unbroadcast((np.swapaxes(a, -1, -2) @ np.expand_dims(g, -1))[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


HELPERS = {f.__name__: f for f in (unbroadcast, zeros_like, index_grad, matmul_grad_left, matmul_grad_right)}
