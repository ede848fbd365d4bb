"""Functions sct refuses or gets wrong, for the docs' examples of error messages."""

import cmath

import numpy as np


def tries(x):
    try:
        y = np.log(x)
    except FloatingPointError:
        y = x
    del x
    return y


def no_rule(x):
    return cmath.phase(x) * x


def relu(x):
    return x * (x > 0.0)


def shifted(x):
    return np.sum(np.exp(x - np.max(x)))
