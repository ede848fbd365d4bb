"""Binomial checkpointing, ``checkpoint=("revolve", s)`` (sct.passes.checkpoint, sct.backend.revolve).

Gradients are compared bit for bit with the plain ones; the trips run are counted
(a primitive with a custom rule counts its calls) and compared with revolve's
optimum, computed here independently from the textbook recurrence; the states
kept at a time are read off the running generated code and never exceed ``s``.
"""

import functools
import math
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import CheckpointError
from sct.backend.revolve import revolve_snapshots, revolve_split
from tests.programs import load
from tests.test_checkpoint import CASES, _peak, _same, long_loop, loop_programs


@functools.cache
def optimum(trips: int, states: int) -> int:
    """Trips run forward without records to reverse ``trips`` trips with ``states`` states (Griewank 1992)."""
    if trips <= 1:
        return 0
    if states == 1:
        return trips * (trips - 1) // 2
    return min(j + optimum(trips - j, states - 1) + optimum(j, states) for j in range(1, trips))


CALLS = [0]


def step(x):
    CALLS[0] += 1
    return math.sin(x) * 1.01


sct.defvjp(step, lambda g, ans, x: g * math.cos(x) * 1.01)


def counted(x, a, n):
    for i in range(n):
        x = step(x) * a + 0.001 * i
    return x * x


def _ran(checkpoint, *args) -> int:
    """How many trips one call of the gradient of ``counted`` runs (made without translation validation,
    which would run ``counted`` too)."""
    previous = sct.validation(False)
    try:
        g = sct.grad(counted, wrt=(0, 1), checkpoint=checkpoint)
        g(*args)
        CALLS[0] = 0
        g(*args)
        return CALLS[0]
    finally:
        sct.validation(previous)


@pytest.mark.parametrize("fn, args, wrt", CASES, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("s", [1, 2, 3, 5, 40])
def test_revolve_equals_plain_bit_for_bit(fn, args, wrt, s):
    plain = sct.grad(fn, wrt=wrt)(*args)
    assert _same(sct.grad(fn, wrt=wrt, checkpoint=("revolve", s))(*args), plain)
    value, grads = sct.value_and_grad(fn, wrt=wrt, checkpoint=("revolve", s))(*args)
    assert _same(grads, plain) and value == fn(*args)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 13, 97, 256, 2_003])
@pytest.mark.parametrize("s", [1, 2, 3, 4, 7, 12])
def test_many_trips_and_states(n, s):
    if s == 1 and n > 300:
        n = 300  # n^2 / 2 trips run again
    plain = sct.grad(counted, wrt=(0, 1))(0.4, 0.9, n)
    revolved = sct.grad(counted, wrt=(0, 1), checkpoint=("revolve", s))
    assert _same(revolved(0.4, 0.9, n), plain)
    if n <= 300:
        assert _ran(("revolve", s), 0.4, 0.9, n) == n + optimum(n, s)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 150), st.integers(1, 8))
def test_trips_run_again_are_revolves_optimum(n, s):
    """Each trip runs once with its records; beyond those, exactly the optimum of the recurrence."""
    assert _ran(("revolve", s), 0.3, 1.05, n) == n + optimum(n, s)
    assert _ran(None, 0.3, 1.05, n) == n


def _most_states_kept(g, *args) -> int:
    """The longest the list of kept states (``x_at``) gets while ``g`` runs, read at every line."""
    most = [0]

    def trace(frame, event, arg):
        if frame.f_code.co_name.startswith("grad_"):
            kept = frame.f_locals.get("x_at")
            if kept is not None:
                most[0] = max(most[0], len(kept))
            return trace
        return None

    sys.settrace(trace)
    try:
        g(*args)
    finally:
        sys.settrace(None)
    return most[0]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 80), st.integers(1, 6))
