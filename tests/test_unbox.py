"""Python floats for NumPy scalars in gradients of scalar code (sct/passes/unbox.py).

The converted variant must give exactly the numbers the unconverted code gives
(the same code called with ``np.float64`` arguments is not converted), fall back
to NumPy where Python floats raise, and leave alone what it cannot prove safe.
"""

import gast
import numpy as np
import programs as P
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sct
from sct import pipeline
from sct.backend import codegen
from sct.passes import unbox

SEED = "import numpy as np\n\n\ndef f(x, y):\n    return (x + 1.0 / (1.0 + np.exp(-y))) / (x ** 2 + y)\n"


def _variant(g, *args):
    return g._variants[pipeline.signature(args)]


def test_numpy_results_become_python_floats_with_the_same_numbers():
    g = sct.grad(P.load(SEED), wrt=(0, 1))
    grads = g(0.7, 1.3)
    assert all(type(v) is float for v in grads)
    source = _variant(g, 0.7, 1.3).source
    assert "float(np.exp(-y))" in source
    assert "except ArithmeticError:" in source
    assert "float(delta_x)" not in source  # already a Python float
    assert grads == tuple(g(np.float64(0.7), np.float64(1.3)))  # unconverted: NumPy scalars


def test_where_python_raises_and_numpy_does_not_numpy_answers():
    # x / sin(x) at 0: NumPy gives nan (0/0), Python raises ZeroDivisionError
    f = P.load("import numpy as np\n\n\ndef f(x):\n    return x / np.sin(x)\n")
    g = sct.grad(f)
    with np.errstate(all="ignore"):
        assert np.isnan(g(0.0)) and np.isnan(g(np.float64(0.0)))
        assert "float(np.sin(x))" in _variant(g, 0.0).source
        assert g(0.5) == g(np.float64(0.5))


def test_the_functions_own_python_error_is_still_raised():
    f = P.load("import numpy as np\n\n\ndef f(x):\n    return np.exp(x) + 1.0 / (x - 1.0)\n")
    g = sct.grad(f)
    with pytest.raises(ZeroDivisionError):
        f(1.0)
    with pytest.raises(ZeroDivisionError):
        g(1.0)
    assert g(2.0) == g(np.float64(2.0))


def test_a_loop_over_python_floats_returns_them_without_float_calls():
    f = P.load(
        "import math\n\n\ndef f(x, a):\n    for _ in range(5):\n        if x > 0.0:\n"
        "            x = x * a + math.sin(x)\n        else:\n            x = x * 1.01\n    return x * x\n"
    )
    g = sct.grad(f, wrt=(0, 1))
    grads = g(0.5, 0.8)
    assert all(type(v) is float for v in grads)
    assert "float(" not in _variant(g, 0.5, 0.8).source


def _plan(text, user_globals=None):
    fn = gast.parse(text).body[0]
    return unbox.plan(fn, {"x"}, codegen.BASE_NAMESPACE, user_globals or {})


@pytest.mark.parametrize(
    "body",
    [
        "b = np.exp(x)\n    t = b > 1.0\n    return float(t + t)",  # np.bool_ adds like ``or``
        "b = np.sin(x)\n    return float(b ** 0.5)",  # (-0.5) ** 0.5 is complex in Python
        "return float(x ** 0.5)",  # the same, in the function itself: may be complex, keep float()
        "b = np.exp(x)\n    return float(b.item())",  # attributes of a NumPy scalar
        "b = np.exp(x)\n    return b",  # the caller would see a float, not an np.float64
        "b = np.exp(x)\n    return float(b * K)",  # a module global: read live, may become an array
        "b = np.square(2)\n    return float(x * b)",  # NumPy of integers: an integer type
        "b = np.exp(x)\n    c = np.zeros(3)\n    return float(b + c.sum())",  # arrays
        "b = np.exp(x)\n    c = [b, b]\n    return float(c[0])",  # containers
        "t = 0.0\n    for i in range(-3, 0):\n        t = t + i ** 0.5\n    return float(t * np.exp(x))",  # (-3) ** 0.5
    ],
)
def test_what_it_cannot_prove_it_leaves_alone(body):
    assert _plan(f"def g(x):\n    {body}\n", {"K": 2.0}) is None


def test_records_carry_the_types_of_what_they_hold():
    text = (
        "def g(x):\n    s = []\n    for i in range(3):\n        s.append(x)\n        x = x * np.sin(x)\n"
        "    d = 1.0\n    for x in reversed(s):\n        d = d * np.cos(x)\n    return float(d)\n"
    )
    types = _plan(text)
    assert types is not None and len(types.wraps) == 2
    assert types.env["d"] == ("np.float64", "float") and types.env["i"] == ("int", "int")


@given(P.programs(scalars=True, control=True), st.integers(0, 2**32 - 1))
def test_converted_gradients_equal_numpy_scalar_gradients(program, seed):
    f, args, _, _ = P.sample(program, seed)
    g = sct.grad(f, wrt=tuple(range(len(args))))
    with np.errstate(all="ignore"):
        converted = g(*args)
        plain = g(*[np.float64(a) for a in args])
    for c, p in zip(converted, plain, strict=True):
        assert type(c) is float
        np.testing.assert_array_equal(c, p)
