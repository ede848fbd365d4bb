"""Compiled variants: what one compile produced, what it relied on, and the signatures they are keyed by.

Each differentiated function is compiled once per *signature* of its arguments
(rank and dtype kind of each; a Python float is a kind of its own), like a JIT
specialising on shapes. A variant bakes in what the function's free names meant
when it was compiled, so before reuse its *guards* are checked by identity.
"""

from __future__ import annotations

import inspect
import sys
import types
from dataclasses import dataclass

import numpy as np

from ..analysis.shapes import fact_terms
from ..frontend.functions import is_function
from ..frontend.parse import is_plain_wrapper
from ..passes import containers
from ..values import leaves
from . import dispatch, namespaces


@dataclass
class Compiled:
    function: object
    source: str
    helpers: dict
    params: list
    wrt: list
    guards: tuple = ((), (), ())  # what the compile relied on; see _guards
    scalar: bool = False  # the analysis proved the function's value a scalar: no need to check it
    grads_only: bool = False  # the function returns the gradients alone, not (value, gradients)
    validated: bool = False  # ``function`` validates each call against the original (sct.validate)
    facts: tuple = ()  # equalities of argument dimensions the code relies on (sct.analysis.shapes): checked per call

    def __post_init__(self):
        super().__setattr__("fresh", self._fresh(self.guards))

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "guards":
            super().__setattr__("fresh", self._fresh(value))

    def _fresh(self, guards):
        """``fresh()`` for ``guards``, its code compiled where it is first called (most variants get
        their guards right after they are made, and the first call of a gradient asks none)."""

        check = None

        def fresh():
            nonlocal check
            if check is None:  # once, whoever holds this function (a copy of the variant does: sct.validate)
                check = dispatch.guard_function(guards)
                if self.__dict__.get("fresh") is fresh:  # still this variant's: later calls go straight to it
                    super(Compiled, self).__setattr__("fresh", check)
            return check()

        return fresh


# ---- staleness -------------------------------------------------------------------
# A compiled variant bakes in what the function's free names meant when it was
# compiled: closure values are bound into the generated code, the rule chosen
# for each call depends on the function a global name held, and an inlined call
# that leaves a parameter to its default bakes the default in (so a function's
# __code__, __defaults__ and __kwdefaults__ are checked, by identity). Module globals that
# are plain data (numbers, arrays) are read live by the generated code, so
# rebinding them needs no recompile; anything else is checked per call by identity.
_ABSENT = dispatch.ABSENT
_DATA = (int, float, complex, str, bytes, np.ndarray, np.generic, type(None))


NUMBERS = (int, float)  # module globals of these types are rank 0 to the analysis, under a type guard


def _guards(fn, seen=None) -> tuple:
    """(cells, names, codes) to check before reusing a variant compiled from ``fn``.

    A module global that holds a Python int or float (of ``fn`` or of a function it calls, which sct may inline)
    is read live, and guarded only by its type (:class:`sct.backend.dispatch.TypeOf`): the analysis takes it for
    a scalar.
    """
    seen = set() if seen is None else seen
    fn = inspect.unwrap(fn, stop=is_plain_wrapper)  # a wrapper sct differentiates: its cells hold fn
    code = getattr(fn, "__code__", None)
    if code is None or id(fn) in seen:
        return (), (), ()
    seen.add(id(fn))
    cells, names, codes = [], [], [(fn, code, fn.__defaults__, getattr(fn, "__kwdefaults__", None))]
    for cell in fn.__closure__ or ():
        try:
            cells.append((cell, cell.cell_contents))
        except ValueError:
            continue
    scope = fn.__globals__
    builtins_ = scope.get("__builtins__", {})
    builtins_ = builtins_ if isinstance(builtins_, dict) else vars(builtins_)
    for name in _global_names(code):
        value = scope.get(name, _ABSENT)
        if value is _ABSENT and name not in builtins_:
            continue
        if isinstance(value, _DATA) and type(value) is not bool and name not in builtins_:
            if type(value) in NUMBERS:  # the ranks rely on a number staying one (pipeline._global_numbers)
                names.append((scope, name, dispatch.TypeOf(type(value))))
            continue  # read live; but one that shadows a builtin is renamed and bound in (sct.frontend.parse)
        names.append((scope, name, value))
        found = [value] if inspect.isfunction(value) else []  # a user function sct may differentiate through
        if isinstance(value, types.ModuleType) and not _library(value):  # lib.g: sct inlines lib's g
            for attr in _global_names(code):
                inner = vars(value).get(attr, _ABSENT)
                if inspect.isfunction(inner):
                    names.append((vars(value), attr, inner))
                    found.append(inner)
        for inner in found:
            more = _guards(inner, seen)
            cells += more[0]
            names += more[1]
            codes += more[2]
    for _cell, value in list(cells):
        if inspect.isfunction(value):
            more = _guards(value, seen)
            cells += more[0]
            names += more[1]
            codes += more[2]
    return tuple(cells), tuple(names), tuple(codes)


