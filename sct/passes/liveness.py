"""Adjoint liveness: release each value where the generated code stops reading it.

Without this pass a generated gradient holds every forward intermediate and
every adjoint until it returns; hand-written backprop lets each one go at its
last use. Run on the generated function after the optimiser, the pass finds
where each local is read for the last time (a backward liveness analysis over
``if``, ``for`` and ``while``, with ``break`` and ``continue``) and writes one
line there:

>>> print(demo('''
... def grad_f(x, w, delta_out=1.0):
...     a = x * w
...     b = np.sin(a)
...     out = np.sum(b)
...     delta_b = np.full_like(b, delta_out)
...     delta_a = delta_b * np.cos(a)
...     delta_w = delta_a * x
...     return (out, delta_w)
... '''))
def grad_f(x, w, delta_out=1.0):
    a = x * w
    b = np.sin(a)
    out = np.sum(b)
    delta_b = np.full_like(b, delta_out)
    del b  # not read again
    delta_a = delta_b * np.cos(a)
    del a, delta_b  # not read again
    delta_w = delta_a * x
    return (out, delta_w)

A ``del`` is written only where the name is surely bound: right after a
statement that reads or assigns it, or where a must-bound analysis shows every
path bound it. It is never written for a parameter (the caller holds it), a
name a nested function or lambda reads (a closure keeps it), a ``global`` or
``nonlocal`` name, a name known to hold a scalar (``small``: releasing it buys
nothing), nor inside a loop for a name that may be bound when the loop starts
or is read on a later trip. A function with a statement the analysis does not
model (``try``, ``with``, ...) is left as it is.
"""

from __future__ import annotations

import gast

from ..backend.codegen import RELEASED, child_fields, is_comment, name, nodes, unparse
from ..reverse.records import is_unbroadcast

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
_SIMPLE = (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Expr, gast.Pass)
_LEAVES = (gast.Return, gast.Raise)  # the function is left: its locals go with it
_DECLARATIONS = (gast.Global, gast.Nonlocal)


class _GiveUp(Exception):
    """A construct the analysis does not model: leave the function as it is."""


def release(fn: gast.FunctionDef, small=frozenset(), arrays=frozenset()) -> bool:
    """Add ``del`` lines to ``fn`` (and to the functions it defines) where values die; whether it changed.

    ``arrays``: names known to hold arrays (rank >= 1); where the reverse sweep reads one
    only for its shape (``unbroadcast(delta_b, a)``), its shape is taken once it is last
    read for its values, and the array released then (see :func:`record_shapes`).
    """
    walks = _Walks()
    try:
        _check(fn.body, in_loop=False, walks=walks)
    except _GiveUp:
        return False
    facts = _Facts(fn, walks)
    records = record_shapes(fn, arrays, facts)
    facts.locals |= records
    facts.small |= records
    return _Release(fn, small, facts).run() or bool(records)


class _Summary:
    """One walk of a statement: its ``Name`` nodes and its ``unbroadcast(g, x)`` calls; and, where the statement
    is *plain* (a simple statement holding no nested scope, comprehension, conditional expression or walrus),
    the names it reads (surely: every one it reads), binds and deletes, which are then those names' contexts.
    """

    __slots__ = ("stmt", "names", "calls", "plain", "walrus", "loads", "stores", "deleted")

    def __init__(self, stmt):
        self.stmt = stmt
        names, calls, walrus = [], [], False
        self.names, self.calls = names, calls
        plain = isinstance(stmt, _PLAIN)
        pending, kinds, node_type = [stmt], _KINDS, gast.AST
        pop, push = pending.pop, pending.append
        while pending:  # codegen.nodes, written out: this walk is most of the pass
            node = pop()
            kind = type(node)
            if kind is gast.Name:
                names.append(node)
                if node.annotation is not None:
                    push(node.annotation)
                continue
            found = kinds.get(kind)
            if found is None:
                found = _kind(kind)
            fields, role = found
            if role:
                if role == _CALL:
                    if _is_unbroadcast(node):
                        calls.append(node)
                else:
                    plain = False
                    walrus = walrus or kind is gast.NamedExpr
            for attr in fields:
                value = getattr(node, attr, None)
                if type(value) is list:
                    for v in value:
                        if isinstance(v, node_type):
                            push(v)
                elif isinstance(value, node_type):
                    push(value)
        self.walrus = walrus
        self.plain = plain
        if plain:
            loads, stores, deleted = [], [], []
            by_context = {gast.Load: loads, gast.Store: stores, gast.Del: deleted}
            for n in names:
                found = by_context.get(type(n.ctx))
                if found is not None:
                    found.append(n.id)
            self.loads, self.stores, self.deleted = frozenset(loads), frozenset(stores), frozenset(deleted)


