"""Checkpointed loops: ``sct.grad(f, checkpoint=k)``, or ``# sct: checkpoint`` on a loop.

The reverse sweep of a loop reads what each trip overwrote, from records the
forward sweep pushed once a trip: memory in proportion to the trip count. A
checkpointed loop keeps only the loop's *state* (the variables a trip reads
before it writes them, and that the loop changes) once every ``k`` trips. The
reverse sweep takes the segments of ``k`` trips last to first: it restores the
segment's state, runs the segment's trips again with their records, and
reverses them as before. So

- memory: ``n / k`` states and ``k`` trips of records, ``O(sqrt(n))`` for
  ``k = sqrt(n)``, which is what ``checkpoint=True`` and a bare
  ``# sct: checkpoint`` choose when the loop begins (its trip count is then known);
- time: the forward trips run twice;
- values: the same statements run on the same values, so the gradients are equal
  to the unckeckpointed ones bit for bit.

For ``n = 6`` and ``k = 2`` the generated code reads::

    x_stack = []
    x_at = []                                  # the state every k trips
    for _j, i in enumerate(range(n)):
        if _j % 2 == 0:
            x_at.append(x)
        x = x * a                              # the trip, with no records
    ...
    for _s in reversed(range(len(x_at))):      # segments, last first
        x = x_at[_s]
        x_stack = []
        for i in range(_s * 2, min(_s * 2 + 2, n)):
            x_stack.append(x)                  # the trip, with its records
            x = x * a
        for x in reversed(x_stack):            # the reverse sweep of the segment, as before
            ...

``checkpoint="log"`` (or ``# sct: checkpoint=log``) keeps ``O(log n)`` states instead:
the state when the loop begins; the reverse sweep runs the first half of the trips
left to reverse without records, keeps the state there, and so on down to ``LEAF``
trips, which it runs with their records and reverses; then takes the half below. A
stack of ``log2(n)`` states, and ``O(n log n)`` trips run in all.

``checkpoint=("revolve", s)`` (or ``# sct: checkpoint=revolve(s)``) is Griewank's
binomial checkpointing: at most ``s`` states kept at a time, placed so that the
fewest trips run again (the optimum of :mod:`sct.backend.revolve`, whose helpers
the generated code calls for the schedule). The forward sweep keeps the states of
the schedule's first pass and runs the last trip with its records; the reverse
sweep reverses that trip, then, from the last state kept, runs forward the trips
``revolve_split`` gives and keeps the state there, or runs the one trip left with
its records and reverses it. ``n <= C(s + r, s)`` trips run each at most ``r + 1``
times: 10^6 trips with ``s = 40`` run about 6 times each, with ``s = 10`` about 13.

What is checkpointed: ``for ... in range(...)`` loops at the top level of the
function (with whatever loops and branches they hold), that run every trip (no
``break``; ``return`` in a loop is a ``break``). A loop the comment marks that
is not one of these, or whose state is not assigned before it begins, is
refused with :class:`CheckpointError` naming it; so is such a loop under
``checkpoint=k`` when it keeps records (a loop that records nothing needs no
checkpoints and is left as it is). Running trips again must repeat them exactly:
a trip that changes an array in place (the states would be one object), has an
effect (``print``) or draws random numbers is refused too.
"""

from __future__ import annotations

import re

import gast

from ..backend.codegen import is_comment, marker, namespace, unparse
from ..errors import CheckpointError, Location, Problem, SctError
from ..ir import For, While, walk
from ..reverse.loops import _clone as clone

MARK = re.compile(r"#\s*sct:\s*checkpoint(?:\s*=\s*(\d+|log|revolve\s*\(\s*\d+\s*\)))?\s*$")
AUTO = "sqrt"  # k = sqrt(trips), chosen when the loop begins
LOG = "log"  # halving: log2(trips) states (see _Checkpointed._bisecting)
LEAF = 8  # trips run with records at once under LOG
REVOLVE = "revolve"  # ("revolve", s): Griewank's binomial schedule with s states (see _Checkpointed._revolving)


def check_option(k):
    """``checkpoint=`` as given: a positive int ``k``, or True (``k = sqrt(trips)``)."""
    if k is True:
        return AUTO
    if k == LOG:
        return LOG
    if isinstance(k, int) and not isinstance(k, bool) and k >= 1:
        return k
    if isinstance(k, tuple) and len(k) == 2 and k[0] == REVOLVE and _count(k[1]):
        return (REVOLVE, k[1])
    raise SctError(
        f"checkpoint={k!r}: give a number of trips k >= 1 between stored states, True for sqrt(trips), "
        "'log' for log2(trips) states, or ('revolve', s) for the fewest trips run again with s >= 1 states"
    )


