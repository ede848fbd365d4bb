"""The rule table: one entry per primitive, keyed by the function object itself.

A reverse rule for positional operand ``i`` is ``rule(g, ans, *args, **kwargs)``
and returns that operand's contribution, written as ordinary NumPy code (see
:mod:`sct.symbolic`). A forward rule has the same signature with ``g`` the
tangent of operand ``i``; the output tangent is the sum over operands. ``None``
for an operand means "no derivative" (an integer axis, a shape).

``elementwise`` registers one derivative for both modes; ``linear`` derives the
forward rule from the function itself; ``nondiff`` marks functions whose output
never carries a derivative (``np.shape``, ``np.argmax``, comparisons).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import SctError
from ..symbolic import call

# ---- the version --------------------------------------------------------------
# A counter bumped at every change of the table or of an entry in it (a rule registered or replaced,
# sct.defvjp and sct.custom included): what is worked out from the whole table (the user rules in the
# persistent cache's key, sct.backend.cache) is worked out again only when it moved.
_changes = [0]


def version() -> int:
    """A number that changes whenever the table or an entry in it changes."""
    return _changes[0]


def _changed() -> None:
    _changes[0] += 1


def called_by_name() -> list:
    """The entries in the table whose rules generated code calls by name (user rules: ``sct.defvjp``,
    ``sct.defjvp``, ``sct.custom_vjp``), without a walk of the whole table."""
    if _CALLED[0] != _changes[0]:
        now = _changes[0]
        found = [e for e in list(_BY_NAME.values()) if not (e.symbolic and getattr(e, "jvp_symbolic", True))]
        _CALLED[:] = [now, [e for e in found if TABLE.get(_key(e.fn)) is e]]
    return _CALLED[1]


_BY_NAME: dict = {}  # id -> every entry ever marked not symbolic (those still so and in the table count)
_CALLED: list = [None, []]  # the version, and called_by_name() then


class _Table(dict):
    """The table: a dict that counts its changes."""

    def __setitem__(self, key, value):
        _changed()
        _track(value)
        super().__setitem__(key, value)

    def __delitem__(self, key):
        _changed()
        super().__delitem__(key)

    def pop(self, *args):
        _changed()
        return super().pop(*args)

    def popitem(self):
        _changed()
        return super().popitem()

    def clear(self):
        _changed()
        super().clear()

    def update(self, *args, **kwargs):
        _changed()
        super().update(*args, **kwargs)
        for value in self.values():
            _track(value)

    def setdefault(self, key, default=None):
        _changed()
        _track(default)
        return super().setdefault(key, default)


def _track(entry) -> None:
    """An entry put in the table whose attributes were set without ``Entry.__setattr__`` (a copy) is seen too."""
    if isinstance(entry, Entry) and not (entry.symbolic and getattr(entry, "jvp_symbolic", True)):
        _BY_NAME[id(entry)] = entry


@dataclass
class Entry:
    fn: object
    vjp: list = field(default_factory=list)
    jvp: list = field(default_factory=list)
    broadcasting: bool = False  # operands broadcast against each other
    elementwise: bool = False  # the result has the (broadcast) shape of the operands
    ndim: Callable | None = None  # (ranks, args, kwargs) -> rank of the result, or None
    symbolic: bool = True  # built-in: rule bodies become source; user rules are called by name
    nondiff: bool = False
    jvp_joint: Callable | None = None  # (operand tangents, ans, *args) -> tangent, for containers
    keywords: dict = field(default_factory=dict)  # keyword operand -> (vjp rule, jvp rule), see defkeyword
    # ((name, default), ...): the leading parameters, in order (REQUIRED: no default). Rules see
    # operands by position, so the lowering moves keyword arguments among these to their positions,
    # filling the gaps with the defaults: ``norm.logpdf(x, scale=s)`` becomes ``norm.logpdf(x, 0.0, s)``.
    params: tuple | None = None
    # The result is a tuple or list of arrays (np.split, np.linalg.svd): "tuple" or "list", or
    # "maybe" where it depends on the operands (np.gradient of a vector is one array). Their
    # gradients add item by item, never as ``+`` concatenates sequences (sct.passes.containers).
    sequence: str | None = None

    def __setattr__(self, name, value):  # every field, and those set later (custom's jvp_symbolic)
        _changed()
        object.__setattr__(self, name, value)
        if name in ("symbolic", "jvp_symbolic") and not value:
            _BY_NAME[id(self)] = self

    def differentiable(self, i: int) -> bool:
        if self.nondiff:
            return False
        return _at(self.vjp or self.jvp, i) is not None

    def vjp_rule(self, i: int):
        return _at(self.vjp, i)

    def jvp_rule(self, i: int):
        return _at(self.jvp, i)


def _at(rules, i: int):
    """Rule ``i`` of a list, or of a function of the position (for any number of operands)."""
    if callable(rules):
        return rules(i)
    return rules[i] if i < len(rules) else None


TABLE: dict[int, Entry] = _Table()


def _key(fn):
    try:
        hash(fn)
        return fn
    except TypeError:
        return id(fn)


def lookup(fn) -> Entry | None:
    if fn is None:
        return None
    own = getattr(fn, "sct_entry", None)  # a primitive made while compiling (a recursive call)
    if isinstance(own, Entry):
        return own
    entry = TABLE.get(_key(fn))
    if entry is None and load_optional():
        entry = TABLE.get(_key(fn))
    if entry is None and _random(fn):
        entry = RANDOM
    return entry


# Random draws carry no derivative: making a NumPy generator, and every method of one
# (``rng.normal(size=n)`` of a generator passed in or made inside, ``np.random.normal`` of
# the module's own). One entry for them all, kept out of the table (and its catalog).
RANDOM = Entry(None, nondiff=True)
_GENERATORS = (np.random.RandomState, np.random.Generator)
_MAKERS = (np.random.RandomState, np.random.Generator, np.random.default_rng, np.random.seed)


def _random(fn) -> bool:
    if any(fn is maker for maker in _MAKERS):
        return True
    owner = getattr(fn, "__objclass__", None) or type(getattr(fn, "__self__", None))
    return isinstance(owner, type) and issubclass(owner, _GENERATORS)


# ---- rules for optional libraries -----------------------------------------
# SciPy's rules register the first time a function is looked up after SciPy was
# imported (by the user's code): without SciPy, or before it is used, they cost
# nothing. The package (:mod:`sct.rules`) says how to load each library's rules
# (``OPTIONAL``: library -> a function that imports them); ``load_optional``
# returns whether it registered anything new.
OPTIONAL: dict = {}
_loaded: set = set()


def load_optional() -> bool:
    new = [name for name in OPTIONAL if name in sys.modules and name not in _loaded]
    for name in new:
        _loaded.add(name)
        OPTIONAL[name]()
    return bool(new)


def _entry(fn, **fields) -> Entry:
    entry = TABLE.get(_key(fn))
    if entry is None:
        entry = TABLE[_key(fn)] = Entry(fn)
    for name, value in fields.items():
        setattr(entry, name, value)
    return entry


# ---- ranks ---------------------------------------------------------------
# A rank function gets the operands' ranks (None: unknown) and their static
# values (DYNAMIC where the value is only known at run time).
DYNAMIC = object()


def broadcast(ranks, args, kwargs):
    return None if None in ranks else max(ranks, default=0)


def same(ranks, args, kwargs):
    return ranks[0] if ranks else None


def scalar(ranks, args, kwargs):
    return 0


def reduction(ranks, args, kwargs):
    axis = args[1] if len(args) > 1 else kwargs.get("axis")
    keepdims = kwargs.get("keepdims", False)
    if keepdims is DYNAMIC or axis is DYNAMIC:
        return None
    if keepdims or ranks[0] == 0:  # a 0-d value reduced over axis 0 (or -1) stays 0-d
        return ranks[0]
    if axis is None:
        return 0
    if ranks[0] is None:
        return None
    return ranks[0] - (len(axis) if isinstance(axis, tuple) else 1)


# ---- registration ----------------------------------------------------------
def defvjp(fn, *rules, broadcasting=False, ndim=None, symbolic=True):
    """Reverse rules for ``fn``, one per positional operand (None: no derivative)."""
    rules = rules[0] if len(rules) == 1 and _by_position(rules[0]) else list(rules)
    _entry(fn, vjp=rules, broadcasting=broadcasting, symbolic=symbolic, nondiff=False)
    if ndim is not None:
        _entry(fn, ndim=ndim)


def defjvp(fn, *rules, symbolic=True):
    """Forward rules for ``fn``: rule ``i`` maps operand ``i``'s tangent to its share of the output's."""
    rules = rules[0] if len(rules) == 1 and _by_position(rules[0]) else list(rules)
    entry = _entry(fn, jvp=rules, nondiff=False)
    if not symbolic:
        entry.symbolic = False


def _by_position(rule) -> bool:
    """``lambda i: <rule for operand i>``: one parameter, named ``i``."""
    code = getattr(rule, "__code__", None)
    return code is not None and code.co_argcount == 1 and code.co_varnames[:1] == ("i",)


def elementwise(fn, *derivatives, ndim=broadcast):
    """An elementwise function: each rule serves both modes (``g`` times a partial derivative)."""
    _entry(
        fn,
        vjp=list(derivatives),
        jvp=list(derivatives),
        broadcasting=len(derivatives) > 1,
        elementwise=True,
        ndim=ndim,
    )


def linear(fn, vjp, ndim=same, rest=()):
    """A function linear in its first operand; its tangent is ``fn(tangent, *rest)``."""

    def jvp(g, ans, x, *args, initial=None, **kwargs):
        return call(fn, g, *args, **kwargs)  # ``np.sum(x, initial=c)`` adds c: no part of the tangent

    _entry(fn, vjp=[vjp, *[None] * len(rest)], jvp=[jvp, *[None] * len(rest)], ndim=ndim)


def _spelled(fn) -> str:
    """``np.sum`` for NumPy's ``sum``; else the function's name."""
    module = getattr(fn, "__module__", None) or ""
    return f"np.{fn.__name__}" if module.split(".")[0] == "numpy" else getattr(fn, "__name__", repr(fn))


def refuse_keywords(fn, keywords, instead: str):
    """Refuse, in both modes, a call of ``fn`` (with rules already) that passes one of ``keywords``
    (other than None): its rules do not model them (``np.sum(x, where=m)`` would get the gradient of
    ``np.sum(x)``). ``instead`` says what to write; the error names the call's line."""
    entry = TABLE[_key(fn)]

    def guard(rule):
        if rule is None:
            return None

        def guarded(g, ans, *args, **kwargs):
            given = [k for k in keywords if kwargs.get(k) is not None]
            if given:
                spelled = ", ".join(f"`{k}=`" for k in given)
                raise SctError(f"sct does not differentiate `{_spelled(fn)}` with {spelled}; {instead}")
            return rule(g, ans, *args, **kwargs)

        return functools.wraps(rule)(guarded)

    entry.vjp = [guard(r) for r in entry.vjp]
    entry.jvp = [guard(r) for r in entry.jvp]


