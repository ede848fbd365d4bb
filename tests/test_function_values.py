"""Function values and local functions (issue 13, items 2 and 4).

A function passed in, returned, stored in a list or dict, made by
``functools.partial``, a callable object, a local ``def`` (also in a loop,
closing over the loop variable): each is called as Python calls it, so its value
through sct is Python's and its derivatives match central differences in both
modes. Where which function runs depends on the run, sct refuses.
"""

import functools

import numpy as np
import pytest

import sct

X = np.array([0.5, -1.25, 2.0])


def check(f, *args, order=1, wrt=None):
    """sct's value is Python's, and its derivatives match central differences in both modes."""
    value, _ = sct.value_and_grad(f)(*args)
    assert value == f(*args)
    sct.check_grads(f, args, modes=("fwd", "rev"), order=order, wrt=wrt)


def refused(f, *args, error=sct.UnsupportedSyntaxError):
    with pytest.raises(error) as info:
        sct.grad(f)(*args)
    return str(info.value)


# ---- functions passed in --------------------------------------------------------------------
def predict(W, x, nonlinearity=np.tanh):
    return np.sum(nonlinearity(W * x))


def relu_ish(v):
    return np.log1p(np.exp(v))


def test_a_parameter_that_is_a_function_numpy_or_the_users():
    check(predict, X, 0.7, wrt=(0, 1))
    check(lambda W, x: predict(W, x, relu_ish), X, 0.7, order=2)
    check(lambda W, x: predict(W, x, np.sin), X, 0.7)


def test_a_variant_per_function_passed():
    g = sct.grad(predict)
    assert np.allclose(g(X, 0.7, np.sin), 0.7 * np.cos(X * 0.7))
    assert np.allclose(g(X, 0.7, np.tanh), 0.7 / np.cosh(X * 0.7) ** 2)
    assert np.allclose(g(X, 0.7, relu_ish), 0.7 / (1 + np.exp(-X * 0.7)))


def fixed_point(f, a, x0):
    x = x0
    for _ in range(30):
        x = f(a, x)
    return x


def newton_cos(a, x):
    return 0.5 * (x + a * np.cos(x))


def test_fixed_point_calls_the_function_it_is_given():
    check(lambda a, x0: fixed_point(newton_cos, a, x0), 0.6, 0.3)
    check(lambda a, x0: fixed_point(lambda a, x: 0.5 * (x + a / x), a, x0), 2.0, 1.0)


def apply_twice(f, x):
    return f(f(x))


def test_a_function_handed_on_through_two_helpers():
    def loss(x):
        return np.sum(apply_twice(np.sin, x) + apply_twice(lambda v: v * v, x))

    check(loss, X)


# ---- functions returned, stored, partially applied --------------------------------------------
def make_step(a):
    def step(x):
        return a * x + np.sin(x)

    return step


def make_scaled(a):
    return lambda x: a * x**2


def test_calling_the_function_a_call_returns():
    check(lambda a, x: make_step(a)(x), 1.5, 0.3, order=2)
    check(lambda a, x: make_scaled(2.0 * a)(x) + make_scaled(a)(x * 3.0), 1.5, 0.3)


def test_a_returned_function_bound_to_a_name_reads_the_values_of_its_call():
    def loss(a, x):
        first = make_scaled(a)
        second = make_scaled(2.0 * a)
        return first(x) + second(x) + first(2.0 * x)

    check(loss, 1.5, 0.3)


def test_functions_in_lists_and_dicts():
    def loss(x):
        fs = [np.sin, lambda z: z**2, relu_ish]
        table = {"a": np.cos, "b": functools.partial(scaled, k=2.0)}
        return np.sum(fs[0](x) + fs[1](x) + fs[2](x) + table["a"](x) * table["b"](x))

    check(loss, X)


def scaled(x, k, shift=0.0):
    return k * x + shift


