"""The forward sweep of an adjoint: the user's computation, plus the records it leaves.

Before an assignment overwrites a variable the reverse sweep will read, its old
value is pushed on a plain list (``h_stack.append(h)``); a loop nested in
another loop pushes its trip count when it ends; an ``if`` in a loop whose
condition the branches change records the branch it takes
(``g_stack.append(True)``); a loop records the values each trip makes afresh
once, at the end of the trip (``tape.append((r, s))``), or, where the row also
keeps the old values of variables carried from trip to trip, right before the
first of them is overwritten (``tape.append((h, r, s))``). Everything else is
the lowered code as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gast

from ..backend.codegen import assign, name
from ..ir import Assign, Effect, For, If, SetItem, While, walk

LOAD = gast.Load()


@dataclass
class Tape:
    """A loop's one record: a row a trip (``tape.append((h, r, s))``), taken back once a reversed trip.

    ``variables``: values the trip makes afresh (their shapes only, for those in
    ``shapes``); ``carried``: ``(variable, id of its assignment)`` for values carried
    from trip to trip, whose old value the row keeps in place of a record of their own
    (see :func:`sct.analysis.recording.carried_values`); ``before``: the id of the
    statement the row is pushed before, or None: at the end of the trip.
    """

    name: str
    variables: list
    shapes: set
    carried: list = field(default_factory=list)
    before: int | None = None

    def columns(self) -> list:
        """The names the reversed trip takes the row back into, in the row's order."""
        return [v for v, _ in self.carried] + [f"{v}_shape" if v in self.shapes else v for v in self.variables]


def _call(func, *args):
    return gast.Call(func=func, args=list(args), keywords=[])


def _method(obj: str, method: str, *args):
    return _call(gast.Attribute(value=name(obj), attr=method, ctx=LOAD), *args)


