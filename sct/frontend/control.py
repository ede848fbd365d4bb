"""Lowering of control flow: ``if``, ``for``, ``while``, ``break``, ``continue``, ``return``.

Mixed into the lowering of :mod:`sct.frontend.lower`. Jumps become flags, so that every
loop in the lowered form runs whole trips and stops only at its end:

* ``continue`` sets the loop's ``skip`` flag; the statements after anything that
  may jump are guarded by ``if not skip:`` (``skip`` is reset at each trip);
* ``break`` also sets ``stop``, and the loop ends with ``if stop: break``;
* ``return v`` inside a loop sets ``out = v`` and the flags of every enclosing
  loop; outside loops, statements after it are guarded by ``if not returned:``.

Where a branch always jumps (``if x < 0: return -x``), the rest of the block
moves into the other branch instead, so most code needs no flags at all.
"""

from __future__ import annotations

import contextlib
import operator
from dataclasses import dataclass

import gast

from ..backend import trees
from ..ir import COMPARES, Assign, For, If, While, walk

LOAD = gast.Load()


def _name(id_):
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def _const(value):
    return gast.Constant(value=value, kind=None)


class Lowered:
    """An atom already lowered (its names are versions, not user names to look up again)."""

    def __init__(self, atom):
        self.atom = atom


@dataclass
class _Loop:
    stop: str | None = None
    skip: str | None = None


