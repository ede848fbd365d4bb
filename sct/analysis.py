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

import operator

import gast

from . import dataflow
from .ir import Assign, For, FunctionIR, If, SetItem, While, names_in, operands, walk
from .rules import DYNAMIC, lookup

SCALAR = "scalar"


def static_value(node):
    """The Python value of a static atom, or DYNAMIC if it reads a variable."""
    if isinstance(node, gast.Name) or names_in(node):
        return DYNAMIC
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


def ranks(ir: FunctionIR, arg_ranks: dict, elements: dict | None = None) -> dict:
    """Ranks of all variables, to an optimistic fixed point over loops and branches.

    ``elements`` gives the rank of the items of container arguments, if known.
    Worklist data flow (:mod:`sct.dataflow`): a statement is evaluated again only
    when a variable it reads changes rank, so this is linear in the function's size.
    """
    elements = elements or {}
    assigned = [s for s in walk(ir.body) if isinstance(s, Assign | For)]
    known = {**{s.target: _UNSEEN for s in assigned}, **arg_ranks}

    def update(stmt) -> bool:
        rank = 0 if isinstance(stmt, For) else _rank(stmt, known, elements)
        old = known[stmt.target]
        new = rank if old is _UNSEEN else (old if old == rank or rank is _UNSEEN else None)
        known[stmt.target] = new
        return new != old  # ranks are ints, None or _UNSEEN

    dataflow.solve(assigned, _reads, update)
    return {v: (None if r is _UNSEEN else r) for v, r in known.items()}


def _reads(stmt) -> list:
    """The variables an assignment or a loop header reads (for :func:`sct.dataflow.solve`)."""
    return names_in(stmt.value) if isinstance(stmt, Assign) else []


def _rank(stmt: Assign, known: dict, elements: dict):
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
        return _index_rank(arg_ranks[0], args[1], known)
    entry = lookup(stmt.prim)
    if entry is None or entry.ndim is None:
        return None
    statics = [static_value(a) for a in args]
    kw = {k: static_value(v) for k, v in kwargs.items()}
    return entry.ndim(arg_ranks, statics, kw)


def _index_rank(rank, index, known):
    """Rank of ``x[index]`` for basic indexing (ints, slices, None); None otherwise."""
    if rank is None:
        return None
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    for part in parts:
        if isinstance(part, gast.Slice):
            continue
        if isinstance(part, gast.Constant) and part.value is None:
            rank += 1
        elif rank_of(part, known) == 0 and not (isinstance(part, gast.Constant) and part.value is Ellipsis):
            rank -= 1
        else:
            return None
    return rank if rank >= 0 else None


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
    from .symbolic import Sym

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


# ---- what the reverse sweep need not record (see docs/how-it-works.md, "Store or recompute") ----
def _pure(stmt: Assign) -> bool:
    """Does ``stmt`` compute a new value from its operands alone: a copy of an atom, or an elementwise op?"""
    args, kwargs = operands(stmt)
    atoms = all(isinstance(a, gast.Name | gast.Constant) for a in [*args, *kwargs.values()])
    if stmt.prim is None:
        return atoms and len(args) == 1 and not kwargs
    entry = lookup(stmt.prim)
    return atoms and entry is not None and entry.elementwise and not entry.nondiff


def _single_assignments(ir: FunctionIR) -> dict:
    """Variable -> its one assignment, for variables assigned by exactly one ``Assign`` and no parameter."""
    counts = assignments(ir.body)
    return {
        s.target: s
        for s in walk(ir.body)
        if isinstance(s, Assign) and counts.get(s.target) == 1 and s.target not in ir.params
    }


def invariant(ir: FunctionIR) -> set:
    """Variables assigned once, in a loop, by a pure operation of values that never change.

    Such a variable holds the same value on every trip (``l = -restitution``):
    the reverse sweep reads the value the forward sweep left, nothing is recorded.
    A value that never changes is a constant, a variable no path assigns twice,
    or (to a fixed point) another such invariant variable.
    """
    changing = overwritten(ir)
    single = {v: s for v, s in _single_assignments(ir).items() if v in changing and _pure(s)}
    found: set = set()
    grew = True
    while grew:
        grew = False
        for var, stmt in single.items():
            if var in found:
                continue
            args, kwargs = operands(stmt)
            reads = [n for a in [*args, *kwargs.values()] for n in names_in(a)]
            if all(n not in changing or n in found for n in reads):
                found.add(var)
                grew = True
    return found