def _count(s) -> bool:
    return isinstance(s, int) and not isinstance(s, bool) and s >= 1


def marked_lines(parsed) -> dict:
    """``(file, line)`` of each loop the user marked ``# sct: checkpoint`` (on its line or the line above) -> k."""
    marks = {}
    for offset, line in enumerate(parsed.lines):
        found = MARK.search(line)
        if found is None:
            continue
        k = _marked(found.group(1))
        if k == 0 or k == (REVOLVE, 0):
            where = f"{parsed.filename}:{offset + parsed.first_lineno}"
            raise SctError(f"{where}: `# sct: checkpoint`: k (or s) must be >= 1")
        at = offset + parsed.first_lineno
        code = line.split("#", 1)[0].strip()
        marks[(parsed.filename, at if code else at + 1)] = k
    return marks


def _marked(text):
    """The option a comment's ``=...`` asks for: AUTO, LOG, k, or ("revolve", s)."""
    if not text:
        return AUTO
    if text == LOG:
        return LOG
    if text.startswith(REVOLVE):
        return (REVOLVE, int(text[len(REVOLVE) :].strip(" ()")))
    return int(text)


def apply(src, parsed, ir, k) -> None:
    """Checkpoint the loops of generated ``src`` asked for (``k``: the option; or the comments)."""
    marks = marked_lines(parsed)
    if k is None and not marks:
        return
    top = [s for s in ir.body if isinstance(s, For | While)]
    for stmt in walk(ir.body):  # a comment on a loop that is not at the top level, or not a loop
        marked = isinstance(stmt, For | While) and _key(stmt) in marks
        if marked and not any(stmt is s for s in top):
            _refuse(stmt, "it is nested in another loop or an `if`; checkpoint the outermost loop")
    found = {_key(s) for s in walk(ir.body) if isinstance(s, For | While)}
    for _, line in marks.keys() - found:
        raise CheckpointError(
            Problem(f"`# sct: checkpoint` is not on a loop sct differentiates (line {line})", _where(parsed, line))
        )
    body = src.fn.body
    if len(body) == 1 and isinstance(body[0], gast.Try):  # Python floats, NumPy's where they raise (sct.passes.unbox)
        body = body[0].body  # (the fallback, run only where Python raises, keeps every trip's records)
    split = marker(body, "backward")
    if split is None:
        raise SctError(f"bug in sct: cannot find the reverse sweep in the code for {src.fn.name} to checkpoint")
    loops = [s for s in body[:split] if isinstance(s, gast.For | gast.While)]
    pairs = _pair(top, loops)
    user_names = {n.id for n in gast.walk(parsed.node) if isinstance(n, gast.Name)}
    for stmt, loop in pairs:
        wanted = marks.get(_key(stmt), k)
        if wanted is None:
            continue
        stacks = _stacks(body[:split], loop, user_names) if loop is not None else set()
        if stacks or _key(stmt) in marks:  # a marked loop is checked anyway
            if isinstance(stmt, While) or loop is not None and not _is_range(loop.iter):
                _refuse(stmt, "only `for ... in range(...)` loops are checkpointed (the trips known when it begins)")
            if stmt.brk or stmt.trips:
                _refuse(stmt, "it can end early (`break` or `return`): its trips are not known when it begins")
        if not stacks:  # it records nothing: its reverse sweep needs no memory per trip
            continue
        _Checkpointed(src, stmt, loop, stacks, wanted, _resolver(src, parsed)).rewrite(body, split)
        split = marker(body, "backward")  # the rewrite keeps it


def _key(stmt) -> tuple | None:
    return (stmt.origin.filename, stmt.origin.lineno) if stmt.origin is not None else None


def _resolver(src, parsed):
    """``resolve(expr)``: the object a name or ``a.b.c`` of the generated code means, or None."""

    scope = {**parsed.globals, **parsed.closure, **namespace(parsed.globals, src.helpers)}

    def resolve(node):
        if isinstance(node, gast.Name):
            return scope.get(node.id)
        if isinstance(node, gast.Attribute):
            inner = resolve(node.value)
            return getattr(inner, node.attr, None) if inner is not None else None
        return None

    return resolve


