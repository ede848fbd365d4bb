"""Slices that tile an array: their adjoints joined by one ``np.concatenate``.

Reading ``z[:, :n]``, ``z[:, n:2 * n]``, ... (an LSTM's gates) gives each slice's adjoint
a place in ``delta_z``: ``delta_z = zeros_like(z)``, then ``delta_z[:, :n] += delta_p`` per
slice. Where the slices provably cover the axis, contiguous and in order, a person
writes ``delta_z = np.concatenate((delta_p, delta_v, ...), axis=1)`` instead, and so
does this pass.

The proof is read from the lowered IR: every bound is ``None``, a non-negative int, or
``k * n`` for one int ``k >= 0`` and one ``n`` that cannot be negative (an item of a
``.shape``, a ``len``, assigned once, outside any loop or branch), each name assigned
once in the function; the slices, chained
from ``0`` (or ``None``) lower bound to upper bound, end at ``None`` and use each slice
once, every bound no lower than the one before. Then, clipped to the axis's length as
Python clips them, they stay contiguous and cover it, whatever that length. Each added
value must be the adjoint of the slice itself (``delta_p`` for ``p = z[:, :n]``), which
has the slice's shape; nothing else may touch ``delta_z`` between its zeros and the last
slice's line, nor change an adjoint between its line and that one. Anything else is left
as it is.
"""

from __future__ import annotations

import operator

import gast
import numpy as np

from ..backend.codegen import bodies_in, name
from ..backend.runtime import zeros_like
from ..ir import Assign, walk
from ..symbolic import Sym, call, to_expr

LOAD = gast.Load()
END = "end"


def join_slices(backward: list, ir, adjoint_of: dict, ranks: dict, opaque: set) -> None:
    """Rewrite each block of ``backward`` (in place) where a zeroed adjoint is only filled slice by slice."""
    facts = _Facts(ir)
    for block in [backward, *bodies_in(backward)]:
        k = 0
        while k < len(block):
            done = _join_at(block, k, facts, adjoint_of, ranks, opaque)
            k += 1 if not done else 0


class _Facts:
    """What the lowered IR says about names: each one's single assignment, if it has one."""

    def __init__(self, ir):
        counts = {}
        for s in walk(ir.body):
            target = getattr(s, "target", None)
            if target is not None:
                counts[target] = counts.get(target, 0) + 1
        self.single = {
            s.target: s
            for s in walk(ir.body)
            if isinstance(s, Assign) and counts.get(s.target) == 1 and s.target not in ir.params
        }
        self.top = {id(s) for s in ir.body}  # run once, before anything after them: never another value

    def bound(self, node, upper: bool):
        """``(k, n)`` for a bound ``k * n`` (``n`` None: the constant ``k``), ``END``, or None if unknown."""
        if node is None:
            return END if upper else (0, None)
        if isinstance(node, gast.Constant) and type(node.value) is int and node.value >= 0:
            return (node.value, None)
        if not isinstance(node, gast.Name):
            return None
        stmt = self.single.get(node.id)
        if stmt is None:
            return None
        if self.natural(node.id):
            return (1, node.id)
        value = stmt.value
        if stmt.prim is None and isinstance(value, gast.Name):
            return self.bound(value, upper)
        if stmt.prim is operator.mul and isinstance(value, gast.BinOp):
            pair = [value.left, value.right]
            for const, other in (pair, pair[::-1]):
                factor = isinstance(const, gast.Constant) and type(const.value) is int and const.value >= 0
                if factor and isinstance(other, gast.Name) and self.natural(other.id):
                    return (const.value, other.id)
        return None

    def natural(self, var: str) -> bool:
        """Is ``var`` an item of a shape, or a ``len``: an int that cannot be negative?"""
        stmt = self.single.get(var)
        if stmt is None or id(stmt) not in self.top:
            return False
        value = stmt.value
        if stmt.prim is len:
            return True
        if stmt.prim is operator.getitem and isinstance(value, gast.Subscript):
            base, index = value.value, value.slice
            if isinstance(base, gast.Name) and isinstance(index, gast.Constant) and type(index.value) is int:
                owner = self.single.get(base.id)
                return owner is not None and id(owner) in self.top and owner.prim is np.shape
        return False


