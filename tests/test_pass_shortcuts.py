"""Shortcuts in the optimiser's passes that skip work which cannot change anything (issue 15's compile time).

- ``propagate_copies`` indexes a block only where it holds a copy the whole function lets fold (its
  target assigned once, not returned, neither name updated in place): folding one copy never makes
  another foldable by those tests, so a block without such a copy is left as it is, unindexed.
- ``eliminate_dead_code`` starts from the lines dead as they are and checks a line again only once a
  name it assigns is no longer read (the map from names to their assignments is made only then).
- ``simplify``, ``push_signs``, ``subtract_first`` and ``share_factors`` pass over a line ``delta_v = ...``
  where its kept :class:`Facts` say they would find nothing there (nothing folds; no minus to take out).
- ``scalar_adjoints`` asks :func:`sct.passes.optimize._spread_value` only of a line whose value is a call
  (or a call divided by something).
- ``sink_copies`` counts the function's names once, and again only after a line sinks.

Each is compared with the pass as it was (kept here) over generated adjoints and random programs: the
optimised code must be the same, byte for byte.
"""

import contextlib
import copy
from collections import deque

import gast
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import sct
from sct.backend.codegen import unparse
from sct.passes import algebra, optimize
from tests import programs
from tests.programs import load
from tests.test_shared_facts import _LOOPS  # the loop program both files compile


# ---- the passes as they were ----------------------------------------------------------------
def _propagate_copies_before(fn) -> bool:
    stores, loads, returned, protected = optimize._usage(fn)
    changed, facts, touch = False, optimize.facts_of(fn), optimize.touched(fn)
    for body in list(optimize.bodies(fn)):
        copies = [
            k for k, stmt in enumerate(body) if optimize._is_copy(stmt) and stmt.targets[0].id.startswith("delta_")
        ]
        if not copies:
            continue
        block = optimize._Block(body, facts)
        for k in copies:
            changed |= optimize._fold_copy(block, k, stores, loads, returned, protected, touch)
        body[:] = [stmt for stmt, alive in zip(body, block.alive) if alive]
    return changed


def _eliminate_dead_code_before(fn) -> bool:
    loads, facts = optimize._usage(fn)[1], optimize.facts_of(fn)
    blocks = list(optimize.bodies(fn))
    assigning, pending = {}, deque()
    for body in blocks:
        for stmt in body:
            if isinstance(stmt, gast.Assign | gast.AugAssign):
                for target in facts(stmt).targets:
                    assigning.setdefault(target, []).append(stmt)
                pending.append(stmt)
    dead = set()
    while pending:
        stmt = pending.popleft()
        if id(stmt) in dead or not optimize._is_dead(stmt, loads, facts(stmt).targets):
            continue
        dead.add(id(stmt))
        for name, n in facts(stmt).loads.items():
            loads[name] -= n
            if not loads[name]:
                del loads[name]
                pending.extend(assigning.get(name, ()))
    changed = False
    for body in blocks:
        keep = optimize._drop_orphan_comments([stmt for stmt in body if id(stmt) not in dead])
        changed |= len(keep) != len(body)
        body[:] = keep
    return changed


def _simplify_before(fn) -> bool:
    t = optimize._Simplify(optimize._usage(fn)[3])
    facts, touch = optimize.facts_of(fn), optimize.touched(fn)
    for body in optimize.bodies(fn):
        for stmt in body:
            if not optimize._derivative_line(stmt):
                continue
            if optimize._subtracts(stmt):
                stmt.op = gast.Sub() if isinstance(stmt.op, gast.Add) else gast.Add()
                stmt.value = optimize.unsigned(stmt.value)
                t.changed = True
                touch(stmt)
                t.visit(stmt)
            elif facts(stmt).foldable:
                touch(stmt)
                t.visit(stmt)
    return t.changed


