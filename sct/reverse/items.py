"""Items of a tuple result, passed to its rule one by one.

``sign, logdet = np.linalg.slogdet(K)`` is lowered to ``r = slogdet(K); sign = r[0];
logdet = r[1]``. The adjoint of ``r`` is the list of its items' adjoints; made as
an array of zeros with the items added in (``delta_r = zeros_like(r);
delta_r[1] += delta_logdet``), the rule then reads ``delta_r[1]`` back. Where
``r`` is read only as its items, each once, by constant position, in the block
that makes it, the adjoint of item ``k`` is the adjoint of the variable that
reads it (``delta_logdet``): the rule is given those directly (and zeros made
from an item its rule never reads, which it does not emit). Where the rule reads an
item that has no adjoint, the list is made as before, once. Only
for functions of a known number of items whose rules read their adjoint item by
item (:data:`BY_ITEM`); any other reading of ``r`` keeps the list.
"""

from __future__ import annotations

import operator

import gast
import numpy as np

from ..backend.runtime import zeros_like
from ..ir import Assign, Effect, For, If, SetItem, While, names_in, operands
from ..symbolic import Sym, call

# The functions whose rules read the adjoint of their tuple result only as g[0], g[1], ...: how many items,
# and which of them the rules read. Where a read item has no adjoint, the list is made as before
# (delta_r = zeros_like(r); delta_r[k] += ...), once, rather than zeros inlined at each reading.
BY_ITEM = {np.linalg.slogdet: 2, np.linalg.eigh: 2, np.linalg.eig: 2, np.linalg.lstsq: 4, np.linalg.svd: 3}
_READ = {np.linalg.slogdet: {1}, np.linalg.lstsq: {0, 1, 3}}
# Those that return one array for some arguments: the keyword that says so, and the values that keep a tuple.
_TUPLE_WHEN = {np.linalg.svd: ("compute_uv", 2, (True,))}


def itemized(ir, assigned: dict) -> set:
    """The tuple results read only item by item (see the module docstring)."""
    found = set()
    for block in _blocks(ir.body):
        for stmt in block:
            made = isinstance(stmt, Assign) and _by_item(stmt) and assigned.get(stmt.target) == 1
            if made and stmt.target not in (ir.output, ir.aux) and _read_by_item(ir, block, stmt.target, assigned):
                found.add(stmt.target)
    return found


def items_grad(ans: Sym, count: int, items: dict) -> list:
    """The adjoint of a tuple result as its rule reads it: each item's adjoint, or zeros shaped like the item."""
    return [items[k] if k in items else call(zeros_like, ans[k]) for k in range(count)]


def count(stmt) -> int:
    return BY_ITEM[_prim(stmt)]


def read(stmt) -> set:
    """The items of ``stmt``'s result whose adjoints its rules read."""
    prim = _prim(stmt)
    return _READ.get(prim, set(range(BY_ITEM[prim])))


def _by_item(stmt) -> bool:
    prim = _prim(stmt)
    if prim is None or prim not in BY_ITEM:
        return False
    if prim not in _TUPLE_WHEN:
        return True
    keyword, position, keeps = _TUPLE_WHEN[prim]  # svd(a, full_matrices, compute_uv): a tuple unless compute_uv
    args, kwargs = operands(stmt)
    given = kwargs.get(keyword, args[position] if len(args) > position else None)
    return given is None or isinstance(given, gast.Constant) and given.value in keeps


def _prim(stmt):
    try:
        return stmt.prim if hash(stmt.prim) is not None else None
    except TypeError:
        return None


def _read_by_item(ir, block, var, assigned) -> bool:
    """Every read of ``var`` is ``x = var[k]`` in ``block``, ``k`` a distinct constant, ``x`` assigned once."""
    in_block = {id(s) for s in block}
    seen = set()
    for stmt in _statements(ir.body):
        if var not in _reads(stmt):
            continue
        if not (isinstance(stmt, Assign) and stmt.prim is operator.getitem and id(stmt) in in_block):
            return False
        args, _ = operands(stmt)
        index = args[1] if len(args) > 1 else None
        k = index.value if isinstance(index, gast.Constant) else None
        if not (isinstance(args[0], gast.Name) and args[0].id == var) or type(k) is not int or k < 0 or k in seen:
            return False
        if assigned.get(stmt.target) != 1:
            return False
        seen.add(k)
    return True


def _reads(stmt) -> list:
    if isinstance(stmt, Assign | Effect):
        return names_in(stmt.value)
    if isinstance(stmt, If | While):
        return names_in(stmt.test)
    if isinstance(stmt, For):
        return names_in(stmt.iter)
    if isinstance(stmt, SetItem):
        return names_in(stmt.index) + names_in(stmt.value) + [stmt.target]
    return []


def _statements(body):
    for block in _blocks(body):
        yield from block


def _blocks(body):
    yield body
    for stmt in body:
        if isinstance(stmt, If):
            yield from _blocks(stmt.body)
            yield from _blocks(stmt.orelse)
        elif isinstance(stmt, For):
            yield from _blocks(stmt.body)
        elif isinstance(stmt, While):
            yield from _blocks(stmt.cond)
            yield from _blocks(stmt.body)
