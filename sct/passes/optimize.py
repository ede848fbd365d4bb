"""Clean-up passes over generated functions, run to a fixed point.

Each pass takes a ``gast.FunctionDef``, rewrites it in place, and returns
whether it changed anything. They keep the code reading like hand-written
backprop: no ``x * 1.0``, no ``delta_a = delta_b`` relays, no dead lines.

>>> text = "def f(x, g):\\n    delta_a = g * 1.0\\n    delta_b = delta_a\\n    delta_c = x ** (2 - 1)\\n"
>>> print(demo(text + "    return delta_b * delta_c"))
def f(x, g):
    return g * x
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import numbers
from collections import Counter, deque
from itertools import chain, compress
from types import MappingProxyType

import gast

from ..analysis.activity import assignments, overwritten
from ..backend.codegen import _FIELDS, child_fields, is_comment, unparse
from ..backend.codegen import nodes as _walk
from ..frontend.control import _static_truth
from ..ir import Assign, If, walk
from .tapes import drop_unread_columns, is_record

_KEEP_COMMENTS = {"forward", "backward"}


def optimize(fn: gast.FunctionDef) -> gast.FunctionDef:
    """The passes to a fixed point (:func:`sct.passes.algebra.optimize` adds the adjoint's algebra after them).

    They run in turn, round after round, and stop once every pass in a row has changed nothing:
    the function rounds would stop at, without the last round's passes that follow the last
    change (each would run again on the function it just left unchanged, and a pass is a
    function of the code alone: it would leave it unchanged again).

    The passes share what they find of ``fn`` (:func:`sharing`): the use counts until one of
    them changes ``fn``, each statement's :class:`Facts` until one changes that statement. A
    pass that rewrites a statement in place must say so (``touched(fn)(stmt)``); moving or
    removing statements needs nothing said. ``CHECK_FACTS`` finds a pass that does not.
    """
    with sharing(fn) as shared:
        passes, unchanged, k = PASSES, 0, 0
        while unchanged < len(passes):
            if passes[k](fn):
                unchanged = 0
                shared.forget()
            else:
                unchanged += 1
            k = (k + 1) % len(passes)
    return fn


def shares(run):
    """A pass that reads statements' facts: run on its own (not inside :func:`sharing`), it shares
    them over its own run, so that it finds each statement's once there too."""

    @functools.wraps(run)
    def run_sharing(fn, *args, **kwargs):
        shared = _USAGE.get(id(fn))
        if shared is not None and shared.fn is fn:  # (inside optimize: the sharing is open)
            return run(fn, *args, **kwargs)
        with sharing(fn):
            return run(fn, *args, **kwargs)

    return run_sharing


def _nothing(stmt) -> None:
    """A statement changed where nothing is shared (see :func:`touched`)."""


def demo(source: str) -> str:
    """Optimise a snippet of source and return the result (for doctests)."""
    fn = gast.parse(source).body[0]
    return unparse(optimize(fn))


# ---- algebraic simplification ------------------------------------------------
def _number(node):
    if isinstance(node, gast.Constant) and isinstance(node.value, numbers.Number):
        return None if isinstance(node.value, bool) else node.value
    return None


def _fold(node):
    """A simpler expression equal to ``node`` (BinOp/UnaryOp), or None."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = node.operand
        if isinstance(inner, gast.UnaryOp) and isinstance(inner.op, gast.USub):
            return inner.operand
        return None
    if not isinstance(node, gast.BinOp):
        return None
    left, right = _number(node.left), _number(node.right)
    op = type(node.op)
    if left is not None and right is not None:
        return _constant(op, left, right)
    if op is gast.Mult and right == 1 or op is gast.Div and right == 1 or op is gast.Pow and right == 1:
        return node.left
    if op is gast.Mult and left == 1:
        return node.right
    if op is gast.Mult and _is_minus_one(node.left):
        return gast.UnaryOp(op=gast.USub(), operand=node.right)
    if op in (gast.Add, gast.Sub) and unsigned(node.right) is not None:  # a + -b * c -> a - b * c
        flipped = gast.Sub() if op is gast.Add else gast.Add()
        return gast.BinOp(left=node.left, op=flipped, right=unsigned(node.right))
    if op in (gast.Add, gast.Sub) and right == 0:
        return node.left
    if op is gast.Add and left == 0:
        return node.right
    return None


def _is_minus_one(node) -> bool:
    return isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and _number(node.operand) == 1


def unsigned(node):
    """``b`` for ``-b``, ``b * c / d`` for ``-b * c / d`` or ``2.0 * (-b * c)``; None if there is no minus to take out.

    For writing ``a - b * c`` instead of ``a + -b * c`` (the adjoint and tangent emitters too).
    IEEE arithmetic is symmetric in sign, so the value is the same to the bit.
    """
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return node.operand
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult | gast.Div):
        inner = unsigned(node.left)
        if inner is not None:
            return gast.BinOp(left=inner, op=node.op, right=node.right)
        inner = unsigned(node.right)
        if inner is not None:
            return gast.BinOp(left=node.left, op=node.op, right=inner)
    return None


_ARITHMETIC = {
    gast.Add: lambda a, b: a + b,
    gast.Sub: lambda a, b: a - b,
    gast.Mult: lambda a, b: a * b,
}


def _constant(op, left, right):
    if op not in _ARITHMETIC:
        return None
    value = _ARITHMETIC[op](left, right)
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


class _Simplify(gast.NodeTransformer):
    def __init__(self, updated_in_place=frozenset()):
        self.changed = False
        self.protected = updated_in_place
        self.new_array = None  # the value of ``a = ...`` where ``a`` is updated in place

    def visit_Assign(self, node):
        target = node.targets[0]
        self.new_array = node.value if isinstance(target, gast.Name) and target.id in self.protected else None
        return self.generic_visit(node)

    def generic_visit(self, node):
        node = super().generic_visit(node)
        folded = _fold(node)
        if isinstance(folded, gast.Name) and folded.id in self.protected:
            return node  # ``a = b * 1.0`` must stay a new array if ``b`` is updated in place
        if node is self.new_array and not isinstance(folded, gast.BinOp | gast.UnaryOp | gast.Constant | None):
            return node  # ... or if ``a`` is: ``a = b`` would update ``b``'s array too
        if folded is not None:
            self.changed = True
            return folded
        return node


@shares
def simplify(fn) -> bool:
    """Fold constants and drop identities: ``x * 1.0 -> x``, ``2 - 1 -> 1``, ``-(-x) -> x``.

    Only in adjoint and tangent lines: in the user's own computation ``b * 1.0``
    may be how a boolean array becomes a float one, and must stay.
    """
    t = _Simplify(_usage(fn, copy=False)[3])  # the names updated in place
    facts, touch = facts_of(fn), touched(fn)
    for body in bodies(fn):
        for stmt in body:
            if type(stmt) is gast.Assign:  # (most lines: no sign to flip; folds where its facts say so)
                if facts(stmt).foldable:
                    touch(stmt)
                    t.visit(stmt)
                continue
            if not _derivative_line(stmt):
                continue
            if _subtracts(stmt):
                stmt.op = gast.Sub() if isinstance(stmt.op, gast.Add) else gast.Add()
                stmt.value = unsigned(stmt.value)
                t.changed = True
                touch(stmt)
                t.visit(stmt)  # (its facts are gone: visit it as if a part folded)
            elif facts(stmt).foldable:  # (if nothing folds, folding one part cannot make another fold)
                touch(stmt)
                t.visit(stmt)
    return t.changed


def _subtracts(stmt) -> bool:
    """``d += -c`` (which is ``d -= c``, to the bit) or ``d -= -c``."""
    return (
        isinstance(stmt, gast.AugAssign)
        and isinstance(stmt.op, gast.Add | gast.Sub)
        and unsigned(stmt.value) is not None
    )


def _foldable(stmt) -> bool:
    """Does anything in ``stmt`` fold? (If nothing does, folding one part cannot make another fold.)"""
    return any(_fold(node) is not None for node in _walk(stmt) if isinstance(node, gast.BinOp | gast.UnaryOp))


def _derivative_line(stmt) -> bool:
    kind = type(stmt)
    if kind is gast.Assign:
        targets = stmt.targets
        if len(targets) == 1 and type(targets[0]) is gast.Name:  # (most lines)
            return targets[0].id.startswith(_DERIVATIVES)
    elif kind is gast.Expr:  # (a comment, a call)
        return False
    else:
        targets = [getattr(stmt, "target", None)]
    for target in targets:
        while isinstance(target, gast.Subscript):
            target = target.value
        if isinstance(target, gast.Name) and target.id.startswith(_DERIVATIVES):
            return True
    return False


_DERIVATIVES = ("delta_", "dot_")


def _updated_in_place(fn) -> set:
    """Names whose arrays the code changes in place (``d += g``, ``d[i] += g``, ``add_at(d, ...)``)."""
    found = set()
    for node in _walk(fn):
        _note_in_place(node, found)
    return found


def _note_in_place(node, found: set) -> None:
    """Add to ``found`` the names whose arrays ``node`` (one node, not what is under it) changes in place."""
    if isinstance(node, gast.AugAssign | gast.Assign):
        for t in getattr(node, "targets", None) or [node.target]:
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                found.add(t.value.id)
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            found.add(node.target.id)  # ``delta_w += c`` on an array we own
    elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "add_at":
        target = node.args[0]
        if isinstance(target, gast.Name):
            found.add(target.id)


def bind_constant(fn, var: str, value) -> None:
    """Read the number ``value`` wherever ``fn`` reads ``var`` (a seed the caller always passes as 1.0)."""

    for node in list(_walk(fn)):  # in place, field by field: a NodeTransformer rebuilds every list it passes
        for attr in child_fields(type(node)):
            child = getattr(node, attr, None)
            if type(child) is list:
                if any(_reads(c, var) for c in child):
                    child[:] = [gast.Constant(value=value, kind=None) if _reads(c, var) else c for c in child]
            elif _reads(child, var):
                setattr(node, attr, gast.Constant(value=value, kind=None))


def _reads(node, var: str) -> bool:
    return isinstance(node, gast.Name) and node.id == var and isinstance(node.ctx, gast.Load)


# ---- signs -------------------------------------------------------------------------
def push_signs(fn) -> bool:
    """Carry a minus along single-use adjoints to where it cancels, writing the chain as one line.

    ``delta_g = -delta_h * h / g; delta_e = delta_g * f; delta_d = -delta_e`` is
    five array operations. The minus of the first line cancels the last one's, so
    ``delta_d = delta_h * h / g * f`` is the same number in three. The lines that
    held a value only on its way (``delta_g``, ``delta_e``, each read once) are
    written into the line that cancels the sign, so every ``delta_v`` that remains
    is still the adjoint of ``v``. A minus moves only out of products and quotients
    and into ``a - b`` for ``a + -b``: IEEE arithmetic is symmetric in sign, so
    every value is the same to the bit. Adjoints only: a tangent line stays beside
    the primal line it follows.
    """
    stores, loads, returned, protected = _usage(fn, copy=False)
    changed, touch, facts = False, touched(fn), facts_of(fn)
    for body in list(bodies(fn)):
        k = 0
        while k < len(body):
            stmt = body[k]
            # (an adjoint line with no minus in its value starts no chain: _push_sign would say no)
            if type(stmt) is not gast.Assign or facts(stmt).minus:
                changed |= _push_sign(body, k, stores, loads, returned, protected, touch)
            k += 1
    return changed


def _push_sign(body, k, stores, loads, returned, protected, touch=_nothing) -> bool:
    stmt = body[k]
    if not _movable(stmt, stores, loads, returned, protected):
        return False
    value = unsigned(stmt.value)  # (cheaper than _arithmetic, and mostly None)
    if value is None or not _arithmetic(stmt.value):
        return False
    chain, var, at = [k], stmt.targets[0].id, k
    while True:  # follow the chain of single readers until the minus cancels
        reader = _reader(body, at, var)
        if reader is None or not _derivative_line(body[reader]) or not isinstance(body[reader], gast.Assign):
            return False
        stmt = body[reader]
        before = _minus_count(stmt.value)
        negative, value = _signed(_written_in(stmt.value, var, gast.UnaryOp(op=gast.USub(), operand=value)))
        if _minus_count(value) > before + sum(_minus_count(body[i].value) for i in chain) - 1:
            return False  # a minus left inside: nothing saved
        if not negative:
            break
        if not _movable(stmt, stores, loads, returned, protected) or not _arithmetic(stmt.value):
            return False
        chain.append(reader)
        var, at = stmt.targets[0].id, reader
    for p in chain:  # what each line reads must not change between it and the line it moves to
        read = _names_in(body[p].value)
        if read & protected or any(_stored_names(body[i]) & read for i in range(p + 1, reader) if i not in chain):
            return False
    if not _safe_value(_target_name(stmt), value, protected):
        return False
    stmt.value = value
    touch(stmt)
    _merge_comments(body, chain, reader)
    for i in reversed(chain):
        del body[i]
    return True


def _merge_comments(body, chain, reader) -> None:
    """``# h2 = 1.0 / g; f = np.exp(e); e = -d`` over the line a chain moved into: the forward lines it undoes."""
    head = reader - 1
    if head < 0 or not is_comment(body[head]):
        return
    texts = []
    for p in chain:
        alone = p + 1 >= len(body) or is_comment(body[p + 1]) or p + 1 in chain or p + 1 == reader
        if p > 0 and is_comment(body[p - 1]) and alone:  # a comment over this line only: it goes with it
            texts.append(_comment_text(body[p - 1]))
    if texts:
        body[head].value.args[0].value = "; ".join([*texts, _comment_text(body[head])])


def _comment_text(stmt) -> str:
    return stmt.value.args[0].value


def _move_comment(body, gone, kept) -> None:
    """``body[gone]`` is about to go into ``body[kept]``: its comment, if over it alone, joins ``kept``'s."""
    head = _head(body, kept)
    own = gone - 1
    after = body[gone + 1] if gone + 1 < len(body) else None
    alone = after is None or is_comment(after) or isinstance(after, gast.Return) or gone + 1 == kept
    if head is None or own < 0 or not is_comment(body[own]) or not alone or own == head:
        return
    first, second = (own, head) if own < head else (head, own)
    body[head].value.args[0].value = "; ".join([_comment_text(body[first]), _comment_text(body[second])])


def _head(body, at):
    """The position of the comment over ``body[at]``'s group, or None."""
    for k in range(at - 1, -1, -1):
        if is_comment(body[k]):
            return k
        if not isinstance(body[k], gast.Assign | gast.AugAssign):
            return None
    return None


def _written_in(node, var, value):
    """A copy of ``node`` with ``value`` where it reads ``var``."""
    if _reads(node, var):
        return _copied(value)
    node = _copied(node)
    for parent in list(_walk(node)):
        for attr in child_fields(type(parent)):
            child = getattr(parent, attr, None)
            if _reads(child, var):
                setattr(parent, attr, _copied(value))
            elif type(child) is list:
                child[:] = [_copied(value) if _reads(c, var) else c for c in child]
    return node


def _copied(node):
    """A copy of the tree ``node``: ``copy.deepcopy``'s, without its memo and pickling protocol (an
    expression of generated code is a tree: no node in it appears twice)."""
    kind = type(node)
    if kind is list:
        return [_copied(item) for item in node]
    if not isinstance(node, gast.AST):
        return node  # a name, a number, a string: not changed in place
    new = kind.__new__(kind)
    new.__dict__.update({attr: _copied(value) for attr, value in node.__dict__.items()})
    return new


def _movable(stmt, stores, loads, returned, protected) -> bool:
    """An adjoint assigned once and read once, that nothing returns or updates in place."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return False
    var = stmt.targets[0].id
    return (
        var.startswith("delta_")  # not tangents: each line of a JVP stays beside the primal line it follows
        and stores.get(var) == 1
        and loads.get(var) == 1
        and var not in returned
        and var not in protected
    )


def _target_name(stmt):
    target = stmt.targets[0]
    return target.id if isinstance(target, gast.Name) else None


def _safe_value(target, value, protected) -> bool:
    """``target = value`` makes a new array, or neither name's array is updated in place (no alias is harmed)."""
    if isinstance(value, gast.BinOp | gast.UnaryOp | gast.Constant):
        return True
    if target is None or target in protected:
        return False
    return not {n.id for n in _walk(value) if isinstance(n, gast.Name)} & protected


def _reader(body, k, var):
    """The position of the one statement after ``body[k]`` in ``body`` that reads ``var``, or None."""
    for i in range(k + 1, len(body)):
        if any(isinstance(n, gast.Name) and n.id == var for n in _walk(body[i])):
            return i
    return None


def _minus_count(node) -> int:
    return sum(isinstance(n, gast.UnaryOp) and isinstance(n.op, gast.USub) for n in _walk(node))


def _negated(node, var):
    """A copy of ``node`` that reads ``-var`` where it reads ``var``."""
    return _written_in(node, var, gast.UnaryOp(op=gast.USub(), operand=name_of(var)))


def _signed(node):
    """``(negative, e)`` with ``node == -e`` if ``negative`` else ``node == e``, to the bit.

    Minus signs come out of products and quotients, cancel in pairs, and turn
    ``a + -b`` into ``a - b`` and ``a - -b`` into ``a + b``; anything else keeps its minus.
    """
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        negative, inner = _signed(node.operand)
        return not negative, inner
    if not isinstance(node, gast.BinOp) or not isinstance(node.op, gast.Mult | gast.Div | gast.Add | gast.Sub):
        return False, node
    left_negative, left = _signed(node.left)
    right_negative, right = _signed(node.right)
    if isinstance(node.op, gast.Mult | gast.Div):
        return left_negative != right_negative, gast.BinOp(left=left, op=node.op, right=right)
    op = node.op
    if right_negative:
        op = gast.Sub() if isinstance(op, gast.Add) else gast.Add()
    if left_negative and isinstance(op, gast.Add):  # -a + b -> b - a
        return False, gast.BinOp(left=right, op=gast.Sub(), right=left)
    if left_negative:  # -a - b stays: -(a + b) has the other sign where both are zero
        left = gast.UnaryOp(op=gast.USub(), operand=left)
    return False, gast.BinOp(left=left, op=op, right=right)


# ---- reductions' adjoints stay scalars ------------------------------------------------
def scalar_adjoints(fn) -> bool:
    """``delta_j = np.full_like(j, 1.0) / np.size(j)`` -> ``delta_j = 1.0 / size_or_one(j)`` where its one
    reader broadcasts it anyway: ``delta_i = delta_j * 2 * i`` after ``j = i ** 2``.

    The adjoint of ``np.sum(j)`` or ``np.mean(j)`` is one number spread over ``j``'s
    shape. Where the line that reads it is elementwise arithmetic that also reads a
    value ``i`` with ``j``'s shape and dtype (known from the forward line ``j = i ** 2``,
    or ``i * i``, ``-i``, ``2.0 * i``: ``i`` and numbers only, neither reassigned
    since), the number broadcasts there to the same array, and no array of
    ``j``'s size is made for it. ``np.broadcast_to(g, np.shape(j))`` (a sum over
    some axes) likewise becomes ``g``. Only top-level lines, and only a seed that
    is a number (a Python float is weak in NumPy's promotion: ``i``'s dtype wins,
    as ``j``'s did).
    """
    body = fn.body
    stores, loads, returned, protected = _usage(fn, copy=False)
    changed = False
    for k, stmt in enumerate(body):
        value = getattr(stmt, "value", None)
        if type(value) is not gast.Call and not (type(value) is gast.BinOp and type(value.left) is gast.Call):
            continue  # (not a call, nor a call divided by something: _spread_value would say no)
        small = _spread_value(stmt)
        if small is None:
            continue
        var, spread_over = stmt.targets[0].id, small[1]
        if stores.get(var) != 1 or loads.get(var) != 1 or var in returned or var in protected:
            continue
        reader = _reader(body, k, var)
        if reader is None or any(spread_over in _stored_names(s) for s in body[k:reader]):
            continue
        same = _broadcasts_again(body, reader, var, spread_over)
        if same is None:
            continue
        stmt.value = _Rename(spread_over, same).visit(small[0])  # size_or_one(i), not (j): j may go
        touched(fn)(stmt)
        changed = True
    return changed


def _spread_value(stmt):
    """``(small, j)`` for ``delta_j = np.full_like(j, c)`` (``c`` a number; or ``... / np.size(j)``)
    or ``delta_j = np.broadcast_to(small, np.shape(j))``."""
    if not (isinstance(stmt, gast.Assign) and _derivative_line(stmt) and isinstance(stmt.targets[0], gast.Name)):
        return None
    value = stmt.value
    divided = isinstance(value, gast.BinOp) and isinstance(value.op, gast.Div)
    spread = value.left if divided else value
    if _calls(spread, "np", "full_like", 2) and _number(spread.args[1]) is not None:
        j, small = spread.args[0], spread.args[1]
    elif _calls(spread, "np", "broadcast_to", 2) and not divided and _calls(spread.args[1], "np", "shape", 1):
        j, small = spread.args[1].args[0], spread.args[0]
    else:
        return None
    if not isinstance(j, gast.Name):
        return None
    if divided:
        if not (_calls(value.right, "np", "size", 1) and _reads_name(value.right.args[0], j.id)):
            return None
        size = gast.Call(func=name_of("size_or_one"), args=[name_of(j.id)], keywords=[])
        small = gast.BinOp(left=small, op=gast.Div(), right=size)
    return small, j.id


def _calls(node, module, attr, n) -> bool:
    """Is ``node`` ``module.attr(...)`` with ``n`` positional arguments and no keywords?"""
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Attribute)
        and node.func.attr == attr
        and _reads_name(node.func.value, module)
        and len(node.args) == n
        and not node.keywords
    )


