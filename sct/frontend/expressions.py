"""Lowering expressions: each operation of an expression becomes one statement over atoms.

Mixed into the lowering (:mod:`sct.frontend.lower`). ``expr(node)`` returns an atom (a
variable, a constant, a dotted global) for ``node`` after emitting the
statements that compute it, one primitive each (``t = x * y``); ``primitive``
says which rule a statement's operation is keyed by. Dotted names rooted at a
global (``np.linalg.inv``) are resolved to the objects they mean when the code
is compiled.
"""

from __future__ import annotations

import operator

import gast
import numpy as np

from ..backend import trees
from ..ir import ATTRIBUTES, BINOPS, COMPARES, IDENTITY_TESTS, METHODS, UNARYOPS, Assign
from ..rules.containers import list_call, tuple_call
from ..rules.np_core import astype_complex, astype_float, astype_integer
from ..rules.pymath import formatted
from ..rules.table import REQUIRED, lookup
from ..symbolic import to_expr
from .control import Lowered
from .functions import MADE_HERE, FunctionValue

LOAD = gast.Load()
_JOINS = (np.r_, np.c_)  # np.r_[a, b]: a primitive of its own (sct/rules/np_shapes.py), not indexing


def _by_position(fn, args, keywords):
    """Keyword arguments moved to their positions where ``fn``'s rule declares its parameters
    (:func:`sct.rules.table.positional`): rules differentiate positional operands only."""
    entry = lookup(fn) if keywords else None
    params = entry.params if entry is not None else None
    if not params:
        return args, keywords
    names = [p for p, _ in params]
    given = {k.arg: k.value for k in keywords}
    if any(n in given for n in names[: len(args)]):
        return args, keywords  # the same parameter twice: Python's own TypeError says so
    moved = [names.index(n) for n in given if n in names]
    if not moved:
        return args, keywords
    filled = list(args)
    for param, default in params[len(args) : max(moved) + 1]:
        if param not in given and default is REQUIRED:
            return args, keywords  # a required operand is missing: Python's own TypeError says so
        filled.append(given[param] if param in given else to_expr(default))
    return filled, [k for k in keywords if k.arg not in names[: len(filled)]]


class Computed(gast.expr):
    """An operation already lowered: its rule key, the node over atoms, and whether it is a method."""

    _fields = ()

    def __init__(self, prim, flat, method):
        super().__init__()
        self.prim, self.flat, self.method = prim, flat, method


def name(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=LOAD, annotation=None, type_comment=None)


def _negative_literal(node) -> bool:
    return (
        isinstance(node, gast.UnaryOp)
        and isinstance(node.op, gast.USub)
        and isinstance(node.operand, gast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    )


def _unpacks(node) -> bool:
    """A call with ``*args`` or ``**kw`` (other than ``zip(*rows)``)."""
    starred = any(isinstance(a, gast.Starred) for a in node.args)
    if starred and isinstance(node.func, gast.Name) and node.func.id == "zip" and len(node.args) == 1:
        return False
    return starred or any(k.arg is None for k in node.keywords)


def _names(node) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


# Builtins whose call is a primitive of its own: ``list(xs)`` copies, where the display ``[x]`` builds.
_CALLS = {list: list_call, tuple: tuple_call}
# Builtins that iterate their (first) argument at once: there a generator, map, filter or reversed
# gives what the list of its items gives. Elsewhere these are lazy iterators, refused.
_CONSUMERS = (sum, max, min, list, tuple, sorted)
_LAZY = (map, filter, reversed)
PIECEWISE_MESSAGE = (
    "np.piecewise calls the functions in its list, and sct does not differentiate functions held as values "
    "yet; compute each piece and choose: np.select([c1, c2], [f1(x), f2(x)]) (or np.where(c, f1(x), f2(x)))"
)


# Calls that make an object of a known class, whose methods are then called (no derivative).
_MAKES_OBJECT = {
    np.random.RandomState: np.random.RandomState,
    np.random.default_rng: np.random.Generator,
    np.random.Generator: np.random.Generator,
}


def _users_class(cls) -> bool:
    """A class of the user's (not a builtin, NumPy's or sct's: ``float``, ``np.float32``, an exception)."""
    module = (cls.__module__ or "").split(".")[0]
    return module not in ("builtins", "numpy", "sct", "scipy") and not issubclass(cls, BaseException)


def _hashable(fn) -> bool:
    try:
        hash(fn)
    except TypeError:
        return False
    return True


def _is(fn, *candidates) -> bool:
    return any(fn is c for c in candidates)


def _is_none(node) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def _spelling(func) -> str:
    return func.id if isinstance(func, gast.Name) else getattr(func, "attr", "call")


# NumPy functions that write into an array they are given and return None (or the array): sct's
# values are never updated in place by a call, so these would be read as doing nothing.
_WRITES_INTO_ARGUMENT = (
    np.copyto,
    np.put,
    np.place,
    np.putmask,
    np.put_along_axis,
    np.fill_diagonal,
    np.random.shuffle,
)


def _library_callable(fn) -> bool:
    """NumPy's or SciPy's: a ufunc, a method of one (``np.add.at``), or a function of those packages."""
    if isinstance(fn, np.ufunc) or isinstance(getattr(fn, "__self__", None), np.ufunc):
        return True
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] in ("numpy", "scipy")


