"""Records that keep only a shape.

The reverse sweep sometimes reads an overwritten value only to learn its shape:
``unbroadcast(delta_e, c)`` sums ``delta_e`` down to the shape of ``c``. Keeping
every old ``c`` on a record would hold one array per loop trip; keeping
``np.shape(c)`` holds a tuple. :func:`shape_only` finds such variables and
:func:`record_shapes` rewrites the reverse sweep to read ``c_shape`` instead.
"""

from __future__ import annotations

import gast

from ..backend.codegen import assign, name, nodes, statements

LOAD = gast.Load()


def shape_only(backward, candidates: set) -> set:
    """Variables in ``candidates`` that ``backward`` reads only as ``unbroadcast``'s second argument."""
    as_shape, reads = {}, {}
    if not candidates:
        return set()
    for stmt in backward:  # counts, not node identities: one node may appear in several places
        for node in nodes(stmt):
            if is_unbroadcast(node) and isinstance(node.args[1], gast.Name):
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
            target = node.args[1] if is_unbroadcast(node) else None
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


def is_unbroadcast(node) -> bool:
    """A call ``unbroadcast(g, x)``: the adjoint of a broadcast, reading ``x`` for its shape only."""
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


# ---- records whose restored value nobody reads --------------------------------------
# A record is pushed before an assignment and popped after its adjoint lines, so that
# the lines above see the old value. Where nothing reads that old value before the
# variable is set again (``y = y_stack.pop()`` followed, on every path, by another pop
# of y), the push and the pop are both dropped: the pair is matched, so the records of
# the variable's other assignments stay in step.
_OPAQUE = (gast.Break, gast.Continue, gast.Return, gast.Try, gast.With, gast.FunctionDef, gast.While)


def dead_pops(backward, live_end: set):
    """ids of the assignments whose tagged pops (``pop.sct_record``) restore a value nothing reads.

    None where the sweep holds something this backward liveness does not model.
    """
    if any(isinstance(s, _OPAQUE) for s in statements(backward)):
        return None
    live_at = {}  # id of the assignment -> whether some pop of it restores a value that is read
    _live_block(backward, set(live_end), live_at)
    return {k for k, live in live_at.items() if not live}


def drop_dead_pops(backward, dead: set) -> list:
    def keep(stmt):
        return getattr(stmt, "sct_record", None) not in dead

    for node in [n for s in backward for n in gast.walk(s)]:
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and not isinstance(node, gast.Lambda | gast.IfExp):
                block[:] = [s for s in block if keep(s)] or ([gast.Pass()] if field == "body" else [])
    return [s for s in backward if keep(s)]


def _live_block(stmts, live: set, live_at: dict) -> set:
    """The names live before ``stmts``, given ``live`` after them (a set of the caller's it may change)."""
    for stmt in reversed(stmts):
        live = _live_stmt(stmt, live, live_at)
    return live


def _loads(node) -> set:
    return {n.id for n in nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _live_stmt(stmt, live: set, live_at: dict) -> set:
    if isinstance(stmt, gast.If):
        body = _live_block(stmt.body, set(live), live_at)
        orelse = _live_block(stmt.orelse, set(live), live_at)
        return body | orelse | _loads(stmt.test)
    if isinstance(stmt, gast.For):
        targets = {n.id for n in gast.walk(stmt.target) if isinstance(n, gast.Name)}
        head = set(live)
        while True:  # the live set at the loop's head grows to a fixed point
            grown = live | (_live_block(stmt.body, set(head), live_at) - targets)
            if grown == head:
                break
            head = grown
        return head | _loads(stmt.iter)
    tag = getattr(stmt, "sct_record", None)
    stored = set()
    if isinstance(stmt, gast.Assign):
        stored = {t.id for t in stmt.targets if isinstance(t, gast.Name)}
        stored |= {n.id for t in stmt.targets if isinstance(t, gast.Tuple) for n in t.elts if isinstance(n, gast.Name)}
    if tag is not None:
        live_at[tag] = live_at.get(tag, False) or bool(stored & live)
    live -= stored  # in place: the set is the block's own (a new set per line is quadratic in a long block)
    live |= _loads(stmt)
    return live