def name_of(var):
    return gast.Name(id=var, ctx=gast.Load(), annotation=None, type_comment=None)


_ELEMENTWISE = gast.Add | gast.Sub | gast.Mult | gast.Div | gast.Pow


def _broadcasts_again(body, at, var, spread_over):
    """A value of ``spread_over``'s shape and dtype that ``body[at]`` reads in elementwise arithmetic
    with ``var``, or None."""
    stmt = body[at]
    if not (isinstance(stmt, gast.Assign) and _derivative_line(stmt)) or not _arithmetic(stmt.value):
        return None
    same = _same_as(body, spread_over, at) & (_names_in(stmt.value) - {var})
    return min(same) if same else None


def _arithmetic(node) -> bool:
    """Names and numbers under ``+ - * / **`` and unary minus only (every operation elementwise)."""
    for n in _walk(node):
        if isinstance(n, gast.BinOp):
            if not isinstance(n.op, _ELEMENTWISE):
                return False
        elif isinstance(n, gast.UnaryOp):
            if not isinstance(n.op, gast.USub):
                return False
        elif isinstance(n, gast.Constant):
            if _number(n) is None:
                return False
        elif not isinstance(n, gast.Name | gast.operator | gast.unaryop | gast.expr_context):
            return False
    return True


def _same_as(body, j, at) -> set:
    """Names that hold, at ``body[at]``, a value of ``j``'s shape and dtype: from ``j = i ** 2`` and the like."""
    for k in range(at - 1, -1, -1):
        stmt = body[k]
        if j in _stored_names(stmt):
            if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and _reads_name(stmt.targets[0], j)):
                return set()
            if _derivative_line(stmt) or not _arithmetic(stmt.value):
                return set()
            operands = _names_in(stmt.value)
            if len(operands) != 1 or any(operands & _stored_names(s) for s in body[k + 1 : at]):
                return set()
            return operands
    return set()


