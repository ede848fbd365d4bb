"""The optimiser's and the container analysis' cheaper bookkeeping gives what the plain work gives (issue 15).

``optimize._walk_usage`` counts each statement's loads and stores from the names its facts list
(``Facts.read``/``stored``) in one C loop: the counts, and their order, are those of a plain walk,
after changes too. ``containers.structures`` finds a statement's reads in the walk that looks
for module globals: the same reads as ``_reads``, the same globals as ``_read_names``.
``eliminate_dead_code``'s ``_is_dead`` asks whether a line is read before whether it copies itself.
"""

import inspect

import functions as F
import gast
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import pipeline
from sct.frontend import parse as frontend
from sct.ir import Assign, For, walk
from sct.passes import containers, optimize

CORPUS = [f for _, f in inspect.getmembers(F, inspect.isfunction) if f.__module__ == F.__name__]


def _fn(source: str):
    return gast.parse(source).body[0]


def _ordered(usage):
    stores, loads, returned, protected = usage
    return list(stores.items()), list(loads.items()), returned, protected


@pytest.mark.parametrize("f", CORPUS[::3], ids=lambda f: f.__name__)
def test_shared_use_counts_are_a_plain_walks_in_its_order(f):
    src = sct.source(f, optimize=False)
    module = gast.parse(src)
    for fn in (n for n in module.body if isinstance(n, gast.FunctionDef)):
        with optimize.sharing(fn):
            shared = optimize._usage(fn)
            assert _ordered(shared) == _ordered(_merged_as_before(fn)), f.__name__  # the same order
        assert shared == optimize._walk_usage(fn), f.__name__  # the same counts as a plain walk


def _merged_as_before(fn):
    """The tables as :func:`optimize._walk_usage` put them together before: statement by statement."""
    roots = [v for a in optimize.child_fields(type(fn)) if a != "body" for v in _listed(getattr(fn, a, None))]
    stores, loads, returned, protected = optimize._count_usage(roots)
    facts = optimize.facts_of(fn)
    for stmt in fn.body:
        known = facts(stmt)
        for name, n in known.loads.items():
            loads[name] = loads.get(name, 0) + n
        for name, n in known.stores.items():
            stores[name] = stores.get(name, 0) + n
        returned |= known.returned
        protected |= known.in_place
    return stores, loads, returned, protected


def _listed(value):
    return value if type(value) is list else [value]


def test_shared_use_counts_follow_a_touched_line():
    """A stale ``read`` list would leave the counts of the line as it was."""
    fn = _fn("def f(x, g):\n    delta_a = g * x\n    delta_b = delta_a + x\n    return delta_b")
    with optimize.sharing(fn) as shared:
        assert optimize._usage(fn)[1] == {"g": 1, "x": 2, "delta_a": 1, "delta_b": 1}
        fn.body[1].value.right = gast.Name(id="g", ctx=gast.Load(), annotation=None, type_comment=None)
        optimize.touched(fn)(fn.body[1])
        shared.forget()
        assert optimize._usage(fn)[1] == {"g": 2, "x": 1, "delta_a": 1, "delta_b": 1}
        assert _ordered(optimize._usage(fn)) == _ordered(_merged_as_before(fn))


def test_dead_lines_are_the_same_whichever_question_comes_first():
    fn = _fn(
        "def f(x, delta_x):\n    delta_x = delta_x\n    y = x\n    z = y\n    w = q.pop()\n"
        "    (a, b) = x\n    u = a\n    return u"
    )
    loads = optimize._walk_usage(fn)[1]
    found = [optimize._is_dead(stmt, loads) for stmt in fn.body]
    assert found == [True, False, True, False, False, False, False]
    for stmt in fn.body:  # the order of the questions as it was
        old = (
            isinstance(stmt, gast.Assign)
            and optimize._is_copy(stmt)
            and getattr(stmt.value, "id", None) == stmt.targets[0].id
        ) or (
            isinstance(stmt, gast.Assign)
            and all(t not in loads for t in optimize._target_names(stmt))
            and not optimize._has_effect(stmt.value)
        )
        assert optimize._is_dead(stmt, loads) == old


def _ir(f):
    parsed = frontend.parse(f)
    ir, _ = pipeline.anf.lower(parsed, has_aux=False, structures={}, callables={}, objects={})
    return ir


CONTAINERS = [
    "def f(x):\n    xs = [x, x]\n    ys = xs + [x]\n    t = (x, xs)\n    return t[1][0] + ys[2]",
    "def f(x):\n    xs = []\n    for i in range(3):\n        xs.append(x * i)\n    return sum(xs)",
    "def f(x):\n    d = {'a': x, 'b': [x]}\n    return d['a'] + d['b'][0] + G[0]",
]


