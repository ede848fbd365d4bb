"""In-place updates of an array another name holds: ``x += e`` and ``x[i] = v``.

sct reads ``x += e`` as ``x = x + e``: a new array. NumPy changes the array
``x`` holds in place, so another name that holds it, or a view of it
(``y = x``, ``y = x[1:]``, ``y = x.T``, a list with ``x`` in it), sees the
change. Likewise a write ``x[i] = v`` is seen through every name of x's array,
which sct's copy-on-write (and its adjoint of the write) does not follow. When
such a name is read after the update, the function as Python runs it and the
function sct differentiates would differ, so sct reports it instead
(:func:`shared_updates` finds the candidates from the source; the lowering
reports writes at once, and ``x += e`` once the argument types show that ``x``
may be an array: :func:`surely_scalars`).

The scan is by position in the source: an alias made before the update (or
anywhere in a loop around it) and read after it (or anywhere in such a loop).
Each binding of a name is a node of its own, and a read sees the bindings that
may reach it (:class:`_Reaching`: through branches and loops, more than Python
may see, never less): ``y = x; y = y * 2.0`` reads a new array, ``y = x; if c:
y = 2.0 * x`` may read x's. In a loop, a binding that makes a new array each
trip stands for that trip's array, so aliases of other trips' arrays do not
count (``d = np.zeros(n); d[i] = v; rows.append(d)``), and a list used only as a
stack of distinct arrays holds a popped array no more (the records of sct's own
generated code, differentiated again). Where the scan cannot tell, it reports:
it may over-report, but never misses a shared array.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping

import gast
import numpy as np

from ..backend.codegen import nodes
from ..ir import BINOPS, COMPARES, UNARYOPS, Assign, walk
from .parse import LocalDef

OPERATORS = set(BINOPS.values()) | set(UNARYOPS.values()) | set(COMPARES.values())
VIEW_ATTRIBUTES = {"T", "mT", "real", "imag", "flat"}
VIEWS = {  # methods and NumPy functions whose result may share the argument's memory
    "reshape",
    "ravel",
    "view",
    "transpose",
    "squeeze",
    "swapaxes",
    "moveaxis",
    "diagonal",
    "asarray",
    "asanyarray",
    "expand_dims",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_to",
    "real",
    "imag",
}


def shared_updates(fn: gast.FunctionDef, resolve=None) -> dict:
    """``{id(update statement): (other name, the node that made it an alias)}``.

    ``resolve(name)``: the object a free name of ``fn`` means (KeyError if none), to tell a
    NumPy or ``math`` function (a new array) from a user function, which may return its argument.
    Without it every call of a plain name may.
    """
    if not _may_update(fn):  # no statement changes an object in place: nothing to look for (and the scan
        return {}  # keeps a copy of the reaching bindings per statement: quadratic in a long function)
    return _scanned_updates(fn, resolve)


def _scanned_updates(fn: gast.FunctionDef, resolve=None) -> dict:
    """:func:`shared_updates` by the full scan, whatever ``fn`` holds."""
    scan = _Scan(_Reaching(fn), resolve)
    scan.block(fn.body, loops=())
    found = {}
    for position, node, var, loops in scan.updates:
        grows = isinstance(node, gast.Expr) and at_target(node.value) is None  # xs.append(v), not np.add.at(a, ...)
        other = scan.alias_read_after(var, position, loops, same_object=grows)
        if other is not None:
            found[id(node)] = other
    return found


def _may_update(fn: gast.FunctionDef) -> bool:
    """Whether ``fn`` holds, anywhere, a statement :meth:`_Scan.simple` takes for an update:
    ``x[i] = v`` (or ``+=``), ``x += e``, ``xs.append(v)`` (``extend``, ``insert``)."""
    for node in nodes(fn):
        if isinstance(node, gast.Assign | gast.AugAssign | gast.AnnAssign):
            targets = node.targets if isinstance(node, gast.Assign) else [node.target]
            if any(written_name(t) is not None for t in targets):
                return True
            if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
                return True
        elif isinstance(node, gast.Expr) and (
            _is_method(node.value, "append", "extend", "insert") or at_target(node.value) is not None
        ):
            return True
    return False


Env = Mapping  # name -> frozenset of the positions of the bindings that may reach a point (0: the argument, or unbound)


class _Layered(Mapping):
    """An Env as a shared ``base`` (a dict no one changes) and the few ``changes`` made since.

    A statement binds a name or two: a copy of the whole Env for each (kept for each position)
    was quadratic in a long function. Once the changes grow past ``_FLAT`` they are folded into a
    new base, so a lookup reads two dicts and a statement copies at most ``_FLAT`` entries.
    """

    __slots__ = ("base", "changes")

    def __init__(self, base: dict, changes: dict):
        self.base, self.changes = base, changes

    def __getitem__(self, name):
        found = self.changes.get(name, _ABSENT)
        return self.base[name] if found is _ABSENT else found

    def get(self, name, default=None):
        found = self.changes.get(name, _ABSENT)
        return self.base.get(name, default) if found is _ABSENT else found

    def __contains__(self, name) -> bool:
        return name in self.changes or name in self.base

    def __iter__(self):
        return iter({**self.base, **self.changes})

    def __len__(self) -> int:
        return len(self.base.keys() | self.changes.keys())

    def items(self):
        return {**self.base, **self.changes}.items()


_ABSENT = object()
_FLAT = 64  # changes kept on top of a base before they are folded into a new one


def _changed(env: Env, changes: dict) -> Env:
    """``env`` with ``changes`` (neither is changed)."""
    if isinstance(env, _Layered):
        base, changes = env.base, {**env.changes, **changes}
    else:
        base = env
    if len(changes) > _FLAT:
        return {**base, **changes}
    return _Layered(base, changes)


def _join(*envs) -> Env:
    joined = {}
    for env in envs:
        for name, defs in env.items():
            joined[name] = joined.get(name, frozenset()) | defs
    return joined


class _Reaching:
    """Reaching bindings: which binding of each name a statement may see, and where statements sit.

    Statements are numbered in the order :class:`_Scan` numbers them. A plain
    assignment (``y = ...``, ``a, b = ...``) or a loop target binds its names
    again and hides the earlier binding from what follows it; any other store
    (a walrus, a comprehension's variable, a statement not modelled) adds a
    binding without hiding any. Through a loop, every binding in its body may
    reach its head and what follows it (``break``/``continue`` included), and
    through an ``if`` both branches' bindings may: more than Python may see,
    never less, so an alias is never missed.
    """

    def __init__(self, fn: gast.FunctionDef):
        self.fn = fn
        self.before = {}  # position -> the Env just before the statement
        self.block_of = {}  # position -> the id of the block the statement is in
        self.parent = {0: None}  # block id -> (the block around it, the position of the statement that owns it)
        self.loop_of = {}  # block id -> the position of the innermost loop whose body holds it, or None
        self.kinds = {}  # position -> the statement's class
        self.statements = {}  # position -> the statement
        self.position = 0
        self._blocks = 0
        self.loop_of[0] = None
        self.block(fn.body, {}, 0)

    def new_block(self, parent: int, owner: int, loop) -> int:
        self._blocks += 1
        self.parent[self._blocks] = (parent, owner)
        self.loop_of[self._blocks] = loop
        return self._blocks

    def block(self, body, env: Env, block: int) -> Env:
        for stmt in body:
            self.position += 1
            here = self.position
            self.block_of[here], self.kinds[here], self.statements[here] = block, type(stmt), stmt
            loop = self.loop_of[block]
            if isinstance(stmt, gast.For | gast.While):
                env = self.loop(stmt, env, here, block)
            elif isinstance(stmt, gast.If):
                self.before[here] = env
                body_out = self.block(stmt.body, env, self.new_block(block, here, loop))
                env = _join(body_out, self.block(stmt.orelse, env, self.new_block(block, here, loop)))
            else:
                self.before[here] = env
                env = self.simple(stmt, env, here)
        return env

    def loop(self, stmt, env: Env, here: int, block: int) -> Env:
        targets = _names(stmt.target, stored=True) if isinstance(stmt, gast.For) else []
        body_block, else_block = self.new_block(block, here, here), self.new_block(block, here, self.loop_of[block])
        head = env
        while True:  # to a fixed point: the sets only grow
            self.position = here
            self.before[here] = env if isinstance(stmt, gast.For) else head  # a for's iter is read once
            inner = {**head, **{n: frozenset([here]) for n in targets}}
            out = self.block(stmt.body, inner, body_block)
            inside = [self.before[p] for p in range(here + 1, self.position + 1)]
            again = _join(env, inner, out, *inside)
            if again == head:
                break
            head = again
        after = self.block(stmt.orelse, head, else_block)
        return _join(head, after)

    def simple(self, stmt, env: Env, here: int) -> Env:
        bound = set()
        if isinstance(stmt, gast.Assign | gast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            bound = {n for t in targets for n in _names(t, stored=True)}
        added = {n.id for n in nodes(stmt) if isinstance(n, gast.Name) and not _is_load(n)} - bound
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            added.discard(stmt.target.id)  # x += e keeps x's array (a new number or tuple: aliasing is moot)
        changes = {name: frozenset([here]) for name in bound}
        for name in added:
            changes[name] = env.get(name, frozenset([0])) | {here}
        return _changed(env, changes)

    def defs(self, name: str, position: int) -> frozenset:
        """The bindings of ``name`` that may reach the statement at ``position`` (0: an argument or none)."""
        return self.before.get(position, {}).get(name, frozenset([0]))

    def dominates(self, first: int, then: int) -> bool:
        """Does the statement at ``first`` run before the one at ``then`` on every path, in the same trip of
        every loop around ``first``? (A block ``first`` is in holds ``then``, further on, or ``first`` is
        a ``for`` whose target each trip of its body sees.)"""
        if first == 0:
            return False
        block, position = self.block_of.get(then), then
        while block is not None:
            if block == self.block_of[first]:
                return first < position or first == position and self.kinds[first] is gast.For
            parent = self.parent[block]
            if parent is None:
                return False
            if parent[1] == first and self.kinds[first] is gast.For and block != self._else_of(first):
                return True  # the loop's own target, bound at the start of each trip
            block, position = parent
        return False

    def _else_of(self, loop: int):
        found = [b for b, parent in self.parent.items() if parent is not None and parent[1] == loop]
        return max(found) if len(found) > 1 else None

    def loop_around(self, position: int):
        """The position of the innermost loop whose body holds the statement at ``position``, or None."""
        return self.loop_of.get(self.block_of.get(position))


class _Scan:
    def __init__(self, reaching: _Reaching, resolve=None):
        self.reaching = reaching
        local = {n.id for n in nodes(reaching.fn) if isinstance(n, gast.Name) and not _is_load(n)}
        local |= {n.name for n in nodes(reaching.fn) if isinstance(n, gast.FunctionDef | gast.AsyncFunctionDef)}
        # call -> whether it may return (a view of) an argument, or of an array a local function closes over
        # y[idx] with one of these copies; None: no read copies, where fn may make an object array (o[[0, 1]] is a
        # new array holding the same objects, the arrays o holds)
        self.index_arrays = None if _makes_objects(reaching.fn) else index_arrays(reaching.fn)
        self.opaque = _opaque_calls(local, resolve, _closed_over(reaching.fn, self.index_arrays))
        self.containers = _containers(reaching)  # positions of bindings that may make a list, dict or object array
        self.position = 0
        self.edges = []  # (position, node, node, statement): the two may hold the same array
        self.reads = []  # (position, name, whether only its shape is read)
        self.updates = []  # (position, statement, the name updated, enclosing loop spans)
        self.fresh = {}  # position -> whether a binding there makes a new object (not a view or another name's)
        self.constants = set()  # the nodes bound to a constant: they hold no array
        self.augmented = {  # s = 0.0; s += x: s then holds a new array, under the same binding
            n.target.id for n in nodes(reaching.fn) if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name)
        }
        self.pops = {}  # position of ``z = s.pop()`` -> s
        self._facts = {}  # loop position -> _loop_facts
        self.appends = {}  # s -> the positions of ``s.append(item)``
        self.stacks = _stacks(reaching)  # the lists used only as stacks

    def block(self, body, loops):
        for stmt in body:
            self.position += 1
            here = self.position
            if isinstance(stmt, gast.For | gast.While):
                self.read(stmt.iter if isinstance(stmt, gast.For) else stmt.test)
                if isinstance(stmt, gast.For):
                    self.link([(n, here) for n in _names(stmt.target, stored=True)], stmt.iter, stmt)
                span = [here, here]
                self.block(stmt.body, loops + (span,))
                self.block(stmt.orelse, loops + (span,))
                span[1] = self.position
            elif isinstance(stmt, gast.If):
                self.read(stmt.test)
                self.block(stmt.body, loops)
                self.block(stmt.orelse, loops)
            else:
                self.simple(stmt, loops)

    def simple(self, stmt, loops):
        here = self.position
        for target in getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]:
            written = written_name(target)  # x[i] = v, x[i] += v: always in place
            if written is not None:
                self.updates.append((here, stmt, written, loops))
                if isinstance(stmt, gast.Assign) and self.containers & self.reaching.defs(written, here):
                    self.link(self.nodes(written, here), stmt.value, stmt)  # xs[0] = m: xs now holds m
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            self.read(stmt.value)
            self.updates.append((here, stmt, stmt.target.id, loops))
        elif isinstance(stmt, gast.Assign | gast.AnnAssign) and stmt.value is not None:
            self.read(stmt)
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            bound = [(n, here) for t in targets for n in _names(t, stored=True)]
            self.fresh[here] = not _held(stmt.value, self.opaque, self.index_arrays) and len(targets) == 1
            value = stmt.value
            if (
                len(bound) == 1
                and _is_method(value, "pop")
                and not value.args
                and isinstance(value.func.value, gast.Name)
            ):
                self.pops[here] = value.func.value.id  # z = s.pop()
            if isinstance(stmt.value, gast.Constant):  # None, a number, a string: no array to share
                self.constants |= {node for node in bound if node[0] not in self.augmented}
            self.link(bound, stmt.value, stmt)
            for a, b in zip(bound, bound[1:]):  # a = b = np.zeros(3): one array, two names
                self.edges.append((here, a, b, stmt))
        elif isinstance(stmt, gast.Expr) and at_target(stmt.value) is not None:
            self.read(stmt.value)  # np.add.at(a, index, v): a's array changes in place, as with a[index] += v
            self.updates.append((here, stmt, at_target(stmt.value), loops))
        elif isinstance(stmt, gast.Expr) and _is_method(stmt.value, "append", "extend", "insert"):
            self.read(stmt.value)
            owner = stmt.value.func.value
            owners = [node for n in _names(owner) for node in self.nodes(n, here)]
            for arg in stmt.value.args:
                self.link(owners, arg, stmt)
            if isinstance(owner, gast.Name):  # the list grows in place: every name of it sees the new item
                self.updates.append((here, stmt, owner.id, loops))
                if stmt.value.func.attr == "append" and len(stmt.value.args) == 1 and not stmt.value.keywords:
                    self.appends.setdefault(owner.id, []).append(here)
        else:
            self.read(stmt)

    def read(self, node):
        shapes = {id(n) for n in _shape_reads(node)}  # np.shape(m), m.shape, len(m)
        self.reads += [(self.position, n.id, id(n) in shapes) for n in gast.walk(node) if _is_load(n)]

    def link(self, targets, value, node):
        for source in _held(value, self.opaque, self.index_arrays):
            for source_node in self.nodes(source, self.position):
                for target in targets:
                    if target != source_node:
                        self.edges.append((self.position, target, source_node, node))

    def nodes(self, name: str, position: int) -> list:
        """``name`` as the statement at ``position`` may see it: one node per binding that may reach it."""
        return [(name, d) for d in sorted(self.reaching.defs(name, position))]

    def alias_read_after(self, var: str, position: int, loops, same_object=False):
        """A name holding ``var``'s array, made before ``position``, read after it; or None.

        ``same_object``: only names bound to the very object count (``ys = xs``
        sees ``xs.append(v)``; a list holding ``xs`` as an item does not).
        """
        for start in self.nodes(var, position):
            if start not in self.constants:  # None, a number: no array to write into
                found = self._read_after(start, position, loops, same_object)
                if found is not None:
                    return found
        return None

    def _read_after(self, start, position: int, loops, same_object: bool):
        """:meth:`alias_read_after` for the array of one binding ``start`` that may reach the update."""
        reaching = self.reaching
        rule = self._relevant_since(start, position)
        popped = self._popped_from_a_stack(start, position)
        edges = []
        for p, a, b, node in self.edges:
            if a in self.constants or b in self.constants:
                continue
            if popped is not None and popped[0] in (a[0], b[0]):  # the stack no longer holds it: its items
                continue
            kept = p < position or any(first <= p <= last for first, last in loops)
            if start in (a, b) and rule == "this trip":  # the array made at start[1] in this trip
                kept = start[1] < p < position or self._inner_around(p, start[1], loops)
            elif start in (a, b) and rule == "last trip" and self._before_in_loop(p, start[1]):
                kept = False  # an older array of that binding
            if kept:
                edges.append((p, a, b, node))
        if popped is not None:
            edges = self._with_earlier_trips(start, popped[1], edges)
        edges = [(a, b, node) for _, a, b, node in edges]
        if same_object:
            edges = [(a, b, node) for a, b, node in edges if isinstance(getattr(node, "value", None), gast.Name)]
        neighbours = {}
        for a, b, node in edges:
            neighbours.setdefault(a, []).append((b, node))
            neighbours.setdefault(b, []).append((a, node))
        reached, frontier, made = {start}, [start], {}
        while frontier:
            for other, node in neighbours.get(frontier.pop(), ()):
                if other not in reached:
                    reached.add(other)
                    made[other] = node
                    frontier.append(other)
        shaped = self._keeps_shapes(position)
        for p, n, shape_only in self.reads:
            if p == position or shape_only and shaped:  # the update's own operands are read before it
                continue
            seen = [node for node in self.nodes(n, p) if node in made]
            if p > position and seen:
                return n, made[seen[0]]
            loop = next((first for first, last in loops if first <= p <= last), None)
            if p < position and loop is not None:  # the next trip reads it, unless bound again in that trip first
                seen = [node for node in seen if not (self._in_loop(node[1], loop) and reaching.dominates(node[1], p))]
                if seen:
                    return n, made[seen[0]]
        return None

    def _with_earlier_trips(self, start, items, edges):
        """``edges`` where ``start`` holds an array an earlier trip of a loop made (one popped from a stack
        the loop filled): each name bound once per trip of that loop stands for two arrays, the last
        trip's (its name holds it after the loop) and an earlier trip's (``<an earlier x>``, which only
        the aliases made in its trip can hold). An alias made in the loop links the arrays of one trip,
        or, where one binding comes later in the body, an array of that trip to an earlier trip's."""
        (item, statement), loop = items[0], self.reaching.loop_around(items[0][0][1])
        every = {n for _, a, b, _ in edges for n in (a, b)} | {item}
        twins = {n for n in every if self._in_loop(n[1], loop) and self._top_level_once(n, loop)}

        def earlier(n):
            return (f"<an earlier {n[0]}>", n[1])

        def versions(n, p):
            if n not in twins:
                return [(None, n)]
            return [("last", n), ("earlier", earlier(n))] if n[1] <= p else [("earlier", earlier(n))]

        found = [(0, start, earlier(item), statement)]
        for p, a, b, node in edges:
            if not self._in_loop(p, loop):
                found.append((p, a, b, node))  # made after the loop: of the last trip's arrays
                continue
            for tag_a, va in versions(a, p):
                for tag_b, vb in versions(b, p):
                    this_trip = a in twins and b in twins and a[1] <= p and b[1] <= p
                    if not this_trip or tag_a == tag_b:
                        found.append((p, va, vb, node))
        return found

    def _top_level_once(self, node, loop: int) -> bool:
        return self.reaching.parent.get(self.reaching.block_of.get(node[1])) == (
            self.reaching.block_of[loop],
            loop,
        ) and self._once_per_trip(node[0], node[1], loop)

    def _popped_from_a_stack(self, start, position):
        """``(stack, [(item node, statement)])`` where ``start`` is ``z = s.pop()`` of a list ``s`` used only
        as a stack of distinct arrays (see :meth:`_stack_items`) to which nothing is appended once that
        pop has run: the array popped is then in the stack no more, and shares memory only with what the
        item appended shared it with. Else None."""
        name, made = start
        stack = self.pops.get(made)
        items = self._stack_items(stack) if stack is not None else None
        if items is None:
            return None
        for appended in self.appends[stack]:
            if appended > made or self._common_loop(appended, made):
                return None
        if not items or self.reaching.loop_around(self.reaching.loop_around(items[0][0][1])) is not None:
            return None  # no array appended, or filled by a loop inside another
        return stack, items

    def _stack_items(self, stack: str):
        """The nodes of the arrays appended to ``stack``, where ``stack`` is bound once, to ``[]``, read only
        by ``stack.append(item)`` and ``stack.pop()``, and holds distinct arrays that share no memory: each
        item appended is new (a call of no name's array) or, at most one statement, a name bound anew each
        trip of the loop around the append, after it (so each trip appends the last trip's array); else None."""
        if stack not in self.stacks:
            return None
        items, named = [], 0
        for appended in self.appends[stack]:
            arg = self.reaching.statements[appended].value.args[0]
            if not _held(arg, self.opaque, self.index_arrays):
                continue
            if not isinstance(arg, gast.Name):
                return None
            named += 1
            loop = self.reaching.loop_around(appended)
            nodes = [node for node in self.nodes(arg.id, appended) if node not in self.constants]
            if named > 1 or loop is None or len(nodes) != 1:
                return None
            (node,) = nodes
            if not (
                self.fresh.get(node[1])
                and self.reaching.loop_around(node[1]) == loop
                and node[1] > appended
                and self._once_per_trip(arg.id, node[1], loop)
            ):
                return None
            items.append((node, self.reaching.statements[appended]))
        return items

    def _common_loop(self, a: int, b: int) -> bool:
        loop = self.reaching.loop_around(a)
        while loop is not None:
            if self._in_loop(b, loop):
                return True
            loop = self.reaching.loop_around(loop)
        return False

    def _keeps_shapes(self, position: int) -> bool:
        """Is the update at ``position`` a write at an index (``x[i] = v``, ``x[i, j] += v``), which changes
        no array's shape and no list's length (a slice written may change a list's length, ``+=`` and
        ``append`` do)?"""
        stmt = self.reaching.statements.get(position)
        targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
        written = [t for t in targets if written_name(t) is not None]
        return bool(written) and not any(isinstance(n, gast.Slice) for t in written for n in gast.walk(t))

    def _relevant_since(self, start, position):
        """Which aliases of ``start`` (a binding of the updated name that may reach the update) can hold the
        array updated, where that binding makes a new array in a loop (each trip its own):

        * ``"this trip"``: the binding runs before the update in every trip of its loop, so the update
          changes the array made in this trip: only aliases made since then count;
        * ``"last trip"``: the update comes after the loop, and every trip binds the name once, anew, at
          the top level of the body, which has no ``break`` or ``continue``: the update changes the array
          of the last trip, so aliases made earlier in a trip (of the previous trip's array) do not count;
        * None: any alias counts.
        """
        name, made = start
        loop = self.reaching.loop_around(made)
        if not self.fresh.get(made) or loop is None:
            return None
        if self.reaching.dominates(made, position):
            return "this trip"
        if self._inside(position, loop) or not self._once_per_trip(name, made, loop):
            return None
        return "last trip"

    def _inside(self, position: int, loop: int) -> bool:
        """Is the statement at ``position`` in the body of the loop at ``loop``?"""
        return self._in_loop(position, loop)

    def _before_in_loop(self, p: int, made: int) -> bool:
        """Is ``p`` in the body of the loop around ``made``, before it (run, in a trip, before ``made`` is)?"""
        return p < made and self._in_loop(p, self.reaching.loop_around(made))

    def _once_per_trip(self, name: str, made: int, loop: int) -> bool:
        """Is ``made`` the only binding of ``name`` in the loop's body, at its top level, in a body with no
        ``break`` or ``continue`` of its own (so every trip that starts binds it, once)?"""
        body = self._loop_body(loop)
        if body is None:
            return False
        if self.reaching.parent.get(self.reaching.block_of[made]) != (self.reaching.block_of[loop], loop):
            return False  # not at the top level of the body
        jumps, stores = self._loop_facts(loop)
        return not jumps and stores.get(name) == 1

    def _loop_facts(self, loop: int):
        """Whether the loop's body has a ``break``/``continue`` of its own; how often it stores each name."""
        found = self._facts.get(loop)
        if found is None:
            body = self._loop_body(loop)
            jumps = any(isinstance(stmt, gast.Break | gast.Continue) for stmt in _own_statements(body))
            stores = {}
            for n in (n for stmt in body for n in gast.walk(stmt)):
                if isinstance(n, gast.Name) and not _is_load(n):
                    stores[n.id] = stores.get(n.id, 0) + 1
            found = self._facts[loop] = (jumps, stores)
        return found

    def _loop_body(self, loop: int):
        stmt = self.reaching.statements.get(loop)
        return stmt.body if isinstance(stmt, gast.For | gast.While) else None

    def _inner_around(self, p: int, made: int, loops) -> bool:
        """Is ``p`` in a loop around the update that the binding at ``made`` is outside of (its next trip
        writes the same array again)?"""
        return any(first <= p <= last and not first <= made <= last for first, last in loops)

    def _in_loop(self, binding: int, loop: int) -> bool:
        block = self.reaching.block_of.get(binding)
        while block is not None:
            parent = self.reaching.parent[block]
            if parent is None:
                return False
            if parent[1] == loop and self.reaching.loop_of.get(block) == loop:
                return True
            block = parent[0]
        return False


def _stacks(reaching: _Reaching) -> set:
    """Names bound once, to ``[]``, and read only as ``s.append(item)`` (a statement) or ``s.pop()``."""
    empty = set()
    for stmt in reaching.statements.values():  # each statement once
        single = isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)
        if single and isinstance(stmt.value, gast.List) and not stmt.value.elts:
            empty.add(stmt.targets[0].id)
    allowed, stores, loads = set(), {}, set()
    for n in nodes(reaching.fn):
        if isinstance(n, gast.Expr) and _is_method(n.value, "append") and isinstance(n.value.func.value, gast.Name):
            allowed.add(id(n.value.func.value))
        if _is_method(n, "pop") and not n.args and not n.keywords and isinstance(n.func.value, gast.Name):
            allowed.add(id(n.func.value))
    for n in nodes(reaching.fn):
        if isinstance(n, gast.Name) and _is_load(n) and id(n) not in allowed:
            loads.add(n.id)
        elif isinstance(n, gast.Name) and not _is_load(n):
            stores[n.id] = stores.get(n.id, 0) + 1
    return {name for name in empty if stores.get(name) == 1 and name not in loads}


