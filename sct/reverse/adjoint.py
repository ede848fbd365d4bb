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
What a loop need not record (values the same on every trip, cheap ones made again
in the reversed trip, values made afresh each trip, which share one tape per loop,
with the old values of variables carried from trip to trip where that stays exact)
is decided in :mod:`sct.analysis.recording`; records nothing reads are dropped
(:func:`sct.reverse.records.dead_pops`).
How contributions accumulate lives in :mod:`sct.reverse.accumulation`, how loops are
reversed in :mod:`sct.reverse.loops`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gast
import numpy as np

from .. import rules
from ..analysis import complex_values
from ..analysis.activity import (
    SCALAR,
    activity,
    assignments,
    branch_flags,
    differentiable_operands,
    first_definitions,
    overwritten,
    rank_of,
    rule_view,
    shape_class,
    shape_classes,
)
from ..analysis.recording import carried_values, invariant, recomputable, stable_shapes, trip_locals, viewed_by
from ..analysis.shapes import canonical
from ..backend.codegen import Source, assign, bodies_in, comment, function_def, name, nodes, statements, statements_text
from ..backend.runtime import detached, like, unbroadcast, zeros_like
from ..errors import NonDifferentiableError, Problem, SctError, UnsupportedSyntaxError, no_rule_message
from ..ir import Assign, Effect, For, FunctionIR, If, SetItem, While, names_in, operands, walk
from ..passes import containers
from ..rules.helpers import scalar_sum
from ..symbolic import Scatter, Sym, call, is_zero, to_expr
from . import items
from .accumulation import Accumulation, merged
from .branches import BranchReversal
from .gather import join_slices
from .loops import LoopReversal, carry, clobbered_targets, take_tapes
from .records import dead_pops, drop_dead_pops, popped_stack, record_shapes, shape_only
from .sweep import ForwardSweep, Tape

DYNAMIC = rules.DYNAMIC
LOAD = gast.Load()


def adjoint(
    ir: FunctionIR, wrt: list[str], ranks: dict, namer, split=False, many=None, kinds=None, shapes=None
) -> Source:
    """The adjoint of ``ir`` with respect to the parameters named in ``wrt``.

    ``split=False`` gives ``grad_f(*params, delta_out=1.0) -> (out, grads)``;
    ``split=True`` gives ``vjp_f(*params) -> (out, backward_f)`` where
    ``backward_f(delta_out)`` returns the gradients (the forward pass runs once).
    The gradients are a tuple if ``many`` (default: more than one ``wrt``).
    ``kinds`` maps parameters to their container kind (``"tuple"``...), if any.
    ``shapes``: a :class:`sct.analysis.shapes.Shapes` of the call, where the variant is for one; the
    facts its proofs used (that no ``unbroadcast`` is needed) are left in the result's ``facts``.
    """
    emitter = _Reverse(ir, wrt, ranks, namer, kinds or {})
    emitter.shapes = shapes
    src = emitter.build(split, len(wrt) > 1 if many is None else many)
    src.facts = canonical(emitter.facts)
    src.adjoint_of = emitter.adjoint_of  # delta_v -> v (sct.passes.fuse.fold_adjoints: which v the user named)
    return src


@dataclass
class _State:
    """Which adjoints hold a value here (``defined``), and which we alone hold (``owned``)."""

    defined: set = field(default_factory=set)
    owned: set = field(default_factory=set)
    items: dict = field(default_factory=dict)  # tuple result -> {position: its item's adjoint} (sct.reverse.items)

    def copy(self):
        return _State(set(self.defined), set(self.owned), {v: dict(found) for v, found in self.items.items()})

    def forget(self, var):
        self.defined.discard(var)
        self.owned.discard(var)
        self.items.pop(var, None)


