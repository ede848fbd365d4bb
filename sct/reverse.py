"""Reverse mode: the adjoint function, made from the lowered IR and the rule table.

The adjoint replays the forward statements, then walks them backwards. For each
active statement ``t = prim(args)`` it writes a ``# t = prim(args)`` comment and
one ``delta_<arg> = ...`` line per active operand, from the operand's rule. The
first contribution to ``delta_v`` defines it; later ones accumulate with
``delta_v = delta_v + c``, or ``delta_v += c`` into an array that no other name
can hold (one we made: zeros, or the result of an arithmetic operation).

Control flow is mirrored: an ``if`` is reversed as an ``if`` on the same
condition, a loop as a loop over its trips backwards. A variable assigned in a
loop (or twice) is *overwritten*: its adjoint is reset at each assignment, and
if the reverse sweep reads it, the forward sweep pushes its old value on a
plain list (``h_stack.append(h)``) and the reverse sweep pops it back. Which
adjoints are defined at each point is tracked statically (:class:`_State`);
where branches or loop trips disagree, a zero adjoint is written explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gast
import numpy as np

from . import rules
from .analysis import (
    SCALAR,
    activity,
    branch_flags,
    differentiable_operands,
    first_definitions,
    overwritten,
    rank_of,
    rule_view,
    shape_class,
    shape_classes,
)
from .codegen import Source, assign, comment, function_def, name
from .errors import NonDifferentiableError, Problem, SctError
from .forward_sweep import ForwardSweep
from .ir import Assign, Effect, For, FunctionIR, If, SetItem, While, operands, walk
from .records import record_shapes, shape_only
from .runtime import add_at, fresh_copy, like, unbroadcast, zeros_like
from .symbolic import Scatter, Sym, call, is_zero, to_expr

DYNAMIC = rules.DYNAMIC
LOAD = gast.Load()


def adjoint(ir: FunctionIR, wrt: list[str], ranks: dict, namer, split=False, many=None, kinds=None) -> Source:
    """The adjoint of ``ir`` with respect to the parameters named in ``wrt``.

    ``split=False`` gives ``grad_f(*params, delta_out=1.0) -> (out, grads)``;
    ``split=True`` gives ``vjp_f(*params) -> (out, backward_f)`` where
    ``backward_f(delta_out)`` returns the gradients (the forward pass runs once).
    The gradients are a tuple if ``many`` (default: more than one ``wrt``).
    ``kinds`` maps parameters to their container kind (``"tuple"``...), if any.
    """
    emitter = _Reverse(ir, wrt, ranks, namer, kinds or {})
    return emitter.build(split, len(wrt) > 1 if many is None else many)


@dataclass
class _State:
    """Which adjoints hold a value here (``defined``), and which we alone hold (``owned``)."""

    defined: set = field(default_factory=set)
    owned: set = field(default_factory=set)

    def copy(self):
        return _State(set(self.defined), set(self.owned))

    def forget(self, var):
        self.defined.discard(var)
        self.owned.discard(var)


class _Reverse:
    def __init__(self, ir, wrt, ranks, namer, kinds):
        self.ir, self.wrt, self.ranks, self.namer, self.kinds = ir, wrt, ranks, namer, kinds
        self.active = activity(ir, wrt)
        self.classes = shape_classes(ir, ranks)
        self.overwritten = overwritten(ir)
        self.first = first_definitions(ir)
        self.lists = _lists(ir, kinds)
        self.flags = set(branch_flags(ir)) & self.overwritten  # recorded per branch taken, see reverse_if
        self.deltas = {}  # variable -> name of its adjoint
        self.stacks = {}  # variable -> name of its record
        self.src = Source(namer)
        self.problems = []
        self.depth = 0  # loops around the statement being reversed
        self.comments = {}

    # ---- the whole function ------------------------------------------------------
    def build(self, split: bool, many: bool) -> Source:
        ir = self.ir
        seed = self.delta(ir.output)
        state = _State({ir.output})
        backward = self.block(ir.body, state)
        if self.problems:
            raise NonDifferentiableError(self.problems)
        backward += self.gradients(state)
        recorded = self.recorded(backward)
        backward = _drop_pops(backward, {self.stacks[v] for v in self.stacks if v not in recorded})
        shapes = shape_only(backward, recorded)
        backward, shape_names = record_shapes(backward, shapes, self.stacks, self.namer)
        sweep = ForwardSweep(ir, recorded, self.stacks, self.first, shapes, self.flags & recorded)
        forward = [comment("forward")] + sweep.prologue() + sweep.block(ir.body)
        backward = [comment("backward")] + backward
        grads = [self.result(w) for w in self.wrt]
        grads = gast.Tuple(elts=grads, ctx=LOAD) if many else grads[0]
        value = name(ir.output)
        if ir.aux is not None:
            value = gast.Tuple(elts=[value, name(ir.aux)], ctx=LOAD)
        if not split:
            ret = gast.Return(value=gast.Tuple(elts=[value, grads], ctx=LOAD))
            self.src.fn = function_def(f"grad_{ir.name}", ir.params, forward + backward + [ret], {seed: 1.0})
            return self.src
        restored = sorted(_stored(backward) - set(self.deltas.values()) - set(shape_names.values()) - {seed})
        if restored:
            backward.insert(0, gast.Nonlocal(names=restored))
        backward_name = self.namer.fresh(f"backward_{ir.name}")
        inner = function_def(backward_name, [seed], backward + [gast.Return(value=grads)])
        ret = gast.Return(value=gast.Tuple(elts=[value, name(backward_name)], ctx=LOAD))
        self.src.fn = function_def(f"vjp_{ir.name}", ir.params, forward + [inner, ret])
        return self.src

    def comment(self, stmt):
        """``# <the forward statement>`` (rendered once per statement: loops are emitted twice)."""
        key = id(stmt)
        if key not in self.comments:
            self.comments[key] = self.src.unparse(ForwardSweep.statement(stmt))
        return comment(self.comments[key])

    def delta(self, var: str) -> str:
        if var not in self.deltas:
            self.deltas[var] = self.namer.delta(var)
        return self.deltas[var]

    def stack(self, var: str) -> str:
        if var not in self.stacks:
            self.stacks[var] = self.namer.fresh(f"{var}_stack")
        return self.stacks[var]

    def recorded(self, backward) -> set:
        """Overwritten variables whose values the reverse sweep reads: these get records."""
        primal = self.overwritten - set(self.deltas.values())
        loads = {
            n.id
            for stmt in backward
            for n in gast.walk(stmt)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
        }
        return primal & loads & set(self.stacks)

    def gradients(self, state) -> list:
        lines = []
        for w in self.wrt:
            if w not in state.defined:
                state.defined.add(w)
                lines.append(assign(self.delta(w), self.zero(w)))
        return lines

    def result(self, w):
        if self.kinds.get(w) == "tuple":
            return to_expr(call(like, Sym(name(self.delta(w))), Sym(name(w))))
        if self.kinds.get(w) == "float":  # the gradient of a Python float is a float
            return to_expr(call(float, Sym(name(self.delta(w)))))
        return name(self.delta(w))

    def zero(self, var):
        if self.ranks.get(var) == 0:
            return gast.Constant(value=0.0, kind=None)
        return to_expr(call(zeros_like, Sym(name(var))))

    # ---- blocks ---------------------------------------------------------------------
    def block(self, body, state) -> list:
        lines = []
        for stmt in reversed(body):
            if isinstance(stmt, Assign):
                lines += self.reverse_assign(stmt, state)
            elif isinstance(stmt, SetItem):
                lines += self.reverse_setitem(stmt, state)
            elif isinstance(stmt, If):
                lines += self.reverse_if(stmt, state)
            elif isinstance(stmt, For | While):
                lines += self.reverse_loop(stmt, state)
            elif not isinstance(stmt, Effect):
                raise AssertionError(f"unexpected statement {stmt!r}")
        return lines

    def reverse_assign(self, stmt: Assign, state) -> list:
        target = stmt.target
        lines = []
        if target in self.active and target in state.defined:
            contributions = _merged(list(self.contributions(stmt, self.delta(target), state)))
            state.forget(target)  # before this assignment the variable had no (or another) value
            body = [line for var, c in contributions if var in self.active for line in self.accumulate(var, c, state)]
            if body:
                lines = [self.comment(stmt)] + body
        else:
            state.forget(target)
        if target in self.overwritten and id(stmt) not in self.first and target not in self.flags:
            lines.append(self.pop(target))
        return lines

    def reverse_setitem(self, stmt: SetItem, state) -> list:
        target, lines = stmt.target, []
        if target in self.active and target in state.defined:
            g = Sym(name(self.delta(target)))
            lines.append(self.comment(stmt))
            index = self.symbolic(stmt.index)
            if isinstance(stmt.value, gast.Name) and stmt.value.id in self.active:
                part = to_expr(g[index])
                if shape_class(stmt.value, self.classes) == SCALAR:
                    part = to_expr(np.sum(Sym(part)))
                else:
                    part = to_expr(call(unbroadcast, Sym(part), Sym(stmt.value)))
                lines += self.accumulate(stmt.value.id, part, state)
            lines += self.own(target, state)
            store = gast.Subscript(value=name(self.delta(target)), slice=to_expr(index), ctx=gast.Store())
            lines.append(gast.Assign(targets=[store], value=gast.Constant(value=0.0, kind=None), type_comment=None))
        if target in self.overwritten:
            lines.append(self.pop(target, stmt.index))
        return lines

    def pop(self, var, index=None) -> gast.stmt:
        """``var = var_stack.pop()`` (or ``var[index] = ...``); dropped later if never needed."""
        value = gast.Call(func=gast.Attribute(value=name(self.stack(var)), attr="pop", ctx=LOAD), args=[], keywords=[])
        if index is None:
            return assign(var, value)
        store = gast.Subscript(value=name(var), slice=index, ctx=gast.Store())
        return gast.Assign(targets=[store], value=value, type_comment=None)

    def reverse_if(self, stmt: If, state) -> list:
        then_state, else_state = state.copy(), state.copy()
        body = self.block(stmt.body, then_state)
        orelse = self.block(stmt.orelse, else_state)
        for var in sorted(then_state.defined - else_state.defined):
            orelse.append(assign(self.delta(var), self.zero(var)))
        for var in sorted(else_state.defined - then_state.defined):
            body.append(assign(self.delta(var), self.zero(var)))
        state.defined = then_state.defined | else_state.defined
        state.owned = then_state.owned & else_state.owned
        if not body and not orelse:
            return []
        reverse = ForwardSweep.if_statement(stmt.test, body, orelse)
        if isinstance(stmt.test, gast.Name) and stmt.test.id in self.flags:
            return [self.pop(stmt.test.id), reverse]  # the forward sweep recorded the branch it took
        return [reverse]

    def reverse_loop(self, stmt, state) -> list:
        """Trips backwards; adjoints carried across trips are zeroed before the loop."""
        self.depth += 1
        start, before = state.copy(), []
        for _ in range(len(self.active) + 1):  # fixed point: grows monotonically
            probe = start.copy()
            self.block(stmt.body, probe)
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
        return before + [self.reversed_loop(stmt, body)]

    def reversed_loop(self, stmt, body) -> gast.For:
        header = self.reversed_header(stmt)
        if self.depth == 0 and not stmt.brk:
            header = self.iterate_branch_records(header, body)
        return gast.For(target=header.target, iter=header.iter, body=body, orelse=[], type_comment=None)

    def iterate_branch_records(self, header, body):
        """``for g in reversed(g_stack):`` in place of ``g = g_stack.pop()`` at the top of each trip.

        Only for a top-level loop that runs every trip to its end: its body then
        runs each such ``if`` once a trip, and the record holds one entry a trip.
        """
        popped = [s for s in body if _popped_flag(s, self.flags, self.stacks)]
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

    # ---- contributions -------------------------------------------------------------------
    def contributions(self, stmt, g, state):
        args, kwargs = operands(stmt)
        if stmt.prim is None:
            for _, var in differentiable_operands(stmt):
                yield var, name(g)
            return
        entry = rules.lookup(stmt.prim)
        if entry is None or (not entry.vjp and not entry.nondiff):
            self.missing_rule(stmt)
            return
        sym_args = [self.symbolic(a) for a in args]
        sym_kwargs = {k: self.symbolic(v) for k, v in kwargs.items()}
        for keyword, value in kwargs.items():
            if keyword != "keys" and any(n in self.active for n in _names(value)):
                self.problems.append(
                    Problem(
                        f"`{keyword}=` carries a derivative, but sct differentiates only positional "
                        f"operands; pass it positionally",
                        stmt.origin,
                    )
                )
        ans = Sym(name(stmt.target), self.ranks.get(stmt.target))
        grad = Sym(name(g), self.ranks.get(stmt.target))
        for i, arg in enumerate(args):
            if not entry.differentiable(i) or not any(n in self.active for n in _names(arg)):
                continue
            rule = entry.vjp_rule(i)
            if entry.symbolic:
                try:
                    value = rule(grad, ans, *sym_args, **sym_kwargs)
                except TypeError as exc:  # the rule does not take the call's form (a keyword, say)
                    message = (
                        f"sct's rule cannot differentiate this call as written ({exc}); pass its operands positionally"
                    )
                    self.problems.append(Problem(message, stmt.origin))
                    return
                except SctError as exc:  # the rule knows this case is unsupported: say where
                    self.problems.append(Problem(str(exc), stmt.origin))
                    return
            else:
                rule_name = self.src.use(rule, _rule_name(rule, stmt.prim, i))
                value = call(rule_name, grad, ans, *sym_args, **sym_kwargs)
            yield from self.distribute(i, arg, value, entry, args)

    def distribute(self, i, arg, value, entry, args):
        """Split a contribution over a container operand, or send it to one variable."""
        if isinstance(arg, gast.Tuple | gast.List):
            for element, part in zip(arg.elts, value):
                yield from self.distribute(i, element, part, entry, args)
            return
        if not isinstance(arg, gast.Name) or value is None or is_zero(value):
            return
        if isinstance(value, Scatter):
            yield arg.id, value
            return
        expr = to_expr(value)
        if entry.broadcasting:
            expr = self.unbroadcast(expr, arg, args)
        yield arg.id, expr

    def unbroadcast(self, expr, arg, args):
        """Sum a contribution back to its operand's shape, where broadcasting may have enlarged it."""
        mine = shape_class(arg, self.classes)
        others = {shape_class(a, self.classes) for a in args} - {mine, SCALAR}
        if not others:
            return expr  # every operand has this operand's shape, or is a scalar
        if mine == SCALAR and None not in others:
            return to_expr(np.sum(Sym(expr)))
        lead = self.leading_axes(arg, args)
        if lead:  # certainly summed away; unbroadcast is left only the axes of length 1
            axis = gast.Constant(value=lead[0], kind=None) if len(lead) == 1 else to_expr(lead)
            method = gast.Attribute(value=expr, attr="sum", ctx=LOAD)
            expr = gast.Call(func=method, args=[], keywords=[gast.keyword(arg="axis", value=axis)])
        return to_expr(call(unbroadcast, Sym(expr), Sym(arg)))

    def leading_axes(self, arg, args) -> tuple:
        """The leading axes broadcasting surely added to ``arg``: ranks known, ``arg``'s the lower."""
        ranks = [rank_of(a, self.ranks) for a in args]
        mine = rank_of(arg, self.ranks)
        if mine is None or mine == 0 or None in ranks:
            return ()
        return tuple(range(max(ranks) - mine))

    def symbolic(self, node):
        return rule_view(node, self.ranks)

    # ---- accumulation --------------------------------------------------------------------
    def accumulate(self, var: str, contribution, state) -> list:
        if isinstance(contribution, Scatter):
            return self.scatter(var, contribution, state)
        target = self.delta(var)
        for other in _names(contribution):  # a view or alias of an adjoint we own
            if other in self.deltas.values() and not _fresh(contribution):
                state.owned -= {v for v, d in self.deltas.items() if d == other}
        if var in state.defined and var in state.owned and self.in_place(var):
            return [gast.AugAssign(target=name(target, store=True), op=gast.Add(), value=contribution)]
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
        return isinstance(rank, int) and rank > 0 and var not in self.lists

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
        if self.basic_index(contribution.index) and not (var in self.lists and _has_slice(contribution.index)):
            store = gast.Subscript(value=target, slice=to_expr(contribution.index), ctx=gast.Store())
            lines.append(gast.AugAssign(target=store, op=gast.Add(), value=g))
        else:
            index = Sym(_index_value(contribution.index))
            lines.append(gast.Expr(value=to_expr(call(add_at, Sym(target), index, Sym(g)))))
        return lines

    def basic_index(self, index) -> bool:
        """Ints, slices and rank-0 variables only: ``+=`` then adds each element once."""
        if isinstance(index, tuple):
            return all(self.basic_index(i) for i in index)
        if isinstance(index, slice):
            return True
        if isinstance(index, Sym):
            return isinstance(index.node, gast.Name) and self.ranks.get(index.node.id) == 0
        return isinstance(index, int | str | type(None)) or index is Ellipsis

    def missing_rule(self, stmt):
        fn = stmt.prim
        label = getattr(fn, "__qualname__", None) or repr(fn)
        module = getattr(fn, "__module__", None)
        shown = f"{module}.{label}" if module and module != "builtins" else label
        message = (
            f"sct has no derivative rule for `{shown}`; register one before differentiating:\n"
            f"    sct.defvjp({shown}, lambda g, ans, x: ...)   # one rule per argument"
        )
        self.problems.append(Problem(message, stmt.origin))


