"""In-place updates of an array another name holds: ``x += e`` and ``x[i] = v``.

sct reads ``x += e`` as ``x = x + e``: a new array. NumPy changes the array
``x`` holds in place, so another name that holds it, or a view of it
(``y = x``, ``y = x[1:]``, ``y = x.T``, a list with ``x`` in it), sees the
change. Likewise a write ``x[i] = v`` is seen through every name of x's array,
which sct's copy-on-write (and its adjoint of the write) does not follow. When
such a name is read after the update, the function as Python runs it and the
function sct differentiates would differ, so sct reports it instead
(:func:`shared_updates` finds the candidates from the source; the lowering
reports writes at once, and ``x += e`` once the argument types show that ``x``
may be an array: :func:`surely_scalars`).

The scan is by position in the source: an alias made before the update (or
anywhere in a loop around it) and read after it (or anywhere in such a loop),
not bound again in between. A name bound only by plain assignments at the top
of the function body is followed binding by binding (``y = x; y = y * 2.0``:
the second ``y`` holds a new array, not x's); any other name is one node for
all its bindings, which may over-report but never misses a shared array.
"""

from __future__ import annotations

import gast
import numpy as np

from ..ir import BINOPS, COMPARES, UNARYOPS, Assign, walk

OPERATORS = set(BINOPS.values()) | set(UNARYOPS.values()) | set(COMPARES.values())
VIEW_ATTRIBUTES = {"T", "mT", "real", "imag", "flat"}
VIEWS = {  # methods and NumPy functions whose result may share the argument's memory
    "reshape",
    "ravel",
    "view",
    "transpose",
    "squeeze",
    "swapaxes",
    "moveaxis",
    "diagonal",
    "asarray",
    "asanyarray",
    "expand_dims",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_to",
    "real",
    "imag",
}


def shared_updates(fn: gast.FunctionDef) -> dict:
    """``{id(update statement): (other name, the node that made it an alias)}``."""
    scan = _Scan(_top_level_names(fn))
    scan.block(fn.body, loops=())
    found = {}
    for position, node, var, loops in scan.updates:
        other = scan.alias_read_after(var, position, loops, same_object=isinstance(node, gast.Expr))
        if other is not None:
            found[id(node)] = other
    return found


def _top_level_names(fn: gast.FunctionDef) -> set:
    """Names every binding of which is a plain assignment at the top of the body (never in a branch or loop)."""
    top = set()
    for stmt in fn.body:
        if isinstance(stmt, gast.Assign | gast.AnnAssign):
            for target in stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]:
                top |= {id(n) for n in gast.walk(target) if isinstance(n, gast.Name)}
    stores = [n for stmt in fn.body for n in gast.walk(stmt) if isinstance(n, gast.Name) and not _is_load(n)]
    return {n.id for n in stores} - {n.id for n in stores if id(n) not in top}