# ---- a product's partials written once ---------------------------------------------
@shares
def merge_contributions(fn) -> bool:
    """``d = c; d = d - e`` -> ``d = 2.0 * c`` where ``e`` is ``-c`` to the bit.

    ``m = -v; n = m * v`` sends ``v`` the contributions ``delta_n * m`` and, through
    ``m``, ``-(delta_n * v)``: the same number twice, since ``m`` is ``-v``. What
    the forward sweep assigns once as a negation (``m = -v``) is known here, so
    ``delta_v = delta_n * m; delta_v = delta_v - delta_n * v`` becomes
    ``delta_v = 2.0 * (delta_n * m)``: two array operations where there were four.
    ``c - -c`` and ``c + c`` are ``2.0 * c`` exactly.
    """
    stores, loads, returned, protected = _usage(fn, copy=False)
    negations = _negations(fn, stores)
    if not negations:
        return False
    once = {v for v, n in stores.items() if n == 1}
    changed, facts = False, facts_of(fn)
    for body in list(bodies(fn)):
        defs = {
            s.targets[0].id: (k, s.value)
            for k, s in enumerate(body)
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
        }
        for i, stmt in enumerate(body):
            j = _doubled(body, i, defs, negations, once, loads, facts)
            if j is not None:
                stmt.value = gast.BinOp(left=gast.Constant(value=2.0, kind=None), op=gast.Mult(), right=stmt.value)
                touched(fn)(stmt)
                _move_comment(body, j, i)
                del body[j]
                changed = True
                break  # positions moved: the next round finds the rest
    return changed


