"""Runtime helpers for lists, tuples and dicts: Python's container builtins and their gradients.

Generated code calls these (``sct export`` copies their source), so each is
plain Python and NumPy. A gradient has the structure of its primal; dict keys,
and the items of ``list(d)`` (a dict's keys), carry no gradient.
"""

import numpy as np

from .runtime import HELPERS as _ALL
from .runtime import tree_add, unbroadcast, zeros_like


# ---- the builtins, as primitives ---------------------------------------------------
def iterated(x):
    """What ``for v in x`` visits, as a sequence: a dict's keys, or ``x`` itself."""
    return list(x) if isinstance(x, dict) else x


def dict_items(d):
    """``list(d.items())``."""
    return list(d.items())


def dict_values(d):
    """``list(d.values())``."""
    return list(d.values())


def dict_keys(d):
    """``list(d.keys())``."""
    return list(d)


def dict_get(d, key, default=None):
    """``d.get(key, default)``."""
    return d.get(key, default)


def zipped(*sequences):
    """``list(zip(*sequences))``."""
    return list(zip(*sequences))


def transposed(rows):
    """``list(zip(*rows))``: the columns of a sequence of sequences."""
    return list(zip(*rows))


def concatenated(a, b):
    """``a + b`` where ``a`` or ``b`` may be a list or tuple (then it joins them)."""
    return a + b


# ---- gradients -------------------------------------------------------------------------
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


def concatenated_tangent(ta, tb, a, b):
    """The tangent of ``a + b``, joined where the ``+`` joins sequences."""
    if isinstance(a, list | tuple):
        return list(ta) + list(tb)
    return ta + tb


def extreme_index(items, largest=True):
    """The position of what the builtin ``max(items)`` (or ``min``) returns: the first extreme item."""
    if not len(items):
        raise ValueError(f"{'max' if largest else 'min'}() arg is an empty sequence")  # as Python's max([])
    best = 0
    for i in range(1, len(items)):
        if items[i] > items[best] if largest else items[i] < items[best]:
            best = i
    return best


def extreme_grad(g, items, largest=True):
    """The gradient of the builtin ``max(items)`` (or ``min``) with respect to ``items``."""
    out = zeros_like(items)
    i = extreme_index(items, largest)
    out[i] = tree_add(out[i], g)
    return out


def extreme_tangent(t, items, largest=True):
    """The tangent of the builtin ``max(items)`` (or ``min``)."""
    return t[extreme_index(items, largest)]


def iterated_grad(g, x):
    """The gradient of ``iterated(x)`` with respect to ``x``."""
    return zeros_like(x) if isinstance(x, dict) else g


def listed_grad(g, x):
    """The gradient of ``list(x)`` (or ``tuple(x)``) with respect to ``x``."""
    if isinstance(x, dict):  # list(d) is d's keys
        return zeros_like(x)
    if isinstance(x, np.ndarray):  # list(a) is a's rows
        return np.reshape(np.asarray(g, dtype=np.result_type(x, 0.0)), x.shape)
    if isinstance(x, list | tuple):
        return list(g)
    return zeros_like(x)


def listed_tangent(t, x, whole=True):
    """The tangent of ``list(x)`` (``whole``) or of ``iterated(x)``: none for a dict's keys."""
    if isinstance(x, dict):
        return [0.0] * len(x)
    return list(t) if whole else t


def zip_tangent(tangents, sequences):
    """The tangent of ``zipped(*sequences)``, given each sequence's tangent (zeros for a dict's keys)."""
    return list(zip(*[listed_tangent(t, s) for t, s in zip(tangents, sequences)]))


def summed_grad(g, items):
    """The gradient of the builtin ``sum(items)`` with respect to ``items``."""
    if isinstance(items, dict):  # sum(d) adds d's keys
        return zeros_like(items)
    if isinstance(items, np.ndarray):  # sum(a) adds a's rows
        return np.array(np.broadcast_to(g, items.shape), dtype=np.result_type(items, g, 0.0))
    return [unbroadcast(g, item) if isinstance(item, np.ndarray) else _float_like(g, item) for item in items]


def summed_tangent(t, items):
    """The tangent of ``sum(items)``, given the tangent ``t`` of ``items``."""
    if isinstance(items, dict):
        return 0.0
    return sum(t) if len(t) else 0.0