def sequence(kind, *fns):
    """Functions (with rules already) whose result is a ``kind`` ("tuple", "list" or "maybe") of arrays."""
    for fn in fns:
        entry = TABLE.get(_key(fn))
        if entry is None:
            raise KeyError(f"no rule for {fn!r} to mark as returning a sequence")
        entry.sequence = kind


def nondiff(*fns, ndim=None):
    """Functions whose result carries no derivative."""
    for fn in fns:
        _entry(fn, nondiff=True, vjp=[], jvp=[], ndim=ndim)


def defkeyword(fn, keyword, vjp=None, jvp=None):
    """Rules for a keyword operand that carries a derivative (``odeint(f, y0, t, args=(k,))``).

    They take the same arguments as the positional rules (``rule(g, ans, *args, **kwargs)``).
    An active keyword operand without such a rule is refused in both modes, never taken as zero.
    """
    _entry(fn).keywords[keyword] = (vjp, jvp)
    _changed()


REQUIRED = object()


def positional(fn, *params):
    """Declare ``fn``'s leading parameters, each a name or ``(name, default)``, for keyword arguments."""
    _entry(fn, params=tuple(p if isinstance(p, tuple) else (p, REQUIRED) for p in params))


def defjvp_joint(fn, rule):
    """The forward rule of a container builder: ``rule(tangents, ans, *args)`` builds the whole tangent.

    Summing per-operand contributions would concatenate lists instead of adding them.
    """
    _entry(fn, jvp_joint=rule)