def test_functools_partial_made_inside_and_outside():
    triple = functools.partial(scaled, k=3.0)

    def loss(x, k):
        g = functools.partial(scaled, k=k, shift=1.0)
        return np.sum(g(x) * triple(x) + functools.partial(scaled, x)(k))

    check(loss, X, 0.5, wrt=(0, 1))


class Quadratic:
    def __init__(self, a):
        self.a = a

    def __call__(self, x):
        return self.a * x**2

    def value(self, x):
        return np.sum(self(x)) + self.a


QUAD = Quadratic(1.5)


def test_a_callable_object_and_a_bound_method_of_a_global_object():
    check(lambda x: np.sum(QUAD(x)), X)
    check(lambda x: QUAD.value(x), X)
    check(lambda x: predict(1.0, x, QUAD), X)


# ---- local functions ---------------------------------------------------------------------------
def test_a_local_def_reads_the_enclosing_variables_at_the_call():
    def loss(x, w):
        k = 2.0

        def h(z, c=k):  # c is 2.0: defaults are evaluated where the def runs
            return z * w * k + c

        k = 3.0  # h reads k when called: 3.0
        return np.sum(h(x)) + np.sum(h(x, c=w))

    check(loss, X, 0.7, wrt=(0, 1))


def test_a_local_def_in_a_loop_closing_over_the_loop_variable():
    def loss(x):
        s = 0.0
        for i in range(4):

            def term(z):
                return np.sin(z * i)  # noqa: B023 (late binding is the point)

            s = s + np.sum(term(x))
        return s

    check(loss, X)


def test_a_local_def_called_after_the_loop_sees_the_last_value():
    def loss(x):
        for i in range(3):

            def term(z):
                return z * (i + 1.0)  # noqa: B023 (late binding is the point)

        return np.sum(term(x))

    # called outside the loop it was made in: which definition ran is not known at compile time
    refused(loss, X)


def test_nested_local_defs_and_a_local_def_calling_a_module_function():
    def loss(x, a):
        def outer(z):
            def inner(v):
                return a * v**2

            return inner(z) + newton_cos(a, z)

        return np.sum(outer(x))

    check(loss, X, 0.5, wrt=(0, 1))


def test_a_local_defs_own_names_do_not_clash_with_the_callers():
    def loss(x):
        y = 2.0 * x

        def h(x):
            y = x * 3.0
            return y + 1.0

        return np.sum(h(y) * y)

    check(loss, X)


# ---- refused: which function runs depends on the run ---------------------------------------
def test_a_function_bound_in_a_branch_is_refused():
    def loss(x, c):
        if c > 0:
            f = np.sin
        else:
            f = np.cos
        return np.sum(f(x))

    message = refused(loss, X, 1.0)
    assert "`f`" in message


def test_two_lambdas_under_one_name_are_refused():
    def loss(x):
        f = lambda v: v * 2.0  # noqa: E731
        y = f(x)
        f = lambda v: v * 3.0  # noqa: E731
        return np.sum(f(y))

    assert "bound elsewhere" in refused(loss, X)


def test_a_recursive_local_def_is_refused():
    def loss(x):
        def down(v, n):
            return v if n == 0 else down(v * 0.5, n - 1)

        return np.sum(down(x, 3))

    assert "calls itself" in refused(loss, X)


def test_a_local_function_passed_to_a_library_function_is_refused():
    def loss(x):
        def f(v):
            return v * 2.0

        return np.sum(np.vectorize(f)(x))

    refused(loss, X, error=sct.SctError)


# ---- objects (issue 13, item 6) ----------------------------------------------------------------
class Dense:
    """A layer whose parameters are attributes; its methods read them through ``self``."""

    scale = 0.5

    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return np.tanh(self.W @ x + self.b)

    def loss(self, x):
        return np.sum(self(x) ** 2) * self.scale

    @sct.grad
    def input_grad(self, x):
        return self.loss(x)

    @classmethod
    def scaled(cls, x):
        return cls.scale * np.sum(x**2)

    @staticmethod
    def plain(x):
        return np.sum(np.sin(x))


W = np.array([[0.5, -0.25, 1.0], [0.75, 0.5, -1.5]])
LAYER = Dense(W, np.array([0.1, -0.2]))