_CALL, _NOT_PLAIN_ROLE = 1, 2
_KINDS: dict = {gast.Constant: ((), 0)}  # node type -> (its fields that may hold nodes, its role in a summary)


def _kind(kind) -> tuple:
    """What :class:`_Summary` needs of a node type: its fields, and whether it is a call or not plain."""
    role = _CALL if kind is gast.Call else _NOT_PLAIN_ROLE if issubclass(kind, _NOT_PLAIN) else 0
    _KINDS[kind] = (child_fields(kind), role)
    return _KINDS[kind]


_PLAIN = (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Expr, gast.Pass, gast.Return, gast.Raise, gast.Delete)
_NOT_PLAIN = _SCOPES + _COMPREHENSIONS + _DECLARATIONS + (gast.IfExp, gast.BoolOp, gast.NamedExpr)


class _Walks:
    """Each statement walked once (:class:`_Summary`), for every analysis of the pass to read.

    A summary is of the statement as it was walked: a pass that changes a statement forgets its summary.
    What a plain statement reads and binds comes from its summary; any other's from a walk, as before.
    """

    def __init__(self):
        self.found = {}  # id(statement) -> its summary (the statement kept in it: an id may be reused)

    def of(self, stmt) -> _Summary:
        found = self.found.get(id(stmt))
        if found is None or found.stmt is not stmt:
            found = self.found[id(stmt)] = _Summary(stmt)
        return found

    def forget(self, stmt) -> None:
        self.found.pop(id(stmt), None)

    def loads(self, stmt) -> set:
        """:func:`_loads` of a statement."""
        found = self.of(stmt)
        return set(found.loads) if found.plain else _loads(stmt)

    def sure_loads(self, stmt) -> set:
        """:func:`_sure_loads` of a statement (of a plain one: every name it reads)."""
        found = self.of(stmt)
        return set(found.loads) if found.plain else _sure_loads(stmt)

    def stored(self, stmt):
        """:meth:`stores`, not to be changed: a plain statement's is its summary's own set."""
        found = self.of(stmt)
        return found.stores if found.plain else _stores(stmt)

    def stores(self, stmt) -> set:
        """:func:`_stores` of a statement (of a plain one: the names in a store context are its targets')."""
        found = self.of(stmt)
        return set(found.stores) if found.plain else _stores(stmt)


class _Facts:
    """What one walk of a function tells: the names it binds, the names its closures read, its small names."""

    def __init__(self, fn, walks=None):
        self.walks = walks or _Walks()
        self.locals = _locals(fn.body, self.walks)
        self.captured = _captured(fn.body, self.walks)
        self.small = _small(fn.body, self.walks)


