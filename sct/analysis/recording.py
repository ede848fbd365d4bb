"""What a loop need not record: the store-or-recompute rule (docs/how-it-works.md, "Store or recompute").

Analyses over the lowered IR that the reverse emitter (:mod:`sct.reverse`) asks
before it keeps a value for the reverse sweep:

* ``invariant``: the same value on every trip (``f = -restitution``): read as the
  forward sweep left it, never recorded;
* ``recomputable``: cheap values (a scalar operation, a view by loop counters) made
  again at the top of each reversed trip from values the reverse sweep restores;
* ``trip_locals``: values made afresh each trip and read only later in it: one
  record per loop, a row per trip (``tape.append((r, s))``);
* ``stable_shapes``: values whose shape is the same on every trip: their shape is
  read once, not recorded per trip.
"""

from __future__ import annotations

import operator

import gast

from ..frontend.aliases import MORE_VIEWS, VIEWS
from ..ir import Assign, For, FunctionIR, If, While, names_in, operands, walk
from ..rules import lookup
from .activity import _read_nodes, assignments, overwritten


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
    counters = {s.target for s in walk(ir.body) if isinstance(s, For) and _is_range(s.iter)}
    order = _Order(ir)
    found = {}
    made = list(order.made_each_trip(changing))
    after = _after_carried(made, ranks)
    for loop, stmt in made:
        var = stmt.target
        if var in fixed or not (_cheap(stmt, ranks, counters) or id(stmt) in after):
            continue
        chosen = found.setdefault(id(loop), [])
        done = {s.target for s in chosen}
        if all(_restorable(n, loop, stmt, changing, fixed, done, order) for n in _operand_names(stmt)):
            chosen.append(stmt)
    return {k: v for k, v in found.items() if v}


class _Order:
    """Statements numbered in program order, to ask "later in this loop's body?" in constant time."""

    def __init__(self, ir: FunctionIR):
        self.ir = ir
        self.pre, self.end, self.top = {}, {}, []  # id -> number; id -> last number inside it; (loop, stmt)
        self.assigned_by = {}
        self.number(ir.body, None)

    def number(self, body, loop):
        for stmt in body:
            self.pre[id(stmt)] = len(self.pre)
            if loop is not None:
                self.top.append((loop, stmt))
            target = getattr(stmt, "target", None)
            if target is not None:
                self.assigned_by.setdefault(target, []).append(stmt)
            if isinstance(stmt, If):
                self.number(stmt.body, None)
                self.number(stmt.orelse, None)
            elif isinstance(stmt, For | While):
                self.number(getattr(stmt, "cond", []), None)
                self.number(stmt.body, stmt)
            self.end[id(stmt)] = len(self.pre) - 1

    def later(self, site, stmt, loop) -> bool:
        """Is ``site`` (a statement) after ``stmt`` in ``loop``'s body, nested or not?"""
        return site is not None and self.pre[id(stmt)] < self.pre[site] <= self.end[id(loop)]

    def made_each_trip(self, changing: set):
        """(loop, assignment) for each variable assigned once, at the top level of a loop body,
        and read nowhere but later in that body."""
        if not self.top:  # no loop: nothing is made each trip, and the walks below would find nothing to ask
            return
        single = _single_assignments(self.ir)
        reads = _read_sites(self.ir)
        for loop, stmt in self.top:
            var = stmt.target if isinstance(stmt, Assign) else None
            if (
                var is None
                or single.get(var) is not stmt
                or var not in changing
                or var in (self.ir.output, self.ir.aux)
            ):
                continue
            if all(self.later(site, stmt, loop) for site in reads.get(var, ())):
                yield loop, stmt


def _after_carried(made: list, ranks: dict) -> set:
    """ids of values a trip makes afresh after a carried variable changes, made again rather than stored,
    so that the loop's one row can be pushed before that change (see :func:`carried_values`).

    Per loop: the values made at the top level of its body after the first assignment of a
    variable the body also reads before it in a way whose derivative needs it (a value
    carried from the trip before, ``c`` in ``ai = f * c; c = ai + aj``), when every one of
    them is an elementwise function of one variable (``np.tanh(c)``, as a hand-written LSTM
    makes it again); otherwise none.
    Making one again costs an elementwise pass; storing it would keep the carried
    variable's old value on a record of its own, a push and a pop each trip.
    """
    chosen = set()
    by_loop = {}
    for loop, stmt in made:
        by_loop.setdefault(id(loop), (loop, []))[1].append(stmt)
    for loop, fresh in by_loop.values():
        body, afresh = loop.body, {id(s) for s in fresh}
        first = next((i for i, s in enumerate(body) if _carried_site(body, i) and id(s) not in afresh), None)
        if first is None:
            continue
        later = [s for s in body[first + 1 :] if id(s) in afresh]
        if later and all(_elementwise_of_one(s, ranks) for s in later):
            chosen |= {id(s) for s in later}
    return chosen


