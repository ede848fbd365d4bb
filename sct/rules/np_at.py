"""``np.add.at(a, index, v)`` and ``np.subtract.at(a, index, v)``, the statements.

NumPy changes ``a`` in place, adding (subtracting) ``v`` at ``index`` once per occurrence
of a position (``a[index] += v`` keeps one write per position). The lowering
(:meth:`sct.frontend.lower._Lowering.update_at`) writes the statement as
``a = added_at(a, index, v)``: a copy of ``a`` with ``np.add.at`` applied, so the forward
value is NumPy's to the bit, and reports the change in place wherever another name could
see it (:mod:`sct.frontend.aliases`).

The new ``a`` is the old plus a scatter of ``v``: the old ``a``'s adjoint is the new one's;
``v``'s is the new adjoint gathered at ``index`` (``delta_a[index]``: one entry per
occurrence, so repeats add up when it is summed back to ``v``'s shape).
"""

import numbers

import numpy as np

from ..backend.runtime import added_at, subtracted_at, unbroadcast, zeros_like
from ..symbolic import call
from .table import defjvp, defvjp


def _rank_of_a(ranks, args, kwargs):
    return ranks[0] if ranks else None


def _gathered(g, index, v):
    """``g[index]`` summed back to the shape of ``v`` (``np.sum`` where ``v`` is a scalar)."""
    if isinstance(v, numbers.Number) or getattr(v, "ndim", None) == 0:
        return np.sum(g[index])
    return call(unbroadcast, g[index], v)


defvjp(
    added_at,
    lambda g, ans, a, index, v: g,
    None,
    lambda g, ans, a, index, v: _gathered(g, index, v),
    ndim=_rank_of_a,
)
defjvp(
    added_at,
    lambda t, ans, a, index, v: t,
    None,
    lambda t, ans, a, index, v: call(added_at, call(zeros_like, a), index, t),
)
defvjp(
    subtracted_at,
    lambda g, ans, a, index, v: g,
    None,
    lambda g, ans, a, index, v: -_gathered(g, index, v),
    ndim=_rank_of_a,
)
defjvp(
    subtracted_at,
    lambda t, ans, a, index, v: t,
    None,
    lambda t, ans, a, index, v: call(subtracted_at, call(zeros_like, a), index, t),
)
