"""Function values known when the code is compiled: what a call's callee means.

Mixed into the lowering (:mod:`sct.frontend.lower`). sct inlines the functions a
differentiated function calls, so it must know, at compile time, which function
each call calls. Beyond a module-level name that is

* a local ``def`` or lambda (a :class:`Closure`): its body is inlined where it is
  called, reading the variables of the function it was made in as they are at
  the call, as a Python closure does (also after that function returned:
  ``make_step(a)(x)``);
* a function passed in as an argument (``def predict(W, x, act=np.tanh)``): the
  compiled variant is specialised on which function it is, as on the types of
  the other arguments (:func:`sct.backend.variants.signature`), so it is :class:`Known`;
* a parameter of an inlined function bound to any of these (``fixed_point(f, a, x0)``
  calling ``f(a, x)``);
* ``functools.partial(f, ...)`` (:class:`Bound`), a bound method, an object with a
  ``__call__`` method, a list, tuple or dict display of function values indexed
  by a constant (:class:`Items`).

A name that holds a function must be bound once, and called where that binding
surely ran (not after the ``if`` it was bound in): otherwise which function is
called depends on the run, and sct refuses rather than guess.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import operator
import types

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from ..ir import Assign
from ..rules import lookup
from ..rules.containers import object_attribute
from . import parse as frontend
from .parse import LocalDef

LOAD = gast.Load()


def _name(id_):
    return gast.Name(id=id_, ctx=LOAD, annotation=None, type_comment=None)


def _none():
    return gast.Constant(value=None, kind=None)


MADE_HERE = "made here"  # an object of the user's class made inside the function (its __init__ not run by sct)


def _made_here(lowering, cls, node) -> None:
    lowering.problem(
        node,
        f"the `{cls.__name__}` is made inside the function, and sct does not run `__init__`, so it cannot know "
        "what its attributes hold; make the object outside and pass it in as an argument",
    )


class FunctionValue:
    """A function value known at compile time."""


class Closure(FunctionValue):
    """A local ``def`` (``node`` a FunctionDef) or lambda, reading ``scope``'s variables when called."""

    def __init__(self, node, scope, defaults=None):
        self.node, self.scope, self.defaults = node, scope, defaults or {}

    @property
    def label(self) -> str:
        return getattr(self.node, "name", "lambda")


class Known(FunctionValue):
    """A Python callable; ``atom`` is how generated code names it (None: bound as a constant where used)."""

    def __init__(self, value, atom=None):
        self.value, self.atom = value, atom

    @property
    def label(self) -> str:
        return getattr(self.value, "__name__", type(self.value).__name__)


class Bound(FunctionValue):
    """``functools.partial(callee, *args, **keywords)`` made in the function: the arguments are atoms."""

    def __init__(self, callee, args, keywords):
        self.callee, self.args, self.keywords = callee, args, keywords
        self.label = f"partial({callee.label})"


class Items(FunctionValue):
    """A tuple, list or dict display of function values: ``fs = [np.sin, lambda v: v ** 2]``."""

    def __init__(self, items, label="items"):
        self.items, self.label = items, label  # a list, or a dict keyed by constants


def is_object(value) -> bool:
    """An object of a class of its own (a layer, a generator): no number, array, container, module or function."""
    data = (type(None), bool, int, float, complex, str, bytes, np.ndarray, np.generic, list, tuple, dict)
    return not isinstance(value, (*data, types.ModuleType)) and not is_function(value)


def is_function(value) -> bool:
    """A value a call can only be compiled for by knowing it (a function, not data or an object with arrays)."""
    if isinstance(value, np.ndarray | np.generic | int | float | complex | str | list | tuple | dict):
        return False
    if isinstance(value, type):
        return True
    kinds = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial, np.ufunc)
    if isinstance(value, kinds) or type(value).__name__ in ("_ArrayFunctionDispatcher", "method-wrapper"):
        return True
    module = type(value).__module__
    return hasattr(value, "__sct_transform__") or module == "sct" or module.startswith("sct.")  # not sct_model


