"""The algebra of adjoint statements: each adjoint one expression, as a person writes it.

Four rewrites over adjoint lines (``delta_*`` targets: a tangent line stays beside the
primal line it follows, though ``np.sum(1.0)`` folds there too), each exact: the
rewritten code computes the same numbers, in the same order, to the bit.

- :func:`drop_round_trips`: ``delta_m = delta_e; ...; delta_e = delta_m`` where
  neither name is reassigned in between: the second line assigns ``delta_e`` the
  value it holds, and goes (a loop-carried copy through a reversed ``e = m``).
- :func:`merge_sums`: ``v = A; ...; v = v + B`` -> ``v = A + B`` where nothing in
  between reads ``v`` or changes what ``A`` reads. ``A + B`` is the sum the two
  lines computed, accumulated in the same order: no reassociation.
- :func:`fold_number_sums`: ``np.sum(1.0)`` -> ``1.0``: a number summed is itself
  (the unit seed through the adjoint of a scalar output).
- :func:`sink_copies`: ``c = v; v = E; w = F(c)`` -> ``w = F(v); v = E``: a copy kept
  only for a line that reads the old value after the update goes, and that line goes first.

>>> print(demo("def f(a, b, x):\\n    delta_y = a * x\\n    delta_z = b\\n    delta_y = delta_y + b * 2.0\\n"
...            "    return delta_y, delta_z"))
def f(a, b, x):
    delta_z = b
    delta_y = a * x + b * 2.0
    return (delta_y, delta_z)
"""

from __future__ import annotations

import gast

from ..backend.codegen import _FIELDS, child_fields, is_comment, nodes, unparse
from . import optimize as passes
from .optimize import _NOT_PLAIN, _added, _comment_text, _derivative_line, _head, _note_in_place, _stored_names, bodies
from .optimize import number_sum as _number_sum
from .optimize import pure_call as _pure_call

# A sum is written as one line only while that line stays short enough to read at a glance.
_LONG = 88  # characters of ``v = A + B``, indentation aside


def optimize(fn: gast.FunctionDef) -> gast.FunctionDef:
    """:func:`sct.passes.optimize.optimize`'s passes to a fixed point, then each adjoint written as one
    expression (after the passes that look for its parts on separate lines), and the passes again.

    The passes and the rewrites share what they find of ``fn`` (:func:`sct.passes.optimize.sharing`)
    until one of them changes it, and a rewrite that left ``fn`` unchanged is not run again until
    something changes it (a rewrite is a function of the code alone): the code is the same as
    running all four rewrites in every round.
    """
    with passes.sharing(fn) as shared:
        passes.optimize(fn)
        clean = {}  # rewrite -> the version of fn it last left unchanged
        while True:
            changed = False
            for name in _REWRITES:
                if clean.get(name) == shared.version:
                    continue
                if globals()[name](fn):  # looked up here: a test may wrap one
                    shared.forget()
                    changed = True
                else:
                    clean[name] = shared.version
            if not changed:
                return fn
            passes.optimize(fn)


_REWRITES = ("fold_number_sums", "drop_round_trips", "merge_sums", "sink_copies")  # in the order rewrite runs them


def after_fusing(fn: gast.FunctionDef) -> None:
    """What fusing scalar temporaries leaves to tidy (:func:`sct.passes.fuse.fuse`): signs brought
    together, the copies and sums it left, the comments over what went into a later line. The
    passes share what they find of ``fn`` throughout."""
    with passes.sharing(fn) as shared:
        if passes.simplify(fn):  # a + 2.0 * (-b * c) -> a - 2.0 * (b * c)
            shared.forget()
        while rewrite(fn):  # each adjoint one expression
            if passes.propagate_copies(fn):
                shared.forget()
        passes.eliminate_dead_code(fn)


def rewrite(fn: gast.FunctionDef) -> bool:
    """Run the four rewrites once each (sharing what they find of ``fn``); whether any changed ``fn``."""
    changed = False
    with passes.sharing(fn) as shared:
        for name in _REWRITES:
            if globals()[name](fn):
                shared.forget()
                changed = True
    return changed


def demo(source: str) -> str:
    fn = gast.parse(source).body[0]
    rewrite(fn)
    return unparse(fn)