SHAPE_FUNCTIONS = {"shape", "ndim", "size", "len"}
SHAPE_ATTRIBUTES = {"shape", "ndim", "size", "dtype"}


def _shape_reads(node):
    """The names ``node`` reads only for their shape: ``np.shape(m)``, ``len(m)``, ``m.shape``, ``m.ndim``."""
    for n in gast.walk(node):
        if isinstance(n, gast.Attribute) and n.attr in SHAPE_ATTRIBUTES and isinstance(n.value, gast.Name):
            yield n.value
        elif isinstance(n, gast.Call) and len(n.args) == 1 and not n.keywords and isinstance(n.args[0], gast.Name):
            func = n.func
            if (
                isinstance(func, gast.Name)
                and func.id == "len"
                or (
                    isinstance(func, gast.Attribute)
                    and func.attr in SHAPE_FUNCTIONS
                    and isinstance(func.value, gast.Name)
                    and func.value.id in ("np", "numpy")
                )
            ):
                yield n.args[0]


def _own_statements(body):
    """The statements of a loop body, into its branches but not into the loops inside it."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, gast.If | gast.Try | gast.With):
            for field in ("body", "orelse", "finalbody"):
                yield from _own_statements(getattr(stmt, field, None) or [])
            for handler in getattr(stmt, "handlers", None) or []:
                yield from _own_statements(handler.body)


_MUTATING_METHODS = ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault")


def parameter_updates(fn: gast.FunctionDef) -> dict:
    """``{id(statement): parameter}`` for each statement of ``fn`` that changes, in place, the object a
    parameter was called with: ``x[i] = v``, ``x += e``, ``xs.append(v)`` while ``x`` still holds it.

    For a function sct inlines into its caller these changes are the caller's too (the caller holds
    that object); sct's copy on write would keep them to the callee. ``x += e`` changes an array
    only (a number makes a new one), which the caller decides once the types are known.
    """
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    reaching = _Reaching(fn)
    found = {}
    for position, stmt in reaching.statements.items():
        if isinstance(stmt, gast.For | gast.While | gast.If):
            continue
        targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
        names = [written_name(t) for t in targets]
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            names.append(stmt.target.id)
        if isinstance(stmt, gast.Expr) and at_target(stmt.value) is not None:
            names.append(at_target(stmt.value))  # np.add.at(x, index, v)
        calls = [n for n in gast.walk(stmt) if _is_method(n, *_MUTATING_METHODS)]
        names += [c.func.value.id for c in calls if isinstance(c.func.value, gast.Name)]
        for name in names:
            if name in params and 0 in reaching.defs(name, position):
                found[id(stmt)] = name
                break
    return found


def at_target(node):
    """``a`` for the call ``np.add.at(a, index, v)`` (any ``<ufunc>.at(a, ...)``): the array it changes in place.

    Matched by its spelling, before names are resolved (reporting too much is safe here).
    """
    if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "at"):
        return None
    if not isinstance(node.func.value, gast.Attribute | gast.Name) or not node.args:
        return None
    first = node.args[0]
    return first.id if isinstance(first, gast.Name) else written_name(first)


def written_name(target):
    """``x`` for a target ``x[i]`` (or ``x[i][j]``, ``x.a[i]``): the array written into; else None."""
    if not isinstance(target, gast.Subscript):
        return None
    base = target.value
    while isinstance(base, gast.Subscript | gast.Attribute):
        base = base.value
    return base.id if isinstance(base, gast.Name) else None


def _held(value, opaque=None, index_arrays=frozenset()) -> list[str]:
    """The names whose arrays ``value`` may be (or view, or hold in a container).

    ``opaque(call)``: the arguments a call may return (or a view of one, or a container holding
    one); the calls of NumPy's views are such calls anyway. ``index_arrays``: names that hold
    index arrays (:func:`index_arrays`): ``y[idx]`` with one of them makes a new array.
    """
    if isinstance(value, gast.Name):
        return [value.id]
    if isinstance(value, gast.Subscript) and _fancy(value.slice, index_arrays):
        return []  # y[[0, 2]], y[idx]: NumPy's advanced indexing copies
    if isinstance(value, gast.Subscript | gast.Starred):
        return _held(value.value, opaque, index_arrays)
    if isinstance(value, gast.Attribute) and value.attr in VIEW_ATTRIBUTES:
        return _held(value.value, opaque, index_arrays)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr in VIEWS:
        receiver = value.func.value
        held = (
            []
            if isinstance(receiver, gast.Name) and receiver.id in ("np", "numpy")
            else _held(receiver, opaque, index_arrays)
        )
        return held + [n for a in value.args[:1] for n in _held(a, opaque, index_arrays)]
    if isinstance(value, gast.List | gast.Tuple | gast.Set):
        return [n for e in value.elts for n in _held(e, opaque, index_arrays)]
    if isinstance(value, gast.Dict):
        return [n for e in value.values for n in _held(e, opaque, index_arrays)]
    if isinstance(value, gast.IfExp):
        return _held(value.body, opaque, index_arrays) + _held(value.orelse, opaque, index_arrays)
    if isinstance(value, gast.ListComp | gast.SetComp | gast.GeneratorExp | gast.DictComp):
        return _comprehension_held(value, opaque, index_arrays)
    if _is_method(value, "pop", "get", "setdefault", "values", "items"):  # items of the list or dict, as xs[i] is
        return _held(value.func.value, opaque, index_arrays)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id in ("enumerate", "zip"):
        return [n for a in value.args for n in _held(a, opaque, index_arrays)]
    if isinstance(value, gast.Call) and opaque is not None:
        return [n for a in opaque(value) for n in _held(a, opaque, index_arrays)]
    return []


def _comprehension_held(value, opaque, index_arrays) -> list[str]:
    """:func:`_held` of ``[e for v in vs]`` (a set, dict or generator alike): each item may be (a view of) a
    name ``e`` holds, and where ``e`` holds a loop variable, an item of what that loop runs over
    (``[m[k] for k in range(2)]`` holds rows of ``m``, ``[r for r in rows]`` the items of ``rows``)."""
    parts = [value.key, value.value] if isinstance(value, gast.DictComp) else [value.elt]
    targets = {n for g in value.generators for n in _names(g.target, stored=True)}
    held = [n for part in parts for n in _held(part, opaque, index_arrays)]
    found = [n for n in held if n not in targets]
    if len(found) < len(held):
        found += [n for g in value.generators for n in _held(g.iter, opaque, index_arrays)]
    return found


def _closed_over(fn, index_arrays=frozenset()) -> list:
    """The names the lambdas and nested ``def``s of ``fn`` read and do not bind themselves, as ``Name`` loads:
    a call of a local function may return (a view of) any of them (``g = lambda k: m[k]``; ``g(1)`` is a row
    of ``m``)."""
    found = {}
    for node in _every_node(fn):
        if node is not fn and isinstance(node, gast.Lambda | gast.FunctionDef | gast.AsyncFunctionDef):
            inner = list(_every_node(node))
            own = {n.id for n in inner if isinstance(n, gast.Name) and not _is_load(n)}
            if isinstance(node, gast.Lambda):  # one expression: what it may return (lambda: m[[0, 1]] a copy)
                held = _held(node.body, lambda call: _names(call), index_arrays)
                inner = [gast.Name(id=n, ctx=gast.Load()) for n in held]
            for n in inner:
                if _is_load(n) and n.id not in own:
                    found.setdefault(n.id, gast.Name(id=n.id, ctx=gast.Load(), annotation=None, type_comment=None))
    return [found[name] for name in sorted(found)]


_CONTAINER_CALLS = {"list", "dict", "tuple", "set"}


def _containers(reaching) -> frozenset:
    """The positions of the statements that may bind a name to a list, dict or object array (a display, a
    comprehension, ``list(...)``, a call with ``dtype=object``), whose items an item write ``xs[i] = m`` makes
    hold ``m`` itself (into an array of numbers it copies), and 0, a parameter or an unbound name."""
    found = {0}
    for position, stmt in reaching.statements.items():
        value = getattr(stmt, "value", None)
        if isinstance(stmt, gast.Assign | gast.AnnAssign) and value is not None:
            container = isinstance(value, gast.List | gast.Tuple | gast.Dict | gast.ListComp | gast.DictComp)
            called = isinstance(value, gast.Call) and isinstance(value.func, gast.Name)
            if container or called and value.func.id in _CONTAINER_CALLS or _makes_objects(value):
                found.add(position)
        elif not isinstance(stmt, gast.Assign | gast.AnnAssign):
            found.add(position)  # a loop target, a walrus, a statement not modelled: may be anything
    return frozenset(found)


def _makes_objects(node) -> bool:
    """Whether ``node`` holds a ``dtype=object`` (``"O"``, ``np.object_``) or ``.astype(object)``."""
    for n in nodes(node):
        values = [k.value for k in n.keywords if k.arg == "dtype"] if isinstance(n, gast.Call) else []
        if _is_method(n, "astype") and n.args:
            values.append(n.args[0])
        for v in values:
            if isinstance(v, gast.Name) and v.id == "object" or isinstance(v, gast.Attribute) and v.attr == "object_":
                return True
            if isinstance(v, gast.Constant) and isinstance(v.value, str) and v.value.lstrip("|=<>").startswith("O"):
                return True
    return False


def _every_node(fn):
    """:func:`nodes` of ``fn``, and of the bodies of its local ``def``s, which the parse hides in
    :class:`LocalDef` values (``h = LocalDef(def h...)``)."""
    pending = [fn]
    while pending:
        for node in nodes(pending.pop()):
            yield node
            if isinstance(node, LocalDef):
                pending.append(node.node)


def index_arrays(fn) -> frozenset:
    """The names ``fn`` binds only to index arrays: a list display, ``np.array([...])``/``np.asarray((...))``
    of a display, ``np.arange(...)``. Indexing an array with one is NumPy's advanced indexing, which copies;
    indexing a list or a dict with one is a TypeError. Not a 0-d array (``np.array(1)`` indexes as an int)
    and not a comparison: ``x > 0`` of a number is a bool, and ``pair[x > 0]`` an item of a list, not a copy.

    Each such binding must be in ``fn``'s own scope (a name bound only in a nested ``def`` is a global in
    ``fn``), and any other binding of the name anywhere in ``fn`` (a parameter, a loop target, ``x += ...``,
    ``del``, a nested scope's, a ``global`` or ``nonlocal``) rules it out."""
    made = {}  # id of a Name bound to an index array in fn's own scope -> its name
    pending = list(fn.body)
    while pending:
        node = pending.pop()
        if isinstance(node, gast.FunctionDef | gast.AsyncFunctionDef | gast.ClassDef | gast.Lambda):
            continue  # another scope: its bindings are ruled out below
        single = isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name)
        if single and _fancy(node.value, frozenset()):
            made[id(node.targets[0])] = node.targets[0].id
        pending.extend(gast.iter_child_nodes(node))
    every = list(_every_node(fn))  # with the bodies of local defs, hidden in LocalDef values by the parse
    other = {n.id for n in every if isinstance(n, gast.Name) and not _is_load(n) and id(n) not in made}
    other |= {name for n in every if isinstance(n, gast.Global | gast.Nonlocal) for name in n.names}
    other |= {n.name for n in every if isinstance(n, gast.FunctionDef | gast.AsyncFunctionDef | gast.ClassDef)}
    return frozenset(set(made.values()) - other)


