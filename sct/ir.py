"""The small typed IR that flows between the stages.

A function is a list of statements (see :mod:`sct.frontend.lower` for the exact shapes).
Each :class:`Assign` holds one primitive over atoms as a gast expression, the
rule-table key of that primitive (``operator.mul``, ``numpy.exp``, ...) and the
place in the user's source it came from.
"""

from __future__ import annotations

import operator
from collections import deque
from dataclasses import dataclass, field

import gast
import numpy as np

from .backend.ode_adjoint import solution_y
from .errors import Location


@dataclass
class Assign:
    """``target = value`` where ``value`` is one primitive over atoms."""

    target: str
    value: gast.expr
    prim: object
    origin: Location | None = None
    method: bool = False  # ``value`` is ``receiver.name(...)`` on an array


@dataclass
class Effect:
    """A call kept for its side effect (``print(x)``), or ``raise value``; never differentiated.

    The reverse sweep never runs past a ``raise``: the call raised before it began.
    """

    value: gast.expr
    origin: Location | None = None
    raises: bool = False  # ``raise value`` rather than the expression statement ``value``

    def statement(self) -> gast.stmt:
        if self.raises:
            return gast.Raise(exc=self.value, cause=None)
        return gast.Expr(value=self.value)


@dataclass
class If:
    """``if test: body else: orelse``; ``test`` is an atom."""

    test: gast.expr
    body: list
    orelse: list
    origin: Location | None = None


@dataclass
class For:
    """``for target in iter: body`` over ``iter``, a ``range(...)`` call over atoms.

    ``trips`` names the iteration counter (kept only when the loop can break);
    ``brk`` names the flag that ends the loop after the current trip.
    """

    target: str
    iter: gast.expr
    body: list
    origin: Location | None = None
    trips: str | None = None
    brk: str | None = None


@dataclass
class While:
    """``while test: body``, where the statements in ``cond`` compute ``test`` before each trip.

    ``trips`` names the iteration counter the reverse sweep replays; ``brk`` as for For.
    """

    cond: list
    test: gast.expr
    body: list
    origin: Location | None = None
    trips: str = "trips"
    brk: str | None = None


@dataclass
class SetItem:
    """``target[index] = value`` into an array the function owns."""

    target: str
    index: gast.expr
    value: gast.expr
    origin: Location | None = None