def _push_signs_before(fn) -> bool:
    stores, loads, returned, protected = optimize._usage(fn)
    changed, touch = False, optimize.touched(fn)
    for body in list(optimize.bodies(fn)):
        k = 0
        while k < len(body):
            changed |= optimize._push_sign(body, k, stores, loads, returned, protected, touch)
            k += 1
    return changed


def _subtract_first_before(fn) -> bool:
    changed, facts = False, optimize.facts_of(fn)
    for body in list(optimize.bodies(fn)):
        i = 0
        while i < len(body):
            changed |= optimize._subtract_first(body, i, facts)
            i += 1
    return changed


def _share_factors_before(fn) -> bool:
    stores, loads, returned, protected = optimize._usage(fn)
    single = {v for v, n in loads.items() if n == 1 and stores.get(v) == 1} - returned - protected
    changed, touch, facts = False, optimize.touched(fn), optimize.facts_of(fn)
    for body in list(optimize.bodies(fn)):
        i = 0
        while i < len(body):
            if optimize._share_factor(body, i, single, protected, touch, facts):
                changed = True
            i += 1
    return changed


def _scalar_adjoints_before(fn) -> bool:
    body = fn.body
    stores, loads, returned, protected = optimize._usage(fn)
    changed = False
    for k, stmt in enumerate(body):
        small = optimize._spread_value(stmt)
        if small is None:
            continue
        var, spread_over = stmt.targets[0].id, small[1]
        if stores.get(var) != 1 or loads.get(var) != 1 or var in returned or var in protected:
            continue
        reader = optimize._reader(body, k, var)
        if reader is None or any(spread_over in optimize._stored_names(s) for s in body[k:reader]):
            continue
        same = optimize._broadcasts_again(body, reader, var, spread_over)
        if same is None:
            continue
        stmt.value = optimize._Rename(spread_over, same).visit(small[0])
        optimize.touched(fn)(stmt)
        changed = True
    return changed


_BEFORE = {
    "scalar_adjoints": _scalar_adjoints_before,
    "propagate_copies": _propagate_copies_before,
    "eliminate_dead_code": _eliminate_dead_code_before,
    "simplify": _simplify_before,
    "push_signs": _push_signs_before,
    "subtract_first": _subtract_first_before,
    "share_factors": _share_factors_before,
}


def _passes_before():
    return tuple(_BEFORE.get(run.__name__, run) for run in optimize.PASSES)


def _compare_while_compiling(monkeypatch, f, args) -> list:
    """Compile ``f``'s gradient; at each optimisation, the code the passes as they were write beside ours."""
    seen = []
    real = sct.pipeline.algebra.optimize

    def compare(fn):
        theirs = copy.deepcopy(fn)
        with monkeypatch.context() as m:
            m.setattr(optimize, "PASSES", _passes_before())
            real(theirs)
        real(fn)
        seen.append((unparse(fn), unparse(theirs)))
        return fn

    monkeypatch.setattr(sct.pipeline.algebra, "optimize", compare)
    sct.grad(f, wrt=tuple(range(len(args))))(*args)
    return seen


def _straight(n: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x"]
    lines += [f"    v{i} = np.sin(v{i - 1}) + v{i // 2} * 2.0" for i in range(1, n + 1)]
    return "\n".join(lines + [f"    return np.sum(v{n})"]) + "\n"


@pytest.mark.parametrize("source", [_straight(60), _LOOPS], ids=["straight", "loops"])
def test_the_shortcuts_write_the_same_code(monkeypatch, source):
    args = (np.linspace(0.1, 0.9, 4),) if source != _LOOPS else (np.linspace(0.1, 0.9, 4), np.full(4, 0.4))
    seen = _compare_while_compiling(monkeypatch, load(source), args)
    assert seen and all(ours == theirs for ours, theirs in seen)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs.programs(control=True, max_statements=6))
def test_the_shortcuts_write_the_same_code_on_random_programs(program):
    with pytest.MonkeyPatch.context() as monkeypatch:
        f = load(program)
        args = programs.make_args(program, np.random.default_rng(0))
        with np.errstate(all="ignore"), contextlib.suppress(sct.SctError, ArithmeticError, ValueError):
            seen = _compare_while_compiling(monkeypatch, f, args)
            assert all(ours == theirs for ours, theirs in seen)