def _carried_site(body, i) -> bool:
    """Is ``body[i]`` an assignment of a variable whose old value the reverse sweep surely needs:
    ``body`` reads it before (its value from the trip before) in a product of variables or a
    nonlinear function (``ai = f * c``), which keeps it on a record anyway?"""
    stmt = body[i]
    if not isinstance(stmt, Assign):
        return False
    return any(_reads_nonlinearly(s, stmt.target) for s in body[: i + 1])


_LINEAR = (operator.add, operator.sub, operator.neg, operator.pos)


def _reads_nonlinearly(stmt, var: str) -> bool:
    if not isinstance(stmt, Assign) or var not in _operand_names(stmt):
        return isinstance(stmt, If | For | While) and var in _read_names(stmt)  # read in a block: assume so
    if stmt.prim is None or stmt.prim in _LINEAR:
        return False
    args, kwargs = operands(stmt)
    if stmt.prim in (operator.mul, operator.matmul) and len(args) == 2 and not kwargs:
        return all(isinstance(a, gast.Name) for a in args)  # x * 2.0 is linear in x
    if stmt.prim is operator.truediv and len(args) == 2 and not kwargs:
        return var in names_in(args[1]) or isinstance(args[1], gast.Name)
    return True


def _read_names(stmt) -> set:
    return {v for node in _read_nodes(stmt) for v in names_in(node)}


def _elementwise_of_one(stmt: Assign, ranks: dict) -> bool:
    """An elementwise operation (``np.tanh(c)``) of one variable, and constants, giving an array."""
    args, kwargs = operands(stmt)
    names = [a for a in args if isinstance(a, gast.Name)]
    if kwargs or len(names) != 1 or not all(isinstance(a, gast.Name | gast.Constant) for a in args):
        return False
    entry = lookup(stmt.prim) if stmt.prim is not None else None
    rank = ranks.get(stmt.target)
    return entry is not None and entry.elementwise and not entry.nondiff and isinstance(rank, int) and rank > 0


def _operand_names(stmt: Assign) -> list:
    args, kwargs = operands(stmt)
    return [n for a in [*args, *kwargs.values()] for n in names_in(a)]


def _cheap(stmt: Assign, ranks: dict, counters: set) -> bool:
    args, kwargs = operands(stmt)
    if stmt.prim is operator.getitem and len(args) == 2 and not kwargs and isinstance(args[0], gast.Name):
        parts = args[1].elts if isinstance(args[1], gast.Tuple) else [args[1]]
        return all(_fixed_index(p, counters) for p in parts)
    return ranks.get(stmt.target) == 0 and stmt.prim is not None and _pure(stmt)


def _restorable(var, loop, stmt, changing, fixed, done, order) -> bool:
    """Does ``var`` hold, at the top of ``loop``'s reversed trip, the value ``stmt`` read?

    The reverse sweep restores what ``Assign`` overwrote, and sets the counter
    of a loop (this one, or one around it) in the reversed loop's header; the
    trip must not assign ``var`` again after ``stmt`` (nor in a ``while``'s condition).
    """
    if var not in changing or var in fixed or var in done:
        return True
    cond = {id(s) for s in walk(getattr(loop, "cond", []))}
    for s in order.assigned_by.get(var, ()):
        if order.later(id(s), stmt, loop) or id(s) in cond:
            return False
        if isinstance(s, For):
            if not (order.pre[id(s)] <= order.pre[id(loop)] <= order.end[id(s)]):
                return False  # the counter of a loop inside this one: not restored at the top of the trip
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
    found = {}
    for loop, stmt in _Order(ir).made_each_trip(overwritten(ir)):
        found.setdefault(id(loop), []).append(stmt.target)
    return found


# ---- views: names whose arrays share memory with another variable's -------------------------
# A record of ``x`` is kept where the reverse sweep reads ``x``; it must also be kept where the
# sweep reads a view of ``x``: ``x[0] *= v`` of a matrix lowers to ``b = x[0]; c = b * v;
# x[0] = c``, and the write changes ``b`` too (a row is a view), so the adjoint ``delta_v =
# delta_c * b`` would read the new row unless the old one is restored first.
_VIEW_NAMES = VIEWS | MORE_VIEWS  # the functions and methods that may return a view (sct.frontend.aliases)


