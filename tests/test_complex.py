"""Complex numbers (issue 14, item 6), in autograd's convention (docs/api.md, sct/analysis/complex_values.py).

For ``f(z) = u(x, y) + i v(x, y)``, ``sct.grad`` of a real ``u`` is ``du/dx - i du/dy``: checked by
central differences in the real and the imaginary direction separately, by hand-derived formulas,
and (where autograd is installed) against autograd itself. The gradient of a real argument is real
even where the values in between are complex.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sct

R = np.random.default_rng(6)
Z = R.normal(size=4) + 1j * R.normal(size=4)
Z2 = R.normal(size=(2, 3)) + 1j * R.normal(size=(2, 3))
X = R.normal(size=4)
M = R.normal(size=(3, 3)) + 1j * R.normal(size=(3, 3))


def wirtinger(f, z, eps=1e-6):
    """``du/dx - i du/dy`` by central differences, element by element."""
    out = np.zeros_like(z)
    for k in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[k] = eps
        du_dx = (f(z + e) - f(z - e)) / (2 * eps)
        du_dy = (f(z + 1j * e) - f(z - 1j * e)) / (2 * eps)
        out[k] = du_dx - 1j * du_dy
    return out


# ---- real-valued functions of complex inputs -------------------------------------------------------
def squared_modulus(z):
    return np.sum(np.abs(z) ** 2)


def modulus(z):
    return np.sum(np.abs(z))


def real_and_imag(z):
    return np.sum(np.real(z) ** 2 * np.imag(z)) + np.sum(np.imag(z) ** 3)


def attributes(z):
    return np.sum(z.real * z.imag) + np.sum(z.real**2)


def conjugates(z):
    return np.sum(np.real(np.conj(z) * z * (1.0 + 2.0j))) + np.sum(np.real(z.conj() ** 2))


def angles(z):
    return np.sum(np.angle(z) * np.arange(1.0, 5.0)) + np.sum(np.angle(z, deg=True))


def holomorphic_inside(z):
    return np.sum(np.abs(np.exp(z) + np.sin(z) * z**2 + 1.0 / (z + 3.0)) ** 2)


def matrix_loss(a):
    return np.sum(np.abs(a @ a + np.eye(3)) ** 2) + np.real(np.trace(a @ np.conj(a).T))


def vdot_loss(z):
    return np.real(np.vdot(z * (2.0 - 1.0j), z + 1.0j)) + np.abs(np.vdot(z, z))


def reductions(z):
    return np.abs(np.sum(z * np.arange(4.0))) + np.real(np.prod(z[:2])) + np.abs(np.mean(z**2))


def stacked(z):
    w = np.concatenate([z, np.conj(z)])
    return np.sum(np.abs(np.outer(w, w[:3])) ** 2) + np.sum(np.abs(np.kron(z, z[:2])))


def builtin_abs(z):
    return sum(abs(z[k]) ** 1.5 for k in range(4))


def spreads(z):
    rows = np.reshape(z, (2, 2))
    return np.var(z) + np.std(z * (2.0 - 1.0j)) + np.sum(np.var(rows, axis=0, ddof=1)) + np.nanvar(z) + np.nanstd(z)


LOSSES = [
    (squared_modulus, Z),
    (builtin_abs, Z),
    (spreads, Z),
    (modulus, Z),
    (real_and_imag, Z),
    (attributes, Z2),
    (conjugates, Z),
    (angles, Z),
    (holomorphic_inside, Z * 0.5),
    (matrix_loss, M),
    (vdot_loss, Z),
    (reductions, Z),
    (stacked, Z),
]


@pytest.mark.parametrize("f, z", LOSSES, ids=[f.__name__ for f, _ in LOSSES])
def test_real_loss_of_complex_input_follows_the_convention(f, z):
    g = sct.grad(f)(z)
    assert g.dtype.kind == "c" and g.shape == z.shape
    np.testing.assert_allclose(g, wirtinger(f, z), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f, z", LOSSES, ids=[f.__name__ for f, _ in LOSSES])
def test_check_grads_in_real_and_imaginary_directions(f, z):
    sct.check_grads(f, (z,), modes=("fwd", "rev"), order=2)


def test_hand_derived_gradients():
    np.testing.assert_allclose(sct.grad(squared_modulus)(Z), 2.0 * np.conj(Z))  # 2x - 2iy
    np.testing.assert_allclose(sct.grad(modulus)(Z), np.conj(Z) / np.abs(Z))
    np.testing.assert_allclose(sct.grad(lambda_free_angle)(Z), -1j * np.conj(Z) / np.abs(Z) ** 2)


def lambda_free_angle(z):
    return np.sum(np.angle(z))


def test_gradient_descent_steps_along_the_conjugate():
    z = np.array([1.0 + 2.0j, -0.5 + 0.3j])
    target = np.array([0.2 - 1.0j, 1.5 + 0.5j])
    for _ in range(200):
        z = z - 0.1 * np.conj(sct.grad(distance)(z, target))
    np.testing.assert_allclose(z, target, atol=1e-8)


def distance(z, target):
    return np.sum(np.abs(z - target) ** 2)


def test_modulus_at_zero_has_the_zero_subgradient():
    z = np.array([0.0 + 0.0j, 1.0 + 1.0j])
    g = sct.grad(modulus)(z)
    assert g[0] == 0 and np.isfinite(g).all()


@given(st.integers(1, 4), st.integers(1, 3))
def test_convention_over_shapes(n, m):
    z = R.normal(size=(n, m)) + 1j * R.normal(size=(n, m))
    np.testing.assert_allclose(sct.grad(holomorphic_inside)(z * 0.5), wirtinger(holomorphic_inside, z * 0.5), rtol=1e-5)


# ---- holomorphic functions ---------------------------------------------------------------------
def holomorphic(z):
    return np.real(np.sum(np.exp(z) * z**2 + np.sin(z) / (z + 3.0)))


def holomorphic_derivative(z):
    return np.exp(z) * z**2 + 2.0 * z * np.exp(z) + np.cos(z) / (z + 3.0) - np.sin(z) / (z + 3.0) ** 2


def test_holomorphic_functions_give_the_complex_derivative():
    np.testing.assert_allclose(sct.grad(holomorphic)(Z), holomorphic_derivative(Z), rtol=1e-12)


def test_holomorphic_jvp_and_vjp_are_the_complex_derivative():
    v = R.normal(size=4) + 1j * R.normal(size=4)
    out, tangent = sct.jvp(exp_z2, (Z,), (v,))
    np.testing.assert_allclose(out, exp_z2(Z))
    np.testing.assert_allclose(tangent, 2.0 * Z * np.exp(Z**2) * v)
    out, pullback = sct.vjp(exp_z2, Z)
    (back,) = pullback(v)
    np.testing.assert_allclose(back, v * 2.0 * Z * np.exp(Z**2))


def exp_z2(z):
    return np.exp(z**2)


def test_complex_python_scalar():
    g = sct.grad(scalar_loss)(0.3 - 0.7j)
    np.testing.assert_allclose(g, wirtinger(lambda z: scalar_loss(z[0]), np.array([0.3 - 0.7j]))[0])


def scalar_loss(z):
    return np.abs(z * z + 1.0) ** 2


def test_grad_of_a_complex_value_says_take_its_real_part():
    with pytest.raises(sct.SctError, match="real"):
        sct.grad(exp_z2_sum)(Z)


def exp_z2_sum(z):
    return np.sum(np.exp(z**2))


def test_jacobian_and_hessian_by_a_complex_argument_are_refused_clearly():
    for transform in (sct.jacobian, sct.hessian):
        with pytest.raises(sct.SctError, match="complex arguments"):
            transform(squared_modulus)(Z)


def test_hvp_is_the_tangent_of_the_gradient():
    v = np.array([1.0, 0.0, 0.0, 0.0]) + 0j
    x, y = Z.real, Z.imag  # gradient of sum x^3 + x y^2: 3x^2 + y^2 - 2i x y; its x-derivative 6x - 2i y
    expected = np.where(np.arange(4) == 0, 6.0 * x - 2.0j * y, 0.0)
    np.testing.assert_allclose(sct.hvp(cubic_real_part, (Z,), (v,)), expected)


def cubic_real_part(z):
    return np.sum(np.abs(z) ** 2 * np.real(z))


def test_complex_inside_a_container_is_refused_clearly():
    with pytest.raises(sct.SctError, match="not yet inside a list"):
        sct.grad(of_list)([Z, Z])


def of_list(zs):
    return np.sum(np.abs(zs[0]) ** 2)


# ---- real arguments, complex values in between ---------------------------------------------------------
def abs_of_product(x):
    return np.sum(np.abs(x * (1.0 + 2.0j)))


def rotation(x):
    w = np.exp(1j * x)
    return np.sum(np.real(w) * np.imag(w) + np.angle(w * (0.5 + 0.5j)))


def polar(x, r):
    z = r * np.exp(1j * x)
    return np.sum(np.abs(z - 0.5) ** 2)


def through_cast(x):
    return np.sum(np.abs(x.astype(complex) * (2.0 - 1.0j) + 1.0j) ** 3)


def fourier_power(x):
    c = np.exp(-2j * np.pi * np.outer(np.arange(4.0), np.arange(4.0)) / 4.0)
    return np.sum(np.abs(c @ x) ** 2)


PHASES = np.exp(1j * np.arange(4.0))  # a complex array read from the module


def global_phases(x):
    return np.sum(np.abs(x * PHASES - 0.5) + np.angle(x + PHASES))


REAL_ARGS = [
    (abs_of_product, (X,)),
    (global_phases, (X,)),
    (rotation, (X,)),
    (polar, (X, np.abs(X) + 0.5)),
    (through_cast, (X,)),
    (fourier_power, (X,)),
]


@pytest.mark.parametrize("f, args", REAL_ARGS, ids=[f.__name__ for f, _ in REAL_ARGS])
def test_real_arguments_get_real_gradients(f, args):
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)  # no imaginary part silently dropped
        grads = sct.grad(f, wrt=tuple(range(len(args))))(*args)
        for x, g in zip(args, grads):
            assert g.dtype.kind == "f" and g.shape == x.shape, g
        sct.check_grads(f, args, modes=("fwd", "rev"), order=2)


def test_the_real_gradient_of_a_python_float():
    g = sct.grad(scalar_rotation)(0.4)
    assert type(g) is float
    assert g == pytest.approx(-2.0 * np.sin(0.8))


def scalar_rotation(t):
    return np.real(np.exp(2j * t))


def test_real_code_is_unchanged_by_the_complex_rules():
    source = sct.grad(real_modulus).source
    assert "np.sign(x)" in source and "np.real" not in source and "conj" not in source, source


def real_modulus(x):
    return np.sum(np.abs(x))


# ---- autograd itself, where installed --------------------------------------------------------------
AUTOGRAD_CASES = ["squared_modulus", "modulus", "real_and_imag", "conjugates", "angles", "holomorphic_inside"]


@pytest.mark.parametrize("name", AUTOGRAD_CASES)
def test_same_as_autograd(name):
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    ours = globals()[name]
    theirs = {
        "squared_modulus": lambda z: anp.sum(anp.abs(z) ** 2),
        "modulus": lambda z: anp.sum(anp.abs(z)),
        "real_and_imag": lambda z: anp.sum(anp.real(z) ** 2 * anp.imag(z)) + anp.sum(anp.imag(z) ** 3),
        "conjugates": lambda z: anp.sum(anp.real(anp.conj(z) * z * (1.0 + 2.0j))) + anp.sum(anp.real(anp.conj(z) ** 2)),
        "angles": lambda z: anp.sum(anp.angle(z) * anp.arange(1.0, 5.0)) + anp.sum(anp.angle(z)) * 180.0 / np.pi,
        "holomorphic_inside": lambda z: anp.sum(anp.abs(anp.exp(z) + anp.sin(z) * z**2 + 1.0 / (z + 3.0)) ** 2),
    }[name]
    np.testing.assert_allclose(sct.grad(ours)(Z * 0.5), autograd.grad(theirs)(Z * 0.5), rtol=1e-10)


def test_same_as_autograd_for_a_real_argument():
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    expected = autograd.grad(lambda x: anp.sum(anp.abs(x * (1.0 + 2.0j))))(X)
    np.testing.assert_allclose(sct.grad(abs_of_product)(X), expected, rtol=1e-12)
