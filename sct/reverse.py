"""Reverse mode: the adjoint function, made from the lowered IR and the rule table.

The adjoint replays the forward statements, then walks them backwards. For each
active statement ``t = prim(args)`` it writes a ``# t = prim(args)`` comment and
one ``delta_<arg> = ...`` line per active operand, from the operand's rule. The
first contribution to ``delta_v`` defines it; later ones accumulate with
``delta_v = delta_v + c``, which never writes into an array anyone else holds.
"""

from __future__ import annotations

import gast
import numpy as np

from . import rules
from .analysis import (
    SCALAR,
    activity,
    differentiable_operands,
    rank_of,
    shape_class,
    shape_classes,
    static_value,
)
from .codegen import Source, assign, comment, function_def, name
from .errors import NonDifferentiableError, Problem
from .ir import Assign, Effect, FunctionIR, operands
from .runtime import unbroadcast, zeros_like
from .symbolic import Sym, call, is_zero, to_expr

DYNAMIC = rules.DYNAMIC


def adjoint(ir: FunctionIR, wrt: list[str], ranks: dict, namer, split=False, many=None) -> Source:
    """The adjoint of ``ir`` with respect to the parameters named in ``wrt``.

    ``split=False`` gives ``grad_f(*params, delta_out=1.0) -> (out, grads)``;
    ``split=True`` gives ``vjp_f(*params) -> (out, backward_f)`` where
    ``backward_f(delta_out)`` returns the gradients (the forward pass runs once).
    The gradients are a tuple if ``many`` (default: more than one ``wrt``).
    """
    emitter = _Reverse(ir, wrt, ranks, namer)
    return emitter.build(split, len(wrt) > 1 if many is None else many)


