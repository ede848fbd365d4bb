"""Benchmark workloads: user-style functions with hand-written NumPy backprop.

Each workload pairs the function ``f`` that sct differentiates (ordinary
NumPy/Python code, written the way a user writes it) with ``hand_grad``, the
forward + backward pass a careful person would write by hand.  ``hand_grad``
returns one gradient per entry of ``wrt``, in order, and is the baseline every
other gradient is compared with.  It uses the same primitives as ``f`` (for
example ``np.exp`` on a Python float where ``f`` does), so that ratios measure
the differentiation overhead and not a change of library.

``benchmarks/test_workloads.py`` checks every ``hand_grad`` against central
finite differences. A ``# backward`` comment in each ``hand_grad`` marks where its
backward pass starts: ``benchmarks/readability.py`` counts the lines after it.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    f: Callable
    make_args: Callable[[], tuple]
    wrt: tuple[int, ...]
    hand_grad: Callable


# (a) the seed scalar function, on Python floats --------------------------------


def seed(x, y):
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)


def seed_hand(x, y):
    s = 1.0 / (1.0 + np.exp(-y))
    num = x + s
    den = x**2 + y
    # backward
    d_num = 1.0 / den
    d_den = -num / (den * den)
    d_x = d_num + d_den * 2.0 * x
    d_y = d_den + d_num * s * (1.0 - s)
    return d_x, d_y


def seed_args():
    return 0.7, 1.3


# (b) a straight-line chain of ~20 scalar ``math`` operations --------------------


def chain(x, y):
    a = x * y
    b = math.sin(a) + x
    c = math.exp(-b * b)
    d = c / (1.0 + y * y)
    e = math.cos(d) * a
    g = math.log(1.0 + e * e)
    h = math.sqrt(g + x * x)
    k = math.tanh(h - y)
    return k * d + g / h


def chain_hand(x, y):
    # forward, keeping what the backward pass reads
    a = x * y
    b = math.sin(a) + x
    c = math.exp(-b * b)
    q = 1.0 + y * y
    d = c / q
    cos_d = math.cos(d)
    e = cos_d * a
    p = 1.0 + e * e
    g = math.log(p)
    h = math.sqrt(g + x * x)
    k = math.tanh(h - y)
    # backward of  k * d + g / h
    d_d = k
    d_g = 1.0 / h
    d_h = -g / (h * h)
    d_z = d * (1.0 - k * k)  # through k = tanh(h - y)
    d_h += d_z
    d_y = -d_z
    d_r = d_h * 0.5 / h  # through h = sqrt(g + x * x)
    d_g += d_r
    d_x = d_r * 2.0 * x
    d_e = d_g * 2.0 * e / p  # through g = log(1 + e * e)
    d_a = d_e * cos_d
    d_d -= d_e * a * math.sin(d)  # through e = cos(d) * a
    d_c = d_d / q  # through d = c / q
    d_y -= d_d * d / q * 2.0 * y
    d_b = -d_c * c * 2.0 * b  # through c = exp(-b * b)
    d_x += d_b
    d_a += d_b * math.cos(a)  # through b = sin(a) + x
    d_x += d_a * y
    d_y += d_a * x
    return d_x, d_y


def chain_args():
    return 0.8, -0.6


# (c) 3-layer MLP: tanh, sigmoid, linear; mean squared error -------------------


def mlp(W1, b1, W2, b2, W3, b3, x, y):
    h1 = np.tanh(x @ W1 + b1)
    h2 = 1.0 / (1.0 + np.exp(-(h1 @ W2 + b2)))
    out = h2 @ W3 + b3
    return np.mean((out - y) ** 2)


def mlp_hand(W1, b1, W2, b2, W3, b3, x, y):
    h1 = np.tanh(x @ W1 + b1)
    h2 = 1.0 / (1.0 + np.exp(-(h1 @ W2 + b2)))
    r = h2 @ W3 + b3 - y
    # backward
    d_out = r * (2.0 / r.size)
    d_W3 = h2.T @ d_out
    d_b3 = d_out.sum(axis=0)
    d_z2 = (d_out @ W3.T) * h2 * (1.0 - h2)
    d_W2 = h1.T @ d_z2
    d_b2 = d_z2.sum(axis=0)
    d_z1 = (d_z2 @ W2.T) * (1.0 - h1 * h1)
    d_W1 = x.T @ d_z1
    d_b1 = d_z1.sum(axis=0)
    return d_W1, d_b1, d_W2, d_b2, d_W3, d_b3


def _dense(rng, n_in, n_out):
    weight = rng.standard_normal((n_in, n_out)) / math.sqrt(n_in)
    bias = 0.1 * rng.standard_normal(n_out)
    return weight, bias


def mlp_args(batch=64, width=256, n_out=10):
    rng = np.random.default_rng(0)
    W1, b1 = _dense(rng, width, width)
    W2, b2 = _dense(rng, width, width)
    W3, b3 = _dense(rng, width, n_out)
    x = rng.standard_normal((batch, width))
    y = rng.standard_normal((batch, n_out))
    return W1, b1, W2, b2, W3, b3, x, y


# (d) 200-step scalar loop with a data-dependent branch ------------------------


def loop(x, a):
    for _ in range(200):
        if x > 0.0:  # noqa: SIM108 - a branch on purpose: sct must handle control flow
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
    return x * x


def loop_hand(x, a):
    xs = []
    for _ in range(200):
        xs.append(x)
        if x > 0.0:  # noqa: SIM108
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
    # backward
    d_x = 2.0 * x
    d_a = 0.0
    for x_i in reversed(xs):
        if x_i > 0.0:
            d_a += d_x * x_i
            d_x *= a + 0.1 * math.cos(x_i)
        else:
            d_x *= 1.01
    return d_x, d_a


def loop_args():
    return 0.5, 0.8


# (e) vanilla RNN, 50 steps, batch 16, hidden 64; loss on the last state -------


def rnn(Wx, Wh, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h**2)


def rnn_hand(Wx, Wh, b, h0, xs):
    hs = [h0]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + b))
    # backward
    d_Wx = np.zeros_like(Wx)
    d_Wh = np.zeros_like(Wh)
    d_b = np.zeros_like(b)
    d_h = 2.0 * hs[-1]
    for t in reversed(range(xs.shape[0])):
        d_z = d_h * (1.0 - hs[t + 1] * hs[t + 1])
        d_Wx += xs[t].T @ d_z
        d_Wh += hs[t].T @ d_z
        d_b += d_z.sum(axis=0)
        d_h = d_z @ Wh.T
    return d_Wx, d_Wh, d_b


def rnn_args(steps=50, batch=16, n_in=32, hidden=64):
    rng = np.random.default_rng(0)
    Wx = rng.standard_normal((n_in, hidden)) / math.sqrt(n_in)
    Wh = rng.standard_normal((hidden, hidden)) / math.sqrt(hidden)
    b = 0.1 * rng.standard_normal(hidden)
    h0 = np.zeros((batch, hidden))
    xs = rng.standard_normal((steps, batch, n_in))
    return Wx, Wh, b, h0, xs


# (f) a bouncing ball: a while loop with a bounce (if), on Python floats --------


def ball(y0, v0, restitution):
    g = 9.81
    dt = 0.01
    y = y0
    v = v0
    t = 0.0
    energy = 0.0
    while t < 2.0:
        v = v - g * dt
        y = y + v * dt
        if y < 0.0:
            y = -y
            v = -restitution * v
        energy = energy + 0.5 * v * v * dt
        t = t + dt
    return y + 0.1 * energy


def ball_hand(y0, v0, restitution):
    g, dt = 9.81, 0.01
    y, v, t, energy = y0, v0, 0.0, 0.0
    vs, hits = [], []
    while t < 2.0:
        v = v - g * dt
        y = y + v * dt
        vs.append(v)
        hits.append(y < 0.0)
        if y < 0.0:
            y = -y
            v = -restitution * v
        energy = energy + 0.5 * v * v * dt
        t = t + dt
    # backward
    d_y, d_v, d_r = 1.0, 0.0, 0.0
    for v, hit in zip(reversed(vs), reversed(hits)):
        if hit:
            d_v += 0.1 * dt * -restitution * v
            d_r -= d_v * v
            d_v = -restitution * d_v
            d_y = -d_y
        else:
            d_v += 0.1 * dt * v
        d_v += d_y * dt
    return d_y, d_v, d_r


def ball_args():
    return 1.0, 0.0, 0.8


# (g) a Runge-Kutta 4 integrator of a damped pendulum, 50 steps, Python floats --


def rk4(theta0, c):
    h = 0.05
    th = theta0
    om = 0.0
    for _ in range(50):
        k1t = om
        k1o = -math.sin(th) - c * om
        k2t = om + 0.5 * h * k1o
        k2o = -math.sin(th + 0.5 * h * k1t) - c * k2t
        k3t = om + 0.5 * h * k2o
        k3o = -math.sin(th + 0.5 * h * k2t) - c * k3t
        k4t = om + h * k3o
        k4o = -math.sin(th + h * k3t) - c * k4t
        th = th + h / 6.0 * (k1t + 2.0 * k2t + 2.0 * k3t + k4t)
        om = om + h / 6.0 * (k1o + 2.0 * k2o + 2.0 * k3o + k4o)
    return th * th + om * om


def rk4_hand(theta0, c):
    h = 0.05
    th, om = theta0, 0.0
    states = []
    for _ in range(50):
        states.append((th, om))
        k1t = om
        k1o = -math.sin(th) - c * om
        k2t = om + 0.5 * h * k1o
        k2o = -math.sin(th + 0.5 * h * k1t) - c * k2t
        k3t = om + 0.5 * h * k2o
        k3o = -math.sin(th + 0.5 * h * k2t) - c * k3t
        k4t = om + h * k3o
        k4o = -math.sin(th + h * k3t) - c * k4t
        th = th + h / 6.0 * (k1t + 2.0 * k2t + 2.0 * k3t + k4t)
        om = om + h / 6.0 * (k1o + 2.0 * k2o + 2.0 * k3o + k4o)
    # backward
    d_th, d_om, d_c = 2.0 * th, 2.0 * om, 0.0
    for th, om in reversed(states):
        k1o = -math.sin(th) - c * om  # the stages again, from the state the trip started with
        a2, k2t = th + 0.5 * h * om, om + 0.5 * h * k1o
        k2o = -math.sin(a2) - c * k2t
        a3, k3t = th + 0.5 * h * k2t, om + 0.5 * h * k2o
        k3o = -math.sin(a3) - c * k3t
        a4, k4t = th + h * k3t, om + h * k3o
        d_k4o, d_k3o, d_k2o, d_k1o = d_om * h / 6.0, d_om * h / 3.0, d_om * h / 3.0, d_om * h / 6.0
        d_k4t, d_k3t, d_k2t, d_k1t = d_th * h / 6.0, d_th * h / 3.0, d_th * h / 3.0, d_th * h / 6.0
        d_a4 = -d_k4o * math.cos(a4)
        d_c -= d_k4o * k4t
        d_k4t -= c * d_k4o
        d_th += d_a4
        d_k3t += h * d_a4
        d_om += d_k4t
        d_k3o += h * d_k4t
        d_a3 = -d_k3o * math.cos(a3)
        d_c -= d_k3o * k3t
        d_k3t -= c * d_k3o
        d_th += d_a3
        d_k2t += 0.5 * h * d_a3
        d_om += d_k3t
        d_k2o += 0.5 * h * d_k3t
        d_a2 = -d_k2o * math.cos(a2)
        d_c -= d_k2o * k2t
        d_k2t -= c * d_k2o
        d_th += d_a2
        d_k1t += 0.5 * h * d_a2
        d_om += d_k2t
        d_k1o += 0.5 * h * d_k2t
        d_th -= d_k1o * math.cos(th)
        d_c -= d_k1o * om
        d_om += d_k1t - c * d_k1o
    return d_th, d_c


def rk4_args():
    return 1.2, 0.3


# (h) an LSTM cell over 10 steps, batch 16, hidden 32; loss on the last state ---


def lstm(Wx, Wh, b, h0, c0, xs):
    h = h0
    c = c0
    n = h0.shape[1]
    for t in range(xs.shape[0]):
        z = xs[t] @ Wx + h @ Wh + b
        i = 1.0 / (1.0 + np.exp(-z[:, :n]))
        f = 1.0 / (1.0 + np.exp(-z[:, n : 2 * n]))
        o = 1.0 / (1.0 + np.exp(-z[:, 2 * n : 3 * n]))
        g = np.tanh(z[:, 3 * n :])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.sum(h**2)


def lstm_hand(Wx, Wh, b, h0, c0, xs):
    n = h0.shape[1]
    h, c = h0, c0
    tape = []
    for t in range(xs.shape[0]):
        z = xs[t] @ Wx + h @ Wh + b
        s = 1.0 / (1.0 + np.exp(-z[:, : 3 * n]))
        i, f, o = s[:, :n], s[:, n : 2 * n], s[:, 2 * n :]
        g = np.tanh(z[:, 3 * n :])
        tape.append((h, c, i, f, o, g))
        c = f * c + i * g
        h = o * np.tanh(c)
    # backward
    d_Wx, d_Wh, d_b = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    d_h, d_c = 2.0 * h, np.zeros_like(c)
    for t in reversed(range(xs.shape[0])):
        h_prev, c_prev, i, f, o, g = tape[t]
        tc = np.tanh(f * c_prev + i * g)
        d_c = d_c + d_h * o * (1.0 - tc * tc)
        d_i, d_f, d_o = d_c * g * i * (1.0 - i), d_c * c_prev * f * (1.0 - f), d_h * tc * o * (1.0 - o)
        d_z = np.concatenate([d_i, d_f, d_o, d_c * i * (1.0 - g * g)], axis=1)
        d_c = d_c * f
        d_Wx += xs[t].T @ d_z
        d_Wh += h_prev.T @ d_z
        d_b += d_z.sum(axis=0)
        d_h = d_z @ Wh.T
    return d_Wx, d_Wh, d_b


def lstm_args(steps=10, batch=16, n_in=16, hidden=32):
    rng = np.random.default_rng(0)
    Wx = rng.standard_normal((n_in, 4 * hidden)) / math.sqrt(n_in)
    Wh = rng.standard_normal((hidden, 4 * hidden)) / math.sqrt(hidden)
    b = 0.1 * rng.standard_normal(4 * hidden)
    h0 = np.zeros((batch, hidden))
    c0 = np.zeros((batch, hidden))
    xs = rng.standard_normal((steps, batch, n_in))
    return Wx, Wh, b, h0, c0, xs


# (i) a Gaussian process's negative log marginal likelihood, 40 points --------

LOG_2PI = math.log(2.0 * math.pi)


def gp(log_ell, log_sf, log_noise, X, y):
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(2.0 * log_sf) * np.exp(-0.5 * d2 / np.exp(2.0 * log_ell))
    K = K + np.exp(2.0 * log_noise) * np.eye(X.shape[0])
    alpha = np.linalg.solve(K, y)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ alpha) + 0.5 * logdet + 0.5 * X.shape[0] * LOG_2PI


def gp_hand(log_ell, log_sf, log_noise, X, y):
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    ell2, sf2, sn2 = np.exp(2.0 * log_ell), np.exp(2.0 * log_sf), np.exp(2.0 * log_noise)
    E = sf2 * np.exp(-0.5 * d2 / ell2)
    K = E + sn2 * np.eye(X.shape[0])
    K_inv = np.linalg.inv(K)
    alpha = K_inv @ y
    # backward
    d_K = 0.5 * (K_inv - np.outer(alpha, alpha))
    d_E = d_K * E
    d_log_ell = np.sum(d_E * d2) / ell2
    d_log_sf = 2.0 * np.sum(d_E)
    d_log_noise = 2.0 * sn2 * np.trace(d_K)
    return d_log_ell, d_log_sf, d_log_noise


def gp_args(points=40, dims=2):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((points, dims))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(points)
    return 0.1, -0.2, -1.5, X, y


WORKLOADS = (
    Workload(
        "seed",
        "(x + sigmoid(y)) / (x**2 + y) on Python floats",
        seed,
        seed_args,
        (0, 1),
        seed_hand,
    ),
    Workload(
        "chain",
        "straight-line chain of 22 scalar math ops on Python floats",
        chain,
        chain_args,
        (0, 1),
        chain_hand,
    ),
    Workload(
        "mlp",
        "3-layer tanh/sigmoid MLP, batch 64, width 256, float64, MSE",
        mlp,
        mlp_args,
        (0, 1, 2, 3, 4, 5),
        mlp_hand,
    ),
    Workload(
        "loop",
        "200-step scalar loop with a data-dependent if",
        loop,
        loop_args,
        (0, 1),
        loop_hand,
    ),
    Workload(
        "rnn",
        "vanilla tanh RNN, 50 steps, batch 16, hidden 64, float64",
        rnn,
        rnn_args,
        (0, 1, 2),
        rnn_hand,
    ),
    Workload(
        "ball",
        "bouncing ball: a 200-trip while loop with a bounce (if) on Python floats",
        ball,
        ball_args,
        (0, 1, 2),
        ball_hand,
    ),
    Workload(
        "rk4",
        "Runge-Kutta 4 integrator of a damped pendulum, 50 steps, Python floats",
        rk4,
        rk4_args,
        (0, 1),
        rk4_hand,
    ),
    Workload(
        "lstm",
        "LSTM cell, 10 steps, batch 16, hidden 32, float64",
        lstm,
        lstm_args,
        (0, 1, 2),
        lstm_hand,
    ),
    Workload(
        "gp",
        "Gaussian process negative log marginal likelihood, 40 points (solve, slogdet)",
        gp,
        gp_args,
        (0, 1, 2),
        gp_hand,
    ),
)

BY_NAME = {w.name: w for w in WORKLOADS}
