"""Random programs written with the idioms users write (tests/programs.py ``idioms``), issue 12.

One property per family of idioms, so a failure names the family: containers nested up to three
deep, simultaneous assignment, nested and starred targets, dict iteration, repeated fancy indices,
builtins shadowed by globals and locals, and calls with literals, concatenation, ``list``,
``sum``, ``enumerate(zip(...))`` and ``zip(*...)``.

For every program sct either refuses with an ``sct.SctError``, or: its value is Python's (the
function run on deep copies of the arguments), the arguments are not mutated, each gradient has
its argument's structure, reverse mode agrees with central differences along a random direction
and forward mode (``sct.jvp``) agrees with reverse mode. Anything else (a wrong number, an
exception that is not an ``SctError``) is a bug.
"""

import numpy as np
import programs as P
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import sct

seeds = st.integers(0, 2**32 - 1)


def _python_value(f, args):
    try:
        with np.errstate(all="ignore"):
            value = f(*P.snapshot(args))  # on copies: the function may change its arguments
    except (ValueError, ArithmeticError):  # an overflow in the program's own math: not defined here
        assume(False)
    except TypeError:  # Python cannot run it: a local function reads a name later rebound to an array
        assume(False)  # (math.sin of it); sct raises the same error, and there is nothing to compare
    assume(np.all(np.isfinite(value)) and abs(float(value)) < 1e6)
    return value


def check_idiom_program(program, seed):
    rng = np.random.default_rng(seed)
    f = P.load(program)
    args = P.make_args(program, rng)
    expected = _python_value(f, args)
    wrt = tuple(range(len(args)))
    before = P.snapshot(args)
    try:
        with np.errstate(all="ignore"):
            value, grads = sct.value_and_grad(f, wrt=wrt)(*args)
    except sct.SctError as exc:
        event(f"refused: {type(exc).__name__}")
        return "refused"
    P.assert_unchanged(before, args)
    assert np.shape(value) == np.shape(expected)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12, err_msg="value differs from Python's")
    assert type(grads) is tuple and len(grads) == len(args)
    for i, (a, g) in enumerate(zip(args, grads)):
        P.assert_same_structure(a, g, f"gradient of argument {i}")
    direction = P.random_direction(args, rng)
    try:
        P.directional_check(f, P.snapshot(args), grads, direction, value=float(expected))
    except P.IllConditioned:
        assume(False)  # near a kink or a branch boundary: central differences cannot judge
    reverse = sum(float(np.vdot(g, t)) for g, t in zip(P.tree_leaves(list(grads)), P.tree_leaves(direction)))
    try:
        with np.errstate(all="ignore"):
            out, tangent = sct.jvp(f, tuple(args), tuple(direction))
    except sct.SctError as exc:
        event(f"forward mode refused: {type(exc).__name__}")
        return "forward refused"
    P.assert_unchanged(before, args)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12, err_msg="forward value differs from Python's")
    scale = 1.0 + abs(reverse)
    assert abs(float(tangent) - reverse) <= 1e-9 * scale, f"forward mode {float(tangent)!r}, reverse mode {reverse!r}"
    return "exact"


def _property(family):
    @settings(suppress_health_check=list(HealthCheck))
    @given(P.idioms(family), seeds)
    def check(program, seed):
        check_idiom_program(program, seed)

    return check


@pytest.mark.parametrize("family", P.FAMILIES)
def test_idiom_programs_are_refused_or_exact(family):
    _property(family)()


def check_nested_result_program(program, seed):
    """``sct.vjp`` of a function returning a nested container: refused, or Python's value and a
    cotangent-weighted gradient that matches central differences, with the arguments' structure."""
    rng = np.random.default_rng(seed)
    f = P.load(program)
    args = P.make_args(program, rng)
    with np.errstate(all="ignore"):
        expected = f(*P.snapshot(args))
    assume(all(np.all(np.isfinite(leaf)) and np.all(np.abs(leaf) < 1e6) for leaf in P.tree_leaves(expected)))
    before = P.snapshot(args)
    try:
        with np.errstate(all="ignore"):
            out, vjp_fn = sct.vjp(f, *args)
            cotangent = P.random_direction([expected], rng)[0]
            grads = vjp_fn(cotangent)
    except sct.SctError as exc:
        event(f"refused: {type(exc).__name__}")
        return "refused"
    P.assert_unchanged(before, args)
    P.assert_same_structure(expected, out, "vjp value")
    for o, e in zip(P.tree_leaves(out), P.tree_leaves(expected), strict=True):
        np.testing.assert_allclose(o, e, rtol=1e-12, atol=1e-12, err_msg="vjp value differs from Python's")
    assert type(grads) is tuple and len(grads) == len(args)
    for i, (a, g) in enumerate(zip(args, grads)):
        P.assert_same_structure(a, g, f"vjp of argument {i}")

    def weighted(*xs):  # <cotangent, f(xs)>: a scalar whose gradient is the vjp
        leaves = zip(P.tree_leaves(cotangent), P.tree_leaves(f(*xs)), strict=True)
        return float(sum(np.sum(np.asarray(u) * np.asarray(o)) for u, o in leaves))

    try:
        P.directional_check(weighted, P.snapshot(args), grads, P.random_direction(args, rng))
    except P.IllConditioned:
        assume(False)
    return "exact"


@settings(suppress_health_check=list(HealthCheck))
@given(P.nested_results(), seeds)
def test_vjp_of_nested_results_is_refused_or_exact(program, seed):
    check_nested_result_program(program, seed)


@pytest.mark.parametrize("family", P.FAMILIES)
def test_idiom_programs_are_valid_python(family):
    # the generator's own check: every program runs in plain Python, returns a real scalar, and
    # leaves its (container) arguments as they were; so a failure above is sct's, not the generator's
    @settings(max_examples=max(10, settings().max_examples // 3), suppress_health_check=list(HealthCheck))
    @given(P.idioms(family), seeds)
    def check(program, seed):
        f = P.load(program)
        args = P.make_args(program, np.random.default_rng(seed))
        before = P.snapshot(args)
        try:
            with np.errstate(all="ignore"):
                value = f(*args)
        except (ValueError, ArithmeticError):  # the program's own math overflowed
            return
        assert np.ndim(value) == 0 and np.isrealobj(value)
        P.assert_unchanged(before, args)

    check()
