"""Forward mode: the tangent (JVP) function, made from the lowered IR and the rule table.

For ``f(x, y)`` differentiated by both arguments the tangent function is

    def jvp_f(x, y, dot_x, dot_y):
        a = -y
        dot_a = -dot_y
        ...
        return out, dot_out

Each primal statement is followed by the statement computing its tangent, inside
the same ``if``/``for``/``while``: forward mode needs no records. Only *varied*
values (those that depend on a ``wrt`` input through differentiable operations)
get a ``dot_*``; every assignment of a varied value assigns its tangent too (a
zero one where nothing varied flows in), so a tangent is defined wherever its
value is. The tangent of ``t = prim(args)`` is the sum over varied operands of
the operand's forward rule, with ``g`` the operand's tangent.
"""

from __future__ import annotations

import gast

from .. import rules
from ..analysis.activity import SCALAR, rule_view, shape_class, shape_classes, static_value, varied
from ..backend.codegen import Source, assign, function_def, name
from ..backend.runtime import fresh_copy, zeros_like
from ..errors import NonDifferentiableError, Problem, SctError, no_rule_message
from ..ir import Assign, Effect, For, FunctionIR, If, SetItem, While, names_in, operands, walk
from ..passes.optimize import unsigned
from ..symbolic import Sym, call, is_zero, to_expr

LOAD = gast.Load()


def tangent(ir: FunctionIR, wrt: list[str], ranks: dict, namer) -> Source:
    """``jvp_f(*params, *dot_wrt) -> (out, dot_out)``: ``f`` and its derivative along the tangents."""
    return _Forward(ir, wrt, ranks, namer).build()