class _Scan:
    def __init__(self, versioned=frozenset()):
        self.versioned = versioned  # names followed binding by binding (see _top_level_names)
        self.bindings = []  # (position, name): a binding of a versioned name
        self.position = 0
        self.edges = []  # (position, name, name, node): the two may hold the same array
        self.reads = []  # (position, name)
        self.stores = []  # (position, name): a name bound again
        self.updates = []  # (position, statement, the name updated, enclosing loop spans)

    def block(self, body, loops):
        for stmt in body:
            self.position += 1
            here = self.position
            if isinstance(stmt, gast.For | gast.While):
                self.read(stmt.iter if isinstance(stmt, gast.For) else stmt.test)
                if isinstance(stmt, gast.For):
                    self.link(_names(stmt.target, stored=True), stmt.iter, stmt)
                    self.stores += [(here, n) for n in _names(stmt.target, stored=True)]
                span = [here, here]
                self.block(stmt.body, loops + (span,))
                self.block(stmt.orelse, loops + (span,))
                span[1] = self.position
            elif isinstance(stmt, gast.If):
                self.read(stmt.test)
                self.block(stmt.body, loops)
                self.block(stmt.orelse, loops)
            else:
                self.simple(stmt, loops)

    def simple(self, stmt, loops):
        for target in getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]:
            written = written_name(target)  # x[i] = v, x[i] += v: always in place
            if written is not None:
                self.updates.append((self.position, stmt, written, loops))
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            self.read(stmt.value)
            self.updates.append((self.position, stmt, stmt.target.id, loops))
        elif isinstance(stmt, gast.Assign | gast.AnnAssign) and stmt.value is not None:
            self.read(stmt)
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            self.bindings += [(self.position, n) for t in targets for n in _names(t, stored=True)]
            for target in targets:
                self.link(_names(target, stored=True), stmt.value, stmt)
        elif isinstance(stmt, gast.Expr) and _is_method(stmt.value, "append", "extend", "insert"):
            self.read(stmt.value)
            owner = stmt.value.func.value
            for arg in stmt.value.args:
                self.link(_names(owner), arg, stmt)
            if isinstance(owner, gast.Name):  # the list grows in place: every name of it sees the new item
                self.updates.append((self.position, stmt, owner.id, loops))
        else:
            self.read(stmt)

    def read(self, node):
        self.reads += [(self.position, n.id) for n in gast.walk(node) if _is_load(n)]
        stored = [n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]
        self.stores += [(self.position, n) for n in stored]

    def link(self, targets, value, node):
        for source in _held(value):
            for target in targets:
                if target != source or target in self.versioned:  # y = y[1:] links two bindings of y
                    self.edges.append((self.position, self.node(target, self.position + 1), self.node(source), node))

    def node(self, name: str, position: int | None = None):
        """``name`` as bound just before ``position`` (now by default): one node per binding if versioned."""
        if name not in self.versioned:
            return name, None
        here = self.position if position is None else position
        return name, max((p for p, n in self.bindings if n == name and p < here), default=0)

    def alias_read_after(self, var: str, position: int, loops, same_object=False):
        """A name holding ``var``'s array, made before ``position``, read after it; or None.

        ``same_object``: only names bound to the very object count (``ys = xs``
        sees ``xs.append(v)``; a list holding ``xs`` as an item does not).
        """

        def around(p):
            return any(first <= p <= last for first, last in loops)

        edges = [(a, b, node) for p, a, b, node in self.edges if p < position or around(p)]
        if same_object:
            edges = [(a, b, node) for a, b, node in edges if isinstance(getattr(node, "value", None), gast.Name)]
        start = self.node(var, position)
        reached, frontier, made = {start}, [start], {}
        while frontier:
            current = frontier.pop()
            for a, b, node in edges:
                for this, other in ((a, b), (b, a)):
                    if this == current and other not in reached:
                        reached.add(other)
                        made[other] = node
                        frontier.append(other)
        for p, n in self.reads:
            n_node = self.node(n, p)
            if n_node not in made or p == position:  # the update's own operands are read before it
                continue
            if p > position and not self.bound(n, position, p):
                return n, made[n_node]
            first = min((first for first, last in loops if first <= p <= last), default=None)
            if p < position and first is not None and not self.bound(n, first, p):  # the next trip reads it
                return n, made[n_node]
        return None

    def bound(self, var: str, after: int, before: int) -> bool:
        """Is ``var`` bound again strictly between two positions (so a read sees another array)?"""
        return any(after < p < before and n == var for p, n in self.stores)


def written_name(target):
    """``x`` for a target ``x[i]`` (or ``x[i][j]``, ``x.a[i]``): the array written into; else None."""
    if not isinstance(target, gast.Subscript):
        return None
    base = target.value
    while isinstance(base, gast.Subscript | gast.Attribute):
        base = base.value
    return base.id if isinstance(base, gast.Name) else None


def _held(value) -> list[str]:
    """The names whose arrays ``value`` may be (or view, or hold in a container)."""
    if isinstance(value, gast.Name):
        return [value.id]
    if isinstance(value, gast.Subscript | gast.Starred):
        return _held(value.value)
    if isinstance(value, gast.Attribute) and value.attr in VIEW_ATTRIBUTES:
        return _held(value.value)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr in VIEWS:
        receiver = value.func.value
        held = [] if isinstance(receiver, gast.Name) and receiver.id in ("np", "numpy") else _held(receiver)
        return held + [n for a in value.args[:1] for n in _held(a)]
    if isinstance(value, gast.List | gast.Tuple | gast.Set):
        return [n for e in value.elts for n in _held(e)]
    if isinstance(value, gast.Dict):
        return [n for e in value.values for n in _held(e)]
    if isinstance(value, gast.IfExp):
        return _held(value.body) + _held(value.orelse)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id in ("enumerate", "zip"):
        return [n for a in value.args for n in _held(a)]
    return []


