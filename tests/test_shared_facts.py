"""What the optimiser's passes share (sct.passes.optimize.sharing): each statement's facts, kept until
the statement changes, and the rewrites of the adjoint's algebra run only while they may still change
something. A kept fact that is out of date would make a pass rewrite code on what it no longer says."""

import contextlib
import copy
import gc
from collections import Counter
from pathlib import Path

import gast
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import sct
from sct.backend.codegen import unparse
from sct.passes import algebra, optimize
from tests import programs
from tests.programs import load

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "sct").rglob("*.py"))[::4] + sorted((ROOT / "tests" / "golden").glob("*.py"))


def _plain_facts(stmt) -> dict:
    """Each field of :class:`Facts`, from ``gast.walk`` and the helpers the passes used before."""
    names = [n for n in gast.walk(stmt) if isinstance(n, gast.Name)]
    loads, stores = {}, {}
    for n in names:
        if isinstance(n.ctx, gast.Load):
            loads[n.id] = loads.get(n.id, 0) + 1
        elif isinstance(n.ctx, gast.Store | gast.Param):
            stores[n.id] = stores.get(n.id, 0) + 1
    in_place, impure, returned = set(), set(), set()
    for node in gast.walk(stmt):
        optimize._note_in_place(node, in_place)
        if isinstance(node, gast.Call) and not optimize.pure_call(node):
            impure |= algebra._loads(node)
        if isinstance(node, gast.Return):
            returned |= optimize._returned_names(node)
    return {
        "loads": loads,
        "stores": stores,
        "assigned": {n.id for n in names if isinstance(n.ctx, gast.Store)},
        "changed": {n.id for n in names if not isinstance(n.ctx, gast.Load)},
        "in_place": in_place,
        "impure": impure,
        "returned": returned,
        "pure": algebra._pure(stmt),
        "number_sums": any(optimize.number_sum(n) is not None for n in gast.walk(stmt)),
        "foldable": optimize._derivative_line(stmt) and optimize._foldable(stmt),
        "nested": any(isinstance(n, gast.stmt) and n is not stmt for n in gast.walk(stmt)),
        "targets": optimize._target_names(stmt) if isinstance(stmt, gast.Assign | gast.AugAssign) else (),
        "movable": optimize._movable_factors(stmt),
        "adjoint": _adjoint(stmt),
        "minus": _adjoint(stmt) is not None and optimize.unsigned(stmt.value) is not None,
    }


def _adjoint(stmt):
    """``delta_v`` of ``delta_v = ...`` (one name assigned), else None."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id if stmt.targets[0].id.startswith("delta_") else None
    return None


def test_facts_of_a_users_line_with_complex_numbers():
    """Only adjoint lines fold: the facts of any other line do not try (``2j * 3`` would not fold)."""
    stmt = gast.parse("z = 2j * 3 + x").body[0]
    assert not optimize.Facts(stmt).foldable
    assert optimize.Facts(stmt).loads == {"x": 1}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_facts_are_what_plain_walks_find(path):
    tree = gast.parse(path.read_text())
    for stmt in (n for n in gast.walk(tree) if isinstance(n, gast.stmt)):
        facts = optimize.Facts(stmt)
        found = {a: getattr(facts, a) for a in optimize.Facts.__slots__ if a not in ("read", "stored")}
        assert found == _plain_facts(stmt), unparse(stmt)
        assert Counter(facts.read) == facts.loads and list(dict.fromkeys(facts.read)) == list(facts.loads)
        assert Counter(facts.stored) == facts.stores and list(dict.fromkeys(facts.stored)) == list(facts.stores)


def test_a_statement_changed_in_place_is_walked_again_once_touched():
    fn = gast.parse("def f(x, g):\n    delta_a = g * 2.0\n    delta_b = delta_a + x\n    return delta_b").body[0]
    line = fn.body[1]
    with optimize.sharing(fn):
        facts = optimize.facts_of(fn)
        assert facts(line) is facts(line)  # kept
        assert set(facts(line).loads) == {"delta_a", "x"}
        line.value.right = gast.Name(id="y", ctx=gast.Load(), annotation=None, type_comment=None)
        assert set(facts(line).loads) == {"delta_a", "x"}  # out of date: nothing said it changed
        optimize.touched(fn)(line)
        assert set(facts(line).loads) == {"delta_a", "y"}
    assert optimize._USAGE == {}


def test_a_kept_fact_out_of_date_is_caught_when_checking(monkeypatch):
    monkeypatch.setattr(optimize, "CHECK_FACTS", True)
    fn = gast.parse("def f(x, g):\n    delta_a = g * 2.0\n    return delta_a").body[0]
    with optimize.sharing(fn):
        facts = optimize.facts_of(fn)
        facts(fn.body[0])
        fn.body[0].value = gast.Name(id="x", ctx=gast.Load(), annotation=None, type_comment=None)
        with pytest.raises(AssertionError, match="stale facts"):
            facts(fn.body[0])


def test_a_loop_gathers_its_statements_facts_each_time():
    """A loop's facts are never kept: a change inside it (a line removed, a line changed) shows at once."""
    fn = gast.parse("def f(x):\n    for i in range(3):\n        delta_a = x * i\n        delta_b = delta_a\n").body[0]
    loop = fn.body[0]
    with optimize.sharing(fn):
        facts = optimize.facts_of(fn)
        assert facts(loop).nested and facts(loop).assigned == {"i", "delta_a", "delta_b"}
        del loop.body[1]
        assert facts(loop).assigned == {"i", "delta_a"}
        assert facts(loop) == optimize.Facts(loop)