# ---- identities through a copy ----------------------------------------------------------
def drop_round_trips(fn) -> bool:
    """``t = s; ...; s = t`` -> ``t = s; ...``: the second copy assigns ``s`` its own value.

    Neither name may be assigned between the two lines (an in-place change of one
    changes the other too: they hold the same object). Adjoint lines only.

    One pass per block: the last line that assigned each name, and the last copy
    ``t = s`` of each pair, are all a copy ``s = t`` needs (the copy is a round trip
    where no line after that copy assigned ``s`` or ``t``).
    """
    changed = False
    for body in list(bodies(fn)):
        copies = {c for c in map(_copy, body) if c is not None}
        if not any(s.startswith("delta_") and (t, s) in copies for s, t in copies):
            continue  # no copy with its way back in this block: nothing to walk
        last_store, last_copy, kept = {}, {}, []
        for n, stmt in enumerate(body):
            copy = _copy(stmt)
            if copy is not None and copy[0].startswith("delta_"):
                s, t = copy
                at = last_copy.get((t, s))
                if at is not None and at >= max(last_store.get(s, -1), last_store.get(t, -1)):
                    changed = True
                    continue  # the line goes: it assigns nothing
            kept.append(stmt)
            for name in _stored_names(stmt):
                last_store[name] = n
            if copy is not None:
                last_copy[copy] = n
        if len(kept) != len(body):
            body[:] = kept
    return changed


def _copy(stmt):
    """``(target, source)`` for ``target = source`` between two names, else None."""
    if (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(stmt.value, gast.Name)
    ):
        return stmt.targets[0].id, stmt.value.id
    return None


# ---- a copy kept for a later line ---------------------------------------------------------
def sink_copies(fn) -> bool:
    """``c = v; v = E; w = F(c)`` -> ``w = F(v); v = E``: the line that reads the old ``v`` goes first.

    The reversed ``x = b + d`` copies ``delta_x`` into ``delta_b`` and the next block updates
    ``delta_x`` before the one after reads ``delta_b``; a person adds that contribution first.
    Each line computes what it computed, from the same values (``F`` reads the object ``c``
    held), so the numbers are the same to the bit. Only where ``c`` is an adjoint assigned by
    that copy alone and read by ``F`` alone (anywhere in the function), both lines are plain
    assignments of one name that only read, ``F`` does not read the new ``v``, and ``E`` does
    not read ``w``.
    """
    changed, uses = False, {}  # (uses: _uses(fn) once a copy gets that far, until a line is sunk)
    for body in list(bodies(fn)):
        i = 0
        while i < len(body):
            if _sink(fn, body, i, uses):
                changed = True
                uses.clear()  # a name read changed: the counts are made again where next needed
                continue
            i += 1
    return changed


def _uses(fn) -> dict:
    """Each name's ``[stores, deletions, loads]`` over the whole of ``fn`` (a parameter counts as none)."""
    found = {}
    for n in nodes(fn):
        if isinstance(n, gast.Name):
            counts = found.get(n.id)
            if counts is None:
                counts = found[n.id] = [0, 0, 0]
            if isinstance(n.ctx, gast.Store):
                counts[0] += 1
            elif isinstance(n.ctx, gast.Del):
                counts[1] += 1
            elif isinstance(n.ctx, gast.Load):
                counts[2] += 1
    return found


def _assigned(stmt):
    """``(name, value)`` of ``name = value`` with a pure ``value``, else None."""
    if (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and _pure(stmt.value)
    ):
        return stmt.targets[0].id, stmt.value
    return None


def _next_code(body, i):
    """The position of the first statement after ``i`` that is not a comment, or None."""
    j = i + 1
    while j < len(body) and is_comment(body[j]):
        j += 1
    return j if j < len(body) else None


