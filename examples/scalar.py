"""A scalar function of one variable, its derivative, and the code sct writes for it.

python examples/scalar.py
sct dump examples/scalar.py:f
sct check examples/scalar.py:f --args "0.7"
"""

import numpy as np

import sct


def f(x: float):
    return np.sin(x) * x**2 / (1.0 + np.exp(-x))


def df_by_hand(x):
    """The derivative worked out with pencil and paper, to compare against."""
    s = 1.0 / (1.0 + np.exp(-x))
    return np.cos(x) * x**2 * s + np.sin(x) * 2 * x * s + np.sin(x) * x**2 * s * (1 - s)


if __name__ == "__main__":
    df = sct.grad(f)
    print(df.source)
    print()
    for x in (-2.0, 0.0, 0.7, 3.0):
        print(f"x = {x:5.2f}   f(x) = {f(x):9.5f}   f'(x) = {df(x):9.5f}   by hand: {df_by_hand(x):9.5f}")
