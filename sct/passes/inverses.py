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

The forward sweep is left as it is (its values are the ones Python computes). Only
straight-line statements at the top of the function take part, only a matrix named by
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

from ..backend.codegen import assign, is_comment, name, nodes, unparse

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


def share(fn: gast.FunctionDef) -> bool:
    """One ``np.linalg.inv`` of each matrix in ``fn``'s backward sweep (see the module); whether it changed ``fn``."""
    body = fn.body
    start = next((i for i, s in enumerate(body) if is_comment(s) and s.value.args[0].value == "backward"), None)
    if start is None:
        return False
    end = start + 1
    while end < len(body) and (isinstance(body[end], _STRAIGHT)) and not isinstance(body[end], gast.Return):
        end += 1
    backward = body[start + 1 : end]
    found: dict[str, list] = {}
    for kind, matrix, call in _calls(backward):
        found.setdefault(matrix, []).append((kind, call))
    changed = False
    for matrix, uses in found.items():
        inverses = sum(kind == "inv" for kind, _ in uses)
        if inverses == 0 or len(uses) < 2 or not _fixed(fn, matrix):
            continue
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


def demo(source: str) -> str:
    """Share the inverses of a snippet's function, its ``# comment`` lines kept, and return its source."""
    source = re.sub(r"^(\s*)# (\w+)$", r"\1__sct_comment__('\2')", source, flags=re.M)
    fn = gast.parse(source).body[0]
    share(fn)
    return unparse(fn)
