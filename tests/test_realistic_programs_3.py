"""More programs as users write them, each differentiated and checked every way (round three).

A Kalman filter over a sequence, softmax attention with a causal mask (``np.where`` and a masked
write of ``-np.inf``), 1-d convolution (``np.convolve`` and a hand loop), Black-Scholes with
``math.erf``, particles bouncing off walls (``np.where``), k-means soft assignment through a
logsumexp, the heat equation stepped with slices (a new array and an in-place update), the forward
algorithm of a linear-chain CRF with ``np.logaddexp``, and spline evaluation with
``np.searchsorted`` and ``np.interp``.

Each goes through ``differentiated`` of tests/test_realistic_programs_2.py (Python's value, the
arguments unchanged, central differences, forward mode against reverse mode), then
``sct.grad``, ``sct.jacobian`` of the vector-valued ones (against central differences, both modes),
``sct.hessian`` of the small scalar ones (symmetric, against differences of the gradient),
``checkpoint=True`` on the loops (the very numbers of the plain gradient), ``sct export`` (the
module's numbers), and JAX where it is installed and the program is JAX-traceable.
"""

import math
import types

import numpy as np
import programs as P
import pytest
from conftest import numeric_grad
from test_realistic_programs_2 import _floating, differentiated

import sct
from sct.export import export_source

rng = np.random.default_rng(20261203)


def normal(*shape):
    return rng.normal(size=shape)


# ---- the programs -------------------------------------------------------------------------------
def kalman_filter(q, r, zs, F, H, x0):
    """Negative log likelihood of observations ``zs`` under a linear-Gaussian model (q, r: noise scales)."""
    n = len(x0)
    x = x0
    Pm = np.eye(n)
    Q = q**2 * np.eye(n)
    R = r**2 * np.eye(len(zs[0]))
    nll = 0.0
    for t in range(len(zs)):
        z = zs[t]
        x = F @ x
        Pm = F @ Pm @ F.T + Q
        S = H @ Pm @ H.T + R
        innovation = z - H @ x
        K = Pm @ H.T @ np.linalg.inv(S)
        x = x + K @ innovation
        Pm = (np.eye(n) - K @ H) @ Pm
        _, logdet = np.linalg.slogdet(S)
        nll = nll + 0.5 * (innovation @ np.linalg.solve(S, innovation) + logdet + len(z) * math.log(2 * math.pi))
    return nll


def causal_attention(X, Wq, Wk, Wv):
    T, d = X.shape[0], Wq.shape[1]
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    scores = Q @ K.T / np.sqrt(d)
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(mask, -1e9, scores)
    scores = scores - np.max(scores, axis=-1, keepdims=True)
    w = np.exp(scores)
    w = w / np.sum(w, axis=-1, keepdims=True)
    return np.sum((w @ V) ** 2)


def causal_attention_inf(X, Wq, Wk, Wv):
    T = X.shape[0]
    scores = (X @ Wq) @ (X @ Wk).T
    scores[np.triu_indices(T, 1)] = -np.inf  # masked in place, as tutorials write it
    w = np.exp(scores - scores.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return np.sum(np.tanh(w @ (X @ Wv)))


def conv_numpy(x, w, b):
    y = np.convolve(x, w, mode="valid") + b
    return np.sum(np.tanh(y) * np.arange(1.0, len(y) + 1))


def conv_loop(x, w, b):
    k = len(w)
    y = np.zeros(len(x) - k + 1)
    for i in range(len(y)):
        y[i] = np.sum(x[i : i + k] * w[::-1]) + b  # convolution flips the kernel
    return np.sum(np.tanh(y) * np.arange(1.0, len(y) + 1))


def conv_valid(x, w):
    """Vector-valued: np.convolve's 'valid' part, for the Jacobian."""
    return np.convolve(x, w, mode="valid")


def norm_cdf(v):
    return 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))


def black_scholes(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + 0.5 * sigma**2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * norm_cdf(d1) - K * math.exp(-r * T) * norm_cdf(d2)


def particles(x, v, dt, wall):
    for _ in range(6):
        v = v - 9.81 * dt * np.array([0.0, 1.0])  # gravity on the second coordinate
        x = x + dt * v
        hit = np.abs(x) > wall
        v = np.where(hit, -0.8 * v, v)  # an inelastic bounce off the box
        x = np.where(hit, np.sign(x) * wall, x)
    return np.sum(x**2) + 0.1 * np.sum(v**2)


def kmeans_soft(X, C, beta):
    d = np.sum((X[:, None, :] - C[None, :, :]) ** 2, axis=-1)
    a = -beta * d
    m = np.max(a, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(a - m), axis=1))
    return -np.sum(lse) / beta


