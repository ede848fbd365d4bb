"""Symbolic values: how a derivative rule written as ordinary NumPy code becomes source.

A rule is a plain function such as ``lambda g, ans, x: g * np.cos(x)``. At
compile time sct calls it with :class:`Sym` placeholders for ``g``, ``ans`` and
the operands; operators, NumPy functions (through ``__array_ufunc__`` and
``__array_function__``), attributes, methods and indexing on a ``Sym`` build
the gast expression that the rule describes, here ``delta_y * np.cos(x)``.
Operands that are constants in the user's code (``axis=0``) reach the rule as
their Python values, so a rule can branch on them.

``call(fn, *args)`` builds a call of any other function (``math.cos``, the
runtime helpers); ``Sym.ndim`` is the statically known rank, or None.
"""

from __future__ import annotations

import functools
import itertools
import numbers
import sys

import gast
import numpy as np

LOAD = gast.Load()

# How generated code spells the modules a rule may use.
_MODULE_ALIASES = {"numpy": "np", "math": "math", "builtins": ""}


def _name(id_):
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def dotted(path: str) -> gast.expr:
    parts = path.split(".")
    node = _name(parts[0])
    for part in parts[1:]:
        node = gast.Attribute(value=node, attr=part, ctx=LOAD)
    return node


def qualified_name(fn) -> str:
    """``np.linalg.inv`` for numpy.linalg.inv, ``math.cos``, ``unbroadcast``, ``scipy.special.gammaln``..."""
    if _scipy_method(fn):
        owner = fn.__self__
        return f"{_public(type(owner).__module__, owner)}.{fn.__name__}"  # scipy.stats.norm.logpdf
    module = getattr(fn, "__module__", None) or _ufunc_module(fn)  # ufuncs have no __module__
    if module.startswith("numpy"):
        module = "np" + module[len("numpy") :]
    elif module.startswith("sct."):
        module = ""
    elif module.startswith("scipy."):
        return _public(module, fn)  # already ends in the function's name
    else:
        module = _MODULE_ALIASES.get(module, module)
    return f"{module}.{fn.__name__}" if module else fn.__name__


# SciPy defines its functions in private modules (scipy.special._logsumexp) and exports them from
# public ones (scipy.special): generated code spells them the public way. SciPy is never imported
# here: these run only for SciPy's objects, which exist only once the user's code imported it.
def _ufunc_module(fn) -> str:
    if isinstance(fn, np.ufunc) and getattr(np, fn.__name__, None) is not fn:
        special = sys.modules.get("scipy.special")
        if special is not None and getattr(special, fn.__name__, None) is fn:
            return "scipy.special"
    return "numpy"


def _scipy_method(fn) -> bool:
    """A method of one of SciPy's objects (``scipy.stats.norm.logpdf``)."""
    owner = getattr(fn, "__self__", None)
    return owner is not None and (getattr(type(owner), "__module__", "") or "").startswith("scipy.")


@functools.cache
def _public(defined: str, obj) -> str:
    """``scipy.special.logsumexp``: the public module (the private parts dropped) and ``obj``'s name there."""
    parts = defined.split(".")
    public = ".".join(itertools.takewhile(lambda p: not p.startswith("_"), parts))
    module = sys.modules.get(public)
    for attr in dir(module) if module is not None else ():
        if not attr.startswith("_") and getattr(module, attr, None) is obj:
            return f"{public}.{attr}"
    name = getattr(obj, "__name__", None) or type(obj).__name__
    return f"{defined}.{name}"


def to_expr(value) -> gast.expr:
    """The gast expression for a Sym or a static Python value."""
    if isinstance(value, Sym):
        return value.node
    if isinstance(value, (bool, type(None), str)):
        return gast.Constant(value=value, kind=None)
    if isinstance(value, numbers.Number):
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, (int, float)) and value < 0:
            return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
        return gast.Constant(value=value, kind=None)
    if isinstance(value, tuple):
        return gast.Tuple(elts=[to_expr(v) for v in value], ctx=LOAD)
    if isinstance(value, list):
        return gast.List(elts=[to_expr(v) for v in value], ctx=LOAD)
    if isinstance(value, dict):
        return gast.Dict(keys=[to_expr(k) for k in value], values=[to_expr(v) for v in value.values()])
    if isinstance(value, slice):
        parts = [None if p is None else to_expr(p) for p in (value.start, value.stop, value.step)]
        return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
    if value is Ellipsis:
        return gast.Constant(value=Ellipsis, kind=None)
    raise TypeError(f"a rule produced {value!r}, which has no source form")


