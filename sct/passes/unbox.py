"""Python floats, not NumPy scalars, in gradients of code on Python floats.

A NumPy function of a Python float returns a NumPy scalar (``np.exp(0.5)`` is an
``np.float64``), and everything computed from it is then NumPy scalar
arithmetic, two to three times slower than Python's (~50 ns against ~20 ns an
operation). A gradient of scalar code is mostly such arithmetic. So the
variant compiled for arguments that are exactly Python floats converts what
NumPy returns at once: ``b = float(np.exp(a))``. The values are the same: the
conversion is exact, and ``+ - * /`` round alike on both types. Where the
gradients are then surely Python floats, the ``float(...)`` the API's return
needs is dropped too.

The two kinds of scalar differ in a few ways, and the pass is applied only
where none can show:

- Python raises ``ZeroDivisionError`` or ``OverflowError`` where NumPy returns
  inf or nan. The converted function catches ``ArithmeticError`` and runs the
  unconverted one (see :func:`guard`), which gives NumPy's answer.
- ``x ** y`` is complex for a negative Python float and a fractional ``y``
  (nan in NumPy): the pass allows only integer powers, and powers of
  non-negative constants.
- ``np.bool_`` adds like a logical or: a converted comparison may only be
  tested, never computed with.
- A NumPy scalar has array attributes and meets arrays differently (NEP 50):
  the pass gives up on any function that holds anything but Python and NumPy
  scalars, the lists the forward sweep records them on, and loop counters.

What stays different: arithmetic on Python floats ignores ``np.errstate`` and
gives no ``RuntimeWarning`` for an overflow that NumPy would warn about.

Types are found by a fixed point over the function (a variable's type is the
join of everything assigned to it). Each is a pair: the type without the
conversion and the type with it.
"""

from __future__ import annotations

import builtins
import math

import gast
import numpy as np

from ..analysis import facts
from ..backend.codegen import child_fields, is_comment, name, nodes


def _named(module, names: str) -> set:
    return {getattr(module, n) for n in names.split() if hasattr(module, n)}


# Elementwise NumPy functions that return np.float64 when one argument is a float.
UFUNCS = _named(
    np,
    "exp expm1 exp2 log log1p log2 log10 sqrt cbrt square sin cos tan arcsin arccos arctan "
    "sinh cosh tanh arcsinh arccosh arctanh absolute fabs negative positive sign arctan2 hypot "
    "power float_power maximum minimum fmax fmin floor ceil rint trunc deg2rad rad2deg degrees radians "
    "logaddexp logaddexp2 add subtract multiply divide true_divide",
)
# Reductions: of one scalar, the np.float64 of its value.
REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin}
# ``math`` functions that always return a Python float.
MATH = _named(
    math,
    "sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp expm1 log log1p log2 "
    "log10 sqrt pow hypot fabs erf erfc gamma lgamma copysign degrees radians fmod cbrt exp2",
)

FLOAT, INT, BOOL, NPFLOAT, NPBOOL = "float", "int", "bool", "np.float64", "np.bool_"
BOTTOM = None  # not assigned yet in the fixed point


class _GiveUp(Exception):
    """Something the pass does not model: leave the function as it is."""


def _join(a, b):
    if a is BOTTOM:
        return b
    if b is BOTTOM or a == b:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "row" and len(a[1]) == len(b[1]):
        return ("row", tuple(_join(x, y) for x, y in zip(a[1], b[1])))  # a loop's tape: one row a trip
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "list":  # records: ("list", element)
        return ("list", _join(a[1], b[1]))
    for python, numpy in ((FLOAT, NPFLOAT), (BOOL, NPBOOL)):  # a float, or maybe a NumPy one
        if {a, b} == {python, numpy}:
            return numpy
    raise _GiveUp


