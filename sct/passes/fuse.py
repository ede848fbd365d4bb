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

import functools

import gast
import numpy as np

from ..analysis import facts
from ..backend import runtime
from ..backend.codegen import is_comment, marker, nodes, unparse
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


def fold_adjoints(fn: gast.FunctionDef, scalars: set, temporaries=frozenset(), resolve=None) -> bool:
    """In a variant with arrays: single-use adjoints written into their one use; whether it changed ``fn``.

    Two kinds of adjoint assigned once and read once move:

    - a scalar adjoint made by arithmetic on scalars alone: ``delta_l = delta_m * m`` then
      ``delta_log_noise = delta_l * 2.0`` become ``delta_log_noise = delta_m * m * 2.0``;
    - the adjoint of a temporary the lowering named (``temporaries``: ``delta_k`` for ``k = np.exp(j)``,
      a value the user never named), made by arithmetic and pure NumPy calls (``resolve``: a free name ->
      its object): ``delta_k = delta_K * f`` then ``delta_j = delta_k * k`` become
      ``delta_j = delta_K * f * k``. The adjoints of the user's own variables keep their lines.

    One line as a person writes it. ``scalars``: the names known to hold scalars (rank 0) and their
    adjoints. The expression moves as a tree, so the same operations run on the same operands in the
    same order: the same numbers to the bit. The same conditions as :func:`fuse` (nothing in between
    assigns what it reads; the use runs once when the assignment does); an array expression moves only
    past lines that change no array in place (``delta_c += g``, ``x[i] = v``) and call nothing impure,
    so no alias of what it reads can differ at its use.

    One exception to the bits, as in hand-written ``a * b * c``: NumPy computes into a temporary operand
    of 256 KiB or more, in its memory order (and may turn a complex product round), where the named
    adjoint was a new array in the operands' order. With large matrices of mixed memory order, a later
    ``np.sum`` adds in another order: the last bits may differ (tests/test_fold_hunt.py, h-folds).
    """
    stores, loads = {}, {}
    for node in nodes(fn):
        if isinstance(node, gast.Name):
            counts = loads if isinstance(node.ctx, gast.Load) else stores
            counts[node.id] = counts.get(node.id, 0) + 1
    single = {v for v, n in loads.items() if n == 1 and stores.get(v) == 1 and v.startswith("delta_")}
    if not single:
        return False
    locals_ = set(stores)
    changed = False
    for block in list(bodies(fn)):
        k = 0
        while k < len(block):
            stmt = block[k]
            simple = isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
            target = stmt.targets[0].id if simple else None
            moved = None
            if target in single:
                if _scalar_arithmetic(stmt.value, scalars):
                    # a scalar by its expression (a mean's adjoint, ``1.0 / size_or_one(i)``) even where the rank
                    # of what it is the adjoint of is not 0
                    moved = _move(block, k, target, width=WIDTH)
                elif target in temporaries and resolve is not None and _pure_array(stmt.value, resolve, locals_):
                    past = functools.partial(_changes_nothing, resolve=resolve, locals_=locals_)
                    moved = _move(block, k, target, past=past, width=WIDTH)
            if moved is not None:
                k -= _carry_comment(block, k, moved)
                del block[k]
                changed = True
                continue
            k += 1
    return changed