class _Forward:
    def __init__(self, ir, wrt, ranks, namer):
        self.ir, self.wrt, self.ranks, self.namer = ir, wrt, ranks, namer
        self.varied = varied(ir, wrt)
        self.classes = shape_classes(ir, ranks)
        self.owned = {s.target for s in walk(ir.body) if isinstance(s, SetItem)}  # updated in place
        self.dots = {}  # variable -> name of its tangent
        self.primal_of = {}  # tangent name -> variable
        self.src = Source(namer)
        self.problems = []

    def dot(self, var: str) -> str:
        if var not in self.dots:
            self.dots[var] = self.namer.tangent(var)
            self.primal_of[self.dots[var]] = var
        return self.dots[var]

    def build(self) -> Source:
        ir = self.ir
        params = ir.params + [self.dot(w) for w in self.wrt]
        body = self.block(ir.body)
        if self.problems:
            raise NonDifferentiableError(self.problems)
        if ir.output in self.varied:
            dot_out = name(self.dot(ir.output))
        else:
            dot_out = to_expr(call(zeros_like, Sym(name(ir.output))))
        ret = gast.Return(value=gast.Tuple(elts=[name(ir.output), dot_out], ctx=LOAD))
        self.src.fn = function_def(f"jvp_{ir.name}", params, body + [ret])
        return self.src

    # ---- statements ------------------------------------------------------------------
    def block(self, stmts) -> list:
        lines = []
        for stmt in stmts:
            lines += self.statement(stmt)
        return lines

    def statement(self, stmt) -> list:
        if isinstance(stmt, Assign):
            lines = [assign(stmt.target, stmt.value)]
            if stmt.target in self.varied:
                lines.append(assign(self.dot(stmt.target), self.tangent_of(stmt)))
            return lines
        if isinstance(stmt, Effect):
            return [stmt.statement()]
        if isinstance(stmt, SetItem):
            return self.set_item(stmt)
        if isinstance(stmt, If):
            return [_if(stmt.test, self.block(stmt.body), self.block(stmt.orelse))]
        if isinstance(stmt, For):
            body = self.block(stmt.body) + _break_if(stmt.brk)
            loop = gast.For(
                target=name(stmt.target, store=True), iter=stmt.iter, body=body, orelse=[], type_comment=None
            )
            return [loop]
        if isinstance(stmt, While):
            stop = _if(gast.UnaryOp(op=gast.Not(), operand=stmt.test), [gast.Break()], [])
            body = self.block(stmt.cond) + [stop] + self.block(stmt.body) + _break_if(stmt.brk)
            return [gast.While(test=gast.Constant(value=True, kind=None), body=body, orelse=[])]
        raise TypeError(f"unknown statement {stmt!r}")  # pragma: no cover

    def set_item(self, stmt: SetItem) -> list:
        def store(target):
            return gast.Subscript(value=name(target), slice=stmt.index, ctx=gast.Store())

        lines = [gast.Assign(targets=[store(stmt.target)], value=stmt.value, type_comment=None)]
        if stmt.target in self.varied:
            value = to_expr(self.tangent_sym(stmt.value))
            lines.append(gast.Assign(targets=[store(self.dot(stmt.target))], value=value, type_comment=None))
        return lines

    # ---- one tangent -------------------------------------------------------------------
    def tangent_of(self, stmt: Assign) -> gast.expr:
        total = self.tangent_value(stmt)
        if total is None:
            if stmt.prim is None and isinstance(static_value(stmt.value), int | float):
                return gast.Constant(value=0.0, kind=None)  # s = 0.0: dot_s = 0.0
            return to_expr(call(zeros_like, Sym(name(stmt.target))))
        expr = to_expr(total)
        if stmt.target in self.owned:  # updated in place later: must not alias another tangent
            expr = to_expr(call(fresh_copy, Sym(expr)))
        return expr

    def tangent_value(self, stmt: Assign):
        """The tangent of ``stmt``'s target as a symbolic value, or None where it is zero."""
        args, kwargs = operands(stmt)
        if stmt.prim is None:  # a copy: the atom's tangent
            return _nonzero(self.tangent_sym(args[0]))
        entry = rules.lookup(stmt.prim)
        if entry is None or entry.nondiff:
            if entry is None:
                self.missing_rule(stmt)
            return None
        sym_args = [self.symbolic(a) for a in args]
        sym_kwargs = {k: self.symbolic(v) for k, v in kwargs.items()}
        ans = Sym(name(stmt.target), self.ranks.get(stmt.target))
        symbolic = getattr(entry, "jvp_symbolic", entry.symbolic)
        if entry.jvp_joint is not None:  # containers: the tangent is built from all operand tangents at once
            tangents = [self.tangent_sym(a) for a in args]
            return entry.jvp_joint(tangents, ans, *sym_args, **sym_kwargs)
        total, contributing = None, []
        for i, arg in enumerate(args):
            if not entry.differentiable(i) or not any(n in self.varied for n in names_in(arg)):
                continue
            rule = entry.jvp_rule(i)
            if rule is None:
                self.missing_rule(stmt, forward_only=True)
                return None
            g = self.tangent_sym(arg)
            if symbolic:
                try:
                    value = rule(g, ans, *sym_args, **sym_kwargs)
                except SctError as exc:  # the rule knows this case is unsupported: say where
                    self.problems.append(Problem(str(exc), stmt.origin))
                    return None
            else:
                value = call(self.src.use(rule, _rule_name(rule, stmt.prim, i)), g, ans, *sym_args, **sym_kwargs)
            if value is None or is_zero(value):
                continue
            contributing.append(arg)
            total = value if total is None else _add(total, value)
        for value in self.keyword_tangents(stmt, entry, kwargs, ans, sym_args, sym_kwargs):
            total = value if total is None else _add(total, value)
        if total is not None and entry.broadcasting and self.may_be_smaller(stmt, args, contributing, total):
            total = call("np.broadcast_to", total, call("np.shape", ans))
        return total

    def keyword_tangents(self, stmt, entry, kwargs, ans, sym_args, sym_kwargs):
        """The tangent share of each varied keyword operand; one without a rule is refused, not zero."""
        for keyword, node in kwargs.items():
            if keyword == "keys" or not any(n in self.varied for n in names_in(node)):
                continue
            rule = entry.keywords.get(keyword, (None, None))[1]
            if rule is None:
                message = (
                    f"`{keyword}=` carries a derivative, but sct differentiates only positional operands; "
                    "pass it positionally"
                )
                self.problems.append(Problem(message, stmt.origin))
                continue
            try:
                value = rule(self.tangent_sym(node), ans, *sym_args, **sym_kwargs)
            except SctError as exc:
                self.problems.append(Problem(str(exc), stmt.origin))
                continue
            if value is not None and not is_zero(value):
                yield value

    def may_be_smaller(self, stmt, args, contributing, total) -> bool:
        """Can the summed tangent have fewer elements than the result (an operand broadcast it)?"""
        mine = self.classes.get(stmt.target)
        if mine == SCALAR or self.ranks.get(stmt.target) == 0:
            return False
        covered = {shape_class(a, self.classes) for a in contributing}
        if not isinstance(total, Sym):
            return False
        for n in names_in(total.node):
            covered.add(self.classes.get(self.primal_of.get(n, n), n))
        if mine in covered:
            return False
        others = {shape_class(a, self.classes) for a in args} - covered - {SCALAR}
        return bool(others)

    def tangent_sym(self, node):
        """An operand's tangent: ``dot_v`` for a varied variable, a zero otherwise."""
        if isinstance(node, gast.Name):
            if node.id in self.varied:
                return Sym(name(self.dot(node.id)), self.ranks.get(node.id))
            return call(zeros_like, Sym(node), ndim=self.ranks.get(node.id))
        if isinstance(node, gast.Tuple | gast.List):
            items = [self.tangent_sym(e) for e in node.elts]
            return tuple(items) if isinstance(node, gast.Tuple) else items
        return 0.0

    def symbolic(self, node):
        return rule_view(node, self.ranks)

    def missing_rule(self, stmt, forward_only=False):
        what = "forward (JVP) rule" if forward_only else "derivative rule"
        self.problems.append(Problem(no_rule_message(stmt.prim, "defjvp", what), stmt.origin))


# ---- helpers --------------------------------------------------------------------------
def _zero_sym(value) -> bool:
    """Is ``value`` a literal zero or a ``zeros_like(...)`` call (a tangent known to be zero)?"""
    if is_zero(value):
        return True
    node = getattr(value, "node", None)
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == zeros_like.__name__


def _nonzero(value):
    return None if _zero_sym(value) else value


def _add(a, b):
    """``a + b`` for tangents; containers add item by item, skipping zero items."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return type(a)(_add(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _add(a[k], b[k]) for k in a}
    if _zero_sym(a):
        return b
    if _zero_sym(b):
        return a
    positive = unsigned(getattr(b, "node", None))
    if positive is not None:
        return Sym(gast.BinOp(left=to_expr(a), op=gast.Sub(), right=positive))
    return a + b


def _if(test, body, orelse) -> gast.If:
    if not body and orelse:
        test, body, orelse = gast.UnaryOp(op=gast.Not(), operand=test), orelse, []
    return gast.If(test=test, body=body or [gast.Pass()], orelse=orelse)


def _break_if(flag) -> list:
    return [gast.If(test=name(flag), body=[gast.Break()], orelse=[])] if flag else []


def _rule_name(rule, prim, i: int) -> str:
    """The name a user's rule is called by in generated code: its own, if it has one."""
    own = getattr(rule, "__name__", "<lambda>")
    if own.isidentifier():
        return own
    return f"{getattr(prim, '__name__', 'rule')}_jvp{i}"
