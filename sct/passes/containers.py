"""What structure each value has: an array or number (a *leaf*), or a list, tuple or dict of what.

The adjoint of a container has the container's structure, and contributions
add leaf by leaf: ``delta_xs = tree_add(delta_xs, c)``, never ``delta_xs + c``
(``+`` concatenates lists). Where an item of a container may itself be a
container, ``delta_xs[i] += g`` would concatenate too, so the scatter goes
through ``add_at``, which adds items as gradients.

Structures come from the arguments' signature (:func:`describe`) and flow
through the lowered code to a fixed point. A structure is

* ``LEAF``: an array or a number;
* ``(kind, items)`` with ``kind`` one of ``"list"``, ``"tuple"``, ``"dict"``
  and ``items`` a tuple of item structures (``(key, structure)`` pairs for a
  dict), or ``("*", s)`` for a list whose items all have structure ``s``;
* ``UNKNOWN``: anything (where paths disagree, or a call returns who knows what).

Everything not surely a leaf gets the container-safe code; leaves keep the plain code.
"""

from __future__ import annotations

import operator

import gast

from ..analysis import dataflow
from ..backend import trees
from ..backend.codegen import nodes
from ..backend.runtime import (
    add_at,
    appended,
    copied,
    cotangent_like,
    detached,
    dropped_last,
    fresh_copy,
    grad_like,
    join_split,
    like,
    tangent_like,
    tree_add,
    unstack,
    zeros_like,
)
from ..errors import Problem, UnsupportedSyntaxError
from ..ir import Assign, For, SetItem, names_in, walk
from ..rules.containers import list_call, tuple_call
from ..rules.table import lookup

LEAF = "leaf"
UNKNOWN = "unknown"
_UNSEEN = None


# ---- structures of arguments ------------------------------------------------------------
def describe(a):
    """The structure of an argument (part of its signature, so a variant knows its containers)."""
    if isinstance(a, dict):
        return ("dict", tuple((k, describe(v)) for k, v in a.items()))
    if isinstance(a, list | tuple):
        items = tuple(describe(v) for v in a)
        if isinstance(a, list) and items and all(i == items[0] for i in items):
            return ("list", ("*", items[0]))
        return (type(a).__name__ if type(a) in (list, tuple) else "tuple" if isinstance(a, tuple) else "list", items)
    return LEAF


def is_container(s) -> bool:
    return s is UNKNOWN or isinstance(s, tuple)


def item_structures(s) -> list:
    """The structures an item of ``s`` may have."""
    if s is UNKNOWN or s is LEAF or s is _UNSEEN:
        return [UNKNOWN] if s is UNKNOWN else []
    kind, items = s
    if items[:1] == ("*",):
        return [items[1]] if items[1] is not None else []
    if kind == "dict":
        return [v for _, v in items]
    return list(items)


def _join_all(structures):
    result = _UNSEEN
    for s in structures:
        result = join(result, s)
    return result


def join(a, b):
    """A structure that covers both ``a`` and ``b``."""
    if a is _UNSEEN:
        return b
    if b is _UNSEEN or a == b:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "list":
        item = _join_all(item_structures(a) + item_structures(b))
        return ("list", ("*", item))
    return UNKNOWN


def _homogeneous(kind, item):
    return (kind, ("*", item))


def _item(s, index):
    """The structure of ``s[index]`` for a static index (or DYNAMIC)."""
    if s is LEAF:
        return LEAF  # indexing an array gives an array or a number
    if not isinstance(s, tuple):
        return UNKNOWN
    kind, items = s
    if isinstance(index, slice):
        return _homogeneous(kind if kind != "dict" else "list", _join_all(item_structures(s)))
    if kind == "dict":
        found = [v for k, v in items if k == index and type(k) is type(index)]
        return found[0] if found else _join_all(item_structures(s))
    if (
        items[:1] != ("*",)
        and isinstance(index, int)
        and not isinstance(index, bool)
        and -len(items) <= index < len(items)
    ):
        return items[index]
    return _join_all(item_structures(s))  # no items seen yet: nothing known yet (a list grown in a loop)