def _join_at(block, k, facts, adjoint_of, ranks, opaque) -> bool:
    start = block[k]
    var = _zeroed(start)
    if var is None:
        return False
    delta = start.targets[0].id
    if adjoint_of.get(delta) != var or not ranks.get(var) or var in opaque:
        return False
    lines = []  # (position in block, index, adjoint added)
    for j in range(k + 1, len(block)):
        stmt = block[j]
        if delta not in _names(stmt):
            continue
        added = _added_slice(stmt, delta)
        if added is None:
            break
        lines.append((j, *added))
    if len(lines) < 2:
        return False
    order = _tiling(lines, var, facts, adjoint_of)
    if order is None:
        return False
    last = lines[-1][0]
    pieces = [g for _, _, g in order]
    for j, _, g in lines:  # each adjoint still holds what was added, where the join reads it
        if any(g in _stored(s) for s in block[j + 1 : last]):
            return False
    axis = _axis(lines[0][1])
    join = to_expr(call(np.concatenate, tuple(Sym(name(g)) for g in pieces), axis=axis))
    block[last] = gast.Assign(targets=[name(delta, store=True)], value=join, type_comment=None)
    drop = {k} | {j for j, _, _ in lines[:-1]}
    block[:] = [s for i, s in enumerate(block) if i not in drop]
    return True


def _zeroed(stmt):
    """``z`` of ``delta_z = zeros_like(z)``; else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return None
    value = stmt.value
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id == getattr(zeros_like, "__name__", "zeros_like")
        and len(value.args) == 1
        and isinstance(value.args[0], gast.Name)
        and not value.keywords
    ):
        return value.args[0].id
    return None


def _added_slice(stmt, delta):
    """``(index, g)`` of ``delta[index] += g`` with a name ``g``; else None."""
    if not (isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add)):
        return None
    target = stmt.target
    if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name) and target.value.id == delta):
        return None
    if not isinstance(stmt.value, gast.Name) or delta in _names(target.slice):
        return None
    return target.slice, stmt.value.id


def _parts(index) -> list:
    return list(index.elts) if isinstance(index, gast.Tuple) else [index]


def _full(part) -> bool:
    return isinstance(part, gast.Slice) and part.lower is None and part.upper is None and part.step is None


def _axis(index) -> int:
    parts = _parts(index)
    return next(i for i, p in enumerate(parts) if not _full(p)) if not all(map(_full, parts)) else 0


def _tiling(lines, var, facts, adjoint_of):
    """``lines`` in the order their slices tile the axis of ``var``, or None if that is not proven."""
    width, axis, spans = None, None, []
    for j, index, g in lines:
        parts = _parts(index)
        partial = [i for i, p in enumerate(parts) if not _full(p)]
        if len(partial) > 1 or not all(isinstance(p, gast.Slice) for p in parts):
            return None
        at = partial[0] if partial else 0
        if (width, axis) != (None, None) and (width, axis) != (len(parts), at):
            return None
        width, axis = len(parts), at
        piece = parts[at]
        if piece.step is not None or not _slice_of(g, var, index, facts, adjoint_of):
            return None
        lower, upper = facts.bound(piece.lower, False), facts.bound(piece.upper, True)
        if lower is None or upper is None or upper != END and not _at_most(lower, upper):
            return None
        spans.append((lower, upper, (j, index, g)))
    order, at = [], (0, None)
    while spans:
        found = [s for s in spans if _same(s[0], at)]
        if len(found) != 1:
            return None
        spans.remove(found[0])
        order.append(found[0][2])
        at = found[0][1]
        if at == END:
            break
    return order if at == END and not spans else None


def _same(a, b) -> bool:
    if a == END or b == END:
        return a == b
    return a == b or (a[0] == 0 and b[0] == 0)


def _at_most(a, b) -> bool:
    if a[0] == 0:
        return True
    return a[1] == b[1] and a[0] <= b[0]


def _slice_of(g, var, index, facts, adjoint_of) -> bool:
    """Is ``g`` the adjoint of a variable assigned once as ``var[index]``?"""
    stmt = facts.single.get(adjoint_of.get(g))
    if stmt is None or stmt.prim is not operator.getitem or not isinstance(stmt.value, gast.Subscript):
        return False
    value = stmt.value
    same_index = gast.dump(value.slice) == gast.dump(index)
    return isinstance(value.value, gast.Name) and value.value.id == var and same_index


def _names(node) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def _stored(node) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
