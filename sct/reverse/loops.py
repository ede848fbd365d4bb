"""Reversing loops: the trips backwards, and the records read per trip.

Mixed into the reverse emitter (:mod:`sct.reverse.adjoint`). A loop is reversed as a
loop over its trips backwards. Adjoints carried from one trip to the one before
are found by a fixed point over the body and zeroed before the loop. The trip
count is the loop's own range, or a counter the forward sweep kept (``while``,
``break``), popped from a record when the loop is nested in another. A
top-level loop that runs every trip to its end walks the branch records of its
``if`` statements backwards in its header: ``for g in reversed(g_stack):``.
Each reversed trip takes back, once, the row the forward trip put on the loop's
tape (``r, s = tape.pop()`` at its top; ``h, r, s = tape.pop()`` where the row
also keeps the old value of a carried ``h`` and the trip reads the new one first:
see :func:`row_at`), and makes again the cheap values it did not record
(``j = 0.5 * v``; see :mod:`sct.analysis.recording`).
"""

from __future__ import annotations

import gast

from ..backend.codegen import assign, is_comment, name
from ..ir import Assign, For, names_in, walk
from .records import popped_stack, restores
from .sweep import ForwardSweep, Tape

LOAD = gast.Load()
SHARED_IN_PROBES = True  # reverse_loop hands a probe of a loop body around it the cached lines, not a copy