class ControlFlow:
    """The statement-level half of the lowering (see module docstring)."""

    def __init__(self):
        self.loops: list[_Loop] = []
        self.returned = None
        self.block_path = []  # the statement lists being lowered, outermost first (see sct.frontend.functions)

    @contextlib.contextmanager
    def collecting(self):
        """Redirect emitted statements into a fresh list (a nested block)."""
        saved, self.stmts = self.stmts, []
        block = self.stmts
        try:
            yield block
        finally:
            self.stmts = saved

    def function_body(self, body):
        if self.inlined and body and not _always_jumps(body):  # Python returns None where the body ends
            body = [*body, gast.copy_location(gast.Return(value=None), body[-1])]
        with self.collecting() as out:
            for param in self.params:
                if param in self.written:
                    self.copy_on_write(param)
            self.block(body)
        if self.returned:
            out.insert(0, self.flag(self.returned, False))
        return out

    def flag(self, flag_name, value, origin=None):
        return Assign(flag_name, _const(value), None, origin or self.origin)

    # ---- blocks --------------------------------------------------------------------
    def block(self, stmts):
        self.block_path.append(id(stmts))
        try:
            self.statements(stmts)
        finally:
            self.block_path.pop()

    def statements(self, stmts):
        for k, stmt in enumerate(stmts):
            self.origin = self.parsed.location(stmt)
            more = k + 1 < len(stmts)  # the rest is sliced only where it is used: a copy a statement is quadratic
            if isinstance(stmt, gast.If) and more and (_always_jumps(stmt.body) or _always_jumps(stmt.orelse)):
                self.if_statement(_absorb(stmt, stmts[k + 1 :]))
                return
            if isinstance(stmt, gast.Return | gast.Break | gast.Continue) and more:
                self.statement(stmt)
                self.problem(stmts[k + 1], "this statement is never run; remove it")
                return
            self.statement(stmt)
            if more and self.may_jump(stmt):
                with self.collecting() as guarded:
                    self.block(stmts[k + 1 :])
                test = _name(self.loops[-1].skip if self.loops else self.returned)
                self.stmts.append(If(self.settled(test, guarded), [], guarded, self.origin))
                return

    def may_jump(self, stmt) -> bool:
        """Can running ``stmt`` skip the rest of the current block?

        A loop's own ``break`` and ``continue`` (in its body) end a trip of that loop, not the block around
        it: only those of its ``else`` jump out of it (a ``break`` there is the enclosing loop's).
        """
        if self.loops:
            jumps = (gast.Break, gast.Continue)
            if isinstance(stmt, gast.For | gast.While):
                own = any(_contains(s, jumps, loops=False) for s in stmt.orelse)
            else:
                own = _contains(stmt, jumps, loops=False)
            return own or _contains(stmt, gast.Return)
        return _contains(stmt, gast.Return)

    def statement(self, stmt):
        if isinstance(stmt, gast.If):
            self.if_statement(stmt)
        elif isinstance(stmt, gast.For):
            self.for_loop(stmt)
        elif isinstance(stmt, gast.While):
            self.while_loop(stmt)
        elif isinstance(stmt, gast.Break | gast.Continue):
            self.jump(stmt)
        elif isinstance(stmt, gast.Return):
            self.return_statement(stmt)
        else:
            self.simple_statement(stmt)

    # ---- jumps -----------------------------------------------------------------------
    def jump(self, stmt):
        loop = self.loops[-1]
        if isinstance(stmt, gast.Break):
            loop.stop = loop.stop or self.namer.fresh("stop")
            self.stmts.append(self.flag(loop.stop, True))
        loop.skip = loop.skip or self.namer.fresh("skip")
        self.stmts.append(self.flag(loop.skip, True))

    def return_statement(self, stmt):
        self.return_value(stmt.value)
        final = not self.loops and stmt is self.parsed.node.body[-1]
        if final:
            return
        self.returned = self.returned or self.namer.fresh("returned")
        self.stmts.append(self.flag(self.returned, True))
        for loop in self.loops:
            loop.stop = loop.stop or self.namer.fresh("stop")
            loop.skip = loop.skip or self.namer.fresh("skip")
            self.stmts.append(self.flag(loop.stop, True))
            self.stmts.append(self.flag(loop.skip, True))

    # ---- if ---------------------------------------------------------------------------
    def if_statement(self, stmt):
        test = self.test(stmt.test)
        known = _static_truth(test)
        if known is not None:  # ``if act is None`` with act a constant: only one branch exists
            self.block(stmt.body if known else stmt.orelse)
            return
        origin = self.origin
        with self.collecting() as body:
            self.block(stmt.body)
        with self.collecting() as orelse:
            self.block(stmt.orelse)
        self.stmts.append(If(self.settled(test, body + orelse), body, orelse, origin))

    def settled(self, test, branches):
        """``test`` itself, or a temporary holding it if the branches change what it reads.

        The reverse sweep re-reads the condition after the branch has run, so it
        must read values the branch leaves alone.
        """
        changed = {s.target for s in walk(branches) if hasattr(s, "target")}
        if not changed & {n.id for n in gast.walk(test) if isinstance(n, gast.Name)}:
            return test
        temp = self.namer.temp()
        self.stmts.append(Assign(temp, test, _test_primitive(test), self.origin))
        return _name(temp)

    def if_expression(self, node) -> str:
        """``a if c else b`` as an ``if`` statement assigning a temporary; returns its name."""
        test = self.test(node.test)
        temp = self.namer.temp()
        with self.collecting() as body:
            self.emit(temp, node.body)
        with self.collecting() as orelse:
            self.emit(temp, node.orelse)
        self.stmts.append(If(self.settled(test, body + orelse), body, orelse, self.where(node)))
        return temp

    def test(self, node):
        """A condition as one expression over atoms: comparisons, ``and``/``or``/``not``."""
        if isinstance(node, gast.Compare) and len(node.ops) == 1:
            left, right = self.expr(node.left), self.expr(node.comparators[0])
            return gast.Compare(left=left, ops=node.ops, comparators=[right])
        if isinstance(node, gast.BoolOp) and not all(_eager(v) for v in node.values[1:]):
            return _name(self.if_expression(_short_circuit(node)))  # `i < n and xs[i] > 0`: xs[i] only if i < n
        if isinstance(node, gast.BoolOp):
            return gast.BoolOp(op=node.op, values=[self.test(v) for v in node.values])
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
            return gast.UnaryOp(op=node.op, operand=self.test(node.operand))
        return self.expr(node)

    # ---- loops ------------------------------------------------------------------------
    def for_loop(self, stmt):
        if stmt.orelse:
            self.problem(stmt, "`for ... else` is not supported; use a flag variable")
        origin = self.origin
        iterable, bind = self.iteration(stmt)
        loop = _Loop()
        self.loops.append(loop)
        with self.collecting() as body:
            target = bind()
            self.block(stmt.body)
        self.loops.pop()
        self.finish_loop(loop, body, origin)
        trips = self.namer.fresh("trips") if loop.stop else None
        self.stmts.append(For(target, iterable, body, origin, trips=trips, brk=loop.stop))

    def iteration(self, stmt):
        """(the range to loop over, a function binding the user's loop target per trip)."""
        it, target = stmt.iter, stmt.target
        if getattr(stmt, "comprehension", False) and self.is_lazy(it):
            # a comprehension's own loop: its items are made between items of a lazy iterable, and
            # nothing there can change what that iterable reads, so the iterable's list is the same
            it = Lowered(self.iterable(it))
        if _is_call_to(it, "reversed", self) and len(it.args) == 1 and isinstance(target, gast.Name):
            inner = it.args[0]
            base = inner.value if isinstance(inner, gast.Subscript) else inner
            if _is_call_to(base, "range", self):  # range(...)[::-1] is a range too
                backwards = gast.Slice(lower=None, upper=None, step=gast.Constant(value=-1, kind=None))
                iterable = gast.Subscript(value=self.expr(inner), slice=backwards, ctx=LOAD)
                return iterable, lambda: self.loop_variable(target.id)
        if _is_call_to(it, "range", self) and isinstance(target, gast.Name):
            bounds = [self.expr(a) for a in it.args]
            iterable = gast.Call(func=_name("range"), args=bounds, keywords=[])
            assigned = _stored_names(stmt.body)
            if any(isinstance(b, gast.Name) and b.id in assigned for b in bounds):
                iterable = self.expr(iterable)  # the body changes a bound: fix the range first
            return iterable, lambda: self.loop_variable(target.id)
        if _is_call_to(it, "enumerate", self) and _pair(target) and len(it.args) == 1:
            index, element = target.elts
            inner = it.args[0]
            if _is_call_to(inner, "zip", self) and isinstance(element, gast.Tuple):  # enumerate(zip(a, b))
                sequences = [self.sequence(a) for a in inner.args]
                return self.index_range(sequences), lambda: self.element(index.id, element, sequences, zipped=True)
            items = self.sequence(inner)
            return self.index_range([items]), lambda: self.element(index.id, element, [items])
        if _is_call_to(it, "zip", self) and isinstance(target, gast.Tuple):
            sequences = [self.sequence(a) for a in it.args]
            return self.index_range(sequences), lambda: self.element(
                self.namer.fresh("i"), target, sequences, zipped=True
            )
        sequence = self.sequence(it)
        return self.index_range([sequence]), lambda: self.element(self.namer.fresh("i"), target, [sequence])

    def sequence(self, node):
        """What a ``for`` visits, as a variable that can be indexed: a dict's keys, a list, an array's rows."""
        sequence = self.expr(self.backwards(node))
        if not isinstance(sequence, gast.Name):  # a literal list: name it, so it can be indexed
            temp = self.namer.temp()
            self.emit(temp, type(sequence)(elts=[Lowered(e) for e in sequence.elts], ctx=LOAD))
            return _name(temp)
        temp = self.namer.temp()  # dropped again where the value is surely not a dict (sct.passes.containers)
        call = gast.Call(func=_name(trees.iterated.__name__), args=[sequence], keywords=[])
        self.stmts.append(Assign(temp, call, trees.iterated, self.origin))
        return _name(temp)

    def backwards(self, node):
        """``reversed(xs)`` over a list or array, as ``xs[::-1]`` (which has a length and a rule)."""
        if _is_call_to(node, "reversed", self) and len(node.args) == 1 and not node.keywords:
            step = gast.Slice(lower=None, upper=None, step=gast.Constant(value=-1, kind=None))
            return gast.Subscript(value=node.args[0], slice=step, ctx=LOAD)
        return node

    def loop_variable(self, var: str) -> str:
        local = self.local_name(var)
        self.current[var] = local
        return local

    def index_range(self, sequences):
        lengths = [gast.Call(func=_name("len"), args=[s], keywords=[]) for s in sequences]
        count = lengths[0] if len(lengths) == 1 else gast.Call(func=_name("min"), args=lengths, keywords=[])
        return gast.Call(func=_name("range"), args=[count], keywords=[])

    def element(self, index: str, target, sequences, zipped=False):
        """Bind ``target = sequence[index]`` (or each of a zip's targets) at the top of a trip."""
        i = _name(self.loop_variable(index))
        pairs = zip(target.elts, sequences) if zipped else [(target, sequences[0])]
        for t, s in pairs:
            self.assign(t, gast.Subscript(value=Lowered(s), slice=Lowered(i), ctx=LOAD))
        return index

    def while_loop(self, stmt):
        if stmt.orelse:
            self.problem(stmt, "`while ... else` is not supported; use a flag variable")
        origin = self.origin
        with self.collecting() as cond:
            test = self.test(stmt.test)
        loop = _Loop()
        self.loops.append(loop)
        with self.collecting() as body:
            self.block(stmt.body)
        self.loops.pop()
        self.finish_loop(loop, body, origin)
        trips = self.namer.fresh("trips")
        self.stmts.append(While(cond, test, body, origin, trips=trips, brk=loop.stop))

    def finish_loop(self, loop: _Loop, body: list, origin):
        """The flags of ``continue`` and ``break`` set at the top of a trip and before the loop, at the loop's line."""
        if loop.skip:
            body.insert(0, self.flag(loop.skip, False, origin))
        if loop.stop:
            self.stmts.append(self.flag(loop.stop, False, origin))