class ForwardSweep:
    def __init__(
        self, ir, recorded, stacks, first, shapes=frozenset(), flags=frozenset(), hoisted=None, bound=(), tapes=None
    ):
        self.ir, self.recorded, self.first = ir, recorded, first
        self.tapes = tapes or {}  # id(loop) -> its Tape
        self.rows = {t.before: t for t in self.tapes.values() if t.before is not None}  # id(stmt) -> the row before it
        self.bound = set(bound)  # not recorded, but read before the reverse sweep (a shape read once): bound first
        self.stacks, self.shapes = stacks, shapes  # shapes: variables recorded by their shape only
        self.flags = flags  # branch flags: ``if <condition>:`` records True or False instead
        self.hoisted = hoisted or {}  # flag -> variables recorded before its ``if`` (then no True/False)
        self.conditions = {}  # flag -> its condition, from the assignment before its ``if``

    # ---- pieces shared with the reverse sweep ---------------------------------------
    @staticmethod
    def statement(stmt) -> gast.stmt:
        """The gast statement of one simple IR statement."""
        if isinstance(stmt, Effect):
            return stmt.statement()
        if isinstance(stmt, SetItem):
            store = gast.Subscript(value=name(stmt.target), slice=stmt.index, ctx=gast.Store())
            return gast.Assign(targets=[store], value=stmt.value, type_comment=None)
        return assign(stmt.target, stmt.value)

    @staticmethod
    def if_statement(test, body, orelse) -> gast.If:
        """``if test: body else: orelse``, written ``if not test: orelse`` when body is empty."""
        if not body:
            return gast.If(test=gast.UnaryOp(op=gast.Not(), operand=test), body=orelse, orelse=[])
        return gast.If(test=test, body=body, orelse=orelse)

    # ---- the sweep ------------------------------------------------------------------------
    def prologue(self) -> list:
        """Empty records, and ``None`` for recorded variables first set inside a loop or branch."""
        lines = [assign(self.stacks[v], gast.List(elts=[], ctx=LOAD)) for v in sorted(self.recorded)]
        lines += [assign(self.stacks[t], gast.List(elts=[], ctx=LOAD)) for t in self.nested_trips()]
        lines += [assign(tape.name, gast.List(elts=[], ctx=LOAD)) for tape in self.tapes.values()]
        defined = set(self.ir.params)
        for stmt in self.ir.body:
            if isinstance(stmt, Assign):
                defined.add(stmt.target)
            else:
                nested = {s.target for s in walk([stmt]) if isinstance(s, Assign | For)}
                for var in sorted((nested & (self.recorded | self.bound)) - defined - self.flags):
                    lines.append(assign(var, gast.Constant(value=None, kind=None)))
                    defined.add(var)
        return lines

    def nested_trips(self) -> list:
        found = []
        for stmt in walk(self.ir.body):
            if isinstance(stmt, For | While):
                found += [s.trips for s in walk(stmt.body) if isinstance(s, For | While) and s.trips]
        return sorted(t for t in found if t in self.stacks)

    def block(self, body, depth: int = 0) -> list:
        lines = []
        for stmt in body:
            if id(stmt) in self.rows:  # the row of the loop this body belongs to: old values still at hand
                lines.append(self.record_trip(self.rows[id(stmt)]))
            if isinstance(stmt, Assign) and stmt.target in self.flags:
                self.conditions[stmt.target] = stmt.value  # written into the ``if`` that follows
                continue
            if isinstance(stmt, Assign | SetItem) and stmt.target in self.recorded and id(stmt) not in self.first:
                old = name(stmt.target)
                if stmt.target in self.shapes:
                    old = _call(gast.Attribute(value=name("np"), attr="shape", ctx=LOAD), old)
                elif isinstance(stmt, SetItem):
                    old = _call(gast.Attribute(value=name("np"), attr="copy", ctx=LOAD), _subscript(stmt))
                lines.append(self.push(stmt.target, old))
            if isinstance(stmt, Assign | SetItem | Effect):
                lines.append(self.statement(stmt))
            elif isinstance(stmt, If):
                body_ = self.block(stmt.body, depth)
                orelse = self.block(stmt.orelse, depth)
                test = stmt.test
                if isinstance(test, gast.Name) and test.id in self.hoisted:
                    test = self.conditions[test.id]
                    lines += [self.push(var, name(var)) for var in self.hoisted[stmt.test.id]]
                elif isinstance(test, gast.Name) and test.id in self.flags:
                    test = self.conditions[test.id]
                    body_.insert(0, self.record_branch(stmt.test.id, True))
                    orelse.insert(0, self.record_branch(stmt.test.id, False))
                if body_ or orelse:
                    lines.append(self.if_statement(test, body_, orelse))
            elif isinstance(stmt, For | While):
                lines += self.loop(stmt, depth)
        return lines

    def push(self, var: str, value) -> gast.stmt:
        return gast.Expr(value=_method(self.stacks[var], "append", value))

    def record_trip(self, tape: Tape) -> gast.stmt:
        shape = gast.Attribute(value=name("np"), attr="shape", ctx=LOAD)
        values = [name(v) for v, _ in tape.carried]
        values += [_call(shape, name(v)) if v in tape.shapes else name(v) for v in tape.variables]
        row = values[0] if len(values) == 1 else gast.Tuple(values, LOAD)
        return gast.Expr(value=_method(tape.name, "append", row))

    def record_branch(self, flag: str, taken: bool) -> gast.stmt:
        return gast.Expr(value=_method(self.stacks[flag], "append", gast.Constant(value=taken, kind=None)))

    def loop(self, stmt, depth: int) -> list:
        body = self.block(stmt.body, depth + 1)
        tape = self.tapes.get(id(stmt))
        if tape is not None and tape.before is None:  # the values made this trip, recorded once at its end
            body.append(self.record_trip(tape))
        lines = []
        if stmt.trips:
            lines.append(assign(stmt.trips, gast.Constant(value=0, kind=None)))
            one = gast.Constant(value=1, kind=None)
            body.insert(0, gast.AugAssign(target=name(stmt.trips, store=True), op=gast.Add(), value=one))
        if stmt.brk:
            body.append(gast.If(test=name(stmt.brk), body=[gast.Break()], orelse=[]))
        if isinstance(stmt, For):
            target = name(stmt.target, store=True)
            node = gast.For(target=target, iter=stmt.iter, body=body or [gast.Pass()], orelse=[], type_comment=None)
        elif stmt.cond:
            stop = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=stmt.test), body=[gast.Break()], orelse=[])
            cond = self.block(stmt.cond, depth + 1)
            node = gast.While(test=gast.Constant(value=True, kind=None), body=cond + [stop] + body, orelse=[])
        else:
            node = gast.While(test=stmt.test, body=body, orelse=[])
        lines.append(node)
        if stmt.trips and depth > 0 and stmt.trips in self.stacks:
            lines.append(gast.Expr(value=_method(self.stacks[stmt.trips], "append", name(stmt.trips))))
        return lines


def _subscript(stmt: SetItem):
    return gast.Subscript(value=name(stmt.target), slice=stmt.index, ctx=LOAD)