def _ndim(value):
    if isinstance(value, Sym):
        return value.ndim
    if isinstance(value, numbers.Number):
        return 0
    return None


def _broadcast_ndim(*values):
    ndims = [_ndim(v) for v in values]
    return None if None in ndims else max(ndims)


def call(fn, *args, ndim=None, **kwargs) -> Sym:
    """``fn(*args, **kwargs)`` as source, for functions NumPy cannot dispatch to a Sym.

    ``fn`` is a function (spelled by its module: ``math.cos``) or a name.
    """
    node = gast.Call(
        func=dotted(fn if isinstance(fn, str) else qualified_name(fn)),
        args=[to_expr(a) for a in args],
        keywords=[gast.keyword(arg=k, value=to_expr(v)) for k, v in kwargs.items()],
    )
    return Sym(node, ndim)


def _binop(op):
    def forward(self, other):
        return Sym(gast.BinOp(left=self.node, op=op(), right=to_expr(other)), _broadcast_ndim(self, other))

    def backward(self, other):
        return Sym(gast.BinOp(left=to_expr(other), op=op(), right=self.node), _broadcast_ndim(self, other))

    return forward, backward


def _compare(op):
    def method(self, other):
        node = gast.Compare(left=self.node, ops=[op()], comparators=[to_expr(other)])
        return Sym(node, _broadcast_ndim(self, other))

    return method


class Sym:
    """A symbolic value in a rule: a gast expression plus its rank if known."""

    __slots__ = ("node", "ndim")
    __array_priority__ = 1000

    def __init__(self, node, ndim=None):
        self.node = node
        self.ndim = ndim

    __add__, __radd__ = _binop(gast.Add)
    __sub__, __rsub__ = _binop(gast.Sub)
    __mul__, __rmul__ = _binop(gast.Mult)
    __truediv__, __rtruediv__ = _binop(gast.Div)
    __pow__, __rpow__ = _binop(gast.Pow)
    __matmul__, __rmatmul__ = _binop(gast.MatMult)
    __gt__ = _compare(gast.Gt)
    __lt__ = _compare(gast.Lt)
    __ge__ = _compare(gast.GtE)
    __le__ = _compare(gast.LtE)
    __hash__ = object.__hash__

    def __neg__(self):
        return Sym(gast.UnaryOp(op=gast.USub(), operand=self.node), self.ndim)

    def __getitem__(self, index):
        return Sym(gast.Subscript(value=self.node, slice=to_expr(index), ctx=LOAD))

    @property
    def T(self):
        return Sym(gast.Attribute(value=self.node, attr="T", ctx=LOAD), self.ndim)

    @property
    def shape(self):
        return Sym(gast.Attribute(value=self.node, attr="shape", ctx=LOAD))

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Method(self, attr)

    def __iter__(self):
        raise TypeError("a symbolic value cannot be iterated; use sct.symbolic.call for this function")

    def __bool__(self):
        raise TypeError("a symbolic value has no truth value; test a static fact instead")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__":
            return NotImplemented
        return call(ufunc, *inputs, ndim=_broadcast_ndim(*inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return call(func, *args, **kwargs)

    def __repr__(self):
        return f"Sym({gast.dump(self.node)})"


class _Method:
    """``sym.reshape`` before it is called."""

    def __init__(self, receiver, attr):
        self.receiver, self.attr = receiver, attr

    def __call__(self, *args, **kwargs):
        node = gast.Call(
            func=gast.Attribute(value=self.receiver.node, attr=self.attr, ctx=LOAD),
            args=[to_expr(a) for a in args],
            keywords=[gast.keyword(arg=k, value=to_expr(v)) for k, v in kwargs.items()],
        )
        return Sym(node)


class Scatter:
    """A contribution that adds ``g`` into the operand at ``index`` (the adjoint of ``x[index]``).

    The emitter decides how: in place into an adjoint it owns, or into a new zero one.
    """

    def __init__(self, g, index):
        self.g, self.index = g, index


def is_zero(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool) and value == 0


__all__ = ["Sym", "Scatter", "call", "to_expr", "dotted", "qualified_name", "is_zero"]