def test_states_kept_never_exceed_s(n, s):
    revolved = sct.grad(counted, wrt=(0, 1), checkpoint=("revolve", s))
    assert "x_at" in revolved.source
    most = _most_states_kept(revolved, 0.3, 1.05, n)
    assert most <= s
    assert most >= (1 if n >= 2 else 0)  # the state at the start, where a trip is left to reverse from it


def test_the_helpers_attain_the_optimum():
    """``revolve_split`` gives a split of least cost for every length and number of states (the recurrence)."""

    def cost(trips, states):
        if trips <= 1:
            return 0
        j = revolve_split(trips, states)
        assert 1 <= j < trips
        if states == 1:
            return j + cost(trips - 1, 1)
        return j + (cost(trips - j, states - 1) if trips - j > 1 else 0) + cost(j, states)

    for states in range(1, 9):
        for trips in range(1, 200):
            assert cost(trips, states) == optimum(trips, states), (trips, states)
            r = 0
            while math.comb(states + r, states) < trips:
                r += 1
            assert optimum(trips, states) == r * trips - (math.comb(states + r, r - 1) if r else 0)


def test_the_first_pass_keeps_at_most_s_states():
    for n in (2, 3, 10, 1000, 10**6):
        for s in (1, 2, 5, 30):
            kept = revolve_snapshots(n, s)
            assert kept[0] == 0 and len(kept) <= s and kept == sorted(set(kept)) and kept[-1] < n - 1


def test_memory_stays_flat():
    """At most s states and one trip's records: 80 times the trips, about the same memory."""
    small, large = 500, 40_000
    kept = [_peak(sct.grad(long_loop, checkpoint=("revolve", 10)), 0.3, n) for n in (small, large)]
    plain = _peak(sct.grad(long_loop), 0.3, large)
    assert kept[1] / kept[0] < 2
    assert plain / kept[1] > 200
    tracemalloc.stop()


def revolve_marked(x, n):
    for i in range(n):  # sct: checkpoint=revolve(4)
        x = math.sin(x) * 1.1 + 0.01 * i
    return x


def test_the_comment():
    text = sct.grad(revolve_marked).source
    assert "revolve_snapshots(_trips, _states)" in text and "_states = 4" in text
    plain = sct.grad(lambda x, n: revolve_marked(x, n))
    for n in (0, 1, 2, 50):
        assert sct.grad(revolve_marked)(0.3, n) == plain(0.3, n)


def while_revolve(x):
    while x < 10.0:
        x = x * x + 0.5
    return x


def while_marked(x):
    while x < 10.0:  # sct: checkpoint=revolve(3)
        x = x * x + 0.5
    return x


@pytest.mark.parametrize("fn", [while_revolve, while_marked])
def test_a_while_loop_is_refused_with_the_loop_named(fn):
    with pytest.raises(CheckpointError) as err:
        sct.grad(fn, checkpoint=("revolve", 3))(1.0)
    assert "only `for ... in range(...)`" in str(err.value)
    assert err.value.filename.endswith("test_revolve.py") and err.value.source_line.strip().startswith("while x")


@pytest.mark.parametrize("bad", [("revolve", 0), ("revolve", -2), ("revolve", 2.0), ("revolve",), ("binomial", 3)])
def test_bad_option(bad):
    with pytest.raises(sct.SctError, match="revolve"):
        sct.grad(counted, checkpoint=bad)


def test_the_other_options_still_work():
    plain = sct.grad(counted, wrt=(0, 1))(0.4, 0.9, 100)
    for k in (True, 7, "log"):
        assert _same(sct.grad(counted, wrt=(0, 1), checkpoint=k)(0.4, 0.9, 100), plain)


def test_fewer_trips_than_log():
    n = 1000
    assert _ran(("revolve", 10), 0.3, 1.0, n) < _ran("log", 0.3, 1.0, n)


MARKED_MODULE = """import math


def f(x: float, a: float, n: int):
    for i in range(n):  # sct: checkpoint=revolve(3)
        x = math.sin(x) * a + 0.01 * i
    return x * x
"""


