"""Slices with arithmetic bounds under checked facts (sct/analysis/shapes.py): ``z[:, n:2 * n]`` with
``n = h.shape[1]`` has length ``n`` where the call's ``z.shape[1] == k * h.shape[1]``.

A variant relies on the multiple only where the call's dimensions prove it (the fact is in its header
and the dispatcher tests it), and a call where it does not hold gets another variant; where no
multiple holds the ``unbroadcast`` stays. Gradients against central differences and hand-written code.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import sct
from sct.analysis import shapes
from sct.testing import check_grads

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads  # noqa: E402


def two_gates(z, h):
    n = h.shape[1]
    a = 1.0 / (1.0 + np.exp(-z[:, :n]))
    b = np.tanh(z[:, n : 2 * n])
    return np.sum(a * b * h)


def _code(g, *args):
    g(*args)
    return "\n".join(line for line in g.source.splitlines() if not line.strip().startswith("#"))


def test_lstm_gates_have_the_hidden_shape():
    w = workloads.BY_NAME["lstm"]
    args = w.make_args()
    g = sct.grad(w.f, wrt=w.wrt)
    got = g(*args)
    for a, b in zip(got, w.hand_grad(*args), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert "Wx.shape[1] == 4 * h0.shape[1]" in g.source
    code = _code(g, *args)
    assert "unbroadcast" not in code and "np.shape(" not in code


def test_lstm_against_finite_differences():
    w = workloads.BY_NAME["lstm"]
    Wx, Wh, b, h0, c0, xs = workloads.lstm_args(steps=2, batch=3, n_in=2, hidden=2)
    check_grads(w.f, (Wx, Wh, b, h0, c0, xs), wrt=(0, 1, 2), modes=("rev",), order=1)


@pytest.mark.parametrize("k", [2, 3])
def test_a_multiple_is_a_fact_the_call_must_meet(k):
    rng = np.random.default_rng(k)
    h = rng.standard_normal((3, 4))
    z = rng.standard_normal((3, k * 4))
    g = sct.grad(two_gates, wrt=(0, 1))
    check_grads(two_gates, (z, h), wrt=(0, 1), modes=("rev",), order=1)
    assert "unbroadcast" not in _code(g, z, h)
    assert f"z.shape[1] == {k} * h.shape[1]" in g.source.splitlines()[1]
    other = rng.standard_normal((3, (k + 1) * 4))  # another multiple: the fact fails, another variant
    np.testing.assert_allclose(g(other, h)[0][:, : 2 * 4], sct.grad(two_gates, wrt=(0, 1))(other, h)[0][:, :8])
    assert f"z.shape[1] == {k + 1} * h.shape[1]" in g.source.splitlines()[1]
    for _ in range(3):  # the dispatcher, once made, tests each variant's multiple
        for args in ((z, h), (other, h)):
            fresh = sct.grad(two_gates, wrt=(0, 1))(*args)
            for a, b in zip(g(*args), fresh, strict=True):
                np.testing.assert_array_equal(a, b)


def test_no_multiple_no_fact():
    rng = np.random.default_rng(5)
    h = rng.standard_normal((3, 4))
    z = rng.standard_normal((3, 9))  # 9 is no multiple of 4: the slices' lengths are not proved
    g = sct.grad(two_gates, wrt=(0, 1))
    check_grads(two_gates, (z, h), wrt=(0, 1), modes=("rev",), order=1)
    assert "unbroadcast" in _code(g, z, h)
    assert "* h.shape[1]" not in g.source


def test_pattern_and_facts():
    pattern = shapes.pattern_of((np.ones((3, 8)), np.ones((3, 4))))
    assert pattern == ((2, 3), (2, 4), ("times", ((3, 2, 4),)))
    fact = ((0, 1), ("times", 2, (1, 1)))
    assert shapes.holds([fact], pattern)
    assert not shapes.holds([fact], shapes.pattern_of((np.ones((3, 12)), np.ones((3, 4)))))
    assert shapes.holds_for([fact], (np.ones((3, 8)), np.ones((3, 4))))
    assert not shapes.holds_for([fact], (np.ones((3, 9)), np.ones((3, 4))))
    assert shapes.fact_terms([fact], ["z", "h"]) == ["z.shape[1] == 2 * h.shape[1]"]
    assert shapes.pattern_of((np.ones((3, 5)), np.ones(7))) == ((2, 3), (4,))  # no multiples: as before