def _random(func, resolve) -> bool:
    """Does ``func`` draw random numbers (``np.random.*``, ``random.*``, a ``Generator``'s methods)?"""
    import random

    import numpy as np

    found = resolve(func)
    if found is None:
        return False
    owner = getattr(found, "__self__", None)
    if isinstance(owner, np.random.Generator | np.random.RandomState | np.random.BitGenerator | random.Random):
        return True
    module = getattr(found, "__module__", None) or ""
    return module == "random" or module.startswith("numpy.random")


def _refuse(stmt, why: str):
    raise CheckpointError(Problem(f"cannot checkpoint this loop: {why}", stmt.origin))


def _where(parsed, line: int):

    text = parsed.lines[line - parsed.first_lineno] if 0 <= line - parsed.first_lineno < len(parsed.lines) else ""
    return Location(parsed.filename, line, 0, text)


def _pair(top: list, loops: list) -> list:
    """``(IR loop, generated forward loop or None)`` for each top-level loop, matched by header in order."""
    pairs, used = [], set()
    for stmt in top:
        match = None
        for i, loop in enumerate(loops):
            if i in used:
                continue
            if isinstance(stmt, For) and isinstance(loop, gast.For):
                same = isinstance(loop.target, gast.Name) and loop.target.id == stmt.target
                same = same and gast.dump(loop.iter) == gast.dump(stmt.iter)
            else:
                same = isinstance(stmt, While) and isinstance(loop, gast.While)
            if same:
                match = i
                break
        if match is not None:
            used.add(match)
        pairs.append((stmt, loops[match] if match is not None else None))
    return pairs


def _stacks(forward: list, loop, user_names: set) -> set:
    """The records ``loop`` pushes on: ``<what>_stack`` lists and the loop's ``tape`` (one push a trip),
    made empty before it, and not the user's own names."""
    made = {
        s.targets[0].id
        for s in forward
        if isinstance(s, gast.Assign)
        and isinstance(s.targets[0], gast.Name)
        and isinstance(s.value, gast.List)
        and not s.value.elts
    }
    pushed = {_pushed_on(s) for s in gast.walk(loop)} - {None}
    record = re.compile(r"\w+_stack|tape(_\d+)?")
    return {p for p in pushed if p in made and record.fullmatch(p) and p not in user_names}


def _pushed_on(node):
    """``S`` of a statement ``S.append(v)``; else None."""
    if not isinstance(node, gast.Expr) or not isinstance(node.value, gast.Call):
        return None
    func = node.value.func
    if isinstance(func, gast.Attribute) and func.attr == "append" and isinstance(func.value, gast.Name):
        return func.value.id
    return None


def _is_range(node) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == "range"
        and 1 <= len(node.args) <= 3
        and not node.keywords
        and all(isinstance(a, gast.Name | gast.Constant) for a in node.args)
    )


def _names(node, ctx) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, ctx)}


# ---- the loop's state -----------------------------------------------------------------------
def exposed(stmts: list, defined: set) -> tuple[set, set]:
    """``(read before written, surely written after)`` for ``stmts`` entered with ``defined`` assigned."""
    reads, defined = set(), set(defined)
    for s in stmts:
        if isinstance(s, gast.Assign | gast.AugAssign | gast.AnnAssign):
            targets = s.targets if isinstance(s, gast.Assign) else [s.target]
            used = _names(s.value, gast.Load) if s.value is not None else set()
            for t in targets:
                used |= _names(t, gast.Load)  # x[i] = v reads x and i
            if isinstance(s, gast.AugAssign):
                used |= _names(s.target, gast.Store)
            reads |= used - defined
            for t in targets:
                defined |= _names(t, gast.Store)
        elif isinstance(s, gast.If):
            reads |= _names(s.test, gast.Load) - defined
            r1, d1 = exposed(s.body, defined)
            r2, d2 = exposed(s.orelse, defined)
            reads |= r1 | r2
            defined = d1 & d2
        elif isinstance(s, gast.For):
            reads |= _names(s.iter, gast.Load) - defined
            inner, _ = exposed(s.body, defined | _names(s.target, gast.Store))
            reads |= inner
        elif isinstance(s, gast.While):
            reads |= _names(s.test, gast.Load) - defined
            inner, _ = exposed(s.body, defined)
            reads |= inner
        elif isinstance(s, gast.Expr | gast.Return | gast.Raise):
            reads |= _names(s, gast.Load) - defined
        elif isinstance(s, gast.Pass | gast.Break | gast.Continue):
            pass
        else:
            raise _Unknown(type(s).__name__)
    return reads, defined


