"""Single-use temporaries written into their one use, in gradients of scalar code.

The generated code names every intermediate value (``l = y * y``, then
``m = 1.0 + l``), which is what makes it readable. On Python floats each such
name costs a store and a load, a few nanoseconds against ~20 ns an operation.
So the variants that gradient objects run on Python floats (where
:mod:`sct.passes.unbox` proved every value a scalar) write a temporary assigned once
and read once into the expression that reads it: ``m = 1.0 + y * y``. The
generic variant (``sct dump --generic``) keeps the names; ``.source`` shows
the code a call ran, fused.

A temporary moves only where that changes nothing but when it is computed:
its expression calls only pure functions, nothing between its assignment and
its use assigns what it reads, and the use runs exactly once when the
assignment does (not in a loop body, a ``while`` test, or one side of
``and``/``or``/``if-else``).
"""

from __future__ import annotations

import gast

from ..analysis import facts
from ..backend.codegen import is_comment, nodes
from ..ir import names_in
from .optimize import bodies
from .unbox import MATH, REDUCTIONS, UFUNCS

_PURE = MATH | UFUNCS | REDUCTIONS | {float, abs}
_EXPRESSION = gast.expr | gast.operator | gast.unaryop | gast.cmpop | gast.expr_context
_NOT_PLAIN = gast.Lambda | gast.ListComp | gast.NamedExpr | gast.Await | gast.Yield


def fuse(fn: gast.FunctionDef, resolve) -> None:
    """Write single-use temporaries of ``fn`` into their uses; ``resolve``: a free name -> its object."""
    stores, loads = {}, {}
    for node in nodes(fn):
        if isinstance(node, gast.Name):
            counts = loads if isinstance(node.ctx, gast.Load) else stores
            counts[node.id] = counts.get(node.id, 0) + 1
    single = {v for v, n in loads.items() if n == 1 and stores.get(v) == 1}
    locals_ = set(stores)
    for block in list(bodies(fn)):
        _fuse_block(block, single, lambda node: _pure(node, resolve, locals_))


def fold_scalar_adjoints(fn: gast.FunctionDef, scalars: set) -> bool:
    """In a variant with arrays: a scalar adjoint assigned once and read once, made by arithmetic on
    scalars alone, written into its one use; whether it changed ``fn``.

    ``delta_l = delta_m * m`` then ``delta_log_noise = delta_l * 2.0`` become
    ``delta_log_noise = delta_m * m * 2.0``, one line as a person writes it. ``scalars``: the names
    known to hold scalars (rank 0) and their adjoints. The expression moves as a tree, so the same
    operations run on the same operands in the same order (numbers cannot be changed in place, so no
    alias sees a difference): the same numbers to the bit. The same conditions as :func:`fuse`
    (nothing in between assigns what it reads; the use runs once when the assignment does).
    """
    stores, loads = {}, {}
    for node in nodes(fn):
        if isinstance(node, gast.Name):
            counts = loads if isinstance(node.ctx, gast.Load) else stores
            counts[node.id] = counts.get(node.id, 0) + 1
    single = {v for v, n in loads.items() if n == 1 and stores.get(v) == 1 and v.startswith("delta_")}
    if not single:
        return False
    changed = False
    for block in list(bodies(fn)):
        k = 0
        while k < len(block):
            stmt = block[k]
            simple = isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
            target = stmt.targets[0].id if simple else None
            if target in single and _scalar_arithmetic(stmt.value, scalars) and _move(block, k, target):
                # a scalar by its expression (a mean's adjoint, ``1.0 / size_or_one(i)``) even where the rank of
                # what it is the adjoint of is not 0
                del block[k]
                k -= _join_comments(block, k)
                changed = True
                continue
            k += 1
    return changed


def _size_of_name(call) -> bool:
    """``size_or_one(a)``: the helper the mean's adjoint divides by, of a name."""
    return (
        isinstance(call.func, gast.Name)
        and call.func.id == "size_or_one"
        and len(call.args) == 1
        and isinstance(call.args[0], gast.Name)
        and not call.keywords
    )


