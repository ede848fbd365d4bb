"""``y[idx]`` with an index array copies (NumPy's advanced indexing): a later write into ``y`` is not seen
through it, so sct follows the program instead of refusing it as "a write seen through two names".

Index arrays are those sct can see: a list display, ``np.array``/``np.asarray`` of a display,
``np.arange``, or a name bound only to one of them. A slice, an int, a 0-d array (``np.array(1)``, which
indexes as an int: a row of a matrix is a view), a comparison (``pair[x > 0]`` of a list and a number is
an item, the array itself) or an index from outside stays a possible view and is refused as before.
Second order differentiates generated code holding such reads (``a = y[idx]`` before ``y[idx] = d``),
which was refused for the same reason.
"""

import numpy as np
import pytest

import sct
from sct.frontend import aliases
from tests import programs as P

SOURCE = """
import numpy as np


def fancy_list(x):
    y = x * 2.0
    a = y[[0, 2]]
    y[0] = 5.0
    return np.sum(a * a) + np.sum(y * x)


def fancy_name(x):
    y = x * 2.0
    idx = np.array([0, 2, 2])
    a = y[idx]
    y[idx] += x[:3]
    return np.sum(a * y[:3])


def mask(x):
    y = x * 2.0
    a = y[y > 1.0]
    y[1] = 0.0
    return np.sum(a) + np.sum(y * y)


def arange_rows(x):
    m = np.outer(x, x)
    rows = np.arange(2)
    a = m[rows, 1:]
    m[0, 1] = 0.0
    return np.sum(a * a) + np.sum(m)


def repeated_write(x):
    y = x * 2.0
    idx = np.array([0, 1, 1])
    y[idx] += x[:3] * 2.0
    return np.sum(y * y)


def pick(x):
    y = x * 2.0
    pair = [x, y]
    a = pair[0.5 > 0.0]  # pair[True] is pair[1]: y itself, not a copy
    y[0] = 5.0
    return np.sum(a) + np.sum(y)


def view(x):
    y = x * 2.0
    a = y[0:2]
    y[0] = 5.0
    return np.sum(a) + np.sum(y)


def zero_d(x):
    y = np.outer(x, x)
    i = np.array(1)
    a = y[i]
    y[1, 1] = 0.0
    return np.sum(a) + np.sum(y)


def outside_index(x, idx):
    y = x * 2.0
    a = y[idx]
    y[0] = 5.0
    return np.sum(a) + np.sum(y)


def rebound(x):
    y = np.outer(x, x)
    idx = np.array([0, 1])
    idx = 1  # an int now: y[idx] a row, a view
    a = y[idx]
    y[1, 1] = 0.0
    return np.sum(a) + np.sum(y)
"""

X = np.array([0.3, 1.2, -0.7, 0.9])


@pytest.fixture(scope="module")
def module():
    return P.load(SOURCE, name=None)


@pytest.mark.parametrize("name", ["fancy_list", "fancy_name", "arange_rows", "repeated_write"])
def test_a_copy_by_an_index_array_is_followed_to_second_order(module, name):
    fn = getattr(module, name)
    value, _ = sct.value_and_grad(fn)(X)
    assert value == fn(X)  # Python's value, to the bit
    sct.check_grads(fn, (X,), order=2, modes=("rev", "fwd"))


def test_hessian_of_an_indexed_write(module):
    # the generated gradient reads a = y[idx] before y[idx] = d: second order was refused
    hessian = sct.hessian(module.repeated_write)(X)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-12)
    g = sct.grad(module.repeated_write)
    v = np.array([0.4, -1.0, 0.3, 0.8])
    eps = 1e-6
    fd = (g(X + eps * v) - g(X - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hessian @ v, fd, rtol=1e-6)


@pytest.mark.parametrize("name", ["view", "zero_d", "outside_index", "rebound", "mask", "pick"])
def test_a_possible_view_is_still_refused(module, name):
    fn = getattr(module, name)
    args = (X, np.array([0, 1])) if name == "outside_index" else (X,)
    with pytest.raises(sct.errors.UnsupportedSyntaxError, match="holds the same array or a view"):
        sct.grad(fn)(*args)


def test_which_names_hold_index_arrays():
    import gast

    fn = gast.parse(
        "def f(x, p):\n"
        "    a = [0, 1]\n"
        "    b = np.array([0, 1])\n"
        "    c = np.arange(3)\n"
        "    d = x > 0\n"
        "    e = np.array(1)\n"
        "    g = np.array([0])\n"
        "    g = 2\n"
        "    for h in range(2):\n"
        "        pass\n"
        "    h = [1]\n"
        "    p = [0]\n"
        "    return x\n"
    ).body[0]
    assert aliases.index_arrays(fn) == {"a", "b", "c"}  # not d: x > 0 may be a bool


def test_only_bindings_in_the_functions_own_scope_count():
    import gast

    fn = gast.parse(
        "def f(x):\n"
        "    def helper():\n"
        "        idx = [0]\n"  # helper's own idx: in f, idx is a global
        "        return idx\n"
        "    g = lambda: [1]\n"
        "    a = [0, 1]\n"
        "    b = [0]\n"
        "    global b\n"
        "    c = np.arange(2)\n"
        "    def c():\n"
        "        pass\n"
        "    d = [[0], [1]]\n"
        "    e = [i for i in range(2)]\n"
        "    return x\n"
    ).body[0]
    assert aliases.index_arrays(fn) == {"a", "d"}
