"""scipy.integrate.odeint and solve_ivp(...).y: the adjoint method (reverse) and the sensitivity equation (forward).

Exponential decay has a closed form; Lotka-Volterra (two parameters) is checked against central
differences. Gradients with respect to the initial state, the parameters in ``args`` and the time points.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct.backend import ode_adjoint

integrate = pytest.importorskip("scipy.integrate")
from scipy.integrate import odeint, solve_ivp  # noqa: E402


# ---- right-hand sides (module-level functions, as sct reads them) --------------------------------------
def decay(y, t, k):
    return -k * y


def decay_tfirst(t, y, k):
    return -k * y


def lotka_volterra(z, t, a, b):
    x, y = z[0], z[1]
    return np.array([a * x - b * x * y, b * x * y - y])


def lotka_volterra_ivp(t, z, a, b):
    x, y = z
    return [a * x - b * x * y, b * x * y - y]


def forced(y, t, w):
    """Depends on the time explicitly."""
    return -y + np.sin(w * t)


def mlp_field(y, t, params):
    """A tiny neural ODE: the parameters arrive as one dict."""
    h = np.tanh(params["W1"] @ y + params["b1"])
    return params["W2"] @ h


# ---- losses --------------------------------------------------------------------------------------------
WEIGHTS = np.array([[1.0, -0.5], [0.3, 2.0], [-1.2, 0.7], [0.4, 0.4]])


def decay_loss(y0, k, t):
    ys = odeint(decay, y0, t, args=(k,), rtol=1e-12, atol=1e-12)
    return np.sum(WEIGHTS[: len(t)] * ys)


def decay_loss_positional_args(y0, k, t):
    ys = odeint(decay, y0, t, (k,), rtol=1e-12, atol=1e-12)
    return np.sum(WEIGHTS[: len(t)] * ys)


def decay_loss_tfirst(y0, k, t):
    ys = odeint(decay_tfirst, y0, t, args=(k,), tfirst=True, rtol=1e-12, atol=1e-12)
    return np.sum(WEIGHTS[: len(t)] * ys)


def lv_odeint(y0, a, b, t):
    ys = odeint(lotka_volterra, y0, t, args=(a, b), rtol=1e-11, atol=1e-11)
    return np.sum(ys[:, 0] * ys[:, 1]) + np.sum(ys[-1] ** 2)


def lv_ivp(y0, a, b, t_eval, method):
    sol = solve_ivp(
        lotka_volterra_ivp, (0.0, 2.0), y0, method=method, t_eval=t_eval, args=(a, b), rtol=1e-11, atol=1e-11
    )
    return np.sum(sol.y[0] * sol.y[1]) + np.sum(sol.y[:, -1] ** 2)


def lv_ivp_end(y0, a, b, t_end):
    """The start of ``t_span`` is the initial time; the output times are fixed, the end moves nothing."""
    ys = solve_ivp(
        lotka_volterra_ivp, (0.2, t_end), y0, t_eval=np.array([0.5, 1.0]), args=(a, b), rtol=1e-11, atol=1e-11
    ).y
    return np.sum(ys**2)


def lv_ivp_start(y0, a, b, t_start):
    ys = solve_ivp(
        lotka_volterra_ivp, (t_start, 2.0), y0, t_eval=np.array([0.5, 1.5]), args=(a, b), rtol=1e-11, atol=1e-11
    ).y
    return np.sum(ys**2)


def forced_loss(y0, w, t):
    ys = odeint(forced, y0, t, args=(w,), rtol=1e-12, atol=1e-12)
    return np.sum(ys**2)


def neural_ode_loss(params, y0):
    ys = odeint(mlp_field, y0, np.linspace(0.0, 1.0, 5), args=(params,), rtol=1e-10, atol=1e-10)
    return np.mean((ys[:, 0] - np.linspace(1.0, 0.0, 5)) ** 2)


# ---- exponential decay: the closed form ------------------------------------------------------------------
def decay_closed_form(y0, k, t):
    """Loss, d/dy0, d/dk, d/dt of sum_i w_i . y0 exp(-k (t_i - t_0))."""
    w = WEIGHTS[: len(t)]
    e = np.exp(-k * (t - t[0]))
    loss = np.sum(w * np.outer(e, y0))
    d_y0 = np.sum(w * e[:, None], axis=0)
    d_k = np.sum(w * np.outer(-(t - t[0]) * e, y0))
    d_t = -k * np.sum(w * np.outer(e, y0), axis=1)
    d_t[0] = k * np.sum(w[1:] * np.outer(e[1:], y0))
    return loss, d_y0, d_k, d_t


@pytest.mark.parametrize("loss", [decay_loss, decay_loss_positional_args, decay_loss_tfirst])
def test_decay_reverse_and_forward_match_the_closed_form(loss):
    y0, k, t = np.array([1.0, -2.0]), 0.7, np.array([0.1, 0.5, 1.3, 2.0])
    value, (d_y0, d_k, d_t) = sct.value_and_grad(loss, wrt=(0, 1, 2))(y0, k, t)
    want = decay_closed_form(y0, k, t)
    assert value == loss(y0, k, t)
    np.testing.assert_allclose(value, want[0], rtol=1e-9)
    np.testing.assert_allclose(d_y0, want[1], rtol=1e-7)
    np.testing.assert_allclose(d_k, want[2], rtol=1e-7)
    np.testing.assert_allclose(d_t, want[3], rtol=1e-7, atol=1e-9)
    assert isinstance(d_k, float)
    for i, expected in ((0, want[1]), (2, want[3])):
        np.testing.assert_allclose(sct.jacobian(loss, wrt=i, mode="fwd")(y0, k, t), expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(sct.jacobian(loss, wrt=1, mode="fwd")(y0, k, t), want[2], rtol=1e-7)


@settings(max_examples=8)
@given(
    st.lists(st.floats(-3, 3), min_size=1, max_size=3),
    st.floats(0.05, 2.0),
    st.lists(st.floats(0.05, 0.8), min_size=1, max_size=3),
)
def test_decay_for_any_state_rate_and_times(y0, k, steps):
    y0, t = np.array(y0), np.cumsum([0.0, *steps])
    grads = sct.grad(lambda_free_decay, wrt=(0, 1, 2))(y0, k, t)
    e = np.exp(-k * (t - t[0]))
    np.testing.assert_allclose(grads[0], np.full(len(y0), e.sum()), rtol=1e-7)
    np.testing.assert_allclose(grads[1], np.sum(-(t - t[0]) * e) * y0.sum(), rtol=1e-6, atol=1e-8)
    d_t = -k * e * y0.sum()
    d_t[0] = k * e[1:].sum() * y0.sum()
    np.testing.assert_allclose(grads[2], d_t, rtol=1e-6, atol=1e-8)


def lambda_free_decay(y0, k, t):
    return np.sum(odeint(decay, y0, t, args=(k,), rtol=1e-12, atol=1e-12))


# ---- Lotka-Volterra: central differences, both modes -----------------------------------------------------
def test_lotka_volterra_odeint_all_operands():
    args = (np.array([1.0, 0.5]), 1.1, 0.7, np.array([0.0, 0.4, 1.1, 1.9]))
    sct.check_grads(lv_odeint, args, order=1, modes=("fwd", "rev"), rtol=1e-5, atol=1e-7)
    grads = sct.grad(lv_odeint, wrt=(0, 1, 2, 3))(*args)
    jac = [sct.jacobian(lv_odeint, wrt=i, mode="fwd")(*args) for i in range(4)]
    for g, j in zip(grads, jac):
        np.testing.assert_allclose(g, j, rtol=1e-5, atol=1e-7)
    numeric = _central(lv_odeint, args, 3)
    np.testing.assert_allclose(grads[3], numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["RK45", "DOP853", "Radau", "LSODA"])
def test_lotka_volterra_solve_ivp_every_method(method):
    args = (np.array([1.0, 0.5]), 1.1, 0.7, np.array([0.3, 1.0, 1.9]), method)
    sct.check_grads(lv_ivp, args, order=1, modes=("fwd", "rev"), rtol=1e-5, atol=1e-7, wrt=(0, 1, 2, 3))
    grads = sct.grad(lv_ivp, wrt=(0, 1, 2, 3))(*args)
    for i in range(4):
        np.testing.assert_allclose(grads[i], _central(lv_ivp, args, i), rtol=1e-5, atol=1e-6)


def test_solve_ivp_time_span():
    args = (np.array([1.0, 0.5]), 1.1, 0.7)
    start = sct.grad(lv_ivp_start, wrt=3)(*args, 0.1)
    np.testing.assert_allclose(start, _central(lv_ivp_start, (*args, 0.1), 3), rtol=1e-5)
    sct.check_grads(lv_ivp_start, (*args, 0.1), order=1)
    assert sct.grad(lv_ivp_end, wrt=3)(*args, 2.0) == 0.0  # the output times do not depend on the end
    sct.check_grads(lv_ivp_end, (*args, 2.0), order=1)


def test_explicit_time_dependence():
    args = (np.array([0.3, -1.0, 2.0]), 2.5, np.array([0.2, 0.7, 1.0, 1.6]))
    sct.check_grads(forced_loss, args, order=1, rtol=1e-5, atol=1e-7)
    grads = sct.grad(forced_loss, wrt=(1, 2))(*args)
    np.testing.assert_allclose(grads[1], _central(forced_loss, args, 2), rtol=1e-5, atol=1e-7)


def test_neural_ode_parameters_in_a_dict():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(4, 2)), "b1": rng.normal(size=4), "W2": 0.5 * rng.normal(size=(2, 4))}
    y0 = np.array([1.0, -0.5])
    grads = sct.grad(neural_ode_loss)(params, y0)
    assert set(grads) == set(params) and all(grads[k].shape == params[k].shape for k in params)
    sct.check_grads(neural_ode_loss, (params, y0), order=1, rtol=1e-5, atol=1e-7)


def _central(f, args, i, eps=1e-6):
    x = np.asarray(args[i], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        up = f(*args[:i], hi if x.ndim else float(hi), *args[i + 1 :])
        down = f(*args[:i], lo if x.ndim else float(lo), *args[i + 1 :])
        out[idx] = (up - down) / (2 * eps)
    return out if x.ndim else float(out)


# ---- the generated code and what the helpers do ------------------------------------------------------------
def test_the_generated_source_names_the_adjoint_helpers():
    rev = sct.source(lv_odeint, wrt=(0, 1, 3))
    for helper in ("odeint_vjp_y0(", "odeint_vjp_args(", "odeint_vjp_t("):
        assert helper in rev
    assert "args=(a, b)" in rev
    fwd = sct.source(lv_ivp, wrt=(0, 1), mode="forward")
    assert "solve_ivp_jvp_y0(" in fwd and "solve_ivp_jvp_args(" in fwd


def test_the_adjoint_integrates_backwards_once_per_interval(monkeypatch):
    """Memory independent of the number of steps: the backward sweep holds the state at the output times only."""
    calls = []
    real = ode_adjoint._adjoint

    def spy(field, g, ys, ts, y0, t0, integrate):
        def counted(rhs, z, ta, tb):
            calls.append((ta, tb, z.shape))
            return integrate(rhs, z, ta, tb)

        return real(field, g, ys, ts, y0, t0, counted)

    monkeypatch.setattr(ode_adjoint, "_adjoint", spy)
    t = np.linspace(0.0, 1.9, 6)
    sct.grad(lv_odeint, wrt=(0, 1, 2))(np.array([1.0, 0.5]), 1.1, 0.7, t)
    assert [(a, b) for a, b, _ in calls] == [(t[i], t[i - 1]) for i in range(5, 0, -1)]
    assert {shape for _, _, shape in calls} == {(2 + 2 + 2,)}  # state, adjoint, two parameters


def test_repeated_calls_do_not_reuse_a_stale_adjoint():
    t = np.array([0.0, 0.5, 1.0])
    for k in (0.3, 0.9, 0.3):
        for y0 in (np.array([1.0, 2.0]), np.array([-1.0, 0.5])):
            grads = sct.grad(decay_loss, wrt=(0, 1, 2))(y0, k, t)
            want = decay_closed_form(y0, k, t)
            np.testing.assert_allclose(grads[0], want[1], rtol=1e-7)
            np.testing.assert_allclose(grads[1], want[2], rtol=1e-7)
            np.testing.assert_allclose(grads[2], want[3], rtol=1e-7, atol=1e-9)


def test_arguments_are_not_mutated():
    y0, t = np.array([1.0, 0.5]), np.array([0.0, 0.4, 1.1])
    y0_copy, t_copy = y0.copy(), t.copy()
    sct.grad(lv_odeint, wrt=(0, 1, 2, 3))(y0, 1.1, 0.7, t)
    sct.jvp(lv_odeint, (y0, 1.1, 0.7, t), (y0, 1.0, 1.0, t))
    np.testing.assert_array_equal(y0, y0_copy)
    np.testing.assert_array_equal(t, t_copy)


# ---- what is refused (typed errors, never a zero) ---------------------------------------------------------
def ivp_without_t_eval(y0, a, b):
    return np.sum(solve_ivp(lotka_volterra_ivp, (0.0, 1.0), y0, args=(a, b)).y)


def odeint_full_output(y0, k):
    ys, info = odeint(decay, y0, np.array([0.0, 1.0]), args=(k,), full_output=True)
    return np.sum(ys)


def weighted_mean(x, w):
    return np.average(x, weights=w)


def test_refusals():
    y0 = np.array([1.0, 0.5])
    with pytest.raises(sct.SctError, match="t_eval"):
        sct.grad(ivp_without_t_eval)(y0, 1.0, 0.5)
    with pytest.raises(sct.SctError):
        sct.grad(odeint_full_output, wrt=1)(y0, 0.5)
    with pytest.raises(sct.SctError, match="once"):
        sct.hessian(decay_loss, wrt=1)(y0, 0.5, np.array([0.0, 1.0]))
    with pytest.raises(sct.SctError, match="once"):
        sct.grad(sct.grad(decay_loss, wrt=1), wrt=1)(y0, 0.5, np.array([0.0, 1.0]))


def test_a_keyword_operand_without_a_rule_is_refused_in_both_modes():
    """Forward mode used to give a zero tangent for ``weights=w`` without a word."""
    x, w = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])
    with pytest.raises(sct.NonDifferentiableError, match="weights="):
        sct.jvp(weighted_mean, (x, w), (np.zeros(3), np.ones(3)))
    with pytest.raises(sct.NonDifferentiableError, match="weights="):
        sct.grad(weighted_mean, wrt=1)(x, w)
    np.testing.assert_allclose(sct.grad(weighted_mean)(x, w), w / w.sum())  # x, positional, still works


def y_of_tuple(p):
    return p.y**2


def test_dot_y_is_differentiated_only_on_a_solve_ivp_result():
    from collections import namedtuple

    point = namedtuple("Point", "x y")(1.0, 2.0)
    with pytest.raises(sct.SctError, match="solve_ivp"):
        sct.grad(y_of_tuple)(point)
    with pytest.raises(sct.SctError, match="solve_ivp"):
        sct.jvp(y_of_tuple, (point,), (point,))
