"""The Python people leave in a function: ``*args``, keyword-only parameters, generator
expressions, ``map``, ``sorted(key=...)``, ``assert`` and ``print``; sct differentiates it as
written.

    python examples/idioms.py
"""

import numpy as np

import sct


def penalty(*weights, scale=1.0):
    return scale * sum(np.sum(w**2) for w in weights)  # a generator expression, consumed at once


def loss(W, b, x, *, l2=0.01):
    assert W.shape[1] == x.shape[0], f"W has {W.shape[1]} columns for {x.shape[0]} inputs"
    z = W @ x + b
    top = sorted(map(float, z), key=abs)[-1]  # the largest activation by magnitude; no derivative
    print(f"largest activation {top:.3f}")  # kept in the forward sweep
    return np.sum(np.tanh(z) ** 2) + penalty(W, b, scale=l2)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    W, b, x = rng.normal(size=(2, 3)), np.zeros(2), rng.normal(size=3)
    dW, db = sct.grad(loss, wrt=("W", "b"))(W, b, x, l2=0.1)
    print("dW =", np.round(dW, 4))
    print("db =", np.round(db, 4))