def _straight(n: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x"]
    lines += [f"    v{i} = np.sin(v{i - 1}) + v{i // 2}" for i in range(1, n + 1)]
    return "\n".join(lines + [f"    return np.sum(v{n})"]) + "\n"


_LOOPS = """import numpy as np


def f(x, y):
    s = x
    t = y * 0.5
    for i in range(3):
        m = -s
        s = np.sin(s) * m + s * t
        if i > 0:
            s = s - np.exp(-s) * t
    return np.sum(s * s) + np.mean(t)
"""


@pytest.mark.parametrize("source", [_straight(80), _LOOPS], ids=["straight", "loops"])
def test_every_pass_says_what_it_changed_on_generated_adjoints(monkeypatch, source):
    """With CHECK_FACTS each kept fact is checked against a new walk at every use: a pass that changed a
    statement without saying so fails here (as does one that changed the function and said nothing)."""
    monkeypatch.setattr(optimize, "CHECK_FACTS", True)
    f = load(source)
    x, y = np.linspace(0.1, 0.9, 4), np.linspace(0.3, 0.6, 4)
    args = (x,) if source != _LOOPS else (x, y)
    grad = sct.grad(f, wrt=tuple(range(len(args))))
    assert grad(*args) is not None


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs.programs(control=True, max_statements=6))
def test_every_pass_says_what_it_changed_on_random_programs(program):
    optimize.CHECK_FACTS = True
    try:
        f = load(program)
        args = programs.make_args(program, np.random.default_rng(0))
        # refused, or f fails for its own reasons: what a stale fact raises is an AssertionError
        with np.errstate(all="ignore"), contextlib.suppress(sct.SctError, ArithmeticError, ValueError):
            sct.grad(f, wrt=tuple(range(len(args))))(*args)
    finally:
        optimize.CHECK_FACTS = False


def _optimized_plainly(fn):
    """algebra.optimize as it was: every rewrite in every round, nothing shared between the passes."""
    fn = copy.deepcopy(fn)

    def rounds(fn):
        unchanged, k = 0, 0
        while unchanged < len(optimize.PASSES):
            unchanged = 0 if optimize.PASSES[k](fn) else unchanged + 1
            k = (k + 1) % len(optimize.PASSES)

    rounds(fn)
    while algebra.rewrite(fn):
        rounds(fn)
    return fn


@pytest.mark.parametrize("source", [_straight(40), _LOOPS], ids=["straight", "loops"])
def test_sharing_and_skipping_rewrites_write_the_same_code(monkeypatch, source):
    seen = []
    real = algebra.optimize

    def compare(fn):
        expected = _optimized_plainly(fn)
        real(fn)
        seen.append((unparse(fn), unparse(expected)))
        return fn

    monkeypatch.setattr(sct.pipeline.algebra, "optimize", compare)
    f = load(source)
    args = (np.linspace(0.1, 0.9, 4),) if source != _LOOPS else (np.linspace(0.1, 0.9, 4), np.full(4, 0.4))
    sct.grad(f, wrt=tuple(range(len(args))))(*args)
    assert seen and all(ours == theirs for ours, theirs in seen)