def stable_shapes(ir: FunctionIR, ranks: dict) -> set:
    """Variables whose shape is the same at every assignment: no shape record per loop trip.

    A variable assigned once, by an operation whose result's shape follows from
    its operands' shapes (elementwise, ``@``, indexing by loop counters and
    constants), of operands whose shapes never change: constants, scalars of
    known rank, variables no path assigns twice, ``range`` loop counters, and (to
    a fixed point) other such variables. Anything else keeps its records.
    """
    changing = overwritten(ir)
    counters = {s.target for s in walk(ir.body) if isinstance(s, For) and _is_range(s.iter)}
    single = _single_assignments(ir)
    found: set = set()

    def fixed(node) -> bool:
        if isinstance(node, gast.Constant):
            return True
        if isinstance(node, gast.Name):
            n = node.id
            return n not in changing or n in found or n in counters or ranks.get(n) == 0
        return False

    grew = True
    while grew:
        grew = False
        for var, stmt in single.items():
            if var not in found and _shape_follows(stmt, fixed, counters, ranks):
                found.add(var)
                grew = True
    return found


def _is_range(node) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "range"


def _shape_follows(stmt: Assign, fixed, counters: set, ranks: dict) -> bool:
    """Is the shape of ``stmt``'s result fixed once its operands' shapes are (see :func:`stable_shapes`)?

    Indexing only an array (of known rank): the items of a list may each have a shape of their own.
    """
    args, kwargs = operands(stmt)
    if kwargs:
        return False
    if stmt.prim is operator.getitem and len(args) == 2:
        parts = args[1].elts if isinstance(args[1], gast.Tuple) else [args[1]]
        array = isinstance(args[0], gast.Name) and isinstance(ranks.get(args[0].id), int) and ranks[args[0].id] > 0
        return array and fixed(args[0]) and all(_fixed_index(p, counters) for p in parts)
    if stmt.prim is None:
        return len(args) == 1 and fixed(args[0])
    entry = lookup(stmt.prim)
    shaped = stmt.prim is operator.matmul or (entry is not None and entry.elementwise)
    return shaped and all(fixed(a) for a in args)


def _fixed_index(part, counters: set) -> bool:
    """An index part that selects the same shape whatever its value: an int, a constant slice, None."""
    if isinstance(part, gast.Name):
        return part.id in counters
    if isinstance(part, gast.Slice):
        return all(p is None or isinstance(p, gast.Constant) for p in (part.lower, part.upper, part.step))
    return isinstance(part, gast.Constant) and (part.value is None or type(part.value) is int)


def recomputable(ir: FunctionIR, ranks: dict) -> dict:
    """``{id(loop): [assignments]}``: values the reverse sweep recomputes at the top of each reversed trip.

    A variable qualifies, instead of being recorded every trip, when

    - one ``Assign`` sets it, at the top level of a loop's body (so it runs every
      trip), and it is read nowhere but after that assignment in the same body;
    - the operation is cheap: an elementwise operation on scalars (rank 0), or
      indexing by loop counters and constants (a view, or a list's item);
    - each operand holds, at the end of the trip, the value the assignment read:
      a constant, a value that never changes, a loop counter, or a variable
      assigned only by ``Assign`` (so the reverse sweep restores it) and not
      assigned again after this assignment in the trip.

    At the top of the reversed trip every restored variable holds its value at
    the end of the forward trip, so the recomputed value is the one the forward
    sweep had.
    """
    changing, fixed = overwritten(ir), invariant(ir)
    single = _single_assignments(ir)
    counters = {s.target for s in walk(ir.body) if isinstance(s, For) and _is_range(s.iter)}
    assigned_by = {}
    for s in walk(ir.body):
        target = getattr(s, "target", None)
        if target is not None:
            assigned_by.setdefault(target, []).append(s)
    reads = _read_sites(ir)
    found = {}
    for loop in walk(ir.body):
        if not isinstance(loop, For | While):
            continue
        chosen: list = []
        for k, stmt in enumerate(loop.body):
            var = stmt.target if isinstance(stmt, Assign) else None
            if var is None or single.get(var) is not stmt or var in fixed or var not in changing:
                continue
            if var in (ir.output, ir.aux) or not _cheap(stmt, ranks, counters):
                continue
            later = {id(s) for s in walk(loop.body[k + 1 :])}
            if not all(site in later for site in reads.get(var, ())):
                continue
            rest = loop.body[k + 1 :] + (loop.cond if isinstance(loop, While) else [])
            after = {s.target for s in walk(rest) if getattr(s, "target", None) is not None}
            done = {s.target for s in chosen}
            if all(_restorable(n, loop, changing, fixed, done, after, assigned_by) for n in _operand_names(stmt)):
                chosen.append(stmt)
        if chosen:
            found[id(loop)] = chosen
    return found