class _Unknown(Exception):
    pass


def _assigned(stmts) -> set:
    found = set()
    for s in stmts:
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                found.add(n.id)
    return found


# ---- the rewrite ---------------------------------------------------------------------------
class _Checkpointed:
    def __init__(self, src, stmt, loop: gast.For, stacks: set, k, resolve):
        self.src, self.stmt, self.loop, self.stacks, self.k = src, stmt, loop, stacks, k
        self.fresh, self.resolve = src.namer.fresh, resolve

    def rewrite(self, body: list, split: int) -> None:
        at = next(i for i, s in enumerate(body) if s is self.loop)
        users = [i for i, s in enumerate(body) if i != at and _names(s, gast.Load) & self.stacks]
        if len(users) != 1 or users[0] < split or not isinstance(body[users[0]], gast.For):
            _refuse(self.stmt, "its records are read other than by one reversed loop")
        back = users[0]
        self.check_repeatable()
        state = self.state(body[:at])
        pushed = {n.id for s in gast.walk(self.loop) if _pushed_on(s) for n in s.value.args if isinstance(n, gast.Name)}
        # what neither the records nor the reversed loop set again is left as the forward loop left it, as before
        ends = _assigned([self.loop]) - self.stacks - pushed - _assigned([body[back]])
        ends = sorted(ends & set().union(*(_names(t, gast.Load) for t in body[back + 1 :])))  # only what is read
        revolve = isinstance(self.k, tuple)
        n, k, r0, rs = (self.fresh(b) for b in ("_trips", "_states" if revolve else "_every", "_first", "_step"))
        saved = {v: self.fresh(f"{v}_at") for v in state}
        kept = {v: self.fresh(f"{v}_end") for v in ends}
        args = self.loop.iter.args
        first = _src(args[0]) if len(args) > 1 else "0"
        step = _src(args[2]) if len(args) > 2 else "1"
        every = {AUTO: f"max(1, int({n} ** 0.5))", LOG: str(LEAF)}.get(self.k, str(self.k))
        every = str(self.k[1]) if revolve else every
        before = [f"{r0} = {first}", f"{rs} = {step}", f"{n} = len({_src(self.loop.iter)})", f"{k} = {every}"]
        before += [f"{name} = []" for name in saved.values()]
        names = (n, k, r0, rs, saved)
        make = self._revolving if revolve else self._bisecting if self.k == LOG else self._periodic
        forward, outer = make(before, names, state, body[back])
        after = _parse("\n".join(f"{kept[v]} = {v}" for v in ends)) if ends else []
        restore = _parse("\n".join(f"{v} = {kept[v]}" for v in ends)) if ends else []
        body[back : back + 1] = [*(outer if isinstance(outer, list) else [outer]), *restore]
        body[at : at + 1] = [*forward, *after]
        made = [s for s in body[:at] if _makes_records(s, self.stacks)]
        for s in made:  # each segment makes its records afresh
            body.remove(s)

    def _periodic(self, before, names, state, reverse) -> tuple[list, gast.stmt]:
        """The state every k trips; the reverse sweep takes the segments of k trips last to first."""
        n, k, r0, rs, saved = names
        j, target = self.fresh("_j"), _src(self.loop.target)
        header = f"for {j}, {target} in enumerate({_src(self.loop.iter)}):"
        store = [f"        {saved[v]}.append({v})" for v in state] or ["        pass"]
        forward = _parse("\n".join(before + [header, f"    if {j} % {k} == 0:", *store]))
        forward[-1].body.extend(_without_pushes(_clone(self.loop.body), self.stacks) or [gast.Pass()])
        s, lo, hi = self.fresh("_s"), self.fresh("_lo"), self.fresh("_hi")
        any_saved = next(iter(saved.values()), None)
        count = f"len({any_saved})" if any_saved else f"({n} + {k} - 1) // {k}"
        lines = [f"for {s} in reversed(range({count})):"]
        lines += [f"    {v} = {saved[v]}[{s}]" for v in state]
        lines += [f"    {lo} = {s} * {k}", f"    {hi} = min({lo} + {k}, {n})"]
        outer = _parse("\n".join(lines))[0]
        outer.body += self._segment(lo, hi, names, reverse)
        return forward, outer

    def _bisecting(self, before, names, state, reverse) -> tuple[list, gast.stmt]:
        """``checkpoint="log"``: the state at the loop's start; the reverse sweep halves the trips left
        to reverse, keeping the state at each half (a stack of ``log2(n)`` states), until ``LEAF`` trips
        are left, which it runs with records and reverses."""
        n, k, r0, rs, saved = names
        lo_at, hi_at = self.fresh("_lo_at"), self.fresh("_hi_at")
        lo, hi, mid = self.fresh("_lo"), self.fresh("_hi"), self.fresh("_mid")
        target = _src(self.loop.target)
        lines = before + [f"{lo_at} = [0]", f"{hi_at} = [{n}]"] + [f"{saved[v]}.append({v})" for v in state]
        lines += [f"for {target} in {_src(self.loop.iter)}:", "    pass"]
        forward = _parse("\n".join(lines))
        forward[-1].body = _without_pushes(_clone(self.loop.body), self.stacks) or [gast.Pass()]
        lines = [f"while len({lo_at}) > 0:", f"    {lo} = {lo_at}[-1]", f"    {hi} = {hi_at}[-1]"]
        lines += [f"    {v} = {saved[v]}[-1]" for v in state]
        lines += [f"    if {hi} - {lo} <= {k}:", f"        {lo_at}.pop()", f"        {hi_at}.pop()"]
        lines += [f"        {saved[v]}.pop()" for v in state]
        lines += ["    else:", f"        {mid} = ({lo} + {hi}) // 2"]
        lines += [f"        for {target} in range({r0} + {lo} * {rs}, {r0} + {mid} * {rs}, {rs}):", "            pass"]
        lines += [f"        {hi_at}[-1] = {mid}", f"        {lo_at}.append({mid})", f"        {hi_at}.append({hi})"]
        lines += [f"        {saved[v]}.append({v})" for v in state]
        outer = _parse("\n".join(lines))[0]
        leaf, halve = outer.body[-1].body, outer.body[-1].orelse
        halve[1].body = _without_pushes(_clone(self.loop.body), self.stacks) or [gast.Pass()]
        leaf += self._segment(lo, hi, names, reverse)
        return forward, outer

    def _revolving(self, before, names, state, reverse) -> tuple[list, gast.stmt]:
        """``checkpoint=("revolve", s)``: Griewank's binomial schedule (:mod:`sct.backend.revolve`), at most ``s``
        states kept. The forward sweep keeps the states of the schedule's first pass and runs the last trip with
        its records; the reverse sweep reverses it, then takes the kept states last first: from the state at
        ``_lo``, with ``_hi - _lo`` trips left to reverse, it runs ``revolve_split`` trips forward and keeps the
        state there, or, where one trip is left after them, runs that one with its records and reverses it."""
        n, k, r0, rs, saved = names
        lo_at, hi_at, s, last = self.fresh("_lo_at"), self.fresh("_hi_at"), self.fresh("_s"), self.fresh("_last")
        lo, hi, mid = self.fresh("_lo"), self.fresh("_hi"), self.fresh("_mid")
        target = _src(self.loop.target)
        lines = before + [f"{lo_at} = revolve_snapshots({n}, {k})", f"{hi_at} = ({lo_at} + [{n} - 1])[1:]"]
        lines += [f"for {s} in range(len({lo_at})):", *(f"    {saved[v]}.append({v})" for v in state)]
        lines += [f"    for {target} in range({r0} + {lo_at}[{s}] * {rs}, {r0} + {hi_at}[{s}] * {rs}, {rs}):"]
        lines += ["        pass", f"{last} = max({n} - 1, 0)"]
        forward = _parse("\n".join(lines))
        forward[-2].body[-1].body = _without_pushes(_clone(self.loop.body), self.stacks) or [gast.Pass()]
        first_turn = self._segment(last, n, names, _clone(reverse))
        forward += first_turn[:-1]  # the last trip, with its records
        lines = [f"while len({lo_at}) > 0:", f"    {lo} = {lo_at}[-1]", f"    {hi} = {hi_at}[-1]"]
        lines += [f"    {v} = {saved[v]}[-1]" for v in state]
        lines += [f"    {mid} = {lo} + revolve_split({hi} - {lo}, {k} + 1 - len({lo_at}))"]
        lines += [f"    for {target} in range({r0} + {lo} * {rs}, {r0} + {mid} * {rs}, {rs}):", "        pass"]
        lines += [f"    {hi_at}[-1] = {mid}", f"    if {hi} - {mid} > 1:", f"        {lo_at}.append({mid})"]
        lines += [f"        {hi_at}.append({hi})", *(f"        {saved[v]}.append({v})" for v in state)]
        lines += ["    else:", f"        if {mid} == {lo}:", f"            {lo_at}.pop()", f"            {hi_at}.pop()"]
        lines += [f"            {saved[v]}.pop()" for v in state]
        outer = _parse("\n".join(lines))[0]
        outer.body[-3].body = _without_pushes(_clone(self.loop.body), self.stacks) or [gast.Pass()]
        outer.body[-1].orelse += self._segment(mid, hi, names, reverse)
        return forward, [first_turn[-1], outer]

    def _segment(self, lo: str, hi: str, names, reverse) -> list:
        """Trips ``lo`` to ``hi`` (counted from 0) run again with their records, then reversed."""
        n, k, r0, rs, saved = names
        segment = f"range({r0} + {lo} * {rs}, {r0} + {hi} * {rs}, {rs})"
        lines = [f"{stack} = []" for stack in sorted(self.stacks)]
        lines += [f"for {_src(self.loop.target)} in {segment}:", "    pass"]
        stmts = _parse("\n".join(lines))
        stmts[-1].body = _clone(self.loop.body)
        reverse.iter = _replace(reverse.iter, self.loop.iter, _parse(segment)[0].value)
        return stmts + [reverse]

    def check_repeatable(self) -> None:
        """Refuse a trip that running again would not repeat exactly: one that changes an array or a list in
        place (its states would be one object, seen at its last), or that has an effect (``print``), or
        draws random numbers."""
        for node in gast.walk(gast.Module(body=self.loop.body, type_ignores=[])):
            if isinstance(node, gast.AugAssign) or (
                isinstance(node, gast.Assign) and not all(isinstance(t, gast.Name) for t in node.targets)
            ):
                _refuse(self.stmt, f"it changes a value in place (`{_src(node)}`), so its states are not kept apart")
            if isinstance(node, gast.Expr) and not is_comment(node) and _pushed_on(node) not in self.stacks:
                _refuse(self.stmt, f"running its trips again would repeat `{_src(node)}`")
            if isinstance(node, gast.Call) and _random(node.func, self.resolve):
                _refuse(self.stmt, f"running its trips again would draw new random numbers (`{_src(node)}`)")

    def state(self, before: list) -> list:
        """The variables a trip reads before it writes them, and the loop changes; all assigned before it."""
        try:
            reads, _ = exposed(self.loop.body, _names(self.loop.target, gast.Store))
            _, defined = exposed(before, {a.id for a in self.src.fn.args.args})
        except _Unknown as exc:
            _refuse(self.stmt, f"sct cannot follow its state through a `{exc}` statement")
        carried = sorted((reads & _assigned(self.loop.body)) - self.stacks)
        missing = [v for v in carried if v not in defined]
        if missing:
            _refuse(self.stmt, f"its state ({', '.join(missing)}) is not assigned before the loop begins")
        return carried


