"""The persistent cache's key and the rule table's version: a rule registered later changes the next key.

The key holds the user rules (generated code calls them by name); the table counts its changes
(:func:`sct.rules.table.version`) and keeps their entries, so that a key does not walk all ~400 rules.
"""

import copy

import numpy as np
import programs as P
import pytest

import sct
from sct.analysis.shapes import pattern_of
from sct.backend import cache, variants
from sct.rules import table

SOURCE = """\
import numpy as np


def g(v):
    return np.sin(v)


def g_rule(grad, ans, v):
    return 2.0 * grad * np.cos(v)


def g_tangent(t, ans, v):
    return 3.0 * t * np.cos(v)


def f(x):
    return np.sum(g(x))
"""
X = np.linspace(0.1, 1.0, 3)


def key_of(f, monkeypatch):
    monkeypatch.setenv("SCT_CACHE", "1")
    options = {"split": False, "has_aux": False, "optimize": True, "many": False, "mode": "reverse"}
    options |= {"unit_seed": True, "grads_only": True, "shapes": pattern_of((X,))}
    return cache.key(f, [0], variants.signature((X,)), options, variants._guards(f))


@pytest.fixture
def no_user_rules(monkeypatch):
    """The rules other tests registered in this process are forgotten (a lambda's makes every key None)."""
    before = set(table.TABLE)
    monkeypatch.setattr(table, "_BY_NAME", {})
    monkeypatch.setattr(table, "_CALLED", [None, []])  # restored after the test: recomputed, the version moved
    yield
    for key in set(table.TABLE) - before:  # the rules this test registered go (the restored registry lacks them)
        table.TABLE.pop(key)


def test_registering_a_user_rule_after_a_first_key_changes_the_next_key(monkeypatch, no_user_rules):
    module = P.load(SOURCE, name=None)
    first = key_of(module.f, monkeypatch)
    assert first is not None and key_of(module.f, monkeypatch) == first  # the same while nothing changes
    before = table.version()
    sct.defvjp(module.g, module.g_rule)
    assert table.version() != before
    assert any(e.fn is module.g for e in table.called_by_name())
    second = key_of(module.f, monkeypatch)
    assert second not in (None, first)
    sct.defjvp(module.g, module.g_tangent)  # the forward rule replaced: another key again
    third = key_of(module.f, monkeypatch)
    assert third not in (None, first, second)
    np.testing.assert_allclose(sct.grad(module.f)(X), 2.0 * np.cos(X))


def test_every_change_of_the_table_moves_its_version():
    module = P.load(SOURCE, name=None)
    moves = []

    def moved(change):
        before = table.version()
        change()
        moves.append(table.version() != before)

    moved(lambda: table.defvjp(module.g, lambda g, ans, v: g * np.cos(v)))
    entry = table.lookup(module.g)
    moved(lambda: setattr(entry, "symbolic", False))
    assert entry in table.called_by_name()
    moved(lambda: setattr(entry, "symbolic", True))
    assert entry not in table.called_by_name()
    moved(lambda: setattr(entry, "jvp_symbolic", False))
    assert entry in table.called_by_name()
    moved(lambda: table.defkeyword(module.g, "k", vjp=None))
    moved(lambda: table.TABLE.pop(table._key(module.g)))
    assert entry not in table.called_by_name()  # no longer in the table
    moved(lambda: table.TABLE.setdefault(table._key(module.g), entry))
    assert entry in table.called_by_name()
    moved(lambda: table.TABLE.__delitem__(table._key(module.g)))
    assert all(moves), moves


def test_with_the_table_unchanged_its_entries_are_not_looked_for_again(monkeypatch, no_user_rules):
    found = table.called_by_name()
    monkeypatch.setattr(table, "_BY_NAME", None)  # a walk would fail
    assert table.called_by_name() is found
    assert cache._user_rules() == ()


def test_a_copied_entry_put_in_the_table_is_seen():
    """``copy.copy`` sets an entry's attributes without ``Entry.__setattr__``; putting it in the table is seen."""
    module = P.load(SOURCE, name=None)
    table.defvjp(module.g, lambda g, ans, v: g * np.cos(v))
    entry = copy.copy(table.lookup(module.g))
    object.__setattr__(entry, "symbolic", False)
    assert entry not in table.called_by_name()
    table.TABLE[table._key(module.g)] = entry
    assert entry in table.called_by_name()
    del table.TABLE[table._key(module.g)]
