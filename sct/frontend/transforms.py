"""Lowering calls of sct's own transforms inside a function being differentiated.

Mixed into the lowering (:mod:`sct.frontend.lower`). ``sct.grad(g)(x)``, ``sct.jvp(g, (x,), (v,))``,
``sct.vjp(g, x)`` and the others compute with generated code, which is ordinary
Python source: such a call is lowered as a call of that generated function
(:func:`sct.higher.for_call`), inlined like any user function. So the outer
derivative differentiates the inner one's source, and stays readable source.

The transform and its function must be known when the code is compiled: a
module-level function (or a transform of one), a lambda written in place or
assigned to a local, with constant options (``wrt=1``). A lambda's free local
variables become extra parameters of the function it is compiled to (so the
outer derivative sees them). A transform of a function only known at run time
(a parameter) is refused.
"""

from __future__ import annotations

import ast
import inspect

import gast

from .. import nested
from ..backend import codegen
from ..errors import SctError
from .control import Lowered
from .functions import FunctionValue

LOAD = gast.Load()


def _makers() -> dict:
    """Transforms that make a function, ``T(g, options)(args)``; the others are called with the arguments."""
    return nested.COMPILER.makers


def _direct() -> dict:
    return nested.COMPILER.direct


def _name(id_):
    return gast.Name(id=id_, ctx=LOAD, annotation=None, type_comment=None)


class _Refused(Exception):
    """A transform call sct cannot compile; the message says which and why."""


class Static:
    """A function known at compile time: ``fn`` takes the user's arguments, then ``free`` (locals a lambda reads)."""

    def __init__(self, fn, free=(), own=None):
        self.fn, self.free = fn, list(free)
        self.own = own  # the number of the user's parameters (those before ``free``)


class PendingVjp:
    """``vjp_fn`` of ``out, vjp_fn = sct.vjp(g, x)``: ``g`` and the atoms of its primals at the ``vjp`` call."""

    def __init__(self, static, primals, free):
        self.static, self.primals, self.free = static, primals, free


