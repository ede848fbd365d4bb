"""Symbolic shapes: which values surely have the same shape, under checked facts about the arguments.

A variant compiled for a concrete call knows the call's argument shapes, but
keeps only their ranks in its signature, so ``a = x @ W1; b = a + b1`` cannot
tell whether ``b1`` broadcasts ``a`` (it does where ``b1`` has length 1). This
analysis names each dimension of each array argument by a symbol,
``(position, axis)``, and follows the symbols through the operations whose
result shape NumPy defines exactly: elementwise operations and their
broadcasting (length-1 dimensions included), ``@`` and ``np.dot`` of 1-d and
2-d operands, ``.T``, reductions over constant axes, indexing by integers,
slices (a part of an axis has an unknown length) and ``None``, ``x.shape`` and ``np.eye(n)``. Anything else has
unknown dimensions, equal to nothing, not even themselves.

Two symbols are equal when the call's dimensions are (a *fact*: ``W1.shape[1]
== b1.shape[0]``, or ``b1.shape[0] == 1``); each dimension carries the facts
its derivation used, and a proof that an operand keeps the result's shape
returns the facts it used. Only those facts become the variant's guard (the
dispatcher checks them beside the signature), so a call where one fails gets
another variant. Every value a loop or a branch assigns has the join of the
shapes of its assignments: the dimensions every assignment agrees on.

>>> import gast, operator
>>> from sct.ir import Assign, FunctionIR
>>> pattern = ((2, 3), (3,))  # x: 2-d, b: 1-d, x.shape[1] == b.shape[0] in the call
>>> add = Assign("y", gast.parse("x + b", mode="eval").body, operator.add)
>>> ir = FunctionIR("f", ["x", "b"], [add], "y")
>>> found = Shapes(ir, {"x": 2, "b": 1, "y": 2}, pattern)
>>> found.keeps_shape(add.value.left, [add.value.left, add.value.right])
frozenset({((0, 1), (1, 0))})
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import gast
import numpy as np

from ..ir import Assign, Effect, For, FunctionIR, names_in, operands, walk
from ..rules import DYNAMIC, lookup
from . import dataflow
from .activity import assignments, static_value

ONE = 1  # the constant dimension every broadcasting rule treats apart


@dataclass(frozen=True)
class Dim:
    """A dimension: ``term`` (a symbol ``(position, axis)``, an int, or None: unknown) under the facts ``deps``."""

    term: object
    deps: frozenset = frozenset()


UNKNOWN = Dim(None)
_UNSEEN = object()


@dataclass(frozen=True)
class Held:
    """What a variable that is no array holds, where it is a shape (``x.shape``: a tuple of Dims) or one
    dimension (``x.shape[0]``: a Dim): the fixed point carries it, so a change reaches its readers."""

    value: object


@dataclass(frozen=True)
class Scaled:
    """A dimension times a constant: ``2 * n`` for ``n = h0.shape[1]`` (``k`` an int >= 2, ``term`` a symbol).
    Equal to nothing but itself; it serves as the bound of a slice (``z[:, n:2 * n]``)."""

    k: int
    term: tuple


TIMES = "times"  # a fact ``(L, (TIMES, k, S))``: dimension L is k times dimension S (k from 2 to MAX_TIMES)
MAX_TIMES = 8


def is_times(fact) -> bool:
    right = fact[1]
    return isinstance(right, tuple) and len(right) == 3 and right[0] == TIMES


def _shape(found):
    """The array shape of a value the fixed point found: a dimension held as an int is a scalar."""
    if isinstance(found, Held):
        return () if isinstance(found.value, Dim) else None
    return found


def pattern_of(args) -> tuple:
    """The call's dimensions up to renaming: per argument, its shape with each length other than 1 replaced
    by the index of its first occurrence (2, 3, ...), or None for what is not an array of rank >= 1.

    >>> import numpy as np
    >>> pattern_of((np.ones((5, 4)), np.ones(4), 1.0, np.ones((1, 5))))
    ((2, 3), (3,), None, (1, 2))
    """
    labels, found = {1: 1}, []
    for a in args:
        if type(a) is not np.ndarray or a.ndim == 0:
            found.append(None)
            continue
        found.append(tuple(labels.setdefault(n, len(labels) + 1) for n in a.shape))
    multiples = tuple(
        (label, size // other, other_label)
        for size, label in labels.items()
        for other, other_label in labels.items()
        if other > 1 and size != other and size % other == 0 and size // other <= MAX_TIMES
    )
    if multiples:  # which lengths are small multiples of others (LSTM gates: 4 * n), after the arguments
        found.append((TIMES, multiples))
    return tuple(found)


def holds(facts, pattern) -> bool:
    """Whether every fact holds in a call of this pattern."""
    return all(_holds(fact, pattern) for fact in facts)


def _holds(fact, pattern) -> bool:
    left, right = fact
    if is_times(fact):
        return (_label(left, pattern), right[1], _label(right[2], pattern)) in _multiples(pattern)
    return _label(left, pattern) == (ONE if right == ONE else _label(right, pattern))


def _multiples(pattern) -> tuple:
    """The ``(label, k, label)`` of the lengths that are k times others (see :func:`pattern_of`)."""
    last = pattern[-1] if pattern else None
    return last[1] if isinstance(last, tuple) and len(last) == 2 and last[0] == TIMES else ()


def _label(sym, pattern):
    position, axis = sym
    shape = _argument_pattern(pattern, position)
    return shape[axis] if shape is not None and axis < len(shape) else None


def _argument_pattern(pattern, position: int):
    """The labels of argument ``position``'s dimensions, or None (not the multiples noted after the arguments)."""
    shape = pattern[position] if position < len(pattern) else None
    return None if shape is not None and shape and shape[0] == TIMES else shape


