"""Issue 18: generated code never warns where the function does not.

``np.var``/``np.std`` of an empty array: the derivative's mean of the empty array warned "Mean of
empty slice", which ``np.var`` does not. ``eigh`` at repeated eigenvalues: the eigenvectors' tangent
(not finite there) warned from the generated line and from its helper even when only the values
are used, and ``eigh`` itself is quiet there.
"""

import warnings

import numpy as np
import pytest

import sct


def variance(x):
    return np.var(x)


def deviation(x):
    return np.std(x)


def variance_of_rows(x):
    return np.sum(np.var(x, axis=1))


def eigh_trace(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w)


def eigh_vectors(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v * np.arange(9.0).reshape(3, 3))


def svd_values(a):
    u, s, vt = np.linalg.svd(a)
    return np.sum(s)


def _messages(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, {(w.category, str(w.message)) for w in caught}


@pytest.mark.parametrize(
    "fn, shape",
    [(variance, (0,)), (deviation, (0,)), (variance, (2, 0)), (variance_of_rows, (2, 0)), (variance_of_rows, (0, 3))],
)
def test_var_and_std_of_empty_arrays_warn_only_as_the_function_does(fn, shape):
    x = np.zeros(shape)
    _, own = _messages(lambda: fn(x))
    grad, ours = _messages(lambda: sct.grad(fn)(x))
    assert ours <= own, ours - own
    assert grad.shape == shape
    (value, tangent), ours = _messages(lambda: sct.jvp(fn, (x,), (np.ones(shape),)))
    assert ours <= own, ours - own
    assert np.isnan(value) or value == 0.0


@pytest.mark.parametrize("fn", [variance, deviation, variance_of_rows])
def test_var_and_std_gradients_are_unchanged(fn, rng):
    x = rng.normal(size=(3, 4))
    sct.check_grads(fn, (x,), modes=("fwd", "rev"), order=2)


def test_eigh_values_at_repeated_eigenvalues_are_quiet(rng):
    tangent_in = np.tril(rng.normal(size=(3, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # eigh is quiet at np.eye(3): so must its derivatives be
        assert np.allclose(sct.grad(eigh_trace)(np.eye(3)), np.eye(3))
        _, tangent = sct.jvp(eigh_trace, (np.eye(3),), (tangent_in,))
        assert tangent == pytest.approx(np.trace(tangent_in))
        rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]  # svd: all singular values 1
        assert np.allclose(sct.grad(svd_values)(rotation), rotation)


def test_eigh_vectors_at_repeated_eigenvalues_have_no_derivative_and_say_so_by_nan(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad = sct.grad(eigh_vectors)(np.eye(3))
        _, tangent = sct.jvp(eigh_vectors, (np.eye(3),), (np.tril(rng.normal(size=(3, 3))),))
    assert not np.all(np.isfinite(grad)) and not np.isfinite(tangent)  # not a number: no derivative there
    a = rng.normal(size=(3, 3))
    sct.check_grads(eigh_vectors, (a + a.T,), modes=("fwd", "rev"), order=1)  # distinct values: as before
