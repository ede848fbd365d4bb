"""``sct.jacobian``, ``sct.hessian`` and ``sct.hvp`` on another library's arrays (PyTorch CPU tensors, Dask).

They build their results with NumPy, or differentiate the generated gradient again, whose
code for these arrays calls the library's own functions: on PyTorch tensors they refuse
with :class:`sct.BackendError` naming the transform and the array type, before running
anything on the tensors (until this, a raw ``TypeError`` from NumPy's ``sum`` given a
tensor). The reverse-over-reverse Hessian-vector product the message suggests runs.
"""

import numpy as np
import pytest

import sct

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")

CALLS = [0]


def f(x):
    return np.sum(np.sin(x) * x * x)


def counted(x):
    """f, counting its calls: the refusals must come before it runs (sct would refuse its write, too)."""
    CALLS[0] += 1
    return f(x)


def v(x):
    return np.sin(x) * x


def hvp_by_reverse(x, u):
    return np.sum(sct.grad(f)(x) * u)


X = np.array([0.5, 1.0, 2.0])
U = np.array([1.0, -2.0, 0.5])


@pytest.mark.parametrize(
    "what, call",
    [
        ("hessian", lambda x: sct.hessian(counted)(x)),
        ("hvp", lambda x: sct.hvp(counted, (x,), (x,))),
        ("jacobian", lambda x: sct.jacobian(v)(x)),
        ("jacobian", lambda x: sct.jacobian(v, mode="fwd")(x)),
    ],
)
def test_refused_on_tensors_with_the_transform_named(what, call):
    x = torch.tensor(X, dtype=torch.float64)
    CALLS[0] = 0
    with pytest.raises(sct.BackendError) as err:
        call(x)
    assert f"sct.{what} of" in str(err.value) and "torch.Tensor" in str(err.value)
    assert CALLS[0] == 0  # refused before f ran on the tensors
    assert isinstance(err.value, sct.SctError)


def test_in_a_container_too():
    with pytest.raises(sct.BackendError, match="torch.Tensor"):
        sct.hessian(lambda p: np.sum(p[0] ** 3))([torch.tensor(X)])


def test_the_suggested_hessian_vector_product_runs_on_tensors():
    expected = sct.grad(hvp_by_reverse)(X, U)
    assert np.allclose(expected, sct.hvp(f, (X,), (U,)), rtol=1e-12, atol=1e-12)
    got = sct.grad(hvp_by_reverse)(torch.tensor(X), torch.tensor(U))
    assert isinstance(got, torch.Tensor)
    assert np.allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_numpy_arguments_are_unchanged():
    h = sct.hessian(f)(X)
    assert h.shape == (3, 3) and np.allclose(h, h.T)
    assert np.allclose(sct.jacobian(v)(X), np.diag(np.cos(X) * X + np.sin(X)))


def test_dask_jacobian_still_runs_and_hessian_is_refused():
    da = pytest.importorskip("dask.array")
    import dask

    with dask.config.set(scheduler="synchronous"):
        x = da.from_array(X, chunks=2)
        assert np.allclose(sct.jacobian(v)(x), sct.jacobian(v)(X))
        with pytest.raises(sct.BackendError, match="dask"):
            sct.hessian(f)(x)