def _dotted(func) -> str:
    """``np.add.at`` for the callee ``np.add.at`` as written (its last name when it is not a plain path)."""
    if isinstance(func, gast.Attribute):
        head = _dotted(func.value) if isinstance(func.value, gast.Name | gast.Attribute) else None
        return f"{head}.{func.attr}" if head else func.attr
    return _spelling(func)


def in_place_message(fn, node) -> str | None:
    """Why the call ``node`` of ``fn`` would write into an array argument, or None when it does not.

    ``np.multiply.at(z, i, v)``, ``np.copyto(z, v)``, ``np.exp(x, out=z)``, ``np.negative(z, z)``: sct's
    values are never changed in place by a call, so it would go on with ``z`` as it was (a wrong
    value and gradient); it refuses the call instead.
    """
    spelled = _dotted(node.func)
    if any(k.arg == "out" for k in node.keywords) and _library_callable(fn):
        return (
            f"`{spelled}(..., out=...)` writes its result into an existing array, which sct does not follow; "
            f"assign the result to a name instead: `z = {spelled}(...)`"
        )
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc) and getattr(fn, "__name__", "") == "at":
        if owner in (np.add, np.subtract):  # followed as a statement of its own (sct.frontend.lower.update_at)
            return (
                f"`{spelled}(a, index, v)` returns None and updates `a` in place; sct follows it only as a "
                f"statement of its own, `{spelled}(a, index, v)` on its line, with `a` the name of an array"
            )
        return (
            f"`{spelled}(a, index, v)` updates `a` in place, which sct does not follow (of the ufuncs' `.at`, sct "
            f"follows `np.add.at` and `np.subtract.at`); compute the new array with an assignment (`a = a.copy()` "
            f"then `a[index] = ...`)"
        )
    if any(k.arg == "overwrite_input" for k in node.keywords) and _library_callable(fn):
        return (
            f"`{spelled}(..., overwrite_input=...)` may reorder the array it is given, which sct does not "
            f"follow; leave `overwrite_input` out"
        )
    if isinstance(fn, np.ufunc) and any(k.arg == "where" for k in node.keywords):
        return (
            f"`{spelled}(..., where=...)` leaves the other elements of its result unset; choose with "
            f"`np.where(mask, {spelled}(x), other)` instead"
        )
    if isinstance(fn, np.ufunc) and len(node.args) > fn.nin:
        return (
            f"`{spelled}` with {len(node.args)} positional arguments writes its result into the last "
            f"(its `out`), which sct does not follow; assign the result instead: `z = {spelled}(...)`"
        )
    if fn is np.random.shuffle:
        return (
            f"`{spelled}(x)` permutes `x` in place, which sct does not follow (the gradient would not be "
            "permuted); use the permuted copy: `x = x[np.random.permutation(len(x))]`"
        )
    if any(fn is f for f in _WRITES_INTO_ARGUMENT):
        return (
            f"`{spelled}` writes into the array it is given, which sct does not follow; build the "
            "new array with an assignment instead (`z = np.where(mask, v, z)`, `z = v + 0 * z`, `z[i] = v`)"
        )
    return None


