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


# ---- 2. *args, **kwargs, keyword-only and positional-only parameters in helpers (inlined) ---------------
def total(*xs):
    s = 0.0
    for v in xs:
        s = s + v * v
    return s


def affine(x, **opts):
    return x * opts["scale"] + opts["shift"]


def three(a, b, c=1.0, *, d=2.0):
    return a * b * c + d


def keyword_only(x, *, p=2.0, q):
    return x**p * q


def positional_only(x, y, /, z=1.0):
    return x * y * z


def explicit(x, y):
    return (
        total(x, y, np.sin(x))
        + total()
        + affine(x, scale=y, shift=3.0)
        + keyword_only(x, q=y)
        + keyword_only(y, p=3.0, q=x)
        + positional_only(x, y, z=x)
    )


def unpacking(x, y):
    args = (x, y)
    more = args + (np.sin(x),)
    kw = {"scale": y, "shift": 3.0}
    square = lambda u, v: u * v  # noqa: E731
    return (
        total(*more)
        + affine(x, **kw)
        + three(*args, **{"d": x})
        + three(*more, d=y)
        + square(*args)
        + total(*args, x)
        + three(x, *(y,), **kw_of(y))
    )


def kw_of(v):
    return {"c": v, "d": 1.0}


def passed_in(x, t, kw):
    return total(*t) + affine(x, **kw) + total(x, *t) * kw["scale"]


@pytest.mark.parametrize("fn", [explicit, unpacking])
@given(FLOATS, st.floats(0.5, 2.0))
def test_helpers_with_packed_and_keyword_parameters(fn, x, y):
    value, grads = sct.value_and_grad(fn, wrt=(0, 1))(x, y)
    assert value == pytest.approx(fn(x, y), rel=1e-12, abs=1e-12)
    for i, grad in enumerate(grads):
        assert grad == pytest.approx(numeric_grad(fn, (x, y), i), rel=1e-5, abs=1e-5)
    sct.check_grads(fn, (x, y), modes=("fwd", "rev"), order=1)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_tuples_and_dicts_passed_in_are_unpacked_by_their_structure(n):
    t = tuple(np.linspace(0.5, 1.5, n))
    kw = {"shift": 1.0, "scale": 2.0}
    value, (gx, gt, gkw) = sct.value_and_grad(passed_in, wrt=(0, 1, 2))(0.5, t, kw)
    assert value == pytest.approx(passed_in(0.5, t, kw))
    assert type(gt) is tuple and len(gt) == n and set(gkw) == set(kw)
    np.testing.assert_allclose(gt, [6 * v for v in t] if n else [], rtol=1e-12)
    assert gkw["scale"] == pytest.approx(0.5 + sum(v * v for v in t) + 0.25) and gkw["shift"] == 1.0
    assert gx == pytest.approx(2.0 + 2 * 0.5 * 2.0)
    sct.check_grads(passed_in, (0.5, t, kw), modes=("fwd", "rev"), order=1)


def test_the_same_helper_called_every_way_gives_the_same_gradient():
    def a(x, y):
        return three(x, y, d=y)

    def b(x, y):
        return three(*(x, y), **{"d": y})

    def c(x, y):
        args, kw = (x,), {"d": y}
        return three(*(args + (y,)), **kw)

    expected_grads = sct.grad(a, wrt=(0, 1))(0.3, 0.8)
    for fn in (b, c):
        assert sct.grad(fn, wrt=(0, 1))(0.3, 0.8) == pytest.approx(expected_grads, rel=1e-12)


def in_a_loop(x):
    t = (x,)
    for _ in range(2):
        t = t + (x,)
    return total(*t)


def a_list(x):
    t = [x, x]
    return total(*t)


def from_a_list_argument(x, t):
    return total(*t)


def into_numpy(x):
    return np.add(*(x, x))


def into_numpy_by_keyword(x):
    return np.sum(x, **{"axis": 0})


def starred_display(x):
    return sum([*[x, x]])


@pytest.mark.parametrize(
    "fn, args, message",
    [
        (in_a_loop, (1.0,), "cannot see what this `\\*` unpacks"),
        (a_list, (1.0,), "cannot see what this `\\*` unpacks"),
        (from_a_list_argument, (1.0, [1.0, 2.0]), "cannot see what this `\\*` unpacks"),
        (into_numpy, (1.0,), "only calls of your own functions"),
        (into_numpy_by_keyword, (np.ones(2),), "only calls of your own functions"),
        (starred_display, (1.0,), "write the items out"),
    ],
)
def test_what_cannot_be_unpacked_exactly_is_refused_at_its_line(fn, args, message):
    with pytest.raises(sct.UnsupportedSyntaxError, match=message) as info:
        sct.grad(fn)(*args)
    assert info.value.problems[0].location.lineno > fn.__code__.co_firstlineno


# ---- 3. *args, keyword-only parameters and **kwargs in the differentiated function ------------------
def varargs(x, *rest, k=2.0, **opts):
    s = x * k
    for r in rest:
        s = s + np.sum(r * np.sin(x))
    return s + opts["b"] * x**2


def as_positional(x, rest, k, opts):
    return varargs(x, *rest, k=k, **opts)


