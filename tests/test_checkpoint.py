"""Checkpointed loops (sct.passes.checkpoint): ``checkpoint=k`` and ``# sct: checkpoint``.

A checkpointed gradient runs the same floating-point operations on the same
values as the plain one, so the two are compared bit for bit (``==``), on fixed
programs, an ODE integrator and random programs; the memory bound is measured
with tracemalloc.
"""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import CheckpointError
from tests.conftest import assert_grads_match
from tests.programs import load


def scalar_loop(x, a, n):
    s = 0.0
    for i in range(n):
        if x > 0.0:
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
        s = s + x * i
    return x * x + 0.001 * s


def stepped(x, a, n):
    for i in range(2, n, 3):
        x = math.sin(x * a) + 0.01 * i
    return x


def nested(x, n):
    for i in range(n):
        for j in range(3):
            x = math.tanh(x * 1.1 + 0.01 * j)
    return x


def rk4(y0, k, n):
    """A damped oscillator, y'' = -k y - 0.1 y', integrated with RK4 from y0 = (position, velocity)."""
    h = 0.01
    y = y0
    for _ in range(n):
        k1 = np.array([y[1], -k * y[0] - 0.1 * y[1]])
        z = y + 0.5 * h * k1
        k2 = np.array([z[1], -k * z[0] - 0.1 * z[1]])
        z = y + 0.5 * h * k2
        k3 = np.array([z[1], -k * z[0] - 0.1 * z[1]])
        z = y + h * k3
        k4 = np.array([z[1], -k * z[0] - 0.1 * z[1]])
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(y * y)


def marked(x, a, n):
    for i in range(n):  # sct: checkpoint=4
        x = math.sin(x) * a + 0.01 * i
    return x


def marked_above(x, a, n):
    # sct: checkpoint
    for i in range(n):
        x = math.sin(x) * a + 0.01 * i
    return x


CASES = [
    (scalar_loop, (0.5, 0.8, 37), (0, 1)),
    (scalar_loop, (-0.5, 0.9, 1), (0, 1)),
    (scalar_loop, (0.5, 0.8, 0), (0, 1)),
    (stepped, (0.3, 1.2, 40), (0, 1)),
    (nested, (0.2, 25), (0,)),
    (rk4, (np.array([1.0, 0.0]), 4.0, 50), (0, 1)),
]


def _same(a, b):
    """Bit-for-bit equal, through tuples and arrays."""
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b)) and type(a) is type(b)


