"""Lowering of calls into the user's own code: functions and lambdas are inlined.

Mixed into the lowering of :mod:`sct.frontend.lower`. A call ``g(x, 2.0)`` of a plain Python
function without a derivative rule is replaced by ``g``'s lowered body, its
locals renamed so they cannot clash with the caller's, its parameters bound to
the argument atoms (keywords and defaults included), and its ``return`` value
assigned to a temporary. A global that ``g`` reads under a name the caller
uses for something else is bound under a fresh name. A lambda assigned to a
local (``f = lambda v: v * w``) is inlined where it is called, reading the
caller's variables as they are at the call. Recursion is reported: a recursive
function needs its own adjoint, which sct does not generate yet.
"""

from __future__ import annotations

import inspect
import operator
import types

import gast

from .. import nested
from ..backend.codegen import BASE_NAMESPACE
from ..backend.runtime import Pullback, deep_recursion
from ..errors import SctError, UnsupportedSyntaxError
from ..ir import Assign
from ..rules import lookup
from ..rules.table import Entry
from ..symbolic import call
from . import parse as frontend
from .functions import FunctionValue

LOAD = gast.Load()


def _name(id_):
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


class Calls:
    def __init__(self):
        self.inlining = [self.parsed.fn]  # the functions being lowered, outermost first
        self.aliases = {}  # global name in this function -> name in the generated code
        self.root = self  # kept as None (see root): an attribute holding the object itself is a reference cycle
        self.packs = {}  # generated name -> its tuple's length or its dict's keys, where known while lowering

    @property
    def root(self):
        """The outermost function's lowering: this one's own, or the caller's where a call is inlined.

        Held as None where it is this lowering itself: ``self.root = self`` made a cycle that kept the
        whole lowering (the parsed tree, the IR being built) for the cycle collector, a fifth of a
        collection's time after a large compile; freed by reference counting instead."""
        root = self._root
        return self if root is None else root

    @root.setter
    def root(self, value) -> None:
        self._root = None if value is self else value

    # ---- globals ---------------------------------------------------------------------
    def bind_global(self, global_name: str, value):
        """Record that the generated code reads ``global_name`` (as ``value``)."""
        if self.root is self:
            self.namespace[global_name] = value
            return
        root = self.root
        same = root.namespace.get(global_name, root.parsed.globals.get(global_name, _MISSING)) is value
        same = same or BASE_NAMESPACE.get(global_name) is value  # np, a helper: generated code's own names
        if same and global_name not in root.locals:
            self.namespace[global_name] = value
            return
        for known, obj in self.namespace.items():
            if obj is value and known.startswith(global_name):
                self.aliases[global_name] = known
                return
        alias = self.namer.fresh(global_name)
        self.aliases[global_name] = alias
        self.namespace[alias] = value

    def rooted(self, node):
        """A global (dotted) name as the generated code spells it."""
        root = node
        while isinstance(root, gast.Attribute):
            root = root.value
        alias = self.aliases.get(root.id) if isinstance(root, gast.Name) else None
        if alias is None:
            return node
        if isinstance(node, gast.Name):
            return _name(alias)
        return gast.Attribute(value=self.rooted(node.value), attr=node.attr, ctx=LOAD)

    # ---- f(*args, **kw) ------------------------------------------------------------------
    def note_pack(self, target: str, stmt) -> None:
        """Remember the length of a tuple (the keys of a dict) ``target`` is bound to once, for ``f(*target)``."""
        value = stmt.value
        if stmt.prim is tuple and isinstance(value, gast.Tuple):
            self.packs[target] = len(value.elts)
        elif stmt.prim is dict and isinstance(value, gast.Dict) and all(_is_str(k) for k in value.keys):
            self.packs[target] = tuple(k.value for k in value.keys)
        elif stmt.prim is None and isinstance(value, gast.Name) and value.id in self.packs:  # a copy
            self.packs[target] = self.packs[value.id]
        elif stmt.prim is operator.add and isinstance(value, gast.BinOp):  # args + (x,)
            left, right = self.pack_of(value.left), self.pack_of(value.right)
            if isinstance(left, int) and isinstance(right, int):
                self.packs[target] = left + right

    def note_structure(self, param: str, structure) -> None:
        """A parameter's tuple length or dict keys, from the structure of the argument the variant is for."""
        if not isinstance(structure, tuple) or len(structure) != 2 or structure[1][:1] == ("*",):
            return
        kind, items = structure
        if kind == "tuple":
            self.packs[param] = len(items)
        elif kind == "dict" and all(isinstance(k, str) for k, _ in items):
            self.packs[param] = tuple(k for k, _ in items)

    def pack_of(self, atom):
        """The length (an int) or keys (a tuple) of the tuple or dict ``atom`` holds, or None if not known."""
        if isinstance(atom, gast.Tuple):
            return len(atom.elts)
        if isinstance(atom, gast.Name):
            return self.packs.get(atom.id)
        return None

    def unpacked_arguments(self, node):
        """The arguments of a call with ``*args``/``**kw``, each an atom: ``(args, keywords)``, or None."""
        args, keywords = [], []
        for a in node.args:
            if not isinstance(a, gast.Starred):
                args.append(self.expr(a))
                continue
            atom = self.expr(a.value)
            length = self.pack_of(atom)
            if not isinstance(length, int):
                self.problem(a, _UNPACK % ("*", "a tuple", "(x, y) or args + (x,)"))
                return None
            args += atom.elts if isinstance(atom, gast.Tuple) else [self.item(atom, i) for i in range(length)]
        for k in node.keywords:
            if k.arg is not None:
                keywords.append(gast.keyword(arg=k.arg, value=self.expr(k.value)))
                continue
            atom = self.expr(k.value)
            keys = self.pack_of(atom)
            if not isinstance(keys, tuple):
                self.problem(k.value, _UNPACK % ("**", "a dict", "{'a': x, 'b': y}"))
                return None
            keywords += [gast.keyword(arg=key, value=self.item(atom, key)) for key in keys]
        return args, keywords

    def item(self, atom, key):
        """A temporary holding ``atom[key]``."""
        temp = self.namer.temp()
        index = gast.Constant(value=key, kind=None)
        self.stmts.append(_copy(temp, gast.Subscript(value=atom, slice=index, ctx=LOAD), self.origin))
        self.stmts[-1].prim = operator.getitem
        return _name(temp)

    # ---- functions -----------------------------------------------------------------------
    def inlinable(self, fn) -> bool:
        if not isinstance(fn, types.FunctionType) or lookup(fn) is not None:
            return False
        module = (getattr(fn, "__module__", "") or "").split(".")[0]
        return module not in _LIBRARIES  # a library's own Python source is not the user's to differentiate

    def inline_function(self, fn, args, keywords, call):
        """Lower ``fn``'s body in place of the call; returns the atom holding its value."""
        if fn in self.inlining:
            return self.recursive_call(fn, args, keywords, call)
        try:
            parsed = frontend.parse(fn)
            frontend.check_supported(parsed, helper=True)
            bound = inspect.signature(fn).bind(*args, **{k.arg: k.value for k in keywords})
        except UnsupportedSyntaxError as exc:
            self.problems.extend(exc.problems)
            return gast.Constant(value=None, kind=None)
        except (SctError, TypeError) as exc:
            self.problem(call, f"cannot inline the call of `{fn.__name__}`: {exc}")
            return gast.Constant(value=None, kind=None)
        bound.apply_defaults()
        callee = self.lowering_for(parsed)
        callee.stmts = self.stmts  # parameter copies go where the call is
        for param, value in bound.arguments.items():
            callee.bind_parameter(param, value)
        self.stmts.extend(callee.function_body(parsed.node.body))
        return _name(callee.output)

    def recursive_call(self, fn, args, keywords, call):
        """A recursive call cannot be inlined: call ``fn``'s own generated vjp and keep its pullback.

        ``t = f_with_vjp(args)`` gives ``(value, pullback)``; the value is ``t[0]`` and the
        reverse sweep asks the pullback for each operand's share.
        """
        try:
            bound = inspect.signature(fn).bind(*args, **{k.arg: k.value for k in keywords})
        except TypeError as exc:
            self.problem(call, f"cannot call `{fn.__name__}` this way: {exc}")
            return gast.Constant(value=None, kind=None)
        bound.apply_defaults()
        operands = [v if isinstance(v, gast.AST) else self.constant("default", v) for v in bound.arguments.values()]
        caller = WithVjp.of(fn)
        alias = self.namer.fresh(f"{fn.__name__}_with_vjp")
        self.root.namespace[alias] = caller
        self.namespace[alias] = caller
        record = self.namer.temp()
        self.stmts.append(_copy_call(record, alias, operands, caller, self.where(call)))
        result = self.namer.temp()
        index = gast.Constant(value=0, kind=None)
        self.stmts.append(_copy(result, gast.Subscript(value=_name(record), slice=index, ctx=LOAD), self.origin))
        self.stmts[-1].prim = operator.getitem
        return _name(result)

    def bind_parameter(self, param: str, value):

        if isinstance(value, FunctionValue):  # f(a, x) inside, where the caller passed a function
            if param in self.reassigned:
                self.problem(self.parsed.node, f"the parameter `{param}` holds a function and is assigned again")
            self.lambdas[param] = value
            return
        if isinstance(value, tuple | dict) and param in _packed(self.parsed.node.args):  # *args, **kwargs
            value = _display(self, value)
        if not isinstance(value, gast.AST):
            value = self.constant(param, value)
        if isinstance(value, gast.Name | gast.Constant) and param not in self.reassigned:
            self.current[param] = value.id if isinstance(value, gast.Name) else value
            return
        local = self.local_name(param)
        self.stmts.append(_copy(local, value, self.origin))
        self.current[param] = local
        if param not in self.unversioned:
            self.note_pack(local, self.stmts[-1])

    def constant(self, label: str, value):
        """An atom for a default argument's value."""
        if isinstance(value, bool | int | float | str | type(None)):
            return gast.Constant(value=value, kind=None)
        alias = self.namer.fresh(label)
        self.root.namespace[alias] = value
        self.namespace[alias] = value
        return _name(alias)

    def inline_lambda(self, lam, args, call):
        """Lower a local lambda's body with its parameters bound to ``args``."""
        params = [a.id for a in lam.args.args]
        if len(params) != len(args) or lam.args.vararg or lam.args.kwarg:
            self.problem(call, "call a lambda with exactly its positional parameters")
            return gast.Constant(value=None, kind=None)
        saved = {p: self.current.get(p) for p in params}
        was_local = {p: p in self.locals for p in params}
        for param, arg in zip(params, args):
            self.locals.add(param)
            if isinstance(arg, gast.Name):
                self.current[param] = arg.id
            else:
                temp = self.namer.temp()
                self.stmts.append(_copy(temp, arg, self.origin))
                self.current[param] = temp
        result = self.expr(lam.body)
        for param in params:
            if saved[param] is None:
                self.current.pop(param, None)
            else:
                self.current[param] = saved[param]
            if not was_local[param]:
                self.locals.discard(param)
        return result