def _sink(fn, body, i, uses=None) -> bool:
    """Sink the copy at ``body[i]`` if it is one that goes (see :func:`sink_copies`). ``uses``: :func:`_uses`
    of ``fn`` as it is, or empty (made here then; one walk of the function serves every copy until one sinks)."""
    copy = _copy(body[i])
    if copy is None or not copy[0].startswith("delta_") or copy[0] == copy[1]:
        return False
    c, v = copy
    j = _next_code(body, i)
    k = None if j is None else _next_code(body, j)
    if k is None:
        return False
    update, later = _assigned(body[j]), _assigned(body[k])
    if update is None or later is None or update[0] != v:
        return False
    w, value = later
    if w in (v, c) or v in _loads(value) or w in _loads(update[1]) or c not in _loads(value):
        return False
    if uses is None:
        uses = {}
    if not uses:
        uses.update(_uses(fn))
    stored, deleted, loaded = uses.get(c, (0, 0, 0))
    if stored != 1 or deleted:
        return False
    if loaded != sum(n.id == c for n in _names(value)):
        return False  # read elsewhere too
    for n in _names(value):
        if n.id == c:
            n.id = v
    passes.touched(fn)(body[k])
    head_j = j - 1 if is_comment(body[j - 1]) and j - 1 > i else j
    head_k = k - 1 if is_comment(body[k - 1]) and k - 1 > j else k
    moved = body[head_k : k + 1]
    if i > 0 and is_comment(body[i - 1]) and i + 1 == (head_j if head_j < j else j) and is_comment(moved[0]):
        text = "; ".join([_comment_text(body[i - 1]), _comment_text(moved[0])])
        moved[0].value.args[0].value = text  # the copy's block joins the line that reads it
        del body[i - 1]
        i, j, head_j, k, head_k = i - 1, j - 1, head_j - 1, k - 1, head_k - 1
    del body[head_k : k + 1]
    body[head_j:head_j] = moved
    del body[i]
    return True


def _names(node) -> list:
    return [n for n in nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)]


# ---- sums written as one expression -------------------------------------------------------
@passes.shares
def merge_sums(fn) -> bool:
    """``v = A; ...; v = v + B`` (or ``- B``) -> ``...; v = A + B``, where that is the same value.

    ``A`` is evaluated where the second line was: nothing in between may read or
    assign ``v``, assign a name ``A`` reads, or update any array in place (it may
    be one ``A`` reads under another name), or pass what ``A`` reads to a function
    that may change it; and ``A`` calls
    only functions that change nothing (NumPy's, math's, sct's runtime helpers).
    ``A + B`` adds what the two lines added, in their order, so the result is
    the same to the bit. Only ``v = v + B`` (a new value), not ``v += B``, which
    adds into ``A``'s array with ``A``'s dtype.
    """
    changed, facts, touch = False, passes.facts_of(fn), passes.touched(fn)
    for body in list(bodies(fn)):
        changed |= _merge_sums_in(body, facts, touch)
    return changed


def _merge_sums_in(body, facts=passes.Facts, touch=passes._nothing) -> bool:
    """:func:`merge_sums` over one block, in one pass: linear in its length.

    The rule: candidate by candidate in order, a ``v = A`` meets the lines after it,
    each with the merges of the candidates before it done; the first line that reads
    or assigns ``v`` is the sum it goes into (if it is ``v = v + B``), or its end; a
    line before that which changes a name ``A`` reads, or updates an array in place,
    ends it. Instead of each candidate scanning ahead (quadratic in a long adjoint),
    one scan carries the open candidates, indexed by ``v`` and by the names ``A`` reads,
    and each line ends the ones it ends, oldest first: the order in which the
    candidates, one after another, would have met it. The lines that went into a
    later one are removed at the end, in the candidates' order, with their comments.
    """
    pending = {}  # position -> (v, the names A reads): candidates still open
    by_target = {}  # v -> the position of its open candidate
    readers = {}  # name -> the positions of open candidates whose A reads it
    merges = []  # (position of v = A, position of the line it went into)

    def close(at):
        v, reads = pending.pop(at)
        del by_target[v]
        for name in reads:
            readers[name].discard(at)
        return v

    for j, later in enumerate(body):
        if pending:
            touched, changed, in_place = _effects(later, facts(later))
            met, below = set(), 0  # candidates this line has met: these, and every one before ``below``
            while True:
                ended = {by_target[v] for v in touched if v in by_target}
                if in_place:
                    ended.update(pending)
                else:
                    for name in changed:
                        ended.update(readers.get(name, ()))
                ended = {i for i in ended if i >= below and i not in met}
                if not ended:
                    break
                for i in sorted(ended):
                    met.add(i)
                    v = close(i)
                    if v in touched and _merge(body[i], later):
                        merges.append((i, j))
                        # the line reads what A read now: later candidates meet it so, earlier ones met it before
                        below = max(below, i)  # (no candidate opens while a line is met: a set of them, in effect)
                        touch(later)  # its facts are out of date
                        touched, changed, in_place = _effects(later, facts(later))
                        break
                else:
                    break
        if isinstance(later, gast.Assign) and len(later.targets) == 1 and isinstance(later.targets[0], gast.Name):
            v = later.targets[0].id
            known = facts(later)  # of its value too: the target is a Name stored
            if v.startswith("delta_") and known.pure:
                reads = set(known.loads)
                pending[j], by_target[v] = (v, reads), j
                for name in reads:
                    readers.setdefault(name, set()).add(j)
    merges.sort()
    for gone, (i, j) in enumerate(merges):  # every line before ``i`` that went is gone already
        _join_comment(body, i - gone, j - gone)
        del body[i - gone]
    return bool(merges)