@given(FLOATS, st.lists(FLOATS, max_size=3), FLOATS, FLOATS)
def test_the_function_itself_takes_rest_keyword_only_and_opts(x, rest, k, b):
    rest, opts = tuple(rest), {"b": b}
    g = sct.value_and_grad(varargs, wrt=("x", "rest", "k", "opts"))
    value, (gx, grest, gk, gopts) = g(x, *rest, k=k, **opts)
    assert value == pytest.approx(varargs(x, *rest, k=k, **opts), rel=1e-12, abs=1e-12)
    assert type(grest) is tuple and len(grest) == len(rest) and set(gopts) == {"b"}
    flat = (x, rest, k, opts)
    expected = sct.grad(as_positional, wrt=(0, 1, 2, 3))(*flat)  # the helper path (item 2), checked below
    assert gx == pytest.approx(expected[0]) and gk == pytest.approx(expected[2])
    assert grest == pytest.approx(expected[1]) and gopts["b"] == pytest.approx(expected[3]["b"])
    assert gx == pytest.approx(numeric_grad(as_positional, flat, 0), rel=1e-5, abs=1e-5)
    assert gk == pytest.approx(numeric_grad(as_positional, flat, 2), rel=1e-5, abs=1e-5)
    sct.check_grads(as_positional, flat, modes=("fwd", "rev"), order=1)


def test_wrt_zero_is_the_first_parameter_and_defaults_fill_in():
    g = sct.grad(varargs)
    for _ in range(3):  # these never take the dispatcher: the answers stay the general path's
        assert g(1.5, b=1.0) == pytest.approx(2.0 + 3.0)
        assert g(1.5, np.ones(2), k=0.5, b=0.0) == pytest.approx(0.5 + 2 * np.cos(1.5))


def test_a_rest_of_arrays_has_a_tuple_of_array_gradients():
    rest = (np.linspace(0.1, 0.5, 3), np.ones((2, 3)))
    grads = sct.grad(varargs, wrt="rest")(0.7, *rest, b=1.0)
    assert [np.shape(g) for g in grads] == [(3,), (2, 3)]
    np.testing.assert_allclose(grads[0], np.full(3, np.sin(0.7)), rtol=1e-12)


def keyword_only_scale(x, *, scale):
    return scale * np.sum(x**2)


def only_x_positional(x, /, y):
    return x * y


def test_keyword_only_and_only_x_positional_parameters():
    x = np.array([1.0, -2.0])
    gx, gs = sct.grad(keyword_only_scale, wrt=("x", "scale"))(x, scale=3.0)
    np.testing.assert_allclose(gx, 6.0 * x)
    assert gs == pytest.approx(5.0)
    assert sct.grad(only_x_positional, wrt=(0, 1))(2.0, 3.0) == pytest.approx((3.0, 2.0))
    assert sct.grad(only_x_positional, wrt="y")(2.0, y=3.0) == pytest.approx(2.0)
    with pytest.raises(TypeError, match="positional"):
        sct.grad(only_x_positional)(x=2.0, y=3.0)  # as Python refuses it


def test_wrt_by_number_counts_the_named_positional_parameters_only():
    with pytest.raises(sct.SctError, match="wrt='rest'"):
        sct.grad(varargs, wrt=1)
    with pytest.raises(sct.SctError, match="called without 'k'"):
        sct.grad(varargs, wrt="k")(1.0, b=1.0)  # a parameter differentiated by must be given


@pytest.mark.parametrize("transform", [lambda f: sct.vjp(f, 1.0, 2.0), lambda f: sct.source(f)])
def test_other_transforms_of_such_a_function_are_refused_with_the_rewrite(transform):
    with pytest.raises(sct.UnsupportedSyntaxError, match=r"lambda x, rest: f\(x, \*rest\)"):
        transform(varargs)


def test_gradient_of_a_gradient_of_a_varargs_function_through_a_lambda():
    inner = sct.grad(lambda x, rest: varargs(x, *rest, b=0.5))
    outer = sct.grad(inner)
    rest = (0.3, -1.2)
    expected = -np.sin(0.7) * sum(rest) + 2 * 0.5
    assert outer(0.7, rest) == pytest.approx(expected, rel=1e-10)


def only_rest(*xs):
    return xs[0] * xs[0]


def test_a_function_of_rest_alone_is_differentiated_by_name():
    assert sct.grad(only_rest, wrt="xs")(1.5, 2.0) == pytest.approx((3.0, 0.0))
    square = lambda *a: a[0] * a[0]  # noqa: E731
    assert sct.grad(square, wrt="a")(1.5) == pytest.approx((3.0,))
    with pytest.raises(sct.SctError, match="wrt='xs'"):
        sct.grad(only_rest)  # wrt=0: there is no positional parameter 0


def test_the_gradient_of_such_a_gradient_is_refused_not_miscomputed():
    def g(x, *rest, k=1.0):
        return x * x * k * rest[0]

    for outer in (sct.grad, sct.value_and_grad):
        with pytest.raises(sct.SctError, match="lambda x, rest"):
            outer(sct.grad(g), wrt="x")(0.3, 2.0, 3.0)
        with pytest.raises(sct.SctError, match="lambda x, rest"):
            outer(sct.grad(g, wrt="k"), wrt="x")(0.3, 2.0, k=3.0)
    inner = sct.grad(lambda x, rest, k: g(x, *rest, k=k))
    assert sct.grad(inner)(0.3, (2.0,), 3.0) == pytest.approx(2 * 3.0 * 2.0)
