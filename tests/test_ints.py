"""Issue 19 item 3: a Python ``int`` argument is a first-class signature.

A variant compiled for ``f(x, n)`` with ``n`` an int is dispatched on ``type(n) is int``
(no general path per call), and the Python-float pass (sct.passes.unbox) knows ``n`` is an int,
so a loop ``for i in range(n)`` no longer turns it off. A bool, a NumPy integer and an
int subclass get variants of their own: they are not Python ints.
"""

import enum

import numpy as np
import pytest
from conftest import numeric_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import api, pipeline


def sines(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i)
    return s


def test_an_int_argument_has_its_own_signature():
    assert api.signature((1.0, 3)) == ((0, "float"), (0, "int"))
    assert api.signature((1.0, True))[1] == (0, "b")  # a bool is no int here
    assert api.signature((1.0, np.int64(3)))[1] == (0, "i")  # nor a NumPy integer

    class Small(enum.IntEnum):
        THREE = 3

    assert api.signature((1.0, Small.THREE))[1] == (0, "i")  # nor an int subclass


def test_a_loop_over_range_of_an_int_argument_computes_on_python_floats():
    g = sct.grad(sines)
    for n in (0, 1, 4):
        got = g(0.7, n)
        assert type(got) is float
        assert got == pytest.approx(numeric_grad(sines, (0.7, n), 0), rel=1e-6, abs=1e-9)
    variant = pipeline._CACHE[sines]
    source = next(v.source for k, v in variant.items() if k[1] == ((0, "float"), (0, "int")))
    assert "float(np.sin(" in source and "float(np.cos(" in source  # the pass applied: loop bound n is an int
    sct.check_grads(sines, (0.7, 5), modes=("fwd", "rev"), order=2)


def counted(x, n):
    return x * n + np.sin(x) * (n // 2)


def test_an_int_signature_is_dispatched_without_the_general_path():
    g = sct.grad(counted)
    for _ in range(2):  # the first call compiles, the second generates the dispatcher
        g(0.5, 3)
    before = g._calls  # calls through the general path
    for n in (3, 4, 10**30):  # a Python int of any size is an int
        assert g(0.5, n) == pytest.approx(n + np.cos(0.5) * (n // 2))
    assert g._calls == before


def bools_or(x, n):
    return x * np.sum(np.full(2, n) + np.full(2, n))  # bool arrays add like `or`: 2 for True, 4 for 1


def test_a_bool_does_not_take_the_int_variant():
    g = sct.grad(bools_or)
    for _ in range(3):
        assert g(0.5, 1) == pytest.approx(bools_or(1.0, 1)) == 4.0
        assert g(0.5, True) == pytest.approx(bools_or(1.0, True)) == 2.0  # its own variant: Python's answer
        assert g(0.5, np.int64(1)) == pytest.approx(4.0)
    assert sct.value_and_grad(bools_or)(0.5, True) == (bools_or(0.5, True), 2.0)


def test_an_int_argument_is_still_not_differentiated_by():
    with pytest.raises(sct.SctError, match="is an integer"):
        sct.grad(counted, wrt=1)(0.5, 3)
    out, tangent = sct.jvp(counted, (0.5, 3), (1.0, 1.0))  # the int's tangent is ignored
    assert out == counted(0.5, 3) and tangent == pytest.approx(3 + np.cos(0.5))


def scaled_sum(x, n):
    return np.sum(x**2) * n


def test_arrays_with_an_int_argument(rng):
    x = rng.normal(size=4)
    g = sct.grad(scaled_sum)
    for _ in range(3):
        np.testing.assert_allclose(g(x, 3), 6 * x)
        np.testing.assert_allclose(g(x, n=2), 4 * x)  # by keyword: bound as the function binds it


@settings(max_examples=30, deadline=None)
@given(st.floats(-2.0, 2.0), st.integers(0, 6))
def test_random_loop_lengths_match_central_differences(x, n):
    g = sct.grad(sines)
    got = g(x, n)
    assert type(got) is float
    assert got == pytest.approx(numeric_grad(sines, (x, n), 0), rel=1e-5, abs=1e-7)