def record_shapes(fn: gast.FunctionDef, arrays, facts=None) -> set:
    """``a_shape = np.shape(a)`` after the last statement that reads ``a``'s values, and
    ``unbroadcast(g, a_shape)`` for the later reads of its shape alone: the array can go.

    Only for a name of ``arrays`` bound once, by arithmetic or a NumPy call (not a shape: a tuple
    given to ``unbroadcast`` is a shape itself) in the function's own body, and not read by a
    nested function. ``unbroadcast(g, x)`` gives the same for an array ``x``
    of rank >= 1 as for its shape (:func:`sct.runtime.unbroadcast`).
    """
    body = fn.body
    facts = facts or _Facts(fn)
    walks = facts.walks
    summaries = [walks.of(stmt) for stmt in body]
    shaped = {call.args[1].id for summary in summaries for call in summary.calls}  # read for their shapes
    params = {a.id for a in fn.args.args}
    shapes = facts.small  # a shape tuple is read as a shape by ``unbroadcast``: never take its shape
    wanted = (shaped & set(arrays)) - facts.captured - params - shapes  # only these can get a record
    if not wanted:
        return set()
    binds, reads, defined = {}, {}, {}  # name -> count; name -> [(index in body, Name node, shape only)]
    for k, summary in enumerate(summaries):
        calls, shape_args = summary.calls, ()
        if calls:
            for call in calls:  # their shape reads
                if call.args[1].id in wanted:
                    reads.setdefault(call.args[1].id, []).append((k, call, True))
            shape_args = {id(call.args[1]) for call in calls}
        stmt = body[k]
        for node in summary.names:
            if node.id not in wanted or id(node) in shape_args:
                continue
            if isinstance(node.ctx, gast.Load):
                reads.setdefault(node.id, []).append((k, node, False))
            else:
                binds[node.id] = binds.get(node.id, 0) + 1
                if isinstance(stmt, gast.Assign) and node in stmt.targets:
                    defined[node.id] = k
    taken = None  # the names the function holds: a record's name is none of them
    records = []  # (index to insert after, record name, var)
    for var in sorted(wanted & set(defined)):
        if not _makes_array(body[defined[var]].value):
            continue
        uses = reads.get(var, [])
        if binds[var] != 1 or not any(shape for _, _, shape in uses):
            continue
        last = max([defined[var]] + [k for k, _, shape in uses if not shape])
        if any(k <= last for k, _, shape in uses if shape):
            continue
        if taken is None:  # as the summaries were before any record
            loaded = {n.id for summary in summaries for n in summary.names if isinstance(n.ctx, gast.Load)}
            taken = facts.locals | params | loaded | shaped
        record = _fresh(f"{var}_shape", taken)
        for k, call, shape in uses:
            if shape:  # a new node: a tree may share one Name object between places
                call.args[1] = name(record)
                walks.forget(body[k])  # it reads another name now
        records.append((last, record, var))
    for last, record, var in sorted(records, reverse=True):
        shape = gast.Call(
            func=gast.Attribute(value=name("np"), attr="shape", ctx=gast.Load()), args=[name(var)], keywords=[]
        )
        body.insert(last + 1, gast.Assign(targets=[name(record, store=True)], value=shape, type_comment=None))
    return {record for _, record, _ in records}


def _makes_array(value) -> bool:
    """Arithmetic, or a NumPy function other than the ones that give shapes and sizes: with a rank
    of at least 1 (the caller's knowledge), an array and not a tuple (``t + (1,)`` is small and excluded)."""
    if isinstance(value, gast.BinOp | gast.UnaryOp):
        return True
    func = value.func if isinstance(value, gast.Call) else None
    return (
        isinstance(func, gast.Attribute)
        and getattr(func.value, "id", None) == "np"
        and func.attr not in _SIZES | {"broadcast_shapes"}
    )


def _is_unbroadcast(node) -> bool:
    """``unbroadcast(g, x)`` of a name ``x``, called plainly (the records' predicate, narrowed)."""
    return is_unbroadcast(node) and not node.keywords and isinstance(node.args[1], gast.Name)


def _fresh(base: str, taken: set) -> str:
    found, i = base, 0
    while found in taken:
        i += 1
        found = f"{base}_{i}"
    taken.add(found)
    return found