def _negations(fn, stores) -> dict:
    """``{m: v}`` for the forward lines ``m = -v`` where both names are assigned once."""
    found = {}
    for stmt in fn.body:
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
            value = stmt.value
            if (
                isinstance(value, gast.UnaryOp)
                and isinstance(value.op, gast.USub)
                and isinstance(value.operand, gast.Name)
            ):
                m, v = stmt.targets[0].id, value.operand.id
                if stores.get(m) == 1 and stores.get(v) == 1 and not _derivative_line(stmt):
                    found[m] = v
    return found


def _doubled(body, i, defs, negations, once, loads, facts=None):
    """The position of the line that adds ``body[i]``'s value to it a second time, or None."""
    stmt = body[i]
    if not (isinstance(stmt, gast.Assign) and _derivative_line(stmt) and isinstance(stmt.targets[0], gast.Name)):
        return None
    target, first = stmt.targets[0].id, stmt.value
    facts = facts or Facts
    if not isinstance(first, gast.BinOp):
        return None
    reads = facts(stmt).loads.keys() if len(stmt.targets) == 1 else _names_in(first)  # (the target is stored)
    if not reads <= once:
        return None
    j = _mention(body, i, target, facts)
    if j is not None:
        later = body[j]
        second = _added(later, target)
        if second is None:
            return None
        op, value = second
        start = i
        if (
            isinstance(value, gast.Name)
            and defs.get(value.id, (j,))[0] < j
            and loads.get(value.id) == 1
            and value.id in once
        ):
            start = min(i, defs[value.id][0])
            value = defs[value.id][1]
        read = _names_in(value) | _names_in(first)
        if not read <= once or any(facts(s).changed & read for s in body[start + 1 : j] if s is not stmt):
            return None  # in a loop body a name assigned once still changes from trip to trip
        sign_first, form_first = _signed(_read_negations(first, negations))
        sign_value, form_value = _signed(_read_negations(value, negations))
        if gast.dump(form_first) != gast.dump(form_value):
            return None
        same = sign_first == sign_value
        return j if same == isinstance(op, gast.Add) else None
    return None


def _added(stmt, target):
    """``(op, c)`` for ``target += c``, ``target -= c``, ``target = target + c`` or ``target = target - c``."""
    if (
        isinstance(stmt, gast.AugAssign)
        and _reads_name(stmt.target, target)
        and isinstance(stmt.op, gast.Add | gast.Sub)
    ):
        value = stmt.value
        return (stmt.op, value) if target not in _names_in(value) else None
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and _reads_name(stmt.targets[0], target):
        value = stmt.value
        if (
            isinstance(value, gast.BinOp)
            and isinstance(value.op, gast.Add | gast.Sub)
            and _reads_name(value.left, target)
        ):
            return (value.op, value.right) if target not in _names_in(value.right) else None
    return None


def _reads_name(node, var) -> bool:
    return isinstance(node, gast.Name) and node.id == var


def _names_in(node) -> set:
    return _names(node, True)


def _stored_names(node) -> set:
    return _names(node, False)


def _names(node, loaded: bool) -> set:
    """The names ``node`` reads (``loaded``), or those it assigns; :func:`_walk`'s nodes, without a generator."""
    found, stack = set(), [node]
    pop, push, extend, known = stack.pop, stack.append, stack.extend, _FIELDS
    Name, Load = gast.Name, gast.Load
    while stack:
        current = pop()
        kind = type(current)
        if kind is Name:
            if (type(current.ctx) is Load) is loaded:
                found.add(current.id)
            if current.annotation is None:
                continue
        fields = known.get(kind)
        if fields is None:
            if not isinstance(current, gast.AST):
                continue
            fields = child_fields(kind)
        for attr in fields:
            value = getattr(current, attr, None)
            if type(value) is list:
                extend(value)
            elif value is not None:
                push(value)
    return found


def _read_negations(node, negations):
    """A copy of ``node`` reading ``-v`` for each ``m`` known to be ``-v``."""
    for m in _names_in(node) & set(negations):
        node = _negated(node, m)
        node = _Rename(m, negations[m]).visit(node)
    return node


class _Rename(gast.NodeTransformer):
    def __init__(self, old, new):
        self.old, self.new = old, new

    def visit_Name(self, node):
        if node.id == self.old and isinstance(node.ctx, gast.Load):
            return gast.Name(id=self.new, ctx=gast.Load(), annotation=None, type_comment=None)
        return node


# ---- a negative first contribution -------------------------------------------------------
@shares
def subtract_first(fn) -> bool:
    """``d = -a; d = d + b`` -> ``d = b - a``: the minus goes into the subtraction (exact: ``-a + b`` is ``b - a``)."""
    changed, facts = False, facts_of(fn)
    for body in list(bodies(fn)):
        i = 0
        while i < len(body):
            stmt = body[i]
            if type(stmt) is not gast.Assign or facts(stmt).minus:  # (else _subtract_first would say no)
                changed |= _subtract_first(body, i, facts)
            i += 1
    return changed


def _subtract_first(body, i, facts) -> bool:
    stmt = body[i]
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return False
    target = stmt.targets[0].id
    positive = unsigned(stmt.value)
    if not target.startswith("delta_") or positive is None or not facts(stmt).movable:  # (its value's)
        return False
    j = _mention(body, i, target, facts)
    added = _added(body[j], target) if j is not None else None
    if added is None or not isinstance(added[0], gast.Add) or not _movable_factors(added[1]):
        return False
    read = set(facts(stmt).loads)  # read at line j now: nothing may change it in between
    if any(facts(body[k]).changed & read for k in range(i + 1, j)):
        return False
    body[j] = gast.Assign(
        targets=[gast.Name(id=target, ctx=gast.Store(), annotation=None, type_comment=None)],
        value=gast.BinOp(left=added[1], op=gast.Sub(), right=positive),
        type_comment=None,
    )
    _move_comment(body, i, j)
    del body[i]
    return True


# ---- common factors -----------------------------------------------------------------
@shares
def share_factors(fn) -> bool:
    """``d = g * p; d = d + g * q`` -> ``d = g * (p + q)``: one product where there were two.

    What hand-written backprop does with a value that reaches an adjoint by two
    paths (``d_x *= a + 0.1 * math.cos(x)``). ``g`` is the same value in both
    (the same name, or a copy of it made before and not reassigned since); a
    product used once on the way (``delta_d = delta_x * 0.1``) is read through.
    Not exact to the bit: ``g * p + g * q`` and ``g * (p + q)`` round
    differently, as they do in the code a person writes; no other rewrite of
    this module changes a value. Only factors that read nothing changed in
    between move, and only calls of ``np`` and ``math`` functions go with them.
    """
    stores, loads, returned, protected = _usage(fn, copy=False)
    single = {v for v, n in loads.items() if n == 1 and stores.get(v) == 1} - returned - protected
    changed, touch, facts = False, touched(fn), facts_of(fn)
    for body in list(bodies(fn)):
        i = 0
        while i < len(body):
            stmt = body[i]
            # (a line that is not ``delta_v = ...``: _share_factor would say no)
            if (type(stmt) is not gast.Assign or facts(stmt).adjoint is not None) and _share_factor(
                body, i, single, protected, touch, facts
            ):
                changed = True
            i += 1
    return changed


