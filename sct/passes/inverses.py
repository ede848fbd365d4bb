"""One inverse of a matrix in the backward sweep, where its rules would factorise it again and again.

The adjoint of ``np.linalg.slogdet(K)`` (and of ``det``'s second order, ``inv``'s
forms) needs ``np.linalg.inv(K)``; the adjoint of ``np.linalg.solve(K, y)`` solves
with ``K.T``. Written rule by rule, a Gaussian process's backward sweep factorises
``K`` once for the inverse and once more for every solve, where hand-written code
inverts once. Where the backward sweep computes ``np.linalg.inv(K)`` anyway, this
pass computes it once, under a name of its own, and each ``np.linalg.solve(K.T, v)``
of the backward sweep becomes ``inv_K.T @ v``: the same numbers up to rounding, as accurate as the inverse the
gradient already relies on, at a matrix-vector product's cost instead of an LU
factorisation's.

>>> print(demo('''
... def grad_f(K, y, delta_out=1.0):
...     # forward
...     alpha = np.linalg.solve(K, y)
...     # backward
...     delta_alpha = 0.5 * y
...     delta_K = 0.5 * np.linalg.inv(K).T
...     delta_K -= np.outer(np.linalg.solve(K.T, delta_alpha), alpha)
...     return (alpha, delta_K)
... '''))
def grad_f(K, y, delta_out=1.0):
    # forward
    alpha = np.linalg.solve(K, y)
    # backward
    delta_alpha = 0.5 * y
    inv_K = np.linalg.inv(K)
    delta_K = 0.5 * inv_K.T
    delta_K -= np.outer(inv_K.T @ delta_alpha, alpha)
    return (alpha, delta_K)

The forward sweep is left as it is: its values are the ones Python computes. Only
straight-line statements at the top of the function take part, a name may hold the
inverse itself (``delta_K = inv_K.T``, which the adjoint code may then update in place) only
at its last use, and only a matrix named by
one variable that is assigned at most once (a parameter, or one forward statement) and
never changed in place, and only where the backward sweep has its inverse already:
an ``inv`` and a ``solve``, or two ``inv``. ``.T`` on the matrix is the transpose of
one matrix (the rules write a stack's as ``np.swapaxes``), so what is solved is 2-d, and
``inv_K.T @ v`` solves for a vector ``v`` or a matrix (or stack of matrices) of columns as
``np.linalg.solve`` does.
"""

from __future__ import annotations

import re

import gast

from ..backend.codegen import assign, marker, name, nodes, unparse
from .algebra import _changed  # the same notion of "may change" the adjoint algebra uses

_STRAIGHT = (gast.Assign, gast.AugAssign, gast.Expr)


