"""A called function that ends without ``return`` returns None, as in Python.

Inlined, such a function left its result unbound: the generated code read a name nothing assigned
(a NameError from generated code) where the call was a statement of its own. Found by h-addat.
"""

import numpy as np
import pytest

import sct
from sct.testing import check_grads
from tests import programs as P

SOURCE = """
import numpy as np


def side(x, v):
    y = x * v  # computes and drops: the call is for nothing


def f(x, v):
    side(x, v)
    return np.sum(x * v)


def g(x, v):
    a = x * 2.0

    def bump():
        a[0] += v  # changes the maker's array in place, returns None

    bump()
    return np.sum(a * x)


def half(x, flag):
    if flag > 0:
        return x * 2.0


def h(x, flag):
    y = half(x, flag)
    return np.sum(y * x)
"""


@pytest.fixture(scope="module")
def module():
    return P.load(SOURCE, name=None)


def _fn(module, name):
    return getattr(module, name)


@pytest.mark.parametrize("name", ["f", "g"])
def test_a_call_of_a_function_without_return_as_a_statement(module, name):
    fn = _fn(module, name)
    x, v = np.array([0.3, -1.2, 0.7]), 1.7
    value, grads = sct.value_and_grad(fn, wrt=(0, 1))(x, v)
    assert value == fn(x, v)
    check_grads(fn, (x, v), wrt=(0, 1), order=1)
    assert len(grads) == 2


def test_a_path_that_falls_off_the_end_gives_none(module):
    fn = _fn(module, "h")
    x = np.array([0.3, -1.2, 0.7])
    np.testing.assert_allclose(sct.grad(fn)(x, 1.0), 4.0 * x)  # d/dx sum(2 x * x)
    with pytest.raises(TypeError, match="NoneType"):  # Python's own error: None * x
        fn(x, -1.0)
    with pytest.raises(TypeError, match="NoneType"):
        sct.grad(fn)(x, -1.0)