def _effects(stmt, facts) -> tuple:
    """What a line does to an open candidate ``v = A``: the names it reads or assigns (``v`` among them ends
    the candidate), the names it may change, and whether it updates an array in place (either ends it).

    ``_loads(stmt) | _stored_names(stmt)``, ``_changed(stmt)`` and ``_updates_in_place(stmt)``, from
    the line's :class:`sct.passes.optimize.Facts`."""
    changed = facts.changed | facts.in_place | facts.impure
    return facts.loads.keys() | facts.changed, changed, bool(facts.in_place)


def _merge(first, second) -> bool:
    """``v = A`` into ``v = v + B`` (or ``- B``): ``v = A + B``, if ``second`` is that sum and the line stays short."""
    v = first.targets[0].id
    added = _added(second, v)
    if added is None or not isinstance(second, gast.Assign) or not isinstance(added[0], gast.Add | gast.Sub):
        return False
    op, term = added
    merged = gast.BinOp(left=first.value, op=op, right=term)
    if len(v) + 3 + len(unparse(merged)) > _LONG:
        return False
    second.value = merged
    return True


def _join_comment(body, gone, kept) -> None:
    """``body[gone]`` goes into ``body[kept]``: its comment, if over it alone, is added to ``kept``'s, after it
    (the line stands in ``kept``'s block: ``# v = u + b; e = 1.0 + u``)."""
    head, own = _head(body, kept), gone - 1
    after = body[gone + 1] if gone + 1 < len(body) else None
    alone = after is None or is_comment(after) or isinstance(after, gast.Return) or gone + 1 == kept
    if head is None or own < 0 or not is_comment(body[own]) or not alone or own == head:
        return
    body[head].value.args[0].value = "; ".join([_comment_text(body[head]), _comment_text(body[own])])


def _loads(node) -> set:
    return {n.id for n in nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _updates_in_place(stmt) -> bool:
    found = set()
    for node in nodes(stmt):
        _note_in_place(node, found)
    return bool(found)


def _changed(stmt) -> set:
    """Names ``stmt`` assigns or may change in place (an impure call may change what it is passed)."""
    found = set(_stored_names(stmt))
    for node in nodes(stmt):
        _note_in_place(node, found)
        if isinstance(node, gast.Call) and not _pure_call(node):
            found |= _loads(node)
    return found


def _pure(node) -> bool:
    """An expression that only reads: arithmetic, subscripts, and calls of functions that change nothing."""
    for n in nodes(node):
        if type(n) in _NOT_PLAIN:
            return False
        if isinstance(n, gast.Call) and not _pure_call(n):
            return False
    return True


# ---- a number summed -----------------------------------------------------------------------
@passes.shares
def fold_number_sums(fn) -> bool:
    """``np.sum(c)`` -> ``c`` for a number ``c``, in adjoint lines: a number summed is itself."""
    changed, facts, touch = False, passes.facts_of(fn), passes.touched(fn)
    lines = [stmt for body in bodies(fn) for stmt in body if _derivative_line(stmt) and facts(stmt).number_sums]
    for stmt in lines:
        touch(stmt)  # (a line with a number summed: the sum goes)
    for node in (n for stmt in lines for n in nodes(stmt)):
        fields = _FIELDS.get(type(node)) or child_fields(type(node))  # a sum is a node: in a field that holds nodes
        for attr, child in [(attr, getattr(node, attr, None)) for attr in fields]:
            if isinstance(child, list):
                for k, item in enumerate(child):
                    folded = _number_sum(item)
                    if folded is not None:
                        child[k] = folded
                        changed = True
            else:
                folded = _number_sum(child)
                if folded is not None:
                    setattr(node, attr, folded)
                    changed = True
    return changed