def strip(fn: gast.FunctionDef) -> gast.FunctionDef:
    """``fn`` as it was before this pass: generated code differentiated again.

    The frontend refuses ``del``; and the analysis gives ``unbroadcast(g, x)`` the rank of
    ``x``, which for a recorded shape is not the array's: ``unbroadcast(g, a_shape)`` becomes
    ``unbroadcast(g, a)`` again where ``a_shape = np.shape(a)`` is the record's one binding.
    """
    for node in nodes(fn):
        for attr in ("body", "orelse"):
            block = getattr(node, attr, None)
            if isinstance(block, list) and any(isinstance(stmt, gast.Delete) for stmt in block):
                block[:] = [stmt for stmt in block if not isinstance(stmt, gast.Delete)] or [gast.Pass()]
    _unrecord(fn)
    return fn


def _unrecord(fn: gast.FunctionDef) -> None:
    binds, shape_reads, other_reads = {}, {}, set()
    for node in nodes(fn):
        if _is_unbroadcast(node):
            shape_reads.setdefault(node.args[1].id, []).append(node)
    shape_args = {id(call.args[1]) for calls in shape_reads.values() for call in calls}
    for node in nodes(fn):
        if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load):
            binds[node.id] = binds.get(node.id, 0) + 1
        elif isinstance(node, gast.Name) and id(node) not in shape_args:
            other_reads.add(node.id)
    records = {}
    for k, stmt in enumerate(fn.body):
        single = isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)
        target = stmt.targets[0].id if single else None
        value = stmt.value if single else None
        if (
            isinstance(value, gast.Call)
            and isinstance(value.func, gast.Attribute)
            and getattr(value.func.value, "id", None) == "np"
            and value.func.attr == "shape"
            and len(value.args) == 1
            and isinstance(value.args[0], gast.Name)
            and binds.get(target) == 1
            and binds.get(value.args[0].id) == 1
            and target not in other_reads
        ):
            records[target] = (k, value.args[0].id)
    for record, (_, var) in records.items():
        for call in shape_reads.get(record, ()):
            call.args[1] = name(var)
    dropped = {k for k, _ in records.values()}
    fn.body[:] = [stmt for k, stmt in enumerate(fn.body) if k not in dropped]


def demo(source: str) -> str:
    """Release the values of a snippet's function and return its source (for doctests)."""
    fn = gast.parse(source).body[0]
    release(fn)
    return unparse(fn)


# ---- what a statement reads and writes ----------------------------------------------
def _loads(node) -> set:
    """Every name read anywhere under ``node``, nested scopes included (more than is read is safe)."""
    return {n.id for n in nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _sure_loads(node, found=None) -> set:
    """The names ``node`` surely reads when it runs: not those only some paths read
    (``b`` in ``a if c else b``, ``a and b``), nor a lambda's or a comprehension's own."""
    found = set() if found is None else found
    if isinstance(node, gast.Name):
        if isinstance(node.ctx, gast.Load):
            found.add(node.id)
    elif isinstance(node, _SCOPES):
        pass
    elif isinstance(node, gast.IfExp):
        _sure_loads(node.test, found)
    elif isinstance(node, gast.BoolOp):
        _sure_loads(node.values[0], found)
    elif isinstance(node, _COMPREHENSIONS):
        _sure_loads(node.generators[0].iter, found)
    elif isinstance(node, gast.AST):
        for attr in child_fields(type(node)):
            value = getattr(node, attr, None)
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, gast.AST):
                    _sure_loads(item, found)
    return found