def _makes_records(stmt, stacks: set) -> bool:
    """``stmt`` is ``S = []`` for records ``S`` (not ``y[0] = v``, which stores no name: it is kept)."""
    if not isinstance(stmt, gast.Assign) or not all(isinstance(t, gast.Name) for t in stmt.targets):
        return False
    stored = _names(stmt, gast.Store)
    return bool(stored) and stored <= stacks


def _without_pushes(stmts: list, stacks: set) -> list:
    out = []
    for s in stmts:
        if _pushed_on(s) in stacks:
            continue
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and isinstance(s, gast.If | gast.For | gast.While):
                setattr(s, field, _without_pushes(inner, stacks) or ([gast.Pass()] if field == "body" else []))
        out.append(s)
    return out


def _replace(node, old, new):
    """``node`` with each subtree equal to ``old`` replaced by a copy of ``new``."""
    if gast.dump(node) == gast.dump(old):
        return _clone(new)
    for field, value in gast.iter_fields(node):
        if isinstance(value, list):
            setattr(node, field, [_replace(v, old, new) if isinstance(v, gast.AST) else v for v in value])
        elif isinstance(value, gast.AST):
            setattr(node, field, _replace(value, old, new))
    return node


def _clone(node):

    return clone(node)


def _src(node) -> str:
    return unparse(node).strip()


def _parse(text: str) -> list:
    return gast.parse(text).body