def _lazy_message(what: str) -> str:
    return (
        f"{what} is a lazy iterator; sct supports it only where it is consumed at once, as the argument "
        "of sum, min, max, list, tuple or sorted (`sum(w ** 2 for w in ws)`, `list(map(f, xs))`); "
        "elsewhere (stored in a variable, iterated by a `for` or twice) make it a list first: "
        "a list comprehension `[f(v) for v in xs]`, or `list(...)`"
    )


# Dict methods, as the helpers that return lists (``for k, v in d.items()`` indexes the list).
_DICT_METHODS = {"items": trees.dict_items, "values": trees.dict_values, "keys": trees.dict_keys, "get": trees.dict_get}


class Expressions:
    # ---- expressions ---------------------------------------------------------------
    def emit(self, target: str, value, overwrites=False):
        """Emit ``target = value`` with ``value`` made one primitive over atoms."""
        prim, flat, method = self.primitive(value)
        if overwrites and target in _names(flat) and not isinstance(value, Lowered):
            # ``y = y * x`` reads y and overwrites it: compute into a temporary first.
            temp = self.namer.temp()
            self.stmts.append(Assign(temp, flat, prim, self.where(value), method))
            prim, flat, method = None, name(temp), False
        self.stmts.append(Assign(target, flat, prim, self.where(value), method))

    def where(self, node):
        """The user's location of ``node``, or of the statement it belongs to."""
        return self.parsed.location(node) if hasattr(node, "lineno") else self.origin

    def expr(self, node, keep_call=False):
        """An atom for ``node``, emitting the statements that compute it."""
        if isinstance(node, Lowered):
            return node.atom
        if self.is_atom(node):
            return self.atom(node)
        if _negative_literal(node):
            return gast.Constant(value=-node.operand.value, kind=None)
        if isinstance(node, gast.Tuple | gast.List) and not keep_call:
            return type(node)(elts=[self.expr(e) for e in node.elts], ctx=LOAD)
        if isinstance(node, gast.IfExp):
            return name(self.if_expression(node))
        if isinstance(node, gast.ListComp):
            return self.list_comprehension(node)
        if isinstance(node, gast.GeneratorExp):
            self.problem(node, _lazy_message("a generator expression"))
            return gast.Constant(value=None, kind=None)
        prim, flat, method = self.primitive(node)
        if keep_call:
            return flat
        temp = self.namer.temp()  # named after its operands, so names read in order
        self.stmts.append(Assign(temp, flat, prim, self.where(node), method))
        self.note_pack(temp, self.stmts[-1])
        if prim is None and isinstance(flat, gast.Name) and flat.id in self.objects:  # a copy of an object
            self.objects[temp] = self.objects[flat.id]
        return name(temp)

    def unassigned(self, user_name: str) -> str:
        """Why a local name read before any assignment is a problem (a global changed in place, say)."""
        stored = any(
            isinstance(n, gast.Name) and n.id == user_name and isinstance(n.ctx, gast.Store)
            for n in gast.walk(self.parsed.node)
        )
        if not stored and (user_name in self.parsed.globals or user_name in self.parsed.closure):
            return (
                f"`{user_name}` is a global (or a name of an enclosing function) that this function changes in "
                f"place (`{user_name}.append(...)`, `{user_name}[i] = ...`); sct differentiates functions that "
                "change only their own locals: build a local list, or keep the side effect out of the "
                "differentiated function"
            )
        return f"`{user_name}` is used before it is assigned"

    def is_atom(self, node) -> bool:
        if isinstance(node, gast.Name | gast.Constant):
            return True
        return isinstance(node, gast.Attribute) and self.global_path(node) is not None

    def atom(self, node):
        if isinstance(node, gast.Name):
            if isinstance(self.lambdas.get(node.id), FunctionValue):  # a function used as a value
                return self.atoms_of([self.lambdas[node.id]], node)[0]
            if node.id in self.locals:
                if node.id not in self.current:
                    self.problem(node, self.unassigned(node.id))
                    return name(node.id)
                bound = self.current[node.id]
                return name(bound) if isinstance(bound, str) else bound  # a constant argument
            if node.id not in self.initial_names:
                return node  # a name this lowering made (a temporary, a loop index)
            outer = self.enclosing_scope(node.id)
            if outer is not None:  # a local def reads a variable of the function it was made in
                return outer.atom(node)
            self.resolve(node)
            return self.rooted(node)
        if isinstance(node, gast.Attribute):
            self.resolve(node)
            return self.rooted(node)
        return node

    def primitive(self, node):
        """(rule key, the node with atoms for operands, is-method) for one operation."""
        if isinstance(node, Computed):
            return node.prim, node.flat, node.method
        if isinstance(node, Lowered):
            if isinstance(node.atom, gast.Tuple | gast.List):  # a display of atoms builds a container
                return (tuple if isinstance(node.atom, gast.Tuple) else list), node.atom, False
            return None, node.atom, False
        if isinstance(node, gast.BinOp):
            flat = gast.BinOp(left=self.expr(node.left), op=node.op, right=self.expr(node.right))
            if type(node.op) not in BINOPS:
                self.problem(node, f"the operator `{type(node.op).__name__}` has no derivative; use arithmetic")
            return BINOPS.get(type(node.op)), flat, False
        if isinstance(node, gast.UnaryOp):
            operand = self.expr(node.operand)
            if isinstance(node.op, gast.UAdd):
                return None, operand, False
            if type(node.op) not in UNARYOPS:
                self.problem(node, f"the operator `{type(node.op).__name__}` has no derivative; use arithmetic")
            return UNARYOPS.get(type(node.op)), gast.UnaryOp(op=node.op, operand=operand), False
        if isinstance(node, gast.Compare):
            return self.compare(node)
        if isinstance(node, gast.Call):
            return self.call(node)
        if isinstance(node, gast.Attribute) and self.is_atom(node):  # c = obj.W of a global object: a copy
            return None, self.atom(node), False
        if isinstance(node, gast.Attribute):
            flat = gast.Attribute(value=self.expr(node.value), attr=node.attr, ctx=LOAD)
            if isinstance(flat.value, gast.Name) and flat.value.id in self.objects:  # self.W of an object
                return self.object_attribute(flat.value, node.attr, node)
            if node.attr not in ATTRIBUTES:
                self.problem(node, f"the attribute `.{node.attr}` is not supported on arrays")
            return ATTRIBUTES.get(node.attr), flat, False
        if isinstance(node, gast.Subscript):
            flat = gast.Subscript(value=self.expr(node.value), slice=self.index(node.slice), ctx=LOAD)
            path = self.global_path(node.value)
            maker = self.resolve(node.value) if path and path[-1] in ("r_", "c_") else None
            return maker if any(maker is j for j in _JOINS) else operator.getitem, flat, False
        if isinstance(node, gast.Tuple | gast.List):
            flat = type(node)(elts=[self.expr(e) for e in node.elts], ctx=LOAD)
            return (tuple if isinstance(node, gast.Tuple) else list), flat, False
        if isinstance(node, gast.Dict):
            keys = [None if k is None else self.expr(k) for k in node.keys]
            return dict, gast.Dict(keys=keys, values=[self.expr(v) for v in node.values]), False
        if isinstance(node, gast.JoinedStr):
            return formatted, self.formatted(node), False
        if isinstance(node, gast.IfExp):
            return None, name(self.if_expression(node)), False
        if isinstance(node, gast.ListComp):
            return None, self.list_comprehension(node), False
        if isinstance(node, gast.GeneratorExp):
            return None, self.expr(node), False
        if self.is_atom(node):
            return None, self.atom(node), False
        if isinstance(node, gast.Starred):
            self.problem(node, "`*` unpacking is supported in calls of your own functions only; write the items out")
            return None, gast.Constant(value=None, kind=None), False
        self.problem(node, f"the expression `{type(node).__name__}` is not supported")
        return None, gast.Constant(value=None, kind=None), False

    def formatted(self, node):
        """An f-string with each ``{value:spec}`` made an atom (left to right, as Python evaluates them)."""
        parts = []
        for part in node.values:
            if isinstance(part, gast.FormattedValue):
                value = self.expr(part.value)
                spec = None if part.format_spec is None else self.formatted(part.format_spec)
                part = gast.FormattedValue(value=value, conversion=part.conversion, format_spec=spec)
            parts.append(part)
        return gast.JoinedStr(values=parts)

    def astype(self, node, receiver, args, keywords):
        """``x.astype(dtype)`` with the dtype read now: the identity to a float dtype, no derivative to an integer."""
        dtype = self.static_dtype(node.args[0]) if len(node.args) == 1 and not keywords else None
        kind = getattr(dtype, "kind", None)
        if kind not in ("f", "c", "i", "u", "b"):
            self.problem(
                node,
                "sct differentiates `x.astype(dtype)` with one dtype it can read when it compiles, to a float "
                "or complex (`x.astype(float)`, `x.astype(np.float32)`, `x.astype(complex)`) or an integer or bool "
                "type (no derivative); write it that way (no `copy=` or other keywords)",
            )
        prim = astype_float if kind == "f" else astype_complex if kind == "c" else astype_integer
        method = gast.Attribute(value=receiver, attr="astype", ctx=LOAD)
        return prim, gast.Call(func=method, args=args, keywords=keywords), True

    def static_dtype(self, node):
        """The NumPy dtype ``node`` names (``float``, ``np.float32``, ``"float64"``), or None."""
        if isinstance(node, gast.Constant) and isinstance(node.value, str):
            value = node.value
        elif isinstance(node, gast.Name | gast.Attribute) and self.global_path(node) is not None:
            value = self.resolve(node)
        else:
            return None
        try:
            return np.dtype(value)
        except (TypeError, ValueError):
            return None

    def compare(self, node):
        if len(node.ops) != 1:
            self.problem(node, "chained comparisons are not supported; split them with `and`")
        left, right = self.expr(node.left), self.expr(node.comparators[0])
        flat = gast.Compare(left=left, ops=node.ops[:1], comparators=[right])
        op = type(node.ops[0])
        return COMPARES.get(op) or IDENTITY_TESTS[op], flat, False  # (never None: that would mean a copy)

    def call(self, node):
        if self.is_transform_call(node):  # sct.grad(g)(x), sct.jvp(g, (x,), (v,)), ... (sct.frontend.transforms)
            return None, self.transform_call(node), False
        if _unpacks(node):  # f(*args, **kw): into a user function, which is inlined
            return self.unpacking_call(node)
        func = node.func
        if isinstance(func, gast.Name) and func.id in self.current and self.current[func.id] in self.objects:
            receiver = name(self.current[func.id])  # layer(x) of an object passed in: its class's __call__
            args = [self.argument(a) for a in node.args]
            keywords = {k.arg: self.argument(k.value) for k in node.keywords}
            return None, self.call_method(receiver, "__call__", args, keywords, node), False
        held = self.callee(func)  # a local def, a lambda, a function passed in... (sct.frontend.functions)
        if held is not None:
            args = [self.argument(a) for a in node.args]
            keywords = {k.arg: self.argument(k.value) for k in node.keywords}
            return None, self.call_function_value(held, args, keywords, node), False
        fn = self.resolve(func) if self.global_path(func) is not None else None
        in_place = in_place_message(fn, node) if fn is not None else None
        if in_place is not None:
            self.problem(node, in_place)
            return None, gast.Constant(value=None, kind=None), False
        if _is(fn, sorted, max, min) and any(k.arg == "key" and _is_none(k.value) for k in node.keywords):
            kept = [k for k in node.keywords if k.arg != "key"]  # key=None: compare the items themselves
            node = gast.copy_location(gast.Call(func=func, args=node.args, keywords=kept), node)
        if _is(fn, sorted) and any(k.arg == "key" for k in node.keywords):
            return self.sorted_by_key(node)
        if _is(fn, max, min) and node.keywords:
            return self.extreme_by_key(node, largest=fn is max)
        if any(_is(fn, lazy) for lazy in _LAZY):
            self.problem(node, _lazy_message(f"`{_spelling(func)}(...)`"))
            return None, gast.Constant(value=None, kind=None), False
        if _is(fn, np.piecewise) and self.calls_functions(node):
            self.problem(node, PIECEWISE_MESSAGE)
            return None, gast.Constant(value=None, kind=None), False
        consumes = any(_is(fn, c) for c in _CONSUMERS) and (len(node.args) == 1 or not _is(fn, max, min))
        values = [
            self.iterable(a) if consumes and k == 0 else self.argument(a)
            for k, a in enumerate(node.args)
            if not isinstance(a, gast.Starred)  # zip(*rows): below
        ]
        keyword_values = [gast.keyword(arg=k.arg, value=self.argument(k.value)) for k in node.keywords]
        if (fn is not None or self.global_path(func) is not None) and self.inlinable(fn):
            return None, self.inline_function(fn, values, keyword_values, node), False
        args = self.atoms_of(values, node)  # a function passed to a primitive: its plain name
        keywords = [gast.keyword(arg=k.arg, value=self.atoms_of([k.value], node)[0]) for k in keyword_values]
        if fn is not None or self.global_path(func) is not None:
            if fn is zip and node.args and isinstance(node.args[0], gast.Starred):  # zip(*rows)
                return self.helper_call(trees.transposed, [self.expr(node.args[0].value)])
            if fn is zip:
                return self.helper_call(trees.zipped, args)
            prim = _CALLS[fn] if (fn is list or fn is tuple) and len(args) == 1 and not keywords else fn
            args, keywords = _by_position(prim, args, keywords)
            made = _MAKES_OBJECT.get(fn) if fn is not None and _hashable(fn) else None
            if made is not None or isinstance(fn, type) and _users_class(fn):
                # rng = np.random.default_rng(0): its methods are its class's; an object of the user's
                # class made here is known by its class, but what its __init__ stored is not (MADE_HERE)
                temp = self.namer.temp()
                self.stmts.append(Assign(temp, gast.Call(func=self.rooted(func), args=args, keywords=keywords), prim))
                self.objects[temp] = (made, False, None) if made is not None else (fn, False, MADE_HERE)
                return None, name(temp), False
            return prim, gast.Call(func=self.rooted(func), args=args, keywords=keywords), False
        if isinstance(func, gast.Attribute):  # obj.method(...) of an object: the method of its class
            receiver = self.expr(func.value)
            if isinstance(receiver, gast.Name) and receiver.id in self.objects:
                keywords = {k.arg: k.value for k in keyword_values}
                return None, self.call_method(receiver, func.attr, values, keywords, node), False
            func = gast.Attribute(value=Lowered(receiver), attr=func.attr, ctx=LOAD)
        if isinstance(func, gast.Attribute) and func.attr in _DICT_METHODS and not keywords:
            helper = _DICT_METHODS[func.attr]
            return self.helper_call(helper, [self.expr(func.value), *args])
        if isinstance(func, gast.Attribute) and func.attr == "astype":
            return self.astype(node, self.expr(func.value), args, keywords)
        if isinstance(func, gast.Attribute):
            receiver = self.expr(func.value)
            method = gast.Attribute(value=receiver, attr=func.attr, ctx=LOAD)
            if func.attr not in METHODS:
                self.problem(func, f"the array method `.{func.attr}()` is not supported")
            elif any(k.arg == "out" for k in node.keywords):
                self.problem(
                    func,
                    f"`.{func.attr}(..., out=...)` writes into an existing array, which sct does not "
                    f"follow; assign the result to a name instead: `z = x.{func.attr}(...)`",
                )
            return METHODS.get(func.attr), gast.Call(func=method, args=args, keywords=keywords), True
        what = f"`{func.id}`" if isinstance(func, gast.Name) else "this callee"
        self.problem(
            node,
            f"{what} is not a function sct knows when it compiles (a loop variable, a value picked in a branch "
            "or computed at run time); sct compiles each call for the function it calls: call a function by its "
            "name, pass it in as an argument, or bind it once (`f = np.sin`) before calling it",
        )
        return None, gast.Call(func=func, args=args, keywords=keywords), False

    def calls_functions(self, node) -> bool:
        """Whether ``np.piecewise``'s list holds functions (lambdas, or names of functions), not only values."""
        funcs = (
            node.args[2] if len(node.args) > 2 else next((k.value for k in node.keywords if k.arg == "funclist"), None)
        )
        items = funcs.elts if isinstance(funcs, gast.List | gast.Tuple) else [funcs]
        for item in items:
            if isinstance(item, gast.Lambda) or isinstance(item, gast.Name) and item.id in self.lambdas:
                return True
            if self.global_path(item) is not None and callable(self.resolve(item)):
                return True
        return False

    def unpacking_call(self, node):
        """``f(*args, **kw)`` where ``f`` is inlined: the tuple and dict unpacked into atoms, then the call."""
        func, fn = node.func, None
        if self.global_path(func) is not None:
            fn = self.resolve(func)
        lam = self.lambdas.get(func.id) if isinstance(func, gast.Name) else None
        if lam is None and not self.inlinable(fn):
            what = f"`{getattr(fn, '__name__', 'this function')}`" if fn is not None else "this function"
            self.problem(node, f"{what} cannot be called with *args or **kwargs; pass the arguments one by one")
            return None, gast.Constant(value=None, kind=None), False
        unpacked = self.unpacked_arguments(node)
        if unpacked is None:
            return None, gast.Constant(value=None, kind=None), False
        args, keywords = unpacked
        if lam is not None:
            if keywords:
                self.problem(node, "call a lambda with exactly its positional parameters")
                return None, gast.Constant(value=None, kind=None), False
            return None, self.inline_lambda(lam, args, node), False
        return None, self.inline_function(fn, args, keywords, node), False

    # ---- iteration idioms: what a builtin iterates at once ----------------------------------
    def iterable(self, node):
        """An argument that ``sum``, ``max``, ``list``... iterate at once: there a generator
        expression, ``map(...)``, ``filter(...)`` or ``reversed(...)`` is the list it would yield."""
        if isinstance(node, gast.GeneratorExp):
            return self.list_comprehension(node)
        if self.lazy_call(node, map) and len(node.args) >= 2:
            return self.mapped(node)
        if self.lazy_call(node, filter) and len(node.args) == 2:
            return self.filtered(node)
        if self.lazy_call(node, reversed) and len(node.args) == 1:
            return self.reversed_items(node)
        return self.expr(node)

    def is_lazy(self, node) -> bool:
        """A generator expression, ``map(...)`` or ``filter(...)``: iterators whose items Python makes lazily."""
        return isinstance(node, gast.GeneratorExp) or self.lazy_call(node, map) or self.lazy_call(node, filter)

    def lazy_call(self, node, builtin) -> bool:
        return (
            isinstance(node, gast.Call)
            and not node.keywords
            and not any(isinstance(a, gast.Starred) for a in node.args)
            and self.global_path(node.func) is not None
            and _is(self.resolve(node.func), builtin)
        )

    def item_names(self, count: int) -> list:
        return [self.namer.fresh("item") for _ in range(count)]

    def comprehension_over(self, sequences, target_names):
        """A ``comprehension`` visiting the lowered ``sequences`` in step, binding ``target_names``."""
        store = [gast.Name(id=n, ctx=gast.Store(), annotation=None, type_comment=None) for n in target_names]
        for n in target_names:
            self.locals.add(n)
            self.unversioned.add(n)
        if len(sequences) == 1:
            target, iterable = store[0], Lowered(sequences[0])
        else:
            temp = self.namer.temp()
            zipped = gast.Call(func=name(trees.zipped.__name__), args=list(sequences), keywords=[])
            self.stmts.append(Assign(temp, zipped, trees.zipped, self.origin))
            target, iterable = gast.Tuple(elts=store, ctx=gast.Store()), Lowered(name(temp))
        return gast.comprehension(target=target, iter=iterable, ifs=[], is_async=0)

    def mapped(self, node):
        """``map(f, xs, ys)`` as ``[f(v, w) for v, w in zip(xs, ys)]`` (map stops at the shortest, as zip)."""
        sequences = [self.iterable(a) for a in node.args[1:]]
        names = self.item_names(len(sequences))
        generator = self.comprehension_over(sequences, names)
        elt = gast.Call(func=node.args[0], args=[name(n) for n in names], keywords=[])
        return self.list_comprehension(gast.copy_location(gast.ListComp(elt=elt, generators=[generator]), node))

    def filtered(self, node):
        """``filter(f, xs)`` as ``[v for v in xs if f(v)]``; ``filter(None, xs)`` as ``[v for v in xs if v]``."""
        predicate, sequence = node.args
        (item,) = self.item_names(1)
        generator = self.comprehension_over([self.iterable(sequence)], [item])
        none = isinstance(predicate, gast.Constant) and predicate.value is None
        generator.ifs = [name(item) if none else gast.Call(func=predicate, args=[name(item)], keywords=[])]
        return self.list_comprehension(gast.copy_location(gast.ListComp(elt=name(item), generators=[generator]), node))

    def reversed_items(self, node):
        """``reversed(xs)`` iterated at once: ``xs[::-1]`` (of a dict, its keys)."""
        items = self.iterated(self.expr(node.args[0]), node)
        backwards = gast.Slice(lower=None, upper=None, step=gast.Constant(value=-1, kind=None))
        return self.expr(gast.copy_location(gast.Subscript(value=Lowered(items), slice=backwards, ctx=LOAD), node))

    def iterated(self, atom, node):
        """``iterated(atom)``: what Python iterates (a dict's keys); dropped where surely not a dict."""
        temp = self.namer.temp()
        call = gast.Call(func=name(trees.iterated.__name__), args=[atom], keywords=[])
        self.stmts.append(Assign(temp, call, trees.iterated, self.where(node)))
        return name(temp)

    def sorted_by_key(self, node):
        """``sorted(xs, key=f, reverse=r)``: the order is computed from the keys ``[f(v) for v in xs]``
        (no derivative), and the items are permuted by it, so their gradient flows back."""
        keywords = {k.arg: k.value for k in node.keywords}
        if len(node.args) != 1 or set(keywords) - {"key", "reverse"}:
            self.problem(node, "write sorted(items, key=f, reverse=r) with one positional argument")
            return None, gast.Constant(value=None, kind=None), False
        items = self.iterated(self.iterable(node.args[0]), node)
        keys = self.keys_of(items, keywords["key"], node)
        reverse = self.expr(keywords.get("reverse", gast.Constant(value=False, kind=None)))
        order = self.namer.temp()
        permutation = gast.Call(func=name(trees.sort_permutation.__name__), args=[keys, reverse], keywords=[])
        self.stmts.append(Assign(order, permutation, trees.sort_permutation, self.where(node)))
        return self.helper_call(trees.permuted, [items, name(order)])

    def keys_of(self, items, key, node):
        """The list ``[key(v) for v in items]`` (``items`` lowered), as Python computes it before comparing."""
        (item,) = self.item_names(1)
        generator = self.comprehension_over([items], [item])
        elt = gast.Call(func=key, args=[name(item)], keywords=[])
        return self.list_comprehension(gast.copy_location(gast.ListComp(elt=elt, generators=[generator]), node))

    def extreme_by_key(self, node, largest: bool):
        """``max(xs, key=f)``: the first item whose key is largest (no derivative through the keys)."""
        keywords = {k.arg: k.value for k in node.keywords}
        spelled = "max" if largest else "min"
        if len(node.args) != 1 or set(keywords) != {"key"}:
            self.problem(
                node,
                f"sct supports {spelled}(items) and {spelled}(items, key=f); for `default=` test for an empty "
                f"sequence first (`{spelled}(xs) if len(xs) else default`), and compare numbers two at a time "
                f"without `key=`",
            )
            return None, gast.Constant(value=None, kind=None), False
        items = self.iterated(self.iterable(node.args[0]), node)
        keys = self.keys_of(items, keywords["key"], node)
        position = self.namer.temp()
        where = gast.Call(
            func=name(trees.extreme_index.__name__), args=[keys, gast.Constant(value=largest, kind=None)], keywords=[]
        )
        self.stmts.append(Assign(position, where, trees.extreme_index, self.where(node)))
        return operator.getitem, gast.Subscript(value=items, slice=name(position), ctx=LOAD), False

    def helper_call(self, helper, args):
        """A call of one of sct's helpers (``dict_items(d)``): the primitive, the call, not a method."""
        return helper, gast.Call(func=name(helper.__name__), args=args, keywords=[]), False

    def index(self, node):
        if isinstance(node, gast.Slice):
            parts = [None if p is None else self.expr(p) for p in (node.lower, node.upper, node.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e) for e in node.elts], ctx=LOAD)
        return self.expr(node)

    # ---- names ---------------------------------------------------------------------
    def global_path(self, node):
        """``["np", "linalg", "inv"]`` for a dotted name rooted at a non-local, else None."""
        parts = []
        while isinstance(node, gast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, gast.Name) and node.id not in self.locals and self.enclosing_scope(node.id) is None:
            return [node.id] + parts[::-1]
        return None

    def resolve(self, node):
        path = self.global_path(node)
        try:
            value = self.parsed.resolve(path[0])
        except AttributeError:
            self.problem(node, f"the name `{path[0]}` is not defined")
            return None
        self.bind_global(path[0], value)
        for part in path[1:]:
            try:
                value = getattr(value, part)
            except AttributeError:
                self.problem(node, f"`{'.'.join(path)}` does not exist")
                return None
        return value