def fold_recomputations(fn: gast.FunctionDef, temporaries, resolve) -> bool:
    """A value the reversed loop makes again at the top of each trip and reads once, written into that
    read: ``d = xs[t]`` ... ``delta_Wx += d.T @ delta_i`` becomes ``delta_Wx += xs[t].T @ delta_i``, as a
    person writes it. Whether it changed ``fn``.

    Only a temporary the lowering named (``temporaries``), assigned in a loop's body by arithmetic, views
    and pure NumPy calls, read once later in that body and nowhere else from there on: not earlier in
    the body (a later trip would read the last trip's value), not elsewhere in the statement around the
    loop, not after it. The value moves past lines that bind nothing it reads and change no array in
    place but an adjoint (``delta_b += ...``: sct's own arrays, never the ones a primal value views).
    The same operations on the same operands: the same numbers.
    """
    changed = False
    inner = [n for n in fn.body if isinstance(n, gast.FunctionDef) and n.name.startswith("backward_")]
    for scope in [fn, *inner]:  # a vjp's backward function (sct.reverse.adjoint); no other nested function
        # the reverse sweep alone: after fn's ``# backward`` comment, or a vjp's inner backward function; the
        # forward sweep keeps one operation a line
        start = marker(scope.body, "backward")
        if start is None and scope is fn:
            continue
        start = start or 0
        if not any(isinstance(s, gast.For | gast.While) for s in scope.body[start:]):
            continue  # no reversed loop: nothing made again (and no walk of the function)
        locals_ = {n.id for n in nodes(scope) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        reads = {}  # name -> {index of the top-level statement of scope: how often it reads the name}
        for p, stmt in enumerate(scope.body):
            for n in nodes(stmt):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in temporaries:
                    at = reads.setdefault(n.id, {})
                    at[p] = at.get(p, 0) + 1
        past = functools.partial(_adjoints_only, resolve=resolve, locals_=locals_)
        for p, top in enumerate(scope.body):
            if p < start or not isinstance(top, gast.For | gast.While):
                continue
            for block in _loop_bodies(top):
                changed |= _fold_block_recomputations(block, p, reads, temporaries, resolve, locals_, past)
    return changed


def _loop_bodies(top):
    """The statement lists of the loops in ``top`` (itself a loop), not those of a nested function."""
    pending = [top]
    while pending:
        node = pending.pop()
        if isinstance(node, gast.FunctionDef):
            continue
        if isinstance(node, gast.For | gast.While):
            yield node.body
        for attr in ("body", "orelse"):
            pending.extend(s for s in getattr(node, attr, ()) if isinstance(s, gast.stmt))


def _fold_block_recomputations(block, p, reads, temporaries, resolve, locals_, past) -> bool:
    changed = False
    seen = _occurrences(block, temporaries)  # found again only after a move: one walk of the block
    k = 0
    while k < len(block):
        stmt = block[k]
        simple = isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)
        name = stmt.targets[0].id if simple else None
        candidate = name in temporaries and not name.startswith("delta_") and len(seen.get(name, ())) == 2
        # (named twice in the block: bound here, read once; a = a[0] names it three times and stays)
        if candidate and _read_once_here(name, k, p, reads, seen) and _pure_array(stmt.value, resolve, locals_):
            moved = _move(block, k, name, past=past, width=WIDTH)
            if moved is not None:
                reads[name][p] -= 1  # it is read no more
                k -= _carry_comment(block, k, moved)
                del block[k]
                seen = _occurrences(block, temporaries)
                changed = True
                continue
        k += 1
    return changed


def _occurrences(block, names) -> dict:
    """name -> the positions in ``block`` of the statements naming it (once for each time)."""
    found = {}
    for i, stmt in enumerate(block):
        for n in nodes(stmt):
            if isinstance(n, gast.Name) and n.id in names:
                found.setdefault(n.id, []).append(i)
    return found


def _read_once_here(name, k, p, reads, seen) -> bool:
    """Whether the block (inside top-level statement ``p``) names ``name`` only where ``block[k]`` binds it and
    once after it, and nothing reads it elsewhere in statement ``p`` or after statement ``p``."""
    at = reads.get(name, {})
    if any(q > p for q in at):
        return False
    places = seen.get(name, [])
    before = sum(1 for i in places if i < k)
    after = sum(1 for i in places if i > k)
    return before == 0 and after == 1 and at.get(p, 0) == 1


def _adjoints_only(stmt, resolve, locals_, use=False) -> bool:
    """:func:`_changes_nothing`, but for ``delta_v += ...``: an adjoint, an array sct made, changed in place."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name) and stmt.target.id.startswith("delta_"):
        return _changes_nothing(gast.Expr(value=stmt.value), resolve, locals_)
    return _changes_nothing(stmt, resolve, locals_, use)


WIDTH = 100  # the longest line (indentation aside) a fold may make: longer ones keep their names
_ARRAY_FUNCTIONS = frozenset(
    {np.trace, np.outer, np.dot, np.matmul, np.concatenate, np.transpose, np.diagonal, np.where, np.reshape}
    | {np.einsum, np.full_like, np.ones_like, np.broadcast_to, np.expand_dims, np.squeeze, np.eye, np.shape}
    | {np.swapaxes, np.moveaxis, np.diag, np.tril, np.triu}
)
_METHODS = frozenset({"sum", "reshape", "transpose"})  # of an array: pure
_ATTRIBUTES = frozenset({"T"})
_ARRAY_PURE = _PURE | _ARRAY_FUNCTIONS | {runtime.unbroadcast, runtime.size_or_one}


def _pure_array(node, resolve, locals_) -> bool:
    """Only arithmetic, comparisons, ``.T``, ``.sum(...)`` and calls of pure NumPy functions and helpers."""
    for n in nodes(node):
        if isinstance(n, gast.Call):
            if not _pure_call(n, resolve, locals_):
                return False
        elif isinstance(n, gast.Attribute):
            module = isinstance(n.value, gast.Name) and n.value.id not in locals_  # ``np.exp``: a call's func
            if not module and n.attr not in _ATTRIBUTES and n.attr not in _METHODS:
                return False
        elif not isinstance(n, _EXPRESSION) or isinstance(n, _NOT_PLAIN | gast.Starred):
            return False
    return True


def _changes_nothing(stmt, resolve, locals_, use=False) -> bool:
    """Whether ``stmt`` changes no array in place and calls nothing that might (records' ``.pop()`` aside).

    ``use``: ``stmt`` is where the value goes; only what it calls counts (a store, ``delta_c += ...``
    included, comes after its value)."""
    if is_comment(stmt):
        return True
    for n in nodes(stmt):
        if not use and (isinstance(n, gast.AugAssign) or isinstance(n, gast.Subscript | gast.Attribute) and _stored(n)):
            return False
        if isinstance(n, gast.Call) and not _pure_call(n, resolve, locals_, pops=True):
            return False
    return True


def _pure_call(call, resolve, locals_, pops=False) -> bool:
    """A call of a pure NumPy function or helper, or of ``.sum``/``.reshape``/``.transpose`` of a value, with no
    ``out=`` (``np.sum(x, out=y)`` changes ``y``); ``pops``: a record's ``.pop()`` too (the list changes, no
    array does; the names it binds count where it is read)."""
    if any(k.arg == "out" for k in call.keywords):
        return False
    func = call.func
    if _method(func, locals_):
        return func.attr in _METHODS or pops and func.attr == "pop" and not call.args and not call.keywords
    return facts.is_in(facts.called(func, resolve, locals_), _ARRAY_PURE)


def _method(func, locals_) -> bool:
    """Whether ``func`` is a method of a value (``x.sum``), not a module's function (``np.sum``)."""
    return isinstance(func, gast.Attribute) and not (isinstance(func.value, gast.Name) and func.value.id not in locals_)


