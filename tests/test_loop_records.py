"""Loops record only what the reverse sweep needs (docs/how-it-works.md, "Store or recompute").

Each case checks the gradient against central differences and forward mode against
reverse mode, and the generated source for the bookkeeping that must (not) be there.
"""

import builtins
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_grads_match

import sct
from sct.frontend import parse


def source_for(f, args, wrt):
    """The adjoint variant that runs for ``args`` (as a gradient object calls it)."""
    return sct.api.compiled(f, list(wrt), sct.api.signature(args), many=True, unit_seed=True).source


def backward_code(source):
    """The reverse sweep's statements, without its ``# <forward statement>`` comments."""
    lines = source.split("# backward")[1].splitlines()
    return "\n".join(line for line in lines if not line.strip().startswith("#"))


def check(f, args, wrt=None):
    wrt = tuple(range(len(args))) if wrt is None else wrt
    grads = sct.grad(f, wrt=wrt)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    full = [np.zeros_like(np.asarray(a, dtype=float)) if not np.ndim(a) else np.zeros_like(a) for a in args]
    for i, g in zip(wrt, grads):
        full[i] = g

    def by(i):
        def partial(*xs):
            return f(*xs)

        return partial

    # central differences, one argument at a time
    assert_grads_match(f, list(args), [full[i] if i in wrt else None for i in range(len(args))][: max(wrt) + 1])
    # forward mode against reverse mode, along a random direction
    rng = np.random.default_rng(3)
    tangents = tuple(rng.normal(size=np.shape(a)) if np.ndim(a) else float(rng.normal()) for a in args)
    tangents = tuple(t if i in wrt else (np.zeros_like(t) if np.ndim(t) else 0.0) for i, t in enumerate(tangents))
    _, tangent_out = sct.jvp(f, tuple(args), tangents)
    reverse = sum(float(np.vdot(full[i], tangents[i])) for i in wrt)
    assert abs(float(tangent_out) - reverse) <= 1e-9 * (1.0 + abs(reverse))
    return grads


def bounce(y0, v0, restitution):
    y, v, t, energy = y0, v0, 0.0, 0.0
    while t < 1.0:
        v = v - 9.81 * 0.01
        y = y + v * 0.01
        if y < 0.0:
            y = -y
            v = -restitution * v
        energy = energy + 0.5 * v * v * 0.01
        t = t + 0.01
    return y + 0.1 * energy


def test_invariant_values_are_not_recorded():
    args = (1.0, 0.5, 0.8)
    check(bounce, args)
    source = source_for(bounce, args, (0, 1, 2))
    assert "f = -restitution" in source  # computed in the loop, as written
    assert "f_stack" not in source and "f = None" not in source  # but never recorded
    assert "np.shape(" not in source  # Python floats: shapes are known


def test_cheap_scalars_are_recomputed_not_recorded():
    args = (1.0, 0.5, 0.8)
    source = source_for(bounce, args, (0, 1, 2))
    backward = backward_code(source)
    assert "= 0.5 * v" in backward  # made again at the top of each reversed trip ...
    assert source.count("_stack = []") == 2  # ... not recorded: only v and y are (y twice: the bounce's test)


def overwritten_later(x, a):
    for _ in range(5):
        b = x * a  # recomputable from x and a only while x still holds this trip's value
        x = x + 0.1 * math.sin(x)  # ... x changes after b: b must come from a record, not x
        x = x * b
    return x


def test_values_whose_operands_change_later_in_the_trip_are_recorded():
    args = (0.7, 0.9)
    check(overwritten_later, args)
    assert "= x * a" not in backward_code(source_for(overwritten_later, args, (0, 1)))


def loop_carried(x, a):
    c = 0.0
    for _ in range(4):
        x = x * c + a  # reads last trip's c
        c = 0.5 * x
    return x + c


def test_loop_carried_values_keep_their_records():
    args = (0.3, 1.1)
    check(loop_carried, args)
    assert "= 0.5 * x" not in backward_code(source_for(loop_carried, args, (0, 1)))


def changing_shape(x, w):
    h = x
    for _ in range(3):
        g = h * w  # broadcasts h from (1, 3) to (4, 3) on the first trip only
        h = np.tanh(g)
    return np.sum(h)


def test_shapes_that_change_across_trips_are_recorded():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(1, 3)), rng.normal(size=(4, 3)))
    check(changing_shape, args)
    source = source_for(changing_shape, args, (0, 1))
    assert "unbroadcast" in source


def fixed_shape(W, xs):
    total = 0.0
    for t in range(xs.shape[0]):
        e = xs[t] @ W  # the same shape on every trip
        g = e + W[0]  # broadcast against a row: e may have been broadcast too
        total = total + np.sum(np.sin(g) * g)
    return total


def test_shapes_fixed_across_trips_are_read_once():
    rng = np.random.default_rng(1)
    args = (rng.normal(size=(3, 2)), rng.normal(size=(4, 5, 3)))
    check(fixed_shape, args, wrt=(0,))
    source = source_for(fixed_shape, args, (0,))
    assert "np.shape(e)" in source and "append(np.shape(e))" not in source and "np.shape(e)," not in source


