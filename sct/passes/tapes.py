"""Records whose values nobody reads: their columns go, and a record left empty goes whole.

A loop's row (``tape.append((h, np.shape(f)))``, taken back by ``h, f_shape =
tape.pop()``) may keep a value that the code reads no more once other passes have
run (a shape whose ``unbroadcast`` turned out to be the identity, say). This pass
drops such a column from every push and every pop of the record, and where no
column is left, the record itself: its ``[]``, its pushes and its pops.

>>> print(demo('''
... def grad_f(x, delta_out=1.0):
...     tape = []
...     for t in range(3):
...         f = x * t
...         tape.append((x, np.shape(f)))
...         x = np.sin(f)
...     for t in reversed(range(3)):
...         x, f_shape = tape.pop()
...         delta_out = delta_out * x
...     return delta_out
... '''))
def grad_f(x, delta_out=1.0):
    tape = []
    for t in range(3):
        f = x * t
        tape.append(x)
        x = np.sin(f)
    for t in reversed(range(3)):
        x = tape.pop()
        delta_out = delta_out * x
    return delta_out

Only a record the reverse sweep made (named ``<what>_stack`` or ``tape``, ``tape_N``; a
list of the user's keeps its pops), one the function uses for nothing else (made ``[]`` once, then only pushed on
with ``.append(...)`` statements and popped into names with ``... = R.pop()``), with
every push and pop of the same width, and only a column whose pushed value has no
effect (a name, a constant, ``np.shape(name)``) and whose popped names are read
nowhere in the function: dropping it changes no value the code computes.
"""

from __future__ import annotations

import re

import gast

from ..backend.codegen import nodes, unparse


def drop_unread_columns(fn, loads: dict | None = None, touched=None) -> bool:
    """Drop the columns of ``fn``'s records that nothing reads, and records left empty; whether it changed.

    ``loads``: how often ``fn`` reads each name, where the caller has counted (else counted here);
    ``touched``: called with each push and pop this changes in place."""
    records = _records(fn)
    if not records:
        return False
    if loads is None:
        loads = {}
        for n in nodes(fn):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                loads[n.id] = loads.get(n.id, 0) + 1
    changed = False
    for made, pushes, pops in records.values():
        width = {len(_row(p)) for p in pushes} | {len(_columns(p)) for p in pops}
        if len(width) != 1:
            continue
        (n,) = width
        unread = [
            k
            for k in range(n)
            if all(_pure(_row(p)[k]) for p in pushes) and all(loads.get(_columns(p)[k], 0) == 0 for p in pops)
        ]
        if not unread:
            continue
        changed = True
        if len(unread) == n:  # nothing left: the record goes
            gone = {id(s) for s in [made, *pushes, *pops]}
            _remove(fn, gone)
            continue
        for p in pushes:
            row = [v for k, v in enumerate(_row(p)) if k not in unread]
            p.value.args = [row[0] if len(row) == 1 else gast.Tuple(elts=row, ctx=gast.Load())]
            if touched is not None:
                touched(p)
        for p in pops:
            kept = [name for k, name in enumerate(_columns(p)) if k not in unread]
            targets = [gast.Name(id=c, ctx=gast.Store(), annotation=None, type_comment=None) for c in kept]
            p.targets = [targets[0] if len(targets) == 1 else gast.Tuple(elts=targets, ctx=gast.Store())]
            if touched is not None:
                touched(p)
    return changed


def demo(source: str) -> str:
    """Run the pass on a snippet (for doctests)."""
    fn = gast.parse(source.strip()).body[0]
    drop_unread_columns(fn)
    return unparse(fn)


def _records(fn) -> dict:
    """``{name: (its [] assignment, its push statements, its pop statements)}`` for lists used as records only."""
    made, pushes, pops, uses = {}, {}, {}, {}
    for n in nodes(fn):
        if isinstance(n, gast.Name):
            uses[n.id] = uses.get(n.id, 0) + 1
        if _is_made(n):
            made.setdefault(n.targets[0].id, []).append(n)
        elif isinstance(n, gast.Expr) and _method(n.value, "append", 1) is not None:
            pushes.setdefault(_method(n.value, "append", 1), []).append(n)
        elif isinstance(n, gast.Assign) and _method(n.value, "pop", 0) is not None and _columns(n) is not None:
            pops.setdefault(_method(n.value, "pop", 0), []).append(n)
    found = {}
    for record, assigned in made.items():
        if not _RECORD.fullmatch(record):
            continue
        mine = pushes.get(record, []), pops.get(record, [])
        if len(assigned) == 1 and uses[record] == 1 + len(mine[0]) + len(mine[1]):  # no other use of the list
            found[record] = (assigned[0], *mine)
    return found


_RECORD = re.compile(r"\w+_stack|tape(_\d+)?")  # the names sct.reverse gives its records (as checkpoint.py reads)


def is_record(name: str) -> bool:
    """Whether ``name`` is one sct.reverse gives its records."""
    return _RECORD.fullmatch(name) is not None


def _is_made(n) -> bool:
    return (
        isinstance(n, gast.Assign)
        and len(n.targets) == 1
        and isinstance(n.targets[0], gast.Name)
        and isinstance(n.value, gast.List)
        and not n.value.elts
    )


def _method(call, attr: str, nargs: int):
    """``R`` of a call ``R.attr(...)`` with ``nargs`` positional arguments; else None."""
    if (
        isinstance(call, gast.Call)
        and isinstance(call.func, gast.Attribute)
        and call.func.attr == attr
        and isinstance(call.func.value, gast.Name)
        and len(call.args) == nargs
        and not call.keywords
    ):
        return call.func.value.id
    return None


def _row(push) -> list:
    value = push.value.args[0]
    return list(value.elts) if isinstance(value, gast.Tuple) else [value]


def _columns(pop):
    """The names a pop assigns, in order; None unless it assigns plain names."""
    if len(pop.targets) != 1:
        return None
    target = pop.targets[0]
    elts = target.elts if isinstance(target, gast.Tuple) else [target]
    if not all(isinstance(e, gast.Name) for e in elts):
        return None
    return [e.id for e in elts]


def _pure(value) -> bool:
    """A pushed value that costs nothing to leave out: a name, a constant, ``np.shape(name)``."""
    if isinstance(value, gast.Name | gast.Constant):
        return True
    return (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "shape"
        and isinstance(value.func.value, gast.Name)
        and value.func.value.id == "np"
        and len(value.args) == 1
        and isinstance(value.args[0], gast.Name)
        and not value.keywords
    )


def _remove(fn, gone: set) -> None:
    for n in nodes(fn):
        for field in ("body", "orelse"):
            block = getattr(n, field, None)
            if isinstance(block, list) and block and isinstance(block[0], gast.stmt):
                kept = [s for s in block if id(s) not in gone]
                if len(kept) != len(block):
                    block[:] = kept or ([gast.Pass()] if field == "body" else [])
