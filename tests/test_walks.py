"""The hand-written walks and shortcuts that compile time rests on find what the plain ones find."""

import ast
from pathlib import Path

import gast
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sct.analysis import facts
from sct.backend import codegen
from sct.passes import optimize

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "sct").rglob("*.py")) + sorted((ROOT / "tests" / "golden").glob("*.py"))


def _trees():
    for path in FILES:
        yield path, gast.parse(path.read_text())


def _no_ctx(node) -> bool:
    return not isinstance(node, gast.expr_context)


@pytest.mark.parametrize("path", FILES[:: max(1, len(FILES) // 25)], ids=lambda p: p.name)
def test_nodes_visits_every_node_but_contexts(path):
    tree = gast.parse(path.read_text())
    want = {id(n) for n in gast.walk(tree) if _no_ctx(n)}
    got = [id(n) for n in codegen.nodes(tree)]
    assert len(got) == len(set(got)) and set(got) == want


def test_statements_are_every_statement():
    for path, tree in _trees():
        want = {id(n) for n in gast.walk(tree) if isinstance(n, gast.stmt)}
        got = {id(n) for n in facts._statements(tree) if isinstance(n, gast.stmt)}
        assert got == want, path


def _usage_by_walk(fn):
    stores, loads, returned, protected = {}, {}, set(), set()
    for node in gast.walk(fn):
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                loads[node.id] = loads.get(node.id, 0) + 1
            elif isinstance(node.ctx, gast.Store | gast.Param):
                stores[node.id] = stores.get(node.id, 0) + 1
        elif isinstance(node, gast.Return):
            returned |= optimize._returned_names(node)
        else:
            optimize._note_in_place(node, protected)
    return stores, loads, returned, protected


def test_use_counts_and_name_sets_are_what_a_plain_walk_counts():
    checked = 0
    for path, tree in _trees():
        for fn in (n for n in gast.walk(tree) if isinstance(n, gast.FunctionDef)):
            assert optimize._walk_usage(fn) == _usage_by_walk(fn), f"{path}: {fn.name}"
            for stmt in fn.body:
                names = [n for n in gast.walk(stmt) if isinstance(n, gast.Name)]
                assert optimize._names_in(stmt) == {n.id for n in names if isinstance(n.ctx, gast.Load)}
                assert optimize._stored_names(stmt) == {n.id for n in names if not isinstance(n.ctx, gast.Load)}
            checked += 1
    assert checked > 500


def test_inside_optimize_the_passes_share_one_table_until_one_changes_the_function():
    fn = gast.parse("def f(x, g):\n    delta_a = g * 1.0\n    delta_b = delta_a\n    return delta_b * x\n").body[0]
    walks, asked = [], []
    real_walk, real_usage = optimize._walk_usage, optimize._usage

    def walk(node, facts=None):
        walks.append(node)
        return real_walk(node, facts)

    def usage(node, copy=True):
        asked.append(node)
        return real_usage(node, copy)

    optimize._walk_usage, optimize._usage = walk, usage
    try:
        optimize.optimize(fn)
    finally:
        optimize._walk_usage, optimize._usage = real_walk, real_usage
    assert len(asked) >= 10 and 0 < len(walks) <= len(asked) // 2  # one walk serves several passes
    assert codegen.unparse(fn) == "def f(x, g):\n    return g * x"
    assert optimize._USAGE == {}  # nothing left behind


@given(st.text())
def test_comment_texts_are_read_back_as_literal_eval_reads_them(text):
    for literal in (repr(text), ast.unparse(ast.Constant(text))):
        assert codegen._string(literal) == ast.literal_eval(literal) == text


def test_a_variants_staleness_check_is_compiled_once_whoever_holds_it(monkeypatch):
    from sct.backend import dispatch, variants

    made = []
    real = dispatch.guard_function

    def counted(guards):
        made.append(guards)
        return real(guards)

    monkeypatch.setattr(dispatch, "guard_function", counted)
    variant = variants.Compiled(lambda: None, "", {}, [], [])
    variant.guards = ((), (), ())
    assert made == []  # not compiled until asked
    held = variant.fresh  # as sct.validate's copy of a variant holds it
    assert held() and held() and variant.fresh() and len(made) == 1
    assert variant.fresh is not held  # the variant now calls the compiled check directly
