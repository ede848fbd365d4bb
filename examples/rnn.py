"""A vanilla recurrent network: a ``for`` loop over time steps, differentiated by sct.

The reverse sweep walks the loop backwards; the generated code keeps the hidden
states it needs in a list (a stack) during the forward sweep. Run
``sct dump examples/rnn.py:loss --wrt Wx,Wh,b,w_out`` to read it.

The task: read a sequence of 8 numbers and predict their sum. The loss should fall.

    python examples/rnn.py [STEPS]
"""

import sys

import numpy as np

import sct


def loss(Wx, Wh, b, w_out, xs, targets):
    """Mean squared error of the network's predictions for a batch of sequences ``xs`` (batch, time)."""
    h = np.zeros((xs.shape[0], Wh.shape[0]))
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t : t + 1] * Wx + h @ Wh + b)
    prediction = h @ w_out
    return np.mean((prediction - targets) ** 2)


def train(steps=300, rate=0.02, hidden=8, log_every=30):
    rng = np.random.default_rng(0)
    sequences = rng.uniform(-0.5, 0.5, size=(32, 8))
    targets = sequences.sum(axis=1)
    params = [
        0.5 * rng.standard_normal(hidden),
        0.1 * rng.standard_normal((hidden, hidden)),
        np.zeros(hidden),
        0.5 * rng.standard_normal(hidden),
    ]
    value_and_grad = sct.value_and_grad(loss, wrt=(0, 1, 2, 3))
    history = []
    for step in range(steps + 1):
        value, grads = value_and_grad(*params, sequences, targets)
        history.append(value)
        if step % log_every == 0:
            print(f"step {step:4d}   loss {value:.5f}")
        params = [p - rate * g for p, g in zip(params, grads)]
    return history


if __name__ == "__main__":
    history = train(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
    assert history[-1] < 0.5 * history[0], "the loss should have fallen"
    print(f"loss fell from {history[0]:.4f} to {history[-1]:.4f}")
