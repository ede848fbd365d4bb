"""Functions for tests/test_pickle.py, in a module so that pickle (and spawned workers) can import them."""

import numpy as np

import sct


def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def loss_aux(w, x):
    y = np.tanh(x @ w)
    return np.sum(y**2), np.max(y)


def scalar(a, b):
    return a * np.sin(b) + b**2


@sct.grad(wrt=(0, 1))
def decorated(a, b):
    return a * np.cos(b) - a**3


class Model:
    def __init__(self, scale):
        self.scale = scale

    @sct.grad
    def energy(self, w):
        return self.scale * np.sum(w**2)

    def plain(self, w):
        return self.scale * np.sum(np.exp(w))


def worker(payload):
    """Call a pickled gradient object in a worker; say whether its code came from the persistent cache."""
    from sct import pipeline
    from sct.backend import cache

    gradient, args = payload
    before = pipeline.STATS["compiles"]
    result = gradient(*args)
    return result, cache.STATS["hits"], pipeline.STATS["compiles"] - before
