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


# ---- a view on the right of a tuple assignment that writes into its array ----------------------
def rows_swapped_by_unpacking(A, w):
    B = A * 1.0
    B[0], B[1] = B[1] * w, B[0]  # NumPy: B[0] is a view, both rows end up B[1] * w (no swap)
    return np.sum(B**3)


def view_bound_by_unpacking(A, w):
    B = A * 1.0
    t, B[0] = B[0], B[1] * w  # t sees the new row
    return np.sum(t) + np.sum(B**2)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("f", [rows_swapped_by_unpacking, view_bound_by_unpacking])
def test_a_view_on_the_right_of_an_unpacking_that_writes_its_array_is_refused(f, mode):
    from conftest import assert_refused

    assert_refused(f, (np.arange(9.0).reshape(3, 3) / 9.0, 0.6), "is a view of `B`", mode)


def elements_swapped(x, w):  # elements of a vector are numbers: a real swap
    y = x * w
    y[0], y[1] = y[1], y[0]
    return np.sum(y * np.arange(3.0))


def rows_swapped_by_a_fancy_index(A, w):  # what the message says to write
    B = A * w
    B[[0, 1]] = B[[1, 0]]
    return np.sum(B * np.arange(3.0))


@pytest.mark.parametrize(
    "f, a",
    [(elements_swapped, np.array([0.3, -1.2, 0.8])), (rows_swapped_by_a_fancy_index, np.arange(9.0).reshape(3, 3))],
)
def test_swaps_that_are_swaps_are_exact(f, a):
    value, _ = sct.value_and_grad(f, wrt=(0, 1))(a, 0.6)
    assert value == f(a, 0.6)
    sct.check_grads(f, (a, 0.6), order=1)