_INDEX_MAKERS = {"array", "asarray", "arange"}


def _fancy(index, index_arrays) -> bool:
    """Whether ``index`` makes ``y[index]`` NumPy's advanced indexing (a copy, never a view). Never where
    ``index_arrays`` is None (the function may make an object array, whose copy holds the same arrays)."""
    if index_arrays is None:
        return False
    if isinstance(index, gast.List):  # a list, or a dict, indexed by a list: a TypeError, never an item
        return True
    if isinstance(index, gast.Name):
        return index.id in index_arrays
    if isinstance(index, gast.Tuple):
        return any(_fancy(e, index_arrays) for e in index.elts)
    if isinstance(index, gast.Call) and isinstance(index.func, gast.Attribute) and index.func.attr in _INDEX_MAKERS:
        module = index.func.value
        if not (isinstance(module, gast.Name) and module.id in ("np", "numpy")):
            return False
        if index.func.attr == "arange":
            return True
        return bool(index.args) and isinstance(index.args[0], gast.List | gast.Tuple) and bool(index.args[0].elts)
    return False


# Builtins whose result shares no memory with their arguments (list(), sorted(), min() may: an item).
_FRESH_BUILTINS = {"float", "int", "len", "abs", "range", "round", "bool", "complex", "print", "isinstance", "str"}
_FRESH_HELPERS = {"zeros_like", "fresh_copy", "added_at", "subtracted_at"}  # sct's helpers that make a new array
_FIRST_ONLY = {  # sct's helpers that may return their first argument, never another (the rest: shapes, types)
    "unbroadcast",
    "grad_like",
    "like",
    "tangent_like",
    "cotangent_like",
    "primal_like",
    "join_split",
    "join_merge",
    "join_part",
}