def _library(module) -> bool:
    """A module of Python's, NumPy's, SciPy's or sct's own: its functions are called by their rules, not inlined."""
    top = module.__name__.split(".")[0]
    return top in sys.stdlib_module_names or top in ("numpy", "scipy", "sct", "gast")


def _global_names(code) -> set:
    """Names a code object (and the code nested in it) may read as globals or attributes."""
    found = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            found |= _global_names(const)
    return found


# ---- argument signatures -------------------------------------------------------
_FLOAT = dispatch.FLOAT  # exactly a Python float: NumPy scalars and 0-d arrays are (0, "f")
_INT = dispatch.INT  # exactly a Python int: the loop bounds the float pass (sct.passes.unbox) may count on
_ANNOTATED_FLOAT = (0, "annotated")  # a scalar for ``.source``; calls bring their own signature
ANY = (None, "any", None, containers.UNKNOWN)  # anything: an array, a number or a container (``sct export``)


def signature(args) -> tuple:
    """Rank and dtype kind of each argument; the key compiled variants are cached by."""
    key = []
    for a in args:  # on every call: the common cases first, without function calls
        kind = type(a)
        if kind is float:
            key.append(_FLOAT)
        elif kind is int:
            key.append(_INT)
        elif kind is np.ndarray:
            key.append((a.ndim, a.dtype.kind))
        else:
            key.append(_describe(a))
    return tuple(key)


def integer_kind(kind) -> bool:
    """Whether a signature entry is of an integer or bool argument (no gradient by it)."""
    return kind is not None and isinstance(kind[1], str) and kind[1] in ("i", "u", "b", "int")


def _describe(a):
    if isinstance(a, np.ndarray | np.generic):
        return (a.ndim, a.dtype.kind)
    if isinstance(a, bool):
        return (0, "b")
    if isinstance(a, int):
        return _INT if type(a) is int else (0, "i")
    if isinstance(a, float):
        return _FLOAT if type(a) is float else (0, "f")
    if isinstance(a, complex):
        return (0, "c")
    if type(a) is Attributes:  # an object differentiated by: a dict of its attributes, and its class
        return (*_describe(dict(a)), ("object", a.cls))
    if isinstance(a, list | tuple | dict):
        items = list(a.values()) if isinstance(a, dict) else a
        ranks = {np.ndim(v) if isinstance(v, np.ndarray | float) else None for v in items}
        kind = "dict" if isinstance(a, dict) else "tuple" if isinstance(a, tuple) else "list"
        return (None, kind, ranks.pop() if len(ranks) == 1 else None, containers.describe(a))
    foreign = namespaces.describe(a)  # Dask, PyTorch, array_api_strict...: their own variants (sct.backend.namespaces)
    if foreign is not None:
        return foreign
    if is_function(a):  # calls of it are compiled for it: a variant per function (sct.frontend.functions)
        return (None, ("callable", Callee(a)))
    if a is not None and not isinstance(a, str | bytes):  # an object: its methods are its class's
        return (None, ("object", type(a)))
    return None


class Attributes(dict):
    """An object differentiated by, as the dict of its instance attributes (``vars(obj)``).

    The generated code reads ``obj.W`` as ``obj["W"]`` (its class's attributes and methods
    from the class), so the gradient is a dict of the attributes' gradients. ``obj`` is kept
    for validation, which runs the original function on the object itself.
    """

    def __init__(self, obj):
        super().__init__(vars(obj))
        self.cls, self.obj = type(obj), obj

    @classmethod
    def of(cls, obj):
        """The dict of ``obj``'s attributes, or ``obj`` itself where none is a float (refused then, by its type)."""

        found = vars(obj) if hasattr(obj, "__dict__") else {}
        floats = [leaf for _, leaf in leaves(found) if isinstance(leaf, float | np.floating | np.ndarray)]
        return cls(obj) if floats else obj