def _counting_blocks(monkeypatch) -> list:
    made = []
    real = optimize._Block

    class Counted(real):
        def __init__(self, body, facts=None):
            made.append(body)
            super().__init__(body, facts)

    monkeypatch.setattr(optimize, "_Block", Counted)
    return made


def test_a_block_without_a_foldable_copy_is_not_indexed(monkeypatch):
    """``delta_a`` is assigned twice: its copy cannot fold, and its block is left unindexed."""
    made = _counting_blocks(monkeypatch)
    fn = gast.parse("def f(x, g):\n    delta_a = g\n    delta_a = delta_a * x\n    return delta_a").body[0]
    assert not optimize.propagate_copies(fn)
    assert made == []


def test_a_copy_assigned_once_after_a_change_folds(monkeypatch):
    """The test reads the use counts of the function as it is now: once the second assignment went
    (and the change was said), the copy folds; with the counts of before it would not."""
    made = _counting_blocks(monkeypatch)
    source = "def f(x, g):\n    delta_a = g\n    delta_b = delta_a * x\n    delta_a = x\n    return delta_b"
    fn = gast.parse(source).body[0]
    with optimize.sharing(fn):
        assert not optimize.propagate_copies(fn) and made == []  # delta_a assigned twice
        del fn.body[2]
        optimize.changed(fn)
        assert optimize.propagate_copies(fn) and len(made) == 1
    assert unparse(fn).strip() == "def f(x, g):\n    delta_b = g * x\n    return delta_b"


def test_a_copy_whose_source_is_updated_before_its_use_stays():
    # g += x binds g again (a float) or changes its array: delta_a must keep the value it had
    fn = gast.parse("def f(x, g):\n    delta_a = g\n    g += x\n    delta_b = delta_a * x\n    return delta_b").body[0]
    assert not optimize.propagate_copies(fn)
    assert "delta_a = g" in unparse(fn)


def test_a_copy_of_a_name_updated_in_place_after_its_last_use_folds():
    # delta_ai = delta_c in the LSTM's reversed trip: delta_c's array is updated in place on the next trip
    source = "def f(x, c):\n    delta_a = c\n    delta_b = delta_a * x\n    c += x\n    return delta_b"
    fn = gast.parse(source).body[0]
    assert optimize.propagate_copies(fn)
    assert "delta_b = c * x" in unparse(fn) and "delta_a" not in unparse(fn)


def test_a_chain_of_dead_lines_goes_in_one_call():
    source = "def f(x):\n    a = x * 2.0\n    b = a + 1.0\n    c = b * b\n    d = x + 1.0\n    return d"
    fn = gast.parse(source).body[0]
    assert optimize.eliminate_dead_code(fn)
    assert unparse(fn).strip() == "def f(x):\n    d = x + 1.0\n    return d"
    assert not optimize.eliminate_dead_code(fn)


def test_a_line_with_an_effect_stays_and_keeps_what_it_reads():
    source = "def f(x, tape):\n    a = x * 2.0\n    b = tape.pop() + a\n    c = b * 3.0\n    return x"
    fn = gast.parse(source).body[0]
    assert optimize.eliminate_dead_code(fn)
    assert unparse(fn).strip() == "def f(x, tape):\n    a = x * 2.0\n    b = tape.pop() + a\n    return x"


# ---- sink_copies: one count of the function's names until a line sinks -----------------------
def _sunk_walking_each_time(fn) -> bool:
    """sink_copies as it was: the function walked again for each copy that gets as far as its reads."""
    changed = False
    for body in list(optimize.bodies(fn)):
        i = 0
        while i < len(body):
            if algebra._sink(fn, body, i, None):
                changed = True
                continue
            i += 1
    return changed


