"""Benchmark workloads: user-style functions with hand-written NumPy backprop.

Each workload pairs the function ``f`` that sct differentiates (ordinary
NumPy/Python code, written the way a user writes it) with ``hand_grad``, the
forward + backward pass a careful person would write by hand.  ``hand_grad``
returns one gradient per entry of ``wrt``, in order, and is the baseline every
other gradient is compared with.  It uses the same primitives as ``f`` (for
example ``np.exp`` on a Python float where ``f`` does), so that ratios measure
the differentiation overhead and not a change of library.

``benchmarks/test_workloads.py`` checks every ``hand_grad`` against central
finite differences.
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
)

BY_NAME = {w.name: w for w in WORKLOADS}