# ---- the analysis -----------------------------------------------------------------------
def structures(ir, params: dict) -> dict:
    """The structure of every variable, to a fixed point over loops and branches.

    ``params`` maps container parameters to their structures; the others are
    leaves. Names the function reads but never assigns (module globals) have
    the structure of the value they are bound to.
    """
    assigns = [s for s in walk(ir.body) if isinstance(s, Assign | For)]
    assigned = {s.target for s in assigns}
    known = {p: params.get(p, LEAF) for p in ir.params}
    reads = {}  # id(statement) -> the variables its structure is computed from (see _reads), from the same walk
    for stmt in assigns:
        found = list(nodes(stmt.value if isinstance(stmt, Assign) else stmt.iter))
        called = {id(n.func) for n in found if type(n) is gast.Call}
        names = [n for n in found if type(n) is gast.Name]
        for node in names:  # (_read_names: not the names of the functions it calls)
            if id(node) not in called and node.id not in assigned and node.id not in known:
                value = ir.namespace.get(node.id, _MISSING)
                known[node.id] = UNKNOWN if value is _MISSING else describe(value)
        reads[id(stmt)] = [n.id for n in names] if isinstance(stmt, Assign) else []

    def update(stmt) -> bool:  # worklist data flow (sct.analysis.dataflow): linear where the structures settle
        s = LEAF if isinstance(stmt, For) else _structure(stmt, known)
        if s is _UNSEEN:
            return False
        old = known.get(stmt.target, _UNSEEN)
        known[stmt.target] = join(old, s)
        return known[stmt.target] != old

    limit = 2 * len(assigns) + 4  # ever deeper: a tuple grown in a loop
    if not dataflow.solve(assigns, lambda stmt: reads[id(stmt)], update, limit=limit):
        known = {v: (UNKNOWN if is_container(s) else s) for v, s in known.items()}
    return known


def _reads(stmt) -> list:
    """The variables a statement's structure is computed from (for :func:`sct.analysis.dataflow.solve`)."""
    return names_in(stmt.value) if isinstance(stmt, Assign) else []


_MISSING = object()


def _read_names(value):
    """The variables an expression reads (not the names of the functions it calls)."""
    found = list(nodes(value))
    called = {id(n.func) for n in found if isinstance(n, gast.Call)}
    return [n for n in found if isinstance(n, gast.Name) and id(n) not in called]


def _of(node, known):
    if isinstance(node, gast.Name):
        return known.get(node.id, _UNSEEN)
    if isinstance(node, gast.Tuple | gast.List):
        items = tuple(_of(e, known) for e in node.elts)
        return _UNSEEN if _UNSEEN in items else ("tuple" if isinstance(node, gast.Tuple) else "list", items)
    return LEAF


def _structure(stmt: Assign, known: dict):
    """The structure of ``stmt``'s result, from its operands' (``_UNSEEN`` until they are seen)."""

    value, prim = stmt.value, stmt.prim
    if isinstance(value, gast.Dict):
        values = [_of(v, known) for v in value.values]
        if _UNSEEN in values:
            return _UNSEEN
        keys = [k.value if isinstance(k, gast.Constant) else None for k in value.keys]
        if None in keys:
            return ("dict", ("*", _join_all(values) or LEAF)) if values else ("dict", ())
        return ("dict", tuple(zip(keys, values)))
    if prim is None or prim in (tuple, list) and isinstance(value, gast.Tuple | gast.List):
        return _of(value, known)
    args = [value.args[0]] if isinstance(value, gast.Call) and value.args else []
    first = _of(args[0], known) if args else LEAF
    if prim is operator.getitem:
        base = _of(value.value, known)
        if base is _UNSEEN:
            return _UNSEEN
        return _item(base, _static_index(value.slice))
    if first is _UNSEEN:
        return _UNSEEN
    return _builder_structure(prim, value, known, first, trees)


def _builder_structure(prim, value, known, first, trees):
    nodes = [value.left, value.right] if isinstance(value, gast.BinOp) else getattr(value, "args", [])
    operands = [_of(a, known) for a in nodes]
    if _UNSEEN in operands:
        return _UNSEEN
    if prim is appended:
        return _homogeneous("list", _join_all(item_structures(operands[0]) + [operands[1]]))
    if prim is dropped_last:
        return _homogeneous("list", _join_all(item_structures(operands[0])))
    if prim in _LISTS_OF_ITEMS or prim is trees.permuted:
        return _homogeneous("list", _join_all(item_structures(first)))
    if prim is trees.iterated:
        return first if not (isinstance(first, tuple) and first[0] == "dict") else _homogeneous("list", LEAF)
    if prim is trees.dict_items:
        return _homogeneous("list", ("tuple", (LEAF, _join_all(item_structures(first)) or LEAF)))
    if prim is trees.dict_values:
        return _homogeneous("list", _join_all(item_structures(first)))
    if prim is trees.dict_keys:
        return _homogeneous("list", LEAF)
    if prim is trees.dict_get:
        return UNKNOWN
    if prim is trees.zipped:
        return _homogeneous("list", ("tuple", tuple(_join_all(item_structures(o)) or LEAF for o in operands)))
    if prim is trees.transposed:
        rows = item_structures(first)
        return _homogeneous("list", _homogeneous("tuple", _join_all(sum((item_structures(r) for r in rows), []))))
    if prim is trees.concatenated:
        return prim_concatenated(operands)
    if prim is operator.add and any(is_container(o) for o in operands):  # joined sequences (see specialise)
        return prim_concatenated(operands)
    if prim in (copied, zeros_like, fresh_copy, detached, add_at, tree_add):  # copies, gradients: the structure
        return first
    if prim in (like, grad_like, tangent_like, cotangent_like):  # typed as their second operand
        return operands[1] if len(operands) > 1 else UNKNOWN
    if prim in (trees.left_part, trees.right_part):  # a's (b's) share of the gradient of a + b: a's structure
        return operands[1 if prim is trees.left_part else 2] if len(operands) > 2 else UNKNOWN
    if prim is trees.iterated_grad:  # x's structure, or the gradient's
        return UNKNOWN
    if prim is trees.concatenated_tangent:  # the tangent of a + b: its structure
        return prim_concatenated(operands[2:]) if len(operands) > 3 else UNKNOWN
    if prim is unstack:  # gradients of a join of a list: a list of arrays
        return _homogeneous("list", LEAF)
    if prim is join_split:  # a list of shares of a list, an array of them of an array
        items = operands[1] if len(operands) > 1 else UNKNOWN
        return LEAF if items is LEAF else _homogeneous("list", LEAF) if isinstance(items, tuple) else UNKNOWN
    entry = lookup(prim) if prim is not trees.dict_get else None
    if entry is None:  # a value from a dict, or a call sct knows no rule for
        return UNKNOWN
    if entry.sequence == "maybe" or not entry.symbolic:  # np.gradient; a user's rule may return anything
        return UNKNOWN
    if entry.sequence is not None:  # np.split, np.linalg.svd: their gradients add item by item
        return _homogeneous(entry.sequence, LEAF)
    return LEAF  # the rules' primitives compute arrays and numbers


