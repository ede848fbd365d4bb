"""``x += e`` on an array another name holds: NumPy changes both, sct would not, so sct says so.

(sct/frontend/aliases.py)
"""

import numpy as np
import programs as P
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sct
from sct.errors import UnsupportedSyntaxError


def _load(body):
    return P.load(f"import numpy as np\n\n\ndef f(x):\n    {body}\n")


def test_an_update_seen_through_another_name_is_reported_where_it_is():
    fn = _load("y = x\n    x += 1.0\n    return np.sum(x * y)")
    with pytest.raises(UnsupportedSyntaxError, match=r"`x \+= \.\.\.` changes the array `x` in place, and `y`") as info:
        sct.grad(fn)(np.ones(3))
    text = str(info.value)
    assert ":6:5" in text and "x += 1.0" in text and "(line 5)" in text and "write `x = x + ...`" in text
    assert sct.grad(fn)(2.0) == pytest.approx(5.0)  # a Python float: += makes a new float, as sct reads it


@pytest.mark.parametrize(
    "body",
    [
        "z = x[1:]\n    x += 1.0\n    return np.sum(z)",  # a view
        "z = x.T\n    x *= 2.0\n    return np.sum(z)",
        "z = x.reshape(-1)\n    x -= 1.0\n    return np.sum(z)",
        "ys = [x]\n    x += 1.0\n    return np.sum(ys[0])",  # a list holding it
        "y = x\n    for i in range(2):\n        x += 1.0\n        s = np.sum(y)\n    return s",  # read in the loop
        "w = x[0]\n    w += 1.0\n    return np.sum(x)",  # through a row of a matrix: x changes
    ],
)
def test_views_containers_and_loops_count(body):
    fn = _load(body)
    with pytest.raises(UnsupportedSyntaxError, match="changes the array"):
        sct.grad(fn)(np.ones((2, 3)))


@pytest.mark.parametrize(
    "body",
    [
        "y = x\n    x += 1.0\n    return np.sum(x)",  # the other name is not read again
        "x += 1.0\n    y = x\n    return np.sum(x * y)",  # it takes the array after the update
        "y = x\n    x += 1.0\n    y = x * 2.0\n    return np.sum(y)",  # bound again before it is read
        "y = x + 0.0\n    x += 1.0\n    return np.sum(x * y)",  # a new array
        "for i in range(2):\n        y = x\n        x += y\n    return np.sum(x)",  # y read before the update
        "w = x[0]\n    w += 1.0\n    return np.sum(x * w)",  # x[0] of a vector is a number, not a view
    ],
)
def test_what_python_and_sct_compute_alike_is_differentiated(body):
    fn = _load(body)
    x = np.linspace(0.5, 1.5, 3)
    sct.check_grads(fn, (x,), modes=("rev",), order=1)


@pytest.mark.parametrize(
    ("body", "other"),
    [
        ("y = x\n    y[0] = 5.0\n    return np.sum(y * x)", "x"),  # NumPy writes into the argument too
        ("y = x * 1.0\n    z = y\n    y[0] = 5.0\n    return np.sum(z * x)", "z"),
        ("y = x[1:]\n    y[0] = 5.0\n    return np.sum(x * x)", "x"),  # a view
        ("y = x * 1.0\n    z = y\n    y[1:] += x[1:]\n    return np.sum(z)", "z"),
    ],
)
def test_a_write_into_an_array_another_name_holds_is_reported(body, other):
    # these gave wrong gradients before: the write was differentiated as if only one name saw it
    fn = _load(body)
    with pytest.raises(UnsupportedSyntaxError, match=f"writes into the array `y`, and `{other}`"):
        sct.grad(fn)(np.linspace(0.5, 1.5, 3))


@pytest.mark.parametrize(
    "body",
    [
        "x[0] = 5.0\n    return np.sum(x * x)",  # the argument itself: sct writes into a copy, as documented
        "y = x.copy()\n    y[0] = 5.0\n    return np.sum(y * x)",
        "y = x * 1.0\n    y[0] = 5.0\n    z = y\n    return np.sum(z * x)",  # the other name comes after
    ],
)
def test_writes_no_other_name_sees_are_differentiated(body):
    sct.check_grads(_load(body), (np.linspace(0.5, 1.5, 3),), modes=("rev",), order=1)


@settings(suppress_health_check=list(HealthCheck))
@given(P.programs(shared=True, max_statements=6), st.integers(0, 2**32 - 1))
def test_updates_of_shared_arrays_are_reported_or_computed_as_python_does(program, seed):
    # A missed alias shows in the value: sct would compute x + e into a new array, Python into x's.
    # (That the gradients fit the values is what tests/test_fuzz.py checks.)
    rng = np.random.default_rng(seed)
    f = P.load(program)
    args = P.make_args(program, rng)
    with np.errstate(all="ignore"):
        try:
            expected = f(*P.snapshot(args))  # on copies: it may change its arguments
        except (ValueError, ArithmeticError):
            assume(False)
    assume(np.isfinite(expected) and abs(expected) < 1e6)
    try:
        value, _ = sct.value_and_grad(f, wrt=tuple(range(len(args))))(*P.snapshot(args))
    except UnsupportedSyntaxError as exc:
        assert "changes the array" in str(exc)
        return
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