class Transforms:
    # ---- recognising ----------------------------------------------------------------
    def quiet_value(self, node):
        """The object a global (dotted) name means, without recording anything; None if it is none."""
        path = self.global_path(node)
        if path is None:
            return None
        try:
            value = self.parsed.resolve(path[0])
            for part in path[1:]:
                value = getattr(value, part)
        except AttributeError:
            return None
        return value

    def maker_of(self, node):
        """``"grad"`` for a call ``sct.grad(...)`` (and the other transforms that make functions)."""
        if isinstance(node, gast.Call):
            return _lookup(_makers(), self.quiet_value(node.func))
        return None

    def is_transform_call(self, node) -> bool:
        if not isinstance(node, gast.Call):
            return False
        func = node.func
        if isinstance(func, gast.Name) and func.id in self.lambdas:
            return not isinstance(self.lambdas[func.id], gast.Lambda | FunctionValue)
        if self.maker_of(func) is not None:
            return True
        value = self.quiet_value(func)
        if _lookup(_direct(), value) is not None or isinstance(value, nested.COMPILER.gradient_types):
            return True
        return isinstance(getattr(value, "__sct_transform__", None), tuple)  # J = sct.jacobian(f) at module level

    def is_vjp_call(self, node) -> bool:
        return isinstance(node, gast.Call) and _lookup(_direct(), self.quiet_value(node.func)) == "vjp"

    # ---- lowering -------------------------------------------------------------------
    def transform_call(self, node):
        """An atom holding the value of a call of (or through) a transform."""
        try:
            return self._transform_call(node)
        except _Refused as exc:
            self.problem(node, str(exc))
        except SctError as exc:  # compiling the inner transform failed
            self.problem(node, f"cannot compile the inner transform: {exc}")
        return gast.Constant(value=None, kind=None)

    def _transform_call(self, node):
        func = node.func
        held = self.lambdas.get(func.id) if isinstance(func, gast.Name) else None
        if isinstance(held, PendingVjp):
            return self.call_vjp_fn(held, node)
        direct = _lookup(_direct(), self.quiet_value(func))
        if direct == "vjp":
            raise _Refused("write `out, vjp_fn = sct.vjp(f, x)` and call `vjp_fn(cotangent)`")
        if direct is not None:
            return self.call_direct(direct, node)
        static = self.static_function(held if held is not None else func, node)
        keywords = [gast.keyword(arg=k.arg, value=self.expr(k.value)) for k in node.keywords]
        if keywords and static.free:
            raise _Refused("call a transform of a lambda with positional arguments only")
        args = self.transform_args(node)
        if not static.free:  # sct.grad(g)(x) where g(x, p=2.0): the defaults too, as arguments
            args, keywords = self.with_defaults(static.fn, args, keywords), []
        made = _for_call("call", static.fn, len(args) + len(keywords) + len(static.free))
        return self.inline_function(made, args + self.free_atoms(static), keywords, node)

    def with_defaults(self, fn, args, keywords) -> list:
        """The atoms of every positional parameter of ``fn``, in order: given, or the default."""
        try:
            bound = inspect.signature(fn).bind(*args, **{k.arg: k.value for k in keywords})
        except (TypeError, ValueError) as exc:
            raise _Refused(f"cannot call {getattr(fn, '__name__', fn)} this way: {exc}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise _Refused("a transformed function with keyword-only parameters: make them positional")
        return [a if isinstance(a, gast.AST) else self.constant("default", a) for a in bound.args]

    def call_direct(self, kind, node):
        """``sct.jvp(g, primals, tangents)`` or ``sct.hvp(...)``: the tangent code of g (or of its gradient)."""
        if len(node.args) != 3 or node.keywords:
            raise _Refused(f"call sct.{kind} as sct.{kind}(f, (x, ...), (v, ...))")
        static = self.static_function(node.args[0], node)
        primals, tangents = (self.display(a, kind) for a in node.args[1:])
        if len(primals) != len(tangents):
            raise _Refused(f"sct.{kind} needs one tangent per primal")
        if static.own is not None and len(primals) != static.own:
            raise _Refused(f"sct.{kind} of a lambda needs one primal per parameter of the lambda")
        made = _for_call(kind, static.fn, len(primals) + len(static.free), len(primals))
        args = [self.expr(p) for p in primals] + self.free_atoms(static) + [self.expr(t) for t in tangents]
        return self.inline_function(made, args, [], node)

    def unpack_vjp(self, target, value):
        """``out, vjp_fn = sct.vjp(g, x, ...)``: ``out`` is ``g(x, ...)``; ``vjp_fn`` is remembered for its calls."""
        try:
            return self._unpack_vjp(target, value)
        except _Refused as exc:
            self.problem(value, str(exc))
        except SctError as exc:
            self.problem(value, f"cannot compile the inner transform: {exc}")
        return gast.Constant(value=None, kind=None)

    def _unpack_vjp(self, target, value):
        if value.keywords or not value.args:
            raise _Refused("write `out, vjp_fn = sct.vjp(f, x, ...)` (has_aux is not supported inside)")
        if len(target.elts) != 2 or not isinstance(target.elts[1], gast.Name):
            raise _Refused("write `out, vjp_fn = sct.vjp(f, x, ...)`")
        static = self.static_function(value.args[0], value)
        primals = [self.expr(a) for a in value.args[1:]]
        if static.own is not None and len(primals) != static.own:
            raise _Refused("sct.vjp of a lambda needs one primal per parameter of the lambda")
        free = self.free_atoms(static)
        made = _for_call("value", static.fn, len(primals) + len(free))
        out = self.inline_function(made, primals + free, [], value)
        self.assign(target.elts[0], Lowered(out))
        self.lambdas[target.elts[1].id] = PendingVjp(static, primals, free)
        return out

    def call_vjp_fn(self, pending, node):
        if len(node.args) != 1 or node.keywords:
            raise _Refused("call vjp_fn with one cotangent: vjp_fn(g)")
        made = _for_call("vjp", pending.static.fn, len(pending.primals) + len(pending.free), len(pending.primals))
        args = pending.primals + pending.free + [self.expr(node.args[0])]
        return self.inline_function(made, args, [], node)

    # ---- the function a transform is of -------------------------------------------------
    def static_function(self, node, call) -> Static:
        """The function ``node`` means, built at compile time (a transform of a transform, a lambda)."""
        if isinstance(node, gast.Name) and isinstance(self.lambdas.get(node.id), gast.AST):
            node = self.lambdas[node.id]
        if isinstance(node, gast.Lambda):
            return self.lambda_function(node)
        kind = self.maker_of(node)
        if kind is not None:
            if not node.args:
                raise _Refused(f"sct.{kind} needs the function to transform as its first argument")
            inner = self.static_function(node.args[0], call)
            options = {k.arg: _constant(k.value, f"the option {k.arg}= of sct.{kind}") for k in node.keywords}
            rest = [_constant(a, f"an argument of sct.{kind}") for a in node.args[1:]]
            made = _made(kind, _lookup(_makers(), self.quiet_value(node.func), key=True), inner.fn, rest, options)
            if inner.free:
                _check_own(made, inner, kind)
            return Static(made, inner.free, inner.own)
        value = self.quiet_value(node) if self.global_path(node) is not None else None
        if value is None or not callable(value):
            what = codegen.unparse(node) if isinstance(node, gast.AST) else "?"
            raise _Refused(
                f"`{what}` is a function known only at run time; sct differentiates a transform (sct.grad, "
                "sct.jvp, ...) of a module-level function or a lambda written in place"
            )
        made = getattr(value, "__sct_transform__", None)
        if isinstance(made, tuple):  # sct.jacobian(f) or sct.hessian(f), made outside
            kind, fn, options = made
            return Static(_made(kind, None, fn, [], dict(options)))
        return Static(value)

    def lambda_function(self, lam) -> Static:
        """A lambda as a module-level function of its parameters and then of the locals it reads."""
        if lam.args.vararg or lam.args.kwarg or lam.args.kwonlyargs or lam.args.defaults:
            raise _Refused("a lambda given to a transform takes plain positional parameters")
        params = [a.id for a in lam.args.args]
        read = sorted({n.id for n in gast.walk(lam.body) if isinstance(n, gast.Name)} - set(params))
        free = [n for n in read if n in self.locals]
        for n in free:
            if n in self.lambdas:
                raise _Refused(f"a lambda given to a transform calls the local `{n}`; make it a module-level function")
        closure = {}
        for n in read:
            if n not in self.locals and n in self.parsed.closure:
                closure[n] = self.parsed.closure[n]
        label = "lambda_fn"  # the same name each time: the generated source stays deterministic
        body = codegen.unparse(gast.Return(value=lam.body))
        text = f"def {label}({', '.join(params + free)}):\n    {body}\n"
        fn = codegen.compile_source(text, label, self.parsed.globals, closure, label)
        return Static(fn, free, own=len(params))

    def free_atoms(self, static) -> list:
        return [self.atom(_name(n)) for n in static.free]

    def transform_args(self, node) -> list:
        if any(isinstance(a, gast.Starred) for a in node.args):
            raise _Refused("call a transformed function without `*args`")
        return [self.expr(a) for a in node.args]

    def display(self, node, kind) -> list:
        if not isinstance(node, gast.Tuple | gast.List):
            raise _Refused(f"write the primals and tangents of sct.{kind} as tuples: sct.{kind}(f, (x,), (v,))")
        return list(node.elts)


def _lookup(table, value, key=False):
    for fn, kind in table.items():
        if value is fn:
            return fn if key else kind
    return None


def _constant(node, what):
    try:
        return ast.literal_eval(codegen.unparse(node))
    except (ValueError, SyntaxError):
        raise _Refused(f"{what} must be a constant (it is read when the code is compiled)") from None


def _check_own(made, inner, kind):
    positions = getattr(made, "positions", None)
    if positions is not None and inner.own is not None and max(positions) >= inner.own:
        raise _Refused(f"sct.{kind} of a lambda: wrt names a variable the lambda reads, not one of its parameters")


def _for_call(kind, fn, nparams, nprimals=None):
    try:
        return nested.COMPILER.for_call(kind, fn, nparams, nprimals)
    except nested.COMPILER.NotGenerated as exc:
        raise _Refused(str(exc)) from None


def _made(kind, maker, fn, rest, options):
    """The transform object ``maker(fn, *rest, **options)``; sct.jacobian and sct.hessian as generated source."""
    if kind not in ("jacobian", "hessian"):
        return maker(fn, *rest, **options)
    if kind == "jacobian":
        mode = options.pop("mode", "rev")
        if mode not in ("rev", "fwd"):
            raise _Refused(f"sct.jacobian(mode={mode!r}): use 'rev' or 'fwd'")
    try:
        wrt = (rest + [options.pop("wrt", 0)])[0]
        if options or len(rest) > 1:
            raise _Refused(f"sct.{kind} takes f and wrt= inside a function being differentiated")
        return (
            nested.COMPILER.jacobian_of(fn, wrt, mode=mode)
            if kind == "jacobian"
            else nested.COMPILER.hessian_of(fn, wrt)
        )
    except nested.COMPILER.NotGenerated as exc:
        raise _Refused(str(exc)) from None