def prim_concatenated(operands):
    """The structure of ``a + b`` where either may be a sequence: both joined, or unknown if they differ."""
    if not any(is_container(o) for o in operands):
        return LEAF
    kinds = {o[0] if isinstance(o, tuple) else o for o in operands}
    if len(kinds) != 1 or UNKNOWN in kinds:
        return UNKNOWN
    kind = kinds.pop()
    return (
        _homogeneous("list", _join_all(sum((item_structures(o) for o in operands), [])))
        if kind == "list"
        else (
            kind,
            tuple(i for o in operands for i in o[1]) if all(o[1][:1] != ("*",) for o in operands) else ("*", UNKNOWN),
        )
    )


def _binop_operands(value, known):
    if isinstance(value, gast.BinOp):
        return [_of(value.left, known), _of(value.right, known)]
    return []


def _static_index(node):
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Slice):
        return slice(None)
    if isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Constant):
        return -node.operand.value
    return _DYNAMIC


class _Dynamic:
    pass


_DYNAMIC = _Dynamic()
_LISTS_OF_ITEMS = {sorted, list_call, tuple_call}


# ---- using the analysis ---------------------------------------------------------------
def analyse(ir, params: dict) -> tuple[set, set]:
    """(values that may be containers, containers whose items may be containers)."""
    found = structures(ir, params)
    maybe = {v for v, s in found.items() if is_container(s)}
    nested = {v for v, s in found.items() if any(is_container(i) for i in item_structures(s))}
    return maybe, nested


def specialise(ir, params: dict) -> None:
    """Operations whose meaning depends on whether a value is a container, made exact (in place).

    ``b = iterated(xs)`` becomes the copy ``b = xs`` where ``xs`` is surely not a
    dict; ``xs + ys`` where either may be a list or tuple is keyed by
    ``concatenated`` (its adjoint splits the gradient where the ``+`` joined);
    other arithmetic on a possible container (``xs * 2`` repeats a list) is refused.
    """

    found = structures(ir, params)
    problems = []
    for stmt in walk(ir.body):
        if not isinstance(stmt, Assign):
            continue
        if stmt.prim is trees.iterated:
            operand = stmt.value.args[0]
            s = found.get(operand.id, LEAF) if isinstance(operand, gast.Name) else UNKNOWN
            if not (s is UNKNOWN or isinstance(s, tuple) and s[0] == "dict"):
                stmt.value, stmt.prim = operand, None
        elif isinstance(stmt.value, gast.BinOp) and any(is_container(o) for o in _binop_operands(stmt.value, found)):
            if stmt.prim is operator.add:
                stmt.prim = trees.concatenated
            elif any(isinstance(o, tuple) for o in _binop_operands(stmt.value, found)):  # surely a container
                operator_ = type(stmt.value.op).__name__
                message = f"`{operator_}` on a list or tuple is not supported; build the list with a loop or np.tile"
                problems.append(Problem(message, stmt.origin))
    for stmt in walk(ir.body):  # d["new"] = v: a key the dict may not have yet
        if isinstance(stmt, SetItem) and isinstance(stmt.index, gast.Constant):
            s = found.get(stmt.target, LEAF)
            known = isinstance(s, tuple) and s[0] == "dict" and s[1][:1] != ("*",)
            if known and not any(k == stmt.index.value for k, _ in s[1]):
                message = (
                    f"adding the key {stmt.index.value!r} to a dict inside the function is not supported; "
                    "build the dict with all its keys at once ({..., key: value})"
                )
                problems.append(Problem(message, stmt.origin))
    if problems:
        raise UnsupportedSyntaxError(problems)