def holds_for(facts, args) -> bool:
    """Whether every fact holds for these arguments (their shapes, read directly)."""
    try:
        for fact in facts:
            (i, a), right = fact
            value = args[i].shape[a]
            if is_times(fact):
                if value != right[1] * args[right[2][0]].shape[right[2][1]]:
                    return False
            elif value != (1 if right == ONE else args[right[0]].shape[right[1]]):
                return False
    except (AttributeError, IndexError):
        return False
    return True


def fact_terms(facts, params) -> list[str]:
    """The facts as Python tests over the parameters: ``W1.shape[1] == b1.shape[0]``."""

    def dim(sym):
        return f"{params[sym[0]]}.shape[{sym[1]}]"

    def side(fact):
        right = fact[1]
        if is_times(fact):
            return f"{right[1]} * {dim(right[2])}"
        return "1" if right == ONE else dim(right)

    return [f"{dim(fact[0])} == {side(fact)}" for fact in facts]


def canonical(facts) -> tuple:
    """Facts in one order (those against 1 first, for each symbol): a variant's ``facts``, part of its key."""
    plain = sorted((f for f in set(facts) if not is_times(f)), key=lambda f: (f[0], (-1, -1) if f[1] == ONE else f[1]))
    return tuple(plain) + tuple(sorted(f for f in set(facts) if is_times(f)))  # multiples last


def _fact(a, b):
    """The canonical fact that symbol ``a`` equals symbol (or 1) ``b``."""
    if b == ONE:
        return (a, ONE)
    return (a, b) if a <= b else (b, a)


