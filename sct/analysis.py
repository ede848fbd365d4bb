"""Analyses over the lowered IR: ranks, and which values carry a derivative.

* ``ranks``: the rank (``ndim``) of every value where it is known statically,
  from the ranks of the arguments (the call's specialisation) and each rule's
  rank function. Ranks decide where broadcasting may have happened.
* ``activity``: a value is *active* when it depends on a ``wrt`` input through
  differentiable operations AND the output depends on it. Only active values
  get a ``delta_*``.
"""

from __future__ import annotations

import gast

from .ir import Assign, FunctionIR, names_in, operands
from .rules import DYNAMIC, lookup


def static_value(node):
    """The Python value of a static atom, or DYNAMIC if it reads a variable."""
    if any(isinstance(n, gast.Name) for n in gast.walk(node)):
        return DYNAMIC
    try:
        return gast.literal_eval(node)
    except ValueError:
        return DYNAMIC


def rank_of(node, ranks: dict):
    if isinstance(node, gast.Name):
        return ranks.get(node.id)
    if isinstance(node, gast.Constant):
        return 0 if isinstance(node.value, int | float | complex) else None
    value = static_value(node)
    return 0 if isinstance(value, int | float) and not isinstance(value, bool) else None


def ranks(ir: FunctionIR, arg_ranks: dict) -> dict:
    known = dict(arg_ranks)
    for stmt in ir.body:
        if isinstance(stmt, Assign):
            known[stmt.target] = _rank(stmt, known)
    return known


def _rank(stmt: Assign, known: dict):
    args, kwargs = operands(stmt)
    if stmt.prim is None:
        return rank_of(args[0], known)
    entry = lookup(stmt.prim)
    if entry is None or entry.ndim is None:
        return None
    arg_ranks = [rank_of(a, known) for a in args]
    statics = [static_value(a) for a in args]
    kw = {k: static_value(v) for k, v in kwargs.items()}
    return entry.ndim(arg_ranks, statics, kw)


SCALAR = "scalar"


def shape_classes(ir: FunctionIR, ranks: dict) -> dict:
    """Group values known to have the same shape: ``{name: class}``.

    Every scalar is in class ``"scalar"``; each argument starts its own class;
    an elementwise operation whose array operands share a class stays in it. A
    contribution needs summing back (``unbroadcast``) only when its operand's
    class differs from the result's.
    """
    classes = {p: (SCALAR if ranks.get(p) == 0 else p) for p in ir.params}
    for stmt in ir.body:
        if isinstance(stmt, Assign):
            classes[stmt.target] = _shape_class(stmt, classes, ranks)
    return classes


def shape_class(node, classes: dict):
    if isinstance(node, gast.Name):
        return classes.get(node.id, node.id)
    value = static_value(node)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return SCALAR
    return None


def _shape_class(stmt: Assign, classes: dict, ranks: dict):
    if ranks.get(stmt.target) == 0:
        return SCALAR
    args, _ = operands(stmt)
    entry = lookup(stmt.prim)
    if stmt.prim is None or (entry is not None and entry.elementwise):
        found = {shape_class(a, classes) for a in args} - {SCALAR}
        if len(found) == 1 and None not in found:
            return found.pop()
    return stmt.target  # a class of its own


def differentiable_operands(stmt: Assign) -> list[tuple[int, str]]:
    """(position, variable) for each operand a derivative can flow through."""
    args, _ = operands(stmt)
    if stmt.prim is None:
        return [(0, n) for n in names_in(args[0])]
    entry = lookup(stmt.prim)
    found = []
    for i, arg in enumerate(args):
        if entry is None or entry.differentiable(i):
            found += [(i, n) for n in names_in(arg)]
    return found


def activity(ir: FunctionIR, wrt: list[str]) -> set[str]:
    """The names that depend on ``wrt`` and that the output depends on."""
    varied = set(wrt)
    for stmt in ir.body:
        if isinstance(stmt, Assign) and any(n in varied for _, n in differentiable_operands(stmt)):
            varied.add(stmt.target)
    useful = {ir.output}
    for stmt in reversed(ir.body):
        if isinstance(stmt, Assign) and stmt.target in useful:
            useful.update(n for _, n in differentiable_operands(stmt))
    return varied & useful
