"""The algebra's rewrites are linear in a block's length and write what the rule says (issue 15).

``merge_sums`` once let each candidate ``v = A`` scan the rest of its block for the line it goes
into: quadratic in a long adjoint (27 of 34 profiled seconds at 1,000 statements). It now makes one
pass carrying the open candidates. ``_reference_merge_sums`` below is the scan it replaced, kept as
the specification: on random blocks (sums, reads, in-place updates, impure calls, comments, nested
blocks) and on generated adjoints, both must write the same text. Counting the statements the
effects of which the pass computes holds it linear without timing anything.
"""

import copy

import gast
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct.backend.codegen import _COMMENT, is_comment, unparse
from sct.passes import algebra
from sct.passes.optimize import _added, _comment_text, _head, _stored_names, bodies


# ---- the scan it replaced, as the specification ----------------------------------------------
def _reference_merge_sums(fn) -> bool:
    changed = False
    for body in list(bodies(fn)):
        i = 0
        while i < len(body):
            j = _reference_sum_into(body, i)
            if j is None:
                i += 1
                continue
            first, second = body[i], body[j]
            op, term = _added(second, first.targets[0].id)
            merged = gast.BinOp(left=first.value, op=op, right=term)
            if len(first.targets[0].id) + 3 + len(unparse(merged)) > algebra._LONG:
                i += 1
                continue
            second.value = merged
            _reference_join_comment(body, i, j)
            del body[i]
            changed = True
    return changed


def _reference_join_comment(body, gone, kept) -> None:
    head, own = _head(body, kept), gone - 1
    after = body[gone + 1] if gone + 1 < len(body) else None
    alone = after is None or is_comment(after) or isinstance(after, gast.Return) or gone + 1 == kept
    if head is None or own < 0 or not is_comment(body[own]) or not alone or own == head:
        return
    body[head].value.args[0].value = "; ".join([_comment_text(body[head]), _comment_text(body[own])])


def _reference_sum_into(body, i):
    stmt = body[i]
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return None
    v = stmt.targets[0].id
    if not v.startswith("delta_") or not algebra._pure(stmt.value):
        return None
    reads = algebra._loads(stmt.value)
    for j in range(i + 1, len(body)):
        later = body[j]
        touched = algebra._loads(later) | _stored_names(later)
        if v in touched:
            added = _added(later, v)
            if added is None or not isinstance(later, gast.Assign) or not isinstance(added[0], gast.Add | gast.Sub):
                return None
            return j
        if algebra._changed(later) & reads or algebra._updates_in_place(later):
            return None
    return None


def _reference_drop_round_trips(fn) -> bool:
    changed = False
    for body in list(bodies(fn)):
        k = 0
        while k < len(body):
            if _reference_round_trip(body, k):
                del body[k]
                changed = True
                continue
            k += 1
    return changed


def _reference_round_trip(body, j) -> bool:
    copy = algebra._copy(body[j])
    if copy is None or not copy[0].startswith("delta_"):
        return False
    s, t = copy
    for i in range(j - 1, -1, -1):
        stored = _stored_names(body[i])
        if algebra._copy(body[i]) == (t, s):
            return True
        if stored & {s, t}:
            return False
    return False


# ---- random blocks ------------------------------------------------------------------------------
_NAMES = ["delta_a", "delta_b", "delta_c", "x", "y"]


@st.composite
def _expr(draw, depth=0):
    kind = draw(st.integers(0, 5 if depth < 2 else 1))
    if kind == 0:
        return draw(st.sampled_from(_NAMES))
    if kind == 1:
        return draw(st.sampled_from(["2.0", "1.5", "x * y"]))
    if kind == 2:
        return f"np.sin({draw(_expr(depth + 1))})"
    if kind == 3:
        return f"helper({draw(_expr(depth + 1))})"  # impure: it may change what it is passed
    if kind == 4:
        return f"unbroadcast({draw(_expr(depth + 1))}, x)"
    return f"({draw(_expr(depth + 1))} {draw(st.sampled_from(['+', '-', '*']))} {draw(_expr(depth + 1))})"


