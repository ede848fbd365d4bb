"""A 0-d bool used as an index adds an axis (``x[True]`` has shape ``(1, n)``); an integer removes one.

The rank analysis took every 0-d index for an integer, so ``x[k]`` with ``k`` a bool
argument, ``np.True_`` or a comparison's result got the rank of ``x[0]``: its adjoint
was summed to a number and spread over the whole row, a gradient three times too
large with no error. Now a 0-d index counts as an integer only where
:func:`sct.analysis.activity.integers` proves it.
"""

import numpy as np
import pytest
from conftest import numeric_grad

import sct
from sct.analysis import activity
from sct.frontend import lower as anf
from sct.frontend import parse as frontend


def take(x, y, k):
    z = x[k]
    return np.sum(z * y)


def take_with_slice(x, y, k):
    z = x[k, 1:]
    return np.sum(z * y)


def take_by_comparison(x, y, a):
    z = x[a > 0.5]
    return np.sum(z * y)


def take_by_integers(x, y, n):
    i = n - 2
    j = x.shape[0] - 1 - i
    z = x[i] * x[j]
    return np.sum(z * y)


CASES = [
    (take, lambda x: x[None], np.True_),
    (take, lambda x: x[None], True),
    (take_with_slice, lambda x: x[None, 1:], np.True_),
    (take_by_comparison, lambda x: x[None], 0.9),
]


@pytest.mark.parametrize("fn, view, k", CASES, ids=lambda v: getattr(v, "__name__", repr(v)))
def test_a_bool_index_adds_an_axis(fn, view, k):
    x = np.array([0.5, -1.0, 2.0])
    y = np.arange(1.0, 1.0 + 2 * view(x).shape[-1]).reshape(2, -1)
    expected = numeric_grad(lambda x: fn(x, y, k), [x], 0)
    np.testing.assert_allclose(sct.grad(fn)(x, y, k), expected, rtol=1e-7, atol=1e-9)
    assert sct.grad(fn)(x, y, k).shape == x.shape


def test_forward_mode_agrees():
    x, y = np.array([0.5, -1.0, 2.0]), np.arange(6.0).reshape(2, 3)
    jac = sct.jacobian(take, mode="fwd")(x, y, np.True_)
    np.testing.assert_allclose(jac, sct.grad(take)(x, y, np.True_), rtol=1e-12)


def test_integer_indices_keep_their_rank():
    """Integers proved so (an int argument, a difference of it, a shape item, their differences) still drop an axis."""
    x, y = np.array([0.5, -1.0, 2.0, 3.0]), np.array([1.0, 2.0])
    expected = numeric_grad(lambda x: take_by_integers(x, y, 3), [x], 0)
    np.testing.assert_allclose(sct.grad(take_by_integers)(x, y, 3), expected, rtol=1e-7)
    ir, _ = anf.lower(frontend.parse(take_by_integers))
    ints = activity.integers(ir, {"x": "f", "y": "f", "n": "int"})
    assert {"n", "i", "j"} <= ints
    ranks = activity.ranks(ir, {"x": 1, "y": 1, "n": 0}, arg_kinds={"x": "f", "y": "f", "n": "int"})
    assert ranks["z"] == 0
    bools = activity.integers(ir, {"x": "f", "y": "f", "n": "b"})
    assert "n" not in bools and "i" not in bools


def test_a_counter_from_zero_is_an_integer():
    def f(x):
        i = 0
        s = 0.0
        while i < 3:
            s = s + x[i] * x[i]
            i = i + 1
        return s

    ir, _ = anf.lower(frontend.parse(f))
    assert "i" in activity.integers(ir, {"x": "f"})
    x = np.array([0.5, -1.0, 2.0, 4.0])
    np.testing.assert_allclose(sct.grad(f)(x), [1.0, -2.0, 4.0, 0.0])