def _stores(stmt) -> set:
    """The names a statement binds (a subscript or attribute target binds none)."""
    if isinstance(stmt, gast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, gast.AugAssign | gast.AnnAssign | gast.For):
        targets = [stmt.target]
    elif isinstance(stmt, gast.FunctionDef):
        return {stmt.name}
    else:
        return set()
    return {n.id for t in targets for n in nodes(t) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _deleted(stmt) -> set:
    return {t.id for t in stmt.targets if isinstance(t, gast.Name)} if isinstance(stmt, gast.Delete) else set()


def _stored_anywhere(stmts) -> set:
    found = set()
    for stmt in stmts:
        for node in nodes(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store | gast.Del):
                found.add(node.id)
    return found


_CHECKED = _SIMPLE + _LEAVES + _DECLARATIONS + (gast.Delete,)  # the simple statements the analysis models
_JUMPS = _LEAVES + (gast.Break, gast.Continue)  # nothing after them is reached


def _check(stmts, in_loop: bool, walks=None) -> None:
    """Raise :class:`_GiveUp` on anything the analysis does not model."""
    for stmt in stmts:
        if isinstance(stmt, gast.If):
            _check(stmt.body, in_loop, walks)
            _check(stmt.orelse, in_loop, walks)
        elif isinstance(stmt, gast.For | gast.While):
            if stmt.orelse:
                raise _GiveUp
            _check(stmt.body, True, walks)
        elif isinstance(stmt, gast.FunctionDef):
            _check(stmt.body, False, walks)
        elif isinstance(stmt, gast.Break | gast.Continue):
            if not in_loop:
                raise _GiveUp
        elif not isinstance(stmt, _CHECKED):
            raise _GiveUp
        if isinstance(stmt, _PLAIN) and walks is not None:
            if walks.of(stmt).walrus:
                raise _GiveUp
        elif not isinstance(stmt, gast.FunctionDef) and any(isinstance(n, gast.NamedExpr) for n in nodes(stmt)):
            raise _GiveUp


# ---- liveness: the names some later path reads -----------------------------------------
class _Liveness:
    """Live names before a statement, given those live after it (``out``), at ``break`` and at ``continue``."""

    def __init__(self, walks=None):
        self.memo = {}
        self.walks = walks or _Walks()

    def block(self, stmts, out: frozenset, brk, cont) -> list:
        """The live names before each statement of ``stmts``, and after the last."""
        lives = [out]
        for stmt in reversed(stmts):
            lives.append(self.stmt(stmt, lives[-1], brk, cont))
        return lives[::-1]

    def dying(self, stmts, out: frozenset, brk, cont) -> tuple:
        """What :meth:`_Release.block` reads of :meth:`block`'s live sets, without a set per statement
        (quadratic in a long block: most of the function may be live across it).

        ``around``: position -> (live before, live after) for each ``if`` and loop; ``touched``: position ->
        (the names the statement touches, those of them dead after it) for each statement the function goes on
        after. One set walks back over the block and changes in place at each plain statement.
        """
        live, around, touched = set(out), {}, {}
        walks = self.walks
        for k in range(len(stmts) - 1, -1, -1):
            stmt = stmts[k]
            if isinstance(stmt, gast.If | gast.For | gast.While):
                after = frozenset(live)
                before = self.stmt(stmt, after, brk, cont)
                around[k] = (before, after)
                live = set(before)
                continue
            if isinstance(stmt, _LEAVES):
                live = walks.loads(stmt)
                continue
            if isinstance(stmt, gast.Break | gast.Continue):
                live = set(brk if isinstance(stmt, gast.Break) else cont)
                continue
            found = walks.of(stmt)
            if found.plain:  # its summary's sets, read and not copied (nothing here changes them)
                stores = found.stores
                names = found.loads | stores
            else:
                stores = walks.stores(stmt)
                names = (stores if isinstance(stmt, gast.FunctionDef) else walks.sure_loads(stmt)) | stores
            touched[k] = (names, names - live)
            if is_comment(stmt) or isinstance(stmt, gast.Pass | gast.Global | gast.Nonlocal):
                continue
            reads = found.loads if found.plain else walks.loads(stmt)
            if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):  # ``x += e`` reads x
                reads = reads | {stmt.target.id}
            live -= stores
            live -= _deleted(stmt)
            live |= reads
        return around, touched

    def stmt(self, stmt, out: frozenset, brk, cont) -> frozenset:
        key = (id(stmt), out, brk, cont)
        if key not in self.memo:
            self.memo[key] = frozenset(self._stmt(stmt, out, brk, cont))
        return self.memo[key]

    def _stmt(self, stmt, out, brk, cont) -> set:
        if is_comment(stmt) or isinstance(stmt, gast.Pass | gast.Global | gast.Nonlocal):
            return out
        if isinstance(stmt, gast.Break):
            return brk
        if isinstance(stmt, gast.Continue):
            return cont
        if isinstance(stmt, _LEAVES):
            return self.walks.loads(stmt)
        if isinstance(stmt, gast.If):
            body, orelse = self.block(stmt.body, out, brk, cont)[0], self.block(stmt.orelse, out, brk, cont)[0]
            return _loads(stmt.test) | body | orelse
        if isinstance(stmt, gast.For | gast.While):
            head = self.head(stmt, out)
            return head | _loads(stmt.iter) if isinstance(stmt, gast.For) else head
        reads = self.walks.loads(stmt)
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):  # ``x += e`` reads x
            reads.add(stmt.target.id)
        return (out - self.walks.stores(stmt) - _deleted(stmt)) | reads

    def head(self, loop, out: frozenset) -> frozenset:
        """Live at the head of ``loop``: after the loop, or in the next trip."""
        if isinstance(loop, gast.For):
            bound, read = _stores(loop), _loads(loop.target)  # ``for v[i] in ...`` reads v
        else:
            bound, read = set(), _loads(loop.test)
        head = frozenset(out | read)
        while True:
            body = self.block(loop.body, head, out, head)[0]
            new = frozenset(out | read | (body - bound))
            if new == head:
                return head
            head = new