@st.composite
def _line(draw, depth=0):
    target = draw(st.sampled_from(_NAMES[:3] + ["x"]))
    kind = draw(st.integers(0, 10 if depth < 1 else 7))
    if kind == 10:  # a copy and its way back, maybe with lines between (from the lines around)
        source = draw(st.sampled_from([n for n in _NAMES[:3] if n != target] + ["x"]))
        back = [f"{source} = {target}"] if source.startswith("delta_") else []
        return [f"{target} = {source}", *back]
    if kind == 0:  # a copy: round trips are made of them
        return [f"{target} = {draw(st.sampled_from(_NAMES[:3]))}"]
    if kind <= 2:
        return [f"{target} = {draw(_expr())}"]
    if kind <= 4:
        return [f"{target} = {target} {draw(st.sampled_from(['+', '-', '*']))} {draw(_expr())}"]
    if kind == 5:
        return [f"{target} += {draw(_expr())}"]
    if kind == 6:
        return [f"{_COMMENT}({draw(st.sampled_from(['a', 'b', 'c = d']))!r})"]
    if kind == 7:
        return [f"{target}[0] = {draw(_expr())}" if draw(st.booleans()) else f"add_at({target}, 0, y)"]
    inner = draw(st.lists(_line(depth + 1), min_size=1, max_size=4))
    return ["if x:"] + ["    " + line for lines in inner for line in lines]


@st.composite
def _block(draw):
    lines = [line for lines in draw(st.lists(_line(), min_size=1, max_size=14)) for line in lines]
    lines.append(draw(st.sampled_from(["return (delta_a, delta_b)", "return delta_c", f"{_COMMENT}('end')"])))
    return "def f(x, y, delta_a, delta_b, delta_c):\n" + "".join(f"    {line}\n" for line in lines)


def _both(source: str):
    ours, theirs = gast.parse(source).body[0], gast.parse(source).body[0]
    return (algebra.merge_sums(ours), unparse(ours)), (_reference_merge_sums(theirs), unparse(theirs))


@settings(max_examples=400, deadline=None)
@given(_block())
def test_merge_sums_writes_what_the_scan_wrote(source):
    ours, theirs = _both(source)
    assert ours == theirs


@settings(max_examples=300, deadline=None)
@given(_block())
def test_drop_round_trips_drops_what_the_scan_dropped(source):
    ours, theirs = gast.parse(source).body[0], gast.parse(source).body[0]
    assert (algebra.drop_round_trips(ours), unparse(ours)) == (_reference_drop_round_trips(theirs), unparse(theirs))


def test_round_trips_go_and_stay_as_the_scan_says():
    source = (
        "def f(x, delta_a, delta_b):\n    delta_b = delta_a\n    y = x\n    delta_a = delta_b\n"
        "    delta_c = delta_a\n    delta_a = x\n    delta_a = delta_c\n    return (delta_a, delta_b)\n"
    )
    ours, theirs = gast.parse(source).body[0], gast.parse(source).body[0]
    assert algebra.drop_round_trips(ours) and _reference_drop_round_trips(theirs)
    assert unparse(ours) == unparse(theirs)
    assert "delta_a = delta_b" not in unparse(ours) and "delta_a = delta_c" in unparse(ours)


def test_a_chain_of_sums_is_one_line_and_the_comments_go_with_it():
    source = (
        "def f(x, y, delta_a, delta_b):\n"
        f"    {_COMMENT}('one')\n    delta_a = x * y\n    delta_b = np.sin(x)\n"
        f"    {_COMMENT}('two')\n    delta_a = delta_a + 2.0\n    delta_a = delta_a - y\n"
        "    return (delta_a, delta_b)\n"
    )
    ours, theirs = _both(source)
    assert ours == theirs and ours[0]
    assert "delta_a = x * y + 2.0 - y" in ours[1]


