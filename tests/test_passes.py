"""No wasted passes (issue 19): signs carried to where they cancel, a product's partials written once,
reductions' adjoints kept scalar until they must broadcast.

Each simplification is exact: the optimised gradient equals the unoptimised one to the bit,
on hand-picked programs and on random ones (tests/programs.py).
"""

import numpy as np
import programs as P
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import api, optimize

SIGMOID = """import numpy as np


def f(z):
    s = 1.0 / (1.0 + np.exp(-z))
    return np.sum(s * s)
"""

SQUARE_OF_NEGATION = """import numpy as np


def f(v):
    m = -v
    n = m * v
    return np.sum(np.exp(n))
"""

GAUSSIAN = """import math


def f(x, y):
    b = math.sin(x * y) + x
    return math.exp(-b * b) * y
"""


def _backward(source: str) -> list[str]:
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# backward")
    return [line.strip() for line in lines[start + 1 :] if not line.strip().startswith(("#", "return"))]


def _bits(f, args, wrt):
    """The gradients of the optimised and of the unoptimised variant."""
    sig = api.signature(args)
    fast = api.compiled(f, wrt, sig, many=True).function(*args)[1]
    plain = api.compiled(f, wrt, sig, many=True, optimize=False).function(*args)[1]
    return fast, plain


def _same_bits(fast, plain):
    for a, b in zip(fast, plain):
        assert type(a) is type(b)
        assert np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype
        assert np.array_equal(a, b, equal_nan=True), (a, b)
        assert np.array_equal(np.signbit(a), np.signbit(b))


# ---- signs -----------------------------------------------------------------------------
def test_the_sigmoid_backward_takes_three_passes_like_hand_written_code():
    f = P.load(SIGMOID)
    lines = _backward(sct.source(f))
    # s = 1.0 / c: the minus of -g * s / c is carried through delta_c * b to the negation it cancels
    assert "delta_c = delta_s * s / c" in lines
    assert "delta_a = delta_c * b" in lines
    sigmoid_lines = [line for line in lines if not line.startswith(("delta_s =", "delta_out"))]
    assert not any("-" in line for line in sigmoid_lines), lines
    z = np.linspace(-2.0, 2.0, 7)
    sct.check_grads(f, (z,), modes=("rev",), order=1)
    _same_bits(*_bits(f, (z,), (0,)))


def test_a_minus_stays_where_nothing_cancels_it():
    text = "def f(x, g):\n    delta_a = -g * x\n    delta_b = delta_a * x\n    return delta_b\n"
    assert "-g * x" in optimize.demo(text)  # moving it to the returned value saves nothing


def test_a_minus_cancels_along_a_chain_of_single_use_adjoints():
    text = (
        "def f(h, g, f, delta_h):\n"
        "    delta_g = -delta_h * h / g\n"
        "    delta_f = delta_g\n"
        "    delta_e = delta_f * f\n"
        "    delta_d = -delta_e\n"
        "    return delta_d\n"
    )
    out = optimize.demo(text)
    assert "-" not in out, out
    h, g, f, d = np.array([0.5, -0.0]), np.array([2.0, 3.0]), np.array([1.5, 0.25]), np.array([0.75, 1.0])
    assert np.array_equal(d * h / g * f, -(-d * h / g * f))  # what the rewrite relies on


def test_a_minus_is_not_moved_into_an_adjoint_read_twice():
    text = "def f(x, g):\n    delta_a = -g * x\n    delta_b = delta_a * x\n    return delta_a + delta_b\n"
    assert "-g * x" in optimize.demo(text)


def test_in_place_subtraction_is_written_as_such():
    text = "def f(x, g, delta_x):\n    delta_x += -g * x\n    return delta_x\n"
    assert "delta_x -= g * x" in optimize.demo(text)


# ---- a product's partials written once --------------------------------------------------
def test_the_square_of_a_negation_takes_two_passes():
    f = P.load(SQUARE_OF_NEGATION)
    lines = _backward(sct.source(f))
    assert "delta_v = 2.0 * (delta_n * m)" in lines, lines
    v = np.array([-1.25, -0.0, 0.0, 0.5, 1.5])
    sct.check_grads(f, (v,), modes=("rev",), order=1)
    _same_bits(*_bits(f, (v,), (0,)))


def test_the_gaussian_of_a_scalar_chain_is_one_product_doubled():
    f = P.load(GAUSSIAN)
    g = sct.grad(f, wrt=(0, 1))
    args = (0.8, -0.6)
    grads = g(*args)
    runtime = g._variants[api.signature(args)].source
    assert "2.0 * (" in runtime and " - delta_" not in runtime.split("# b = ")[-1], runtime
    sct.check_grads(f, args, modes=("rev",), order=1)
    assert grads == _bits(f, args, (0, 1))[1]


def test_a_contribution_that_is_not_the_same_number_is_not_merged():
    text = (
        "def f(v, w, delta_n):\n"
        "    m = -v\n"
        "    delta_v = delta_n * m\n"
        "    delta_v = delta_v - delta_n * w\n"
        "    return delta_v\n"
    )
    assert "2.0" not in optimize.demo(text)


def test_a_negation_reassigned_in_a_loop_is_no_fact():
    text = (
        "def f(v, delta_n):\n"
        "    m = -v\n"
        "    for k in range(3):\n"
        "        v = v + 1.0\n"
        "    delta_v = delta_n * m\n"
        "    delta_v = delta_v - delta_n * v\n"
        "    return delta_v\n"
    )
    assert "2.0" not in optimize.demo(text)


# ---- every pass exact: random programs -------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(P.programs(), st.integers(0, 2**32 - 1))
def test_optimised_gradients_equal_unoptimised_ones_to_the_bit(program, seed):
    f, args, _, _ = P.sample(program, seed)
    with np.errstate(all="ignore"):
        fast, plain = _bits(f, tuple(args), tuple(range(len(args))))
    _same_bits(fast, plain)


@pytest.mark.parametrize("x", [np.float32(0.5) * np.ones(3, np.float32), np.linspace(-1.0, 1.0, 4)])
def test_gradients_keep_the_input_dtype(x):
    f = P.load(SQUARE_OF_NEGATION)
    grad = sct.grad(f)(x)
    assert grad.dtype == x.dtype and grad.shape == x.shape