_MISSING = object()
_LIBRARIES = {"numpy", "sct", "scipy"}
_UNPACK = (
    "cannot see what this `%s` unpacks: sct inlines the call, so it must be %s passed in or built "
    "in the function with a fixed size, such as %s (not a list, and not rebound in a loop or branch)"
)


def _is_str(node) -> bool:
    return isinstance(node, gast.Constant) and isinstance(node.value, str)


def _packed(args) -> set:
    """The names of a ``def``'s ``*args`` and ``**kwargs``."""
    return {a.id for a in (args.vararg, args.kwarg) if a is not None}


def _display(lowering, value):
    """The tuple (``*args``) or dict (``**kwargs``) a call packs, as a display of atoms."""
    if isinstance(value, tuple):
        return gast.Tuple(elts=[_atom(lowering, "arg", v) for v in value], ctx=LOAD)
    keys = [gast.Constant(value=k, kind=None) for k in value]
    return gast.Dict(keys=keys, values=[_atom(lowering, k, v) for k, v in value.items()])


def _atom(lowering, label, value):
    return value if isinstance(value, gast.AST) else lowering.constant(label, value)


class WithVjp:
    """``f`` called for its value and its pullback: the primitive a recursive call becomes."""

    _made: dict = {}

    def __init__(self, fn):

        self.fn = fn
        self.__name__ = f"{fn.__name__}_with_vjp"
        self.__qualname__ = self.__name__
        self.sct_entry = Entry(
            self,
            vjp=lambda i: lambda g, ans, *args: call("pullback", ans, g, i),
            jvp=lambda i: None,
        )

    @classmethod
    def of(cls, fn):
        if fn not in cls._made:
            cls._made[fn] = cls(fn)
        return cls._made[fn]

    def __call__(self, *args):

        positions = list(range(len(args)))
        sig = nested.COMPILER.signature(args)
        variant = nested.COMPILER.validated(
            self.fn,
            nested.COMPILER.compiled(self.fn, positions, sig, split=True, many=True),
            positions,
            sig,
            split=True,
            many=True,
        )
        with deep_recursion():
            value, backward = variant.function(*args)
        return value, Pullback(backward)


def _copy_call(target, func_name, args, prim, origin):

    value = gast.Call(func=_name(func_name), args=list(args), keywords=[])
    return Assign(target, value, prim, origin)


def _copy(target, value, origin):

    if isinstance(value, gast.Tuple | gast.List):  # a display of atoms builds a container (its own rule)
        return Assign(target, value, tuple if isinstance(value, gast.Tuple) else list, origin)
    if isinstance(value, gast.Dict):  # **kwargs: a dict display of atoms
        return Assign(target, value, dict, origin)
    return Assign(target, value, None, origin)