def _operand_names(stmt: Assign) -> list:
    args, kwargs = operands(stmt)
    return [n for a in [*args, *kwargs.values()] for n in names_in(a)]


def _cheap(stmt: Assign, ranks: dict, counters: set) -> bool:
    args, kwargs = operands(stmt)
    if stmt.prim is operator.getitem and len(args) == 2 and not kwargs and isinstance(args[0], gast.Name):
        parts = args[1].elts if isinstance(args[1], gast.Tuple) else [args[1]]
        return all(_fixed_index(p, counters) for p in parts)
    return ranks.get(stmt.target) == 0 and stmt.prim is not None and _pure(stmt)


def _restorable(var, loop, changing, fixed, done, after, assigned_by) -> bool:
    """Does ``var`` hold, at the top of ``loop``'s reversed trip, the value an assignment before ``after`` read?

    The reverse sweep restores what ``Assign`` overwrote, and sets the counter
    of a loop (this one, or one around it) in the reversed loop's header.
    """
    if var not in changing or var in fixed or var in done:
        return True
    if var in after:
        return False
    for s in assigned_by.get(var, ()):
        if isinstance(s, For):
            if s is not loop and id(loop) not in {id(t) for t in walk(s.body)}:
                return False
        elif not isinstance(s, Assign):
            return False
    return True


def _read_sites(ir: FunctionIR) -> dict:
    """Variable -> ids of the IR statements that read it (a loop's own header or condition included)."""
    sites = {}
    for stmt in walk(ir.body):
        for node in _read_nodes(stmt):
            for var in names_in(node):
                sites.setdefault(var, []).append(id(stmt))
        if isinstance(stmt, For | While) and stmt.brk:
            sites.setdefault(stmt.brk, []).append(id(stmt))
    for var in (ir.output, ir.aux):
        if var is not None:
            sites.setdefault(var, []).append(None)
    return sites


def trip_locals(ir: FunctionIR) -> dict:
    """``{id(loop): [variables]}``: values made afresh on every trip and read only later in that trip.

    One ``Assign`` sets such a variable, at the top level of the loop's body (it
    runs every trip), and nothing reads it but the statements after it in the
    body. Its value at the end of a trip is the one every read saw, so the
    forward sweep records them all at once at the end of the trip
    (``tape.append((r, s))``) and the reversed trip takes them back at its top.
    """
    changing = overwritten(ir)
    single = _single_assignments(ir)
    reads = _read_sites(ir)
    found = {}
    for loop in walk(ir.body):
        if not isinstance(loop, For | While):
            continue
        chosen = []
        for k, stmt in enumerate(loop.body):
            var = stmt.target if isinstance(stmt, Assign) else None
            if var is None or single.get(var) is not stmt or var not in changing:
                continue
            later = {id(s) for s in walk(loop.body[k + 1 :])}
            if all(site in later for site in reads.get(var, ())):
                chosen.append(var)
        if chosen:
            found[id(loop)] = chosen
    return found
