"""sct.passes.trip_records: a record pushed once a trip is walked in the reversed loop's header.

The gradients with and without the pass are the same to the bit (the reversed trips read the same
values in the same order), on the bouncing ball and on random programs with ``while`` loops; and
the pass leaves alone the loops where a record is not one entry a trip.
"""

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
import sct.passes.trip_records
from sct.passes import trip_records
from tests import programs as P

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads  # noqa: E402


def test_doctests(monkeypatch):
    import builtins

    monkeypatch.setattr(builtins, "_", None, raising=False)  # doctest sets builtins._: undone after the test
    assert doctest.testmod(sct.passes.trip_records).failed == 0


def _gradients(source, args, wrt, walk: bool):
    """The gradient of ``f`` in ``source`` (a fresh module, so nothing is cached), with or without the pass."""
    with pytest.MonkeyPatch.context() as m:
        if not walk:
            m.setattr(trip_records, "walk_records", lambda fn: False)
        g = sct.grad(P.load(source), wrt=wrt)
        return g(*args), g.source


def _bits(values):
    return [np.asarray(v).tobytes() for v in (values if isinstance(values, tuple) else (values,))]


BALL = """
import numpy as np


def f(y0, v0, restitution):
    g = 9.81
    dt = 0.01
    y = y0
    v = v0
    t = 0.0
    energy = 0.0
    while t < 2.0:
        v = v - g * dt
        y = y + v * dt
        if y < 0.0:
            y = -y
            v = -restitution * v
        energy = energy + 0.5 * v * v * dt
        t = t + dt
    return y + 0.1 * energy
"""


@pytest.mark.parametrize("args", [(1.0, 0.0, 0.8), (0.3, 2.0, 0.5), (np.float64(1.0), 0.0, 0.9)])
def test_ball_same_bits_and_no_counter(args):
    walked, source = _gradients(BALL, args, (0, 1, 2), True)
    counted, before = _gradients(BALL, args, (0, 1, 2), False)
    assert _bits(walked) == _bits(counted)
    if isinstance(args[0], float):  # the variant for Python floats: the one the tutorial shows
        assert "for y in reversed(y_stack):" in source and "trips" not in source
        assert "range(trips)" in before


def test_ball_workload_matches_hand_written():
    w = workloads.BY_NAME["ball"]
    got = sct.grad(w.f, wrt=w.wrt)(*w.make_args())
    np.testing.assert_allclose(got, w.hand_grad(*w.make_args()), rtol=1e-12)


CONTINUE = """
def f(x, a):
    t = 0.0
    while t < 1.0:
        t = t + 0.25
        if x > 2.0:
            continue
        x = x * a + 0.1
    return x * x
"""

PUSHED_IN_BRANCH = """
def f(x, a):
    t = 0.0
    while t < 1.0:
        t = t + 0.25
        if t > 0.5:
            x = x * a
    return x * x
"""


@pytest.mark.parametrize("source", [CONTINUE, PUSHED_IN_BRANCH])
def test_left_alone_where_a_record_is_not_one_entry_a_trip(source):
    args = (0.7, 1.3)
    walked, text = _gradients(source, args, (0, 1), True)
    counted, before = _gradients(source, args, (0, 1), False)
    assert _bits(walked) == _bits(counted)
    assert text == before


@settings(max_examples=40, deadline=None)
@given(P.programs(control=("while", "if"), max_statements=5, scalars=True), st.integers(0, 2**32 - 1))
def test_random_while_programs_same_bits(program, seed):
    f, args, _, _ = P.sample(program, seed)
    wrt = tuple(range(len(args)))
    with np.errstate(all="ignore"):
        walked, after = _gradients(program.source, args, wrt, True)
        counted, before = _gradients(program.source, args, wrt, False)
    assert _bits(walked) == _bits(counted)
    assert ("float(" in after) == ("float(" in before)  # the Python-float pass reads the walked records too


TAPE = """
import math


def f(x0: float, x1: float):
    t0 = x0 * x1
    k = 0
    while k < 3:
        t0 = 0.5 * t0 + math.sin(t0 * x1)
        k = k + 1
    return t0 * x0
"""


@pytest.mark.parametrize("source", [BALL, TAPE])
def test_numba_runs_what_the_pass_leaves(source):
    """A tape's rows (``r, s = tape.pop()``) stay popped: numba cannot walk a list of tuples backwards."""
    pytest.importorskip("numba")
    f = P.load(source)
    args = (1.0, 0.0, 0.8) if "restitution" in source else (0.3, 0.7)
    wrt = tuple(range(len(args)))
    assert _bits(sct.grad(f, wrt=wrt, backend="numba")(*args)) == _bits(sct.grad(f, wrt=wrt)(*args))
