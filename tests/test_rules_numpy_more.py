"""The rest of NumPy (issue 14, item 5): einsum in every form, differences, partition, select,
splits and joins, repeat with a computed count, clip by keyword, complex helpers.

Every function is checked against central differences in forward and reverse mode, to second
order where the derivative of the adjoint exists, and its value against plain NumPy (translation
validation is on for the whole suite).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sct

R = np.random.default_rng(14)
A = R.normal(size=(3, 4))
S = R.normal(size=(3, 3))
V = R.normal(size=5)
T3 = R.normal(size=(2, 3, 4))
SPEC = "ij,kj->ik"  # subscripts held in a variable
W4 = np.arange(1.0, 5.0)  # fixed weights: outputs not symmetric in their entries


def check(f, *args, order=2):
    sct.check_grads(f, args, modes=("fwd", "rev"), order=order)
    grads = sct.grad(f, wrt=tuple(range(len(args))))(*args)
    for x, g in zip(args, grads):
        if isinstance(x, float):
            assert type(g) is float, (g, x)
        else:
            assert isinstance(g, np.ndarray) and g.shape == np.shape(x) and g.dtype.kind == "f", (g, x)


# ---- einsum ----------------------------------------------------------------------------------
def einsum_ellipsis(x):
    return np.sum(np.einsum("...ij->...ji", x) ** 2 * W4[:, None])


def einsum_ellipsis_product(x, y):
    return np.sum(np.sin(np.einsum("...ij,jk->...ik", x, y)))


def einsum_ellipsis_broadcast(x, y):  # x's ellipsis (2, 1) broadcasts against y's (3,)
    return np.sum(np.einsum("...j,...j->...", x, y) ** 2)


def einsum_implicit_ellipsis(x):
    return np.sum(np.einsum("...ii", np.einsum("...ij,...kj", x, x)) ** 2)


def einsum_diagonal(x):
    return np.sum(np.einsum("ii->i", x) ** 3)


def einsum_trace(x):
    return np.einsum("ii", x) ** 2


def einsum_repeated_three(x, y, z):
    return np.sum(np.einsum("ijk,lji,lli->lki", x, y, z) ** 2)


def einsum_batched_diagonal(x):
    return np.sum(np.einsum("bii->bi", x) * np.arange(3.0))


def einsum_variable(x, y):
    return np.sum(np.einsum(SPEC, x, y) ** 2)


def einsum_sublist(x, y):
    return np.sum(np.einsum(x, [0, 1], y, [1, 2], [0, 2]) ** 2)


def einsum_sublist_implicit(x, y):
    return np.sum(np.cos(np.einsum(x, [0, 1], y, [2, 1])))


def einsum_sum_away(x):
    return np.einsum("ij->", x) ** 2 + np.sum(np.einsum("ij->j", x) ** 2)


B = R.normal(size=(4, 5))
C3 = R.normal(size=(3, 3, 3))
EINSUM = [
    (einsum_ellipsis, (T3,)),
    (einsum_ellipsis_product, (T3, B)),
    (einsum_ellipsis_broadcast, (R.normal(size=(2, 1, 4)), R.normal(size=(3, 4)))),
    (einsum_implicit_ellipsis, (T3,)),
    (einsum_diagonal, (S,)),
    (einsum_trace, (S,)),
    (einsum_repeated_three, (C3, R.normal(size=(3, 3, 3)), R.normal(size=(3, 3, 3)))),
    (einsum_batched_diagonal, (R.normal(size=(2, 3, 3)),)),
    (einsum_sublist, (A, B)),
    (einsum_sublist_implicit, (A, R.normal(size=(2, 4)))),
    (einsum_sum_away, (A,)),
]


@pytest.mark.parametrize("f, args", EINSUM, ids=[f.__name__ for f, _ in EINSUM])
def test_einsum_forms(f, args):
    check(f, *args)


def test_einsum_with_subscripts_in_a_variable():
    check(einsum_variable, A, A, order=1)
    with pytest.raises(sct.SctError, match="string literal"):  # twice needs the subscripts when compiling
        sct.check_grads(einsum_variable, (A, A), modes=("rev",), order=2)


def test_einsum_adjoint_is_readable_einsum():
    source = sct.grad(einsum_diagonal).source
    assert "delta_x = np.einsum('i,ia->ia', delta_a, np.eye(np.shape(x)[1]))" in source, source


@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2))
def test_einsum_ellipsis_over_shapes(n, m, lead):
    x = R.normal(size=(2,) * lead + (n, m))
    y = R.normal(size=(m, n))
    check(lambda_free_einsum, x, y, order=1)


def lambda_free_einsum(x, y):
    return np.sum(np.einsum("...ij,ji->...", x, y) ** 2)


# ---- differences -------------------------------------------------------------------------------
def diff1(x):
    return np.sum(np.diff(x) ** 2 * np.arange(4.0))


def diff_n_axis(x):
    return np.sum(np.diff(x, n=2, axis=0) ** 3)


def diff_prepend_append(x):
    return np.sum(np.diff(x, prepend=0.5, append=[2.0, 1.0]) ** 2)


def diff_operands(x, p, a):  # prepend and append differentiated too (passed by position)
    return np.sum(np.diff(x, 1, 0, p, a) ** 2)


def ediff1d(x):
    return np.sum(np.ediff1d(x) ** 2 * np.arange(11.0))


def ediff1d_ends(x):
    return np.sum(np.ediff1d(x, to_end=[1.0, 2.0], to_begin=3.0) ** 3)


def gradient1(x):
    return np.sum(np.gradient(x) ** 2 * np.arange(5.0))


def gradient_spacing_axis(x):
    return np.sum(np.gradient(x, 0.5, axis=1) ** 3)


def gradient_all_axes(x):
    gy, gx = np.gradient(x, 2.0, edge_order=2)
    return np.sum(gy**2) + np.sum(np.sin(gx))


def gradient_coordinates(x):
    return np.sum(np.gradient(x, np.array([0.0, 0.5, 1.5, 1.75, 3.0])) ** 2)


DIFFS = [
    (diff1, (V,)),
    (diff_n_axis, (A,)),
    (diff_prepend_append, (V,)),
    (diff_operands, (A, 0.3, R.normal(size=(1, 4)))),
    (ediff1d, (A,)),
    (ediff1d_ends, (V,)),
    (gradient1, (V,)),
    (gradient_spacing_axis, (A,)),
    (gradient_all_axes, (A,)),
    (gradient_coordinates, (V,)),
]


@pytest.mark.parametrize("f, args", DIFFS, ids=[f.__name__ for f, _ in DIFFS])
def test_differences(f, args):
    check(f, *args)


@given(st.integers(3, 7), st.sampled_from([1, 2]), st.floats(0.1, 3.0))
def test_gradient_adjoint_over_lengths(n, edge_order, h):
    global SPACING, EDGE_ORDER  # read by the generated code when it runs
    SPACING, EDGE_ORDER = h, edge_order
    x, g = R.normal(size=(2, n)), R.normal(size=(2, n))
    out, pullback = sct.vjp(gradient_of_globals, x)
    np.testing.assert_allclose(out, np.gradient(x, h, axis=1, edge_order=edge_order))
    # <g, J x> == <J^T g, x> for the linear map J
    (back,) = pullback(g)
    np.testing.assert_allclose(np.sum(back * x), np.sum(g * out), rtol=1e-10)


SPACING, EDGE_ORDER = 1.0, 1


def gradient_of_globals(x):
    return np.gradient(x, SPACING, axis=1, edge_order=EDGE_ORDER)


def test_refusals_say_what_to_write():
    with pytest.raises(sct.SctError, match="by its values only"):
        sct.grad(gradient_by_spacing, wrt=1)(V, 0.5)
    with pytest.raises(sct.SctError, match="its array only"):
        sct.grad(ediff1d_by_end, wrt=1)(V, 0.5)
    with pytest.raises(sct.SctError, match="positionally"):  # an operand by keyword that carries a derivative
        sct.grad(diff_append_keyword)(V)


def gradient_by_spacing(x, h):
    return np.sum(np.gradient(x, h) ** 2)


def ediff1d_by_end(x, e):
    return np.sum(np.ediff1d(x, e) ** 2)


def diff_append_keyword(x):
    return np.sum(np.diff(x, append=x[:1]) ** 2)


# ---- permutations, selection, piecewise -----------------------------------------------------------
def partition(x):
    return np.sum(np.partition(x, 2)[:3] ** 2 * np.arange(3.0))


def partition_axis(x):
    return np.sum(np.partition(x, (0, 3), axis=1)[:, [0, 3]] ** 3)


def partition_flat(x):
    return np.sum(np.partition(x, 5, axis=None)[5:] ** 2)


def select(x):
    return np.sum(np.select([x > 0.5, x < -0.5], [x**2, 3.0 * x], x))


def select_broadcast(x, y):
    return np.sum(np.select([x > 0.0], [y], x) ** 2)


def select_list_variable(x):
    choices = [np.sin(x), x**2]
    return np.sum(np.select([x > 0.0, x < 0.0], choices) ** 2)


def piecewise_constants(x):
    return np.sum(np.piecewise(x, [x < 0.0, x >= 0.0], [-1.0, 1.0]) * x)


SELECTS = [
    (partition, (V,)),
    (partition_axis, (A,)),
    (partition_flat, (A,)),
    (select, (V,)),
    (select_broadcast, (R.normal(size=(3, 1)), R.normal(size=4))),
    (select_list_variable, (V,)),
    (piecewise_constants, (V,)),
]


@pytest.mark.parametrize("f, args", SELECTS, ids=[f.__name__ for f, _ in SELECTS])
def test_selection(f, args):
    check(f, *args)


def test_partition_with_ties_puts_each_item_back_once():
    x = np.array([1.0, 3.0, 1.0, 2.0, 3.0])
    g = sct.grad(lambda_free_partition)(x)
    assert np.sum(g) == pytest.approx(np.sum(np.arange(5.0))), g
    assert sorted(g) == sorted(np.arange(5.0))


def lambda_free_partition(x):
    return np.sum(np.partition(x, 2) * np.arange(5.0))


def piecewise_functions(x):
    return np.sum(np.piecewise(x, [x > 0.0], [np.sin, np.cos]))


def piecewise_lambdas(x):
    return np.sum(np.piecewise(x, [x > 0.0], [lambda t: t**2, lambda t: -t]))


@pytest.mark.parametrize("f", [piecewise_functions, piecewise_lambdas])
def test_piecewise_with_functions_is_refused_with_the_way_out(f):
    with pytest.raises(sct.UnsupportedSyntaxError, match=r"np\.select"):
        sct.grad(f)(V)


# ---- axes, splits, joins ------------------------------------------------------------------------
def rollaxis(x):
    return np.sum(np.rollaxis(x, 2) ** 2 * np.arange(4.0)[:, None, None])


def rollaxis_start(x):
    return np.sum(np.rollaxis(x, 0, 3) ** 2 * np.arange(2.0))


def swapaxes_keywords(x):
    return np.sum(np.swapaxes(x, axis1=0, axis2=2) ** 2 * np.arange(4.0)[:, None, None])


def moveaxis_keywords(x):
    return np.sum(np.moveaxis(x, source=0, destination=-1) ** 2 * np.arange(2.0))


def vsplit(x):
    a, b = np.vsplit(x, 2)
    return np.sum(a * b**2)


def hsplit(x):
    a, b = np.hsplit(x, [1])
    return np.sum(a**2) + np.sum(np.sin(b))


def hsplit_vector(x):
    a, b = np.hsplit(x, [2])
    return np.sum(a**3) + np.sum(b)


def dsplit_one_part_used(x):
    a, b = np.dsplit(x, 2)
    return np.sum(a**2)


def array_split_uneven(x):
    a, b = np.array_split(x, 2)
    return np.sum(a**2) * np.sum(b)


def row_stack(x):
    return np.sum(np.row_stack([x, x**2]) ** 2)


def vstack_of_an_array(x):  # an array is a sequence of rows
    return np.sum(np.vstack(x) ** 2 * W4)


def hstack_of_an_array(x):
    return np.sum(np.hstack(x) ** 2 * np.arange(12.0))


def column_stack_of_an_array(x):
    return np.sum(np.column_stack(x) ** 2 * np.arange(3.0))


def stack_of_an_array(x):
    return np.sum(np.stack(x, axis=1) ** 3)


def append_flat(x):
    return np.sum(np.append(x, x[:2] * 3.0) ** 2)


def append_axis(x, y):
    return np.sum(np.append(x, y, axis=0) ** 3)


def append_scalar(x, s):
    return np.sum(np.append(x, s) ** 2 * np.arange(6.0))


SHAPES = [
    (rollaxis, (T3,)),
    (rollaxis_start, (T3,)),
    (swapaxes_keywords, (T3,)),
    (moveaxis_keywords, (T3,)),
    (vsplit, (R.normal(size=(4, 3)),)),
    (hsplit, (A,)),
    (hsplit_vector, (V,)),
    (dsplit_one_part_used, (R.normal(size=(2, 3, 4)),)),
    (array_split_uneven, (V,)),
    (vstack_of_an_array, (A,)),
    (hstack_of_an_array, (A,)),
    (column_stack_of_an_array, (A,)),
    (stack_of_an_array, (A,)),
    (append_flat, (V,)),
    (append_axis, (A, R.normal(size=(2, 4)))),
    (append_scalar, (V, 0.7)),
]


@pytest.mark.parametrize("f, args", SHAPES, ids=[f.__name__ for f, _ in SHAPES])
def test_shapes(f, args):
    check(f, *args)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_row_stack():
    check(row_stack, V)


# ---- repeat, clip, astype ----------------------------------------------------------------------
def repeat_computed(x):
    n = len(x) // 2
    return np.sum(np.repeat(x, n) ** 2 * np.arange(10.0))


def repeat_counts(x):
    return np.sum(np.repeat(x, [1, 2, 1], axis=0) ** 2 * W4)


def repeat_counts_flat(x):
    return np.sum(np.repeat(x, [2, 0, 1, 3, 1]) ** 3)


def clip_keywords(x):
    return np.sum(np.clip(x, a_min=-0.5, a_max=0.5) ** 2)


def clip_max_only(x):
    return np.sum(np.clip(x, None, a_max=0.2) ** 2)


def clip_keyword_array(x):
    return np.sum(np.clip(x, a_min=np.zeros((2, 5)), a_max=1.0) ** 2)


def astype_float32(x):
    return np.sum(x.astype(np.float64) ** 2 + np.sin(x.astype(float)))


def astype_function(x):
    return np.sum(np.astype(x, np.float64) ** 2)


def astype_int_has_no_derivative(x):
    return np.sum(x.astype(int) * x)


REST = [
    (repeat_computed, (V,)),
    (repeat_counts, (A,)),
    (repeat_counts_flat, (V,)),
    (clip_keywords, (V,)),
    (clip_max_only, (V,)),
    (clip_keyword_array, (V,)),
    (astype_float32, (V,)),
    (astype_function, (V,)),
    (astype_int_has_no_derivative, (V * 3.0 + 0.25,)),
]


@pytest.mark.parametrize("f, args", REST, ids=[f.__name__ for f, _ in REST])
def test_repeat_clip_astype(f, args):
    check(f, *args, order=1)


@given(st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_repeat_counts_over_values(counts):
    x = R.normal(size=3)
    g = sct.grad(lambda_free_repeat)(x, np.array(counts))
    np.testing.assert_allclose(g, 2.0 * x * np.array(counts))


def lambda_free_repeat(x, counts):
    return np.sum(np.repeat(x, counts) ** 2)


# ---- complex helpers on real and mixed operands ---------------------------------------------------
def real_if_close(x):
    return np.sum(np.real_if_close(x + 0j) ** 2)


def imag_and_angle(x):
    z = x * (1.0 + 2.0j) + 1.0j
    return np.sum(np.imag(z) ** 2 + np.angle(z))


def angle_degrees(x):
    return np.sum(np.angle(x + 1.0j, deg=True))


def iscomplex_isreal(x):
    return np.sum(np.where(np.iscomplex(x), 0.0, x**2)) + np.sum(np.isreal(x) * x)


def kron_mixed(x):
    return np.sum(np.abs(np.kron(x, np.array([[1.0 + 1.0j, 2.0]]))) ** 2)


def outer_mixed(x):
    return np.sum(np.abs(np.outer(x, np.array([1.0 + 1.0j, 2.0]))) ** 2)


def abs_of_complex_product(x):
    return np.sum(np.abs(x * (1.0 + 2.0j)))


COMPLEX_HELPERS = [
    (real_if_close, (V,)),
    (imag_and_angle, (V,)),
    (angle_degrees, (V,)),
    (iscomplex_isreal, (V,)),
    (kron_mixed, (S,)),
    (outer_mixed, (V,)),
    (abs_of_complex_product, (V,)),
]


@pytest.mark.parametrize("f, args", COMPLEX_HELPERS, ids=[f.__name__ for f, _ in COMPLEX_HELPERS])
def test_complex_helpers_give_real_gradients_of_real_arguments(f, args):
    check(f, *args)
