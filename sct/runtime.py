"""The few helpers generated code calls.

Each is a small plain-NumPy function; ``sct export`` copies the source of the
ones a module uses into it, so exported code needs only NumPy.
"""

import numpy as np


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undoing NumPy broadcasting); ``x`` may be a shape."""
    shape = x if type(x) is tuple else np.shape(x)
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
    """A zero gradient with the structure of ``x`` (lists for tuples, so it can be updated)."""
    if isinstance(x, float | int):
        return 0.0
    if isinstance(x, list | tuple):
        return [zeros_like(v) for v in x]
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
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


def fresh_copy(x):
    """A copy of an adjoint that the generated code may then update in place."""
    if isinstance(x, list | tuple):
        return [fresh_copy(v) for v in x]
    if isinstance(x, dict):
        return {k: fresh_copy(v) for k, v in x.items()}
    return np.array(x, dtype=np.result_type(x, 0.0)) if isinstance(x, np.ndarray) else x


def add_at(acc, index, g):
    """``acc[index] += g`` that also sums repeated indices (fancy indexing); in place."""
    if isinstance(acc, np.ndarray):
        np.add.at(acc, index, g)
    else:
        acc[index] = acc[index] + g
    return acc


def like(g, x):
    """The gradient ``g`` with the container types of ``x`` (tuples stay tuples)."""
    if isinstance(x, tuple):
        return tuple(like(gi, xi) for gi, xi in zip(g, x))
    if isinstance(x, list):
        return [like(gi, xi) for gi, xi in zip(g, x)]
    if isinstance(x, dict):
        return {k: like(g[k], v) for k, v in x.items()}
    return g


HELPERS.update({f.__name__: f for f in (fresh_copy, add_at, like)})


def appended(items, item):
    """``items + [item]``: a list grown without changing the one it came from."""
    return [*items, item]


HELPERS["appended"] = appended