class LoopReversal:
    def reverse_loop(self, stmt, state) -> list:
        """Trips backwards; adjoints carried across trips are zeroed before the loop.

        A nested loop is reversed once per state it is entered with: the loops
        around it reverse their bodies more than once to find their own fixed
        points, which without this would take time exponential in the depth.
        """
        if self.depth == 0:  # entered once: nothing around it repeats it
            return self.reverse_loop_once(stmt, state)
        key = (id(stmt), frozenset(state.defined), frozenset(state.owned), self.depth)
        if key not in self.reversed_loops:
            hoisted = dict(self.hoisted)
            lines = self.reverse_loop_once(stmt, state)
            changed = {k: v for k, v in self.hoisted.items() if hoisted.get(k) is not v}
            removed = hoisted.keys() - self.hoisted.keys()
            shared = self.probing and SHARED_IN_PROBES  # a probe's lines are thrown away: no one else holds them
            kept = lines if shared else _clone(lines)
            self.reversed_loops[key] = (kept, set(state.defined), set(state.owned), changed, removed)
            return lines
        lines, defined, owned, changed, removed = self.reversed_loops[key]
        state.defined, state.owned = set(defined), set(owned)
        for flag in removed:  # what reversing it did to the records hoisted before an ``if``, again
            self.hoisted.pop(flag, None)
        self.hoisted.update(changed)
        shared = self.probing and SHARED_IN_PROBES  # a probe only reads them (a copy at each level cost depth^2)
        return lines if shared else _clone(lines)

    def reverse_loop_once(self, stmt, state) -> list:
        self.depth += 1
        start, before = state.copy(), []
        for _ in range(len(self.active) + 1):  # fixed point: grows monotonically
            probe = start.copy()
            self.probing += 1  # the lines are thrown away (see reverse_loop)
            try:
                self.block(stmt.body, probe)
            finally:
                self.probing -= 1
            extra = probe.defined - start.defined
            start.owned &= probe.owned | (start.owned - probe.defined)
            if not extra:
                break
            for var in sorted(extra):
                before.append(assign(self.delta(var), self.zero(var)))
                start.defined.add(var)
                start.owned.add(var)
        end = start.copy()
        body = self.block(stmt.body, end)
        for var in sorted(start.defined - end.defined):
            body.append(assign(self.delta(var), self.zero(var)))
        self.depth -= 1
        state.defined, state.owned = start.defined, start.owned & end.owned
        if not body:
            return before
        body = self.recompute(stmt, body) + body
        return before + [self.reversed_loop(stmt, body)]

    def recompute(self, stmt, body) -> list:
        """The cheap values the reversed trip reads, made again from restored ones (see ``recomputable``)."""
        read = {n.id for s in body for n in gast.walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        needed = []
        for s in reversed(self.recomputed.get(id(stmt), ())):  # last first: each reads only earlier ones
            if s.target in read:
                needed.append(s)
                read |= set(names_in(s.value))  # what it is made from is made again too, if it can be
        return [ForwardSweep.statement(s) for s in reversed(needed)]

    def reversed_loop(self, stmt, body) -> gast.For:
        header = self.reversed_header(stmt)
        if self.depth == 0 and not stmt.brk:
            header = self.iterate_branch_records(header, body)
        node = gast.For(target=header.target, iter=header.iter, body=body, orelse=[], type_comment=None)
        node.sct_loop = id(stmt)  # where the values recorded once a trip are taken back (see ``take_tapes``)
        return node

    def iterate_branch_records(self, header, body):
        """``for g in reversed(g_stack):`` in place of ``g = g_stack.pop()`` at the top of each trip.

        Only for a top-level loop that runs every trip to its end: its body then
        runs each such ``if`` once a trip, and the record holds one entry a trip.
        """
        popped = [s for s in body if _popped_flag(s, self.flags, self.stacks)]
        alone = self.recorded_alone()
        for var in sorted(alone):  # ``x = x_stack.pop()`` where nothing before it reads x
            found = [k for k, s in enumerate(body) if restores(s, var, self.stacks.get(var))]
            if found and not any(var in names_in(before) for before in body[: found[0]]):
                popped.append(body[found[0]])
        if not popped:
            return header
        for s in popped:
            body.remove(s)
        targets = [s.targets[0].id for s in popped]
        records = [gast.Call(func=name("reversed"), args=[name(self.stacks[t])], keywords=[]) for t in targets]
        if any(isinstance(n, gast.Name) and n.id == header.target.id for s in body for n in gast.walk(s)):
            targets, records = [header.target.id] + targets, [header.iter] + records  # the loop's own index
        if len(targets) == 1:
            return gast.For(target=name(targets[0], store=True), iter=records[0], body=[], orelse=[], type_comment=None)
        store = gast.Tuple(elts=[name(t, store=True) for t in targets], ctx=gast.Store())
        zipped = gast.Call(func=name("zip"), args=records, keywords=[])
        return gast.For(target=store, iter=zipped, body=[], orelse=[], type_comment=None)

    def recorded_alone(self) -> set:
        """Variables recorded once a trip, before an ``if`` (see ``hoist``), and nowhere else."""
        alone = set()
        for found, ids in self.hoisted.values():
            for var in found:
                assigned = self.assignments_of().get(var, ())
                if all(isinstance(s, Assign) and (id(s) in ids or id(s) in self.first) for s in assigned):
                    alone.add(var)
        return alone

    def assignments_of(self) -> dict:
        """Variable -> the statements that assign it, anywhere in the function (found once)."""
        if getattr(self, "_assignments_of", None) is None:
            self._assignments_of = {}
            for s in walk(self.ir.body):
                target = getattr(s, "target", None)
                if target is not None:
                    self._assignments_of.setdefault(target, []).append(s)
        return self._assignments_of

    def reversed_header(self, stmt) -> gast.For:
        """``for target in <the trips backwards>:``, with an empty body."""
        if isinstance(stmt, For):
            iterable = stmt.iter
            if stmt.trips:
                count = self.trip_count(stmt.trips)
                iterable = gast.Subscript(
                    value=iterable, slice=gast.Slice(lower=None, upper=count, step=None), ctx=LOAD
                )
            header = gast.Call(func=name("reversed"), args=[iterable], keywords=[])
            target = stmt.target
        else:
            header = gast.Call(func=name("range"), args=[self.trip_count(stmt.trips)], keywords=[])
            target = self.namer.fresh("_")
        return gast.For(target=name(target, store=True), iter=header, body=[], orelse=[], type_comment=None)

    def trip_count(self, trips: str):
        """The loop's trip count: a plain variable, or popped from its record in nested loops."""
        if self.depth > 0:
            return gast.Call(
                func=gast.Attribute(value=name(self.stack(trips)), attr="pop", ctx=LOAD), args=[], keywords=[]
            )
        return name(trips)


def clobbered_targets(backward) -> list:
    """The reversed ``for`` loops (their ``sct_loop`` ids) whose target a later line of the reverse sweep reads
    before anything binds it again.

    ``for k in reversed(range(2))`` leaves ``k`` at the first trip's value; the forward sweep's ``k`` there
    was the one before the loop (``k = 2; y[k] = c; for k in range(2): ...``): undoing ``y[k] = c`` after
    the reversed loop would read the wrong ``k``, a wrong gradient. Until sct records that value, such a
    function is refused. One backwards pass of a liveness of the loops' targets alone; where a loop is
    inside another, what follows it includes the enclosing body's next trip (taken as every read of the
    body not under a loop that binds the name first).
    """
    targets = set().union(  # ``for k, g in zip(reversed(range(n)), reversed(g_stack))`` binds k too
        *(_bound([s.target]) for s in gast.walk(gast.Module(body=backward, type_ignores=[])) if _reversed_for(s))
    )
    if not targets:
        return []
    found = []

    def block_live(block, after: set) -> set:
        live = set(after)
        for stmt in reversed(block):
            live = stmt_live(stmt, live)
        return live

    def stmt_live(stmt, after: set) -> set:
        if isinstance(stmt, gast.For | gast.While):
            bound = _bound([stmt.target]) if isinstance(stmt, gast.For) else set()
            if _reversed_for(stmt) and bound & after & targets:
                found.append(stmt.sct_loop)
            head = stmt.iter if isinstance(stmt, gast.For) else stmt.test
            again = _reads(stmt.body, targets) - bound  # the next trip
            body = block_live(stmt.body, after | again) - bound
            return _loads(head, targets) | body | block_live(stmt.orelse, after) | after  # no trip: after
        if isinstance(stmt, gast.If):
            return _loads(stmt.test, targets) | block_live(stmt.body, after) | block_live(stmt.orelse, after)
        if isinstance(stmt, gast.Assign):
            return _loads(stmt.value, targets) | (after - _bound(stmt.targets))
        return _loads(stmt, targets) | after

    block_live(backward, set())
    return found


def _reversed_for(node) -> bool:
    return isinstance(node, gast.For) and hasattr(node, "sct_loop")


def _loads(node, names: set) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)} & names


