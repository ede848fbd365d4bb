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


def _scatter(helper, sign: int) -> None:
    """The rules of ``helper`` (``added_at``: ``sign`` 1; ``subtracted_at``: -1)."""

    def v_adjoint(g, ans, a, index, v):
        gathered = _gathered(g, index, v)
        return gathered if sign > 0 else -gathered

    defvjp(helper, lambda g, ans, a, index, v: g, None, v_adjoint, ndim=_rank_of_a)
    defjvp(
        helper,
        lambda t, ans, a, index, v: t,
        None,
        lambda t, ans, a, index, v: call(helper, call(zeros_like, a), index, t),
    )


_scatter(added_at, 1)
_scatter(subtracted_at, -1)