class _Types:
    """The types of a function's variables, as (unconverted, converted) pairs."""

    def __init__(self, fn, floats: set, bound: dict, user_globals: dict, ints=frozenset()):
        self.bound = bound  # free names bound when the code was compiled: fixed
        self.resolve = _resolver(bound, user_globals)  # a free name of the generated code -> its object
        self.locals = {n.id for n in nodes(fn) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        self.env = {p: (FLOAT, FLOAT) for p in floats} | {p: (INT, INT) for p in ints}
        self.wraps = []  # the NumPy calls to convert
        self.drops = []  # the float() calls of what is already a Python float
        self.nones = facts.may_be_none(fn)  # a record's variable pre-set to None, and what it flows into
        self.signs = facts.Signs(fn, self.locals, self.resolve)
        self.checking = False

    # ---- statements ---------------------------------------------------------------------
    def block(self, body):
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt):
        if is_comment(stmt) or isinstance(stmt, gast.Pass | gast.Break | gast.Continue):
            return
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
            if isinstance(stmt.value, gast.Constant) and stmt.value.value is None:
                return  # computed with, None fails alike either way: only float() of it must stay
            self.store(stmt.targets[0].id, self.expr(stmt.value))
        elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Tuple):
            self.unpack(stmt.targets[0], stmt.value)
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            binop = gast.BinOp(left=name(stmt.target.id), op=stmt.op, right=stmt.value)
            self.store(stmt.target.id, self.expr(binop))
        elif isinstance(stmt, gast.Expr) and self.append(stmt.value):
            pass
        elif isinstance(stmt, gast.If):
            self.test(stmt.test)
            self.block(stmt.body)
            self.block(stmt.orelse)
        elif isinstance(stmt, gast.While) and not stmt.orelse:
            self.test(stmt.test)
            self.block(stmt.body)
        elif isinstance(stmt, gast.For) and not stmt.orelse:
            self.loop_target(stmt.target, self.iterated(stmt.iter))
            self.block(stmt.body)
        elif isinstance(stmt, gast.Return) and stmt.value is not None:
            self.returned(stmt.value)
        else:
            raise _GiveUp

    def store(self, var, pair):
        held = dict.get(self.env, var, (BOTTOM, BOTTOM))  # not a read of the variable (see _Watched)
        self.env[var] = tuple(_join(old, new) for old, new in zip(held, pair))

    def unpack(self, target: gast.Tuple, value):
        """``r, s = tape.pop()``: each name takes its column of the tape's rows."""
        names = [e.id for e in target.elts if isinstance(e, gast.Name)]
        popped = isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr == "pop"
        if len(names) != len(target.elts) or not popped:
            raise _GiveUp
        rows = self.expr(value)
        if not all(isinstance(t, tuple) and t[0] == "row" and len(t[1]) == len(names) for t in rows):
            if BOTTOM in rows:
                return
            raise _GiveUp
        for k, var in enumerate(names):
            self.store(var, tuple(t[1][k] for t in rows))

    def append(self, call) -> bool:
        """``h_stack.append(v)``: the record's element type takes in ``v``'s."""
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)):
            return False
        owner = call.func.value
        if call.func.attr != "append" or not isinstance(owner, gast.Name) or len(call.args) != 1 or call.keywords:
            return False
        record = self.env.get(owner.id)
        if record is None or not all(isinstance(t, tuple) for t in record):
            raise _GiveUp
        if isinstance(call.args[0], gast.Tuple):  # a tape's row: the values a loop trip made
            columns = [self.expr(e) for e in call.args[0].elts]
            element = tuple(("row", tuple(c[i] for c in columns)) for i in (0, 1))
        else:
            element = self.expr(call.args[0])
        self.store(owner.id, tuple(("list", t) for t in element))
        return True

    def test(self, node):
        self.expr(node, tested=True)

    def loop_target(self, target, pairs):
        if isinstance(target, gast.Name) and not isinstance(pairs, list):
            self.store(target.id, pairs)
        elif isinstance(target, gast.Tuple) and isinstance(pairs, list) and len(pairs) == len(target.elts):
            for t, p in zip(target.elts, pairs):
                self.loop_target(t, p)
        else:
            raise _GiveUp

    def iterated(self, node):
        """The element types of what a ``for`` loops over: a pair, or a list of pairs for ``zip``."""
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and not node.keywords:
            func = self.resolve(node.func.id)
            if func is range:
                for a in node.args:
                    if self.expr(a) != (INT, INT):
                        raise _GiveUp
                return (INT, INT)
            if func is reversed and len(node.args) == 1:
                return self.iterated(node.args[0])
            if func is zip:
                return [self.iterated(a) for a in node.args]
        if isinstance(node, gast.Name) and node.id in self.locals:
            record = self.env.get(node.id, (BOTTOM, BOTTOM))
            if all(isinstance(t, tuple) for t in record):
                return tuple(t[1] for t in record)
            if record == (BOTTOM, BOTTOM):
                return record
        raise _GiveUp

    def returned(self, node):
        if isinstance(node, gast.Tuple):
            for e in node.elts:
                self.returned(e)
            return
        plain, converted = self.expr(node)
        if self.checking and plain != converted:  # only through float(): the caller sees the same value
            raise _GiveUp

    # ---- expressions --------------------------------------------------------------------
    def expr(self, node, tested=False):
        """The (unconverted, converted) types of ``node``; in the checking walk, gives up where they could differ."""
        if isinstance(node, gast.Constant):
            value = node.value
            kind = BOOL if isinstance(value, bool) else INT if isinstance(value, int) else FLOAT
            if not isinstance(value, int | float):
                raise _GiveUp
            return (kind, kind)
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                pair = self.env.get(node.id, (BOTTOM, BOTTOM))
                if any(isinstance(t, tuple) for t in pair) or self.checking and BOTTOM in pair:
                    raise _GiveUp  # a record read as a value; a parameter that is no Python float
                return pair
            value = self.bound.get(node.id)  # a module's number is read live: it may change
            kind = {float: FLOAT, int: INT, bool: BOOL}.get(type(value))
            if kind is None:
                raise _GiveUp
            return (kind, kind)
        if isinstance(node, gast.List) and not node.elts:  # a new record
            return (("list", BOTTOM), ("list", BOTTOM))
        if isinstance(node, gast.BinOp):
            return self.binop(node)
        if isinstance(node, gast.UnaryOp):
            pair = self.expr(node.operand, tested=isinstance(node.op, gast.Not))
            if isinstance(node.op, gast.Not):
                return (BOOL, BOOL)
            self.arithmetic(pair)
            return tuple(INT if t == BOOL else t for t in pair)
        if isinstance(node, gast.Compare):
            pairs = [self.expr(node.left)] + [self.expr(c) for c in node.comparators]
            return tuple(NPBOOL if any(p[i] == NPFLOAT for p in pairs) else BOOL for i in (0, 1))
        if isinstance(node, gast.BoolOp):
            for v in node.values:
                self.expr(v, tested=True)
            if not tested:
                raise _GiveUp  # ``a or b`` is one of its operands: used only as a test here
            return (BOOL, BOOL)
        if isinstance(node, gast.IfExp):
            self.test(node.test)
            a, b = self.expr(node.body), self.expr(node.orelse)
            return (_join(a[0], b[0]), _join(a[1], b[1]))
        if isinstance(node, gast.Call):
            return self.call(node)
        raise _GiveUp

    def maybe_none(self, node) -> bool:
        return any(isinstance(n, gast.Name) and n.id in self.nones for n in nodes(node))

    def arithmetic(self, pair):
        """Operands of arithmetic: scalars, and no bool that the conversion turned from ``np.bool_``."""
        if BOTTOM in pair:
            return
        if any(t not in (FLOAT, INT, BOOL, NPFLOAT) for t in pair):
            raise _GiveUp
        if pair[0] != pair[1] and BOOL in pair:  # np.bool_ adds like ``or``, bool like int
            raise _GiveUp

    def binop(self, node):
        left, right = self.expr(node.left), self.expr(node.right)
        self.arithmetic(left)
        self.arithmetic(right)
        if BOTTOM in left + right:
            return (BOTTOM, BOTTOM)
        op = type(node.op)
        if op not in (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod, gast.Pow):
            raise _GiveUp
        if op is gast.Pow and right != (INT, INT) and not self.signs.real_power(node):
            raise _GiveUp  # a negative number to a fractional power: complex in Python, nan in NumPy
        return tuple(self.arithmetic_result(op, a, b) for a, b in zip(left, right))

    @staticmethod
    def arithmetic_result(op, a, b):
        if NPFLOAT in (a, b):
            return NPFLOAT
        if FLOAT in (a, b) or op is gast.Div:
            return FLOAT
        if op is gast.Pow:
            raise _GiveUp  # int ** int: an int, or a float for a negative power
        return INT

    def call(self, node):
        if node.keywords:
            raise _GiveUp
        func = node.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            owner = func.value.id
            if owner in self.locals:  # ``h_stack.pop()``
                record = self.env.get(owner, (BOTTOM, BOTTOM))
                if func.attr != "pop" or node.args or not all(isinstance(t, tuple) for t in record):
                    raise _GiveUp
                return tuple(t[1] for t in record)
        target = facts.called(func, self.resolve, self.locals)
        if target is None:
            raise _GiveUp
        args = [self.expr(a) for a in node.args]
        for a in args:
            self.arithmetic(a)
        if target is float and len(args) == 1:
            if self.checking and args[0][1] == FLOAT and not self.maybe_none(node.args[0]):
                self.drops.append(node)  # already a Python float
            return (FLOAT, FLOAT)
        if target is abs and len(args) == 1:
            return tuple(INT if t == BOOL else t for t in args[0])
        if facts.is_in(target, MATH):
            return (FLOAT, FLOAT)
        if target is np.size and len(args) == 1:  # of a scalar: 1
            return (INT, INT)
        if target is np.full_like and len(args) == 2 and args[0][1] == FLOAT and args[1][1] in (FLOAT, INT):
            if self.checking:  # full_like(x, g) of a float x: a 0-d array holding g
                self.wraps.append(node)
            return (NPFLOAT, FLOAT)
        if facts.is_in(target, UFUNCS) or facts.is_in(target, REDUCTIONS) and len(args) == 1:
            if not args or not any(FLOAT in a or NPFLOAT in a or BOTTOM in a for a in args):
                raise _GiveUp  # of integers only, a NumPy integer
            if self.checking:
                self.wraps.append(node)
            return (NPFLOAT, FLOAT)
        raise _GiveUp