def _reads(block, names: set) -> set:
    """The names of ``names`` the statements of ``block`` read, but where a loop binds them first."""
    found = set()
    for stmt in block:
        if isinstance(stmt, gast.For):
            found |= _loads(stmt.iter, names) | (_reads(stmt.body, names) - _bound([stmt.target]))
            found |= _reads(stmt.orelse, names)
        elif isinstance(stmt, gast.While | gast.If):
            found |= _loads(stmt.test, names) | _reads(stmt.body, names) | _reads(stmt.orelse, names)
        else:
            found |= _loads(stmt, names)
    return found


def _bound(targets) -> set:
    return {n.id for t in targets for n in gast.walk(t) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def take_tapes(backward, tapes: dict) -> None:
    """``h, r, s = tape.pop()`` once a reversed trip, where :func:`row_at` says, for each loop with a tape.

    The pops of the carried values the row keeps (``h = h_stack.pop()``) give way to it.
    """
    for loop, tape in tapes.items():
        for trip in reversed_trips(backward, loop):
            at, pops, bad = row_at(trip.body, tape)
            assert not bad, "carry() keeps only the carried values every reversed trip can take back"
            for k in sorted(pops.values(), reverse=True):
                del trip.body[k]
            while at > 0 and is_comment(trip.body[at - 1]):  # above the comment of the lines that read it
                at -= 1
            columns = [name(c, store=True) for c in tape.columns()]
            target = columns[0] if len(columns) == 1 else gast.Tuple(elts=columns, ctx=gast.Store())
            pop = gast.Call(func=gast.Attribute(value=name(tape.name), attr="pop", ctx=LOAD), args=[], keywords=[])
            trip.body.insert(at, gast.Assign(targets=[target], value=pop, type_comment=None))


def reversed_trips(backward, loop: int) -> list:
    """The reversed loops of the forward loop ``loop`` in ``backward`` (a nested one may be written twice)."""
    return [
        n for s in backward for n in gast.walk(s) if isinstance(n, gast.For) and getattr(n, "sct_loop", None) == loop
    ]


def row_at(body, tape) -> tuple:
    """``(k, pops, bad)``: the reversed trip ``body`` takes its row back before ``body[k]``.

    At the top, unless the trip reads a carried variable's new value there; then where
    the first carried value's record was popped, if the values the trip made afresh are
    not read before. ``pops``: carried variable -> the index of its pop in ``body``;
    ``bad``: the carried values that cannot be taken back at ``k`` (their pop is not
    once at the top level of the trip, or the trip reads or sets them between ``k``
    and their pop).
    """
    pops, bad = {}, set()
    for var, site in tape.carried:
        at = [k for k, s in enumerate(body) if getattr(s, "sct_record", None) == site]
        tagged = sum(1 for s in body for n in gast.walk(s) if getattr(n, "sct_record", None) == site)
        if len(at) == 1 and tagged == 1 and _assigns(body[at[0]], var):
            pops[var] = at[0]
        else:
            bad.add((var, site))
    made = set(tape.columns()) - {v for v, _ in tape.carried}
    first_read = next((k for k, s in enumerate(body) if _names(s) & made), len(body))

    def clashes(at):
        return {(v, site) for v, site in tape.carried if v in pops and any(v in _names(s) for s in body[at : pops[v]])}

    at = 0
    if clashes(0):
        at = min([first_read, *pops.values()])
    return at, pops, bad | clashes(at)


def carry(backward, tapes: dict, candidates: dict, namer) -> set:
    """Put the carried values each loop's row can keep (``candidates``, from
    :func:`sct.analysis.recording.carried_values`) into its tape; returns their assignments' ids.

    A value joins only if every reversed trip of the loop can take it back with the row
    (:func:`row_at`), and only where the row then holds more than one value: one value
    alone is its own record already.
    """
    merged = set()
    for loop, (before, chosen) in candidates.items():  # in program order: tapes are named in it
        trips = reversed_trips(backward, loop)
        tape = tapes.get(loop)
        trial = Tape("", [], set(), list(chosen), before)
        if tape is not None:
            trial.name, trial.variables, trial.shapes = tape.name, list(tape.variables), set(tape.shapes)
        while trips and trial.carried:
            bad = set().union(*(row_at(t.body, trial)[2] for t in trips))
            if not bad:
                break
            trial.carried = [c for c in trial.carried if c not in bad]
        if not trips or not trial.carried or len(trial.columns()) < 2:
            continue
        trial.name = tape.name if tape else namer.fresh("tape")
        tapes[loop] = trial
        merged |= {site for _, site in trial.carried}
    return merged


def _assigns(stmt, var: str) -> bool:
    return isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id == var


def _names(stmt) -> set:
    return {n.id for n in gast.walk(stmt) if isinstance(n, gast.Name)}


def _popped_flag(stmt, flags: set, stacks: dict) -> bool:
    """Is ``stmt`` ``g = g_stack.pop()`` for a branch flag ``g``?"""
    if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
        return False
    flag, popped = stmt.targets[0].id, popped_stack(stmt.value)
    return flag in flags and popped is not None and popped == stacks.get(flag)


def _clone(node):
    """A copy of generated code (a gast node or a list of them) that shares no node with ``node``."""
    if isinstance(node, list):
        return [_clone(n) for n in node]
    if isinstance(node, gast.AST):
        new = type(node).__new__(type(node))
        new.__dict__.update({k: _clone(v) for k, v in node.__dict__.items()})
        return new
    return node
