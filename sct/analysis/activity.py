"""Analyses over the lowered IR: ranks, shape classes, activity, overwritten values.

* ``ranks``: the rank (``ndim``) of every value where it is known statically,
  from the ranks of the arguments (the call's specialisation) and each rule's
  rank function. A variable assigned in several places has a rank only if they
  all agree.
* ``shape_classes``: groups of values known to have the same shape; decides
  where a contribution must be summed back (``unbroadcast``).
* ``activity``: a value is *active* when it depends on a ``wrt`` input through
  differentiable operations AND the output depends on it. Only active values
  get a ``delta_*``.
* ``overwritten``: variables whose old value may be lost (assigned more than
  once, or inside a loop); the reverse sweep resets their adjoint at each
  assignment and, if it reads them, restores their values from a record.
"""

from __future__ import annotations

import math
import operator

import gast
import numpy as np

from ..ir import Assign, For, FunctionIR, If, SetItem, While, names_in, operands, walk
from ..rules import DYNAMIC, lookup
from ..symbolic import Sym
from . import dataflow

SCALAR = "scalar"


def static_value(node):
    """The Python value of a static atom, or DYNAMIC if it reads a variable."""
    if isinstance(node, gast.Name) or names_in(node):
        return DYNAMIC
    if type(node) is gast.Constant:  # what literal_eval gives of one, without converting it to ast first
        return node.value
    try:
        return gast.literal_eval(node)
    except ValueError:
        return DYNAMIC


def rank_of(node, ranks: dict):
    if isinstance(node, gast.Name):
        return ranks.get(node.id)
    if isinstance(node, gast.Constant):
        return 0 if isinstance(node.value, int | float | complex) and not isinstance(node.value, bool) else None
    value = static_value(node)
    return 0 if isinstance(value, int | float) and not isinstance(value, bool) else None


def assignments(body) -> dict:
    """How many places assign each variable (loop targets included)."""
    counts = {}
    for stmt in walk(body):
        target = stmt.target if isinstance(stmt, Assign | For | SetItem) else None
        if target is not None:
            counts[target] = counts.get(target, 0) + 1
    return counts


def overwritten(ir: FunctionIR) -> set:
    """Variables an assignment may overwrite: on some path assigned twice (or in a loop)."""
    counts = _path_counts(ir.body)
    return {v for v, n in counts.items() if n + (v in ir.params) > 1}


def _path_counts(body) -> dict:
    """The most times any one path through ``body`` assigns each variable (loops: many)."""
    counts = {}
    for stmt in body:
        if isinstance(stmt, If):
            then, orelse = _path_counts(stmt.body), _path_counts(stmt.orelse)
            found = {v: max(then.get(v, 0), orelse.get(v, 0)) for v in then.keys() | orelse.keys()}
        elif isinstance(stmt, For | While):
            found = {v: 2 for v in assignments(stmt.body) | assignments(getattr(stmt, "cond", []))}
            if isinstance(stmt, For):
                found[stmt.target] = 2
        else:
            found = {stmt.target: 1} if isinstance(stmt, Assign | SetItem) else {}
        for v, n in found.items():
            counts[v] = counts.get(v, 0) + n
    return counts


def first_definitions(ir: FunctionIR) -> set:
    """ids of top-level assignments that give a variable its first value (nothing to record)."""
    seen, first = set(ir.params), set()
    for stmt in ir.body:
        if isinstance(stmt, Assign) and stmt.target not in seen:
            first.add(id(stmt))
        seen |= {s.target for s in walk([stmt]) if isinstance(s, Assign | For | SetItem)}
    return first


def branch_flags(ir: FunctionIR) -> dict:
    """Temporaries that only hold an ``if``'s condition: ``{flag: its assignment}``.

    The lowering keeps a condition in a temporary (``g = x > 0.0``, then
    ``if g:``) when the branches change what the condition reads. Such a flag
    is assigned right before its ``if`` and read nowhere else, so the reverse
    sweep can take it from a record of which branch ran.
    """
    reads, candidates = {}, {}

    def scan(body):
        previous = None
        for stmt in body:
            for node in _read_nodes(stmt):
                for var in names_in(node):
                    reads[var] = reads.get(var, 0) + 1
            if isinstance(stmt, For | While) and stmt.brk:  # read by the loop's ``if brk: break``
                reads[stmt.brk] = reads.get(stmt.brk, 0) + 2
            flag = stmt.test.id if isinstance(stmt, If) and isinstance(stmt.test, gast.Name) else None
            if flag is not None and isinstance(previous, Assign) and previous.target == flag:
                candidates[flag] = previous
            for block in _blocks(stmt):
                scan(block)
            previous = stmt

    scan(ir.body)
    counts = assignments(ir.body)
    extra = {ir.output, ir.aux}
    return {v: a for v, a in candidates.items() if reads.get(v) == 1 and counts.get(v) == 1 and v not in extra}


