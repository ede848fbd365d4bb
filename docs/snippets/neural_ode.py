"""A neural ODE fitted with odeint: docs/scipy.md runs this file and shows what it prints."""

import numpy as np
from scipy.integrate import odeint

import sct

T = np.linspace(0.0, 3.0, 13)
TARGET = np.exp(-0.3 * T)[:, None] * np.stack([np.cos(2 * T), -np.sin(2 * T)], axis=1)  # a damped spiral


def field(y, t, W1, b1, W2):
    """dy/dt: a one-hidden-layer network of the state."""
    return W2 @ np.tanh(W1 @ y + b1)


def loss(W1, b1, W2):
    ys = odeint(field, TARGET[0], T, args=(W1, b1, W2), rtol=1e-8, atol=1e-8)
    return np.mean((ys - TARGET) ** 2)


def fit(steps=80, rate=0.08):
    rng = np.random.default_rng(0)
    params = [0.5 * rng.normal(size=(8, 2)), np.zeros(8), 0.5 * rng.normal(size=(2, 8))]
    value_and_grad = sct.value_and_grad(loss, wrt=(0, 1, 2))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):  # Adam
        value, grads = value_and_grad(*params)
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g**2
            params[i] = params[i] - rate * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
        if step in (1, steps):
            print(f"step {step:3d}: loss {value:.4f}")
    return params


if __name__ == "__main__":
    params = fit()
    sct.check_grads(loss, tuple(params), order=1, rtol=1e-4, atol=1e-6)  # against central differences
    print("gradient checked against central differences")
