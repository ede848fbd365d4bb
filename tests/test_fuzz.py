"""Property-based tests over random programs (tests/programs.py).

For each random program: reverse mode agrees with central differences, forward
mode agrees with reverse mode, the module ``sct export`` writes gives the very
same numbers, and the arguments are never mutated. The "ci" hypothesis profile
(tests/conftest.py) runs a few hundred programs in all; ``--hypothesis-profile=long``
runs 10,000 per test (docs/reliability.md).
"""

import numpy as np
import programs as P
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sct
from sct import pipeline
from sct.backend import variants
from sct.backend.variants import ANY

seeds = st.integers(0, 2**32 - 1)


def _all(n):
    return tuple(range(n))


def _checked_gradient(f, program, args):
    """value_and_grad of every argument, asserting value, structure and no mutation."""
    try:
        with np.errstate(all="ignore"):
            expected = f(*args)
    except (ValueError, OverflowError):  # math.sin(inf) after an overflow: not defined here
        expected = np.inf
    assume(np.isfinite(expected) and abs(expected) < 1e6)
    before = P.snapshot(args)
    value, grads = sct.value_and_grad(f, wrt=_all(len(args)))(*args)
    P.assert_unchanged(before, args)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    assert len(grads) == len(args)
    for a, g in zip(args, grads):
        if isinstance(a, float):
            assert isinstance(g, float), f"gradient of a float argument is {type(g).__name__}"
        else:
            assert np.shape(g) == np.shape(a)
    return value, grads


def _against_central_differences(program, seed):
    rng = np.random.default_rng(seed)
    f = P.load(program)
    args = P.make_args(program, rng)
    value, grads = _checked_gradient(f, program, args)
    direction = P.random_direction(args, rng)
    try:
        P.directional_check(f, args, grads, direction, value=value)
    except P.IllConditioned as exc:
        assume(False)  # near a kink or a branch boundary: FD cannot judge
        raise AssertionError("unreachable") from exc
    return f, args


@settings(suppress_health_check=list(__import__("hypothesis").HealthCheck))
@given(P.programs(), seeds)
def test_reverse_matches_central_differences(program, seed):
    _against_central_differences(program, seed)


# ---- forward mode ----------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(sct, "jvp"), reason="sct.jvp (forward mode) does not exist yet")
@given(P.programs(), seeds)
def test_forward_matches_reverse(program, seed):
    rng = np.random.default_rng(seed)
    f = P.load(program)
    args = P.make_args(program, rng)
    _, grads = _checked_gradient(f, program, args)
    tangents = P.random_direction(args, rng)
    before = P.snapshot(args)
    out, tangent_out = sct.jvp(f, tuple(args), tuple(tangents))
    P.assert_unchanged(before, args)
    reverse = sum(float(np.vdot(g, t)) for g, t in zip(grads, tangents))
    scale = 1.0 + abs(reverse) + sum(float(np.vdot(np.abs(g), np.abs(t))) for g, t in zip(grads, tangents))
    assert abs(float(tangent_out) - reverse) <= 1e-9 * scale, (tangent_out, reverse)


# ---- export -------------------------------------------------------------------------------
def _export_source():
    try:
        from sct.export import export_source
    except ImportError:
        return None
    return export_source


@pytest.mark.skipif(_export_source() is None, reason="sct/export.py has no export_source yet")
@given(P.programs(), seeds)
def test_exported_module_gives_identical_numbers(program, seed):
    f, args, _, _ = P.sample(program, seed)
    wrt = _all(len(args))
    text = _export_source()(f, wrt=wrt)
    assert "import sct" not in text and "from sct" not in text
    module = P.load(text, name=None)
    export_signature = tuple(ANY if s is None else s for s in variants._annotated_signature(f))  # as sct export does
    generic = pipeline.compiled(f, list(wrt), export_signature, many=True)
    before = P.snapshot(args)
    with np.errstate(all="ignore"):
        exported_value, exported_grads = getattr(module, generic.function.__name__)(*args)
        value, grads = generic.function(*args)
    P.assert_unchanged(before, args)
    np.testing.assert_array_equal(exported_value, value)
    for e, g in zip(exported_grads, grads, strict=True):
        np.testing.assert_array_equal(e, g)
        assert type(e) is type(g)


# ---- control flow -------------------------------------------------------------------------
_PROBES = {
    "if": "def f(x):\n    if x > 0.0:\n        y = x * x\n    else:\n        y = -x\n    return y\n",
    "for": "def f(x):\n    y = x\n    for i in range(3):\n        y = y * x\n    return y\n",
    "while": "def f(x):\n    y = x\n    k = 0\n    while k < 3:\n        y = y * x\n        k = k + 1\n    return y\n",
}
_EXPECTED = {"if": 2 * 1.5, "for": 4 * 1.5**3, "while": 4 * 1.5**3}


@pytest.mark.parametrize("kind", sorted(_PROBES))
def test_control_flow_matches_central_differences(kind):
    """Each kind of control flow: a probe with a known derivative, then random programs that use it.
    (These tests were marked xfail, not run, wherever the probe failed: a broken loop passed them.)"""
    assert sct.grad(P.load(_PROBES[kind]))(1.5) == pytest.approx(_EXPECTED[kind], rel=1e-12)

    @settings(suppress_health_check=list(__import__("hypothesis").HealthCheck))
    @given(P.programs(control=(kind,)), seeds)
    def check(program, seed):
        _against_central_differences(program, seed)

    check()


# ---- regressions found by the fuzzers -------------------------------------------------------------
def test_negative_constant_as_the_base_of_a_power():
    # was: `(-0.5) ** 2` lowered to a constant -0.5 that ast.unparse wrote as `-0.5 ** 2`
    f = P.load("import numpy as np\n\n\ndef f(x):\n    return np.log((-0.5) ** 2 + 1.0) * x + (-1.0) ** 2 * x\n")
    value, g = sct.value_and_grad(f)(2.0)
    assert value == f(2.0)
    assert g == np.log(1.25) + 1.0


def test_gradient_of_a_float_through_a_reduction_is_a_float():
    # was: np.sum(x) of a Python float gave a 0-d array as its gradient
    f = P.load("import numpy as np\n\n\ndef f(x, y):\n    return np.sum(x) * np.mean(y)\n")
    gx, gy = sct.grad(f, wrt=(0, 1))(2.0, 3.0)
    assert type(gx) is float and type(gy) is float
    assert (gx, gy) == (3.0, 2.0)