class _Reverse:
    def __init__(self, ir, wrt, ranks, namer):
        self.ir, self.wrt, self.ranks, self.namer = ir, wrt, ranks, namer
        self.active = activity(ir, wrt)
        self.classes = shape_classes(ir, ranks)
        self.deltas = {}  # variable -> name of its adjoint
        self.src = Source(namer)
        self.problems = []

    def build(self, split: bool, many: bool) -> Source:
        ir = self.ir
        seed = self.delta(ir.output)
        forward = [comment("forward")] + [self.forward(s) for s in ir.body]
        backward = [comment("backward")]
        for stmt in reversed(ir.body):
            if isinstance(stmt, Assign) and stmt.target in self.active:
                backward += self.reverse(stmt)
        if self.problems:
            raise NonDifferentiableError(self.problems)
        backward += self.zero_gradients()
        grads = [name(self.deltas[w]) for w in self.wrt]
        grads = gast.Tuple(elts=grads, ctx=gast.Load()) if many else grads[0]
        value = name(ir.output)
        if ir.aux is not None:
            value = gast.Tuple(elts=[value, name(ir.aux)], ctx=gast.Load())
        if not split:
            ret = gast.Return(value=gast.Tuple(elts=[value, grads], ctx=gast.Load()))
            body = forward + backward + [ret]
            self.src.fn = function_def(f"grad_{ir.name}", ir.params, body, {seed: 1.0})
            return self.src
        backward_name = self.namer.fresh(f"backward_{ir.name}")
        inner = function_def(backward_name, [seed], backward + [gast.Return(value=grads)])
        ret = gast.Return(value=gast.Tuple(elts=[value, name(backward_name)], ctx=gast.Load()))
        self.src.fn = function_def(f"vjp_{ir.name}", ir.params, forward + [inner, ret])
        return self.src

    def delta(self, var: str) -> str:
        if var not in self.deltas:
            self.deltas[var] = self.namer.delta(var)
        return self.deltas[var]

    def forward(self, stmt):
        if isinstance(stmt, Effect):
            return gast.Expr(value=stmt.value)
        return assign(stmt.target, stmt.value)

    # ---- one reversed statement ----------------------------------------------
    def reverse(self, stmt: Assign) -> list:
        g = self.deltas.get(stmt.target)
        if g is None:  # the output never reached this value along an active path
            return []
        lines = []
        for _, var, contribution in self.contributions(stmt, g):
            if var in self.active:
                lines.append(self.accumulate(var, contribution))
        return [comment(self.src.unparse(self.forward(stmt)))] + lines if lines else []

    def contributions(self, stmt, g):
        args, kwargs = operands(stmt)
        if stmt.prim is None:
            for _, var in differentiable_operands(stmt):
                yield 0, var, name(g)
            return
        entry = rules.lookup(stmt.prim)
        if entry is None or (not entry.vjp and not entry.nondiff):
            self.missing_rule(stmt)
            return
        sym_args = [self.symbolic(a) for a in args]
        sym_kwargs = {k: self.symbolic(v) for k, v in kwargs.items()}
        ans = Sym(name(stmt.target), self.ranks.get(stmt.target))
        grad = Sym(name(g), self.ranks.get(stmt.target))
        for i, arg in enumerate(args):
            if not entry.differentiable(i) or not any(n in self.active for n in _names(arg)):
                continue
            rule = entry.vjp[i]
            if entry.symbolic:
                value = rule(grad, ans, *sym_args, **sym_kwargs)
            else:
                value = call(
                    self.src.use(rule, _rule_name(rule, stmt.prim, i)), grad, ans, *sym_args, **sym_kwargs
                )
            yield from self.distribute(i, arg, value, entry, args)

    def distribute(self, i, arg, value, entry, args):
        """Split a contribution over a container operand, or send it to one variable."""
        if isinstance(arg, gast.Tuple | gast.List):
            for element, part in zip(arg.elts, value):
                yield from self.distribute(i, element, part, entry, args)
            return
        if not isinstance(arg, gast.Name) or value is None or is_zero(value):
            return
        expr = to_expr(value)
        if entry.broadcasting:
            expr = self.unbroadcast(expr, arg, args)
        yield i, arg.id, expr

    def unbroadcast(self, expr, arg, args):
        """Sum a contribution back to its operand's shape, where broadcasting may have enlarged it."""
        mine = shape_class(arg, self.classes)
        others = {shape_class(a, self.classes) for a in args} - {mine, SCALAR}
        if not others:
            return expr  # every operand has this operand's shape, or is a scalar
        if mine == SCALAR and None not in others:
            return to_expr(np.sum(Sym(expr)))
        return to_expr(call(unbroadcast, Sym(expr), Sym(arg)))

    def symbolic(self, node):
        """A rule's view of an operand: a Sym for a variable, the value for a constant."""
        if isinstance(node, gast.Name):
            return Sym(node, self.ranks.get(node.id))
        value = static_value(node)
        if value is not DYNAMIC:
            return value
        if isinstance(node, gast.Tuple | gast.List):
            items = [self.symbolic(e) for e in node.elts]
            return tuple(items) if isinstance(node, gast.Tuple) else items
        if isinstance(node, gast.Slice):
            parts = [None if p is None else self.symbolic(p) for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        return Sym(node, rank_of(node, self.ranks))

    def accumulate(self, var: str, contribution) -> gast.stmt:
        if var in self.deltas and self.deltas[var] in self.src.defined:
            target = self.deltas[var]
            contribution = gast.BinOp(left=name(target), op=gast.Add(), right=contribution)
        target = self.delta(var)
        self.src.defined.add(target)
        return assign(target, contribution)

    def zero_gradients(self) -> list:
        lines = []
        for w in self.wrt:
            delta = self.delta(w)
            if delta not in self.src.defined:
                self.src.defined.add(delta)
                lines.append(assign(delta, to_expr(call(zeros_like, Sym(name(w))))))
        return lines

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


def _names(node):
    return [n.id for n in gast.walk(node) if isinstance(n, gast.Name)]


def _rule_name(rule, prim, i: int) -> str:
    """The name a user's rule is called by in generated code: its own, if it has one."""
    own = getattr(rule, "__name__", "<lambda>")
    if own.isidentifier():
        return own
    return f"{getattr(prim, '__name__', 'rule')}_vjp{i}"