def _read_nodes(stmt) -> list:
    """The expressions a statement reads at its own level (not inside nested blocks)."""
    if isinstance(stmt, Assign):
        return [stmt.value]
    if isinstance(stmt, SetItem):
        return [stmt.index, stmt.value]
    if isinstance(stmt, If):
        return [stmt.test]
    if isinstance(stmt, For):
        return [stmt.iter]
    if isinstance(stmt, While):
        return [stmt.test]
    return [stmt.value]  # Effect


def _blocks(stmt) -> list:
    if isinstance(stmt, If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, For):
        return [stmt.body]
    if isinstance(stmt, While):
        return [stmt.cond, stmt.body]
    return []


_UNSEEN = object()  # no assignment of the variable evaluated yet (the fixed point's bottom)


def ranks(ir: FunctionIR, arg_ranks: dict, elements: dict | None = None, arg_kinds: dict | None = None) -> dict:
    """Ranks of all variables, to an optimistic fixed point over loops and branches.

    ``elements`` gives the rank of the items of container arguments, if known;
    ``arg_kinds`` the dtype kind of each argument (the signature's: ``"int"``, ``"i"``,
    ``"b"``, ...), which says which 0-d indices are integers (:func:`integers`).
    Worklist data flow (:mod:`sct.analysis.dataflow`): a statement is evaluated again only
    when a variable it reads changes rank, so this is linear in the function's size.
    """
    elements = elements or {}
    ints = integers(ir, arg_kinds or {})
    assigned = [s for s in walk(ir.body) if isinstance(s, Assign | For)]
    known = {**{s.target: _UNSEEN for s in assigned}, **arg_ranks}

    def update(stmt) -> bool:
        rank = 0 if isinstance(stmt, For) else _rank(stmt, known, elements, ints)
        old = known[stmt.target]
        new = rank if old is _UNSEEN else (old if old == rank or rank is _UNSEEN else None)
        known[stmt.target] = new
        return new != old  # ranks are ints, None or _UNSEEN

    dataflow.solve(assigned, _reads, update)
    return {v: (None if r is _UNSEEN else r) for v, r in known.items()}


def _reads(stmt) -> list:
    """The variables an assignment or a loop header reads (for :func:`sct.analysis.dataflow.solve`)."""
    return names_in(stmt.value) if isinstance(stmt, Assign) else []


def _rank(stmt: Assign, known: dict, elements: dict, ints: set):
    args, kwargs = operands(stmt)
    arg_ranks = [rank_of(a, known) for a in args]
    if _UNSEEN in arg_ranks:
        return _UNSEEN
    if stmt.prim is None:
        return arg_ranks[0]
    if stmt.prim is operator.getitem:
        base = elements.get(args[0].id) if isinstance(args[0], gast.Name) else None
        if base is not None and rank_of(args[1], known) == 0:
            return base
        return _index_rank(arg_ranks[0], args[1], known, ints)
    entry = lookup(stmt.prim)
    if entry is None or entry.ndim is None:
        return None
    statics = [static_value(a) for a in args]
    kw = {k: static_value(v) for k, v in kwargs.items()}
    return entry.ndim(arg_ranks, statics, kw)


def _index_rank(rank, index, known, ints):
    """Rank of ``x[index]`` for basic indexing (integers, slices, None); None otherwise.

    A 0-d index is an integer only where :func:`integers` proves it: a bool
    (``x[k]`` with ``k = a > b``, or a bool argument) adds an axis where an
    integer removes one.
    """
    if rank is None:
        return None
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    for part in parts:
        if isinstance(part, gast.Slice):
            continue
        if isinstance(part, gast.Constant) and part.value is None:
            rank += 1
        elif rank_of(part, known) == 0 and (not isinstance(part, gast.Name) or part.id in ints):
            rank -= 1
        else:
            return None
    return rank if rank >= 0 else None


_INTEGER_KINDS = {"int", "i", "u"}  # a signature's kinds of Python ints and NumPy integer arrays
_GIVES_INTEGERS = {len, int, math.floor, math.ceil, math.trunc, operator.index, np.size, np.ndim, np.shape}
_GIVES_INTEGERS |= {np.argmax, np.argmin, np.count_nonzero}
_KEEPS_INTEGERS = {operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod, operator.neg}
_KEEPS_INTEGERS |= {operator.pos, abs, min, max, operator.getitem}


def integers(ir: FunctionIR, arg_kinds: dict) -> set:
    """Variables that surely hold integers: Python ints, NumPy integers, or shapes (tuples of ints).

    The greatest fixed point: every variable is assumed integer unless one of
    its assignments may give something else, so ``i = 0 ... i = i + 1`` stays
    one. Loop counters are (loops run over ``range``); an argument is where its
    signature's kind says so. Anything not listed (``/``, ``**``, comparisons,
    bools, floats, functions of unknown result) is not.
    """
    assigned = [s for s in walk(ir.body) if isinstance(s, Assign)]
    found = {s.target for s in assigned} | {s.target for s in walk(ir.body) if isinstance(s, For)}
    found = (found - set(ir.params)) | {p for p in ir.params if arg_kinds.get(p) in _INTEGER_KINDS}
    changed = True
    while changed:
        changed = False
        for stmt in assigned:
            if stmt.target in found and not _gives_integer(stmt, found):
                found.discard(stmt.target)
                changed = True
    return found