def plan(fn: gast.FunctionDef, floats: set, bound: dict, user_globals: dict, ints=frozenset()):
    """The NumPy calls to convert in ``fn``, and its variable types; None if the pass does not apply.

    ``floats``: the parameters that are Python floats; ``ints``: those that are
    Python ints (exactly: not a bool, not a NumPy integer); ``bound``: the names the
    compiled code binds (``np``, helpers); ``user_globals``: the module it reads.
    """
    types = _Types(fn, floats, bound, user_globals, ints)
    if types.resolve("float") is not float:  # the module shadows float: the conversion cannot name it
        return None
    initial = dict(types.env)
    if _one_sweep(types, fn):  # straight-line code, each variable's type known where read: one sweep is all
        types.env = dict(types.env)
        return None if any(BOTTOM in pair for pair in types.env.values()) else types
    types.env, types.wraps, types.drops, types.checking = initial, [], [], False  # from the start, sweep by sweep
    try:
        for _ in range(len(types.locals) + 2):  # types only ever grow: a fixed point within this many sweeps
            before = dict(types.env)
            types.block(fn.body)
            if types.env == before:
                break
        else:
            return None
        types.checking = True
        types.block(fn.body)
    except _GiveUp:
        return None
    if any(BOTTOM in pair for pair in types.env.values()):
        return None
    return types


