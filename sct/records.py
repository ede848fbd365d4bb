"""Records that keep only a shape.

The reverse sweep sometimes reads an overwritten value only to learn its shape:
``unbroadcast(delta_e, c)`` sums ``delta_e`` down to the shape of ``c``. Keeping
every old ``c`` on a record would hold one array per loop trip; keeping
``np.shape(c)`` holds a tuple. :func:`shape_only` finds such variables and
:func:`record_shapes` rewrites the reverse sweep to read ``c_shape`` instead.
"""

from __future__ import annotations

import gast

from .codegen import assign, name, nodes

LOAD = gast.Load()


def shape_only(backward, candidates: set) -> set:
    """Variables in ``candidates`` that ``backward`` reads only as ``unbroadcast``'s second argument."""
    as_shape, reads = {}, {}
    if not candidates:
        return set()
    for stmt in backward:  # counts, not node identities: one node may appear in several places
        for node in nodes(stmt):
            if _is_unbroadcast(node) and isinstance(node.args[1], gast.Name):
                as_shape[node.args[1].id] = as_shape.get(node.args[1].id, 0) + 1
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id in candidates:
                reads[node.id] = reads.get(node.id, 0) + 1
    return {v for v, n in reads.items() if as_shape.get(v) == n}


def record_shapes(backward, variables: set, stacks: dict, namer, once=frozenset()) -> tuple[list, dict]:
    """Read ``v_shape`` for each of ``variables``; returns the new sweep and ``{v: v_shape}``.

    ``once``: variables whose shape a loop records once a trip and takes back at the top of
    each reversed trip (named ``v_shape`` there): no ``v_shape = np.shape(v)`` before the sweep.
    """
    if not variables:
        return backward, {}
    shapes = {v: (f"{v}_shape" if v in once else namer.fresh(f"{v}_shape")) for v in sorted(variables)}

    class Rewrite(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            target = node.args[1] if _is_unbroadcast(node) else None
            if isinstance(target, gast.Name) and target.id in shapes:
                node.args[1] = name(shapes[target.id])
            return node

        def visit_Assign(self, node):
            self.generic_visit(node)
            target, value = node.targets[0], node.value
            popped = popped_stack(value)
            if isinstance(target, gast.Name) and target.id in shapes and popped == stacks.get(target.id):
                node.targets = [name(shapes[target.id], store=True)]
            return node

    rewrite = Rewrite()
    body = [rewrite.visit(stmt) for stmt in backward]
    start = [assign(shapes[v], _shape_of(v)) for v in sorted(shapes) if v not in once]
    return start + body, shapes


def _shape_of(var: str):
    return gast.Call(func=gast.Attribute(value=name("np"), attr="shape", ctx=LOAD), args=[name(var)], keywords=[])


def _is_unbroadcast(node) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == "unbroadcast"
        and len(node.args) == 2
    )


def popped_stack(value):
    """The record ``value`` pops (``h_stack`` for ``h_stack.pop()``), or None."""
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "pop"
        and isinstance(value.func.value, gast.Name)
    ):
        return value.func.value.id
    return None


def restores(stmt, var: str, stack) -> bool:
    """Is ``stmt`` ``var = stack.pop()``, restoring ``var`` from its record?"""
    return (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id == var
        and popped_stack(stmt.value) == stack
    )


shape_of = _shape_of
