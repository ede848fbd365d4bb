"""The algebra of adjoint statements: each adjoint one expression, as a person writes it.

Three rewrites over adjoint lines (``delta_*`` targets: a tangent line stays beside the
primal line it follows, though ``np.sum(1.0)`` folds there too), each exact: the
rewritten code computes the same numbers, in the same order, to the bit.

- :func:`drop_round_trips`: ``delta_m = delta_e; ...; delta_e = delta_m`` where
  neither name is reassigned in between: the second line assigns ``delta_e`` the
  value it holds, and goes (a loop-carried copy through a reversed ``e = m``).
- :func:`merge_sums`: ``v = A; ...; v = v + B`` -> ``v = A + B`` where nothing in
  between reads ``v`` or changes what ``A`` reads. ``A + B`` is the sum the two
  lines computed, accumulated in the same order: no reassociation.
- :func:`fold_number_sums`: ``np.sum(1.0)`` -> ``1.0``: a number summed is itself
  (the unit seed through the adjoint of a scalar output).

>>> print(demo("def f(a, b, x):\\n    delta_y = a * x\\n    delta_z = b\\n    delta_y = delta_y + b * 2.0\\n"
...            "    return delta_y, delta_z"))
def f(a, b, x):
    delta_z = b
    delta_y = a * x + b * 2.0
    return (delta_y, delta_z)
"""

from __future__ import annotations

import bisect

import gast

from ..backend.codegen import is_comment, nodes, unparse
from . import optimize as passes
from .optimize import _added, _comment_text, _derivative_line, _note_in_place, _stored_names, bodies

# Calls an adjoint line may make that read their operands and change nothing (the runtime helpers
# generated code calls, NumPy's and math's functions): an expression of these moves past lines that
# change none of the names it reads. Anything else (a user adjoint with its own records) stays put.
_PURE_HELPERS = frozenset(
    {
        "unbroadcast",
        "matmul_grad_left",
        "matmul_grad_right",
        "size_or_one",
        "float",
        "abs",
        "zeros_like",
        "index_grad",
        "solve_grad",
        "tensordot_grad_left",
        "tensordot_grad_right",
        "kron_grad_left",
        "kron_grad_right",
    }
)
_PURE_MODULES = frozenset({"np", "math"})
_PURE_METHODS = frozenset({"sum", "conj", "reshape", "transpose", "astype", "mean", "ravel", "squeeze", "dot"})
# A sum is written as one line only while that line stays short enough to read at a glance.
_LONG = 88  # characters of ``v = A + B``, indentation aside
_NOT_PLAIN = gast.Lambda | gast.NamedExpr | gast.Yield | gast.YieldFrom | gast.Await | gast.ListComp


def optimize(fn: gast.FunctionDef) -> gast.FunctionDef:
    """:func:`sct.passes.optimize.optimize`'s passes to a fixed point, then each adjoint written as one
    expression (after the passes that look for its parts on separate lines), and the passes again."""
    passes.optimize(fn)
    while rewrite(fn):
        passes.optimize(fn)
    return fn


def rewrite(fn: gast.FunctionDef) -> bool:
    """Run the three rewrites once each; whether any changed ``fn``."""
    changed = fold_number_sums(fn)
    changed |= drop_round_trips(fn)
    changed |= merge_sums(fn)
    return changed


def demo(source: str) -> str:
    fn = gast.parse(source).body[0]
    rewrite(fn)
    return unparse(fn)


# ---- identities through a copy ----------------------------------------------------------
def drop_round_trips(fn) -> bool:
    """``t = s; ...; s = t`` -> ``t = s; ...``: the second copy assigns ``s`` its own value.

    Neither name may be assigned between the two lines (an in-place change of one
    changes the other too: they hold the same object). Adjoint lines only.
    """
    changed = False
    for body in list(bodies(fn)):
        k = 0
        while k < len(body):
            if _round_trip(body, k):
                del body[k]
                changed = True
                continue
            k += 1
    return changed


def _round_trip(body, j) -> bool:
    copy = _copy(body[j])
    if copy is None or not copy[0].startswith("delta_"):
        return False
    s, t = copy
    for i in range(j - 1, -1, -1):
        stored = _stored_names(body[i])
        if _copy(body[i]) == (t, s):
            return True
        if stored & {s, t}:
            return False
    return False


def _copy(stmt):
    """``(target, source)`` for ``target = source`` between two names, else None."""
    if (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(stmt.value, gast.Name)
    ):
        return stmt.targets[0].id, stmt.value.id
    return None


# ---- sums written as one expression -------------------------------------------------------
def merge_sums(fn) -> bool:
    """``v = A; ...; v = v + B`` (or ``- B``) -> ``...; v = A + B``, where that is the same value.

    ``A`` is evaluated where the second line was: nothing in between may read or
    assign ``v``, assign a name ``A`` reads, or update any array in place (it may
    be one ``A`` reads under another name), or pass what ``A`` reads to a function
    that may change it; and ``A`` calls
    only functions that change nothing (NumPy's, math's, sct's runtime helpers).
    ``A + B`` adds what the two lines added, in their order, so the result is
    the same to the bit. Only ``v = v + B`` (a new value), not ``v += B``, which
    adds into ``A``'s array with ``A``'s dtype.
    """
    changed = False
    for body in list(bodies(fn)):
        changed |= _merge_sums_in(body)
    return changed


