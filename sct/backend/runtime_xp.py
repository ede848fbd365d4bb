"""Runtime helpers for arrays of other libraries, written against an array API namespace ``xp``.

Generated code that runs on Dask, PyTorch, CuPy, JAX or ``array_api_strict``
arrays (:mod:`sct.backend.namespaces`) calls these in place of the NumPy helpers of
:mod:`sct.backend.runtime` of the same name. Each reads the module global ``xp``: for a
namespace, :func:`bound` makes copies of them whose ``xp`` is that namespace,
and ``sct export --xp`` copies their source into a module whose global ``xp``
the user sets.

None of them forces a lazy array (Dask) to compute: they read shapes, never
values, and never call ``float()`` or ``bool()`` on an array.
"""

import math
import types

xp = None  # the namespace; see ``bound``


def shape(x):
    """``np.shape(x)``: the shape of an array, ``()`` for a number or None (a value not yet assigned)."""
    found = getattr(x, "shape", None)
    if found is None:
        return ()
    return tuple(found)


def size(x):
    """``np.size(x)``: the number of items, from the shape alone (a lazy array's size is known without computing)."""
    count = math.prod(shape(x))
    if not isinstance(count, int):  # None or NaN: a Dask array with chunks of unknown size
        raise ValueError(
            f"the size of an array of shape {shape(x)} is not known without computing it; "
            "call x.compute_chunk_sizes() (Dask) before differentiating"
        )
    return count


def size_or_one(x):
    """``size(x)``, or 1 for an empty ``x`` (:func:`sct.backend.runtime.size_or_one`: the mean's one-number adjoint)."""
    return size(x) or 1


def ndim(x):
    """``np.ndim(x)``."""
    return len(shape(x))


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undoing broadcasting); ``x`` may be a shape."""
    target = x if type(x) is tuple else shape(x)
    have = getattr(g, "shape", None)
    if have is None:  # a Python number: broadcast only to a number
        return g
    have = tuple(have)
    if have == target:
        return g
    lead = len(have) - len(target)
    if lead > 0:  # axes broadcasting added in front
        g = xp.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(target) if n == 1 and g.shape[i] != 1)
    if axes:  # axes of length 1 that broadcasting stretched
        g = xp.sum(g, axis=axes, keepdims=True)
    return g if tuple(g.shape) == target else xp.reshape(g, target)


def left_part(g, a, b):
    """The gradient of ``a + b`` with respect to ``a``: its items' share if the ``+`` joined sequences."""
    if isinstance(a, list | tuple):
        return list(g[: len(a)])
    return unbroadcast(g, a)


def right_part(g, a, b):
    """The gradient of ``a + b`` with respect to ``b``."""
    if isinstance(b, list | tuple):
        return list(g[len(g) - len(b) :])
    return unbroadcast(g, b)


def matmul_grad_left(g, a, b):
    """d(a @ b)/da applied to ``g``, for any ranks."""
    if ndim(b) == 1:
        if ndim(a) == 1:
            return g * b
        return xp.expand_dims(g, axis=-1) * b
    if ndim(a) == 1:
        return unbroadcast(xp.matmul(b, xp.expand_dims(g, axis=-1))[..., 0], a)
    return unbroadcast(xp.matmul(g, xp.matrix_transpose(b)), a)


def matmul_grad_right(g, a, b):
    """d(a @ b)/db applied to ``g``, for any ranks."""
    if ndim(a) == 1:
        if ndim(b) == 1:
            return g * a
        return unbroadcast(xp.expand_dims(a, axis=-1) * xp.expand_dims(g, axis=-2), b)
    if ndim(b) == 1:
        return unbroadcast(xp.matmul(xp.matrix_transpose(a), xp.expand_dims(g, axis=-1))[..., 0], b)
    return unbroadcast(xp.matmul(xp.matrix_transpose(a), g), b)


def full_like(x, fill):
    """``np.full_like(x, fill)``; ``fill`` may be a 0-d array (the standard's ``full_like`` takes Python numbers only,
    and Dask's would compute a lazy one inside each task)."""
    if not hasattr(fill, "shape"):
        return xp.full_like(x, fill)
    return xp.zeros_like(x) + xp.astype(fill, x.dtype)


def dot(a, b):
    """``np.dot(a, b)`` for operands of up to two dimensions (a matrix product, or a product by a scalar)."""
    if ndim(a) == 0 or ndim(b) == 0:
        return a * b
    if ndim(a) > 2 or ndim(b) > 2:
        raise TypeError("np.dot of an array of more than two dimensions has no array API form; use np.matmul")
    return xp.matmul(a, b)


def dot_grad_left(g, a, b):
    """d np.dot(a, b) / da applied to ``g``."""
    if ndim(a) == 0 or ndim(b) == 0:
        return xp.sum(g * b) if ndim(a) == 0 else g * b
    return matmul_grad_left(g, a, b)


def dot_grad_right(g, a, b):
    """d np.dot(a, b) / db applied to ``g``."""
    if ndim(a) == 0 or ndim(b) == 0:
        return xp.sum(g * a) if ndim(b) == 0 else g * a
    return matmul_grad_right(g, a, b)


def transpose(x, axes=None):
    """``np.transpose(x, axes)``: the axes reversed where none are given."""
    return xp.permute_dims(x, tuple(range(ndim(x)))[::-1] if axes is None else tuple(axes))


def swapaxes(x, axis1, axis2):
    """``np.swapaxes(x, axis1, axis2)``."""
    order = list(range(ndim(x)))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return xp.permute_dims(x, tuple(order))


def outer(a, b):
    """``np.outer(a, b)``: both flattened."""
    return xp.reshape(a, (-1, 1)) * xp.reshape(b, (1, -1))