_SINKS = (
    "def f(delta_x, delta_y, x, a, delta_a, delta_b):\n"
    "    delta_c = delta_x\n    delta_x = delta_x * a\n    delta_a = delta_a + delta_c * x\n"
    "    delta_d = delta_y\n    delta_y = delta_y * a\n    delta_b = delta_b + delta_d * x\n"
    # read again later: stays (its count must be of the function after the first two sank)
    "    delta_e = delta_x\n    delta_x = delta_x * x\n    delta_a = delta_a + delta_e * a\n    q = delta_e\n"
    # the copy's target stored once more below: stays
    "    delta_g = delta_y\n    delta_y = delta_y * x\n    delta_b = delta_b + delta_g * a\n    delta_g = x\n"
    "    delta_h = delta_a\n    delta_a = delta_a * x\n    delta_b = delta_b + delta_h * a\n"
    "    return delta_x, delta_y, delta_a, delta_b, q, delta_g\n"
)


def test_sink_copies_counts_once_and_sinks_what_it_sank_before(monkeypatch):
    walks = []
    real = algebra._uses
    monkeypatch.setattr(algebra, "_uses", lambda fn: walks.append(fn) or real(fn))
    ours, theirs = gast.parse(_SINKS).body[0], gast.parse(_SINKS).body[0]
    assert algebra.sink_copies(ours)
    walked = len(walks)
    assert _sunk_walking_each_time(theirs)
    assert unparse(ours) == unparse(theirs)
    assert walked == 3, walked  # a count for c, again for d after c sank, again for e after d sank (g, h share it)
    assert len(walks) - walked == 5, len(walks) - walked  # a walk per copy, as it was
    text = unparse(ours)
    assert "delta_c" not in text and "delta_d" not in text and "delta_h" not in text
    assert "delta_e = delta_x" in text and "delta_g = delta_y" in text


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs.programs(control=True, max_statements=6))
def test_sink_copies_as_it_was_on_random_programs(program):
    seen = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        real = sct.pipeline.algebra.optimize

        def compare(fn):
            theirs = copy.deepcopy(fn)
            with monkeypatch.context() as m:
                m.setattr(algebra, "sink_copies", _sunk_walking_each_time)
                real(theirs)
            real(fn)
            seen.append((unparse(fn), unparse(theirs)))
            return fn

        monkeypatch.setattr(sct.pipeline.algebra, "optimize", compare)
        f = load(program)
        args = programs.make_args(program, np.random.default_rng(0))
        with np.errstate(all="ignore"), contextlib.suppress(sct.SctError, ArithmeticError, ValueError):
            sct.grad(f, wrt=tuple(range(len(args))))(*args)
    assert all(ours == theirs for ours, theirs in seen)


@pytest.mark.parametrize(
    "source",
    [
        "def f(i, delta_out):\n    j = i ** 2\n    delta_j = np.full_like(j, 1.0) / np.size(j)\n"
        "    delta_i = delta_j * 2 * i\n    return delta_i",
        "def f(i, delta_out):\n    j = i * i\n    delta_j = np.full_like(j, 1.0)\n    delta_i = delta_j * 2.0 * i\n"
        "    return delta_i",
        "def f(i, g):\n    j = -i\n    delta_j = np.broadcast_to(g, np.shape(j))\n    delta_i = -delta_j * i\n"
        "    return delta_i",
        "def f(i, delta_out):\n    j = i ** 2\n    delta_j = np.full_like(j, 1.0) * np.size(j)\n"
        "    delta_i = delta_j * 2 * i\n    return delta_i",
    ],
)
def test_scalar_adjoints_as_it_was(source):
    ours, theirs = gast.parse(source).body[0], gast.parse(source).body[0]
    assert optimize.scalar_adjoints(ours) == _scalar_adjoints_before(theirs)
    assert unparse(ours) == unparse(theirs)
    if "* np.size" not in source:
        assert "full_like" not in unparse(ours) and "broadcast_to" not in unparse(ours), unparse(ours)
