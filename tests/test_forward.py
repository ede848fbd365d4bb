"""Forward mode: generated tangent code against central differences, reverse mode and golden files."""

import math
import os
from pathlib import Path

import functions as F
import numpy as np
import programs as P
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sct

GOLDEN = Path(__file__).parent / "golden"


def directional(f, args, tangents, eps=1e-6):
    hi = [a if isinstance(a, int) else a + eps * t for a, t in zip(args, tangents)]
    lo = [a if isinstance(a, int) else a - eps * t for a, t in zip(args, tangents)]
    return (np.asarray(f(*hi)) - np.asarray(f(*lo))) / (2 * eps)


def random_like(args, rng):
    return [float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a)) for a in args]


# ---- golden sources ----------------------------------------------------------------------
def golden_seed(x: float, y: float):
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)


def golden_loop(x: float, n: int):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i)
        if s > 1.5:
            break
    return s * x


@pytest.mark.parametrize(
    "fn, wrt, filename",
    [
        (golden_seed, ("x", "y"), "forward_seed.py"),
        (golden_seed, "y", "forward_seed_y.py"),
        (golden_loop, "x", "forward_loop.py"),
    ],
)
def test_forward_source_is_golden(fn, wrt, filename):
    text = sct.source(fn, wrt=wrt, mode="forward") + "\n"
    path = GOLDEN / filename
    if os.environ.get("SCT_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_forward_source_reads_like_the_primal():
    text = sct.source(golden_seed, wrt=("x", "y"), mode="forward")
    assert text.startswith("def jvp_golden_seed(x, y, dot_x, dot_y):")
    assert "dot_a = -dot_y" in text
    assert text.rstrip().endswith("return (out, dot_out)")
    assert "broadcast" not in text  # scalars: no shape helpers


def test_only_varied_values_get_tangents():
    text = sct.source(golden_seed, wrt="x", mode="forward")
    assert "dot_y" not in text and "dot_a" not in text and "dot_b" not in text


# ---- numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn, args",
    [(F.seed, (1.5, 2.0)), (F.scalar_math, (0.7, 0.3)), (F.polynomial, (0.4, -1.3)), (golden_loop, (0.7, 5))],
)
def test_scalar_jvp_matches_central_differences(fn, args, rng):
    tangents = [float(rng.normal()) if isinstance(a, float) else 0 for a in args]
    out, tangent = sct.jvp(fn, args, tangents)
    assert out == pytest.approx(fn(*args))
    assert isinstance(tangent, float)
    assert tangent == pytest.approx(float(directional(fn, args, tangents)), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("fn, shapes", F.ARRAY_CASES)
def test_forward_agrees_with_reverse_and_differences(fn, shapes, rng):
    args = [rng.normal(size=s) if s else float(rng.normal()) for s in shapes]
    tangents = random_like(args, rng)
    out, tangent = sct.jvp(fn, tuple(args), tuple(tangents))
    grads = sct.grad(fn, wrt=tuple(range(len(args))))(*args)
    reverse = sum(float(np.vdot(g, t)) for g, t in zip(grads, tangents))
    assert float(tangent) == pytest.approx(reverse, rel=1e-9, abs=1e-12)
    assert float(tangent) == pytest.approx(float(directional(fn, args, tangents)), rel=1e-5, abs=1e-7)


def broadcast_then_reduce(x, a):
    y = x + a
    return np.sum(y, axis=0) ** 2


def test_tangent_of_a_broadcast_operand_has_the_result_shape(rng):
    a = rng.normal(size=(2, 3))
    out, tangent = sct.jvp(broadcast_then_reduce, (0.3, a), (1.0, np.zeros((2, 3))))
    assert np.shape(tangent) == (3,)
    expected = directional(broadcast_then_reduce, [0.3, a], [1.0, np.zeros((2, 3))])
    np.testing.assert_allclose(tangent, expected, rtol=1e-6)
    assert "np.broadcast_to(dot_x" in sct.source(broadcast_then_reduce, wrt="x", mode="forward")


def constant_output(x, y):
    return y * 2.0


def test_output_that_does_not_depend_on_the_input_has_zero_tangent(rng):
    y = rng.normal(size=3)
    out, tangent = sct.jvp(lambda x, y: constant_output(x, y), (1.0, y), (1.0, np.zeros(3)))
    np.testing.assert_array_equal(out, 2.0 * y)
    np.testing.assert_array_equal(tangent, np.zeros(3))
    assert "zeros_like(out)" in sct.source(constant_output, wrt="x", mode="forward")


# ---- control flow -----------------------------------------------------------------------------
def branchy(x, y):
    if x > 0.0:
        z = x * y
    else:
        z = np.sin(x) - y
    return z * z


def loop_product(x, n):
    y = x
    for i in range(n):
        y = y * x + np.cos(y)
    return y


def loop_while(x):
    y = x
    k = 0
    while k < 4:
        y = np.tanh(y) * x
        k = k + 1
    return y


def fill_in_place(x):
    z = np.zeros(3)
    for i in range(3):
        z[i] = x[i] * x[i] + 1.0
    return np.sum(z * x)


@pytest.mark.parametrize(
    "fn, args",
    [
        (branchy, (0.8, -1.1)),
        (branchy, (-0.8, 1.1)),
        (loop_product, (0.6, 3)),
        (loop_while, (0.9,)),
    ],
)
def test_control_flow_in_forward_mode(fn, args):
    tangents = [1.0 if isinstance(a, float) else 0 for a in args]
    _, tangent = sct.jvp(fn, args, tangents)
    assert tangent == pytest.approx(float(directional(fn, args, tangents)), rel=1e-6)
    text = sct.source(fn, mode="forward")
    assert "if " in text or "for " in text or "while " in text


def test_assignment_into_an_array_in_forward_mode(rng):
    x = rng.normal(size=3)
    t = rng.normal(size=3)
    before = t.copy()
    _, tangent = sct.jvp(fill_in_place, (x,), (t,))
    np.testing.assert_array_equal(t, before)  # the caller's tangent is never written into
    assert tangent == pytest.approx(float(directional(fill_in_place, [x], [t])), rel=1e-6)


# ---- errors ---------------------------------------------------------------------------------------
def test_jvp_checks_its_arguments():
    with pytest.raises(sct.SctError, match="tuple"):
        sct.jvp(F.seed, 1.0, 1.0)
    with pytest.raises(sct.SctError, match="2 primals but 1 tangents"):
        sct.jvp(F.seed, (1.0, 2.0), (1.0,))
    with pytest.raises(sct.SctError, match="shape"):
        sct.jvp(F.unary_chain, (np.ones(3),), (np.ones(2),))


def calls_opaque(x):
    return np.sum(np.abs(np.fft.fft(x)))


def test_a_function_without_a_rule_is_named():
    with pytest.raises(sct.NonDifferentiableError, match="fft"):
        sct.jvp(calls_opaque, (np.ones(3),), (np.ones(3),))


# ---- random programs with control flow: forward mode agrees with reverse mode ------------------
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(P.programs(control=True), st.integers(0, 2**32 - 1))
def test_forward_agrees_with_reverse_on_random_programs_with_control_flow(program, seed):
    f, args, value, rng = P.sample(program, seed)
    tangents = P.random_direction(args, rng)
    before = P.snapshot(args)
    out, tangent = sct.jvp(f, tuple(args), tuple(tangents))
    P.assert_unchanged(before, args)
    np.testing.assert_allclose(out, value, rtol=1e-12, atol=1e-12)
    grads = sct.grad(f, wrt=tuple(range(len(args))))(*args)
    reverse = sum(float(np.vdot(g, t)) for g, t in zip(grads, tangents))
    scale = 1.0 + sum(float(np.vdot(np.abs(g), np.abs(t))) for g, t in zip(grads, tangents))
    assert abs(float(tangent) - reverse) <= 1e-9 * scale, (tangent, reverse)