_STATIC_COMPARE = {
    gast.Is: operator.is_,
    gast.IsNot: operator.is_not,
    gast.Eq: operator.eq,
    gast.NotEq: operator.ne,
    gast.Lt: operator.lt,
    gast.LtE: operator.le,
    gast.Gt: operator.gt,
    gast.GtE: operator.ge,
}


def _eager(node) -> bool:
    """An operand of ``and``/``or`` that can be evaluated whether or not Python would: it cannot raise."""
    if isinstance(node, gast.Name | gast.Constant):
        return True
    if isinstance(node, gast.Compare):
        return all(isinstance(v, gast.Name | gast.Constant) for v in [node.left, *node.comparators])
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
        return _eager(node.operand)
    if isinstance(node, gast.BoolOp):
        return all(_eager(v) for v in node.values)
    return False


def _short_circuit(node):
    """``a and b and c`` as ``(c if b else False) if a else False`` (``or`` likewise): Python's order.

    In a test only the truth of the result matters, and ``a and b`` is true exactly when both are.
    """
    *rest, last = node.values
    value = last
    for operand in reversed(rest):
        if isinstance(node.op, gast.And):
            value = gast.IfExp(test=operand, body=value, orelse=_const(False))
        else:
            value = gast.IfExp(test=operand, body=_const(True), orelse=value)
        gast.copy_location(value, operand)
    return value


