"""Rules for Python's container builtins: ``list(x)``, ``sum(xs)``, ``sorted(xs)``, ``zip``, dict methods.

The lowering calls the helpers of :mod:`sct.backend.trees` for what Python spells as
methods or iterators (``d.items()`` is ``dict_items(d)``); ``list(x)`` and
``tuple(x)`` keep their spelling but are keyed by ``list_call``/``tuple_call``
here, apart from the displays ``[a, b]`` and ``(a, b)`` (keyed by ``list`` and
``tuple``, in :mod:`sct.rules.operators`).
"""

import builtins

from ..backend import trees
from ..backend.runtime import unbroadcast, zeros_like
from ..errors import SctError
from ..symbolic import call
from .table import defjvp, defjvp_joint, defvjp, nondiff


def list_call(x):
    """``list(x)`` as a primitive (the display ``[a, b]`` is ``list``)."""
    return list(x)


def tuple_call(x):
    """``tuple(x)`` as a primitive (the display ``(a, b)`` is ``tuple``)."""
    return tuple(x)


for _fn in (list_call, tuple_call):
    defvjp(_fn, lambda g, ans, x: call(trees.listed_grad, g, x))
    defjvp(_fn, lambda g, ans, x: call(trees.listed_tangent, g, x))


def _no_key(kwargs):
    if "key" in kwargs:
        raise SctError("sct differentiates sorted() without key=; sort the values themselves, or use np.sort")


def _sorted_vjp(g, ans, items, reverse=False, **kwargs):
    _no_key(kwargs)
    return call(trees.sorted_grad, g, items, reverse)


def _sorted_jvp(g, ans, items, reverse=False, **kwargs):
    _no_key(kwargs)
    return call(trees.sorted_tangent, g, items, reverse)


defvjp(builtins.sorted, _sorted_vjp)
defjvp(builtins.sorted, _sorted_jvp)

# sorted(xs, key=f) is lowered to keys = [f(v) for v in xs]; permuted(xs, sort_permutation(keys, reverse))
defvjp(trees.permuted, lambda g, ans, items, order: call(trees.permuted_grad, g, items, order), None)
defjvp(trees.permuted, lambda t, ans, items, order: call(trees.permuted, t, order), None)
defvjp(trees.permuted_grad, lambda G, ans, g, items, order: call(trees.permuted, G, order), None, None)
defjvp(trees.permuted_grad, lambda T, ans, g, items, order: call(trees.permuted_grad, T, items, order), None, None)

defvjp(
    builtins.sum,
    lambda g, ans, items, start=0: call(trees.summed_grad, g, items),
    lambda g, ans, items, start: call(unbroadcast, g, start),  # the start value may be broadcast
)
defjvp(
    builtins.sum, lambda g, ans, items, start=0: call(trees.summed_tangent, g, items), lambda g, ans, items, start: g
)

# sum's own helpers are linear in their first operand (second derivatives of sum(xs), both modes)
defvjp(trees.summed_tangent, lambda G, ans, t, items: call(trees.summed_grad, G, items), None)
defjvp(trees.summed_tangent, lambda T, ans, t, items: call(trees.summed_tangent, T, items), None)
defvjp(trees.summed_grad, lambda G, ans, g, items: call(trees.summed_tangent, G, items), None)
defjvp(trees.summed_grad, lambda T, ans, g, items: call(trees.summed_grad, T, items), None)

# ... and so are sorted's: each is the other's adjoint
for _grad, _tangent in ((trees.sorted_grad, trees.sorted_tangent), (trees.sorted_tangent, trees.sorted_grad)):
    defvjp(_grad, lambda G, ans, g, items, reverse, _adjoint=_tangent: call(_adjoint, G, items, reverse), None, None)
    defjvp(_grad, lambda T, ans, g, items, reverse, _same=_grad: call(_same, T, items, reverse), None, None)

