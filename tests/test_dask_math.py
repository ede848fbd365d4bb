"""``math.*`` of a 0-d Dask value in generated code stays lazy (sct.backend.runtime_xp.scalar_math).

``math.exp(s)`` with ``s = dask_x.sum()`` computed ``s`` (``float()``) where the generated
code ran it. Now the call is ``scalar_math(math.exp, s)``: a 0-d Dask array whose block is
Python's ``math.exp`` of the number, so the gradient equals the NumPy one bit for bit and
nothing is computed before ``.compute()``: the scheduler is swapped for one that refuses
while the gradient is built. Synchronous scheduler for the rest, one LocalCluster test.
"""

import math

import numpy as np
import pytest

import sct

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("array_api_compat")


def refuse(*args, **kwargs):
    raise AssertionError("the gradient computed a Dask value before .compute()")


def exp_log(x):
    s = np.sum(x * x)
    return math.exp(s * 0.01) + math.log(s)


def trig(x):
    s = x.sum()
    return math.sin(s) * math.cosh(0.1 * s) + math.sqrt(s * s + 1.0)


def two_numbers(x, y):
    s = np.sum(x * y)
    t = np.mean(x)
    return math.atan2(s, t) + math.pow(t * t + 1.0, 1.5) + math.hypot(s, 2.0)


def mixed(x):
    s = np.sum(x)
    return math.exp(s * 0.001) * np.sum(np.sin(x)) + math.tanh(math.log1p(s * s))


X = np.linspace(0.1, 1.2, 12)
Y = np.cos(np.arange(12.0))


def _lazy(a, chunks=5):
    return da.from_array(a, chunks=chunks)


def _computed(tree):
    return dask.compute(tree, scheduler="synchronous")[0]


@pytest.mark.parametrize("fn", [exp_log, trig, mixed])
def test_lazy_and_bit_for_bit(fn):
    with dask.config.set(scheduler=refuse):
        lazy = sct.grad(fn)(_lazy(X))
        value, grads = sct.value_and_grad(fn)(_lazy(X))
    assert isinstance(lazy, da.Array) and isinstance(value, da.Array) and isinstance(grads, da.Array)
    expected_value, expected = sct.value_and_grad(fn)(X)
    assert np.array_equal(_computed(lazy), expected)
    assert np.array_equal(_computed(grads), expected)
    assert float(_computed(value)) == expected_value == fn(X)


def test_two_lazy_numbers():
    with dask.config.set(scheduler=refuse):
        gx, gy = sct.grad(two_numbers, wrt=(0, 1))(_lazy(X), _lazy(Y, 4))
    ex, ey = sct.grad(two_numbers, wrt=(0, 1))(X, Y)
    got_x, got_y = _computed((gx, gy))
    assert np.array_equal(got_x, ex) and np.array_equal(got_y, ey)


def test_the_source_says_so():
    g = sct.grad(exp_log)
    g(_lazy(X))
    assert "scalar_math(math.exp, " in g.source
    g(X)
    assert "scalar_math" not in g.source  # NumPy arguments: the code as before


def test_the_error_comes_when_computed():
    """``math.log`` of a negative number raises Python's ValueError, when the value is computed."""

    def bad(x):
        return math.log(np.sum(x) - 100.0)

    with dask.config.set(scheduler=refuse):
        value, _ = sct.value_and_grad(bad)(_lazy(X))
    with pytest.raises(ValueError, match="math domain error"):
        _computed(value)


def test_torch_code_is_unchanged():
    torch = pytest.importorskip("torch")
    g = sct.grad(exp_log)
    got = g(torch.tensor(X))
    assert "scalar_math" not in g.source
    assert np.array_equal(got.numpy(), sct.grad(exp_log)(X))


def test_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with dask.config.set(scheduler=refuse):
            lazy = sct.grad(mixed)(_lazy(X))
        got = client.compute(lazy).result()
    assert np.array_equal(got, sct.grad(mixed)(X))
