"""The reverse sweep reads a view of an array the forward sweep wrote into afterwards.

``z[0] *= v`` of a matrix lowers to ``b = z[0]; c = b * v; z[0] = c``: ``b`` is a row, a view of
``z``, so the write changes it too, and the adjoint ``delta_v = sum(delta_c * b)`` needs the old
row. sct records ``z[0]`` before the write and restores it after the write's adjoint, but it kept
that record only where the reverse sweep read the name ``z`` itself: where it read only ``b`` (``z``
used later under another name, ``w = z``, or returned by an inlined helper), the record was
dropped and ``d/dv`` came out as ``sum(b * v)`` instead of ``sum(b)``, silently (found by the
``mutation`` idiom family, tests/programs.py). Records now follow views (``recording.viewed_by``).
"""

import numpy as np
import pytest
from conftest import numeric_grad

import sct


def renamed_after_the_write(x0, x1):
    z1 = np.ones((2, 3)) * x0
    z = z1.copy()
    z[0] *= x1
    w = z
    return np.sum(z1 * 2.0 + w)


def _scaled_row(z, v):
    z = z.copy()
    z[0] *= v
    return z


def through_a_helper(x0, x1):
    z1 = np.ones((2, 3)) * x0
    w = _scaled_row(z1, x1)
    return np.sum(z1 * 2.0 + w)


def column_divided(x0, x1):
    z = np.outer(np.arange(1.0, 3.0), np.ones(3)) * x0
    z[:, 1] /= x1
    out = z
    return np.sum(out**2)


def row_powered_in_a_loop(x0, x1):
    z = np.ones((3, 2)) * x0
    for i in range(3):
        z[i] *= x1 + i
    w = z
    return np.sum(np.sin(w))


def through_a_reshaped_view(x0, x1):
    z = np.ones((2, 3)) * x0
    z[1] **= 2
    z[1] *= x1
    flat = z.reshape(-1)
    return np.sum(flat * np.arange(6.0))


def a_block_of_a_3d_array(x0, x1):
    z = np.ones((2, 2, 2)) * x0
    z[1, 0] *= x1
    w = z
    return np.sum(w**3)


PROGRAMS = [
    renamed_after_the_write,
    through_a_helper,
    column_divided,
    row_powered_in_a_loop,
    through_a_reshaped_view,
    a_block_of_a_3d_array,
]


@pytest.mark.parametrize("f", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_a_write_seen_through_a_view_is_undone_for_the_reverse_sweep(f):
    x0, x1 = 0.7, 1.3
    value, (d0, d1) = sct.value_and_grad(f, wrt=(0, 1))(x0, x1)
    assert value == f(x0, x1)
    assert d0 == pytest.approx(numeric_grad(f, (x0, x1), 0), rel=1e-7)
    assert d1 == pytest.approx(numeric_grad(f, (x0, x1), 1), rel=1e-7)
    sct.check_grads(f, (x0, x1), order=1)  # order 2: the generated code writes into a view, refused


def test_the_first_reproduction():
    # d/dx1 of sum(2 z1 + w), w = z1 with its first row times x1: the row's sum, 3 * 0.7
    _, (_, d1) = sct.value_and_grad(renamed_after_the_write, wrt=(0, 1))(0.7, 1.3)
    assert d1 == pytest.approx(2.1, rel=1e-12)  # was 2.73 = 2.1 * 1.3


def test_an_element_of_a_vector_is_exact_too():
    def f(x, v):
        z = x * 1.0
        z[0] *= v
        w = z
        return np.sum(w)

    x = np.array([0.5, 1.5])
    _, (dx, dv) = sct.value_and_grad(f, wrt=(0, 1))(x, 2.0)
    np.testing.assert_allclose(dx, [2.0, 1.0])
    assert dv == pytest.approx(0.5)