def _opaque_calls(local: set, resolve, closed=()):
    """``opaque(call)`` for :func:`_held`: the arguments the call may return (or a view of, or a holder of).

    A NumPy function does only where it is a view (``VIEWS``, ``np.flip``, ``np.split``...); ``math``
    and a few builtins never; sct's helpers but ``zeros_like`` and ``fresh_copy`` may (``unbroadcast``
    returns its argument where no axis is summed); a user function, a local function value or a name
    that cannot be resolved may, and a local function (a lambda or nested ``def``) may also return what
    it closes over: ``closed``, the names those read.
    """

    def opaque(call) -> list:
        """The arguments the call may return (or a view of, or a holder of)."""
        every = [*call.args, *(k.value for k in call.keywords)]
        func = call.func
        if isinstance(func, gast.Name) and func.id in local or not isinstance(func, gast.Name | gast.Attribute):
            return every + list(closed)  # a local function (g(), fs[0]()): it may return what it closes over
        if may(call) is False:
            return []
        if may(call) == "object":
            return [func.value, *every]  # its receiver's state, or an argument
        return call.args[:1] if may(call) == "first" else every

    def may(call):
        func = call.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id not in local:
            module = _resolved(func.value.id, resolve)
            name = getattr(module, "__name__", "") if resolve is not None else {"np": "numpy"}.get(func.value.id, "")
            name = name or (func.value.id if resolve is None and func.value.id in ("numpy", "math") else name)
            if name in ("numpy", "math") or name.startswith("numpy."):
                return func.attr in VIEWS or func.attr in MORE_VIEWS
            return module is None or not isinstance(module, type(np))  # an object's method: who knows
        if not isinstance(func, gast.Name):  # a method of a local value: of an array, as before (VIEWS); of
            copy = func.attr == "astype" and any(k.arg == "copy" for k in call.keywords)
            return (copy or func.attr not in _ARRAY_METHODS) and "object"  # another object (p.pick(m)): who knows
        if func.id in local:
            return True  # a function held in a variable
        target = _resolved(func.id, resolve)
        if target is None:
            return True
        module = getattr(target, "__module__", None) or ""
        if module == "builtins" or getattr(builtins, func.id, None) is target:
            return func.id not in _FRESH_BUILTINS
        if module.startswith("numpy") or isinstance(target, np.ufunc):
            return getattr(target, "__name__", "") in VIEWS | MORE_VIEWS
        if module == "math":
            return False
        if module.startswith("sct"):
            name = getattr(target, "__name__", "")
            return False if name in _FRESH_HELPERS else "first" if name in _FIRST_ONLY else True
        return True

    return opaque


