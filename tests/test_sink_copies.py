"""sct.passes.algebra.sink_copies: ``c = v; v = E; w = F(c)`` -> ``w = F(v); v = E`` (issue 19 item 2).

The benchmark's loop kept ``delta_c = delta_x`` to add ``delta_c * x`` to ``delta_a`` after
``delta_x`` was updated; hand-written code adds it first. Each line computes what it did from
the same values, so the gradients are the same to the bit as the code without the rewrite.
"""

import math
import weakref

import gast
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import api, pipeline
from sct.backend.codegen import unparse
from sct.passes import algebra


def loop(x, a):
    for _ in range(30):
        if x > 0.0:  # noqa: SIM108
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
    return x * x


def on_arrays(x, a):
    for _ in range(5):
        x = x * a + np.sin(x)
    return np.sum(x * x)


def _unoptimised(f, args, wrt):
    return api.compiled(f, list(wrt), api.signature(args), many=True, optimize=False).function(*args)[1]


def _without_the_rewrite(f, args, wrt, monkeypatch):
    """The gradients of the code the other passes make, this rewrite left out (compiled afresh)."""
    monkeypatch.setattr(algebra, "sink_copies", lambda fn: False)
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())
    variant = api.compiled(f, list(wrt), api.signature(args), many=True, unit_seed=True)
    monkeypatch.undo()
    assert "delta_c = delta_x" in variant.source  # the code it compares with keeps the copy
    return variant.function(*args)[1]


def _rewritten(text):
    fn = gast.parse(text).body[0]
    changed = algebra.sink_copies(fn)
    return changed, unparse(fn)


def test_the_loop_adds_before_it_updates(monkeypatch):
    g = sct.grad(loop, wrt=(0, 1))
    got = g(0.5, 0.8)
    assert "delta_c = delta_x" not in g.source and "delta_a = delta_a + delta_x * x" in g.source, g.source
    want = _without_the_rewrite(loop, (0.5, 0.8), (0, 1), monkeypatch)
    assert [float(v) for v in got] == [float(v) for v in want]  # to the bit
    np.testing.assert_allclose(got, _unoptimised(loop, (0.5, 0.8), (0, 1)), rtol=1e-13)
    sct.check_grads(loop, (0.5, 0.8), modes=("rev",), order=1)


@settings(max_examples=25, deadline=None)
@given(st.floats(-2.0, 2.0), st.floats(0.2, 1.1))
def test_same_bits_as_without_the_rewrite(x, a):
    got = sct.grad(loop, wrt=(0, 1))(x, a)
    with pytest.MonkeyPatch.context() as monkeypatch:
        want = _without_the_rewrite(loop, (x, a), (0, 1), monkeypatch)
    assert [float(v) for v in got] == [float(v) for v in want]


def test_arrays():
    rng = np.random.default_rng(0)
    args = (rng.standard_normal(4), rng.standard_normal(4))
    got = sct.grad(on_arrays, wrt=(0, 1))(*args)
    want = _unoptimised(on_arrays, args, (0, 1))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    sct.check_grads(on_arrays, args, modes=("rev",), order=1)


def test_the_rewrite_itself():
    changed, text = _rewritten(
        "def f(delta_x, x, a, delta_a):\n"
        "    delta_c = delta_x\n"
        "    delta_x = delta_x * a\n"
        "    delta_a = delta_a + delta_c * x\n"
        "    return delta_x, delta_a\n"
    )
    assert changed
    assert text.splitlines()[1:3] == ["    delta_a = delta_a + delta_x * x", "    delta_x = delta_x * a"], text


@pytest.mark.parametrize(
    "body",
    [
        # the later line reads the new value too
        "    delta_c = delta_x\n    delta_x = delta_x * a\n    delta_a = delta_a + delta_c * delta_x\n",
        # the update reads what the later line assigns
        "    delta_c = delta_x\n    delta_x = delta_a * a\n    delta_a = delta_a + delta_c * x\n",
        # the copy is read again later
        "    delta_c = delta_x\n    delta_x = delta_x * a\n    delta_a = delta_a + delta_c * x\n    q = delta_c\n",
        # an impure call
        "    delta_c = delta_x\n    delta_x = g(delta_x)\n    delta_a = delta_a + delta_c * x\n",
        # in place
        "    delta_c = delta_x\n    delta_x *= a\n    delta_a = delta_a + delta_c * x\n",
    ],
)
def test_left_alone(body):
    changed, _ = _rewritten("def f(delta_x, x, a, delta_a, g):\n" + body + "    return delta_x, delta_a\n")
    assert not changed
