"""Signatures (issue 13, item 3): gradient objects called with keywords, ``*args``/``**kwargs``/keyword-only
parameters in helpers and in the differentiated function itself."""

import numpy as np
import pytest
from conftest import numeric_grad
from hypothesis import given
from hypothesis import strategies as st

import sct

FLOATS = st.floats(-2.0, 2.0, allow_nan=False)


def scaled(x, y=2.0, z=3.0):
    return np.sum(x * y + np.sin(z) * x**2)


def expected(x, y=2.0, z=3.0):
    """d/dx and d/dz of ``scaled``, by hand."""
    return y + 2 * np.sin(z) * x, np.cos(z) * x**2


# ---- 1. gradient objects called with keywords -------------------------------------------------
CALLS = [  # (args, kwargs) and the same call written positionally
    (((1.5,), {"z": 0.5}), (1.5, 2.0, 0.5)),
    (((), {"x": 1.5, "z": 0.5}), (1.5, 2.0, 0.5)),
    (((), {"z": 0.5, "y": -1.0, "x": 0.3}), (0.3, -1.0, 0.5)),
    (((0.3, -1.0), {"z": 0.7}), (0.3, -1.0, 0.7)),
    (((np.linspace(0.1, 1.0, 3),), {"z": np.array([0.2, 0.4, 0.6])}), None),
]


@pytest.mark.parametrize("order", [CALLS, CALLS[::-1], CALLS * 3])
def test_gradient_objects_take_keywords_like_the_function(order):
    """The general path on the first call of each, the generated dispatcher after: the same answers."""
    g = sct.grad(scaled, wrt=(0, 2))
    vg = sct.value_and_grad(scaled, wrt=("x", "z"))
    for (args, kwargs), positional in order:
        positional = positional or (args[0], 2.0, kwargs["z"])
        gx, gz = g(*args, **kwargs)
        value, (vx, vz) = vg(*args, **kwargs)
        ex, ez = expected(*positional)
        np.testing.assert_allclose(gx, ex, rtol=1e-12)
        np.testing.assert_allclose(gz, ez, rtol=1e-12)
        np.testing.assert_allclose(vx, ex, rtol=1e-12)
        np.testing.assert_allclose(vz, ez, rtol=1e-12)
        np.testing.assert_allclose(value, scaled(*args, **kwargs), rtol=1e-12)
        assert np.shape(gz) == np.shape(positional[2])


@given(FLOATS, FLOATS, FLOATS)
def test_keyword_calls_agree_with_central_differences(x, y, z):
    g = sct.grad(scaled, wrt=("x", "y", "z"))
    grads = g(z=z, x=x, y=y)
    for i, grad in enumerate(grads):
        assert grad == pytest.approx(numeric_grad(scaled, (x, y, z), i), rel=1e-5, abs=1e-6)
    sct.check_grads(lambda x, z: scaled(x, z=z), (x, z), modes=("fwd", "rev"), order=1)


def test_a_parameter_between_two_given_ones_takes_its_default():
    g = sct.grad(scaled, wrt=0)
    for _ in range(3):  # the dispatcher must not shift z into y's place
        assert g(1.5, z=0.5) == pytest.approx(expected(1.5, 2.0, 0.5)[0])
        assert g(1.5) == pytest.approx(expected(1.5)[0])


def test_bad_keywords_raise_pythons_type_error_on_every_path():
    g = sct.grad(scaled)
    for _ in range(3):
        with pytest.raises(TypeError, match=r"scaled\(\) got an unexpected keyword argument 'q'"):
            g(1.0, q=2.0)
        with pytest.raises(TypeError, match="multiple values for argument 'x'"):
            g(1.0, x=2.0)
        g(1.0, z=2.0)  # a good call in between: the dispatcher is made


def test_a_parameter_differentiated_by_must_be_given_by_keyword_too():
    g = sct.grad(scaled, wrt="z")
    with pytest.raises(sct.SctError, match="wrt asks for argument 2"):
        g(x=1.0)
    assert g(x=1.0, z=0.5) == pytest.approx(expected(1.0, 2.0, 0.5)[1])


def shadows(x, len):  # noqa: A002 (a parameter named like a builtin is renamed in the generated code)
    return x * len + len**2


def test_keywords_reach_a_parameter_the_generated_code_renames():
    g = sct.grad(shadows, wrt=(0, 1))
    for _ in range(3):
        assert g(len=3.0, x=2.0) == pytest.approx((3.0, 2.0 + 6.0))
        assert g(2.0, 3.0) == pytest.approx((3.0, 2.0 + 6.0))


def test_has_aux_with_keywords():
    def f(x, scale=1.0):
        return scale * x**2, x + 1.0

    g = sct.grad(f, has_aux=True)
    for _ in range(3):
        grad, aux = g(x=3.0, scale=2.0)
        assert grad == pytest.approx(12.0) and aux == pytest.approx(4.0)