def layer_loss(x):
    return LAYER.loss(x)


def test_methods_of_an_object_read_its_attributes():
    check(lambda x: np.sum(LAYER(x)), X)
    check(layer_loss, X, order=2)


def test_an_object_passed_as_an_argument_calls_its_class_methods():
    def loss(layer, x):
        return layer.loss(x) + np.sum(layer(x)) + layer.plain(x) + layer.scaled(x)

    g = sct.grad(loss, wrt=1)
    expected = sct.grad(lambda x: loss(LAYER, x))(X)
    assert np.allclose(g(LAYER, X), expected)
    other = Dense(2.0 * W, np.zeros(2))  # the same class: the same variant, this object's attributes
    assert np.allclose(g(other, X), sct.grad(lambda x: loss(other, x))(X))
    sct.check_grads(lambda x: loss(other, x), (X,), modes=("fwd", "rev"))


def test_grad_of_a_bound_method_and_grad_decorating_a_method():
    expected = sct.grad(layer_loss)(X)
    assert np.allclose(sct.grad(LAYER.loss)(X), expected)
    assert np.allclose(LAYER.input_grad(X), expected)
    assert np.allclose(sct.grad(Dense.scaled)(X), 2 * Dense.scale * X)


def dense_loss(W, b, x):
    return np.sum(np.tanh(W @ x + b) ** 2) * Dense.scale


def test_differentiating_by_an_object_gives_a_dict_of_its_attributes_gradients():
    def loss(layer, x):
        return layer.loss(x) + layer.plain(x)

    value, (g_layer, g_x) = sct.value_and_grad(loss, wrt=(0, 1))(LAYER, X)
    assert value == loss(LAYER, X)
    assert set(g_layer) == {"W", "b"}
    dW, db, dx = sct.grad(dense_loss, wrt=(0, 1, 2))(LAYER.W, LAYER.b, X)
    assert np.allclose(g_layer["W"], dW) and np.allclose(g_layer["b"], db)
    assert np.allclose(g_x, dx + np.cos(X))
    assert LAYER.W is W  # the object is not changed


def test_an_object_with_attributes_that_are_not_floats_is_refused_by_name():
    class Tagged:
        def __init__(self):
            self.w, self.name = 2.0, "layer"

        def f(self, x):
            return self.w * x

    with pytest.raises(sct.SctError, match="name"):
        sct.grad(lambda obj, x: obj.f(x))(Tagged(), 1.0)


def test_making_an_object_inside_the_function_is_refused():
    message = refused(lambda x: Dense(W, x).loss(X), np.zeros(2))
    assert "make the object outside" in message and "__init__" in message


def noisy(x, rng):
    return np.sum(x**2 * rng.normal(size=x.shape)) + np.sum(x * rng.uniform())


@pytest.mark.parametrize("make", [np.random.RandomState, np.random.default_rng])
def test_a_random_generator_argument_draws_constants(make):
    g = sct.grad(noisy)(X, make(0))
    rng = make(0)  # the same draws, in the same order
    noise, u = rng.normal(size=X.shape), rng.uniform()
    assert np.allclose(g, 2 * X * noise + u)


def test_a_generator_made_inside_the_function():
    def loss(x):
        rng = np.random.default_rng(3)
        return np.sum(x * rng.normal(size=3))

    assert np.allclose(sct.grad(loss)(X), np.random.default_rng(3).normal(size=3))


# ---- recursion ------------------------------------------------------------------------------------
def shrink(x, n):
    if n == 0:
        return x
    return shrink(x * 1.001, n - 1)


def test_recursion_as_deep_as_python_allows():
    assert np.isclose(sct.grad(shrink)(2.0, 900), 1.001**900)


def test_the_source_of_a_bound_method_is_its_gradient_by_the_arguments_after_self():
    text = sct.source(LAYER.loss)
    assert text.startswith("def grad_loss(self, x") and "self.W" in text
    assert "return (out, delta_x)" in text