def _names(node, stored: bool = False) -> list[str]:
    return [n.id for n in gast.walk(node) if isinstance(n, gast.Name) and (not stored or not _is_load(n))]


def _is_load(node) -> bool:
    return isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load)


def _is_method(node, *methods) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr in methods


SYMBOLS = {
    gast.Add: "+",
    gast.Sub: "-",
    gast.Mult: "*",
    gast.Div: "/",
    gast.FloorDiv: "//",
    gast.Mod: "%",
    gast.Pow: "**",
    gast.MatMult: "@",
}


def describe(stmt, other: str, line) -> str:
    """What is wrong with ``x op= e`` (or ``x[i] = e``) when ``other`` holds x's array, and what to write instead."""
    made = f" (line {line})" if line else ""
    targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
    written = next((w for w in map(written_name, targets) if w is not None), None)
    if written is not None:
        return (
            f"this writes into the array `{written}`, and `{other}`{made} holds the same array or a view of it, so "
            f"NumPy changes `{other}` too; sct cannot differentiate a write seen through two names (the gradient "
            f"would be wrong): write into a copy (`{written} = {written}.copy()` first) if `{other}` should keep "
            f"the old values, or compute `{other}` after the write"
        )
    if isinstance(stmt, gast.Expr):  # xs.append(v)
        method, xs = stmt.value.func.attr, stmt.value.func.value.id
        return (
            f"`{xs}.{method}(...)` changes the list `{xs}` in place, and `{other}`{made} holds the same list, so "
            f"Python changes `{other}` too, but sct builds a new list; build `{other}` after the update, or "
            f"copy first (`{xs} = list({xs})`) if `{other}` should keep the old items"
        )
    x, op = stmt.target.id, SYMBOLS.get(type(stmt.op), "+")
    return (
        f"`{x} {op}= ...` changes the array `{x}` in place, and `{other}`{made} holds the same array or a view "
        f"of it, so NumPy changes `{other}` too, but sct computes `{x} = {x} {op} ...`, a new array; write "
        f"`{x} = {x} {op} ...` if `{other}` should keep the old values, or compute `{other}` again after the update"
    )


def surely_scalars(ir, ranks: dict, maybe_arrays: set) -> set:
    """IR variables whose object, as Python runs the function, is a number and not an array.

    Follows copies (``y = x``) and updates (``x += e`` keeps x's object) back to
    where the object was made: by arithmetic, a ufunc or ``math`` (of rank 0, a
    number even for 0-d arrays), or a constant. A parameter in ``maybe_arrays``
    (a 0-d array passes as a scalar), or anything else, may be an array.
    """
    made = {s.target: s for s in walk(ir.body) if isinstance(s, Assign)}
    found = set()
    for var, rank in ranks.items():
        source, seen = var, set()
        while source not in seen:
            seen.add(source)
            if source in ir.augmented:
                source = ir.augmented[source]
            elif source in made and isinstance(made[source].value, gast.Name):
                source = made[source].value.id
            else:
                break
        stmt = made.get(source)
        number = stmt is not None and (isinstance(stmt.value, gast.Constant) or _computes(stmt.prim, stmt.value))
        if rank == 0 and (number or source in ir.params and source not in maybe_arrays):
            found.add(var)
    return found


def _computes(prim, value) -> bool:
    """Does ``prim`` compute a new value (an operator, a ufunc, a ``math`` function, an element)?"""
    if isinstance(value, gast.Subscript):  # x[0] of a vector is a number; x[...] of a 0-d array a view
        return not any(isinstance(n, gast.Constant) and n.value is Ellipsis for n in gast.walk(value.slice))
    try:
        operator = prim in OPERATORS
    except TypeError:  # unhashable
        operator = False
    return operator or isinstance(prim, np.ufunc) or getattr(prim, "__module__", None) == "math"