def _lists(ir, kinds: dict) -> set:
    """Variables holding Python lists: list and tuple parameters, and slices of them."""
    found = {p for p, kind in kinds.items() if kind in ("list", "tuple")}
    for stmt in walk(ir.body):
        value = getattr(stmt, "value", None)
        sliced = isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice)
        if isinstance(stmt, Assign) and sliced and isinstance(value.value, gast.Name) and value.value.id in found:
            found.add(stmt.target)
    return found


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


def _popped_flag(stmt, flags: set, stacks: dict) -> bool:
    """Is ``stmt`` ``g = g_stack.pop()`` for a branch flag ``g``?"""
    return (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id in flags
        and isinstance(stmt.value, gast.Call)
        and isinstance(stmt.value.func, gast.Attribute)
        and stmt.value.func.attr == "pop"
        and isinstance(stmt.value.func.value, gast.Name)
        and stmt.value.func.value.id == stacks.get(stmt.targets[0].id)
    )


def _merged(contributions: list) -> list:
    """One contribution ``2.0 * c`` where a statement sends ``c`` twice to one variable (``x * x``)."""
    seen, merged = {}, []
    for var, c in contributions:
        key = (var, gast.dump(c)) if isinstance(c, gast.AST) else None
        if key in seen and seen[key] is not None:
            index = seen[key]
            merged[index] = (var, gast.BinOp(left=gast.Constant(value=2.0, kind=None), op=gast.Mult(), right=c))
            seen[key] = None  # a third copy stays a separate contribution
            continue
        if key is not None:
            seen[key] = len(merged)
        merged.append((var, c))
    return merged


