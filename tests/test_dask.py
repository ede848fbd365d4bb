"""Gradients of data-parallel losses over dask.array inputs: lazy, run on a real LocalCluster.

One cluster per module (worker processes, not the synchronous scheduler). While a
gradient is built, any computation fails the test: the scheduler is swapped for one
that refuses, so a float(), np.size, or a shape-dependent branch on a lazy value
would show. Only the user's .compute() runs the graph, on the cluster's workers.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import numeric_grad

import sct

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pytest.importorskip("array_api_compat")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def refuse(*args, **kwargs):
    raise AssertionError("the gradient computed a Dask value before .compute()")


def logistic(w, X, y):
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def ridge(w, b, X, y, lam):
    r = X @ w + b - y
    return np.sum(r**2) / y.shape[0] + lam * np.sum(w * w)


def data(rng, n=200, d=4):
    X = rng.standard_normal((n, d))
    y = (rng.random(n) > 0.5).astype(float)
    return X, y, 0.1 * rng.standard_normal(d)


def test_logistic_gradient_is_lazy_and_runs_on_the_cluster(client, rng):
    X, y, w = data(rng)
    dX, dy = da.from_array(X, chunks=(50, 4)), da.from_array(y, chunks=50)
    grad = sct.grad(logistic)
    with dask.config.set(scheduler=refuse):
        lazy = grad(w, dX, dy)
        again = grad(w, dX, dy)  # the variant cached: still nothing computed
    assert isinstance(lazy, da.Array) and isinstance(again, da.Array)
    with distributed.get_task_stream(client) as tasks:
        got = lazy.compute()
    workers = {t["worker"] for t in tasks.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])  # run by the cluster's workers
    np.testing.assert_allclose(got, grad(w, X, y), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got, numeric_grad(logistic, (w, X, y), 0), rtol=1e-6, atol=1e-9)


def test_value_and_several_gradients_are_lazy(client, rng):
    X, y, w = data(rng)
    dX, dy = da.from_array(X, chunks=(40, 4)), da.from_array(y, chunks=40)
    dw = da.from_array(w, chunks=4)
    vg = sct.value_and_grad(ridge, wrt=(0, 1))
    with dask.config.set(scheduler=refuse):
        value, (gw, gb) = vg(dw, 0.3, dX, dy, 0.01)
    assert isinstance(value, da.Array) and isinstance(gw, da.Array) and isinstance(gb, da.Array)
    value, gw, gb = dask.compute(value, gw, gb)
    e_value, (e_w, e_b) = vg(w, 0.3, X, y, 0.01)
    assert float(value) == pytest.approx(e_value, rel=1e-12)
    np.testing.assert_allclose(gw, e_w, rtol=1e-12)
    assert float(gb) == pytest.approx(e_b, rel=1e-12)
    assert float(gb) == pytest.approx(numeric_grad(ridge, (w, 0.3, X, y, 0.01), 1), rel=1e-6)


def test_generated_chunks_larger_than_one_block(client):
    X = da.random.default_rng(0).standard_normal((4000, 8), chunks=(1000, 8))
    y = (da.random.default_rng(1).random(4000, chunks=1000) > 0.5).astype(float)
    w = np.linspace(-0.5, 0.5, 8)
    with dask.config.set(scheduler=refuse):
        lazy = sct.grad(logistic)(w, X, y)
    got = lazy.compute()
    Xn, yn = dask.compute(X, y)
    np.testing.assert_allclose(got, sct.grad(logistic)(w, Xn, yn), rtol=1e-10)


def test_unknown_chunk_sizes_are_refused_not_guessed(client, rng):
    X, y, w = data(rng)
    dX = da.from_array(X, chunks=(50, 4))
    kept = dX[dX[:, 0] > -10.0]  # every row, but Dask cannot know how many
    dy = da.from_array(y, chunks=50)[dX[:, 0] > -10.0]
    with pytest.raises(sct.BackendError, match="compute_chunk_sizes"):
        sct.grad(logistic)(w, kept, dy)


def test_example_runs_small(client):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dask_logistic.py"), "--small"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches NumPy" in done.stdout


def test_random_programs_are_lazy_and_give_numpys_numbers():
    """Random programs (tests/programs.py) over Dask arrays: nothing computed while the gradient is built,
    then NumPy's value and gradients (the synchronous scheduler: the cluster tests are above)."""
    import programs as P
    from hypothesis import assume, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=30)
    @given(P.programs(control=("for",)), st.integers(0, 2**32 - 1))  # an `if` on a lazy value computes it
    def check(program, seed):
        f, args, value, _ = P.sample(program, seed)
        assume(any(not isinstance(a, float) for a in args))
        assume("math." not in program.source)  # math.sin(np.sum(x)) computes x's sum in the function as written
        wrt = tuple(range(len(args)))
        with np.errstate(all="ignore"):
            expected_value, expected = sct.value_and_grad(f, wrt=wrt)(*args)
        assume(all(np.all(np.isfinite(g)) for g in expected))
        # 0-d arrays stay NumPy's: math.sin(x) of a 0-d Dask array computes it, in the function as written
        lazy = [da.from_array(a, chunks=2) if np.ndim(a) else a for a in args]
        assume(any(isinstance(a, da.Array) for a in lazy))
        try:
            with dask.config.set(scheduler=refuse):
                got_value, got = sct.value_and_grad(f, wrt=wrt)(*lazy)
        except sct.BackendError:
            return
        with np.errstate(all="ignore"):
            got_value, got = dask.compute(got_value, got, scheduler="synchronous")
        np.testing.assert_allclose(got_value, expected_value, rtol=1e-10, atol=1e-12)
        for g, e in zip(got, expected):
            assert np.shape(g) == np.shape(e)
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11)

    check()