# ---- placing the releases ----------------------------------------------------------------
class _Release:
    def __init__(self, fn, small, facts=None):
        self.fn = fn
        facts = facts or _Facts(fn)
        self.walks = facts.walks
        self.live = _Liveness(self.walks)
        self.locals = facts.locals
        params = {a.id for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs}
        params |= {a.id for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
        self.keep = params | facts.captured | set(small) | facts.small
        self.changed = False
        self.seen = set(params)  # names assigned so far, in the order of the text

    def run(self) -> bool:
        self.fn.body, _ = self.block(self.fn.body, frozenset(), None, None, set(self.seen), frozenset())
        return self.changed

    def releasable(self, names, forbidden) -> set:
        return (names & self.locals) - self.keep - forbidden

    def block(self, stmts, out, brk, cont, bound, forbidden):
        """``stmts`` with releases; and the names surely bound after them (None: the end is not reached)."""
        around, touched_at = self.live.dying(stmts, out, brk, cont)
        new, pending, heading = [], set(), None
        for k, stmt in enumerate(stmts):
            new.append(stmt)
            heading = stmt if is_comment(stmt) else heading
            if bound is None:  # after a return or break: not reached
                continue
            if isinstance(stmt, gast.If):
                bound, after = self.branches(stmt, *around[k], brk, cont, bound, forbidden)
            elif isinstance(stmt, gast.For | gast.While):
                bound, after = self.loop(stmt, *around[k], bound, forbidden)
            elif isinstance(stmt, _JUMPS):
                bound, after = None, set()
            else:
                if isinstance(stmt, gast.FunctionDef):
                    _Release(stmt, ()).run() and self.mark()
                self.seen |= self.walks.stored(stmt)
                touched, dead = touched_at[k]  # dead: those of them not live after the statement
                bound |= touched  # in place: each block has its own set (straight-line code stays linear)
                bound -= _deleted(stmt)
                after = self.releasable(dead, forbidden) - _copied(stmt)
                bound -= after
                # one line for the adjoint of one forward statement
                if _in_group(stmts, k, pending | after, heading, self.walks):
                    pending, after = pending | after, set()
                else:
                    pending, after = set(), pending | after
            if after and not _returns_next(stmts, k):  # returning frees them all the same
                new.append(self.statement(after))
                bound -= after
        return new, bound

    def branches(self, stmt, live_in, out, brk, cont, bound, forbidden):
        """Each branch releases what dies in it; what dies in every branch, once after the ``if``."""
        entry = bound | _sure_loads(stmt.test)
        dying = []
        for branch in (stmt.body, stmt.orelse):
            if branch and isinstance(branch[-1], _LEAVES):
                dying.append(None)  # the function returns: nothing to release
                continue
            branch_in = self.live.block(branch, out, brk, cont)[0]
            dead = entry & ((live_in | out) - branch_in) - _stored_anywhere(branch)
            dying.append(self.releasable(dead, forbidden))
        reached = [d for d in dying if d is not None]
        after = set.intersection(*reached) - out if reached else set()
        ends = []
        for attr, dead in zip(("body", "orelse"), dying):
            head = set() if dead is None else dead - after
            branch, end = self.block(getattr(stmt, attr), out, brk, cont, entry - head, forbidden)
            if head:
                branch = [self.statement(head)] + branch
            setattr(stmt, attr, branch)
            if end is not None:
                ends.append(end)
        bound = set.intersection(*ends) if ends else None
        return bound, after if bound is not None else set()

    def loop(self, stmt, live_in, out, bound, forbidden):
        """The body releases only what it assigns itself; what the loop reads last, after the loop."""
        head = self.live.head(stmt, out)
        entry = bound | _sure_loads(stmt.iter if isinstance(stmt, gast.For) else stmt.test)
        inner = frozenset(forbidden | self.seen | head)  # may be bound when the loop starts, or read next trip
        self.seen |= _stores(stmt)
        body_bound = entry | _stores(stmt)
        stmt.body, _ = self.block(stmt.body, head, out, head, body_bound, inner)
        released_inside = set().union(*(_deleted(d) for s in stmt.body for d in nodes(s)))
        after = self.releasable((live_in - out) & entry, forbidden) - released_inside
        return entry - released_inside, after

    def statement(self, names) -> gast.Delete:
        self.mark()
        targets = [gast.Name(id=n, ctx=gast.Del(), annotation=None, type_comment=None) for n in sorted(names)]
        return gast.Delete(targets=targets + [name(RELEASED)])

    def mark(self):
        self.changed = True


def _copied(stmt) -> set:
    """``b`` in ``a = b``: ``a`` holds the same object, so releasing ``b`` frees nothing."""
    if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Name):
        return {stmt.value.id}
    return set()


