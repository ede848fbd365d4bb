"""A shared corpus of functions to differentiate, grouped by what they exercise."""

import math

import numpy as np


def seed(x, y):
    """The Kamper-style example: (x + sigmoid(y)) / (x**2 + y)."""
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)


def scalar_math(x, y):
    return math.sin(x) * math.exp(y) / math.sqrt(x * x + 1.0) + math.log(y + 2.0) - math.cos(x * y)


def polynomial(x, y):
    z = 3.0 * x**3 - 2.0 * x * y + y**2
    z = z / 4.0 - x
    return z * z


def unary_chain(x):
    return np.sum(np.tanh(np.sin(np.cos(np.exp(-np.abs(x))))) + np.sqrt(x * x + 1.0) + np.log(x * x + 2.0))


def tan_chain(x):
    return np.sum(np.tan(0.3 * x) - x**2 / 7.0)


def broadcasting(x, y):
    return np.sum((x * y + y) / (2.0 + x**2))


def mlp(W1, b1, W2, x):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2
    return np.mean(z**2)


def reductions(a, b):
    c = np.maximum(a, 0.0) * b
    d = np.sum(c, axis=0)
    e = np.mean(a * b, axis=1, keepdims=True)
    return np.sum(d * d) + np.sum(e) + np.sum(np.minimum(a, b))


def products(a, b, v):
    return np.sum(a.T @ b) + np.dot(v, a @ v) + np.sum(np.matmul(a, b) * a) + v @ v


def shapes(a):
    r = np.reshape(a, (2, 6))
    t = np.transpose(r)
    return np.sum(t * t.T.T) + np.sum(a.reshape(3, 4).T ** 2)


def reuse(x):
    y = x * x
    y = y + x
    x = y * 2.0
    return np.sum(x * y)


def seed_sum(x, y):
    return np.sum((x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y))