def _mention(body, i, var, facts):
    """The position of the first statement after ``body[i]`` that reads or assigns ``var``, or None."""
    for k in range(i + 1, len(body)):
        known = facts(body[k])
        if var in known.loads or var in known.changed:
            return k
    return None


def _share_factor(body, i, single, protected, touch, facts) -> bool:
    stmt = body[i]
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return False
    target = stmt.targets[0].id
    if not target.startswith("delta_") or target in protected or not facts(stmt).movable:  # (its value's)
        return False
    first, inlined = _expanded(body, i, stmt.value, single, 0, facts)
    if len(first) < 2:
        return False
    j = _mention(body, i, target, facts)
    added = _added(body[j], target) if j is not None else None
    if added is None or not isinstance(added[0], gast.Add) or not _movable_factors(added[1]):
        return False
    second = _factors(added[1])
    if len(second) < 2:
        return False
    read = _names_in(added[1])
    if any(facts(body[k]).changed & read for k in range(i, j)):
        return False  # what the second term reads must hold the same values at line i
    for a, factor in enumerate(first):
        for b, other in enumerate(second):
            if isinstance(factor, gast.Name) and _same_value(body, i, factor.id, other, facts):
                rest = gast.BinOp(
                    left=_product(first[:a] + first[a + 1 :]),
                    op=gast.Add(),
                    right=_product(second[:b] + second[b + 1 :]),
                )
                stmt.value = gast.BinOp(left=factor, op=gast.Mult(), right=rest)
                touch(stmt)
                _move_comment(body, j, i)
                for k in sorted([j, *inlined], reverse=True):
                    del body[k]
                return True
    return False


# How far share_factors looks: back over this many lines for a factor's definition, through this many
# products made for one use. A person shares a factor between lines that are near; bounding the search
# keeps the pass linear in a long chain of products (each line a product of the one before).
_NEAR = 12
_DEEP = 4


def _expanded(body, i, node, single, depth, facts) -> tuple:
    """The factors of ``node`` read at ``body[i]``, reading through products used only there; and their lines."""
    factors, inlined = [], []
    for factor in _factors(node):
        at = _definition(body, i, factor, single, facts) if depth < _DEEP else None
        if at is None:
            factors.append(factor)
            continue
        more, deeper = _expanded(body, at, body[at].value, single, depth + 1, facts)
        factors += more
        inlined += [at, *deeper]
    return factors, inlined


def _definition(body, i, factor, single, facts):
    """The line before ``body[i]`` that makes ``factor`` (used once) as a product nothing changes since, or None."""
    if not isinstance(factor, gast.Name) or factor.id not in single:
        return None
    for at in range(i - 1, max(i - 1 - _NEAR, -1), -1):
        stmt = body[at]
        if factor.id in facts(stmt).changed:
            value = getattr(stmt, "value", None)
            if not (isinstance(stmt, gast.Assign) and _reads_name(stmt.targets[0], factor.id)):
                return None
            if not (isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult)) or not _movable_factors(value):
                return None
            read = _names_in(value)
            return None if any(facts(body[k]).changed & read for k in range(at + 1, i)) else at
    return None


def _movable_factors(node) -> bool:
    """Arithmetic, and calls of ``np.*`` and ``math.*`` only."""
    for n in _walk(node):
        if isinstance(n, gast.Call):
            if not _movable_call(n):
                return False
        elif _not_movable(n):
            return False
    return True


def _movable_call(call) -> bool:
    func = call.func
    return isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id in ("np", "math")


def _not_movable(n) -> bool:
    if isinstance(n, gast.BinOp):
        return not isinstance(n.op, _ELEMENTWISE)
    return isinstance(n, gast.Lambda | gast.NamedExpr | gast.IfExp | gast.BoolOp | gast.Subscript)


def _factors(node) -> list:
    """The factors of a product ``a * b * c`` (left to right); ``[node]`` if it is not one."""
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _product(factors):
    node = factors[0]
    for factor in factors[1:]:
        node = gast.BinOp(left=node, op=gast.Mult(), right=factor)
    return node


def _same_value(body, i, name, other, facts) -> bool:
    """Does ``other``, read where ``body[i]`` is, hold the value ``name`` holds there (itself, or a copy)?"""
    if not isinstance(other, gast.Name):
        return False
    if other.id == name:
        return True
    for at in range(i - 1, -1, -1):
        stmt = body[at]
        if other.id in facts(stmt).changed:
            if not (_is_copy(stmt) and _reads_name(stmt.value, name) and _reads_name(stmt.targets[0], other.id)):
                return False
            return not any(name in facts(body[k]).changed for k in range(at + 1, i))
    return False


# ---- copy propagation -------------------------------------------------------------
def _returned_names(ret) -> set:
    """Names a ``return`` returns as they are (``return out, (delta_x, delta_y)``): kept for readability."""
    found, stack = set(), [ret.value]
    while stack:
        node = stack.pop()
        if isinstance(node, gast.Name):
            found.add(node.id)
        elif isinstance(node, gast.Tuple):
            stack.extend(node.elts)
    return found


def _has_loops(fn):
    return any(isinstance(n, gast.For | gast.While) for n in _walk(fn))


class _Replace(gast.NodeTransformer):
    def __init__(self, target, value):
        self.target, self.value = target, value

    def visit_Name(self, node):
        if node.id == self.target and isinstance(node.ctx, gast.Load):
            return (
                gast.Name(id=self.value.id, ctx=gast.Load(), annotation=None, type_comment=None)
                if isinstance(self.value, gast.Name)
                else gast.Constant(value=self.value.value, kind=None)
            )
        return node


@shares
def propagate_copies(fn) -> bool:
    """Replace ``delta_a`` by ``delta_b`` after ``delta_a = delta_b``, where that is the same value.

    ``delta_a`` must be assigned once and read only later in the same block, and
    ``delta_b`` not reassigned before that last read (this holds inside loop
    bodies too). Only adjoints: copies of primal values are removed from the IR
    before emission (:func:`propagate_ir_copies`), so ``# forward`` comments stay true.
    """
    stores, loads, returned, protected = _usage(fn)
    changed, facts, touch = False, facts_of(fn), touched(fn)
    for body in list(bodies(fn)):
        # (folding a copy replaces names by names or numbers: no line becomes a copy, none stops being one)
        # (and only copies the whole function lets fold: folding one never makes another's target assigned
        # once, nor takes it out of the names returned or updated in place; see _fold_copy)
        copies = [
            k
            for k, stmt in enumerate(body)
            if type(getattr(stmt, "value", None)) in _COPIED  # (most lines are not copies: no call for them)
            and _is_copy(stmt)
            and _may_fold(stmt, stores, returned, protected)
        ]
        if not copies:
            continue  # no copy of an adjoint to fold: nothing to index
        block = _Block(body, facts)
        for k in copies:
            changed |= _fold_copy(block, k, stores, loads, returned, protected, touch)
        body[:] = [stmt for stmt, alive in zip(body, block.alive) if alive]
    return changed


_USAGE: dict = {}  # id(fn) -> its _Shared while the passes run over fn


class _Shared:
    """What the passes share over one function: the use counts (:func:`_usage`) until a pass changes
    the function, and each statement's :class:`Facts` until that statement changes.

    A pass that changes the function says so (it returns True, or :func:`changed` is called): the
    use counts are forgotten. A pass that changes a statement in place (not only moves or removes
    it) says which (:func:`touched`): its facts are forgotten. Only the facts of statements that
    hold no statements are kept (a loop's are put together from its statements' each time: a
    change inside it changes them). ``version`` counts the changes (a pass that left version
    ``v`` unchanged leaves it unchanged again).
    """

    __slots__ = ("fn", "usage", "facts", "version")

    def __init__(self, fn):
        self.fn, self.usage, self.facts, self.version = fn, None, {}, 0

    def forget(self) -> None:
        self.usage, self.version = None, self.version + 1

    def drop(self, stmt) -> None:
        facts = self.facts
        facts.pop(id(stmt), None)
        if type(stmt) not in _SIMPLE:  # what it holds may have changed too
            for node in _walk(stmt):
                if isinstance(node, gast.stmt):
                    facts.pop(id(node), None)


