"""A T-layer ReLU network written as a plain loop over a list of weight matrices.

    for W in Ws:
        z = np.maximum(W @ z, 0.0)

``sct.grad`` returns the gradient with the structure of ``Ws``: a list of matrices.
Run ``sct dump examples/relu_net.py:loss`` to see the loop replayed backwards.
"""

import numpy as np

import sct


def loss(Ws, x, y):
    z = x
    for W in Ws:
        z = np.maximum(W @ z, 0.0)
    return np.sum((z - y) ** 2)


def main(layers=4, width=8, steps=60, rate=0.01):
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(width, width)) / np.sqrt(width) + np.eye(width) for _ in range(layers)]
    x, y = rng.normal(size=width), rng.normal(size=width)
    dloss = sct.grad(loss)
    first = loss(Ws, x, y)
    for step in range(steps):
        if step % 20 == 0:  # the loss before this step's update: step 0 shows the first loss
            print(f"step {step:3d}  loss {loss(Ws, x, y):.5f}")
        grads = dloss(Ws, x, y)
        Ws = [W - rate * g for W, g in zip(Ws, grads)]
    print(f"loss {first:.5f} -> {loss(Ws, x, y):.5f}")
    return first, loss(Ws, x, y)


if __name__ == "__main__":
    main()
