"""A record pushed once every trip of a counted loop is walked in the reversed loop's header.

A ``while`` loop's trips are counted (``trips += 1``) so that the reverse sweep can run
them backwards (``for _ in range(trips):``). Where a record is pushed exactly once a trip,
at the top level of the loop, it holds one entry a trip, so the reversed loop can walk it
instead (``for y in reversed(y_stack):``), as a person writes it: no counter to keep, no
``pop`` a trip. The reversed trips read the same values in the same order: the same numbers.

>>> print(demo('''
... def grad_f(x, delta_out=1.0):
...     y_stack = []
...     trips = 0
...     while x < 2.0:
...         trips += 1
...         x = x * 1.5
...         y_stack.append(x)
...     for _ in range(trips):
...         delta_out = delta_out * 1.5
...         x = y_stack.pop()
...         delta_out = delta_out + x
...     return delta_out
... '''))
def grad_f(x, delta_out=1.0):
    y_stack = []
    while x < 2.0:
        x = x * 1.5
        y_stack.append(x)
    for x in reversed(y_stack):
        delta_out = delta_out * 1.5
        delta_out = delta_out + x
    return delta_out

Only top-level loops of the function: the reversed loop ``for _ in range(trips):`` (its
index read nowhere), the loop that counts ``trips`` with no ``break`` or ``continue`` in it;
only a record (``<name>_stack``) made ``[]`` once, pushed by one ``append`` at the top level of
that loop and popped by one ``v = R.pop()`` at the top level of the reversed loop, used nowhere
else (not a tape's rows, ``r, s = tape.pop()``: ``backend="numba"`` cannot walk a list of tuples
backwards); and only where nothing before the pop in the reversed trip reads or assigns ``v``
(the header binds ``v`` at the top of the trip). The counter goes where nothing
else reads it.
"""

from __future__ import annotations

import gast

from ..backend.codegen import is_comment, nodes, unparse
from .tapes import is_record


def _names(node) -> list[str]:
    return [n.id for n in nodes(node) if isinstance(n, gast.Name)]


def _counted(loop) -> str | None:
    """``trips`` for ``for _ in range(trips):`` whose index its body does not read."""
    if not (isinstance(loop, gast.For) and isinstance(loop.target, gast.Name) and not loop.orelse):
        return None
    it = loop.iter
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"):
        return None
    if len(it.args) != 1 or it.keywords or not isinstance(it.args[0], gast.Name):
        return None
    if any(loop.target.id in _names(s) for s in loop.body):
        return None
    return it.args[0].id


def _increments(stmt, counter: str) -> bool:
    return (
        isinstance(stmt, gast.AugAssign)
        and isinstance(stmt.op, gast.Add)
        and isinstance(stmt.target, gast.Name)
        and stmt.target.id == counter
        and isinstance(stmt.value, gast.Constant)
        and stmt.value.value == 1
    )


def _counting_loop(body, end: int, counter: str):
    """The top-level loop before ``body[end]`` that counts ``counter`` at its top level, with no jumps in it."""
    for stmt in body[:end]:
        if isinstance(stmt, gast.While | gast.For) and any(_increments(s, counter) for s in stmt.body):
            if stmt.orelse or any(isinstance(n, gast.Break | gast.Continue | gast.Return) for n in nodes(stmt)):
                return None
            return stmt if _counts_only_there(body, counter) else None
    return None


def _counts_only_there(body, counter: str) -> bool:
    """Whether ``counter`` is set only by one ``counter = 0`` and one ``counter += 1``: it counts the trips."""
    stores = [n for s in body for n in nodes(s) if isinstance(n, gast.Name) and n.id == counter]
    stores = [n for n in stores if not isinstance(n.ctx, gast.Load)]
    zero = [
        s
        for s in body
        if isinstance(s, gast.Assign)
        and _names(s.targets[0]) == [counter]
        and isinstance(s.value, gast.Constant)
        and s.value.value == 0
    ]
    return len(stores) == 2 and len(zero) == 1


def _pop(stmt) -> tuple[object, list[str], str] | None:
    """``(target, names, R)`` for ``v = R.pop()``."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    target = stmt.targets[0]
    if not isinstance(target, gast.Name):  # a tape's row (``r, s = tape.pop()``): numba cannot walk those
        return None
    names = [target.id]
    call = stmt.value
    if not (isinstance(call, gast.Call) and not call.args and not call.keywords):
        return None
    func = call.func
    if isinstance(func, gast.Attribute) and func.attr == "pop" and isinstance(func.value, gast.Name):
        return target, names, func.value.id
    return None


def _pushed_once(fn, record: str, forward, pop_stmt) -> bool:
    """Whether ``record`` is made ``[]`` once at the top level, pushed once at the top level of ``forward``,
    popped only by ``pop_stmt``, and used nowhere else."""
    if not is_record(record):
        return False
    made = [s for s in fn.body if isinstance(s, gast.Assign) and _is_empty_list_of(s, record)]
    pushes = [s for s in forward.body if isinstance(s, gast.Expr) and _appends_to(s.value, record)]
    if len(made) != 1 or len(pushes) != 1:
        return False
    uses = sum(_names(s).count(record) for s in fn.body)
    return uses == 3 and _names(pop_stmt).count(record) == 1


def _is_empty_list_of(stmt, record: str) -> bool:
    target = stmt.targets[0] if len(stmt.targets) == 1 else None
    value = stmt.value
    return isinstance(target, gast.Name) and target.id == record and isinstance(value, gast.List) and not value.elts


def _appends_to(call, record: str) -> bool:
    return (
        isinstance(call, gast.Call)
        and isinstance(call.func, gast.Attribute)
        and call.func.attr == "append"
        and isinstance(call.func.value, gast.Name)
        and call.func.value.id == record
        and len(call.args) == 1
        and not call.keywords
    )


def walk_records(fn: gast.FunctionDef) -> bool:
    """``for v in reversed(R):`` for ``for _ in range(trips): ... v = R.pop()`` (see the module); whether it
    changed ``fn``."""
    changed = False
    for at, loop in enumerate(fn.body):
        counter = _counted(loop)
        forward = _counting_loop(fn.body, at, counter) if counter is not None else None
        if forward is None:
            continue
        for k, stmt in enumerate(loop.body):
            popped = _pop(stmt)
            if popped is None:
                continue
            target, names, record = popped
            if any(set(names) & set(_names(s)) for s in loop.body[:k]) or not _pushed_once(fn, record, forward, stmt):
                continue
            if all(is_comment(s) for s in loop.body if s is not stmt):
                continue  # a trip that only restores a value: the loop would have nothing left to run
            del loop.body[k]
            loop.target = target
            loop.iter = gast.Call(
                func=gast.Name(id="reversed", ctx=gast.Load(), annotation=None, type_comment=None),
                args=[gast.Name(id=record, ctx=gast.Load(), annotation=None, type_comment=None)],
                keywords=[],
            )
            _drop_counter(fn, counter, forward)
            changed = True
            break
    return changed


def _drop_counter(fn, counter: str, forward) -> None:
    """``trips = 0`` and ``trips += 1`` go where nothing else reads ``trips``."""
    reads = sum(_names(s).count(counter) for s in fn.body)
    zero = [s for s in fn.body if isinstance(s, gast.Assign) and _names(s.targets[0]) == [counter]]
    steps = [s for s in forward.body if _increments(s, counter)]
    if len(zero) == 1 and len(steps) == 1 and reads == 2:
        fn.body.remove(zero[0])
        forward.body.remove(steps[0])


def demo(source: str) -> str:
    fn = gast.parse(source).body[0]
    walk_records(fn)
    return unparse(fn)