def _float_like(g, item):
    return float(np.sum(g)) if isinstance(item, float) and np.ndim(g) > 0 else g


def sort_permutation(items, reverse=False):
    """The order in which ``sorted(items, reverse=reverse)`` lists the items (Python's stable sort)."""
    return sorted(range(len(items)), key=items.__getitem__, reverse=reverse)


def sorted_grad(g, items, reverse=False):
    """The gradient of ``sorted(items)`` with respect to ``items``."""
    if isinstance(items, dict):  # sorted(d) sorts d's keys
        return zeros_like(items)
    out = zeros_like(items)
    for k, i in enumerate(sort_permutation(items, reverse)):
        out[i] = tree_add(out[i], g[k])
    return out


def sorted_tangent(t, items, reverse=False):
    """The tangent of ``sorted(items)``."""
    if isinstance(items, dict):
        return [0.0] * len(items)
    return [t[i] for i in sort_permutation(items, reverse)]


def permuted(items, order):
    """``[items[i] for i in order]``: what ``sorted(items, key=f)`` returns, ``order`` sorting the keys."""
    return [items[i] for i in order]


def permuted_grad(g, items, order):
    """The gradient of ``permuted(items, order)`` with respect to ``items``: each item gets its place's share."""
    out = zeros_like(items)
    for k, i in enumerate(order):
        out[i] = tree_add(out[i], g[k])
    return out


def items_grad(g, d):
    """The gradient of ``dict_items(d)``: the second half of each pair's gradient."""
    return {k: g[i][1] for i, k in enumerate(d)}


def items_tangent(t):
    """The tangent of ``dict_items(d)``, given ``d``'s tangent (keys carry none)."""
    return [(0.0, v) for v in t.values()]


def values_grad(g, d):
    """The gradient of ``dict_values(d)``."""
    return {k: g[i] for i, k in enumerate(d)}


def get_grad(g, d, key):
    """The gradient of ``d.get(key, default)`` with respect to ``d``."""
    out = zeros_like(d)
    if key in d:
        out[key] = _shaped_like(g, d[key])
    return out


def get_default_grad(g, d, key, default):
    """The gradient of ``d.get(key, default)`` with respect to ``default``."""
    return zeros_like(default) if key in d else _shaped_like(g, default)


def get_tangent(t_d, t_default, d, key):
    """The tangent of ``d.get(key, default)``: the item's tangent if the key is there, else the default's."""
    return t_d[key] if key in d else t_default


def _shaped_like(g, x):
    """``g`` summed to the shape of ``x`` (a float for a float) where ``x`` is a number or an array."""
    return unbroadcast(g, x) if isinstance(x, float | np.ndarray | np.generic) else g


def zip_grad(g, sequence, i):
    """The gradient of ``zipped(..., sequence, ...)`` with respect to ``sequence``, its ``i``-th operand."""
    if isinstance(sequence, dict):
        return zeros_like(sequence)
    out = zeros_like(sequence)
    for k, row in enumerate(g):  # zip stops at the shortest: the rest get no gradient
        out[k] = tree_add(out[k], row[i])
    return out


def transposed_grad(g, rows):
    """The gradient of ``transposed(rows)`` with respect to ``rows``."""
    out = zeros_like(rows)
    for j, column in enumerate(g):
        for k, item in enumerate(column):
            out[k][j] = tree_add(out[k][j], item)
    return out


HELPERS = {
    f.__name__: f
    for f in (
        iterated,
        dict_items,
        dict_values,
        dict_keys,
        dict_get,
        zipped,
        transposed,
        concatenated,
        left_part,
        right_part,
        concatenated_tangent,
        extreme_index,
        extreme_grad,
        extreme_tangent,
        iterated_grad,
        listed_grad,
        listed_tangent,
        zip_tangent,
        summed_grad,
        summed_tangent,
        sort_permutation,
        sorted_grad,
        sorted_tangent,
        permuted,
        permuted_grad,
        items_grad,
        items_tangent,
        values_grad,
        get_grad,
        get_default_grad,
        get_tangent,
        zip_grad,
        transposed_grad,
    )
}
_ALL.update(HELPERS)
