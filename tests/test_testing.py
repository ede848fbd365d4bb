"""sct.check_grads: passes on correct derivatives, catches wrong ones, ports autograd's call style."""

import functions as F
import numpy as np
import pytest

import sct


def tanh_sum(x):
    return np.sum(np.tanh(x) * x)


@pytest.mark.parametrize(
    "fn, args",
    [
        (F.seed, (1.5, 2.0)),
        (F.scalar_math, (0.7, 0.3)),
        (F.mlp, tuple(np.random.default_rng(1).normal(size=s) for s in [(3, 4), (4,), (4, 2), (5, 3)])),
        (F.broadcasting, (np.ones((3, 1)) * 0.3, np.linspace(0.1, 0.9, 4)[None, :])),
    ],
)
def test_correct_derivatives_pass_to_second_order(fn, args):
    assert sct.check_grads(fn, args, modes=("fwd", "rev"), order=2) is None


def test_autograd_call_style():
    sct.check_grads(tanh_sum, modes=["fwd", "rev"], order=2)(np.array([0.1, -0.4, 0.9]))
    sct.check_grads(tanh_sum)(np.array([0.1, -0.4, 0.9]))
    sct.check_grads(F.seed, argnum=1, modes=["rev"], order=1)(1.5, 2.0)


def test_jax_call_style():
    sct.check_grads(tanh_sum, (np.array([0.1, -0.4]),), 2, modes=("rev",))


def test_vector_valued_functions():
    def field(x):
        return np.sin(x) * x[::-1]

    sct.check_grads(field, (np.array([0.3, -0.2, 1.1]),), order=2)


# ---- catching mistakes -------------------------------------------------------------------------
def wrong_exp(x):
    return np.exp(x)


def wrong_exp_vjp(g, ans, x):
    return g * ans * 1.1  # deliberately 10% off


sct.defvjp(wrong_exp, wrong_exp_vjp)


def uses_wrong_exp(x):
    return np.sum(wrong_exp(x) * 2.0)


@pytest.mark.parametrize("modes", [("rev",), ("fwd",), ("fwd", "rev")])
def test_a_wrong_custom_rule_is_caught(modes):
    with pytest.raises(AssertionError) as info:
        sct.check_grads(uses_wrong_exp, (np.array([0.2, 0.5]),), modes=modes, order=1)
    message = str(info.value)
    assert "central differences" in message
    assert "sct:" in message and "finite differences:" in message


def test_the_mismatch_message_shows_both_numbers():
    def scalar(x):
        return wrong_exp(x)

    with pytest.raises(AssertionError) as info:
        sct.check_grads(scalar, (0.3,), modes=("fwd",), order=1)
    lines = str(info.value).splitlines()
    analytic = float(next(line for line in lines if "sct:" in line).split()[-1])
    numeric = float(next(line for line in lines if "finite differences:" in line).split()[-1])
    assert analytic == pytest.approx(1.1 * numeric, rel=1e-6)


def my_cos(x):
    return np.cos(x)


sct.defvjp(my_cos, lambda g, ans, x: g * np.sin(x))  # deliberately wrong sign: only used at second order


def sine_again(x):
    return np.sin(x)


def sine_again_vjp(g, ans, x):
    return g * my_cos(x)  # right: so first order passes


sct.defvjp(sine_again, sine_again_vjp)


def uses_sine_again(x):
    return np.sum(sine_again(x))


def test_second_order_catches_what_first_order_misses():
    x = np.array([0.3])
    sct.check_grads(uses_sine_again, (x,), order=1)
    with pytest.raises(AssertionError):
        sct.check_grads(uses_sine_again, (x,), modes=("rev",), order=2)
    with pytest.raises(AssertionError):
        sct.check_grads(uses_sine_again, (x,), modes=("fwd",), order=2)


def test_bad_modes_are_refused():
    with pytest.raises(ValueError, match="modes"):
        sct.check_grads(F.seed, (1.0, 2.0), modes=("backward",))