def _dotted(node) -> str | None:
    """``np.linalg.inv`` for that attribute chain, else None."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _matrix(node, transposed: bool) -> str | None:
    """The name ``K`` of ``K`` (``transposed``: of ``K.T``)."""
    if transposed:
        if not (isinstance(node, gast.Attribute) and node.attr == "T"):
            return None
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _calls(stmts):
    """``(kind, matrix, call)`` for each ``inv(K)`` and ``solve(K.T, v)`` in ``stmts``."""
    for stmt in stmts:
        for node in nodes(stmt):
            if not isinstance(node, gast.Call) or node.keywords:
                continue
            func = _dotted(node.func)
            if func == "np.linalg.inv" and len(node.args) == 1:
                matrix = _matrix(node.args[0], False)
                if matrix is not None:
                    yield "inv", matrix, node
            elif func == "np.linalg.solve" and len(node.args) == 2:
                matrix = _matrix(node.args[0], True)
                if matrix is not None:
                    yield "solve_t", matrix, node


def _fixed(fn, matrix: str) -> bool:
    """Whether ``matrix`` is assigned at most once in ``fn`` and never changed in place."""
    stores = 0
    for node in nodes(fn):
        if isinstance(node, gast.Name) and node.id == matrix and isinstance(node.ctx, gast.Store | gast.Del):
            stores += 1
        elif isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name) and node.target.id == matrix:
            return False
        elif isinstance(node, gast.Subscript | gast.Attribute) and isinstance(node.ctx, gast.Store | gast.Del):
            if isinstance(node.value, gast.Name) and node.value.id == matrix:
                return False
        elif isinstance(node, gast.Call) and any(isinstance(k, gast.keyword) and k.arg == "out" for k in node.keywords):
            return False  # np.add(a, b, out=K): written in place
    params = {a.id for a in fn.args.args}
    return stores == (0 if matrix in params else 1)


def _fresh(fn, base: str) -> str:
    used = {node.id for node in nodes(fn) if isinstance(node, gast.Name)}
    used |= {a.id for a in fn.args.args}
    candidate, k = base, 1
    while candidate in used:
        k += 1
        candidate = f"{base}_{k}"
    return candidate


def _backward(body):
    """``(start, end)``: the backward sweep's straight-line top-level statements are ``body[start + 1 : end]``."""
    start = marker(body, "backward")
    if start is None:
        return None
    end = start + 1
    while end < len(body) and (isinstance(body[end], _STRAIGHT)) and not isinstance(body[end], gast.Return):
        end += 1
    return start, end


def share(fn: gast.FunctionDef) -> bool:
    """One ``np.linalg.inv`` of each matrix in ``fn``'s backward sweep (see the module), then one of each
    repeated ``np.linalg.solve`` (:func:`share_solves`); whether it changed ``fn``."""
    if not _mentions_inverses(fn):  # one plain walk where most functions have neither call
        return False
    changed = _share_inverses(fn)
    return share_solves(fn) or changed


def _mentions_inverses(fn: gast.FunctionDef) -> bool:
    """Whether the backward sweep's straight-line statements hold an attribute ``.inv`` or ``.solve``: both
    passes look only there, and only at calls of ``np.linalg.inv`` or ``np.linalg.solve``."""
    bounds = _backward(fn.body)
    if bounds is None:
        return False
    start, end = bounds
    attribute, wanted = gast.Attribute, ("inv", "solve")
    for stmt in fn.body[start + 1 : end]:
        for node in nodes(stmt):
            if type(node) is attribute and node.attr in wanted:
                return True
    return False


def _share_inverses(fn: gast.FunctionDef) -> bool:
    body = fn.body
    bounds = _backward(body)
    if bounds is None:
        return False
    start, end = bounds
    backward = body[start + 1 : end]
    found: dict[str, list] = {}
    for stmt in backward:
        for kind, matrix, call in _calls([stmt]):
            found.setdefault(matrix, []).append((kind, call, stmt))
    changed = False
    for matrix, uses in found.items():
        inverses = sum(kind == "inv" for kind, _, _ in uses)
        if inverses == 0 or len(uses) < 2 or not _fixed(fn, matrix):
            continue
        if any(kind == "inv" and _bare(stmt, call) for kind, call, stmt in uses[:-1]):  # inv_K.T @ v is new
            continue  # ``delta_K = inv_K.T`` before another use: an in-place ``delta_K -= ...`` would change it
        uses = [(kind, call) for kind, call, _ in uses]
        inv = _fresh(fn, f"inv_{matrix}")
        for kind, call in uses:
            _replace(call, kind, inv)
        first = next(i for i, stmt in enumerate(body[start + 1 : end], start + 1) if _reads(stmt, inv))
        call = gast.Call(
            func=gast.Attribute(
                value=gast.Attribute(value=name("np"), attr="linalg", ctx=gast.Load()), attr="inv", ctx=gast.Load()
            ),
            args=[name(matrix)],
            keywords=[],
        )
        body.insert(first, assign(inv, call))
        end += 1
        changed = True
    return changed


