"""Functions for docs/troubleshooting.md: each raises one of sct's errors.

``python docs/snippets/troubles.py NAME`` prints the error ``NAME`` gives as
``ErrorClass: message``; the page shows that output, checked by tests/test_readme.py.
"""

import os
import sys

import numpy as np

import sct

CALLS = []


def unsupported(x):
    try:
        y = np.log(x)
    except FloatingPointError:
        y = x
    return y


def no_rule(x):
    return np.frexp(x)[0] * x


def shared(x):
    y = x
    y[0] = 5.0
    return np.sum(y * x)


def changes_a_global(x):
    CALLS.append(1)
    return x * 2.0


def complex_out(x):
    return x * (1 + 2j)


def vector_out(x):
    return np.sin(x)


def reciprocal(x):
    return 1.0 / x


CALLS_OF = {
    "unsupported": lambda: sct.grad(unsupported)(1.0),
    "no_rule": lambda: sct.grad(no_rule)(1.0),
    "shared": lambda: sct.grad(shared)(np.ones(3)),
    "changes_a_global": lambda: sct.grad(changes_a_global)(1.0),
    "complex_out": lambda: sct.grad(complex_out)(1.0),
    "vector_out": lambda: sct.grad(vector_out)(np.ones(2)),
    "source": lambda: sct.grad(eval("lambda x: x * x"))(1.0),
    "wrt": lambda: sct.grad(reciprocal, wrt=1.0)(2.0),
    "integer": lambda: sct.grad(reciprocal)(2),
}


if __name__ == "__main__":
    try:
        CALLS_OF[sys.argv[1]]()
    except sct.SctError as exc:
        print(f"{type(exc).__name__}: {exc}".replace(os.getcwd() + os.sep, ""))  # paths as the page shows them