@pytest.mark.parametrize("f", CORPUS[::2] + CONTAINERS, ids=lambda f: getattr(f, "__name__", "source"))
def test_structures_read_what_the_separate_walks_read(f):
    if isinstance(f, str):
        from tests.programs import load

        f = load("import numpy as np\nG = [1.0, 2.0]\n\n\n" + f)
    try:
        ir = _ir(f)
    except sct.errors.SctError:
        pytest.skip("not lowered alone")
    calls = []
    original = containers.dataflow.solve

    def solve(stmts, reads, update, limit=None):
        for stmt in stmts:  # each statement's reads as _reads finds them (a set: solve reads them as one)
            assert set(reads(stmt)) == set(containers._reads(stmt))
        calls.append(len(stmts))
        return original(stmts, reads, update, limit)

    containers.dataflow.solve = solve
    try:
        found = containers.structures(ir, {})
    finally:
        containers.dataflow.solve = original
    assert calls
    # the globals, as the separate walk found them, in its order
    assigns = [s for s in walk(ir.body) if isinstance(s, Assign | For)]
    assigned = {s.target for s in assigns}
    globals_ = []
    for stmt in assigns:
        for node in containers._read_names(stmt.value if isinstance(stmt, Assign) else stmt.iter):
            if node.id not in assigned and node.id not in ir.params and node.id not in globals_:
                globals_.append(node.id)
    assert [v for v in found if v not in ir.params and v not in assigned][: len(globals_)] == globals_


def test_read_only_use_counts_cannot_change_what_is_shared():
    """``_usage(fn, copy=False)`` gives views of the shared tables: a pass that changed them would raise,
    not leave the next pass stale counts; ``_usage(fn)`` gives copies of its own."""
    fn = _fn("def f(x, g):\n    delta_a = g * x\n    delta_b = delta_a\n    return delta_b")
    with optimize.sharing(fn):
        stores, loads, returned, protected = optimize._usage(fn, copy=False)
        assert loads["x"] == 1 and "delta_b" in returned
        with pytest.raises(TypeError):
            loads["x"] = 0
        with pytest.raises(AttributeError):
            protected.add("x")
        mine = optimize._usage(fn)[1]
        mine["x"] = 0
        assert optimize._usage(fn, copy=False)[1]["x"] == 1


def test_bodies_in_the_order_they_were_found():
    fn = _fn(
        "def f(x):\n    for i in y:\n        if i:\n            a = 1\n        else:\n            b = 2\n"
        "    while x:\n        c = 3\n    d = 4"
    )
    assert [[id(s) for s in body] for body in optimize.bodies(fn)] == [[id(s) for s in b] for b in _bodies(fn)]
    assert len(list(optimize.bodies(fn))) == 7


def _bodies(fn):
    """:func:`optimize.bodies` as it was, a list comprehension choosing the compound statements."""
    pending = [fn]
    while pending:
        node = pending.pop(0)
        for attr in ("body", "orelse"):
            body = getattr(node, attr, None)
            if isinstance(body, list):
                yield body
                pending += [s for s in body if type(s) in optimize._COMPOUND_KINDS]


def _solve_as_before(stmts, reads, update, limit=None):
    """:func:`sct.analysis.dataflow.solve` as it was: every statement's readers found before the first sweep."""
    from collections import deque

    readers = {}
    for i, stmt in enumerate(stmts):
        for var in set(reads(stmt)):
            readers.setdefault(var, []).append(i)
    queue, queued = deque(range(len(stmts))), [True] * len(stmts)
    changes = {}
    while queue:
        i = queue.popleft()
        queued[i] = False
        stmt = stmts[i]
        if not update(stmt):
            continue
        if limit is not None:
            changes[stmt.target] = changes.get(stmt.target, 0) + 1
            if changes[stmt.target] > limit:
                return False
        for j in readers.get(stmt.target, ()):
            if not queued[j]:
                queued[j] = True
                queue.append(j)
    return True


class _Stmt:
    def __init__(self, k, target, reads, bump):
        self.k, self.target, self.reads, self.bump = k, target, reads, bump


def _run(solve, stmts, cap, limit):
    values, order = {}, []

    def update(stmt):
        order.append(stmt.k)
        new = min(cap, max([values.get(v, 0) for v in stmt.reads] + [0]) + stmt.bump)
        if new > values.get(stmt.target, 0):
            values[stmt.target] = new
            return True
        return False

    return solve(stmts, lambda s: s.reads, update, limit), values, order


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_the_worklist_evaluates_in_the_same_order_as_before(data):
    from sct.analysis import dataflow

    names = "abcde"
    n = data.draw(st.integers(0, 12))
    stmts = [
        _Stmt(
            k,
            data.draw(st.sampled_from(names)),
            data.draw(st.lists(st.sampled_from(names), max_size=3)),
            data.draw(st.integers(0, 2)),
        )
        for k in range(n)
    ]
    cap, limit = data.draw(st.integers(1, 8)), data.draw(st.one_of(st.none(), st.integers(0, 4)))
    assert _run(dataflow.solve, stmts, cap, limit) == _run(_solve_as_before, stmts, cap, limit)