def _join_layout(xs, how, axis):
    """The shape each item of ``xs`` has inside ``np.concatenate``/``np.stack(xs, axis)``, and the joined axis."""
    if how == "concatenate" and axis is None:
        return [(size(x),) for x in xs], 0
    if how == "stack":
        shapes = [shape(x) for x in xs]
        axis = axis % (len(shapes[0]) + 1)
        return [s[:axis] + (1,) + s[axis:] for s in shapes], axis
    if how == "concatenate":
        return [shape(x) for x in xs], axis
    raise TypeError(f"np.{how} has no array API form")


def join_part(g, xs, how, axis, i):
    """Item ``i``'s share of ``g``, the gradient of ``np.<how>(xs, axis)``, in the shape of ``xs[i]``."""
    shapes, axis = _join_layout(xs, how, axis)
    start = sum(s[axis] for s in shapes[:i])
    index = [slice(None)] * len(shapes[i])
    index[axis] = slice(start, start + shapes[i][axis])
    return xp.reshape(g[tuple(index)], shape(xs[i]))


def zeros_like(x):
    """A zero gradient with the structure of ``x`` (lists for tuples, so it can be updated)."""
    if isinstance(x, float | int | str | bytes | type(None)):
        return 0.0
    if isinstance(x, list | tuple):
        return [zeros_like(v) for v in x]
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if callable(x):  # a recursive call's pullback: no adjoint of its own
        return 0.0
    if xp.isdtype(x.dtype, ("real floating", "complex floating")):
        return xp.zeros_like(x)
    return xp.zeros_like(x, dtype=xp.float64)


def _is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, list | tuple | dict)


def copied(x):
    """A copy of an array or list about to be written into; anything else as it is."""
    if _is_array(x):
        return xp.asarray(x, copy=True)
    if isinstance(x, list | dict):
        return type(x)(x)
    return x


def fresh_copy(x):
    """A copy of an adjoint that the generated code may then update in place."""
    if isinstance(x, list | tuple):
        return [fresh_copy(v) for v in x]
    if isinstance(x, dict):
        return {k: fresh_copy(v) for k, v in x.items()}
    return xp.asarray(x, copy=True) if _is_array(x) else x


def detached(x):
    """A copy of a returned value's arrays, containers of the same kinds."""
    if _is_array(x):
        return xp.asarray(x, copy=True)
    if type(x) in (list, tuple):
        return type(x)(detached(v) for v in x)
    if isinstance(x, dict):
        return {k: detached(v) for k, v in x.items()}
    return x


def like(g, x):
    """The gradient ``g`` with the container types of ``x`` (a lazy 0-d array stays an array: no ``float()``)."""
    if isinstance(x, tuple):
        return tuple(like(gi, xi) for gi, xi in zip(g, x))
    if isinstance(x, list):
        return [like(gi, xi) for gi, xi in zip(g, x)]
    if isinstance(x, dict):
        return {k: like(g[k], v) for k, v in x.items()}
    return g


def as_float(x):
    """``float(x)`` in generated code: an array stays a (0-d) array, so a lazy one is not computed."""
    return x if hasattr(x, "shape") else float(x)


def scalar_math(fn, *args):
    """``math.<fn>(*args)`` in generated code on Dask arrays: Python's own ``fn``, and on a 0-d lazy array lazily.

    ``math.exp(s)`` of a 0-d Dask array ``s`` would compute it (``float(s)``); here it stays lazy: a 0-d array
    whose one block is ``fn`` of the number, computed with the rest. The value is the one Python's ``math``
    gives (not ``xp.exp``, which may round differently); an error it raises (``math.log(-1.0)``) comes when the
    result is computed. Other arguments (numbers, arrays of other dimensions) are Python's call."""
    lazy = [i for i, a in enumerate(args) if hasattr(a, "map_blocks") and getattr(a, "ndim", None) == 0]
    if not lazy:
        return fn(*args)

    def on_blocks(*blocks):
        values = list(args)
        for i, block in zip(lazy, blocks):
            values[i] = float(block)
        return _numpy().asarray(fn(*values), dtype=float)

    first = args[lazy[0]]
    return first.map_blocks(on_blocks, *(args[i] for i in lazy[1:]), dtype=float, meta=_numpy().empty((), dtype=float))


def _numpy():
    import numpy

    return numpy


def grad_like(g, x):
    """A gradient as ``sct.grad`` returns it: on these arrays, as computed (no ``float()``, which would force it)."""
    return g


HELPERS = {
    f.__name__: f
    for f in (
        shape,
        size,
        ndim,
        unbroadcast,
        left_part,
        right_part,
        matmul_grad_left,
        matmul_grad_right,
        full_like,
        dot,
        dot_grad_left,
        dot_grad_right,
        transpose,
        swapaxes,
        outer,
        join_part,
        zeros_like,
        copied,
        fresh_copy,
        detached,
        like,
        grad_like,
        as_float,
        size_or_one,
        scalar_math,
    )
}
_BOUND: dict = {}


def bound(namespace) -> dict:
    """The helpers above, each reading ``xp`` as ``namespace`` (made once per namespace)."""
    key = id(namespace)
    found = _BOUND.get(key)
    if found is None or found[0] is not namespace:
        scope = {**globals(), "xp": namespace}
        helpers = {}
        for name, f in HELPERS.items():
            helpers[name] = types.FunctionType(f.__code__, scope, name, f.__defaults__)
            helpers[name].__doc__, helpers[name].__module__ = f.__doc__, __name__
        scope.update(helpers)  # they call each other by these names
        found = _BOUND[key] = (namespace, helpers)
    return found[1]
