"""Accumulating contributions into adjoints, without aliasing bugs.

Mixed into the reverse emitter (:mod:`sct.reverse.adjoint`), which tracks per program
point which adjoints hold a value (``defined``) and which hold an array only we
can reach (``owned``: zeros we made, or the result of an arithmetic operation).
The first contribution to ``delta_v`` defines it. Later ones build a new array,
``delta_v = delta_v + c``, unless ``delta_v`` is owned and surely an array: then
``delta_v += c`` updates it in place. Reading ``x[i]`` scatters its adjoint back
with ``delta_x[i] += g`` (or ``add_at`` for fancy indices) into an owned array.
Writing ``y[i] = v`` sends ``v`` the adjoint of the block written: ``delta_y[i]``,
or, where an index array may repeat a position, ``kept_writes(delta_y, i)``,
which is zero for the writes NumPy did not keep.
"""

from __future__ import annotations

import gast
import numpy as np

from ..backend.codegen import assign, name
from ..backend.runtime import add_at, fresh_copy, kept_writes, tree_add
from ..ir import COMPARES, Assign, For, names_in, walk
from ..symbolic import Scatter, Sym, call, to_expr

LOAD = gast.Load()


class Accumulation:
    def accumulate(self, var: str, contribution, state) -> list:
        if isinstance(contribution, Scatter):
            return self.scatter(var, contribution, state)
        target = self.delta(var)
        for other in names_in(contribution):  # a view or alias of an adjoint we own
            if other in self.adjoint_of and not _fresh(contribution):
                state.owned.discard(self.adjoint_of[other])
        if var in state.defined and var in state.owned and self.in_place(var):
            return [gast.AugAssign(target=name(target, store=True), op=gast.Add(), value=contribution)]
        if var in state.defined and var in self.containers:  # lists add item by item, never concatenate
            contribution = to_expr(call(tree_add, Sym(name(target)), Sym(contribution)))
            state.owned.add(var)
            return [assign(target, contribution)]
        if var in state.defined:
            contribution = gast.BinOp(left=name(target), op=gast.Add(), right=contribution)
        state.defined.add(var)
        if _fresh(contribution):
            state.owned.add(var)
        else:
            state.owned.discard(var)
        return [assign(target, contribution)]

    def in_place(self, var) -> bool:
        """Can ``delta_var += c`` update the array (an array, surely, not a number or a list)?"""
        rank = self.ranks.get(var)
        return isinstance(rank, int) and rank > 0 and var not in self.containers

    def own(self, var, state) -> list:
        """Make ``delta_var`` an array only we hold, so it can be updated in place."""
        lines = []
        if var not in state.defined:
            lines.append(assign(self.delta(var), self.zero(var)))
        elif var not in state.owned:
            lines.append(assign(self.delta(var), to_expr(call(fresh_copy, Sym(name(self.delta(var)))))))
        state.defined.add(var)
        state.owned.add(var)
        return lines

    def scatter(self, var, contribution: Scatter, state) -> list:
        """``delta_x[index] += g``: the adjoint of reading ``x[index]``."""
        lines = self.own(var, state)
        target = name(self.delta(var))
        g = to_expr(contribution.g)
        nested = var in self.nested  # an item may be a container: ``+=`` on it would concatenate
        if (
            not nested
            and self.basic_index(contribution.index)
            and not (var in self.containers and _has_slice(contribution.index))
        ):
            store = gast.Subscript(value=target, slice=to_expr(contribution.index), ctx=gast.Store())
            lines.append(gast.AugAssign(target=store, op=gast.Add(), value=g))
        else:
            index = Sym(_index_value(contribution.index))
            # assigned, not a bare call: differentiating this code again must see the update
            lines.append(assign(self.delta(var), to_expr(call(add_at, Sym(target), index, Sym(g)))))
        return lines

    def written(self, g: Sym, target: str, index) -> Sym:
        """The adjoint of the block written by ``target[index] = v``, from ``g``, the adjoint of ``target``.

        NumPy keeps one write per position: where an integer index array repeats a
        position, only the write it keeps gets ``g``'s value there (``kept_writes``).
        """
        if self.basic_index(index) or self.mask_index(index):  # a possible container too: kept_writes takes lists
            return g[index]
        return call(kept_writes, g, Sym(_index_value(index)))

    def mask_index(self, index) -> bool:
        """Basic parts and boolean masks only: the positions written are distinct."""
        if isinstance(index, tuple):
            return all(self.basic_index(i) or self.mask_index(i) for i in index)
        return isinstance(index, Sym) and isinstance(index.node, gast.Name) and index.node.id in self.masks

    @property
    def masks(self) -> set:
        if getattr(self, "_masks", None) is None:
            self._masks = masks(self.ir)
        return self._masks

    def basic_index(self, index) -> bool:
        """Ints, slices and rank-0 variables only: ``+=`` then adds each element once."""
        if isinstance(index, tuple):
            return all(self.basic_index(i) for i in index)
        if isinstance(index, slice):
            return True
        if isinstance(index, Sym):
            return isinstance(index.node, gast.Name) and self.ranks.get(index.node.id) == 0
        return isinstance(index, int | str | type(None)) or index is Ellipsis


_MASK_MAKERS = {
    *COMPARES.values(),
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.logical_xor,
    np.isnan,
    np.isinf,
    np.isfinite,
}


def masks(ir) -> set:
    """Variables surely holding booleans: every assignment of them is a comparison (``m = x > 0``).

    Not parameters, nor loop variables: a loop may read the name before its first comparison.
    """
    made, other = set(), set(ir.params)
    for stmt in walk(ir.body):
        if isinstance(stmt, Assign):
            (made if stmt.prim in _MASK_MAKERS else other).add(stmt.target)
        elif isinstance(stmt, For):
            other.add(stmt.target)
    return made - other


def _index_value(index):
    """An index as an expression that can be passed to a function: ``slice(...)``, not ``a:b``."""
    if isinstance(index, tuple):
        return gast.Tuple(elts=[_index_value(i) for i in index], ctx=LOAD)
    if isinstance(index, slice):
        parts = [to_expr(p) for p in (index.start, index.stop, index.step)]
        return gast.Call(func=name("slice"), args=parts, keywords=[])
    return to_expr(index)


def _has_slice(index) -> bool:
    return isinstance(index, slice) or isinstance(index, tuple) and any(isinstance(i, slice) for i in index)


def merged(contributions: list) -> list:
    """One contribution ``2.0 * c`` where a statement sends ``c`` twice to one variable (``x * x``)."""
    seen, merged = {}, []
    many = {var for k, (var, _) in enumerate(contributions) if any(v == var for v, _ in contributions[:k])}
    for var, c in contributions:
        key = (var, gast.dump(c)) if isinstance(c, gast.AST) and var in many else None  # dump only to compare
        if key in seen and seen[key] is not None:
            index = seen[key]
            merged[index] = (var, gast.BinOp(left=gast.Constant(value=2.0, kind=None), op=gast.Mult(), right=c))
            seen[key] = None  # a third copy stays a separate contribution
            continue
        if key is not None:
            seen[key] = len(merged)
        merged.append((var, c))
    return merged


def _fresh(expr) -> bool:
    """Does ``expr`` always make a new array (so no other name can hold it)?"""
    return isinstance(expr, gast.BinOp | gast.UnaryOp)
