"""The per-call fast path: a generated dispatcher must answer exactly as the general path does."""

import linecache

import numpy as np
import pytest

import sct
from sct import pipeline


def f(x, y):
    return np.sum(np.sin(x) * y)


def expected(x, y):
    """d/dx and d/dy of sum(sin(x) * y), for x at least as large as y."""
    return np.cos(x) * y, np.sum(np.sin(x)) if np.ndim(y) == 0 else np.sin(x)


CALLS = [
    (0.3, 1.5),
    (np.linspace(0.1, 1.0, 4), 2.0),
    (np.linspace(0.1, 1.0, 4), np.linspace(1.0, 2.0, 4)),
    (np.ones((2, 3)), 0.5),
    (np.float32(0.5), 2.0),  # a NumPy scalar: not on the fast path, still right
    (0.7, -1.0),
]


@pytest.mark.parametrize("order", [CALLS, CALLS[::-1], CALLS * 3])
def test_alternating_signatures_give_the_general_paths_answers(order):
    g = sct.grad(f, wrt=(0, 1))
    for x, y in order:
        gx, gy = g(x, y)
        ex, ey = expected(x, y)
        np.testing.assert_allclose(gx, ex, rtol=1e-6)
        np.testing.assert_allclose(gy, ey, rtol=1e-6)
        assert np.shape(gx) == np.shape(x) and np.shape(gy) == np.shape(y)


def test_more_variants_than_the_fast_path_tests_for():
    g = sct.grad(lambda x: np.sum(x**2))
    shapes = [(), (2,), (2, 2), (2, 2, 2), (1, 2, 2, 2), (1, 1, 2, 2, 2)]
    for _ in range(2):
        for shape in shapes:
            x = np.full(shape, 1.5) if shape else 1.5
            np.testing.assert_allclose(g(x), 3.0 * np.ones(shape))


def test_value_and_grad_and_has_aux_through_the_fast_path():
    def loss(x):
        return x * x, {"x": x}

    vg = sct.value_and_grad(loss, has_aux=True)
    g = sct.grad(loss, has_aux=True)
    for _ in range(3):
        (value, aux), grad = vg(3.0)
        assert value == 9.0 and aux == {"x": 3.0} and grad == 6.0
        grad, aux = g(3.0)
        assert grad == 6.0 and aux == {"x": 3.0}


def test_non_scalar_value_is_caught_on_the_fast_path():
    g = sct.grad(lambda x: x * 2.0)
    assert g(1.0) == 2.0
    g(np.ones(1))  # size 1: a scalar
    with pytest.raises(sct.SctError, match="return a scalar"):
        g(np.ones(3))
    with pytest.raises(sct.SctError, match="return a scalar"):
        g(np.ones(3))  # again, now that this signature has a variant


def test_wrong_argument_count_is_reported_by_the_general_path():
    g = sct.grad(f, wrt=1)
    g(0.5, 0.5)
    with pytest.raises(sct.SctError, match="called with 1 arguments"):
        g(0.5)


def test_fast_path_does_not_compile_again():
    g = sct.grad(f)
    g(0.5, 0.5)
    before = pipeline.STATS["compiles"]
    for _ in range(5):
        g(0.25, 0.5)
        g(np.ones(2), 0.5)
    assert pipeline.STATS["compiles"] - before == 1  # only the array signature is new


def ratio(x, y):
    return x / y


def test_gradient_objects_read_one_for_the_seed_they_never_pass():
    g = sct.grad(ratio, wrt=(0, 1))
    assert g(3.0, 2.0) == (0.5, -0.75)
    runtime = next(iter(g._variants.values())).source
    assert "1.0 / y" in runtime and "delta_out" not in runtime.split("# backward")[1]
    assert "delta_out / y" in sct.source(ratio, wrt=(0, 1), generic=True)  # sct dump --generic and export keep it
    _, backward = sct.vjp(ratio, 3.0, 2.0)
    assert backward(2.0) == (1.0, -1.5)  # a vjp passes its own seed


def only_here(x, y):
    return np.sum(np.cos(x) * y)