def _viewed(stmt: Assign) -> list:
    """The variables whose memory ``stmt``'s result may be a part of (an item, a slice, a view)."""
    value = stmt.value
    if isinstance(value, gast.Subscript | gast.Attribute):
        return [value.value.id] if isinstance(value.value, gast.Name) else []
    if not isinstance(value, gast.Call):
        return []
    if stmt.method and isinstance(value.func, gast.Attribute):
        receiver = value.func.value
        return [receiver.id] if value.func.attr in _VIEW_NAMES and isinstance(receiver, gast.Name) else []
    if getattr(stmt.prim, "__name__", None) in _VIEW_NAMES and value.args and isinstance(value.args[0], gast.Name):
        return [value.args[0].id]
    return []


def viewed_by(ir: FunctionIR, ranks: dict) -> dict:
    """``{variable: the variables whose arrays it may be a part of}``, through views of views.

    A result of rank 0 is a number (a copy), never a view. A plain copy of a name (``w = z``) is
    the same object: it is no view itself (a read of ``w`` reads ``w`` as it is now), but a view
    of it is a view of every name of that object.
    """
    same = {}  # variable -> the names of its object (plain copies, both ways)
    direct = {}
    for stmt in walk(ir.body):
        if not isinstance(stmt, Assign):
            continue
        if stmt.prim is None and isinstance(stmt.value, gast.Name):
            group = same.get(stmt.target, {stmt.target}) | same.get(stmt.value.id, {stmt.value.id})
            for member in group:
                same[member] = group
        elif ranks.get(stmt.target) != 0:
            bases = _viewed(stmt)
            if bases:
                direct.setdefault(stmt.target, set()).update(bases)
    closed = {}
    for var in direct:
        seen, todo = set(), list(direct[var])
        while todo:
            base = todo.pop()
            for member in same.get(base, {base}):
                if member not in seen:
                    seen.add(member)
                    todo += direct.get(member, ())
        closed[var] = seen
    return closed


def carried_values(ir: FunctionIR, taped: dict, eligible: set, unrecorded: set) -> dict:
    """``{id(loop): (id of a statement in its body, [(variable, id of its assignment)])}``: old values
    a loop's row can keep, pushed right before that statement, in place of records of their own.

    A variable carried from trip to trip (``h = np.tanh(i)``, read on the next trip as
    the old ``h``) is recorded before each assignment that overwrites it. The loop's one
    row, pushed once a trip at a point ``p`` of its body, can keep that old value instead,
    exactly, when

    - the assignment is at the top level of the body (it runs every trip), at or after
      ``p``, and nothing in the body between ``p`` and it assigns the variable (nested
      statements included): the value at ``p`` is the one the assignment overwrites;
    - every value the trip makes afresh for the row (``taped``) is made before ``p``;
    - an ``Assign`` is all that ever sets the variable (no item writes, no loop
      counter), and neither the loop's header nor its condition does.

    ``p`` is the first such assignment; ``eligible`` are the variables recorded by
    value, ``unrecorded`` the ids of assignments that push nothing. Other assignments
    of the same variable (a second one in the trip, one in a branch) keep their own
    record: each record is popped where its pushes are mirrored, so splitting them by
    the assignment that pushes stays exact. Whether the reverse sweep can take the row
    back where it needs these values is decided there (:func:`sct.reverse.loops.carry`).
    """
    only_assigned = {s.target for s in walk(ir.body) if not isinstance(s, Assign) and hasattr(s, "target")}
    eligible = set(eligible) - only_assigned
    found = {}
    for loop in walk(ir.body):
        if not isinstance(loop, For | While):
            continue
        body, made = loop.body, set(taped.get(id(loop), ()))
        low = max((i + 1 for i, s in enumerate(body) if isinstance(s, Assign) and s.target in made), default=0)
        header = {s.target for s in walk(getattr(loop, "cond", [])) if hasattr(s, "target")}  # an `and` has an If
        if isinstance(loop, For):
            header.add(loop.target)
        sites = [
            (i, s)
            for i, s in enumerate(body)
            if i >= low
            and isinstance(s, Assign)
            and s.target in eligible - header
            and id(s) not in unrecorded
            and s.target != getattr(loop, "brk", None)
        ]
        if not sites:
            continue
        p, chosen = sites[0][0], []
        for q, s in sites:
            if not any(getattr(t, "target", None) == s.target for t in walk(body[p:q])):
                chosen.append((s.target, id(s)))
        found[id(loop)] = (id(body[p]), chosen)
    return found