def test_export_carries_the_schedule(tmp_path):
    from sct.export import export_source

    module = load(MARKED_MODULE, name=None)
    text = export_source(module.f, wrt=(0, 1))
    assert "def revolve_split(" in text and "def revolve_snapshots(" in text and "import sct" not in text
    exported = load(text, name=None)
    reference = sct.grad(lambda x, a, n: module.f(x, a, n), wrt=(0, 1))
    for n in (0, 1, 2, 41):
        assert exported.gradient(0.4, 1.1, n) == reference(0.4, 1.1, n)


def rk4_revolve(y0, k, n):
    h = 0.01
    y = y0
    for _ in range(n):
        z = y + 0.5 * h * np.array([y[1], -k * y[0]])
        y = y + h * np.array([z[1], -k * z[0]])
    return np.sum(y * y)


def test_arrays():
    y0 = np.array([1.0, 0.5])
    for n in (0, 1, 7, 64):
        plain = sct.grad(rk4_revolve, wrt=(0, 1))(y0, 3.0, n)
        assert _same(sct.grad(rk4_revolve, wrt=(0, 1), checkpoint=("revolve", 3))(y0, 3.0, n), plain)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 500])
def test_numba(n):
    pytest.importorskip("numba")
    both = sct.grad(long_loop, backend="numba", checkpoint=("revolve", 4))
    assert both(0.3, n) == sct.grad(long_loop)(0.3, n)


def test_export_numba_compiles_the_schedule():
    pytest.importorskip("numba")
    from sct.export import export_source

    module = load(MARKED_MODULE, name=None)
    text = export_source(module.f, wrt=(0, 1), numba=True)
    assert "@numba.njit\ndef revolve_split(" in text
    exported = load(text, name=None)
    reference = sct.grad(lambda x, a, n: module.f(x, a, n), wrt=(0, 1))
    for n in (0, 1, 2, 41):
        assert exported.gradient(0.4, 1.1, n) == reference(0.4, 1.1, n)


@pytest.mark.parametrize("mark", ["log", "2", ""])
def test_export_numba_of_the_other_checkpoints(mark):
    """``del`` of a loop's counter, which the other checkpointed loops release too, is dropped for numba."""
    pytest.importorskip("numba")
    from sct.export import export_source

    module = load(MARKED_MODULE.replace("=revolve(3)", f"={mark}" if mark else ""), name=None)
    exported = load(export_source(module.f, wrt=(0, 1), numba=True), name=None)
    reference = sct.grad(lambda x, a, n: module.f(x, a, n), wrt=(0, 1))
    for n in (0, 1, 2, 41):
        assert exported.gradient(0.4, 1.1, n) == reference(0.4, 1.1, n)


def test_the_benchmark_runs():
    """``benchmarks/checkpoint.py`` in its smallest setting: every option's gradient equals the plain one."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "checkpoint.py"
    done = subprocess.run([sys.executable, str(script), "--trips", "60"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sum(line.startswith("| 60 |") for line in done.stdout.splitlines()) == 7
    assert "| 60 | ('revolve', 10) | 10 |" in done.stdout


@settings(max_examples=30, deadline=None)
@given(loop_programs(), st.integers(0, 40), st.integers(1, 5), st.floats(-1.0, 1.0), st.floats(0.5, 1.2))
def test_random_programs_bit_for_bit(text, n, s, x, a):
    f = load(text)
    try:
        plain = sct.grad(f, wrt=(0, 1))(x, a, n)
    except (ZeroDivisionError, OverflowError, ValueError):
        return
    assert _same(sct.grad(f, wrt=(0, 1), checkpoint=("revolve", s))(x, a, n), plain), text


def test_a_comment_with_no_states_is_refused():
    text = "def f(x, n):\n    for i in range(n):  # sct: checkpoint=revolve(0)\n        x = x * x + 0.1\n    return x\n"
    f = load(text)
    with pytest.raises(sct.SctError, match="must be >= 1"):
        sct.grad(f)(0.3, 4)