def _gives_integer(stmt: Assign, found: set) -> bool:
    args, kwargs = operands(stmt)

    def integer(atom) -> bool:
        if isinstance(atom, gast.Name):
            return atom.id in found
        value = static_value(atom)
        return isinstance(value, int) and not isinstance(value, bool)

    if stmt.prim is None:
        return len(args) == 1 and integer(args[0])
    if stmt.prim is round:
        return len(args) == 1 and not kwargs
    if stmt.prim in _GIVES_INTEGERS:
        return True
    if stmt.prim is operator.getitem:  # an item of a shape or of an integer array
        return integer(args[0])
    return stmt.prim in _KEEPS_INTEGERS and not kwargs and all(integer(a) for a in args)


def shape_classes(ir: FunctionIR, ranks: dict) -> dict:
    """Group values known to have the same shape: ``{name: class}``.

    Every scalar is in class ``"scalar"``; each argument starts its own class;
    an elementwise operation whose array operands share a class stays in it; a
    variable assigned in several places is in a class of its own.
    """
    counts = assignments(ir.body)
    classes = {p: (SCALAR if ranks.get(p) == 0 else p) for p in ir.params}
    for stmt in walk(ir.body):
        if isinstance(stmt, Assign):
            if ranks.get(stmt.target) == 0:
                classes[stmt.target] = SCALAR
            elif counts.get(stmt.target, 0) > 1 or stmt.target in ir.params:
                classes[stmt.target] = stmt.target
            else:
                classes[stmt.target] = _shape_class(stmt, classes)
        elif isinstance(stmt, For):
            classes[stmt.target] = SCALAR
    return classes


def shape_class(node, classes: dict):
    if isinstance(node, gast.Name):
        return classes.get(node.id, node.id)
    value = static_value(node)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return SCALAR
    return None


def _shape_class(stmt: Assign, classes: dict):
    args, _ = operands(stmt)
    entry = lookup(stmt.prim)
    if stmt.prim is None or (entry is not None and entry.elementwise):
        found = {shape_class(a, classes) for a in args} - {SCALAR}
        if len(found) == 1 and None not in found:
            return found.pop()
        if not found and stmt.prim is not None:
            return SCALAR
    return stmt.target  # a class of its own


def differentiable_operands(stmt) -> list[tuple[int, str]]:
    """(position, variable) for each operand a derivative can flow through."""
    if isinstance(stmt, SetItem):
        return [(0, n) for n in names_in(stmt.value)]
    args, kwargs = operands(stmt)
    if stmt.prim is None:
        return [(0, n) for n in names_in(args[0])]
    entry = lookup(stmt.prim)
    found = []
    for i, arg in enumerate(args):
        if entry is None or entry.differentiable(i):
            found += [(i, n) for n in names_in(arg)]
    if entry is None or not entry.nondiff:  # keyword operands: the reverse sweep reports them if active
        found += [(-1, n) for k, v in kwargs.items() if k != "keys" for n in names_in(v)]
    return found


def varied(ir: FunctionIR, wrt: list[str]) -> set[str]:
    """The names that depend on ``wrt`` through differentiable operations (fixed point over loops)."""
    return dataflow.reachable(wrt, _flow_edges(ir)[0])


def activity(ir: FunctionIR, wrt: list[str]) -> set[str]:
    """The names that depend on ``wrt`` and that the output depends on (fixed point)."""
    forward, backward = _flow_edges(ir)
    return dataflow.reachable(wrt, forward) & dataflow.reachable([ir.output], backward)


def _flow_edges(ir: FunctionIR) -> tuple[dict, dict]:
    """``{operand: targets}`` and ``{target: operands}`` over every differentiable flow of the function.

    Reachability along these is the fixed point that re-walking the function
    until nothing changes reaches, in time linear in the function's size.
    """
    forward, backward = {}, {}
    for stmt in walk(ir.body):
        if isinstance(stmt, Assign | SetItem):
            for _, name in differentiable_operands(stmt):
                forward.setdefault(name, []).append(stmt.target)
                backward.setdefault(stmt.target, []).append(name)
    return forward, backward


def rule_view(node, ranks: dict):
    """A rule's view of an operand: a Sym for a variable, the Python value for a constant.

    Containers and slices of atoms become tuples, lists and slices of such views.
    """

    if isinstance(node, gast.Name):
        return Sym(node, ranks.get(node.id))
    value = static_value(node)
    if value is not DYNAMIC:
        return value
    if isinstance(node, gast.Tuple | gast.List):
        items = [rule_view(e, ranks) for e in node.elts]
        return tuple(items) if isinstance(node, gast.Tuple) else items
    if isinstance(node, gast.Slice):
        return slice(*[None if p is None else rule_view(p, ranks) for p in (node.lower, node.upper, node.step)])
    return Sym(node, rank_of(node, ranks))