defvjp(trees.iterated, lambda g, ans, x: call(trees.iterated_grad, g, x))
defjvp(trees.iterated, lambda g, ans, x: call(trees.listed_tangent, g, x, False))
defvjp(trees.dict_items, lambda g, ans, d: call(trees.items_grad, g, d))
defjvp(trees.dict_items, lambda g, ans, d: call(trees.items_tangent, g))
defvjp(trees.dict_values, lambda g, ans, d: call(trees.values_grad, g, d))
defjvp(trees.dict_values, lambda g, ans, d: call(trees.dict_values, g))
nondiff(trees.dict_keys, trees.sort_permutation)
defvjp(
    trees.dict_get,
    lambda g, ans, d, key, default=None: call(trees.get_grad, g, d, key),
    None,
    lambda g, ans, d, key, default: call(trees.get_default_grad, g, d, key, default),
)
defjvp_joint(  # one of the two tangents, never their sum (which would broadcast to the default's shape)
    trees.dict_get,
    lambda tangents, ans, d, key, default=None: call(
        trees.get_tangent, tangents[0], tangents[2] if len(tangents) > 2 else 0.0, d, key
    ),
)
defvjp(trees.zipped, lambda i: lambda g, ans, *sequences: call(trees.zip_grad, g, sequences[i], i))
defjvp_joint(trees.zipped, lambda tangents, ans, *sequences: call(trees.zip_tangent, tangents, sequences))
defvjp(trees.transposed, lambda g, ans, rows: call(trees.transposed_grad, g, rows))
defjvp(trees.transposed, lambda g, ans, rows: call(trees.transposed, g))

defvjp(
    trees.concatenated,
    lambda g, ans, a, b: call(trees.left_part, g, a, b),
    lambda g, ans, a, b: call(trees.right_part, g, a, b),
)
defjvp_joint(trees.concatenated, lambda tangents, ans, a, b: call(trees.concatenated_tangent, *tangents, a, b))

# ... whose helpers are linear in g (second derivatives of code where `a + b` may join lists, such as the
# generic variant a gradient called inside differentiated code runs): the transpose of taking a's part of
# the sum's gradient is that part joined with zeros in b's place; iterated_grad is the transpose of
# iterated's tangent.
defvjp(
    trees.left_part,
    lambda G, ans, g, a, b: call(trees.concatenated_tangent, G, call(zeros_like, b), a, b),
    None,
    None,
)
defjvp(trees.left_part, lambda t, ans, g, a, b: call(trees.left_part, t, a, b), None, None)
defvjp(
    trees.right_part,
    lambda G, ans, g, a, b: call(trees.concatenated_tangent, call(zeros_like, a), G, a, b),
    None,
    None,
)
defjvp(trees.right_part, lambda t, ans, g, a, b: call(trees.right_part, t, a, b), None, None)
defvjp(
    trees.concatenated_tangent,
    lambda G, ans, ta, tb, a, b: call(trees.left_part, G, a, b),
    lambda G, ans, ta, tb, a, b: call(trees.right_part, G, a, b),
    None,
    None,
)
defjvp_joint(  # linear in both tangents; joined, never added (lists would concatenate)
    trees.concatenated_tangent,
    lambda tangents, ans, ta, tb, a, b: call(trees.concatenated_tangent, tangents[0], tangents[1], a, b),
)
defvjp(trees.iterated_grad, lambda G, ans, g, x: call(trees.listed_tangent, G, x, False), None)
defjvp(trees.iterated_grad, lambda t, ans, g, x: call(trees.iterated_grad, t, x), None)

# The builtin max(xs)/min(xs) rules' helpers (sct.rules.pymath), linear in their first operand.
defvjp(trees.extreme_grad, lambda G, ans, g, items, largest: call(trees.extreme_tangent, G, items, largest), None, None)
defjvp(trees.extreme_grad, lambda t, ans, g, items, largest: call(trees.extreme_grad, t, items, largest), None, None)
defvjp(trees.extreme_tangent, lambda G, ans, t, items, largest: call(trees.extreme_grad, G, items, largest), None, None)
defjvp(
    trees.extreme_tangent, lambda T, ans, t, items, largest: call(trees.extreme_tangent, T, items, largest), None, None
)
nondiff(trees.extreme_index)


def object_attribute(obj, name):
    """``obj.name`` of an object that is no array (a layer's ``self.W``): the key of that read.

    Objects are never differentiated by (sct refuses them as arguments to differentiate by), so
    what is read from one carries no derivative, as a global's value carries none.
    """
    return getattr(obj, name)


nondiff(object_attribute)