def walk(body):
    """Every statement in ``body``, nested ones included, in program order."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, If):
            yield from walk(stmt.body)
            yield from walk(stmt.orelse)
        elif isinstance(stmt, For):
            yield from walk(stmt.body)
        elif isinstance(stmt, While):
            yield from walk(stmt.cond)
            yield from walk(stmt.body)


@dataclass
class FunctionIR:
    name: str
    params: list[str]
    body: list
    output: str
    namespace: dict = field(default_factory=dict)
    filename: str = "<unknown>"
    aux: str | None = None
    names: set = field(default_factory=set)
    shared_updates: list = field(default_factory=list)  # (variable, Problem): see sct.frontend.aliases
    augmented: dict = field(default_factory=dict)  # version made by x += e -> the one whose object Python updates
    containers: dict = field(default_factory=dict)  # container parameter -> its structure (sct.passes.containers)


BINOPS = {
    gast.Add: operator.add,
    gast.Sub: operator.sub,
    gast.Mult: operator.mul,
    gast.Div: operator.truediv,
    gast.FloorDiv: operator.floordiv,
    gast.Mod: operator.mod,
    gast.Pow: operator.pow,
    gast.MatMult: operator.matmul,
}
UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_}
COMPARES = {
    gast.Gt: operator.gt,
    gast.GtE: operator.ge,
    gast.Lt: operator.lt,
    gast.LtE: operator.le,
    gast.Eq: operator.eq,
    gast.NotEq: operator.ne,
}


def is_in(item, items) -> bool:
    """``item in items``: the primitive of that comparison (no derivative: its value is a bool)."""
    return item in items


def is_not_in(item, items) -> bool:
    """``item not in items``."""
    return item not in items


# ``is``, ``is not``, ``in``, ``not in``: a Python bool, never differentiated.
IDENTITY_TESTS = {gast.Is: operator.is_, gast.IsNot: operator.is_not, gast.In: is_in, gast.NotIn: is_not_in}

# ``x.attr`` on an array, as the NumPy function it means.
ATTRIBUTES = {"T": np.transpose, "shape": np.shape, "ndim": np.ndim, "size": np.size, "real": np.real, "imag": np.imag}
ATTRIBUTES["y"] = solution_y  # the solution held by the result of scipy.integrate.solve_ivp

# ``x.method(...)`` on an array, as the NumPy function it means.
METHODS = {
    name: getattr(np, name)
    for name in [
        "sum",
        "mean",
        "prod",
        "max",
        "min",
        "var",
        "std",
        "cumsum",
        "cumprod",
        "dot",
        "reshape",
        "transpose",
        "ravel",
        "squeeze",
        "clip",
        "swapaxes",
        "argmax",
        "argmin",
        "argsort",
        "conj",
        "conjugate",
        "trace",
        "diagonal",
        "round",
        "repeat",
        "take",
        "all",
        "any",
    ]
}
METHODS["flatten"] = np.ravel
METHODS["copy"] = np.copy
_VARARG_METHODS = {"reshape", "transpose"}


def operands(stmt: Assign) -> tuple[list, dict]:
    """The positional and keyword operands of a primitive, as its rule sees them.

    A method call ``x.sum(axis=0)`` has operands ``[x]`` and ``{"axis": 0}``, as
    ``np.sum(x, axis=0)`` does; ``x.reshape(2, 3)`` has ``[x, (2, 3)]``.
    """
    value = stmt.value
    if isinstance(value, gast.BinOp):
        return [value.left, value.right], {}
    if isinstance(value, gast.UnaryOp):
        return [value.operand], {}
    if isinstance(value, gast.Compare):
        return [value.left, value.comparators[0]], {}
    if isinstance(value, gast.Attribute):
        return [value.value], {}
    if isinstance(value, gast.Subscript):
        return [value.value, value.slice], {}
    if isinstance(value, gast.Call):
        args = list(value.args)
        kwargs = {k.arg: k.value for k in value.keywords}
        if stmt.method:
            method = value.func.attr
            if method in _VARARG_METHODS and len(args) > 1:
                args = [gast.Tuple(elts=args, ctx=gast.Load())]
            args = [value.func.value] + args
        return args, kwargs
    if isinstance(value, gast.Tuple | gast.List):
        return list(value.elts), {}
    if isinstance(value, gast.Dict):
        return list(value.values), {"keys": gast.Tuple(elts=list(value.keys), ctx=gast.Load())}
    return [value], {}


def names_in(node) -> list[str]:
    """Every variable an atom (or static expression) reads, in order (``gast.walk``'s, breadth first)."""
    if isinstance(node, gast.Name):  # the common case: an atom
        return [node.id]
    found, queue = [], deque([node])
    while queue:
        current = queue.popleft()
        if isinstance(current, gast.Name):
            found.append(current.id)
        for attr in _CHILD_FIELDS.get(type(current)) or _child_fields(type(current)):
            value = getattr(current, attr, None)
            if type(value) is list:
                queue.extend(v for v in value if isinstance(v, gast.AST))
            elif isinstance(value, gast.AST):
                queue.append(value)
    return found


_CHILD_FIELDS: dict = {}


def _child_fields(kind) -> tuple:
    """The fields of a node that may hold nodes with names under them (not ``ctx``, ``id``...)."""
    fields = tuple(f for f in kind._fields if f not in ("ctx", "id", "attr", "kind", "type_comment"))
    _CHILD_FIELDS[kind] = fields or ("",)  # none: ("",), so that the lookup above finds it next time
    return _CHILD_FIELDS[kind]


def const_value(node):
    """The Python value of a static atom (constants, tuples of constants...)."""
    return gast.literal_eval(node)