@pytest.mark.parametrize("fn, args, wrt", CASES, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("k", [1, 2, 3, 7, 1000, True, "log"])
def test_checkpointed_equals_plain_bit_for_bit(fn, args, wrt, k):
    plain = sct.grad(fn, wrt=wrt)(*args)
    assert _same(sct.grad(fn, wrt=wrt, checkpoint=k)(*args), plain)
    value, grads = sct.value_and_grad(fn, wrt=wrt, checkpoint=k)(*args)
    assert _same(grads, plain) and value == fn(*args)


@pytest.mark.parametrize("fn, args, wrt", CASES[:1] + CASES[3:], ids=lambda v: getattr(v, "__name__", None))
def test_checkpointed_against_central_differences(fn, args, wrt):
    grads = sct.grad(fn, wrt=wrt, checkpoint=3)(*args)
    assert_grads_match(lambda *v: fn(*v, *args[len(wrt) :]), args[: len(wrt)], grads, rtol=1e-5, atol=1e-7)


def test_the_source_stores_every_kth_state():
    text = sct.grad(stepped, wrt=(0, 1), checkpoint=5).source
    assert "_every = 5" in text and "x_at.append(x)" in text
    assert "x_stack = []" in text or "tape = []" in text  # x's old value: its own record, or in the loop's row
    assert text.count("for i in range(") >= 1  # the segment's trips, run again


@pytest.mark.parametrize("fn", [marked, marked_above])
def test_a_comment_checkpoints_one_loop(fn):
    text = sct.grad(fn, wrt=(0, 1)).source
    assert "x_at" in text and ("_every = 4" in text) == (fn is marked)
    plain = sct.grad(lambda x, a, n: fn(x, a, n), wrt=(0, 1))
    for n in (0, 1, 5, 33):
        assert _same(sct.grad(fn, wrt=(0, 1))(0.4, 1.1, n), plain(0.4, 1.1, n))


def while_loop(x):
    while x < 10.0:  # sct: checkpoint
        x = x * 1.5 + 0.1
    return x


def breaking(x, n):
    for i in range(n):  # sct: checkpoint
        x = math.sin(x) + 1.0
        if x > 1.5:
            break
    return x


def inner_marked(x, n):
    for i in range(n):
        for j in range(2):  # sct: checkpoint
            x = math.sin(x) + 0.1 * j
    return x


def not_a_loop(x):
    y = math.sin(x)  # sct: checkpoint
    return y


def first_trip_sets(x, n):
    for i in range(n):  # sct: checkpoint=2
        if i == 0:
            y = x
        y = math.sin(y) * x
    return y


def test_a_state_first_set_in_the_loop():
    """``y`` is assigned in the first trip only: sct records it from None, and so do the checkpoints."""
    for n in (1, 2, 5):
        assert sct.grad(first_trip_sets)(0.3, n) == sct.grad(lambda x, n: first_trip_sets(x, n))(0.3, n)


@pytest.mark.parametrize(
    "fn, args, words",
    [
        (while_loop, (1.0,), "only `for ... in range(...)`"),
        (breaking, (0.3, 10), "can end early"),
        (inner_marked, (0.3, 4), "nested in another loop"),
        (not_a_loop, (0.3,), "not on a loop"),
    ],
)
def test_refused_with_the_loop_named(fn, args, words):
    with pytest.raises(CheckpointError) as err:
        sct.grad(fn)(*args)
    assert words in str(err.value)
    assert err.value.filename.endswith("test_checkpoint.py") and err.value.lineno is not None
    assert isinstance(err.value, sct.UnsupportedSyntaxError)


def writes_in_place(x, n):
    y = np.zeros(n + 2)
    for i in range(n):
        y[i + 1] = x * i
        x = math.sin(x) + y[i + 1] * 0.1
    return x


def prints(x, n):
    for i in range(n):
        x = math.sin(x) * 1.1
        print("trip", i)
    return x


def noisy(x, n):
    for i in range(n):
        x = math.sin(x) + 0.01 * np.random.normal()
    return x


RNG = np.random.default_rng(0)


def noisy_generator(x, n):
    for i in range(n):
        x = math.sin(x) * RNG.uniform(0.9, 1.1)
    return x


@pytest.mark.parametrize(
    "fn, words",
    [
        (writes_in_place, "changes a value in place (`y[b] = c`)"),
        (prints, "would repeat `print('trip', i)`"),
        (noisy, "draw new random numbers (`np.random.normal()`)"),
        (noisy_generator, "draw new random numbers (`RNG.uniform(0.9, 1.1)`)"),
    ],
)
def test_trips_that_would_not_repeat_are_refused(fn, words, capsys):
    """Running trips again must repeat them exactly: not where states share an array changed in place,
    nor where a trip prints or draws random numbers."""
    with pytest.raises(CheckpointError) as err:
        sct.grad(fn, checkpoint=2)(0.3, 4)
    assert words in str(err.value) and err.value.source_line.strip() == "for i in range(n):"
    assert capsys.readouterr().out == ""  # refused before anything ran


def test_checkpoint_option_refuses_a_while_loop_that_records():
    with pytest.raises(CheckpointError, match="only `for"):
        sct.grad(lambda x: _while_no_mark(x), checkpoint=2)(1.0)
    assert sct.grad(_while_no_mark)(1.0) == sct.grad(_while_no_mark)(1.0)  # without the option: as before


def _while_no_mark(x):
    while x < 10.0:
        x = x * x + 0.5
    return x


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", "sqrt"])
def test_bad_option(bad):
    with pytest.raises(sct.SctError, match="checkpoint="):
        sct.grad(scalar_loop, checkpoint=bad)


def long_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * 0.001 * i)
        x = x * 0.9999 + 0.0001
    return s