def _in_group(stmts, k: int, names: set, heading, walks) -> bool:
    """Whether statement ``k + 1`` is a plain statement of the reverse sweep's group that ``k`` is in
    (the lines under one ``# <forward statement>`` comment: ``heading``), and binds none of ``names``."""
    if k + 1 == len(stmts) or not isinstance(stmts[k + 1], _SIMPLE) or is_comment(stmts[k + 1]):
        return False
    if not names.isdisjoint(walks.stored(stmts[k + 1])):
        return False
    return heading is not None and heading.value.args[0].value not in ("forward", "backward")


def _returns_next(stmts, k: int) -> bool:
    for j in range(k + 1, len(stmts)):  # not islice(stmts, k + 1): it steps over the first k + 1 each time
        if not is_comment(stmts[j]):
            return isinstance(stmts[j], gast.Return)
    return False


def _locals(body, walks=None) -> set:
    """The names this function's own scope binds (not a nested function's or comprehension's)."""
    found = set()
    pending = []
    for stmt in body:
        summary = walks.of(stmt) if walks is not None else None
        if summary is not None and summary.plain:  # no scope inside: every name it binds or deletes
            found |= summary.stores | summary.deleted
        else:
            pending.append(stmt)
    while pending:
        node = pending.pop()
        if isinstance(node, gast.FunctionDef):
            found.add(node.name)
            continue
        if isinstance(node, (gast.Lambda, gast.ClassDef, *_COMPREHENSIONS)):
            continue
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store | gast.Del):
            found.add(node.id)
        for attr in child_fields(type(node)):
            value = getattr(node, attr, None)
            pending.extend(v for v in (value if isinstance(value, list) else (value,)) if isinstance(v, gast.AST))
    return found


