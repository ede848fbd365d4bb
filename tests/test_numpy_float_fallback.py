"""A gradient whose arithmetic on Python floats raises where NumPy's gives inf or nan.

``np.sum(X) / s`` at ``s = 0.0`` is inf in Python (NumPy's scalar division, with its
warning), but the adjoint's ``delta_out / s`` is Python's ``1.0 / 0.0``. The gradient
must then be NumPy's (inf/nan with NumPy's warning), not a ZeroDivisionError; where the
function itself raises on the arguments, its own error is the one to see.
"""

import warnings

import numpy as np
import pytest

import sct


def total_over(X, s):
    return np.sum(X) / s


def ratio(x, s):
    return x / s


def power(x, s):
    return np.sum(x) * s**0.5  # the adjoint: 0.5 * s ** -0.5


def with_aux(X, s):
    return np.sum(X) / s, s


def keyword_only(X, *, s=1.0):
    return np.sum(X) / s


def int_division(x, n):
    return np.sum(x) * (1 // n)


def numpy_answer(fn, args, wrt):
    """What the gradient is with NumPy's arithmetic: the arguments as np.float64, finite differences aside."""
    boxed = tuple(np.float64(a) if type(a) is float else a for a in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sct.grad(fn, wrt=wrt)(*boxed)


def same(got, expected):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            same(g, e)
        return
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


X = np.array([1.0, -2.0, 4.0])


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_sum_over_zero_is_inf_with_numpys_warning(wrt):
    df = sct.grad(total_over, wrt=wrt)
    for _ in range(4):  # the general path, then the dispatcher
        with pytest.warns(RuntimeWarning, match="divide by zero"):
            got = df(X, 0.0)
        same(got, numpy_answer(total_over, (X, 0.0), wrt))
    dx = got[0] if wrt == (0, 1) else got if wrt == 0 else None
    if dx is not None:
        assert np.all(np.isinf(dx))


@pytest.mark.parametrize("wrt", [0, (0, 1)])
def test_python_float_gradients_stay_python_floats(wrt):
    x = np.float64(2.0)  # a NumPy float over a Python float: Python's forward gives inf
    with pytest.warns(RuntimeWarning):
        assert np.isinf(ratio(x, 0.0))
    df = sct.grad(ratio, wrt=wrt)
    for _ in range(3):
        with pytest.warns(RuntimeWarning):
            got = df(x, 0.0)
        if wrt == 0:
            assert np.isinf(got)
        else:
            assert type(got[1]) is float and np.isnan(got[1]) or np.isinf(got[1])
            assert np.isinf(got[0])


def test_negative_power_of_zero():
    df = sct.grad(power, wrt=(0, 1))
    with pytest.warns(RuntimeWarning):
        got = df(X, 0.0)
    same(got, numpy_answer(power, (X, 0.0), (0, 1)))


def test_the_functions_own_error_is_raised():
    with pytest.raises(ZeroDivisionError):
        ratio(2.0, 0.0)
    for wrt in (0, 1, (0, 1)):
        df = sct.grad(ratio, wrt=wrt)
        for _ in range(3):
            with pytest.raises(ZeroDivisionError):
                df(2.0, 0.0)


def test_no_python_float_argument_reraises():
    df = sct.grad(int_division)
    for _ in range(3):
        with pytest.raises(ZeroDivisionError):
            df(X, 0)


def test_value_and_grad_and_aux():
    with pytest.warns(RuntimeWarning):
        value, (dX, ds) = sct.value_and_grad(total_over, wrt=(0, 1))(X, 0.0)
    assert np.isinf(value) and np.all(np.isinf(dX)) and type(ds) is float
    with pytest.warns(RuntimeWarning):
        (dX, ds), aux = sct.grad(with_aux, wrt=(0, 1), has_aux=True)(X, 0.0)
    assert aux == 0.0 and np.all(np.isinf(dX)) and type(ds) is float


def test_finite_values_unchanged():
    for s in (2.0, -0.5):
        sct.check_grads(total_over, (X, s), modes=("rev",), order=1)
        dX, ds = sct.grad(total_over, wrt=(0, 1))(X, s)
        np.testing.assert_allclose(dX, np.full(3, 1.0 / s))
        assert type(ds) is float and ds == pytest.approx(-np.sum(X) / s**2)


def test_a_function_with_keyword_only_parameters():
    """Its arguments are flattened before the variant runs: the Python-float error stays as it was, typed by Python."""
    df = sct.grad(keyword_only)
    np.testing.assert_allclose(df(X, s=2.0), np.full(3, 0.5))
    with pytest.raises(ZeroDivisionError):
        df(X, s=0.0)