def _resolved(name: str, resolve):
    if resolve is None:
        return None
    try:
        return resolve(name)
    except (KeyError, AttributeError):
        return None


MORE_VIEWS = {  # NumPy functions that may return a view of (or their) argument, besides VIEWS
    "flip",
    "fliplr",
    "flipud",
    "rot90",
    "split",
    "array_split",
    "hsplit",
    "vsplit",
    "dsplit",
    "unstack",
    "ascontiguousarray",
    "asfortranarray",
    "require",
    "permute_dims",
    "matrix_transpose",
    "broadcast_arrays",
    "diag",
    "real_if_close",
}

# ndarray methods that return a new array or a number (views are in VIEWS, MORE_VIEWS; dunders may be anything)
# (x.conj() of a real array is x itself; x.astype(t, copy=False) may be)
_ARRAY_METHODS = {m for m in dir(np.ndarray) if m[0] != "_"} - VIEWS - MORE_VIEWS - {"getfield", "conj", "conjugate"}


def _names(node, stored: bool = False) -> list[str]:
    return [n.id for n in gast.walk(node) if isinstance(n, gast.Name) and (not stored or not _is_load(n))]


def _is_load(node) -> bool:
    return isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load)


def _is_method(node, *methods) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr in methods


SYMBOLS = {
    gast.Add: "+",
    gast.Sub: "-",
    gast.Mult: "*",
    gast.Div: "/",
    gast.FloorDiv: "//",
    gast.Mod: "%",
    gast.Pow: "**",
    gast.MatMult: "@",
}


