"""Wrong results and crashes found by the ``indexing`` idiom family and by hand (round three), one test each."""

import numpy as np
import pytest
from conftest import numeric_grad

import sct


def scaled(x, y, c=2.0):
    return x * y * c


def scaled_sum(x, y, c=2.0):
    return np.sum(x**2 * y * c)


def masked(x, y, m=np.array([True, False, True])):  # noqa: B008 a bool default argument, as users write it
    z = x * y
    z[m] = 1.0
    return np.sum(np.sin(z) * y)


X = np.array([1.0, 2.0, 3.0])


def test_jacobian_takes_the_defaults_of_the_function():
    # was: jacobian(mode="rev") passed its seed where the default `c` belongs: a Jacobian half the right
    # one, with no error; mode="fwd" raised a TypeError from the generated code
    expected = np.eye(3) * 0.5 * 2.0
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(sct.jacobian(scaled, mode=mode)(X, 0.5), expected)
        jx, jy = sct.jacobian(scaled, wrt=(0, 1), mode=mode)(X, 0.5)
        np.testing.assert_allclose(jy, X * 2.0)


def test_jvp_vjp_hessian_and_hvp_take_the_defaults_of_the_function():
    # were: TypeErrors from the generated code (missing dot_x / a missing parameter)
    out, dot = sct.jvp(scaled_sum, (X, 0.5), (np.ones(3), 1.0))
    assert out == pytest.approx(scaled_sum(X, 0.5))
    assert dot == pytest.approx(np.sum(2 * X * 0.5 * 2.0) + np.sum(X**2 * 2.0))
    out, back = sct.vjp(scaled, X, 0.5)
    gx, gy = back(X)
    np.testing.assert_allclose(gx, X * 0.5 * 2.0)
    assert gy == pytest.approx(np.sum(X * X * 2.0))
    np.testing.assert_allclose(sct.hessian(scaled_sum)(X, 0.5), np.eye(3) * 2.0)
    hx, hy = sct.hvp(scaled_sum, (X, 0.5), (X, 1.0))
    np.testing.assert_allclose(hx, 2.0 * X + 4.0 * X)
    assert hy == pytest.approx(4.0 * np.sum(X * X))


def test_a_bool_mask_default_in_every_mode():
    y = 0.7
    expected = numeric_grad(lambda x: masked(x, y), [X], 0)
    np.testing.assert_allclose(sct.grad(masked)(X, y), expected, rtol=1e-7, atol=1e-9)
    t = np.array([0.3, -1.0, 2.0])
    _, dot = sct.jvp(masked, (X, y), (t, 0.0))
    assert dot == pytest.approx(np.dot(expected, t), rel=1e-7)
    np.testing.assert_allclose(sct.jacobian(masked)(X, y), expected, rtol=1e-7, atol=1e-9)


def take_wrapped(x):
    return np.sum(np.sin(np.take(x, [4, -5, 1, 7], mode="wrap")) * np.arange(4.0))


def take_clipped(x):
    return np.sum(np.sin(np.take(x, [[4, -5], [1, 0]], axis=1, mode="clip")) * np.arange(4.0).reshape(2, 2))


@pytest.mark.parametrize("fn, x", [(take_wrapped, X), (take_clipped, np.arange(6.0).reshape(2, 3) * 0.3)])
def test_take_with_mode_wrap_and_clip(fn, x):
    # was: the rule dropped `mode=` and the gradient raised IndexError at the first index out of range
    np.testing.assert_allclose(sct.grad(fn)(x), numeric_grad(fn, [x], 0), rtol=1e-7, atol=1e-9)
    sct.check_grads(fn, (x,), modes=("fwd", "rev"), order=2)


def write_through_a_negative_repeat(x, c):
    y = x * 1.0 + c
    y[[3, 2, -1]] -= 0.5  # -1 is 3 again: NumPy subtracts once there
    return np.sum(np.sin(y))


def test_exported_gradient_of_a_write_whose_index_repeats_through_a_negative():
    # was: the generic variant (what `sct export` writes) took `y` for a possible list and read the written
    # block's adjoint with a plain index, so position 3 got its adjoint twice, with no error
    from sct.export import export_source

    x, c = np.array([0.1, 0.2, 0.3, 0.4]), 0.3
    text = export_source(write_through_a_negative_repeat, wrt=(0, 1))
    namespace = {}
    exec(compile(text, "<exported>", "exec"), namespace)
    value, (gx, gc) = namespace["grad_write_through_a_negative_repeat"](x, c)
    assert value == pytest.approx(write_through_a_negative_repeat(x, c))
    np.testing.assert_allclose(gx, numeric_grad(write_through_a_negative_repeat, [x, c], 0), rtol=1e-7)
    assert gc == pytest.approx(numeric_grad(write_through_a_negative_repeat, [x, c], 1), rel=1e-7)
    np.testing.assert_allclose(sct.grad(write_through_a_negative_repeat)(x, c), gx, rtol=1e-12)


def written_before_a_loop(x):
    y = x * 1.0
    y[0] = 2.0
    y[[1, -1]] = x[[0, 0]] ** 2
    s = 0.0
    for k in range(4):
        s = s * 0.5 + y[k] * np.sin(x[k])
    return s


