"""Indices the random programs (tests/programs.py ``indexing``, 1-d and 2-d) do not reach: 3-d arrays with
advanced indices separated by a slice (their axis moves to the front), next to each other, with an int,
2-d index arrays, masks over leading axes, ``None`` in the middle, ``...`` with an index array,
``np.ix_`` over three axes, and writes through several of them. Each against central differences,
forward mode and the exported module."""

import numpy as np
import programs as P
import pytest
from conftest import numeric_grad

import sct
from sct.export import export_source

W = np.arange(1.0, 25.0).reshape(2, 3, 4) / 10
X = np.arange(24.0).reshape(2, 3, 4) / 17 + 0.1
CASES = {
    "separated": "return np.sum(np.sin(x[[0, 1, 1], :, [3, 0, 3]]) * W[0, :, :3].T)",
    "adjacent": "return np.sum(np.sin(x[:, [2, 0, 2], [1, 1, 3]]) * W[:, 0, :3])",
    "int and array": "return np.sum(np.sin(x[1, :, [0, 0, 2]]) * W[0, :, :3].T)",
    "2-d index": "return np.sum(np.sin(x[np.array([[0, 1], [1, 1]])]) * 2.0)",
    "mask of two axes": "m = x[:, :, 0] > 0.5\n    return np.sum(np.sin(x[m]) * np.arange(4.0))",
    "None in the middle": "return np.sum(np.sin(x[:, None, :, 1:2] * x[None]))",
    "ellipsis and array": "return np.sum(np.sin(x[..., [0, 0, 3]]) * W[..., :3])",
    "mask and int": "return np.sum(np.sin(x[np.array([True, False]), 1]) * W[0, 0])",
    "ix_ of three": "return np.sum(np.sin(x[np.ix_([1, 0], [2, 2], [0, 3])]))",
    "write 2-d index": "y = x * 1.0\n    y[np.array([[0, 1], [1, 0]])] = x[0] * np.ones((2, 2, 3, 4))\n"
    "    return np.sum(np.sin(y) * W)",
    "write separated": "y = x * 1.0\n    y[[0, 1, 0], :, [3, 0, 3]] = np.cos(x[1, :, :3].T)\n"
    "    return np.sum(np.sin(y) * W)",
    "mask +=": "y = x * 1.0\n    m = x > 1.0\n    y[m] += np.sin(x[m]) * 3.0\n    return np.sum(np.sin(y) * W)",
    "ix_ *= repeated": "y = x * 1.0\n    y[np.ix_([1, 1], [2, 2], [0, 3])] *= x[0, 0, 0]\n"
    "    return np.sum(np.sin(y) * W)",
}


def _load(body):
    return P.load(f"import numpy as np\n\nW = np.arange(1.0, 25.0).reshape(2, 3, 4) / 10\n\n\ndef f(x):\n    {body}\n")


@pytest.mark.parametrize("name", list(CASES))
def test_index(name):
    f = _load(CASES[name])
    expected = numeric_grad(f, [X.copy()], 0)
    value, g = sct.value_and_grad(f)(X.copy())
    assert value == f(X.copy())
    np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8)
    _, dot = sct.jvp(f, (X,), (np.ones_like(X),))
    assert dot == pytest.approx(np.sum(expected), rel=1e-6)
    module = P.load(export_source(f), name=None)
    np.testing.assert_allclose(module.gradient(X.copy()), g, rtol=1e-12, atol=1e-14)