def test_a_gradient_object_made_for_one_call_generates_no_dispatcher():
    g = sct.grad(only_here)  # a function no other test compiles: its variants are all new here
    g(0.5, 0.5)
    assert g._call == g._general  # sct.grad(f)(x) in a loop must not compile a dispatcher per call
    g(0.5, 0.5)
    assert g._call != g._general
    assert type(g).__call__ is g._call and isinstance(g, sct.api.Grad)  # its own class, calling it directly
    assert type(sct.grad(only_here)).__call__ is not g._call  # other gradient objects are left alone
    dispatcher = g._call
    g(np.ones(2), 0.5)  # a new variant: the dispatcher is generated again, to test for it too
    assert g._call is not dispatcher and g._call != g._general


def two_terms(x, y):
    return x * y + np.sin(y)


def test_grad_computes_the_value_only_as_far_as_the_gradients_need_it():
    g = sct.grad(two_terms, wrt=(0, 1))
    assert g(2.0, 0.5) == pytest.approx((0.5, 2.0 + np.cos(0.5)))
    runtime = next(iter(g._variants.values())).source
    forward = runtime.split("# backward")[0]
    assert "out =" not in forward and "np.sin(" not in forward  # d/dx (x * y) = y: no forward pass left
    value, grads = sct.value_and_grad(two_terms, wrt=(0, 1))(2.0, 0.5)
    assert value == pytest.approx(1.0 + np.sin(0.5)) and grads == g(2.0, 0.5)
    assert "out = " in sct.source(two_terms, wrt=(0, 1), generic=True)  # the generic variant: the whole function


def test_new_gradient_objects_of_one_function_share_its_variants():
    sct.grad(f)(0.5, 0.5)
    before = pipeline.STATS["compiles"]
    g = sct.grad(f)
    assert g(0.25, 0.5) == pytest.approx(np.cos(0.25) * 0.5)
    assert g._call == g._general  # found at once, and no dispatcher for one call
    assert pipeline.STATS["compiles"] == before
    assert sct.grad(f, wrt=1)(0.25, 0.5) == pytest.approx(np.sin(0.25))  # other options: their own
    assert sct.value_and_grad(f)(0.25, 0.5)[0] == pytest.approx(np.sin(0.25) * 0.5)


def scaled(x, y=2.0):
    return np.sum(x * y + np.exp(x))


def test_arguments_left_to_their_defaults():
    g = sct.grad(scaled, wrt=0)
    for _ in range(3):  # the general path, then the dispatcher (which leaves defaults to it)
        assert g(0.5) == pytest.approx(2.0 + np.exp(0.5))
        assert g(0.5, 3.0) == pytest.approx(3.0 + np.exp(0.5))
        assert g(np.ones(2), 3.0) == pytest.approx(3.0 + np.exp(np.ones(2)))
    with pytest.raises(sct.SctError, match="called with 0 arguments"):
        g()
    with pytest.raises(sct.SctError, match="called with 3 arguments: too many"):
        g(0.5, 3.0, 4.0)  # not taken as the seed of the generated code


def reciprocal(x):
    return np.exp(x) / (x - 1.0)


@pytest.mark.generated_code_may_warn("at the pole the value is not needed, so 1 / (x - 1) warns in a derivative line")
def test_the_dispatcher_holds_the_latest_variants_code_and_its_errors(no_validation):
    # no_validation: a validating dispatcher calls a wrapper, by design, instead of holding the code
    g = sct.grad(reciprocal)
    for _ in range(2):
        assert g(2.0) == pytest.approx(np.exp(2.0) - np.exp(2.0))
    code = type(g).__call__.__code__
    text = "".join(linecache.getlines(code.co_filename))
    assert "delta_x" in text and "__sct_function" not in text  # the variant's lines, not a call
    with np.errstate(divide="ignore", invalid="ignore"):
        # reciprocal(1.0) is inf (NumPy's division: np.exp(x) is a NumPy float), so its gradient is
        # NumPy's answer too, not the ZeroDivisionError of the adjoint's Python-float 1.0 / (x - 1.0)
        assert np.isnan(g(1.0))
        assert np.isnan(g(np.float64(1.0)))  # NumPy scalars: NumPy's answer


def test_value_and_grad_fills_defaults_too():
    vg = sct.value_and_grad(scaled, wrt=0)
    for _ in range(3):
        value, grad = vg(0.5)
        assert value == pytest.approx(1.0 + np.exp(0.5)) and grad == pytest.approx(2.0 + np.exp(0.5))