@pytest.mark.parametrize("checkpoint", [True, 2, "log", ("revolve", 2)], ids=repr)
def test_a_write_into_an_array_before_a_checkpointed_loop_is_kept(checkpoint):
    # was: the checkpoint pass dropped every `y[i] = v` before the loop (it took them for the making of
    # the loop's records, which store no name either): a wrong value and gradient, with no error
    x = np.array([0.1, 0.2, 0.3, 0.4])
    value, g = sct.value_and_grad(written_before_a_loop, checkpoint=checkpoint)(x)
    assert value == written_before_a_loop(x)
    np.testing.assert_allclose(g, numeric_grad(written_before_a_loop, [x], 0), rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(g, sct.grad(written_before_a_loop)(x))


# ---- second derivatives of np.prod and np.cumprod at a zero (known gap 3a) ----
def product(x):
    return np.prod(x) + np.sum(x**2)


def running_product(x):
    return np.sum(np.cumprod(x) * x)


def product_written_out(x):
    p = 1.0
    for k in range(len(x)):
        p = p * x[k]
    return p + np.sum(x**2)


ZERO = np.array([0.5, 0.0, -1.2, 2.0])


@pytest.mark.parametrize("fn, name", [(product, "np.prod"), (running_product, "np.cumprod")])
def test_a_hessian_through_prod_at_a_zero_is_a_typed_error_naming_the_function(fn, name):
    # was: a plain ZeroDivisionError; now an SctError (still a ZeroDivisionError) that names the function
    # and says what to do
    from sct.errors import ZeroInputError

    for hessian in (sct.hessian(fn), sct.jacobian(sct.grad(fn), mode="fwd")):
        with pytest.raises(sct.SctError, match=f"second derivative of {name} at an input with a zero") as info:
            hessian(ZERO)
        assert isinstance(info.value, ZeroInputError) and isinstance(info.value, ZeroDivisionError)
        assert "write the product out" in str(info.value)


def test_the_product_written_out_has_an_exact_hessian_at_a_zero():
    # what the error advises: the Hessian of the written-out product, exact where an entry is zero
    expected = np.stack([numeric_grad(lambda v, k=k: sct.grad(product_written_out)(v)[k], [ZERO], 0) for k in range(4)])
    np.testing.assert_allclose(sct.hessian(product_written_out)(ZERO), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sct.grad(product)(ZERO), sct.grad(product_written_out)(ZERO), rtol=1e-12)


# ---- a gradient of a parameter tree called inside a differentiated function (known gap 3b) ----
def layered_loss(params, x):
    h = x
    for layer in params:
        h = np.tanh(h @ layer[0] + layer[1])
    return np.sum(h**2)


LAYERS = [[np.array([[0.3, -0.2], [0.5, 0.1]]), np.array([0.1, -0.3])], [np.array([[0.7], [-0.4]]), np.array([0.2])]]


def gradient_norm(x):
    g = sct.grad(layered_loss)(LAYERS, x)
    return np.sum(g[0][0] ** 2) + np.sum(g[1][1] ** 2)


def test_a_gradient_of_a_list_tree_inside_the_differentiated_function():
    # the xfail of tests/test_transforms_on_programs.py with lists of lists, where `+` on an item's adjoints
    # would join lists instead of adding them
    x = np.array([[0.4, -1.1], [0.9, 0.2], [-0.3, 0.8]])
    np.testing.assert_allclose(sct.grad(gradient_norm)(x), numeric_grad(gradient_norm, [x], 0), rtol=1e-6, atol=1e-9)
    t = np.ones_like(x)
    _, dot = sct.jvp(gradient_norm, (x,), (t,))
    assert dot == pytest.approx(np.sum(numeric_grad(gradient_norm, [x], 0)), rel=1e-6)


def test_the_exported_module_takes_the_defaults_of_the_function():
    # was: the exported grad_f and gradient required every parameter (a TypeError where f(x) is how f is called)
    from sct.export import export_source

    namespace = {}
    exec(compile(export_source(masked, wrt=(0, 1)), "<exported>", "exec"), namespace)
    y = 0.7
    value, (gx, gy) = namespace["grad_masked"](X, y)
    assert value == pytest.approx(masked(X, y))
    np.testing.assert_allclose(gx, numeric_grad(lambda x: masked(x, y), [X], 0), rtol=1e-7, atol=1e-9)
    other = np.array([False, True, True])
    np.testing.assert_allclose(namespace["gradient"](X, y, other)[0], sct.grad(masked)(X, y, other), rtol=1e-12)


def prod_of(x):
    return np.prod(x)


def squared_gradient_of_a_product(x):
    return np.sum(sct.grad(prod_of)(x) ** 2)


def test_an_exported_second_derivative_through_prod_raises_its_own_zero_division_error():
    # the exported module holds no sct: the error class nonzero_divisor raises is written into it
    from sct.export import export_source

    text = export_source(squared_gradient_of_a_product)
    assert "import sct" not in text and "from sct" not in text
    namespace = {}
    exec(compile(text, "<exported>", "exec"), namespace)
    x = np.array([0.5, 2.0, 3.0])
    np.testing.assert_allclose(namespace["gradient"](x), sct.grad(squared_gradient_of_a_product)(x), rtol=1e-12)
    with pytest.raises(ZeroDivisionError, match="second derivative of np.prod"):
        namespace["gradient"](np.array([0.0, 2.0, 3.0]))
