"""scipy.signal.convolve / correlate: every mode, 1-d to 3-d, every method, both operands, both modes, second order."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sct

signal = pytest.importorskip("scipy.signal")
from scipy.signal import convolve, correlate  # noqa: E402

MODES = ("full", "valid", "same")
METHODS = ("auto", "direct", "fft")


def conv_full(a, b):
    return np.sum(np.sin(convolve(a, b)))


def conv_mode(a, b, mode, method):
    return np.sum(np.sin(signal.convolve(a, b, mode=mode, method=method)) ** 2)


def corr_mode(a, b, mode, method):
    return np.sum(np.cos(signal.correlate(a, b, mode, method=method)) * np.arange(1.0, 2.0, 0.25).sum())


def corr_positional(a, b):
    return np.sum(correlate(a, b, "same", "direct") ** 3)


def conv_chain(a, b, c):
    """Both operands of the second convolution depend on inputs; the first result is used twice."""
    u = convolve(a, b, mode="same")
    return np.sum(correlate(u, c, mode="valid") * u[: len(u) - len(c) + 1])


@st.composite
def operands(draw):
    """Two arrays of equal rank; in 'valid' mode one is at least as large as the other along every axis."""
    ndim = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(MODES))
    big = [draw(st.integers(1, 5 if ndim < 3 else 3)) for _ in range(ndim)]
    small = [draw(st.integers(1, n)) for n in big]
    if draw(st.booleans()):
        big, small = small, big
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.normal(size=big), rng.normal(size=small), mode, draw(st.sampled_from(METHODS))


@given(operands(), st.sampled_from(["convolve", "correlate"]))
def test_both_operands_every_mode_and_rank_second_order(case, fn):
    a, b, mode, method = case
    sct.check_grads(conv_mode if fn == "convolve" else corr_mode, (a, b, mode, method), order=2, wrt=(0, 1))


@given(operands())
def test_gradient_against_central_differences_entrywise(case):
    a, b, mode, method = case
    grads = sct.grad(conv_mode, wrt=(0, 1))(a, b, mode, method)
    for i, g in enumerate(grads):
        numeric = np.zeros_like((a, b)[i])
        for idx in np.ndindex(numeric.shape):
            hi, lo = [a.copy(), b.copy()], [a.copy(), b.copy()]
            hi[i][idx] += 1e-6
            lo[i][idx] -= 1e-6
            numeric[idx] = (conv_mode(*hi, mode, method) - conv_mode(*lo, mode, method)) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [conv_mode, corr_mode])
@pytest.mark.parametrize("mode", MODES)
def test_every_method_gives_the_same_derivative(fn, mode):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=(3, 2))
    grads = [sct.grad(fn, wrt=(0, 1))(a, b, mode, m) for m in METHODS]
    forward = [sct.jacobian(fn, wrt=1, mode="fwd")(a, b, mode, m) for m in METHODS]  # a scalar's: its gradient
    for other in grads[1:]:
        for g, h in zip(grads[0], other):
            np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-9)
    for f in forward:
        np.testing.assert_allclose(f, grads[0][1], rtol=1e-9, atol=1e-9)
    sct.check_grads(fn, (a, b, mode, "fft"), order=2, wrt=(0, 1))


def test_forward_equals_reverse_and_values_match_plain_python():
    rng = np.random.default_rng(1)
    a, b, c = rng.normal(size=9), rng.normal(size=4), rng.normal(size=3)
    value, grads = sct.value_and_grad(conv_chain, wrt=(0, 1, 2))(a, b, c)
    assert value == conv_chain(a, b, c)
    jac_fwd = sct.jacobian(conv_chain, wrt=1, mode="fwd")(a, b, c)
    np.testing.assert_allclose(jac_fwd, grads[1], rtol=1e-10, atol=1e-12)
    sct.check_grads(conv_chain, (a, b, c), order=2)
    sct.check_grads(corr_positional, (a, b), order=2)
    sct.check_grads(conv_full, (rng.normal(size=(3, 4)), rng.normal(size=(2, 2))), order=2)


def test_the_generated_source_names_the_adjoint_helpers():
    rev = sct.source(conv_mode, wrt=(0, 1))
    assert "convolve_grad_left(" in rev and "convolve_grad_right(" in rev
    rev = sct.source(corr_positional, wrt=(0, 1))
    assert "np.flip(" in rev and "convolve_grad_right(" in rev
    fwd = sct.source(conv_mode, wrt=(0, 1), mode="forward")
    assert "signal_convolve(" in fwd


def test_arguments_are_not_mutated():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(2, 2))
    a0, b0 = a.copy(), b.copy()
    sct.grad(conv_mode, wrt=(0, 1))(a, b, "same", "fft")
    sct.hessian(lambda_free_conv, wrt=0)(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def lambda_free_conv(a, b):
    return np.sum(convolve(a, b, mode="valid") ** 2)


def test_hessian_matches_the_quadratic_form():
    """f(a) = |conv(a, b)|^2 is quadratic in a: its Hessian is 2 C^T C for the convolution matrix C."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=5), rng.normal(size=3)
    columns = [convolve(np.eye(5)[i], b, mode="valid") for i in range(5)]
    matrix = np.stack(columns, axis=1)
    np.testing.assert_allclose(sct.hessian(lambda_free_conv, wrt=0)(a, b), 2 * matrix.T @ matrix, atol=1e-10)