class _Reverse(Accumulation, BranchReversal, LoopReversal):
    def __init__(self, ir, wrt, ranks, namer, kinds):
        self.ir, self.wrt, self.ranks, self.namer, self.kinds = ir, wrt, ranks, namer, kinds
        self.active = activity(ir, wrt)
        self.classes = shape_classes(ir, ranks)
        self.shapes = None  # symbolic shapes under facts of the call (sct.analysis.shapes), for a variant for one
        self.facts = set()  # the facts the code relies on: the variant's guard
        self.keyword_operands = []  # those of the statement being reversed
        self.elementwise = False  # whether it is elementwise
        self.overwritten = overwritten(ir)
        self.invariant = invariant(ir)  # the same value every trip: read as the forward sweep left it
        self.recomputed = recomputable(ir, ranks)  # loop -> assignments made again at the top of each reversed trip
        self.recomputes = {s.target for found in self.recomputed.values() for s in found}
        self.first = first_definitions(ir)
        self.containers, self.nested = containers.analyse(ir, ir.containers)
        flags = branch_flags(ir)
        self.flags = set(flags) & self.overwritten  # see reverse_if: recorded, or tested again
        self.flag_conditions = {flag: a.value for flag, a in flags.items()}
        self.assigned = assignments(ir.body)
        self.itemized = items.itemized(ir, self.assigned)  # tuple results whose rules get their items' adjoints
        self.hoisted = {}  # flag -> (variables recorded before its ``if``, ids of the assignments that no longer are)
        self.deltas = {}  # variable -> name of its adjoint
        self.adjoint_of = {}  # name of an adjoint -> its variable (the inverse of deltas)
        self.stacks = {}  # variable -> name of its record
        self.src = Source(namer)
        self.problems = []
        self.depth = 0  # loops around the statement being reversed
        self.probing = 0  # fixed-point probes of loop bodies around it (their lines are thrown away)
        self.comments = {}
        self.tagged = 0  # pops tagged with the assignment they restore (sct_record)
        self.reversed_loops = {}  # (loop, state entered with, depth) -> what reversing it gave (see reverse_loop)

    # ---- the whole function ------------------------------------------------------
    def build(self, split: bool, many: bool) -> Source:
        ir = self.ir
        seed = self.delta(ir.output)
        state = _State({ir.output})
        backward = self.block(ir.body, state)
        if self.problems:
            raise NonDifferentiableError(self.problems)
        backward += self.gradients(state)
        clobbered = clobbered_targets(backward)
        if clobbered:  # (a reversed while loop counts with a fresh name: only a for loop's can be read later)
            loops = {id(s): s for s in walk(ir.body) if isinstance(s, For)}
            raise UnsupportedSyntaxError([_clobbered_problem(loops.get(at)) for at in clobbered])
        opaque = set(self.containers) | set(self.nested)
        join_slices(backward, ir, self.adjoint_of, self.ranks, opaque)  # before records: z may be read no more
        recorded = self.recorded(backward)
        shapes = shape_only(backward, recorded)
        stable = shapes & stable_shapes(self.ir, self.ranks)  # one shape for every trip: read it once
        recorded -= stable
        tapes = self.tapes(recorded, shapes)
        taped = {v for tape in tapes.values() for v in tape.variables}
        recorded -= taped
        backward = _drop_pops(backward, {self.stacks[v] for v in self.stacks if v not in recorded})
        backward, shape_names = record_shapes(backward, shapes, self.stacks, self.namer, once=shapes & taped)
        shapes -= stable | taped
        results = [self.result(w) for w in self.wrt]  # what the return reads after the sweep
        live_end = {ir.output, ir.aux, *(n.id for r in results for n in gast.walk(r) if isinstance(n, gast.Name))}
        dead = (dead_pops(backward, live_end) or set()) if self.tagged else set()  # no record popped: none dead
        backward = drop_dead_pops(backward, dead) if dead else backward
        hoisted = {flag: found for flag, (found, _) in self.hoisted.items()}
        first = self.first.union(*(ids for _, ids in self.hoisted.values()), dead)
        flags = self.flags & recorded | set(hoisted)
        carried = self.carry(backward, tapes, recorded - shapes - flags, first)
        first |= carried
        take_tapes(backward, tapes)
        carried_vars = {v for tape in tapes.values() for v, _ in tape.carried}
        popped = {popped_stack(s.value) for s in statements(backward) if isinstance(s, gast.Assign)}
        recorded -= {v for v in carried_vars if self.stacks[v] not in popped}  # every record of it is in a row
        bound = stable | carried_vars  # read by a row before a trip may have set them: bound first
        sweep = ForwardSweep(ir, recorded, self.stacks, first, shapes, flags, hoisted, bound=bound, tapes=tapes)
        forward = [comment("forward")] + sweep.prologue() + sweep.block(ir.body)
        if _restored_in_place(backward):  # the sweep puts old values back into arrays: not into what is returned
            for result in (ir.output, ir.aux):
                if result is not None and self.ranks.get(result) != 0:
                    forward.append(assign(result, to_expr(call(detached, Sym(name(result))))))
        backward = [comment("backward")] + backward
        grads = results
        grads = gast.Tuple(elts=grads, ctx=LOAD) if many else grads[0]
        value = name(ir.output)
        if ir.aux is not None:
            value = gast.Tuple(elts=[value, name(ir.aux)], ctx=LOAD)
        if not split:
            ret = gast.Return(value=gast.Tuple(elts=[value, grads], ctx=LOAD))
            self.src.fn = function_def(f"grad_{ir.name}", ir.params, forward + backward + [ret], {seed: 1.0})
            return self.src
        restored = _stored(backward) - set(self.deltas.values()) - set(shape_names.values()) - {seed}
        restored = sorted(restored & (_stored(forward) | set(ir.params)))  # `_` the sweep binds: its own
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

    def render_comments(self, body) -> None:
        """The comments :meth:`comment` will ask for in ``body`` (assignments to active variables), written
        in one ``ast.unparse`` of them all: one line each, as each alone gives (a fallback where a line of
        them is not one statement's)."""
        done, active = self.comments, self.active
        wanted = [s for s in body if isinstance(s, Assign | SetItem) and s.target in active and id(s) not in done]
        if len(wanted) < 2:
            return
        lines = statements_text([ForwardSweep.statement(s) for s in wanted]).split("\n")
        if len(lines) == len(wanted):
            self.comments.update(zip(map(id, wanted), lines))

    def delta(self, var: str) -> str:
        if var not in self.deltas:
            self.deltas[var] = self.namer.delta(var)
            self.adjoint_of[self.deltas[var]] = var
        return self.deltas[var]

    def stack(self, var: str) -> str:
        if var not in self.stacks:
            self.stacks[var] = self.namer.fresh(f"{var}_stack")
        return self.stacks[var]

    def recorded(self, backward) -> set:
        """Overwritten variables whose values the reverse sweep reads: these get records."""
        primal = self.overwritten - set(self.deltas.values())
        if not (primal - self.invariant - self.recomputes) & set(self.stacks):  # nothing to look for: no walk
            return set()
        restoring = {id(base) for base in _restored_in_place(backward)}  # v[i] = v_stack.pop() reads no v
        loads = {
            n.id
            for stmt in backward
            for n in nodes(stmt)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and id(n) not in restoring
        }
        views = viewed_by(self.ir, self.ranks)  # reading a view of v reads v's memory: v's writes are undone
        loads |= {base for var in loads for base in views.get(var, ())}
        return (primal - self.invariant - self.recomputes) & loads & set(self.stacks)

    def tapes(self, recorded: set, shapes: set) -> dict:
        """``{id(loop): Tape}`` for the recorded values a loop makes afresh each trip."""
        hoisted = {v for found, _ in self.hoisted.values() for v in found}
        tapes = {}
        for loop, found in trip_locals(self.ir).items():
            found = [v for v in found if v in recorded and v not in self.flags and v not in hoisted]
            if found:
                tapes[loop] = Tape(self.namer.fresh("tape"), found, set(found) & shapes)
        return tapes

    def carry(self, backward, tapes: dict, recorded: set, unrecorded: set) -> set:
        """Old values of variables carried across trips that loops' rows keep (see ``carried_values``)."""
        hoisted = {v for found, _ in self.hoisted.values() for v in found}
        taped = {loop: tape.variables for loop, tape in tapes.items()}
        candidates = carried_values(self.ir, taped, recorded - hoisted, unrecorded)
        return carry(backward, tapes, candidates, self.namer)

    def gradients(self, state) -> list:
        lines = []
        for w in self.wrt:
            if w not in state.defined:
                state.defined.add(w)
                lines.append(assign(self.delta(w), self.zero(w)))
        return lines

    def result(self, w):
        structure = self.ir.containers.get(w)
        if structure is not None or complex_values.on():  # tuples where the argument has them, floats for its
            # floats; with complex values about, the real part for a real argument (``like``)
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
        self.render_comments(body)
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
            made = self.made_of_items(stmt, state)  # delta_r = zeros_like(r); delta_r[k] += ..., where needed
            contributions = merged(list(self.contributions(stmt, self.delta(target), state)))
            state.forget(target)  # before this assignment the variable had no (or another) value
            body = [line for var, c in contributions if var in self.active for line in self.add(var, c, state)]
            if body:
                lines = [self.comment(stmt)] + made + body
        else:
            state.forget(target)
        if target in self.overwritten and id(stmt) not in self.first and target not in self.flags:
            pop = self.pop(target)
            pop.sct_record = id(stmt)  # see records.dead_pops
            self.tagged += 1
            lines.append(pop)
        return lines

    def reverse_setitem(self, stmt: SetItem, state) -> list:
        target, lines = stmt.target, []
        if target in self.active and target in state.defined:
            g = Sym(name(self.delta(target)))
            lines.append(self.comment(stmt))
            index = self.symbolic(stmt.index)
            if isinstance(stmt.value, gast.Name) and stmt.value.id in self.active:
                part = to_expr(self.written(g, target, index))
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

    def add(self, var, contribution, state) -> list:
        """Accumulate; an item of a tuple result read item by item is only noted, for its rule (items.py)."""
        item = contribution.index if isinstance(contribution, Scatter) else None
        noted = state.items.get(var, {})
        if var in self.itemized and type(item) is int and isinstance(contribution.g, Sym) and item not in noted:
            state.items.setdefault(var, {})[item] = contribution.g
            state.defined.add(var)
            return []
        return self.accumulate(var, contribution, state)

    def made_of_items(self, stmt, state) -> list:
        """The list adjoint of a tuple result, from its items' adjoints, where its rule reads an item that has
        none (it would read zeros made for it, perhaps many times): the lines that make it."""
        found = state.items.get(stmt.target)
        if found is None or items.read(stmt) <= set(found):
            return []
        del state.items[stmt.target]
        state.defined.discard(stmt.target)
        return [line for k, g in sorted(found.items()) for line in self.accumulate(stmt.target, Scatter(g, k), state)]

    def pop(self, var, index=None) -> gast.stmt:
        """``var = var_stack.pop()`` (or ``var[index] = ...``); dropped later if never needed."""
        value = gast.Call(func=gast.Attribute(value=name(self.stack(var)), attr="pop", ctx=LOAD), args=[], keywords=[])
        if index is None:
            return assign(var, value)  # tagged by reverse_assign: dropped with its push if nothing reads it
        store = gast.Subscript(value=name(var), slice=index, ctx=gast.Store())
        return gast.Assign(targets=[store], value=value, type_comment=None)

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
        keyword_rules = {}
        for keyword, value in kwargs.items():
            if keyword != "keys" and any(n in self.active for n in _names(value)):
                if entry.keywords.get(keyword, (None,))[0] is not None:
                    keyword_rules[keyword] = entry.keywords[keyword][0]
                    continue
                self.problems.append(
                    Problem(
                        f"`{keyword}=` carries a derivative, but sct differentiates only positional "
                        f"operands; pass it positionally",
                        stmt.origin,
                    )
                )
        self.keyword_operands = [v for k, v in kwargs.items() if k != "keys"]  # they broadcast too (np.clip)
        self.elementwise = entry.elementwise  # the result has the operands' broadcast shape (what shapes proves)
        ans = Sym(name(stmt.target), self.ranks.get(stmt.target))
        grad = Sym(name(g), self.ranks.get(stmt.target))
        if stmt.target in state.items:  # its items' adjoints, not a list made of them
            grad = items.items_grad(ans, items.count(stmt), state.items[stmt.target])
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
        for keyword, rule in keyword_rules.items():
            try:
                value = rule(grad, ans, *sym_args, **sym_kwargs)
            except SctError as exc:
                self.problems.append(Problem(str(exc), stmt.origin))
                return
            yield from self.distribute(-1, kwargs[keyword], value, entry, args)

    def distribute(self, i, arg, value, entry, args):
        """Split a contribution over a container operand, or send it to one variable."""
        if isinstance(arg, gast.Tuple | gast.List):
            if isinstance(value, Scatter):  # (a, b)[k]: the item's contribution goes to the k-th operand
                if not isinstance(value.index, int):
                    raise SctError("indexing a tuple display by a variable is not supported; name the tuple first")
                parts = [value.g if k == value.index else None for k in range(len(arg.elts))]
            elif isinstance(value, Sym):  # one contribution for the whole display: item k gets its k-th part
                parts = [value[k] for k in range(len(arg.elts))]
            else:
                parts = value
            for element, part in zip(arg.elts, parts):
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
            return scalar_sum(expr)  # np.sum(-g * a / b) as -np.sum(g * a / b)
        operands_ = [*args, *self.keyword_operands]
        shapes = self.shapes if self.elementwise else None  # np.cross broadcasts, but has a shape of its own
        if self.proved(shapes and shapes.keeps_shape(arg, operands_)):
            return expr  # the result has this operand's shape, under facts the variant checks
        lead = self.leading_axes(arg, args)
        if lead:  # certainly summed away; unbroadcast is left only the axes of length 1
            axis = gast.Constant(value=lead[0], kind=None) if len(lead) == 1 else to_expr(lead)
            method = gast.Attribute(value=expr, attr="sum", ctx=LOAD)
            expr = gast.Call(func=method, args=[], keywords=[gast.keyword(arg="axis", value=axis)])
            if self.proved(shapes and shapes.trailing_shape(arg, operands_, len(lead))):
                return expr  # the sum over the leading axes has this operand's shape
        return to_expr(call(unbroadcast, Sym(expr), Sym(arg)))

    def proved(self, facts) -> bool:
        """Whether a shape proof succeeded (``facts`` is not None); if so, the variant relies on its facts."""
        if facts is None:
            return False
        self.facts |= facts
        return True

    def leading_axes(self, arg, args) -> tuple:
        """The leading axes broadcasting surely added to ``arg``: ranks known, ``arg``'s the lower."""
        ranks = [rank_of(a, self.ranks) for a in args]
        mine = rank_of(arg, self.ranks)
        if mine is None or mine == 0 or None in ranks:
            return ()
        return tuple(range(max(ranks) - mine))

    def symbolic(self, node):
        return rule_view(node, self.ranks)

    def missing_rule(self, stmt):
        self.problems.append(Problem(no_rule_message(stmt.prim, "defvjp"), stmt.origin))