def _small(body, walks=None) -> set:
    """Names only ever bound to small values: constants (flags, counters), shapes, sizes, lengths and
    arithmetic on them. Releasing them frees nothing. (A greatest fixed point: ``i = i + 1`` stays small.)"""
    values: dict = {}
    other = set()
    read: list = []  # (name, the Name nodes of a value bound to it: a list, or the summary holding them)
    for stmt in body:
        summary = walks.of(stmt) if walks is not None else None
        if summary is not None and summary.plain:  # the statement is the only assignment in it
            if _single(stmt):
                values.setdefault(stmt.targets[0].id, []).append(stmt.value)
                read.append((stmt.targets[0].id, summary))
            elif isinstance(stmt, gast.Assign | gast.AugAssign | gast.AnnAssign):
                other |= summary.stores
            continue
        for node in nodes(stmt):
            if _single(node):
                values.setdefault(node.targets[0].id, []).append(node.value)
                read.append((node.targets[0].id, [n for n in nodes(node.value) if isinstance(n, gast.Name)]))
            elif isinstance(node, gast.Assign | gast.AugAssign | gast.AnnAssign | gast.For):
                other |= _stores(node)
    # A value that is not small even where every name is small never is (_small_value only asks that names be
    # small): those names go first, and the worklist needs the readers of the others only.
    small = {var for var in set(values) - other if all(_small_value(e, _ANY) for e in values[var])}
    readers: dict = {}  # name -> the names whose values read it
    for var, names in read:
        if var not in small:
            continue
        if type(names) is _Summary:
            target = names.stmt.targets[0]
            names = [n for n in names.names if n is not target]
        for node in names:
            readers.setdefault(node.id, set()).add(var)
    pending = list(small)
    while pending:  # a worklist: a name is looked at again only when one it reads stops being small
        var = pending.pop()
        if var in small and not all(_small_value(e, small) for e in values[var]):
            small.discard(var)
            pending.extend(readers.get(var, ()))
    return small


class _Anything:
    """Holds every name: :func:`_small_value` of a value with every name taken as small."""

    def __contains__(self, _name) -> bool:
        return True


_ANY = _Anything()


def _single(node) -> bool:
    return isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name)


_SIZES = frozenset({"shape", "ndim", "size", "dtype"})
_CONSTANTS = frozenset({"pi", "e", "inf", "nan", "tau"})


def _small_value(node, small: set) -> bool:
    if isinstance(node, gast.Constant):
        return not isinstance(node.value, str | bytes)
    if isinstance(node, gast.Name):
        return node.id in small
    if isinstance(node, gast.Attribute):
        return node.attr in _SIZES or getattr(node.value, "id", None) in ("np", "math") and node.attr in _CONSTANTS
    if isinstance(node, gast.Call):
        func = node.func
        return (
            isinstance(func, gast.Attribute) and func.attr in _SIZES and getattr(func.value, "id", None) == "np"
        ) or (isinstance(func, gast.Name) and func.id == "len")
    if isinstance(node, gast.Subscript):
        return _small_value(node.value, small)
    if isinstance(node, gast.BinOp):
        return _small_value(node.left, small) and _small_value(node.right, small)
    if isinstance(node, gast.UnaryOp):
        return _small_value(node.operand, small)
    if isinstance(node, gast.Compare):
        return all(_small_value(e, small) for e in [node.left, *node.comparators])
    if isinstance(node, gast.BoolOp | gast.Tuple):
        return all(_small_value(e, small) for e in getattr(node, "values", None) or node.elts)
    return False


def _captured(body, walks=None) -> set:
    """Names this function must keep: ``global``/``nonlocal`` ones, and those nested functions and lambdas read."""
    found = set()
    for stmt in body:
        if walks is not None and walks.of(stmt).plain:  # no nested function, lambda or declaration in it
            continue
        for node in nodes(stmt):
            if isinstance(node, _DECLARATIONS):
                found.update(node.names)
            elif isinstance(node, gast.FunctionDef | gast.Lambda):
                found |= _loads(node)
    return found