def _stored(node) -> bool:
    return isinstance(getattr(node, "ctx", None), gast.Store | gast.Del)


def _size_of_name(call) -> bool:
    """``size_or_one(a)``: the helper the mean's adjoint divides by, of a name."""
    return (
        isinstance(call.func, gast.Name)
        and call.func.id == "size_or_one"
        and len(call.args) == 1
        and isinstance(call.args[0], gast.Name)
        and not call.keywords
    )


def _carry_comment(block: list, k: int, use: int) -> int:
    """The comment over ``block[k]``, a line moving into ``block[use]``, joins the comment over that use, if
    it heads that line alone: ``# m = np.exp(l); l = 2.0 * log_noise``. One line each where joined they would
    be too long to read. How many lines went before ``k``."""
    over = k - 1
    if over < 0 or not is_comment(block[over]) or k + 1 < len(block) and not is_comment(block[k + 1]):
        return 0  # no comment, or it heads other lines too: it stays
    head = next((i for i in range(use - 1, k, -1) if is_comment(block[i])), None)
    first = block[over].value.args[0]
    if head is None or first.value in ("forward", "backward"):
        return 0
    second = block[head].value.args[0]
    if second.value in ("forward", "backward"):
        return 0
    if len(first.value) + len(second.value) + 2 <= WIDTH:
        second.value = f"{first.value}; {second.value}"
    else:
        block.insert(head, block[over])  # the comments over the use, one a line
    del block[over]
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
        if target in single and pure(stmt.value) and _move(block, k, target) is not None:
            del block[k]
            continue
        k += 1


def _move(block: list, k: int, target: str, past=None, width=None):
    """Put ``block[k]``'s value where ``target`` is read, if that is in a later statement of ``block``.

    ``past``: what each statement before the use must satisfy, if anything more than assigning nothing
    the value reads. ``width``: the longest the line of the use may become (a line too long to read at
    a glance keeps the name, and so does a value with a call whose use is in another call's arguments).
    The index of the use in ``block`` if it moved, else None."""
    reads = {n.id for n in nodes(block[k].value) if isinstance(n, gast.Name)}
    for at in range(k + 1, len(block)):
        stmt = block[at]
        if isinstance(stmt, gast.Return) and target.startswith("delta_"):
            return None  # the gradients returned keep their names: ``return (delta_x, delta_y)``
        use = _once(stmt, target)
        if use is not None:
            if past is not None and not past(stmt, use=True):
                return None  # f(g(w), delta_a): g runs first and may change what the value reads
            parent, field, index = use
            old = getattr(parent, field) if index is None else getattr(parent, field)[index]
            if width is not None and _calls(block[k].value) and _in_arguments(stmt, old):
                return None  # no call written into another call's arguments: f(g(x) * y, z) reads badly
            _put(parent, field, index, block[k].value)
            if width is not None and not isinstance(stmt, gast.If | gast.For) and len(unparse(stmt)) > width:
                _put(parent, field, index, old)
                return None
            return at
        if target in names_in(stmt) or _assigns(stmt) & reads or past is not None and not past(stmt):
            return None
    return None


def _calls(node) -> bool:
    return any(isinstance(n, gast.Call) for n in nodes(node))


def _in_arguments(stmt, name) -> bool:
    """Whether the node ``name`` is under an argument of a call in ``stmt``."""
    for call in nodes(stmt):
        if isinstance(call, gast.Call):
            for arg in (*call.args, *(k.value for k in call.keywords)):
                if any(n is name for n in nodes(arg)):
                    return True
    return False


def _put(parent, field: str, index, value) -> None:
    if index is None:
        setattr(parent, field, value)
    else:
        getattr(parent, field)[index] = value


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