def _peak(g, *args) -> int:
    g(*args), g(*args)  # compiled, dispatcher made
    tracemalloc.start()
    try:
        g(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_as_sqrt_of_the_trips():
    """Plain: records of n trips. Checkpointed with k = sqrt(n): sqrt(n) states and sqrt(n) trips of records."""
    small, large = 2_500, 40_000  # 16 times the trips: 16x the memory plain, 4x checkpointed
    plain = [_peak(sct.grad(long_loop), 0.3, n) for n in (small, large)]
    sqrt = [_peak(sct.grad(long_loop, checkpoint=True), 0.3, n) for n in (small, large)]
    assert plain[1] / plain[0] > 10
    assert sqrt[1] / sqrt[0] < 6
    assert plain[1] / sqrt[1] > 30  # at 40,000 trips
    assert sct.grad(long_loop, checkpoint=True)(0.3, large) == sct.grad(long_loop)(0.3, large)


def test_memory_grows_as_log_of_the_trips():
    """``checkpoint="log"``: a stack of log2(n) states and 8 trips of records."""
    small, large = 500, 40_000
    log = [_peak(sct.grad(long_loop, checkpoint="log"), 0.3, n) for n in (small, large)]
    plain = _peak(sct.grad(long_loop), 0.3, large)
    assert log[1] / log[0] < 2.5  # 80 times the trips
    assert plain / log[1] > 200
    assert sct.grad(long_loop, checkpoint="log")(0.3, large) == sct.grad(long_loop)(0.3, large)


def log_marked(x, n):
    for i in range(n):  # sct: checkpoint=log
        x = math.sin(x) * 1.1 + 0.01 * i
    return x


def test_log_comment():
    assert "_lo_at" in sct.grad(log_marked).source
    assert sct.grad(log_marked)(0.3, 100) == sct.grad(lambda x, n: log_marked(x, n))(0.3, 100)


# ---- random programs -------------------------------------------------------------------------
_EXPRESSIONS = [
    "{u} * a",
    "math.sin({u}) + {v}",
    "{u} * {v} * 0.5",
    "{v} - 0.1 * {u}",
    "math.cos({u}) * a + 0.01 * i",
    "{u} / (1.0 + {v} * {v})",
    "math.tanh({u} - {v})",
]


@st.composite
def loop_programs(draw):
    names = ["x", "y", "t"]
    lines = ["import math", "", "", "def f(x, a, n):", "    y = 0.5 * x", "    t = 0.25", "    for i in range(n):"]
    for _ in range(draw(st.integers(1, 5))):
        target, u, v = (draw(st.sampled_from(names)) for _ in range(3))
        line = f"{target} = {draw(st.sampled_from(_EXPRESSIONS)).format(u=u, v=v)}"
        if draw(st.booleans()):
            other = draw(st.sampled_from(_EXPRESSIONS)).format(u=v, v=u)
            lines += [f"        if {u} > {v}:", f"            {line}", "        else:"]
            lines.append(f"            {target} = {other}")
        else:
            lines.append(f"        {line}")
    lines.append(f"    return {draw(st.sampled_from(names))} + 0.5 * x * {draw(st.sampled_from(names))}")
    return "\n".join(lines) + "\n"


@settings(max_examples=30)
@given(
    loop_programs(),
    st.integers(0, 40),
    st.sampled_from([1, 2, 3, 5, True, "log"]),
    st.floats(-1.0, 1.0),
    st.floats(0.5, 1.2),
)
def test_random_programs_bit_for_bit(text, n, k, x, a):
    f = load(text)
    try:
        plain = sct.grad(f, wrt=(0, 1))(x, a, n)
    except (ZeroDivisionError, OverflowError, ValueError):
        return
    assert _same(sct.grad(f, wrt=(0, 1), checkpoint=k)(x, a, n), plain), text


MARKED_MODULE = """import math


def f(x: float, a: float, n: int):
    for i in range(n):  # sct: checkpoint=3
        x = math.sin(x) * a + 0.01 * i
    return x * x
"""


def test_export_keeps_the_checkpoints(tmp_path):
    from sct.export import export_source

    module = load(MARKED_MODULE, name=None)
    text = export_source(module.f, wrt=(0, 1))
    assert "x_at.append(x)" in text and "import sct" not in text
    exported = load(text, name=None)
    assert exported.gradient(0.4, 1.1, 20) == sct.grad(lambda x, a, n: module.f(x, a, n), wrt=(0, 1))(0.4, 1.1, 20)