def _merge_sums_in(body) -> bool:
    """:func:`merge_sums` in one block, in linear time: the lines that touch, change or update each name
    are listed once, by position; a line merged away is left as None until the end, so the positions
    of the lines after it stay as listed. (A merge moves ``A``, which changes nothing, from line ``i``
    to line ``j``; no line between them reads or changes what it reads, so no other decision changes.)"""
    touches, changes, in_place = {}, {}, []
    for k, stmt in enumerate(body):
        for var in _loads(stmt) | _stored_names(stmt):
            touches.setdefault(var, []).append(k)
        for var in _changed(stmt):
            changes.setdefault(var, []).append(k)
        if _updates_in_place(stmt):
            in_place.append(k)
    merged_any = False
    for i in range(len(body)):
        j = _sum_into(body, i, touches, changes, in_place)
        if j is None:
            continue
        first, second = body[i], body[j]
        op, term = _added(second, first.targets[0].id)
        merged = gast.BinOp(left=first.value, op=op, right=term)
        if len(first.targets[0].id) + 3 + len(unparse(merged)) > _LONG:
            continue
        second.value = merged
        _join_comment(body, i, j)
        body[i] = None
        merged_any = True
    if merged_any:
        body[:] = [stmt for stmt in body if stmt is not None]
    return merged_any


def _join_comment(body, gone, kept) -> None:
    """``body[gone]`` goes into ``body[kept]``: its comment, if over it alone, is added to ``kept``'s, after it
    (the line stands in ``kept``'s block: ``# v = u + b; e = 1.0 + u``). Lines merged away are None."""
    head, own = _head_alive(body, kept), _alive_before(body, gone)
    after = body[gone + 1] if gone + 1 < len(body) else None
    alone = after is None or is_comment(after) or isinstance(after, gast.Return) or gone + 1 == kept
    if head is None or own is None or not is_comment(body[own]) or not alone or own == head:
        return
    body[head].value.args[0].value = "; ".join([_comment_text(body[head]), _comment_text(body[own])])


def _alive_before(body, at):
    """The position of the last line before ``at`` not merged away, or None."""
    for k in range(at - 1, -1, -1):
        if body[k] is not None:
            return k
    return None


def _head_alive(body, at):
    """:func:`sct.passes.optimize._head` over the lines not merged away."""
    for k in range(at - 1, -1, -1):
        if body[k] is None:
            continue
        if is_comment(body[k]):
            return k
        if not isinstance(body[k], gast.Assign | gast.AugAssign):
            return None
    return None


def _sum_into(body, i, touches, changes, in_place):
    """The position of ``v = v + B`` that ``body[i]`` (``v = A``) can be written into, or None."""
    stmt = body[i]
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return None
    v = stmt.targets[0].id
    if not v.startswith("delta_") or not _pure(stmt.value):
        return None
    j = _after(touches.get(v, ()), i)
    if j is None:
        return None
    later = body[j]
    added = _added(later, v)
    if added is None or not isinstance(later, gast.Assign) or not isinstance(added[0], gast.Add | gast.Sub):
        return None
    blockers = [_after(in_place, i)] + [_after(changes.get(r, ()), i) for r in _loads(stmt.value)]
    if any(k is not None and k < j for k in blockers):
        return None  # an array updated in place may be one ``A`` reads under another name: stop there
    return j


def _after(positions, i):
    """The first of the sorted ``positions`` after ``i``, or None."""
    k = bisect.bisect_right(positions, i)
    return positions[k] if k < len(positions) else None


def _loads(node) -> set:
    return {n.id for n in nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _updates_in_place(stmt) -> bool:
    found = set()
    for node in nodes(stmt):
        _note_in_place(node, found)
    return bool(found)


def _changed(stmt) -> set:
    """Names ``stmt`` assigns or may change in place (an impure call may change what it is passed)."""
    found = set(_stored_names(stmt))
    for node in nodes(stmt):
        _note_in_place(node, found)
        if isinstance(node, gast.Call) and not _pure_call(node):
            found |= _loads(node)
    return found


def _pure(node) -> bool:
    """An expression that only reads: arithmetic, subscripts, and calls of functions that change nothing."""
    for n in nodes(node):
        if isinstance(n, _NOT_PLAIN):
            return False
        if isinstance(n, gast.Call) and not _pure_call(n):
            return False
    return True


def _pure_call(call) -> bool:
    func = call.func
    if isinstance(func, gast.Name):
        return func.id in _PURE_HELPERS
    if isinstance(func, gast.Attribute):
        if isinstance(func.value, gast.Name) and func.value.id in _PURE_MODULES:
            return True
        if (
            isinstance(func.value, gast.Attribute)
            and isinstance(func.value.value, gast.Name)
            and func.value.value.id == "np"
            and func.value.attr == "linalg"
        ):
            return True
        return func.attr in _PURE_METHODS
    return False


# ---- a number summed -----------------------------------------------------------------------
def fold_number_sums(fn) -> bool:
    """``np.sum(c)`` -> ``c`` for a number ``c``, in adjoint lines: a number summed is itself."""
    changed = False
    lines = [stmt for body in bodies(fn) for stmt in body if _derivative_line(stmt)]
    for node in (n for stmt in lines for n in nodes(stmt)):
        for attr, child in list(gast.iter_fields(node)):
            if isinstance(child, list):
                for k, item in enumerate(child):
                    folded = _number_sum(item)
                    if folded is not None:
                        child[k] = folded
                        changed = True
            else:
                folded = _number_sum(child)
                if folded is not None:
                    setattr(node, attr, folded)
                    changed = True
    return changed


def _number_sum(node):
    if not (
        isinstance(node, gast.Call)
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.func, gast.Attribute)
        and node.func.attr == "sum"
        and isinstance(node.func.value, gast.Name)
        and node.func.value.id == "np"
    ):
        return None
    arg = node.args[0]
    if isinstance(arg, gast.Constant) and type(arg.value) is float:  # np.sum(1) is an integer: left alone
        return gast.Constant(value=arg.value, kind=None)
    return None
