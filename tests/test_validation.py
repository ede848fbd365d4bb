"""Translation validation (sct.validate): the generated code must compute what the function computes.

Under ``sct.validation(True)`` (on for the whole suite: conftest.py) every
generated call also runs the original function on copies of its arguments and
compares the values bit for bit, and checks that the generated code left its
arguments (and vjp's cotangent and value) alone. Here: that it catches what it
must, lets through what is right, and costs nothing when off.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import programs as P
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sct
from sct import api, pipeline, validate
from sct.validate import ValidationError, difference

SOURCE = """
import numpy as np

def poly(x, y):
    return x * x * y + np.sin(y)

def cube(x):
    return x * x * x

def total(x):
    return np.sum(np.tanh(x) ** 2)

def pair(x):
    return x * 2.0, {"s": np.sum(x)}

def aliased_output(x):
    y = np.zeros_like(x)
    e = y[None]
    y[None] = e + x
    return y

def restored_output(x):
    y = x * 1.0
    b = y * y
    y[0] = 3.0
    return [y, b]

def restored_aux(x):
    y = x * 1.0
    b = np.sum(y * y)
    y[0] = 3.0
    return b, y
"""
M = P.load(SOURCE, name=None)


@pytest.fixture
def validating():
    previous = sct.validation(True)
    yield
    sct.validation(previous)


# ---- the comparison ---------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b",
    [
        (1.0, 1.0),
        (float("nan"), float("nan")),
        (np.float64(2.5), np.float64(2.5)),
        (np.array([1.0, np.nan]), np.array([1.0, np.nan])),
        ((1.0, [np.ones(2)], {"k": 3}), (1.0, [np.ones(2)], {"k": 3})),
    ],
)
def test_same_values_agree(a, b):
    assert difference(a, b) is None


@pytest.mark.parametrize(
    "a, b, words",
    [
        (1.0, 1.0 + 2**-52, "expected"),
        (1.0, np.float64(1.0), "float 1.0 expected, got NumPy float64"),  # the type class counts
        (0.0, -0.0, "expected"),
        (np.ones(2), np.ones(3), "float64(2,) expected"),
        (np.ones(2), np.ones(2, dtype=np.float32), "float64(2,) expected, got float32"),
        (np.array([1.0, np.nan]), np.array([1.0, 2.0]), "expected"),
        ((1.0, 2.0), [1.0, 2.0], "tuple expected, got list"),
        ({"a": 1.0}, {"b": 1.0}, "keys"),
        ([1.0, (2.0, 3.0)], [1.0, (2.0, 3.5)], "[1][1]"),
    ],
)
def test_different_values_are_told_apart(a, b, words):
    found = difference(a, b)
    assert found is not None and words in found, found


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=5))
def test_a_value_agrees_with_its_copy_and_not_with_a_changed_one(xs):
    x = np.array(xs)
    assert difference(x, x.copy()) is None
    y = x.copy()
    y[0] = 1.5 if xs[0] != 1.5 else 2.5
    assert difference(x, y) is not None


# ---- it runs, and catches -------------------------------------------------------------
def test_correct_code_passes_through_every_entry_point(validating):
    x, y = 0.7, 1.3
    a = np.linspace(-1.0, 1.0, 4)
    assert sct.grad(M.poly, wrt=(0, 1))(x, y) == sct.grad(M.poly, wrt=(0, 1))(x, y)
    for _ in range(3):  # the general path, then a (validating) dispatcher
        sct.value_and_grad(M.total)(a)
        sct.grad(M.total)(a)
    out, back = sct.vjp(M.pair, a)
    back((np.ones(4), {"s": 1.0}))
    sct.jvp(M.pair, (a,), (np.ones(4),))
    sct.jacobian(M.total)(a)
    sct.jacobian(M.total, mode="fwd")(a)
    sct.hessian(M.total)(a)
    sct.hvp(M.total, (a,), (np.ones(4),))
    sct.check_grads(M.poly, (x, y), order=2)


def _wrong(variant, make_wrong):
    """``variant`` with its function replaced: a stand-in for a bug in the generated code."""
    function = variant.function

    def broken(*args):
        return make_wrong(function(*args), args)

    wrong = api.Compiled(broken, variant.source, variant.helpers, variant.params, variant.wrt, variant.guards)
    wrong.grads_only, wrong.scalar = variant.grads_only, variant.scalar
    return wrong


def _fresh():
    """The functions of SOURCE, loaded again: no variant of them compiled yet (the cache is per function)."""
    return P.load(SOURCE, name=None)


def _install(monkeypatch, make_wrong):
    real = pipeline.compiled

    def compiled(fn, positions, sig, **options):
        return _wrong(real(fn, positions, sig, **options), make_wrong)

    monkeypatch.setattr(api, "compiled", compiled)
    monkeypatch.setattr(pipeline, "compiled", compiled)


def test_a_wrong_value_is_caught(validating, monkeypatch):
    m = _fresh()
    _install(monkeypatch, lambda result, args: (result[0] + 1e-12, result[1]))
    with pytest.raises(ValidationError, match="bug in sct.*forward sweep of poly"):
        sct.value_and_grad(m.poly)(0.7, 1.3)
    with pytest.raises(ValidationError):
        sct.vjp(m.poly, 0.7, 1.3)
    with pytest.raises(ValidationError):
        sct.jvp(m.poly, (0.7, 1.3), (1.0, 0.0))


def test_a_numpy_scalar_for_a_python_float_is_caught(validating, monkeypatch):
    _install(monkeypatch, lambda result, args: (np.float64(result[0]), result[1]))
    with pytest.raises(ValidationError, match="float .* expected, got NumPy float64"):
        sct.value_and_grad(_fresh().cube)(0.7)


def test_a_mutated_argument_is_caught(validating, monkeypatch):
    def mutate(result, args):
        args[0][0] += 1.0
        return result

    _install(monkeypatch, mutate)
    a = np.linspace(-1.0, 1.0, 4)
    with pytest.raises(ValidationError, match="changed the arguments"):
        sct.value_and_grad(_fresh().total)(a)


def test_a_validation_error_is_no_sct_error():
    # code that expects sct's refusals (except SctError) must never swallow a bug in sct
    assert issubclass(ValidationError, AssertionError) and not issubclass(ValidationError, sct.SctError)


def test_vjp_value_survives_backward(validating):
    # found by validation (tests/test_rules_shapes.py::test_shape_rule[squeeze], second order): the
    # adjoint restored `y[None] = y_stack.pop()` in place, into the array vjp had returned
    x = np.array([1.0, 2.0, 3.0])
    out, back = sct.vjp(M.aliased_output, x)
    back(np.ones(3))  # raises ValidationError: "changed ... the value it returned earlier"
    np.testing.assert_array_equal(out, M.aliased_output(x))


def test_vjp_value_survives_backward_without_validation_too():
    previous = sct.validation(False)
    try:
        x = np.array([1.0, 2.0, 3.0])
        out, back = sct.vjp(M.aliased_output, x)
        back(np.ones(3))
        np.testing.assert_array_equal(out, M.aliased_output(x))
    finally:
        sct.validation(previous)


def test_a_value_returned_with_its_gradient_survives_a_restore_in_place():
    previous = sct.validation(False)
    try:
        x = np.array([1.0, 2.0, 3.0])
        out, back = sct.vjp(M.restored_output, x)
        before = [o.copy() for o in out]
        back([np.ones(3), np.ones(3)])
        for a, b in zip(out, before):
            np.testing.assert_array_equal(a, b)
        (value, aux), _ = sct.value_and_grad(M.restored_aux, has_aux=True)(x)
        np.testing.assert_array_equal(aux, M.restored_aux(x)[1])
    finally:
        sct.validation(previous)


# ---- the switch -------------------------------------------------------------------------
def test_the_switch_returns_the_previous_setting():
    first = sct.validation(False)
    try:
        assert sct.validation(True) is False
        assert validate.enabled()
        assert sct.validation(False) is True
    finally:
        sct.validation(first)


def test_off_it_adds_nothing_to_the_dispatcher():
    previous = sct.validation(False)
    try:
        g = sct.grad(M.total)
        a = np.ones(3)
        g(a)
        g(a)
        variant = next(iter(g._variants.values()))
        assert not variant.validated
        assert g._call is not g._general and type(g).__call__ is g._call
        text = "".join(__import__("linecache").getlines(g._call.__code__.co_filename))
        assert "validat" not in text  # the inlined variant's own lines: nothing else runs per call
    finally:
        sct.validation(previous)


def test_the_environment_variable_switches_it_on(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent("import sct\nprint(sct.validate.enabled())\n"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for value, expected in [("1", "True"), ("0", "False"), ("", "False")]:
        env["SCT_VALIDATE"] = value
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
        assert done.stdout.strip() == expected, done.stderr
