"""Newton's method on the Rosenbrock function, with the gradient and Hessian from sct.

Each step solves H(x) dx = -g(x); near the minimum at (1, 1) the error roughly
squares from one step to the next (quadratic convergence).

    python examples/newton.py
"""

import numpy as np

import sct


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 10.0 * (x[1] - x[0] ** 2) ** 2


def newton(f, x, steps=20, tol=1e-12):
    gradient = sct.grad(f)
    hessian = sct.hessian(f)
    for step in range(steps):
        g = gradient(x)
        print(f"step {step:2d}   x = [{x[0]: .12f}, {x[1]: .12f}]   |grad| = {np.linalg.norm(g):.3e}")
        if np.linalg.norm(g) < tol:
            break
        x = x - np.linalg.solve(hessian(x), g)
    return x


if __name__ == "__main__":
    x = newton(rosenbrock, np.array([-1.2, 1.0]))
    assert np.allclose(x, [1.0, 1.0]), x
    print(f"minimum at {x}")