def heat_slices(u0, alpha):
    u = u0
    for _ in range(5):
        lap = np.concatenate([np.zeros(1), u[2:] - 2 * u[1:-1] + u[:-2], np.zeros(1)])
        u = u + alpha * lap
    return np.sum(u**2 * np.linspace(0.5, 1.5, len(u)))


def heat_in_place(u0, alpha):
    u = u0.copy()
    for _ in range(5):
        u[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u**2 * np.linspace(0.5, 1.5, len(u)))


def heat_state(u0, alpha):
    """Vector-valued: the grid after three steps, for the Jacobian."""
    u = u0.copy()
    for _ in range(3):
        u[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
    return u


def crf_log_partition(unary, trans):
    """log Z of a linear-chain CRF: the forward algorithm, a logsumexp folded with np.logaddexp."""
    alpha = unary[0]
    for t in range(1, unary.shape[0]):
        scores = alpha[:, None] + trans  # [from, to]
        new = scores[0]
        for i in range(1, scores.shape[0]):
            new = np.logaddexp(new, scores[i])
        alpha = new + unary[t]
    total = alpha[0]
    for j in range(1, len(alpha)):
        total = np.logaddexp(total, alpha[j])
    return total


def spline_eval(xq, knots, values, slopes):
    """Cubic Hermite spline through (knots, values) with ``slopes``, at the points ``xq``."""
    i = np.clip(np.searchsorted(knots, xq) - 1, 0, len(knots) - 2)
    h = knots[i + 1] - knots[i]
    t = (xq - knots[i]) / h
    h00 = 2 * t**3 - 3 * t**2 + 1
    h10 = t**3 - 2 * t**2 + t
    h01 = -2 * t**3 + 3 * t**2
    h11 = t**3 - t**2
    y = h00 * values[i] + h10 * h * slopes[i] + h01 * values[i + 1] + h11 * h * slopes[i + 1]
    return np.sum(np.sin(y))


def interp_loss(xq, fp):
    xp = np.linspace(0.0, 1.0, len(fp))
    return np.sum(np.interp(xq, xp, fp) ** 2)


def interp_values(xq, fp):
    """Vector-valued: np.interp itself, for the Jacobian."""
    return np.interp(xq, np.linspace(0.0, 1.0, len(fp)), fp)


# ---- the arguments ---------------------------------------------------------------------------------
_F = np.array([[1.0, 0.1], [0.0, 1.0]])
_H = np.array([[1.0, 0.0]])
KALMAN = (0.3, 0.5, [normal(1) for _ in range(4)], _F, _H, np.array([0.2, -0.1]))
ATTENTION = (normal(4, 3), normal(3, 2), normal(3, 2), normal(3, 2))
CONV = (normal(7), normal(3), 0.3)
BS = (100.0, 95.0, 0.5, 0.03, 0.25)
PARTICLES = (np.array([[0.2, 0.5], [-0.3, 0.1], [0.45, -0.2]]), np.array([[1.0, 0.3], [-0.5, 0.2], [0.7, -0.4]]), 0.05)
KMEANS = (normal(5, 2), normal(3, 2), 1.5)
HEAT = (np.sin(np.linspace(0.0, np.pi, 7)) + 0.1 * normal(7), 0.2)
CRF = (normal(4, 3), 0.5 * normal(3, 3))
SPLINE = (np.array([0.15, 0.4, 0.77, 1.3, 1.9]), np.array([0.0, 0.5, 1.0, 1.5, 2.0]), normal(5), normal(5))
INTERP = (np.array([0.13, 0.41, 0.77, 0.52]), normal(5))

# (function, arguments, runs in JAX (no in-place writes, no math on traced values),
#  its loops: "kept" (checkpointed) / "refused" (they change an array in place: CheckpointError) / None,
#  the argument of its Hessian: an index / "refused" / None)
PROGRAMS = [
    (kalman_filter, KALMAN, True, "kept", 5),
    (causal_attention, ATTENTION, True, None, None),
    (causal_attention_inf, ATTENTION, False, None, None),
    (conv_numpy, CONV, True, None, 1),
    (conv_loop, CONV, False, "refused", 1),
    (black_scholes, BS, False, None, 0),
    (particles, (*PARTICLES, 0.468), True, "kept", None),  # 0.468: no particle within 0.017 of a wall
    (kmeans_soft, KMEANS, True, None, None),
    (heat_slices, HEAT, True, "kept", 0),
    (heat_in_place, HEAT, False, "refused", "refused"),
    (crf_log_partition, CRF, True, "kept", None),
    (spline_eval, SPLINE, True, None, 0),
    (interp_loss, INTERP, True, None, 1),
]
IDS = [f.__name__ for f, *_ in PROGRAMS]


def _wrt(args):
    return tuple(i for i, a in enumerate(args) if _floating(a) and not (isinstance(a, list)))


# ---- the checks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("f, args, _jax, _loops, _hessian", PROGRAMS, ids=IDS)
def test_value_gradient_and_forward_mode(f, args, _jax, _loops, _hessian):
    differentiated(f, args)
    wrt = _wrt(args)
    grads = sct.grad(f, wrt=wrt)(*args)
    value, again = sct.value_and_grad(f, wrt=wrt)(*args)
    assert value == f(*args)
    for g, h in zip(grads, again, strict=True):
        np.testing.assert_array_equal(g, h)


LOOPS = [(f, a, loops) for f, a, _, loops, _ in PROGRAMS if loops]


@pytest.mark.parametrize("f, args, loops", LOOPS, ids=[f.__name__ for f, *_ in LOOPS])
def test_checkpointed_loops_give_the_same_numbers(f, args, loops):
    wrt = _wrt(args)
    value, grads = sct.value_and_grad(f, wrt=wrt)(*args)
    if loops == "refused":  # running a trip again would not start from the array it changed
        with pytest.raises(sct.CheckpointError, match="changes a value in place"):
            sct.grad(f, wrt=wrt, checkpoint=True)(*args)
        return
    for checkpoint in (True, 2):
        v, g = sct.value_and_grad(f, wrt=wrt, checkpoint=checkpoint)(*args)
        assert v == value
        for a, b in zip(g, grads, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


HESSIANS = [(f, a, i) for f, a, _, _, i in PROGRAMS if i is not None]


@pytest.mark.parametrize("f, args, i", HESSIANS, ids=[f.__name__ for f, *_ in HESSIANS])
def test_hessians_of_the_small_scalar_programs(f, args, i):
    if i == "refused":  # the generated gradient writes into an array another of its names holds
        with pytest.raises(sct.SctError, match="write seen through two names"):
            sct.hessian(f)(*args)
        return
    H = sct.hessian(f, wrt=i)(*args)
    x = args[i]
    np.testing.assert_allclose(H, np.swapaxes(H, 0, -1) if np.ndim(x) == 1 else H, rtol=1e-8, atol=1e-8)

    def gradient(v):
        full = list(args)
        full[i] = v
        return sct.grad(f, wrt=i)(*full)

    if np.ndim(x) == 0:
        h = 1e-5 * max(1.0, abs(x))
        expected = (gradient(x + h) - gradient(x - h)) / (2 * h)
    else:
        expected = np.stack([numeric_grad(lambda v, k=k: gradient(v)[k], [x], 0) for k in range(len(x))])
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-6)


VECTOR = [(conv_valid, CONV[:2]), (heat_state, HEAT), (interp_values, INTERP)]


@pytest.mark.parametrize("f, args", VECTOR, ids=[f.__name__ for f, _ in VECTOR])
def test_jacobians_of_the_vector_valued_programs(f, args):
    for i in (0, 1):
        expected = np.stack([numeric_grad(lambda *a, k=k: f(*a)[k], list(args), i) for k in range(len(f(*args)))])
        for mode in ("rev", "fwd"):
            J = sct.jacobian(f, wrt=i, mode=mode)(*args)
            np.testing.assert_allclose(J, expected.reshape(np.shape(J)), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, args, _jax, _loops, _hessian", PROGRAMS, ids=IDS)
def test_exported_module_gives_the_same_gradient(f, args, _jax, _loops, _hessian):
    wrt = _wrt(args)
    module = P.load(export_source(f, wrt=wrt), name=None)
    value, grads = module.gradient(*P.snapshot(list(args))), sct.grad(f, wrt=wrt)(*args)
    for a, b in zip(value, grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


JAX_PROGRAMS = [(f, a) for f, a, jax_ok, _, _ in PROGRAMS if jax_ok]


@pytest.mark.parametrize("f, args", JAX_PROGRAMS, ids=[f.__name__ for f, _ in JAX_PROGRAMS])
def test_against_jax(f, args):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    wrt = _wrt(args)
    grads = sct.grad(f, wrt=wrt)(*args)
    in_jax = types.FunctionType(f.__code__, {**f.__globals__, "np": jax.numpy}, f.__name__, f.__defaults__)
    expected = jax.grad(in_jax, argnums=wrt)(*args)
    for ours, theirs in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-9, atol=1e-12)