def _names(node):
    return names_in(node)


def _stored(body) -> set:
    return {
        n.id for stmt in body for n in gast.walk(stmt) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }


def _restored_in_place(body) -> list:
    """The array names of the statements ``v[i] = v_stack.pop()`` in ``body`` (restores in place)."""
    found = []
    for node in statements(body):
        if isinstance(node, gast.Assign) and popped_stack(node.value) is not None:
            target = node.targets[0]
            if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
                found.append(target.value)
    return found


def _drop_pops(body, unused: set) -> list:
    """Remove the record pops of variables the reverse sweep turned out not to read."""
    if not unused:
        return [_fill_empty(s) for s in body]
    kept = [s for s in body if not _unused_pop(s, unused)]
    for block in bodies_in(kept):
        block[:] = [s for s in block if not _unused_pop(s, unused)]
    return [_fill_empty(s) for s in kept]


def _unused_pop(stmt, unused: set) -> bool:
    return isinstance(stmt, gast.Assign) and popped_stack(stmt.value) in unused


def _fill_empty(stmt):
    for node in statements((stmt,)):
        if isinstance(node, gast.If | gast.For | gast.While) and not node.body:
            node.body.append(gast.Pass())
    return stmt


def _rule_name(rule, prim, i: int) -> str:
    """The name a user's rule is called by in generated code: its own, if it has one."""
    own = getattr(rule, "__name__", "<lambda>")
    if own.isidentifier():
        return own
    return f"{getattr(prim, '__name__', 'rule')}_vjp{i}"


def _clobbered_problem(loop) -> Problem:
    """``for k in ...`` where code before the loop reads the ``k`` it had before (see ``clobbered_targets``)."""
    if loop is None:  # not one of the function's loops (none is known to be): say what, if not where
        return Problem("a loop binds a variable that code before it reads with its earlier value: rename it", None)
    return Problem(
        f"this loop binds `{loop.target}`, which code before it reads with the value it had before the loop; sct's "
        f"reverse sweep would read the loop's value there (a wrong gradient): give the loop a variable of its own "
        f"(`for {loop.target}_2 in ...`)",
        loop.origin,
    )