def _names(node):
    return [n.id for n in gast.walk(node) if isinstance(n, gast.Name)]


def _stored(body) -> set:
    return {
        n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }


def _fresh(expr) -> bool:
    """Does ``expr`` always make a new array (so no other name can hold it)?"""
    return isinstance(expr, gast.BinOp | gast.UnaryOp)


def _drop_pops(body, unused: set) -> list:
    """Remove the record pops of variables the reverse sweep turned out not to read."""

    class Drop(gast.NodeTransformer):
        def visit_Assign(self, node):
            value = node.value
            if (
                isinstance(value, gast.Call)
                and isinstance(value.func, gast.Attribute)
                and value.func.attr == "pop"
                and isinstance(value.func.value, gast.Name)
                and value.func.value.id in unused
            ):
                return None
            return node

    dropper = Drop()
    kept = [dropper.visit(stmt) for stmt in body]
    return [_fill_empty(s) for s in kept if s is not None]


def _fill_empty(stmt):
    for node in gast.walk(stmt):
        for attr in ("body",):
            block = getattr(node, attr, None)
            if isinstance(block, list) and not block and isinstance(node, gast.If | gast.For | gast.While):
                block.append(gast.Pass())
    return stmt


def _rule_name(rule, prim, i: int) -> str:
    """The name a user's rule is called by in generated code: its own, if it has one."""
    own = getattr(rule, "__name__", "<lambda>")
    if own.isidentifier():
        return own
    return f"{getattr(prim, '__name__', 'rule')}_vjp{i}"