def _static_truth(test):
    """True/False for a condition made only of constants, else None."""
    if isinstance(test, gast.Constant):
        return bool(test.value)
    if isinstance(test, gast.UnaryOp) and isinstance(test.op, gast.Not):
        inner = _static_truth(test.operand)
        return None if inner is None else not inner
    if isinstance(test, gast.Compare) and type(test.ops[0]) in _STATIC_COMPARE:
        left, right = test.left, test.comparators[0]
        if isinstance(left, gast.Constant) and isinstance(right, gast.Constant):
            return bool(_STATIC_COMPARE[type(test.ops[0])](left.value, right.value))
    return None


def _test_primitive(test):
    """The (non-differentiable) primitive of a condition, for the rule table."""
    if isinstance(test, gast.Compare):
        return COMPARES.get(type(test.ops[0]))
    if isinstance(test, gast.UnaryOp):
        return operator.not_
    return None if isinstance(test, gast.Name) else bool


# ---- helpers over the user's tree --------------------------------------------------------
def _always_jumps(body) -> bool:
    """Does every path through ``body`` end in return, break or continue?"""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, gast.Return | gast.Break | gast.Continue):
        return True
    if isinstance(last, gast.If):
        return _always_jumps(last.body) and _always_jumps(last.orelse)
    return False


def _absorb(stmt: gast.If, rest) -> gast.If:
    """``if c: <jumps>`` followed by ``rest``: move ``rest`` into the branch that falls through."""
    body, orelse = list(stmt.body), list(stmt.orelse)
    if not _always_jumps(body):
        body += rest
    if not _always_jumps(orelse):
        orelse += rest
    new = gast.If(test=stmt.test, body=body, orelse=orelse)
    return gast.copy_location(new, stmt)


_SIMPLE = (
    gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Expr, gast.Pass, gast.Return, gast.Raise, gast.Assert,
    gast.Delete, gast.Global, gast.Nonlocal, gast.Import, gast.ImportFrom, gast.Break, gast.Continue,
)  # fmt: skip


def _contains(stmt, kinds, loops=True) -> bool:
    """Does ``stmt`` contain a statement of ``kinds`` (not looking into nested loops unless ``loops``)?"""
    if isinstance(stmt, _SIMPLE):  # statements are found only in statements' blocks: none in an expression
        return isinstance(stmt, kinds)
    stack = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, kinds):
            return True
        if node is not stmt and not loops and isinstance(node, gast.For | gast.While):
            continue
        if isinstance(node, gast.FunctionDef | gast.Lambda) and node is not stmt:
            continue
        stack.extend(gast.iter_child_nodes(node))
    return False


def _stored_names(body) -> set:
    return {
        n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }


def _is_call_to(node, builtin: str, lowering) -> bool:
    if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)):
        return False
    if node.func.id != builtin or node.func.id in lowering.locals or node.keywords:
        return False
    try:
        import builtins

        return lowering.parsed.resolve(builtin) is getattr(builtins, builtin)
    except AttributeError:
        return False


def _pair(target) -> bool:
    return isinstance(target, gast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[0], gast.Name)


def _fake_for(generator, body, where) -> gast.For:
    """The loop a comprehension's ``for`` stands for."""
    loop = gast.For(target=generator.target, iter=generator.iter, body=body, orelse=[], type_comment=None)
    loop.comprehension = True  # see ControlFlow.iteration
    return gast.copy_location(loop, where)
