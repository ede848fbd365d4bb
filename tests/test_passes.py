"""No wasted passes (issue 19): signs carried to where they cancel, a product's partials written once,
reductions' adjoints kept scalar until they must broadcast.

Each simplification is exact: the optimised gradient equals the unoptimised one to the bit,
on hand-picked programs and on random ones (tests/programs.py).
"""

import numpy as np
import programs as P
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sct
from sct import api
from sct.passes import optimize

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
    """The gradients of the optimised and of the unoptimised variant (a program sct refuses is skipped)."""
    sig = api.signature(args)
    try:
        api.compiled(f, wrt, sig, many=True, optimize=False)
    except sct.SctError:  # a shared in-place update sct refuses with its reason: nothing to compare
        assume(False)
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
    # s = 1.0 / c: the minus of -delta_s * s / c cancels that of a = -z, and the lines between,
    # each read once, become one: three array operations, as in hand-written backprop
    assert "delta_z = delta_s * s / c * b" in lines, lines
    assert not any(line.startswith(("delta_c", "delta_b", "delta_a")) for line in lines), lines
    z = np.linspace(-2.0, 2.0, 7)
    sct.check_grads(f, (z,), modes=("rev",), order=1)
    _same_bits(*_bits(f, (z,), (0,)))


def test_a_minus_stays_where_nothing_cancels_it():
    text = "def f(x, g):\n    delta_a = -g * x\n    delta_b = delta_a * x\n    return delta_b\n"
    assert "delta_a = -g * x" in optimize.demo(text)  # moving it to the returned value saves nothing


def test_a_chain_is_not_written_past_a_line_that_changes_what_it_reads():
    text = "def f(x, g, s):\n    delta_a = -g * x\n    x = s.pop()\n    delta_b = -delta_a\n    return delta_b\n"
    assert "delta_a = -g * x" in optimize.demo(text)


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
    assert "delta_d = delta_h * h / g * f" in out and "delta_g" not in out and "-" not in out, out
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
    runtime = g.variant_for(args).source
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


# ---- common factors ------------------------------------------------------------------------
LOOP = """import math


def f(x, a):
    for _ in range(20):
        if x > 0.0:
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
    return x * x
"""


def test_a_value_reaching_an_adjoint_by_two_paths_is_multiplied_once():
    f = P.load(LOOP)
    args = (0.5, 0.8)
    source, grads = _runtime_source(f, args, wrt=(0, 1))
    assert "delta_x = delta_x * (0.1 * math.cos(x) + a)" in source, source  # as d_x *= a + 0.1 * cos(x) by hand
    sct.check_grads(f, args, modes=("rev",), order=1)
    np.testing.assert_allclose(grads, _bits(f, args, (0, 1))[1], rtol=1e-13)


@pytest.mark.parametrize(
    "after_copy, between",
    [
        ("    g = s.pop()\n", ""),  # the copy holds another value than the factor
        ("", "    q = s.pop()\n"),  # what the second term reads changes in between
        ("", "    r = delta_d + 1.0\n"),  # the product on the way is read elsewhere too
    ],
)
def test_a_factor_is_shared_only_where_it_is_the_same_value(after_copy, between):
    text = (
        f"def f(g, p, q, s):\n    delta_c = g\n{after_copy}    delta_d = g * 0.5\n    delta_x = delta_d * p\n"
        f"{between}    delta_x = delta_x + delta_c * q\n    return delta_x, r\n"
    )
    out = optimize.demo(text)
    assert "0.5 * p + q" not in out and " * q" in out, out


def test_factors_are_shared_where_nothing_changes():
    text = (
        "def f(g, p, q, s):\n    delta_c = g\n    delta_d = g * 0.5\n    delta_x = delta_d * p\n"
        "    g = s.pop()\n    delta_x = delta_x + delta_c * q\n    return delta_x\n"
    )
    assert "delta_x = g * (0.5 * p + q)" in optimize.demo(text)


# ---- every exact pass exact: random programs -----------------------------------------------
ANY_PROGRAM = st.one_of(P.programs(), P.programs(control=True), P.programs(shared=True), P.programs(scalars=True))


@settings(max_examples=60, deadline=None)
@given(ANY_PROGRAM, st.integers(0, 2**32 - 1))
def test_optimised_gradients_equal_unoptimised_ones_to_the_bit(program, seed):
    """Every pass but share_factors (which rounds as hand-written code does) keeps each value to the bit."""
    f, args, _, _ = P.sample(program, seed)
    exact = tuple(p for p in optimize.PASSES if p is not optimize.share_factors)
    with np.errstate(all="ignore"), pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCT_CACHE", "0")  # variants built with fewer passes must not reach the disk cache
        patch.setattr(optimize, "PASSES", exact)
        fast, plain = _bits(f, tuple(args), tuple(range(len(args))))
    _same_bits(fast, plain)


@pytest.mark.parametrize("x", [np.float32(0.5) * np.ones(3, np.float32), np.linspace(-1.0, 1.0, 4)])
def test_gradients_keep_the_input_dtype(x):
    f = P.load(SQUARE_OF_NEGATION)
    grad = sct.grad(f)(x)
    assert grad.dtype == x.dtype and grad.shape == x.shape


# ---- reductions' adjoints stay scalars --------------------------------------------------
MEAN_SQUARE = """import numpy as np


def f(w, x, y):
    r = x @ w - y
    return np.mean(r**2)
"""

