"""Custom rules: sct.defvjp/defjvp (autograd style) and @sct.custom_vjp/@sct.custom_jvp (JAX style)."""

import numpy as np
import pytest
from conftest import assert_grads_match

import sct


# ---- autograd style ------------------------------------------------------------------------
def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def logsumexp_vjp(g, ans, x):
    return g * np.exp(x - ans)


sct.defvjp(logsumexp, logsumexp_vjp)


def uses_logsumexp(x):
    return logsumexp(x * 2.0) ** 2


def test_a_registered_rule_is_called_by_name_in_the_generated_code():
    text = sct.source(uses_logsumexp)
    assert "b = logsumexp(a)" in text
    assert "delta_a = logsumexp_vjp(delta_b, b, a)" in text


def test_a_registered_rule_gives_the_gradient(rng):
    x = rng.normal(size=4)
    (g,) = (sct.grad(uses_logsumexp)(x),)
    assert_grads_match(uses_logsumexp, [x], [g])


def test_forward_mode_is_made_from_the_reverse_rule(rng):
    x, t = rng.normal(size=4), rng.normal(size=4)
    text = sct.source(uses_logsumexp, mode="forward")
    assert "jvp_from_logsumexp_vjp(dot_a, b, a)" in text
    _, tangent = sct.jvp(uses_logsumexp, (x,), (t,))
    assert tangent == pytest.approx(float(np.vdot(sct.grad(uses_logsumexp)(x), t)), rel=1e-10)


def test_second_order_through_a_registered_rule(rng):
    sct.check_grads(uses_logsumexp, (rng.normal(size=3),), order=2)


def cube_root(x):
    return np.cbrt(x)


def cube_root_jvp(t, ans, x):
    return t / (3.0 * ans**2)


sct.defjvp(cube_root, cube_root_jvp)


def uses_cube_root(x):
    return np.sum(cube_root(x * x + 1.0))


def test_defjvp_rule_by_name_and_reverse_made_from_it(rng):
    assert "cube_root_jvp(dot_" in sct.source(uses_cube_root, mode="forward")
    assert "vjp_from_cube_root_jvp(" in sct.source(uses_cube_root)
    x = rng.normal(size=3)
    assert_grads_match(uses_cube_root, [x], [sct.grad(uses_cube_root)(x)])
    sct.check_grads(uses_cube_root, (x,), order=2)


def two_args(x, y):
    return x * np.sin(y)


sct.defvjp(two_args, lambda g, ans, x, y: g * np.sin(y), None)


def uses_two_args(x, y):
    return np.sum(two_args(x, y))


def test_none_means_no_gradient_for_that_argument(rng):
    x, y = rng.normal(size=3), rng.normal(size=3)
    text = sct.source(uses_two_args, wrt=(0, 1))
    assert "two_args_vjp0(" in text  # a lambda is named after the function and argument
    gx, gy = sct.grad(uses_two_args, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.sin(y))
    np.testing.assert_array_equal(gy, np.zeros(3))


def test_defvjp_rejects_non_functions():
    with pytest.raises(sct.SctError):
        sct.defvjp(logsumexp, "not a rule")


# ---- JAX style -------------------------------------------------------------------------------
@sct.custom_vjp
def clip_gradient(x, y):
    return x * y


def clip_fwd(x, y):
    return x * y, (x, y)


def clip_bwd(res, g):
    x, y = res
    return np.clip(g * y, -1.0, 1.0), g * x


clip_gradient.defvjp(clip_fwd, clip_bwd)


def uses_clip(a, b):
    return np.sum(clip_gradient(a, b) + a)


def test_custom_vjp_replaces_the_body(rng):
    a, b = rng.normal(size=3), 10.0 * rng.normal(size=3)
    assert clip_gradient(2.0, 3.0) == 6.0  # calling it runs the function
    text = sct.source(uses_clip, wrt=(0, 1))
    assert "c = clip_gradient(a, b)" in text
    assert "clip_bwd_x(delta_c, c, a, b)" in text and "clip_bwd_y(delta_c, c, a, b)" in text  # by parameter
    ga, gb = sct.grad(uses_clip, wrt=(0, 1))(a, b)
    np.testing.assert_allclose(ga, np.clip(b, -1.0, 1.0) + 1.0)
    np.testing.assert_allclose(gb, a)


def test_custom_vjp_on_the_function_itself():
    assert sct.grad(clip_gradient)(0.5, 3.0) == 1.0  # clipped: the body would give 3.0
    assert "clip_bwd_x(delta_out, out, x, y)" in sct.source(clip_gradient)


def test_custom_vjp_in_forward_mode(rng):
    a, b = rng.normal(size=3), 0.1 * rng.normal(size=3)  # small b: nothing clipped
    ta, tb = rng.normal(size=3), rng.normal(size=3)
    _, tangent = sct.jvp(uses_clip, (a, b), (ta, tb))
    assert tangent == pytest.approx(float(np.sum(ta * b + a * tb + ta)))


@sct.custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defjvp
def softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t / (1.0 + np.exp(-x))


def uses_softplus(x):
    return np.sum(softplus(x) * x)


def test_custom_jvp_in_both_modes(rng):
    x = rng.normal(size=3)
    assert "dot_a = softplus_jvp(dot_x, a, x)" in sct.source(uses_softplus, mode="forward")
    assert_grads_match(uses_softplus, [x], [sct.grad(uses_softplus)(x)])
    sct.check_grads(uses_softplus, (x,), order=1)
    assert softplus(0.0) == pytest.approx(np.log(2.0))


def test_custom_decorators_check_their_arguments():
    with pytest.raises(sct.SctError):
        clip_gradient.defvjp(clip_fwd, None)

    @sct.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, None), lambda res, g: (g,))  # one cotangent for two arguments
    with pytest.raises(sct.SctError, match="1 cotangents for 2 arguments"):
        sct.grad(f)(1.0, 2.0)
