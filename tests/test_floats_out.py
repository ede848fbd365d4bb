"""Issue 18: Python floats out. ``sct.value_and_grad`` and ``sct.vjp`` give a NumPy float64 value as
the Python float it equals (as ``sct.jvp`` does), on the general path and the dispatcher alike, and the
same transforms called inside a function being differentiated give the same types, so translation
validation (on in the suite) still finds the generated forward sweep equal to the function.
"""

import floats_out_targets as T
import numpy as np
import pytest
from conftest import numeric_grad

import sct


def sine_times(x):
    return np.sin(x) * x  # a NumPy float64 for a Python float x


def summed(x):
    return np.sum(np.sin(x))


def with_aux(x):
    return np.sin(x) * x, {"c": np.cos(x)}


def test_value_and_grad_gives_python_floats():
    vg = sct.value_and_grad(sine_times)
    for _ in range(3):  # the general path, then the dispatcher
        value, grad = vg(0.7)
        assert (type(value), type(grad)) == (float, float)
        assert value == sine_times(0.7) and grad == pytest.approx(np.cos(0.7) * 0.7 + np.sin(0.7))
    vg = sct.value_and_grad(summed)
    for _ in range(3):
        value, grad = vg(np.ones(3))  # of an array: the value is a float too, the gradient an array
        assert type(value) is float and isinstance(grad, np.ndarray)


def test_value_and_grad_with_aux_converts_the_value_and_leaves_the_aux():
    vg = sct.value_and_grad(with_aux, has_aux=True)
    for _ in range(3):
        (value, aux), grad = vg(0.7)
        assert type(value) is float and type(grad) is float
        assert aux == {"c": np.cos(0.7)} and type(aux["c"]) is np.float64  # aux: as the function gives it


def test_vjp_gives_python_floats():
    out, back = sct.vjp(sine_times, 0.7)
    assert type(out) is float and [type(g) for g in back(1.0)] == [float]
    out, back = sct.vjp(summed, np.ones(2))
    assert type(out) is float and isinstance(back(1.0)[0], np.ndarray)
    out, back, aux = sct.vjp(with_aux, 0.7, has_aux=True)
    assert type(out) is float and type(aux["c"]) is np.float64


@pytest.mark.parametrize("name", ["f_vjp", "f_vjp_value", "f_vg", "f_vg_value", "f_vg_aux", "f_vjp_np"])
def test_transforms_inside_still_validate(name):
    fn = getattr(T, name)
    value, grad = sct.value_and_grad(fn)(0.7)  # validation compares the value's type with the function's
    assert type(value) is float and value == pytest.approx(fn(0.7))
    assert grad == pytest.approx(numeric_grad(fn, (0.7,), 0), rel=1e-6)
    sct.check_grads(fn, (0.7,), modes=("fwd", "rev"), order=2)


def test_vjp_inside_keeps_numpy_floats_where_vjp_fn_does():
    value, grad = sct.value_and_grad(T.f_vjp)(np.float64(0.7))  # vjp_fn of a float64 gives a float64
    assert type(value) is float and grad == pytest.approx(numeric_grad(T.f_vjp, (0.7,), 0), rel=1e-6)


def test_vjp_inside_with_arrays():
    args = (np.array([0.3, -0.2, 0.9]), 0.5)
    value, grads = sct.value_and_grad(T.f_vjp_arr, wrt=(0, 1))(*args)
    assert type(value) is float
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, numeric_grad(T.f_vjp_arr, args, i), rtol=1e-6)
    sct.check_grads(T.f_vjp_arr, args, modes=("fwd", "rev"), order=2)