_MISSING = object()


class _Watched(dict):
    """A sweep's variable types that notice whether the sweep was a fixed point: whether any variable's type
    changed after it was read (read as absent, then stored; or stored again with a wider type)."""

    def __init__(self, items):
        super().__init__(items)
        self.missed, self.changed = set(), False

    def get(self, key, default=None):
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            self.missed.add(key)
            return default
        return value

    def __setitem__(self, key, value):
        old = dict.get(self, key, _MISSING)
        if old is _MISSING and key in self.missed or old is not _MISSING and old != value:
            self.changed = True
        dict.__setitem__(self, key, value)


def _one_sweep(types: _Types, fn) -> bool:
    """Run the checking sweep once from the start; whether that was all :func:`plan`'s sweeps would find.

    Where no variable's type changed after a read of it, every read saw the type the sweeps end with: a
    second sweep would read and store the same (a join of what a variable holds already leaves it), so the
    types are the fixed point, and the checking sweep over them is this one (checking only adds the
    calls to convert and the places to give up). Anything else (a loop's records, a type widened, a give-up)
    says no, and :func:`plan` sweeps from the start as before.
    """
    watched = types.env = _Watched(types.env)
    types.checking = True
    try:
        types.block(fn.body)
    except _GiveUp:
        return False
    return not watched.changed


def convert(fn: gast.FunctionDef, types: _Types) -> None:
    """Wrap the planned NumPy calls in ``float()``; drop ``float()`` of what is then a Python float."""
    wraps, drops = {id(n) for n in types.wraps}, {id(n) for n in types.drops}
    if not wraps and not drops:
        return
    changed = wraps | drops

    def rewritten(node):
        if id(node) in wraps:
            return gast.Call(func=name("float"), args=[node], keywords=[])
        return node.args[0]  # dropped: its operand, itself rewritten already

    # Each node after the nodes under it (a depth-first walk, reversed): an operand is rewritten before the
    # call that holds it, as a NodeTransformer's visit after its children would; only the fields holding
    # a planned call change.
    for node in reversed(list(nodes(fn))):
        for attr in child_fields(type(node)):
            value = getattr(node, attr, None)
            if type(value) is list:
                for k, item in enumerate(value):
                    if id(item) in changed and isinstance(item, gast.Call):
                        value[k] = rewritten(item)
            elif id(value) in changed and isinstance(value, gast.Call):
                setattr(node, attr, rewritten(value))


def guard(fn: gast.FunctionDef, fallback: str) -> None:
    """Run ``fn``'s body under ``try``; on ``ArithmeticError`` return ``fallback(<the same arguments>)``."""
    args = [name(a.id) for a in fn.args.args]
    redo = gast.Return(value=gast.Call(func=name(fallback), args=args, keywords=[]))
    handler = gast.ExceptHandler(type=name("ArithmeticError"), name=None, body=[redo])
    fn.body = [gast.Try(body=fn.body, handlers=[handler], orelse=[], finalbody=[])]


def _resolver(bound: dict, user_globals: dict):
    """``resolve(name)``: the object a free name of generated code means (closure, then module, then builtins)."""
    missing = object()

    def resolve(key):
        for scope in (bound, user_globals, vars(builtins)):
            value = scope.get(key, missing)
            if value is not missing:
                return value
        return None

    return resolve