class Functions:
    # ---- what a callee expression means -------------------------------------------------
    def function_value(self, node):
        """The :class:`FunctionValue` ``node`` means at compile time, or None. May emit code (a call)."""
        if isinstance(node, gast.Name):
            return self.named_function(node)
        if isinstance(node, gast.Lambda):
            return Closure(node, self, self.default_atoms(node))
        if isinstance(node, gast.Subscript):
            return self.indexed_function(node)
        if isinstance(node, gast.Call):
            return self.made_function(node)
        if isinstance(node, gast.Attribute):
            return self.attribute_function(node)
        return None

    def callee(self, func):
        """The function value a call calls, where the plain call path does not handle it; else None."""
        if isinstance(func, gast.Name):
            held = self.lambdas.get(func.id)
            if isinstance(held, FunctionValue | gast.Lambda) and not self.check_reachable(func.id, func):
                return Known(None)
            return self.named_function(func)
        if isinstance(func, gast.Call):
            made = self.made_function(func)
            if made is not None:
                return made
            prim, atom, _ = self.primitive(func)
            held = self.function_atoms.get(atom.id) if prim is None and isinstance(atom, gast.Name) else None
            if held is None:
                self.problem(func, "sct calls only functions it knows when it compiles; this call's value is not one")
                return Known(None)
            return held
        return self.function_value(func)

    def named_function(self, node):
        held = self.lambdas.get(node.id)
        if isinstance(held, FunctionValue):
            return held
        if isinstance(held, gast.Lambda):
            return Closure(held, self)
        if held is not None or node.id in self.locals:
            return None  # a transform (lowered by sct.frontend.transforms), or data
        outer = self.enclosing_scope(node.id)
        if outer is not None:
            return outer.named_function(node)
        return self.global_function(node)

    def global_function(self, node):
        """A global naming a callable the plain call path does not handle itself."""
        if self.global_path(node) is None:
            return None
        value = self.quiet_value(node)
        if isinstance(value, functools.partial) or _callable_object(value) or _python_method(value):
            self.resolve(node)  # records the global the generated code reads
            return Known(value, self.rooted(node))
        return None

    def attribute_function(self, node):
        """``obj.method`` where ``obj`` is a global or a function value (``self.f`` of an object held constant)."""
        if self.global_path(node) is not None:
            return self.global_function(node)
        return None

    def indexed_function(self, node):
        held = self.function_value(node.value) if isinstance(node.value, gast.Name) else None
        if not isinstance(held, Items):
            return None
        try:
            key = gast.literal_eval(node.slice)
            return held.items[key]
        except (ValueError, KeyError, IndexError, TypeError):
            self.problem(node, f"index the functions in `{held.label}` with a constant (a number or a string key)")
            return Known(None)

    def made_function(self, node):
        """``functools.partial(f, ...)``, or a call of the user's function that returns a function."""
        if self.global_path(node.func) is not None and self.quiet_value(node.func) is functools.partial:
            if not node.args or any(isinstance(a, gast.Starred) for a in node.args):
                return None
            callee = self.function_argument(node.args[0])
            if callee is None:
                return None
            args = [self.argument(a) for a in node.args[1:]]
            keywords = {k.arg: self.argument(k.value) for k in node.keywords if k.arg is not None}
            return Bound(callee, args, keywords)
        return None

    def function_argument(self, node):
        """The function value an argument holds (a global function counts), or None."""
        found = self.function_value(node) if not isinstance(node, gast.Call) else self.made_function(node)
        if found is None and self.global_path(node) is not None:
            value = self.quiet_value(node)
            if is_function(value):
                self.resolve(node)
                return Known(value, self.rooted(node))
        return found

    def argument(self, node):
        """A call's argument: a :class:`FunctionValue` where it holds one, else its atom."""
        if isinstance(node, gast.Name | gast.Lambda | gast.Subscript | gast.Attribute):
            found = self.function_argument(node)
            if found is not None:
                return found
        atom = self.expr(node)
        if isinstance(node, gast.Name | gast.Attribute) and self.global_path(node) is not None:
            value = self.quiet_value(node)
            if is_object(value):  # a global object passed on: its methods are its class's
                return self.object_atom(atom, value)
        return atom

    def enclosing_scope(self, user_name):
        """The lowering of the function a local ``def`` was made in whose variable ``user_name`` is, or None."""
        scope = self.enclosing
        while scope is not None:
            if user_name in scope.locals:
                return scope
            scope = scope.enclosing
        return None

    # ---- binding a name to a function value -------------------------------------------------
    def held_function(self, value):
        """The function value an assignment binds, where it is one (without emitting anything)."""
        if isinstance(value, LocalDef):
            return Closure(value.node, self, self.default_atoms(value.node))
        if isinstance(value, gast.Lambda):  # its defaults evaluated where it is made, as Python does
            return Closure(value, self, self.default_atoms(value))
        if isinstance(value, gast.Name | gast.Subscript | gast.Attribute):
            return self.function_argument(value)
        if isinstance(value, gast.Tuple | gast.List) and value.elts:
            items = [self.function_argument(e) for e in value.elts]
            return Items(items) if all(i is not None for i in items) else None
        if isinstance(value, gast.Dict) and value.keys and all(_constant_key(k) for k in value.keys):
            items = [self.function_argument(v) for v in value.values]
            if all(i is not None for i in items):
                return Items({k.value: i for k, i in zip(value.keys, items)})
        if isinstance(value, gast.Call):
            return self.made_function(value)
        return None

    def hold(self, user_name, held, node) -> None:
        """Bind ``user_name`` to a function value: it must be its only binding."""
        if self.bindings.get(user_name, 0) > 1:
            self.problem(
                node,
                f"`{user_name}` holds a function here and is bound elsewhere too; sct compiles each call for "
                "the function it calls, so give each function its own name",
            )
        self.lambdas[user_name] = held
        self.held_in[user_name] = tuple(self.block_path)

    def check_reachable(self, user_name, node) -> bool:
        """A call of a held function where its binding surely ran."""
        where = self.held_in.get(user_name)
        if where is None or tuple(self.block_path[: len(where)]) == where:
            return True
        self.problem(
            node,
            f"`{user_name}` is bound to a function inside an `if` or loop and called outside it; define it "
            "before the `if` (or pick the function with an `if` around the calls)",
        )
        return False

    def default_atoms(self, node) -> dict:
        """A local ``def``'s default values, evaluated where the ``def`` runs (as Python does)."""
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        found = {}
        for param, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults):
            found[param.id] = self.argument(default)
        for param, default in zip(args.kwonlyargs, args.kw_defaults):
            if default is not None:
                found[param.id] = self.argument(default)
        return found

    # ---- calling a function value -------------------------------------------------------------
    def call_function_value(self, held, args, keywords, node):
        """The atom holding the value of ``held(*args, **keywords)`` (``keywords``: name -> atom)."""
        if isinstance(held, Bound):
            return self.call_function_value(held.callee, held.args + args, {**held.keywords, **keywords}, node)
        if isinstance(held, Items):
            self.problem(node, f"`{held.label}` is a collection of functions; call one of them: `{held.label}[0](x)`")
            return _none()
        if isinstance(held, Closure):
            return self.call_closure(held, args, keywords, node)
        return self.call_known(held, args, keywords, node)

    def call_known(self, held, args, keywords, node):
        value = held.value
        if value is None:
            return _none()
        if isinstance(value, functools.partial):
            args = [self.constant("arg", a) for a in value.args] + args
            keywords = {**{k: self.constant(k, v) for k, v in value.keywords.items()}, **keywords}
            return self.call_known(Known(value.func), args, keywords, node)
        if _python_method(value):  # obj.method: its function, with obj as self
            receiver = self.object_atom(self.constant("self", value.__self__), value.__self__)
            return self.call_known(Known(value.__func__), [receiver, *args], keywords, node)
        if _callable_object(value):  # an object with a __call__ method written in Python
            receiver = self.object_atom(held.atom if held.atom is not None else self.constant("obj", value), value)
            return self.call_known(Known(type(value).__call__), [receiver, *args], keywords, node)
        if self.inlinable(value):
            return self.inline_function(value, args, _keywords(keywords), node)
        call = gast.copy_location(gast.Call(func=self.known_atom(held), args=list(args), keywords=[]), node)
        call.keywords = _keywords(keywords)
        return self.primitive_call(value, call, node)

    def known_atom(self, held):
        """How generated code names the function ``held`` (a :class:`Known`): its own atom, or a constant."""
        return held.atom if held.atom is not None else self.constant(getattr(held.value, "__name__", "fn"), held.value)

    def class_atom(self, cls):
        """The class ``cls`` as a constant of the generated code, whose attributes are read live."""
        return self.object_atom(self.constant(cls.__name__, cls), cls)

    def object_atom(self, atom, value):
        """A name for ``atom``, which holds the object ``value``: its attributes are read, its methods called."""

        if not isinstance(atom, gast.Name):
            temp = self.namer.temp()
            self.stmts.append(Assign(temp, atom, None, self.origin))
            atom = _name(temp)
        self.objects[atom.id] = (value, True, None) if isinstance(value, type) else (type(value), False, None)
        return atom

    def object_attribute(self, receiver, attr, node):
        """(rule key, node, is-method) for ``obj.attr`` where ``obj`` (``receiver``) holds an object."""

        cls, _, attributes = self.objects[receiver.id]
        if attributes is MADE_HERE:
            _made_here(self, cls, node)
            return None, _none(), False
        if attributes is None:  # read from the object, no derivative
            return object_attribute, gast.Attribute(value=receiver, attr=attr, ctx=LOAD), False
        if attr in attributes:  # an object differentiated by, held as the dict of its attributes
            return operator.getitem, gast.Subscript(value=receiver, slice=gast.Constant(value=attr, kind=None)), False
        if not hasattr(cls, attr):
            self.problem(node, f"a {cls.__name__} has no attribute `{attr}`")
            return None, _none(), False
        owner = self.class_atom(cls)  # a class attribute, read live
        return object_attribute, gast.Attribute(value=owner, attr=attr, ctx=LOAD), False

    def call_method(self, receiver, attr, args, keywords, node):
        """``obj.attr(...)`` where ``obj`` (``receiver``) holds an object of a known class (or a class)."""

        cls, is_class, attributes = self.objects[receiver.id]
        if attributes is MADE_HERE:
            _made_here(self, cls, node)
            return _none()
        static = inspect.getattr_static(cls, attr, None)
        if isinstance(static, staticmethod):
            return self.call_known(Known(static.__func__), args, keywords, node)
        if isinstance(static, classmethod):
            return self.call_known(Known(static.__func__), [self.class_atom(cls), *args], keywords, node)
        if isinstance(static, types.FunctionType):
            return self.call_known(Known(static), args if is_class else [receiver, *args], keywords, node)
        method = getattr(cls, attr, None)
        if static is None or not callable(method):
            self.problem(
                node,
                f"`.{attr}` of a {cls.__name__} is not a method of its class (an attribute holding a function?); "
                "sct compiles each call for the function it calls: pass the function in as an argument",
            )
            return _none()
        if attr == "shuffle" and cls.__module__.startswith("numpy.random"):
            self.problem(
                node,
                "`.shuffle(x)` permutes `x` in place, which sct does not follow (the gradient would not be "
                "permuted); use the permuted copy: `x = x[rng.permutation(len(x))]`",
            )
            return _none()
        call = gast.Call(func=gast.Attribute(value=receiver, attr=attr, ctx=LOAD), args=[], keywords=[])
        call.args = self.atoms_of(args, node)
        call.keywords = _keywords(self.atoms_of(keywords, node))
        temp = self.namer.temp()
        self.stmts.append(Assign(temp, call, method, self.where(node)))  # rng.normal(...): its rule, if any
        return _name(temp)

    def primitive_call(self, fn, call, node):
        """Emit a call of a function sct does not inline (its rule is looked up later); returns its atom."""

        call.args = self.atoms_of(call.args, node)
        for k in call.keywords:
            k.value = self.atoms_of([k.value], node)[0]
        temp = self.namer.temp()
        self.stmts.append(Assign(temp, call, fn, self.where(node)))
        return _name(temp)

    def atoms_of(self, values, node):
        """Atoms for arguments going to a function that is not inlined: a function value must be a plain one."""
        if isinstance(values, dict):
            return {k: self.atoms_of([v], node)[0] for k, v in values.items()}
        atoms = []
        for v in values:
            if isinstance(v, Known) and v.value is None:  # refused where it was made: said there
                v = _none()
            elif isinstance(v, Known) and not isinstance(v.value, functools.partial):
                value, v = v.value, self.known_atom(v)
                if _callable_object(value):  # an object with __call__: also an object whose methods are called
                    v = self.object_atom(v, value)
            elif isinstance(v, FunctionValue):
                self.problem(
                    node,
                    f"`{v.label}` is a local function or a partial, passed to a function sct does not inline; "
                    "define it at module level (a `def`), or call it here",
                )
                v = _none()
            atoms.append(v)
        return atoms

    def call_closure(self, held, args, keywords, node):
        lam = held.node
        if isinstance(lam, gast.Lambda) and not (lam.args.defaults or lam.args.kwonlyargs or keywords):
            if lam.args.vararg or lam.args.kwarg:
                self.problem(node, "call a lambda with exactly its positional parameters")
                return _none()
            scope = held.scope
            if scope is self:
                return self.inline_lambda(lam, args, node)
            saved = scope.stmts, scope.origin
            scope.stmts, scope.origin = self.stmts, self.origin
            try:
                return scope.inline_lambda(lam, args, node)
            finally:
                scope.stmts, scope.origin = saved
        if isinstance(lam, gast.Lambda):
            lam = gast.FunctionDef(
                name="lambda",
                args=lam.args,
                body=[gast.Return(value=lam.body)],
                decorator_list=[],
                returns=None,
                type_comment=None,
                type_params=[],
            )
            gast.copy_location(lam, held.node)
        return self.inline_local(held, lam, args, keywords, node)

    def inline_local(self, held, node, args, keywords, call):
        """Inline a local ``def``: its own locals renamed, its free names read from the scope it was made in."""

        if any(n is node for n in self.inlining):
            self.problem(
                call,
                f"the local function `{node.name}` calls itself; sct inlines local functions, so a recursive "
                "one must be defined at module level (sct then calls its own generated gradient)",
            )
            return _none()
        scope = held.scope
        parsed = dataclasses.replace(scope.parsed, node=node)
        try:
            frontend.check_supported(parsed, helper=True)
            bound = _signature(node, held.defaults).bind(*args, **keywords)
        except UnsupportedSyntaxError as exc:
            self.problems.extend(exc.problems)
            return _none()
        except TypeError as exc:
            self.problem(call, f"cannot call the local function `{node.name}` this way: {exc}")
            return _none()
        bound.apply_defaults()
        callee = self.lowering_for(parsed)
        callee.enclosing = scope
        callee.inlining = self.inlining + [node]
        callee.stmts = self.stmts
        for param, value in bound.arguments.items():
            callee.bind_parameter(param, value)
        self.stmts.extend(callee.function_body(node.body))
        return _name(callee.output)

    # ---- returning a function value -----------------------------------------------------------
    def returned_function(self, value) -> bool:
        """``return step`` where ``step`` holds a function: the call's value is that function."""
        if self.root is self or value is None:
            return False
        held = self.held_function(value) if not isinstance(value, gast.Call) else None
        if held is None:
            return False
        returns = [n for n in gast.walk(self.parsed.node) if isinstance(n, gast.Return)]
        if len(returns) != 1 or self.loops or returns[0] is not self.parsed.node.body[-1]:
            self.problem(value, "a function that returns a function must do so in one `return`, its last statement")
        self.function_atoms[self.output] = held
        return True


