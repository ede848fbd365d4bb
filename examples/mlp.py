"""A two-layer perceptron trained by plain gradient descent, with gradients from sct.

The data set is synthetic: 200 points on [-2, 2], targets sin(2x) plus a little
noise. The loss (mean squared error) should fall steadily as training proceeds.

    python examples/mlp.py [STEPS]
    sct dump examples/mlp.py:loss --wrt W1,b1,W2,b2
"""

import sys

import numpy as np

import sct


def loss(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)
    prediction = hidden @ W2 + b2
    return np.mean((prediction - y) ** 2)


def data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 1))
    y = np.sin(2.0 * X) + 0.05 * rng.standard_normal((n, 1))
    return X, y


def init(hidden=16, seed=1):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((1, hidden)),
        np.zeros(hidden),
        rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
        np.zeros(1),
    ]


def train(steps=2000, rate=0.1, log_every=200):
    X, y = data()
    params = init()
    value_and_grad = sct.value_and_grad(loss, wrt=(0, 1, 2, 3))
    history = []
    for step in range(steps + 1):
        value, grads = value_and_grad(*params, X, y)
        history.append(value)
        if step % log_every == 0:
            print(f"step {step:5d}   loss {value:.5f}")
        params = [p - rate * g for p, g in zip(params, grads)]
    return history


if __name__ == "__main__":
    history = train(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    assert history[-1] < 0.5 * history[0], "the loss should have fallen"
    print(f"loss fell from {history[0]:.4f} to {history[-1]:.4f}")
