"""Shape functions: reverse and forward mode against central differences, to second order."""

import numpy as np
import pytest

import sct

R = np.random.default_rng(7)
A = R.normal(size=(3, 4))
B = R.normal(size=(2, 4))
C = R.normal(size=(3, 2))
V = R.normal(size=4)
T3 = R.normal(size=(2, 3, 4))
W = R.normal(size=(3, 4))  # a fixed weight, so outputs are not symmetric in their entries


def ravel(x):
    return np.ravel(x) ** 2


def flatten(x):
    return x.flatten() ** 2


def method_ravel(x):
    return x.ravel() * np.ravel(W)


def squeeze(x):
    return np.squeeze(x[None], 0) ** 2


def squeeze_all(x):
    return np.squeeze(np.reshape(x, (1, 3, 1, 4))) * W


def expand_dims(x):
    return np.expand_dims(x, 1) ** 2


def concatenate(x, y):
    return np.concatenate([x, y], axis=0) ** 2


def concatenate_axis1(x, y):
    return np.concatenate((x, y, x), axis=-1) ** 2


def concatenate_flat(x, y):
    return np.concatenate([x, y], axis=None) ** 2


def concatenate_variable(x, y):
    parts = [x, y * 2.0]
    return np.concatenate(parts) ** 2


def stack(x):
    return np.stack([x, 2 * x, x**2], axis=1) ** 2


def stack_variable(x, y):
    parts = [x, y]
    return np.sin(np.stack(parts))


def hstack(x, y):
    return np.hstack((x, y)) ** 2


def vstack(x, y):
    return np.vstack([x, y]) ** 2


def dstack(x, y):
    return np.dstack([x, y]) ** 2


def column_stack(x, y):
    return np.column_stack([x, y]) ** 2


def transpose_axes(x):
    return np.transpose(x, (1, 2, 0)) ** 2


def swapaxes(x):
    return np.swapaxes(x, 0, 2) ** 2


def method_swapaxes(x):
    return x.swapaxes(0, 1) ** 2


def moveaxis(x):
    return np.moveaxis(x, 0, -1) ** 2


def flip(x):
    return np.flip(x, 1) * W


def flip_all(x):
    return np.flip(x) * W


def fliplr(x):
    return np.fliplr(x) * W


def flipud(x):
    return np.flipud(x) * W


def roll(x):
    return np.roll(x, 2, axis=1) * W


def roll_flat(x):
    return np.roll(x, -5) * W


def rot90(x):
    return np.rot90(x) ** 2


def tile(x):
    return np.tile(x, (2, 1)) ** 2


def tile_rank_up(x):
    return np.tile(x, (2, 1, 3)) ** 2


def repeat(x):
    return np.repeat(x, 3, axis=1) ** 2


def repeat_flat(x):
    return np.repeat(x, 2) ** 2


def broadcast_to(x):
    return np.broadcast_to(x, (5, 4)) ** 2


def pad(x):
    return np.pad(x, 1) ** 2


def pad_widths(x):
    return np.pad(x, ((1, 0), (2, 3))) ** 2


def take(x):
    return np.take(x, [0, 2, 2], axis=1) ** 2


def take_flat(x):
    return np.take(x, [0, 5, 5]) ** 2


def take_variable_indices(x, n):
    return np.take(x, np.arange(n), axis=0) ** 2


def take_along_axis(x):
    return np.take_along_axis(x, np.array([[0, 0], [1, 3], [3, 2]]), axis=1) ** 2


def diagonal(x):
    return np.diagonal(x, 1) ** 2


def diagonal_axes(x):
    return np.diagonal(x, -1, 1, 2) ** 2


def diag_build(x):
    return np.diag(x) ** 2 + np.diag(x, 1)[:4, :4] * W[0]


def diag_extract(x):
    return np.diag(x, -1) ** 2


def trace(x):
    return np.trace(x) ** 2


def trace_method(x):
    return x.trace(1) ** 2


def triu(x):
    return np.triu(x) ** 2


def tril(x):
    return np.tril(x, -1) ** 2


def atleast_1d(x):
    return np.atleast_1d(x) ** 2


def atleast_2d(x):
    return np.atleast_2d(x) ** 2


def atleast_3d(x):
    return np.atleast_3d(x) ** 2


def split(x):
    return np.split(x, 2, axis=1)[1] ** 2


def array_split(x):
    a, b = np.array_split(x, [1], axis=0)
    return np.sum(a**2) + np.sum(b**3)


def array_of_scalars(x, y):
    return np.array([x, y, 3.0]) ** 2


def array_of_arrays(x):
    return np.array([x, 2 * x]) ** 2


def array_nested(x, y):
    return np.array([[x, y], [y, 1.0]]) ** 2


def asarray(x):
    return np.asarray(x) ** 2


def copy(x):
    return np.copy(x) ** 2


CASES = [
    (ravel, (A,)),
    (flatten, (A,)),
    (method_ravel, (A,)),
    (squeeze, (A,)),
    (squeeze_all, (A,)),
    (expand_dims, (A,)),
    (concatenate, (A, B)),
    (concatenate_axis1, (A, C)),
    (concatenate_flat, (A, V)),
    (concatenate_variable, (A, B)),
    (stack, (A,)),
    (stack_variable, (A, W)),
    (hstack, (V, V)),
    (vstack, (V, B)),
    (dstack, (A, W)),
    (column_stack, (V, B.T)),
    (transpose_axes, (T3,)),
    (swapaxes, (T3,)),
    (method_swapaxes, (A,)),
    (moveaxis, (T3,)),
    (flip, (A,)),
    (flip_all, (A,)),
    (fliplr, (A,)),
    (flipud, (A,)),
    (roll, (A,)),
    (roll_flat, (A,)),
    (rot90, (A,)),
    (tile, (A,)),
    (tile_rank_up, (V,)),
    (repeat, (A,)),
    (repeat_flat, (A,)),
    (broadcast_to, (V,)),
    (pad, (A,)),
    (pad_widths, (A,)),
    (take, (A,)),
    (take_flat, (A,)),
    (take_variable_indices, (A, 2)),
    (take_along_axis, (A,)),
    (diagonal, (A,)),
    (diagonal_axes, (T3,)),
    (diag_build, (V,)),
    (diag_extract, (A,)),
    (trace, (A,)),
    (trace_method, (A,)),
    (triu, (A,)),
    (tril, (A,)),
    (atleast_1d, (1.5,)),
    (atleast_2d, (V,)),
    (atleast_3d, (A,)),
    (split, (A,)),
    (array_split, (A,)),
    (array_of_scalars, (1.5, -0.5)),
    (array_of_arrays, (V,)),
    (array_nested, (1.5, -0.5)),
    (asarray, (A,)),
    (copy, (A,)),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_shape_rule(fn, args):
    sct.check_grads(fn, args, modes=("fwd", "rev"), order=2)


def pad_reflect(x):
    return np.sum(np.pad(x, 1, mode="reflect"))


@pytest.mark.parametrize("fn, what", [(pad_reflect, "np.pad")])  # np.repeat with counts: tests/test_rules_numpy_more.py
def test_unsupported_forms_say_so(fn, what):
    with pytest.raises(sct.SctError, match=what):
        sct.grad(fn)(A)