def _constant_key(node) -> bool:
    return isinstance(node, gast.Constant) and isinstance(node.value, str | int)


def _keywords(keywords: dict) -> list:
    return [gast.keyword(arg=k, value=v) for k, v in keywords.items()]


def _python_method(value) -> bool:
    """A bound method of the user's own Python code (a library's, or one with a rule, is called as it is)."""

    if not (isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType)):
        return False
    module = (getattr(value.__func__, "__module__", "") or "").split(".")[0]
    return module not in ("sct", "numpy", "scipy") and lookup(value) is None


def _callable_object(value) -> bool:
    """An instance (not a function, class or module) whose class defines ``__call__`` in Python."""

    if isinstance(value, type | types.FunctionType | types.ModuleType | types.MethodType | functools.partial):
        return False
    if (type(value).__module__ or "").split(".")[0] in ("sct", "numpy", "scipy") or lookup(value) is not None:
        return False  # sct's own objects (a rule, a gradient) and libraries' are called, not inlined
    return isinstance(vars(type(value)).get("__call__") or _inherited_call(type(value)), types.FunctionType)


def _inherited_call(cls):
    return next((vars(c)["__call__"] for c in cls.__mro__ if "__call__" in vars(c)), None)


def _signature(node, defaults) -> inspect.Signature:
    """The signature of a local ``def`` (defaults: parameter -> atom)."""
    args, params = node.args, []
    empty, kind = inspect.Parameter.empty, inspect.Parameter
    for a in args.posonlyargs:
        params.append(inspect.Parameter(a.id, kind.POSITIONAL_ONLY, default=defaults.get(a.id, empty)))
    for a in args.args:
        params.append(inspect.Parameter(a.id, kind.POSITIONAL_OR_KEYWORD, default=defaults.get(a.id, empty)))
    if args.vararg is not None:
        params.append(inspect.Parameter(args.vararg.id, inspect.Parameter.VAR_POSITIONAL))
    for a in args.kwonlyargs:
        params.append(inspect.Parameter(a.id, inspect.Parameter.KEYWORD_ONLY, default=defaults.get(a.id, empty)))
    if args.kwarg is not None:
        params.append(inspect.Parameter(args.kwarg.id, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)