@contextlib.contextmanager
def sharing(fn):
    """Let the passes run inside share :class:`_Shared` over ``fn`` (the one already open, if any)."""
    shared = _USAGE.get(id(fn))
    if shared is not None and shared.fn is fn:
        yield shared
        return
    shared = _USAGE[id(fn)] = _Shared(fn)
    try:
        yield shared
    finally:
        del _USAGE[id(fn)]


def touched(fn):
    """A function to call with each statement of ``fn`` a pass changes in place (its facts go)."""
    shared = _USAGE.get(id(fn))
    if shared is None or shared.fn is not fn:
        return _nothing
    return shared.drop


def changed(fn) -> None:
    """``fn`` changed (a pass run by hand inside :func:`sharing`): what the passes shared is out of date."""
    shared = _USAGE.get(id(fn))
    if shared is not None and shared.fn is fn:
        shared.forget()


def _usage(fn, copy: bool = True) -> tuple:
    """What copy propagation needs of the whole function, in one walk:
    stores and loads of each name, the names returned, the names updated in place.

    Inside :func:`optimize` one walk serves every pass until one changes ``fn``
    (each gets its own copies: propagate_copies updates them as it goes; a pass that only reads
    them asks for ``copy=False``, and gets views it cannot change)."""
    shared = _USAGE.get(id(fn))
    if shared is None or shared.fn is not fn:  # not inside optimize (a pass run on its own)
        return _walk_usage(fn)
    if shared.usage is None:
        shared.usage = _walk_usage(fn, facts_of(fn))
    elif CHECK_FACTS and shared.usage != _walk_usage(fn):
        raise AssertionError(f"stale use counts of {fn.name}")
    stores, loads, returned, protected = shared.usage
    if not copy:
        return MappingProxyType(stores), MappingProxyType(loads), frozenset(returned), frozenset(protected)
    return dict(stores), dict(loads), set(returned), set(protected)


def _walk_usage(fn, facts=None) -> tuple:
    """:func:`_usage`'s tables; from each top-level statement's :class:`Facts` where ``facts`` gives them."""
    if facts is None:
        return _count_usage([fn])
    roots = []
    for attr in child_fields(type(fn)):
        if attr != "body":
            value = getattr(fn, attr, None)
            roots.extend(value) if type(value) is list else roots.append(value)
    stores, loads, returned, protected = _count_usage(roots)
    known = [facts(stmt) for stmt in fn.body]
    # Counted by Counter's loop in C over each statement's names in its walk's order: the same counts, and
    # each name first met where adding statement by statement meets it first (the tables' order is the same)
    loads, stores = Counter(loads), Counter(stores)
    loads.update(chain.from_iterable([k.read for k in known]))
    stores.update(chain.from_iterable([k.stored for k in known]))
    for k in known:
        if k.returned:
            returned |= k.returned
        if k.in_place:
            protected |= k.in_place
    return dict(stores), dict(loads), returned, protected


def _count_usage(stack) -> tuple:
    stores, loads, returned, protected = {}, {}, set(), set()
    Name, Load, Stored, Return = gast.Name, gast.Load, (gast.Store, gast.Param), gast.Return
    # _walk's nodes, without a generator: this walk is most of what the passes share
    pop, push, extend, known = stack.pop, stack.append, stack.extend, _FIELDS
    while stack:
        node = pop()
        kind = type(node)
        fields = known.get(kind)
        if fields is None:
            if not isinstance(node, gast.AST):
                continue
            fields = child_fields(kind)
        if kind is Name:
            ctx = type(node.ctx)
            if ctx is Load:
                loads[node.id] = loads.get(node.id, 0) + 1
            elif ctx in Stored:
                stores[node.id] = stores.get(node.id, 0) + 1
        elif kind is Return:
            returned |= _returned_names(node)
        elif kind in _IN_PLACE:
            _note_in_place(node, protected)
        for attr in fields:
            value = getattr(node, attr, None)
            if type(value) is list:
                extend(value)
            elif value is not None:
                push(value)
    return stores, loads, returned, protected


class Facts:
    """What the passes ask of one statement (everything under it included), found in one walk.

    ``loads``/``stores``: how often it reads/assigns each name (``stores`` counts parameters
    too, as :func:`_usage` does); ``assigned``: the names it assigns (``Store`` only);
    ``changed``: the names it assigns, deletes or binds as parameters; ``in_place``: the
    names whose arrays it updates in place; ``impure``: the names it passes to a call that
    may change them; ``returned``: the names a ``return`` in it returns as they are;
    ``pure``: it only reads (see :func:`sct.passes.algebra._pure`); ``number_sums``: it holds
    an ``np.sum`` of a number; ``foldable``: it is an adjoint or tangent line and a part of it folds
    (:func:`_fold`; a user's line may hold what it cannot fold, complex numbers); ``nested``:
    it holds statements (whose facts ``facts`` gives, and which are added to its own);
    ``targets``: the names in an assignment's targets (:func:`_target_names`); ``movable``: it
    computes only what :func:`_movable_factors` lets move; ``adjoint``: the name ``delta_v`` of a line
    ``delta_v = ...`` (one name assigned), else None; ``minus``: it is such a line and its value has a
    minus to take out (:func:`unsigned`); ``read``/``stored``: the names of ``loads``/``stores`` once
    for each time, in the walk's order (:func:`_walk_usage` counts them all at once).
    """

    __slots__ = ("loads", "stores", "assigned", "changed", "in_place", "impure", "returned", "pure")
    __slots__ += ("number_sums", "foldable", "nested", "targets", "movable", "adjoint", "minus", "read", "stored")

    def __init__(self, stmt, facts=None):
        loads, stores, assigned, changed, in_place, impure, returned = {}, {}, set(), set(), set(), set(), set()
        read, stored = [], []  # the names of loads and stores, each time, in the walk's order (for _walk_usage)
        pure, nested, movable = True, False, True
        number_sums = foldable = False
        fold = _derivative_line(stmt)  # simplify folds only there (a user's line may hold complex numbers)
        stack = [stmt]
        pop, push, extend, known = stack.pop, stack.append, stack.extend, _FIELDS
        Name, Load, Store, Param, Call, Return = gast.Name, gast.Load, gast.Store, gast.Param, gast.Call, gast.Return
        statement = gast.stmt
        while stack:
            node = pop()
            kind = type(node)
            fields = known.get(kind)
            if fields is None:
                if not isinstance(node, gast.AST):
                    continue
                fields = child_fields(kind)
            if kind is Name:
                name, ctx = node.id, type(node.ctx)
                if ctx is Load:
                    loads[name] = loads.get(name, 0) + 1
                    read.append(name)
                else:
                    changed.add(name)
                    if ctx is Store or ctx is Param:
                        stores[name] = stores.get(name, 0) + 1
                        stored.append(name)
                        if ctx is Store:
                            assigned.add(name)
            elif kind is Call:
                _note_in_place(node, in_place)
                if not pure_call(node):
                    pure = False
                    impure |= _names_in(node)
                if not number_sums and number_sum(node) is not None:
                    number_sums = True
                if movable and not _movable_call(node):
                    movable = False
            elif kind in _OPERATIONS:
                if fold and not foldable and _fold(node) is not None:
                    foldable = True
                if movable and kind is gast.BinOp and not isinstance(node.op, _ELEMENTWISE):
                    movable = False
            elif node is not stmt and isinstance(node, statement):  # a statement it holds: its own facts
                nested = True
                inner = (facts or Facts)(node)
                for name, n in inner.loads.items():
                    loads[name] = loads.get(name, 0) + n
                for name, n in inner.stores.items():
                    stores[name] = stores.get(name, 0) + n
                read += inner.read
                stored += inner.stored
                assigned |= inner.assigned
                changed |= inner.changed
                in_place |= inner.in_place
                impure |= inner.impure
                returned |= inner.returned
                pure = pure and inner.pure
                number_sums = number_sums or inner.number_sums
                movable = movable and inner.movable
                continue
            elif kind in _IN_PLACE:
                _note_in_place(node, in_place)
            elif kind is Return:
                returned |= _returned_names(node)
            elif kind in _NOT_PLAIN:
                pure = False
            if kind in _NOT_MOVABLE:
                movable = False
            for attr in fields:
                value = getattr(node, attr, None)
                if type(value) is list:
                    extend(value)
                elif value is not None:
                    push(value)
        self.loads, self.stores, self.assigned, self.changed = loads, stores, assigned, changed
        self.in_place, self.impure, self.returned, self.pure = in_place, impure, returned, pure
        self.read, self.stored = read, stored
        if nested and fold:  # a loop over adjoints (``for delta_i in ...``): its own walk
            foldable = _foldable(stmt)
        self.number_sums, self.foldable, self.nested = number_sums, foldable, nested
        self.movable = movable
        self.adjoint, self.minus = None, False
        kind = type(stmt)
        if kind is gast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is gast.Name:  # (most lines)
            name = stmt.targets[0].id
            self.targets = [name]  # (_target_names of one Name: its name)
            self.adjoint = name if name.startswith("delta_") else None
            self.minus = self.adjoint is not None and unsigned(stmt.value) is not None
        else:
            self.targets = _target_names(stmt) if kind in _ASSIGNS else ()

    def __eq__(self, other):
        return isinstance(other, Facts) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    __hash__ = None