# ---- generated adjoints ---------------------------------------------------------------------------
def _straight(n: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x"]
    lines += [f"    v{i} = np.sin(v{i - 1}) + v{i // 2}" for i in range(1, n + 1)]
    return "\n".join(lines + [f"    return np.sum(v{n})"]) + "\n"


def test_generated_adjoints_merge_as_the_scan_merged(monkeypatch, tmp_path):
    from tests.programs import load

    seen = []
    original = algebra.merge_sums

    def checked(fn):
        reference = copy.deepcopy(fn)
        expected = _reference_merge_sums(reference)
        got = original(fn)
        seen.append(got)
        assert (got, unparse(fn)) == (expected, unparse(reference))
        return got

    monkeypatch.setattr(algebra, "merge_sums", checked)
    x = np.linspace(0.1, 0.9, 4)
    small = "import numpy as np\n\n\ndef f(x):\n    a = x * x\n    b = a + x\n    c = a * b + x\n"
    small += "    return np.sum(c * a)\n"
    for source in (_straight(60), small):
        f = load(source)
        sct.grad(f)(x)
    assert any(seen)


def test_merge_sums_is_linear(monkeypatch):
    """The statements it reads grow as the adjoint does (under the scan they grew as its square: 9.5 million
    reads at 1,000 statements). A read is a walk of a statement: ``_loads`` or its facts found anew."""
    from sct.passes import optimize
    from tests.programs import load

    counts, inside = [], []
    loads, facts, merge = algebra._loads, optimize.Facts, algebra.merge_sums

    def counted(node):
        counts[-1] += 1
        return loads(node)

    class Counted(facts):
        __slots__ = ()

        def __init__(self, stmt, facts=None):
            counts[-1] += bool(inside)
            super().__init__(stmt, facts)

    def merging(fn):
        inside.append(fn)
        try:
            return merge(fn)
        finally:
            inside.pop()

    monkeypatch.setattr(algebra, "_loads", counted)
    monkeypatch.setattr(optimize, "Facts", Counted)
    monkeypatch.setattr(algebra, "merge_sums", merging)
    x = np.linspace(0.1, 0.9, 4)
    for n in (100, 1000):
        f = load(_straight(n))
        counts.append(0)
        sct.grad(f)(x)
    assert 0 < counts[1] < 15 * counts[0], counts


# ---- the optimiser's fixed point --------------------------------------------------------------------
def _rounds(fn):
    """The passes in rounds until a round changes nothing: the fixed point the optimiser stops at."""
    from sct.passes import optimize

    changed = True
    while changed:
        changed = False
        for p in optimize.PASSES:
            changed |= bool(p(fn))
    return fn


def test_the_optimiser_stops_where_rounds_stop_with_fewer_passes(monkeypatch):
    from sct.passes import optimize
    from tests.programs import load

    ran, checked = [], []
    real = optimize.optimize

    def counted(p):
        def run(fn):
            ran[-1] += 1
            return p(fn)

        return run

    def compare(fn):
        reference = copy.deepcopy(fn)
        monkeypatch.setattr(optimize, "PASSES", tuple(counted(p) for p in passes))
        ran.append(0)
        _rounds(reference)
        ran.append(0)
        real(fn)
        monkeypatch.setattr(optimize, "PASSES", passes)
        assert unparse(fn) == unparse(reference)
        checked.append((ran[-2], ran[-1]))
        return fn

    passes = optimize.PASSES
    monkeypatch.setattr(algebra.passes, "optimize", compare)
    x = np.linspace(0.1, 0.9, 4)
    sources = [
        _straight(30),
        "import numpy as np\n\n\ndef f(x):\n    s = x\n    for i in range(3):\n"
        "        s = np.sin(s) * x + s\n    return np.sum(s * s)\n",
    ]
    for source in sources:
        sct.grad(load(source))(x)
    assert checked and all(ours <= theirs for theirs, ours in checked)
    assert any(ours < theirs for theirs, ours in checked)


# ---- liveness without a set per statement ----------------------------------------------------------
def _golden_functions():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parent / "golden").glob("*.py")):
        for node in gast.walk(gast.parse(path.read_text())):
            if isinstance(node, gast.FunctionDef):
                yield path.name, node


def test_dying_reads_what_the_live_sets_say():
    """``_Liveness.dying`` (what releasing reads, one set walking back) against ``block`` (a set per statement)."""
    from sct.passes import liveness

    checked = 0
    for where, fn in _golden_functions():
        try:
            liveness._check(fn.body, in_loop=False)
        except liveness._GiveUp:
            continue
        blocks = [(fn.body, frozenset(), None, None)]
        while blocks:
            stmts, out, brk, cont = blocks.pop()
            live = liveness._Liveness()
            lives = live.block(stmts, out, brk, cont)
            around, touched = liveness._Liveness().dying(stmts, out, brk, cont)
            for k, stmt in enumerate(stmts):
                if isinstance(stmt, gast.If | gast.For | gast.While):
                    assert around[k] == (lives[k], lives[k + 1]), (where, k)
                    if isinstance(stmt, gast.If):
                        blocks += [(stmt.body, lives[k + 1], brk, cont), (stmt.orelse, lives[k + 1], brk, cont)]
                    else:
                        head = live.head(stmt, lives[k + 1])
                        blocks.append((stmt.body, head, lives[k + 1], head))
                elif k in touched:
                    names, dead = touched[k]
                    assert dead == names - lives[k + 1], (where, k)
                    checked += 1
    assert checked > 100