def share_solves(fn: gast.FunctionDef) -> bool:
    """``np.linalg.solve(A.T, g)`` written twice in the backward sweep (the adjoints of both ``A`` and ``b`` in
    ``np.linalg.solve(A, b)`` solve with it) -> computed once, where nothing in between changes ``A`` or ``g``.

    Only calls whose operands are names (or a name's ``.T``); "changes" is any assignment, any
    in-place update of the name, and any call of a function that may change what it is passed.
    The same call on the same values: the same numbers to the bit. A name may be given the
    shared array itself (``delta_y = solved``) only at its last use: the adjoint code may add
    into that name in place, which must not change what a later use reads.
    """
    body = fn.body
    bounds = _backward(body)
    if bounds is None:
        return False
    start, end = bounds
    groups: dict[str, list] = {}
    for at in range(start + 1, end):
        for node in nodes(body[at]):
            if isinstance(node, gast.Call) and _dotted(node.func) == "np.linalg.solve" and _plain_operands(node):
                groups.setdefault(unparse(node).strip(), []).append((at, node))
    changed = False
    for uses in groups.values():
        if len(uses) < 2:
            continue
        reads = {n.id for n in nodes(uses[0][1]) if isinstance(n, gast.Name)} - {"np"}
        first, last = uses[0][0], uses[-1][0]
        if any(_changed(body[at]) & reads for at in range(first, last)):
            continue
        if any(_bare(body[at], node) for at, node in uses[:-1]):
            continue  # ``delta_y = solved`` before another use: an in-place ``delta_y += ...`` would change it
        solved = _fresh(fn, "solved")
        value = uses[0][1]
        copy = gast.Call(func=value.func, args=list(value.args), keywords=[])
        for _, node in uses:
            _become(node, name(solved))
        body.insert(first, assign(solved, copy))
        changed = True
        break  # positions moved: the next group is found again on the next call
    return share_solves(fn) or True if changed else False  # whether it changed fn: the next groups' call may not


def traces(fn: gast.FunctionDef, ranks: dict) -> bool:
    """``delta_m = np.sum(delta_q * p)`` -> ``delta_m = np.trace(delta_q)`` in the backward sweep, where
    ``p = np.eye(n)`` and ``q = m * p`` with ``m`` a scalar (``ranks``: the forward values' ranks): a full
    pass over an n x n product for a sum of n numbers. Whether it changed ``fn``.

    Only in a statement that gives ``m``'s adjoint, whose contributions of the form ``np.sum(X * p)`` are the
    adjoints of such products: ``q`` has ``p``'s shape (n, n), and so has its adjoint ``X`` (``delta_q``, or
    the name the optimiser gave it), so both sum the diagonal of ``X``: the same number up to the order of
    the additions (the zeros off the diagonal add nothing, except where ``X`` holds an inf or a nan there,
    which the product turned into a nan that the derivative by ``m``, the trace, does not have).

    >>> print(demo('''
    ... def grad_f(m, n, delta_out=1.0):
    ...     # forward
    ...     p = np.eye(n)
    ...     q = m * p
    ...     # backward
    ...     delta_q = np.cos(q)
    ...     delta_m = np.sum(delta_q * p)
    ...     return delta_m
    ... ''', {"m": 0, "p": 2, "q": 2}))
    def grad_f(m, n, delta_out=1.0):
        # forward
        p = np.eye(n)
        q = m * p
        # backward
        delta_q = np.cos(q)
        delta_m = np.trace(delta_q)
        return delta_m
    """
    bounds = _backward(fn.body)
    if bounds is None:
        return False
    start, end = bounds
    eyes = {s.targets[0].id for s in fn.body[:start] if _single(s) and _is_eye(s.value) and _fixed(fn, s.targets[0].id)}
    scales: dict[str, set] = {}  # m -> {p}, for each q = m * p
    for stmt in fn.body[:start]:
        if _single(stmt) and isinstance(stmt.value, gast.BinOp) and isinstance(stmt.value.op, gast.Mult):
            left, right = stmt.value.left, stmt.value.right
            for eye, other in ((left, right), (right, left)):
                scalar = isinstance(other, gast.Name) and ranks.get(other.id) == 0
                if scalar and isinstance(eye, gast.Name) and eye.id in eyes:
                    scales.setdefault(f"delta_{other.id}", set()).add(eye.id)
    changed = False
    for stmt in fn.body[start + 1 : end]:
        target = stmt.targets[0] if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 else stmt
        target = target.target if isinstance(target, gast.AugAssign) else target
        if not (isinstance(target, gast.Name) and target.id in scales):
            continue
        for node in nodes(stmt.value):
            found = _trace_of(node, scales[target.id])
            if found is not None:
                trace = gast.Attribute(value=name("np"), attr="trace", ctx=gast.Load())
                _become(node, gast.Call(func=trace, args=[name(found)], keywords=[]))
                changed = True
    return changed