class Shapes:
    """Symbolic shapes of a function's values (see the module docstring).

    ``pattern`` (:func:`pattern_of` of the call) decides which facts may be
    assumed; or ``facts`` gives them (to rebuild a variant from its facts alone).
    """

    def __init__(self, ir: FunctionIR, ranks: dict, pattern=None, facts=None):
        self.ir, self.ranks, self.pattern = ir, ranks, pattern
        self.times = {f for f in facts or () if is_times(f)}  # in a rebuild from facts: L == k * S as given
        facts = None if facts is None else [f for f in facts if not is_times(f)]
        self.classes = _closure(facts) if facts is not None else None
        self.component = {}  # in a rebuild from facts: a class of symbols -> the facts that make it one
        for fact in facts or ():
            root = self.classes[fact[0]]
            self.component[root] = self.component.get(root, frozenset()) | {fact}
        self.counts = assignments(ir.body)
        self.loop_targets = {s.target for s in walk(ir.body) if isinstance(s, For)}
        self.shapes = self._solve()

    # ---- equality ---------------------------------------------------------------
    def equal(self, a: Dim, b: Dim):
        """The facts under which ``a == b``, or None if that cannot be proved."""
        if a.term is None or b.term is None:
            return None
        deps = a.deps | b.deps
        if a.term == b.term:
            return deps
        fact = self._oracle(a.term, b.term)
        return None if fact is None else deps | fact

    def _oracle(self, x, y):
        if isinstance(x, Scaled) or isinstance(y, Scaled):
            return None  # equal only to itself (the caller compared the terms)
        if isinstance(x, int) and isinstance(y, int):
            return None  # different constants
        if isinstance(x, int):
            x, y = y, x
        if isinstance(y, int) and y != ONE:
            return None  # no constant but 1 is known of an argument's dimension
        if self.classes is not None:
            left, right = self.classes.get(x), self.classes.get(y)
            return self.component[left] if left is not None and left == right else None
        if self.pattern is None:
            return None
        left, right = _label(x, self.pattern), (ONE if y == ONE else _label(y, self.pattern))
        return frozenset({_fact(x, y)}) if left is not None and left == right else None

    def broadcast(self, shapes):
        """The shape NumPy's broadcasting gives these shapes, or None where it is not known."""
        if any(s is None for s in shapes):
            return None
        out = ()
        for s in shapes:
            out = self._broadcast2(out, s)
            if out is None:
                return None
        return out

    def _broadcast2(self, a: tuple, b: tuple):
        n = max(len(a), len(b))
        a, b = (None,) * (n - len(a)) + a, (None,) * (n - len(b)) + b
        out = []
        for x, y in zip(a, b):
            if x is None or y is None:  # an axis only one operand has
                out.append(y if x is None else x)
                continue
            same = self.equal(x, y)
            if same is not None:
                out.append(Dim(x.term, same))
                continue
            one = self.equal(y, Dim(ONE))
            if one is not None:
                out.append(Dim(x.term, x.deps | one))
                continue
            one = self.equal(x, Dim(ONE))
            out.append(Dim(y.term, y.deps | one) if one is not None else UNKNOWN)
        return tuple(out)

    def same_shape(self, a, b):
        """The facts under which two shapes are equal, or None."""
        if a is None or b is None or len(a) != len(b):
            return None
        deps = frozenset()
        for x, y in zip(a, b):
            found = self.equal(x, y)
            if found is None:
                return None
            deps |= found
        return deps

    def multiple(self, whole, part):
        """``(k, facts)`` where symbol ``whole`` is surely ``k`` times symbol ``part`` (k >= 1), or None."""
        if not (isinstance(whole, tuple) and isinstance(part, tuple)):
            return None
        same = self.equal(Dim(whole), Dim(part))
        if same is not None:
            return 1, same
        if self.classes is not None:
            found = [f for f in self.times if f[0] == whole and f[1][2] == part]
            return (found[0][1][1], frozenset(found[:1])) if found else None
        if self.pattern is None:
            return None
        left, right = _label(whole, self.pattern), _label(part, self.pattern)
        for label, k, other in _multiples(self.pattern):
            if label == left and other == right and left is not None:
                return k, frozenset({(whole, (TIMES, k, part))})
        return None

    # ---- what the reverse sweep asks ------------------------------------------------
    def shape(self, node):
        if isinstance(node, gast.Name):
            return self.shapes.get(node.id)
        value = static_value(node)
        if isinstance(value, int | float | complex) and not isinstance(value, bool):
            return ()
        return None

    def keeps_shape(self, arg, args):
        """The facts under which operand ``arg`` has the shape ``args`` broadcast to, or None."""
        return self.same_shape(self.shape(arg), self.broadcast([self.shape(a) for a in args]))

    def trailing_shape(self, arg, args, lead: int):
        """The facts under which the broadcast shape without its first ``lead`` axes is ``arg``'s, or None."""
        out = self.broadcast([self.shape(a) for a in args])
        return None if out is None else self.same_shape(self.shape(arg), out[lead:])

    # ---- the fixed point --------------------------------------------------------------
    def _solve(self) -> dict:
        params = {p: self._argument(i, p) for i, p in enumerate(self.ir.params)}
        assigned = [s for s in walk(self.ir.body) if isinstance(s, Assign)]
        known = {**{s.target: _UNSEEN for s in assigned}, **params}
        for s in walk(self.ir.body):  # a loop counter over range(...): a Python int
            if isinstance(s, For):
                known[s.target] = () if self.ranks.get(s.target) == 0 else None
        touched = {n for s in walk(self.ir.body) if isinstance(s, Effect) for n in names_in(s.value)}

        def update(stmt) -> bool:
            new = self._result(stmt, known)
            if new is _UNSEEN:
                return False
            old = known[stmt.target]
            joined = new if old is _UNSEEN else self._join(old, new)
            known[stmt.target] = joined
            return joined != old

        if not dataflow.solve(assigned, lambda s: names_in(s.value), update, limit=64):
            return {}
        shapes = {v: (None if s is _UNSEEN or v in touched else _shape(s)) for v, s in known.items()}
        for v, s in shapes.items():
            if s is None and self.ranks.get(v) == 0:
                shapes[v] = ()
        return shapes

    def _argument(self, position: int, param: str):
        rank = self.ranks.get(param)
        shape = _argument_pattern(self.pattern, position) if self.pattern is not None else None
        if self.classes is not None:  # rebuilt from facts: the rank alone says how many symbols
            return tuple(Dim((position, k)) for k in range(rank)) if isinstance(rank, int) else None
        if rank == 0:
            return ()
        if shape is None or rank != len(shape):
            return None
        return tuple(Dim((position, k)) for k in range(rank))

    def _join(self, a, b):
        """The shape both ``a`` and ``b`` surely have (dimension by dimension), for a variable assigned twice."""
        if isinstance(a, Held) or isinstance(b, Held):
            return a if a == b else _shape(a) if _shape(a) == () == _shape(b) else None
        if a is None or b is None or len(a) != len(b):
            return None
        out = []
        for x, y in zip(a, b):
            same = self.equal(x, y)
            out.append(UNKNOWN if same is None else Dim(x.term, same))
        return tuple(out)

    def _result(self, stmt: Assign, known: dict):
        args, kwargs = operands(stmt)
        raw = []
        for a in args:
            s = known.get(a.id) if isinstance(a, gast.Name) else self.shape(a)
            if s is _UNSEEN:
                return _UNSEEN
            raw.append(s)
        try:
            found = self._rule(stmt, args, kwargs, raw, known)
        except (TypeError, ValueError, IndexError):
            found = None
        if self.ranks.get(stmt.target) == 0 and not isinstance(found, Held):
            return ()
        return found

    def _rule(self, stmt, args, kwargs, raw, known=None):
        prim = stmt.prim
        if prim is None:
            return raw[0]
        if prim is operator.mul and len(args) == 2 and not kwargs:  # 2 * n of a dimension n: a slice's bound
            scaled = _scaled(raw, args)
            if scaled is not None:
                return scaled
        shapes = [_shape(s) for s in raw]
        entry = lookup(prim)
        if entry is not None and entry.elementwise and not kwargs:
            return self.broadcast(shapes)
        if prim in (operator.matmul, np.matmul, np.dot) and len(args) == 2 and not kwargs:
            return _matmul(*shapes)
        if prim is np.transpose and len(args) == 1 and not kwargs and shapes[0] is not None:
            return shapes[0][::-1]
        if prim in _REDUCTIONS:
            return self._reduced(args, kwargs, shapes)
        if prim is operator.getitem and isinstance(raw[0], Held):  # x.shape[k]: a dimension, as an int
            k, held = static_value(args[1]), raw[0].value
            ok = isinstance(held, tuple) and isinstance(k, int) and not isinstance(k, bool)
            return Held(held[k]) if ok and -len(held) <= k < len(held) else None
        if prim is operator.getitem:
            return self._indexed(args, shapes, known or {})
        if prim is np.shape and len(args) == 1 and not kwargs and shapes[0] is not None:
            return Held(shapes[0])
        if prim is np.eye and len(args) == 1 and not kwargs and isinstance(raw[0], Held):
            n = raw[0].value
            return (n, n) if isinstance(n, Dim) else None
        return None

    def _reduced(self, args, kwargs, shapes):
        if shapes[0] is None or set(kwargs) - {"axis", "keepdims"} or len(args) > 2:
            return None
        axis = static_value(args[1]) if len(args) > 1 else static_value(kwargs.get("axis", gast.Constant(None, None)))
        keep = static_value(kwargs.get("keepdims", gast.Constant(False, None)))
        if axis is DYNAMIC or keep not in (True, False):
            return None
        rank = len(shapes[0])
        if axis is None:
            axes = set(range(rank))
        else:
            axes = {a % rank if -rank <= a < rank else None for a in (axis if isinstance(axis, tuple) else (axis,))}
            if None in axes or not all(isinstance(a, int) for a in axes):
                return None
        if keep:
            return tuple(Dim(ONE) if k in axes else d for k, d in enumerate(shapes[0]))
        return tuple(d for k, d in enumerate(shapes[0]) if k not in axes)

    def _indexed(self, args, shapes, known):
        base, index = args
        if shapes[0] is None:
            return None
        out, rest = [], list(shapes[0])
        for part in index.elts if isinstance(index, gast.Tuple) else [index]:
            if isinstance(part, gast.Slice):  # the whole axis, or a part of it of a length not known here
                if not rest:
                    return None
                whole = part.lower is None and part.upper is None and part.step is None
                kept = rest.pop(0)
                out.append(kept if whole else self._slice_length(kept, part, known))
            elif isinstance(part, gast.Constant) and part.value is None:
                out.append(Dim(ONE))
            elif self._integer(part):
                if not rest:
                    return None
                rest.pop(0)
            else:
                return None
        return tuple(out + rest)

    def _slice_length(self, axis: Dim, part: gast.Slice, known: dict) -> Dim:
        """The length of ``x[a * n : b * n]`` along an axis of length ``k * n`` (``a``, ``b`` constants; a
        bound left out is 0 or the whole axis): ``n`` where ``0 <= a < b <= k`` and ``b - a == 1``, under
        the fact ``L == k * n``; UNKNOWN otherwise. (The LSTM's gates ``z[:, n:2 * n]`` of ``z`` of 4 * n.)
        """
        if part.step is not None or not isinstance(axis.term, tuple):
            return UNKNOWN
        bounds = [self._bound(b, known) for b in (part.lower, part.upper)]
        if None in bounds:
            return UNKNOWN
        symbols = {b[1] for b in bounds if b[1] is not None}
        if len(symbols) != 1:
            return UNKNOWN
        symbol = symbols.pop()
        found = self.multiple(axis.term, symbol)
        if found is None:
            return UNKNOWN
        k, facts = found
        (a, _, lower_deps), (b, _, upper_deps) = bounds
        a = 0 if part.lower is None else a
        b = k if part.upper is None else b
        if not (0 <= a < b <= k and b - a == 1):
            return UNKNOWN
        return Dim(symbol, axis.deps | facts | lower_deps | upper_deps)

    @staticmethod
    def _bound(node, known):
        """``(coefficient, symbol, deps)`` of a slice bound: ``n`` (a dimension held), ``2 * n`` (scaled), 0,
        or left out (``(0, None, {})``: the caller reads it as the axis's end or start); None otherwise."""
        if node is None:
            return (0, None, frozenset())
        if isinstance(node, gast.Constant) and node.value == 0 and type(node.value) is int:
            return (0, None, frozenset())
        if not isinstance(node, gast.Name):
            return None
        held = known.get(node.id)
        if not (isinstance(held, Held) and isinstance(held.value, Dim)):
            return None
        term = held.value.term
        if isinstance(term, Scaled):
            return (term.k, term.term, held.value.deps)
        if isinstance(term, tuple):
            return (1, term, held.value.deps)
        return None

    def _integer(self, node) -> bool:
        """An index that is surely an int (a constant, a loop counter): it drops an axis."""
        if isinstance(node, gast.Constant):
            return isinstance(node.value, int) and not isinstance(node.value, bool)
        return isinstance(node, gast.Name) and node.id in self.loop_targets and self.counts.get(node.id, 0) == 1


_REDUCTIONS = (np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin)


def _scaled(raw, args):
    """``Held(Dim(Scaled(k, S)))`` for ``k * n`` or ``n * k`` of a dimension ``n`` (symbol S) and an int k >= 2."""
    for held, other in ((raw[0], args[1]), (raw[1], args[0])):
        if isinstance(held, Held) and isinstance(held.value, Dim) and isinstance(held.value.term, tuple):
            k = static_value(other)
            if type(k) is int and 2 <= k <= MAX_TIMES:
                return Held(Dim(Scaled(k, held.value.term), held.value.deps))
    return None


def _matmul(a, b):
    """``a @ b`` for operands of rank 1 or 2 (a call that succeeds has this shape)."""
    if a is None or b is None or not (1 <= len(a) <= 2 and 1 <= len(b) <= 2):
        return None
    return a[:-1] + (b[1:] if len(b) == 2 else ())


def _closure(facts) -> dict:
    """``{symbol: its class}`` for the equalities ``facts`` give (1 is a symbol too)."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for left, right in facts:
        parent[find(left)] = find(right)
    return {x: find(x) for x in parent}