SUM_SQUARE_OVER_AXIS = """import numpy as np


def f(x):
    s = np.sum(x * x, axis=0)
    return np.sum(np.sin(s))
"""


def _runtime_source(f, args, wrt=0):
    g = sct.grad(f, wrt=wrt)
    grads = g(*args)
    return g.variant_for(args).source, grads


def test_the_mean_of_squares_spreads_one_number_not_an_array():
    f = P.load(MEAN_SQUARE)
    rng = np.random.default_rng(0)
    args = (rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal(5))
    source, grad = _runtime_source(f, args)
    lines = _backward(source)
    # b = r ** 2: a number, not np.full_like(b, ...), written into its one use (sct.passes.fuse.fold_adjoints)
    assert "delta_r = 1.0 / size_or_one(r) * 2 * r" in lines, lines
    assert "b = r ** 2" not in source.split("# backward")[0]  # b itself is no longer computed
    assert "full_like" not in source
    sct.check_grads(f, args, modes=("rev",), order=1, wrt=0)
    _same_bits((grad,), _bits(f, args, (0,))[1])


def test_a_sum_over_an_axis_broadcasts_in_its_reader():
    f = P.load(SUM_SQUARE_OVER_AXIS)
    x = np.random.default_rng(1).standard_normal((4, 3))
    source, grad = _runtime_source(f, (x,))
    assert "broadcast_to" not in source, source
    sct.check_grads(f, (x,), modes=("rev",), order=1)
    _same_bits((grad,), _bits(f, (x,), (0,))[1])


@pytest.mark.parametrize(
    "body",
    [
        "return np.mean(x)",  # the adjoint is the gradient: an array of x's shape
        "return np.sum(np.sin(x))",  # its reader is a function call, not arithmetic
        "y = x @ x.T\n    return np.sum(y)",  # its reader is a matrix product
        "y = x * 2.0\n    x = x + 1.0\n    return np.sum(y) * np.sum(x)",  # y's operand reassigned since
    ],
)
def test_an_adjoint_that_must_be_an_array_is_one(body):
    f = P.load(f"import numpy as np\n\n\ndef f(x):\n    {body}\n")
    x = np.random.default_rng(2).standard_normal((3, 2))
    source, grad = _runtime_source(f, (x,))
    assert "full_like" in source or "broadcast_to" in source, source
    assert grad.shape == x.shape and grad.dtype == x.dtype
    sct.check_grads(f, (x,), modes=("rev",), order=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_a_scalar_adjoint_keeps_the_dtype(dtype):
    f = P.load("import numpy as np\n\n\ndef f(x):\n    return np.mean(x * x)\n")
    x = np.arange(1.0, 7.0).reshape(2, 3).astype(dtype)
    if dtype is np.complex128:
        _, vjp = sct.vjp(f, x)
        (grad,) = vjp(1.0)
    else:
        source, grad = _runtime_source(f, (x,))
        assert "size_or_one" in source
    assert grad.dtype == x.dtype and grad.shape == x.shape
    np.testing.assert_allclose(grad, 2.0 * x / x.size, rtol=1e-6)


def test_the_mean_of_an_empty_array_still_has_an_empty_gradient():
    f = P.load("import numpy as np\n\n\ndef f(x):\n    return np.mean(x * x)\n")
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        grad = sct.grad(f)(np.zeros((0, 3)))
    assert grad.shape == (0, 3)


def test_an_integer_primal_gets_a_zero_gradient_not_a_truncated_one():
    # sct.vjp took integer primals and the sum's adjoint np.full_like(x, g) of an integer x truncated a
    # cotangent 0.5 to 0: a wrong number. An integer has no gradient (JAX gives float0 zeros): zeros here.
    f = P.load("import numpy as np\n\n\ndef f(x, w):\n    return np.sum(x * x * w)\n")
    _, vjp = sct.vjp(f, np.arange(3), 1.5)
    dx, dw = vjp(0.5)
    assert dx.dtype == np.float64 and np.array_equal(dx, [0.0, 0.0, 0.0])
    assert dw == pytest.approx(0.5 * 5.0)
    with pytest.raises(sct.SctError, match="every primal is an integer"):
        sct.vjp(f, np.arange(3), 2)


def test_a_negative_first_contribution_becomes_a_subtraction():
    text = (
        "def f(u, h, s):\n    delta_h = -u / h\n    delta_s = s * 2.0\n    delta_h = delta_h + delta_s\n"
        "    return delta_h\n"
    )
    assert "delta_h = delta_s - u / h" in optimize.demo(text)
    moved = "def f(u, h, s):\n    delta_h = -u / h\n    u = s.pop()\n    delta_h = delta_h + s\n    return delta_h\n"
    assert "delta_h = -u / h" in optimize.demo(moved)  # u changes in between: the minus stays where it is


@settings(max_examples=30, deadline=None)
@given(ANY_PROGRAM, st.integers(0, 2**32 - 1))
def test_with_shared_factors_gradients_agree_to_rounding(program, seed):
    f, args, _, _ = P.sample(program, seed)
    with np.errstate(all="ignore"):
        fast, plain = _bits(f, tuple(args), tuple(range(len(args))))
    for a, b in zip(fast, plain):
        assert np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
