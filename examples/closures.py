"""Functions as values, local functions and objects, differentiated by sct.

An activation passed in (a variant per function), a local ``def`` reading the
function's variables, a step function made by a factory, a layer object whose
methods read ``self.W``, and a random generator passed in.

    python examples/closures.py
"""

import functools

import numpy as np

import sct


def mlp(params, x, act=np.tanh):
    def layer(W, b, h):  # a local def
        return act(W @ h + b)  # act: a function passed in

    h = x
    for W, b in params[:-1]:
        h = layer(W, b, h)
    W, b = params[-1]
    return W @ h + b


def loss(params, x, y, act=np.tanh):
    return np.sum((mlp(params, x, act) - y) ** 2)


def make_ode_step(k):
    def step(u, dt):
        return u + dt * (-k * u**3)  # reads k when it is called

    return step


def one_step(k, u):
    return make_ode_step(k)(u, 0.1)


class Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return np.tanh(self.W @ x + self.b)

    def loss(self, x):
        return np.sum(self(x) ** 2)


def noisy_score(layer, x, rng):
    return layer.loss(x + 0.01 * rng.normal(size=x.shape))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    params = [(rng.normal(size=(4, 3)), np.zeros(4)), (rng.normal(size=(1, 4)), np.zeros(1))]
    x, y = rng.normal(size=3), np.array([0.5])
    g_tanh = sct.grad(loss)(params, x, y)  # compiled for np.tanh
    g_soft = sct.grad(loss)(params, x, y, functools.partial(np.logaddexp, 0.0))  # and for softplus
    print("d loss / d W1 (tanh):    ", np.round(g_tanh[0][0][0], 4))
    print("d loss / d W1 (softplus):", np.round(g_soft[0][0][0], 4))
    print("d one_step / dk:", round(sct.grad(one_step)(0.8, 1.5), 6))
    layer = Dense(rng.normal(size=(2, 3)), np.zeros(2))
    print("d layer.loss / dx:", np.round(sct.grad(layer.loss)(x), 4))
    print("d noisy_score / dx:", np.round(sct.grad(noisy_score, wrt=1)(layer, x, np.random.default_rng(1)), 4))