def test_facts_outlive_changes_to_other_statements(monkeypatch):
    """Over a whole optimisation each statement is walked for its facts about once, not once per change."""
    made = []
    real = optimize.Facts

    class Counted(real):
        __slots__ = ()

        def __init__(self, stmt, facts=None):
            made.append(stmt)
            super().__init__(stmt, facts)

    monkeypatch.setattr(optimize, "Facts", Counted)
    runs = []
    real_optimize = algebra.optimize

    def counted(fn):
        statements, before = sum(isinstance(n, gast.stmt) for n in gast.walk(fn)), len(made)
        with optimize.sharing(fn) as shared:
            real_optimize(fn)
            runs.append((statements, len(made) - before, shared.version))
        return fn

    monkeypatch.setattr(sct.pipeline.algebra, "optimize", counted)
    sct.grad(load(_straight(200)))(np.linspace(0.1, 0.9, 4))
    assert runs
    for statements, walked, changes in runs:
        assert changes >= 3  # several changes, each of which once meant walking every statement again
        assert walked < 1.5 * statements, runs


_SNIPPETS = {  # a pass, and code it changes
    "simplify": ("def f(c, delta_d):\n    delta_d += -(c * 1.0)\n    return delta_d",),
    "scalar_adjoints": (
        "def f(i, delta_out):\n    j = i ** 2\n    delta_j = np.full_like(j, 1.0) / np.size(j)\n"
        "    delta_i = delta_j * 2 * i\n    return delta_i",
    ),
    "push_signs": (
        "def f(g, h, delta_h):\n    delta_g = -delta_h * h / g\n    delta_e = delta_g * h\n"
        "    delta_d = -delta_e\n    return delta_d",
    ),
    "merge_contributions": (
        "def f(v, delta_n):\n    m = -v\n    n = m * v\n    delta_v = delta_n * m\n"
        "    delta_v = delta_v - delta_n * v\n    return delta_v",
    ),
    "share_factors": ("def f(g, p, q):\n    delta_d = g * p\n    delta_d = delta_d + g * q\n    return delta_d",),
    "propagate_copies": ("def f(x, g):\n    delta_a = g\n    delta_b = delta_a * x\n    return delta_b",),
    "tape_columns": (
        "def f(x, delta_out):\n    tape = []\n    for t in range(3):\n        tape.append((x, np.shape(x)))\n"
        "    for t in range(3):\n        x, f_shape = tape.pop()\n        delta_out = delta_out * x\n"
        "    return delta_out",
    ),
    "fold_number_sums": ("def f(x):\n    delta_a = np.sum(1.0) * x\n    return delta_a",),
    "merge_sums": (
        "def f(a, b, x):\n    delta_y = a * x\n    delta_z = b\n    delta_y = delta_y + b * 2.0\n"
        "    return delta_y, delta_z",
    ),
    "sink_copies": (
        "def f(x, delta_x, delta_y):\n    delta_b = delta_x\n    delta_x = delta_x * 2.0\n"
        "    delta_y = delta_b * x\n    return delta_x, delta_y",
    ),
}


@pytest.mark.parametrize("name", sorted(_SNIPPETS))
def test_each_pass_says_which_statements_it_changed(monkeypatch, name):
    """Every statement's facts kept, the pass run, and every kept fact checked against a new walk."""
    (source,) = _SNIPPETS[name]
    run = getattr(optimize, name, None) or getattr(algebra, name)
    fn = gast.parse(source).body[0]
    with optimize.sharing(fn):
        facts = optimize.facts_of(fn)
        for node in gast.walk(fn):
            if isinstance(node, gast.stmt):
                facts(node)
        assert run(fn), unparse(fn)  # it changed something
        monkeypatch.setattr(optimize, "CHECK_FACTS", True)
        for node in gast.walk(fn):
            if isinstance(node, gast.stmt):
                facts(node)  # raises if a kept fact is out of date


@pytest.mark.parametrize("path", FILES[:8], ids=lambda p: p.name)
def test_a_copied_tree_is_what_deepcopy_copies(path):
    tree = gast.parse(path.read_text())
    copied = optimize._copied(tree)
    assert gast.dump(copied, include_attributes=True) == gast.dump(copy.deepcopy(tree), include_attributes=True)
    originals = {id(n) for n in gast.walk(tree)}
    assert not any(id(n) in originals for n in gast.walk(copied))


def test_kept_facts_are_freed_without_the_cycle_collector():
    """The facts a sharing keeps go with it: nothing of a compile is left for the cycle collector (a closure
    that named itself kept every statement the passes saw alive until a collection)."""
    text = "import numpy as np\n\ndef f(x):\n    a = np.sin(x) * x\n    b = a / (1.0 + x)\n    return np.sum(b * a)\n"
    fn = load(text)
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        sct.grad(fn)(np.linspace(0.1, 0.9, 4))
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, optimize.Facts | optimize._Kept)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()
    assert left == []