class Callee:
    """A function argument in a signature: equal only to the same function (functions need not be hashable)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __hash__(self):
        return id(self.value)

    def __eq__(self, other):
        return isinstance(other, Callee) and other.value is self.value

    def __repr__(self):
        return getattr(self.value, "__qualname__", None) or repr(self.value)


def objects(params, sig) -> dict:
    """Parameter -> (the class of the object the variant for ``sig`` is for, the names of its attributes
    where the argument is the dict of them (an object differentiated by), else None)."""
    found = {p: (s[1][1], None) for p, s in zip(params, sig) if s and len(s) == 2 and s[1][:1] == ("object",)}
    for p, s in zip(params, sig):
        if s and len(s) == 5 and s[4][:1] == ("object",):
            found[p] = (s[4][1], tuple(k for k, _ in s[3][1]))
    return found


def callables(params, sig, fn=None) -> dict:
    """Parameter -> the function the variant for ``sig`` is compiled for, for the parameters given one,
    and those after the arguments ``sig`` describes whose default is a function (``act=np.tanh``)."""
    found = {p: s[1][1].value for p, s in zip(params, sig) if s and len(s) == 2 and s[1][:1] == ("callable",)}
    code = getattr(fn, "__code__", None)
    defaults = getattr(fn, "__defaults__", None) or ()
    if code is not None and len(params) > len(sig):
        positional = code.co_varnames[: code.co_argcount]
        for param, default in zip(positional[len(positional) - len(defaults) :], defaults):
            if param in params[len(sig) :] and is_function(default):
                found[param] = default  # baked in: the variant's guards check __defaults__
    return found


def _annotated_signature(fn) -> tuple:
    """The generic variant's signature: scalars where the parameters are annotated ``float``, else anything."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(_ANNOTATED_FLOAT if p.annotation in (float, "float") else None for p in params)


def float_signature(fn) -> tuple | None:
    """The signature of a call with Python floats for the parameters annotated ``float`` (``def f(x: float)``):
    the variant ``.source`` shows before any call. None where no parameter is annotated ``float``."""
    sig = _annotated_signature(fn)
    if _ANNOTATED_FLOAT not in sig:
        return None
    return tuple(_FLOAT if s == _ANNOTATED_FLOAT else s for s in sig)


# ---- saying which variant a listing is ------------------------------------------------
_KINDS = {"f": "float", "c": "complex", "i": "int", "u": "unsigned int", "b": "bool"}


def describe_kind(s) -> str:
    """One argument's signature in words: ``float``, ``2-d float array``, ``list``, ...

    >>> describe_kind((0, "float")), describe_kind((2, "f")), describe_kind(None)
    ('float', '2-d float array', 'any array or number')
    """
    if s is None:  # what a call never has: the generic variant's, for arrays and numbers
        return "any array or number"
    if s == ANY:  # sct export's: containers too
        return "anything"
    if s == _FLOAT:
        return "float"
    if s == _ANNOTATED_FLOAT:
        return "any scalar"
    if len(s) == 2 and isinstance(s[0], int) and isinstance(s[1], str):
        kind = _KINDS.get(s[1], f"dtype kind {s[1]!r}")
        if s[0] == 0:
            return "NumPy float or 0-d array" if s[1] == "f" else kind
        return f"{s[0]}-d {kind} array"
    if len(s) > 4 and s[4][:1] == ("object",):  # an object differentiated by: the dict of its attributes
        return f"{s[4][1].__name__} object"
    if len(s) > 3:
        return s[1]  # list, tuple, dict
    if len(s) == 2 and s[1][:1] == ("callable",):
        return f"the function {s[1][1]!r}"
    if len(s) == 2 and s[1][:1] == ("object",):
        return f"{s[1][1].__name__} object"
    return "anything"


def header(params, sig, generic: bool, facts=()) -> str:
    """The comment that opens a listing: which variant it is, and the facts about the arguments'
    dimensions it relies on (:mod:`sct.analysis.shapes`).

    >>> header(["x", "y"], ((0, "float"), (1, "f")), False)
    '# variant for x: float, y: 1-d float array'
    >>> header(["x", "y"], (None, None), True)
    '# generic variant, for arrays and numbers of any shape'
    >>> header(["x", "b"], ((2, "f"), (1, "f")), False, (((0, 1), (1, 0)),))
    '# variant for x: 2-d float array, b: 1-d float array; where x.shape[1] == b.shape[0]'
    """
    line = _header(params, sig, generic)
    return f"{line}; where {' and '.join(fact_terms(facts, params))}" if facts else line


def _header(params, sig, generic: bool) -> str:
    kinds = [describe_kind(s) for s in sig] + [describe_kind(None)] * (len(params) - len(sig))
    if generic and all(k == describe_kind(None) for k in kinds):
        return "# generic variant, for arrays and numbers of any shape"
    if generic and all(k == describe_kind(ANY) for k in kinds):
        return "# generic variant, for any arguments, containers too"
    words = ", ".join(f"{p}: {k}" for p, k in zip(params, kinds))
    words = "".join(c if c.isprintable() else " " for c in words)  # a class's name is data: one line
    return f"# generic variant, for {words}" if generic else f"# variant for {words}"


def with_header(text: str, line: str) -> str:
    """``text`` (a generated function) with ``line`` as the first line of its body."""
    first, _, rest = text.partition("\n")
    indent = rest[: len(rest) - len(rest.lstrip())] or "    "
    return f"{first}\n{indent}{line}\n{rest}"