def describe(stmt, other: str, line) -> str:
    """What is wrong with ``x op= e`` (or ``x[i] = e``) when ``other`` holds x's array, and what to write instead."""
    made = f" (line {line})" if line else ""
    targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
    written = next((w for w in map(written_name, targets) if w is not None), None)
    if written is not None:
        return (
            f"this writes into the array `{written}`, and `{other}`{made} holds the same array or a view of it, so "
            f"NumPy changes `{other}` too; sct cannot differentiate a write seen through two names (the gradient "
            f"would be wrong): write into a copy (`{written} = {written}.copy()` first) if `{other}` should keep "
            f"the old values, or compute `{other}` after the write"
        )
    if isinstance(stmt, gast.Expr) and at_target(stmt.value) is not None:
        a, spelled = at_target(stmt.value), spelled_call(stmt.value.func)
        return (
            f"`{spelled}({a}, ...)` changes the array `{a}` in place, and `{other}`{made} holds the same array or a "
            f"view of it, so NumPy changes `{other}` too; sct cannot differentiate a change seen through two names "
            f"(the gradient would be wrong): work on a copy (`{a} = {a}.copy()` first) if `{other}` should keep the "
            f"old values, or compute `{other}` after the update"
        )
    if isinstance(stmt, gast.Expr):  # xs.append(v)
        method, xs = stmt.value.func.attr, stmt.value.func.value.id
        return (
            f"`{xs}.{method}(...)` changes the list `{xs}` in place, and `{other}`{made} holds the same list, so "
            f"Python changes `{other}` too, but sct builds a new list; build `{other}` after the update, or "
            f"copy first (`{xs} = list({xs})`) if `{other}` should keep the old items"
        )
    x, op = stmt.target.id, SYMBOLS.get(type(stmt.op), "+")
    return (
        f"`{x} {op}= ...` changes the array `{x}` in place, and `{other}`{made} holds the same array or a view "
        f"of it, so NumPy changes `{other}` too, but sct computes `{x} = {x} {op} ...`, a new array; write "
        f"`{x} = {x} {op} ...` if `{other}` should keep the old values, or compute `{other}` again after the update"
    )