_OPERATIONS = frozenset({gast.BinOp, gast.UnaryOp})  # the nodes _fold folds
_ASSIGNS = frozenset({gast.Assign, gast.AugAssign})  # the statements eliminate_dead_code may drop
_NOT_MOVABLE = frozenset({gast.Lambda, gast.NamedExpr, gast.IfExp, gast.BoolOp, gast.Subscript})  # (_not_movable)
_NOT_PLAIN = frozenset({gast.Lambda, gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Await, gast.ListComp})
_SIMPLE = frozenset({gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Expr, gast.Return, gast.Pass})
CHECK_FACTS = False  # tests: check each statement's kept facts against a new walk (a stale one raises)


def facts_of(fn):
    """A function giving a statement's :class:`Facts`: inside :func:`sharing`, each found once until
    the statement changes (:func:`touched`); outside it, found anew each time (the passes that read
    facts open a sharing of their own: see :func:`shares`)."""
    shared = _USAGE.get(id(fn))
    if shared is None or shared.fn is not fn:
        return Facts
    return _Kept(shared.facts)


class _Kept:
    """:func:`facts_of` inside a sharing: a statement's facts from ``table`` (``id -> (stmt, Facts)``),
    found and kept the first time. A class, not a closure that names itself: that closure was a
    reference cycle, which kept every statement the passes saw alive until the cycle collector ran."""

    __slots__ = ("table",)

    def __init__(self, table: dict):
        self.table = table

    def __call__(self, stmt):
        known = self.table.get(id(stmt))
        if known is not None and known[0] is stmt:
            if CHECK_FACTS and known[1] != Facts(stmt):
                raise AssertionError(f"stale facts of {unparse(stmt)!r}")
            return known[1]
        found = Facts(stmt, self)
        if not found.nested:
            self.table[id(stmt)] = (stmt, found)
        return found


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


def pure_call(call) -> bool:
    """A call that only reads its operands: NumPy's and math's functions, sct's runtime helpers."""
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


def number_sum(node):
    """``c`` (a new node) for ``np.sum(c)`` of a float ``c``, else None."""
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


_IN_PLACE = frozenset({gast.AugAssign, gast.Assign, gast.Call})  # the nodes _note_in_place looks at


class _Block:
    """A statement list indexed for copy propagation: who reads and who stores each name, where.

    Positions stay those of the list as given; folded copies are only marked dead,
    so each copy is checked in time proportional to its readers, not to the block.
    """

    def __init__(self, body, facts=None):
        self.body, self.alive = body, [True] * len(body)
        self.readers, self.stores = {}, {}  # name -> {position: loads there}, name -> [positions]
        if facts is not None:  # each line's Facts: the same counts
            readers, stores = self.readers, self.stores
            for i, stmt in enumerate(body):
                known = facts(stmt)
                for name, n in known.loads.items():
                    at = readers.get(name)
                    if at is None:
                        readers[name] = {i: n}
                    else:
                        at[i] = n
                for var in known.assigned:
                    at = stores.get(var)
                    if at is None:
                        stores[var] = [i]
                    else:
                        at.append(i)
            return
        for i, stmt in enumerate(body):
            stored = set()
            for node in _walk(stmt):
                if isinstance(node, gast.Name):
                    if isinstance(node.ctx, gast.Load):
                        at = self.readers.setdefault(node.id, {})
                        at[i] = at.get(i, 0) + 1
                    elif isinstance(node.ctx, gast.Store):
                        stored.add(node.id)
            for var in stored:
                self.stores.setdefault(var, []).append(i)

    def stored_between(self, var, first, last) -> bool:
        """Does a live statement at a position in ``first..last`` store ``var``?"""
        at = self.stores.get(var, ())
        i = bisect.bisect_left(at, first)
        return i < len(at) and at[i] <= last


def _may_fold(copy, stores, returned, protected) -> bool:
    """What :func:`_fold_copy` asks first of a copy: of the whole function, not of its block."""
    target = copy.targets[0].id
    return target.startswith("delta_") and stores.get(target) == 1 and target not in returned


def _fold_copy(block, k, stores, loads, returned, protected, touch=_nothing) -> bool:
    """Fold the copy at ``block.body[k]`` into its readers if that is safe (see propagate_copies)."""
    body = block.body
    stmt = body[k]
    if not _is_copy(stmt):
        return False
    target, value = stmt.targets[0].id, stmt.value
    source = getattr(value, "id", None)
    if not _may_fold(stmt, stores, returned, protected):
        return False
    readers = block.readers.get(target, {})
    uses = sorted(i for i in readers if i > k)
    if sum(readers[i] for i in uses) != loads.get(target, 0):
        return False  # read somewhere else too (another block, or before the copy)
    # an assignment reads its value before it stores: the last reader may reassign the source
    last = uses[-1] - 1 if uses and isinstance(body[uses[-1]], gast.Assign) else uses[-1] if uses else k
    if source is not None and block.stored_between(source, k + 1, last):
        return False
    moved = loads.pop(target, 0)
    if source is not None:
        loads[source] = loads.get(source, 0) + moved - 1
    stores[target] = 0
    replace = _Replace(target, value)
    for i in uses:
        replace.visit(body[i])
        touch(body[i])
        n = readers.pop(i)
        if source is not None:
            at = block.readers.setdefault(source, {})
            at[i] = at.get(i, 0) + n
    if source is not None:  # the copy itself read the source once
        at = block.readers[source]
        at[k] -= 1
        if not at[k]:
            del at[k]
    block.stores[target].remove(k)
    block.alive[k] = False
    return True


_COPIED = frozenset({gast.Name, gast.Constant})  # the values of a copy (_is_copy)


def _is_copy(stmt) -> bool:
    if type(stmt) is not gast.Assign:
        return False
    targets, value = stmt.targets, stmt.value
    if len(targets) != 1 or type(targets[0]) is not gast.Name:
        return False
    return type(value) is gast.Name or _number(value) is not None


_COMPOUND = (gast.FunctionDef, gast.If, gast.For, gast.While)
_COMPOUND_KINDS = frozenset(_COMPOUND)


def bodies(fn):
    """Every statement list in the function, outermost first (statements only: no expressions)."""
    pending = [fn]
    while pending:
        node = pending.pop(0)
        for attr in ("body", "orelse"):
            body = getattr(node, attr, None)
            if isinstance(body, list):
                yield body
                pending += compress(body, map(_COMPOUND_KINDS.__contains__, map(type, body)))  # (in C: long bodies)