def _single(stmt) -> bool:
    return isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)


def _is_eye(value) -> bool:
    """``np.eye(n)``: an n x n identity matrix of floats."""
    return (
        isinstance(value, gast.Call)
        and _dotted(value.func) == "np.eye"
        and len(value.args) == 1
        and not value.keywords
        and not isinstance(value.args[0], gast.Starred)
    )


def _trace_of(node, eyes: set) -> str | None:
    """``X`` where ``node`` is ``np.sum(X * p)`` (or ``np.sum(p * X)``) for a ``p`` in ``eyes``."""
    if not (isinstance(node, gast.Call) and _dotted(node.func) == "np.sum" and len(node.args) == 1):
        return None
    product = node.args[0]
    if node.keywords or not (isinstance(product, gast.BinOp) and isinstance(product.op, gast.Mult)):
        return None
    left, right = product.left, product.right
    for adjoint, eye in ((left, right), (right, left)):
        if isinstance(adjoint, gast.Name) and isinstance(eye, gast.Name) and eye.id in eyes:
            return adjoint.id
    return None


def _bare(stmt, node) -> bool:
    """Whether ``stmt`` assigns ``node``'s array itself (or its ``.T``, a view of it) to a name, which then
    holds the shared array."""
    if not isinstance(stmt, gast.Assign):
        return False
    value = stmt.value
    return value is node or isinstance(value, gast.Attribute) and value.attr == "T" and value.value is node


def _plain_operands(call) -> bool:
    if call.keywords or len(call.args) != 2:
        return False
    for arg in call.args:
        if isinstance(arg, gast.Attribute) and arg.attr == "T":
            arg = arg.value
        if not isinstance(arg, gast.Name):
            return False
    return True


def _reads(stmt, var: str) -> bool:
    return any(isinstance(node, gast.Name) and node.id == var for node in nodes(stmt))


def _replace(call: gast.Call, kind: str, inv: str) -> None:
    """Turn ``call`` in place into ``inv`` (for ``inv(K)``) or ``inv.T @ v`` (for ``solve(K.T, v)``)."""
    if kind == "inv":
        replacement = name(inv)
    else:
        left = gast.Attribute(value=name(inv), attr="T", ctx=gast.Load())
        replacement = gast.BinOp(left=left, op=gast.MatMult(), right=call.args[1])
    _become(call, replacement)


def _become(node, replacement) -> None:
    """Make ``node`` the node ``replacement`` (its class and fields): a parent's reference stays valid."""
    node.__class__ = replacement.__class__
    node.__dict__.clear()
    node.__dict__.update(replacement.__dict__)


def demo(source: str, ranks: dict | None = None) -> str:
    """Share the inverses of a snippet's function (with ``ranks``: write its traces), its ``# comment`` lines
    kept, and return its source."""
    source = re.sub(r"^(\s*)# (\w+)$", r"\1__sct_comment__('\2')", source, flags=re.M)
    fn = gast.parse(source).body[0]
    if ranks is None:
        share(fn)
    else:
        traces(fn, ranks)
    return unparse(fn)