def spelled_call(func) -> str:
    """``np.add.at`` for the callee as written."""
    if isinstance(func, gast.Attribute):
        return f"{spelled_call(func.value)}.{func.attr}"
    return func.id if isinstance(func, gast.Name) else "..."


def surely_scalars(ir, ranks: dict, maybe_arrays: set) -> set:
    """IR variables whose object, as Python runs the function, is a number and not an array.

    Follows copies (``y = x``) and updates (``x += e`` keeps x's object) back to
    where the object was made: by arithmetic, a ufunc or ``math`` (of rank 0, a
    number even for 0-d arrays), or a constant. A parameter in ``maybe_arrays``
    (a 0-d array passes as a scalar), or anything else, may be an array.
    """
    made = {s.target: s for s in walk(ir.body) if isinstance(s, Assign)}
    found = set()
    for var, rank in ranks.items():
        source, seen = var, set()
        while source not in seen:
            seen.add(source)
            if source in ir.augmented:
                source = ir.augmented[source]
            elif source in made and isinstance(made[source].value, gast.Name):
                source = made[source].value.id
            else:
                break
        stmt = made.get(source)
        number = stmt is not None and (isinstance(stmt.value, gast.Constant) or _computes(stmt.prim, stmt.value))
        if rank == 0 and (number or source in ir.params and source not in maybe_arrays):
            found.add(var)
    return found


def _computes(prim, value) -> bool:
    """Does ``prim`` compute a new value (an operator, a ufunc, a ``math`` function, an element)?"""
    if isinstance(value, gast.Subscript):  # x[0] of a vector is a number; x[...] of a 0-d array a view
        return not any(isinstance(n, gast.Constant) and n.value is Ellipsis for n in gast.walk(value.slice))
    try:
        operator = prim in OPERATORS
    except TypeError:  # unhashable
        operator = False
    return operator or isinstance(prim, np.ufunc) or getattr(prim, "__module__", None) == "math"