def nested(x, a):
    for i in range(3):
        s = a * x
        for j in range(2):
            x = x + 0.1 * math.sin(x * s)
    return x


def test_nested_loops():
    check(nested, (0.4, 0.9))


def breaks(x, a):
    t = 0
    while True:
        b = 0.5 * x
        x = x + a * math.cos(b)
        t = t + 1
        if x > 3.0 or t > 20:
            break
    return x


def test_while_loops_with_breaks():
    check(breaks, (0.2, 0.7))


def lstm_like(W, b, xs):
    h = np.zeros((xs.shape[1], W.shape[1]))
    for t in range(xs.shape[0]):
        z = xs[t] @ W + h + b
        s = 1.0 / (1.0 + np.exp(-z))
        h = s * np.tanh(z)
    return np.sum(h**2)


def test_values_made_afresh_each_trip_share_one_tape():
    rng = np.random.default_rng(2)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(5, 2, 3)))
    check(lstm_like, args, wrt=(0, 1))
    source = source_for(lstm_like, args, (0, 1))
    forward, backward = source.split("# backward")
    assert "tape.append((" in forward
    assert "= tape.pop()" in backward
    assert forward.count("_stack.append(") <= 1  # h alone is carried from trip to trip


def zero_trips(x, n):
    for t in range(n):
        e = x * 2.0
        x = np.tanh(e + x[0])
    return np.sum(x)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_loops_that_may_run_no_trip(n):
    x = np.array([0.3, -0.2])
    g = sct.grad(zero_trips)(x, n)
    h = 1e-6
    numeric = [(zero_trips(x + h * e, n) - zero_trips(x - h * e, n)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _golden(name: str, source: str):
    golden = GOLDEN / name
    if not golden.exists():  # first run writes the file; review it and commit it
        golden.write_text(source + "\n")
    assert source + "\n" == golden.read_text()


@pytest.fixture
def no_underscore(monkeypatch):
    """A ``builtins._``, as the REPL and doctest set it: the generated names must not depend on it
    (the reversed ``while`` counted with ``__1`` where it was set when sct first looked)."""
    monkeypatch.setattr(builtins, "_", "the last result", raising=False)
    parse._own_names.cache_clear()
    yield
    parse._own_names.cache_clear()


def test_golden_bouncing_ball(no_underscore):
    """examples/ball.py, the variant that runs on Python floats (what the tutorial explains)."""
    height = _load(ROOT / "examples" / "ball.py", "sct_example_ball").height
    _golden("reverse_ball.py", source_for(height, (1.0, 0.0, 0.8), (0, 1, 2)))


def test_golden_runge_kutta(no_underscore):
    """The rk4 workload (benchmarks/workloads.py): a for loop of Python floats."""
    rk4 = _load(ROOT / "benchmarks" / "workloads.py", "sct_workloads").rk4
    _golden("reverse_rk4.py", source_for(rk4, (1.2, 0.3), (0, 1)))


def test_tapes_in_split_mode_and_higher_order():
    """vjp's backward function restores the tape's values (nonlocal), and the adjoint is differentiable again."""
    rng = np.random.default_rng(4)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(5, 2, 3)))
    out, vjp_fn = sct.vjp(lstm_like, *args)
    grads = sct.grad(lstm_like, wrt=(0, 1))(*args)
    got = vjp_fn(1.0)
    np.testing.assert_allclose(out, lstm_like(*args))
    np.testing.assert_allclose(got[0], grads[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], grads[1], rtol=1e-12)

    def scalar(x):
        for _ in range(3):
            a = math.sin(x)  # on the tape: x changes after it
            x = x + 0.1 * a * x
        return x * x

    second = sct.grad(sct.grad(scalar))(0.3)
    first = sct.grad(scalar)
    h = 1e-5
    assert second == pytest.approx((first(0.3 + h) - first(0.3 - h)) / (2 * h), rel=1e-6)


def dead_restore(x, a):
    for _ in range(4):
        x = x + a  # its adjoint reads no x: the old x a pop would restore is read by nothing
        if x > 1.0:
            x = x - 0.5
    return x


def test_records_nothing_reads_are_dropped_in_pairs():
    check(dead_restore, (0.9, 0.3))
    source = source_for(dead_restore, (0.9, 0.3), (0, 1))
    assert source.count("x_stack.append(x)") == 1  # once a trip, before the if (its test is made again)


def chained_recomputes(x0):
    t1 = x0
    for it1 in range(2):
        t1 = 0.5 * t1 + np.tanh(math.sin(it1) ** 2 + np.sum(x0))
    return np.sum(0.0 + t1)


def test_a_recomputed_value_brings_what_it_is_made_from():
    """Found by the fuzzer: tanh(h) was made again from h = e + g, but e = d ** 2 was not (stale)."""
    x = np.array([0.3, -0.2, 0.5])
    check(chained_recomputes, (x,))
    backward = backward_code(source_for(chained_recomputes, (x,), (0,)))
    assert "math.sin(it1) ** 2" in backward  # b = a ** 2 made again from a = math.sin(it1), not stale