# ---- dead code ------------------------------------------------------------------
@shares
def eliminate_dead_code(fn) -> bool:
    """Drop assignments nothing reads, and comments left heading nothing.

    To a fixed point in one call: dropping a statement drops its reads, which may
    leave the assignments of what it read unread in turn (a chain of dead
    statements goes in one call, not one statement a call).
    """
    loads, facts = _usage(fn)[1], facts_of(fn)
    blocks = list(bodies(fn))
    assignments, pending = [], deque()  # the assignments; those to check (at first, those dead as they are)
    for body in blocks:
        for stmt in body:
            if type(stmt) in _ASSIGNS:
                assignments.append(stmt)
                if _is_dead(stmt, loads, facts(stmt).targets):
                    pending.append(stmt)
    # A line becomes dead only once a name it assigns is no longer read: it is checked again then. (Lines
    # only go, and reads with them: one dead stays dead, and the lines that go are the same in any order.)
    dead, assigning = set(), None  # name -> the assignments of it (made when first needed)
    while pending:
        stmt = pending.popleft()
        if id(stmt) in dead or not _is_dead(stmt, loads, facts(stmt).targets):
            continue
        dead.add(id(stmt))
        for name, n in facts(stmt).loads.items():  # its reads are gone: what only it read is unread now
            loads[name] -= n
            if not loads[name]:
                del loads[name]
                if assigning is None:
                    assigning = {}
                    for assignment in assignments:
                        for target in facts(assignment).targets:
                            assigning.setdefault(target, []).append(assignment)
                pending.extend(assigning.get(name, ()))
    changed = False
    for body in blocks:
        keep = _drop_orphan_comments([stmt for stmt in body if id(stmt) not in dead])
        changed |= len(keep) != len(body)
        body[:] = keep
    return changed


def _target_names(stmt) -> list:
    targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
    return [n.id for t in targets for n in _walk(t) if isinstance(n, gast.Name)]


def _is_dead(stmt, loads, targets=None) -> bool:
    """An assignment nothing reads; ``n += 1`` counts as a read only of what it assigns.

    ``targets``: :func:`_target_names` of ``stmt``, where known."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
        return stmt.target.id not in loads and not _has_effect(stmt.value)
    if not isinstance(stmt, gast.Assign):
        return False
    if targets is None:
        targets = _target_names(stmt)
    for t in targets:
        if t in loads:  # read (most lines): dead only as ``delta_x = delta_x``, left where a branch's adjoint
            return _is_copy(stmt) and getattr(stmt.value, "id", None) == stmt.targets[0].id  # was the identity
    return not _has_effect(stmt.value)  # the walk only where unread (a copy of a name: no effect, dead)


def _has_effect(value) -> bool:
    """Record pops and appends change a list: never dead."""
    return any(
        isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in ("pop", "append")
        for n in _walk(value)
    )


def _drop_orphan_comments(body):
    keep, Expr = [], gast.Expr  # (a comment is an Expr: the type first, as most lines are not)
    for i, stmt in enumerate(body):
        if type(stmt) is Expr and is_comment(stmt) and stmt.value.args[0].value not in _KEEP_COMMENTS:
            following = body[i + 1] if i + 1 < len(body) else None
            if following is None or is_comment(following) or isinstance(following, gast.Return):
                continue
        keep.append(stmt)
    return keep


def tidy_blocks(fn) -> bool:
    """Drop ``if``/``for`` statements left with nothing to do; ``if c: pass else: x`` -> ``if not c: x``."""
    changed = False
    for body in list(bodies(fn)) + [fn.body]:
        if not any(type(stmt) in _BRANCHES for stmt in body):
            continue  # nothing here to tidy
        keep = []
        for stmt in body:
            if isinstance(stmt, gast.If) and not stmt.body:
                if not stmt.orelse:
                    changed = True
                    continue
                stmt.test = _negate(stmt.test)
                stmt.body, stmt.orelse = stmt.orelse, []
                changed = True
            if isinstance(stmt, gast.For) and not stmt.body and not _has_effect(stmt.iter):
                changed = True
                continue
            if isinstance(stmt, gast.For | gast.While) and not stmt.body:
                stmt.body = [gast.Pass()]
            keep.append(stmt)
        body[:] = keep
    return changed


_BRANCHES = frozenset({gast.If, gast.For, gast.While})


def _negate(test):
    if isinstance(test, gast.UnaryOp) and isinstance(test.op, gast.Not):
        return test.operand
    return gast.UnaryOp(op=gast.Not(), operand=test)


def tape_columns(fn) -> bool:
    """:func:`sct.passes.tapes.drop_unread_columns` with the shared use counts: where no record is
    assigned (no name a record has is stored) there is nothing to drop, and nothing to walk."""
    stores, loads, _, _ = _usage(fn)
    if not any(is_record(name) for name in stores):
        return False
    return drop_unread_columns(fn, loads, touched(fn))


PASSES = (
    simplify,
    scalar_adjoints,
    push_signs,
    merge_contributions,
    subtract_first,
    share_factors,
    propagate_copies,
    eliminate_dead_code,
    tape_columns,
    tidy_blocks,
)


# ---- on the IR, before emission -------------------------------------------------------
def propagate_ir_copies(ir) -> None:
    """Drop top-level copies ``a = b`` of values never overwritten, reading ``b`` for ``a``.

    Inlined calls and conditional expressions leave such copies; removing them
    before the adjoint is emitted keeps the forward code and the comments of the
    reverse sweep in step. Branches whose condition became constant are resolved.
    """

    keep_names = {ir.output, ir.aux, *ir.params}
    counts, lost = assignments(ir.body), overwritten(ir)  # dropping a copy changes neither for other names
    found, kept = {}, []  # variable -> the atom read for it
    for stmt in ir.body:
        if isinstance(stmt, Assign) and stmt.prim is None and _is_atom_copy(stmt.value):
            value = _resolved(stmt.value, found)  # what it copies once the copies before it are gone
            source = value.id if isinstance(value, gast.Name) else None
            if stmt.target not in keep_names and counts.get(stmt.target) == 1 and not {stmt.target, source} & lost:
                found[stmt.target] = value
                continue
        kept.append(stmt)
    if found:
        ir.body[:] = kept
        _substitute(ir.body, {var: _resolved(value, found) for var, value in found.items()})
    ir.body[:] = _resolve_static_ifs(ir.body, If)


def _resolved(value, found: dict):
    """``value`` with the copies in ``found`` followed to their end (``a = b; c = a``: ``c`` reads ``b``)."""
    seen = set()
    while isinstance(value, gast.Name) and value.id in found and value.id not in seen:
        seen.add(value.id)
        value = found[value.id]
    return value


def _is_atom_copy(value) -> bool:
    return isinstance(value, gast.Name) or (
        isinstance(value, gast.Constant) and isinstance(value.value, int | float | bool | type(None))
    )


def _substitute(body, values: dict) -> None:
    """Read ``values[v]`` (an atom) wherever the IR statements of ``body`` read ``v``."""

    replace = _ReplaceAll(values)
    for stmt in walk(body):
        for attr in ("value", "test", "iter", "index"):
            node = getattr(stmt, attr, None)
            if isinstance(node, gast.AST):
                setattr(stmt, attr, replace.visit(node))


class _ReplaceAll(gast.NodeTransformer):
    def __init__(self, values: dict):
        self.values = values

    def visit_Name(self, node):
        value = self.values.get(node.id)
        if value is None or not isinstance(node.ctx, gast.Load):
            return node
        if isinstance(value, gast.Name):
            return gast.Name(id=value.id, ctx=gast.Load(), annotation=None, type_comment=None)
        return gast.Constant(value=value.value, kind=None)


def _resolve_static_ifs(body, If) -> list:

    out = []
    for stmt in body:
        if isinstance(stmt, If):
            known = _static_truth(stmt.test)
            if known is not None:
                out += _resolve_static_ifs(stmt.body if known else stmt.orelse, If)
                continue
            stmt.body = _resolve_static_ifs(stmt.body, If)
            stmt.orelse = _resolve_static_ifs(stmt.orelse, If)
        out.append(stmt)
    return out
