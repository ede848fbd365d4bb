"""The example from the README: f(x, y) = (x + sigmoid(y)) / (x**2 + y).

Run ``sct dump examples/seed.py:f`` to see its gradient as Python source, or
run this file to print the gradient at (1.5, 2.0).
"""

import numpy as np

import sct


def f(x: float, y: float):
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)


if __name__ == "__main__":
    dx, dy = sct.grad(f, wrt=(0, 1))(1.5, 2.0)
    print(f"df/dx = {dx:.6f}, df/dy = {dy:.6f}")