def _join_comments(block: list, k: int) -> int:
    """The comment over a line that went (``block[k - 1]``) joins the next line's (``block[k]``):
    ``# m = np.exp(l); l = 2.0 * log_noise``. How many lines went before ``k``."""
    if k < 1 or k >= len(block) or not (is_comment(block[k - 1]) and is_comment(block[k])):
        return 0
    first, second = block[k - 1].value.args[0], block[k].value.args[0]
    if first.value in ("forward", "backward") or second.value in ("forward", "backward"):
        return 0
    second.value = f"{first.value}; {second.value}"
    del block[k - 1]
    return 1


_ARITHMETIC = gast.BinOp | gast.UnaryOp | gast.Add | gast.Sub | gast.Mult | gast.Div | gast.Pow | gast.USub | gast.UAdd
_ARITHMETIC = _ARITHMETIC | gast.Load


def _scalar_arithmetic(node, scalars: set) -> bool:
    """Only ``+ - * / **`` and negation of scalar names, numbers and ``size_or_one(a)`` of a name (a length,
    which no in-place change of ``a`` changes)."""
    sizes = [n for n in nodes(node) if isinstance(n, gast.Call)]
    if not all(_size_of_name(n) for n in sizes):
        return False
    inside = {id(part) for n in sizes for part in (n.func, *n.args)}
    for n in nodes(node):
        if id(n) in inside or isinstance(n, gast.Call):
            continue
        if isinstance(n, gast.Name):
            if n.id not in scalars:
                return False
        elif isinstance(n, gast.Constant):
            if type(n.value) not in (int, float):
                return False
        elif not isinstance(n, _ARITHMETIC):
            return False
    return True


def _fuse_block(block: list, single: set, pure) -> None:
    k = 0
    while k < len(block):
        stmt = block[k]
        simple = isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
        target = stmt.targets[0].id if simple else None
        if target in single and pure(stmt.value) and _move(block, k, target):
            del block[k]
            continue
        k += 1


def _move(block: list, k: int, target: str) -> bool:
    """Put ``block[k]``'s value where ``target`` is read, if that is in a later statement of ``block``."""
    reads = {n.id for n in nodes(block[k].value) if isinstance(n, gast.Name)}
    for stmt in block[k + 1 :]:
        if isinstance(stmt, gast.Return) and target.startswith("delta_"):
            return False  # the gradients returned keep their names: ``return (delta_x, delta_y)``
        use = _once(stmt, target)
        if use is not None:
            parent, field, index = use
            if index is None:
                setattr(parent, field, block[k].value)
            else:
                getattr(parent, field)[index] = block[k].value
            return True
        if target in names_in(stmt) or _assigns(stmt) & reads:
            return False
    return False


def _once(stmt, target: str):
    """Where ``stmt`` reads ``target``, if it reads it exactly once per run: ``(parent, field, index)``."""
    if isinstance(stmt, gast.Assign | gast.AugAssign | gast.Expr | gast.Return):
        roots = [(stmt, "value")]
    elif isinstance(stmt, gast.If):
        roots = [(stmt, "test")]
    elif isinstance(stmt, gast.For):
        roots = [(stmt, "iter")]
    else:
        return None
    for parent, field in roots:
        found = _find(parent, field, target)
        if found is not None:
            return found
    return None


def _find(parent, field: str, target: str):
    """The place of the Name ``target`` under ``parent.field``, outside conditional evaluation."""
    value = getattr(parent, field)
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, node in items:
        if isinstance(node, gast.Name) and node.id == target and isinstance(node.ctx, gast.Load):
            return parent, field, index
        if not isinstance(node, gast.AST) or isinstance(node, gast.BoolOp | gast.IfExp | gast.Lambda):
            continue
        for child in node._fields:
            if child != "ctx":
                found = _find(node, child, target)
                if found is not None:
                    return found
    return None


def _pure(node, resolve, locals_) -> bool:
    """Only arithmetic, comparisons and calls of pure functions (no records popped, no user code)."""
    for n in nodes(node):
        if isinstance(n, gast.Call):
            if not facts.is_in(facts.called(n.func, resolve, locals_), _PURE):
                return False
        elif not isinstance(n, _EXPRESSION) or isinstance(n, _NOT_PLAIN):
            return False
    return True


def _assigns(stmt) -> set:
    return {n.id for n in nodes(stmt) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
