"""Throughput of sct's logistic-regression gradient: NumPy on one core against Dask on one core and on a cluster.

    python benchmarks/dask_throughput.py [--rows N] [--features D] [--workers W] [--repeats R]

Rows per second of one full gradient (value and gradient, ``sct.value_and_grad``) over the same
data: NumPy in this process with BLAS limited to one thread; Dask with the synchronous scheduler
(one core); Dask on a ``dask.distributed`` LocalCluster of W single-threaded worker processes.
For the Dask runs the data is generated in the graph (``da.random``), chunk by chunk, as it would
be for data larger than memory; generating it is part of each timed run (the NumPy run is given
its data in memory), so the Dask rows/s are a lower bound on what reading data would cost.
Prints a Markdown table to stdout.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core for NumPy's BLAS, before NumPy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import temporary_cache  # noqa: E402

import sct  # noqa: E402


def loss(w, X, y):
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def best_of(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    try:
        import dask
        import dask.array as da
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("dask[distributed] is not installed: pip install 'dask[distributed]' array-api-compat")
        return
    rows, d = args.rows, args.features
    X = da.random.default_rng(0).standard_normal((rows, d), chunks=(args.chunk_rows, d))
    y = (da.random.default_rng(1).random(rows, chunks=args.chunk_rows) > 0.5).astype(float)
    w = np.linspace(-0.5, 0.5, d)
    vg = sct.value_and_grad(loss)
    Xn, yn = dask.compute(X, y, scheduler="synchronous")
    expected = vg(w, Xn, yn)
    results = [("NumPy, 1 core (data in memory)", best_of(lambda: vg(w, Xn, yn), args.repeats))]
    Xn = yn = None  # freed: the Dask runs do not need them

    def dask_run(**kwargs):
        value, g = dask.compute(*vg(w, X, y), **kwargs)
        assert np.allclose(g, expected[1], rtol=1e-9, atol=1e-14) and np.isclose(value, expected[0], rtol=1e-9)

    results.append(("Dask, 1 core (synchronous)", best_of(lambda: dask_run(scheduler="synchronous"), args.repeats)))
    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        dask_run()  # warm the workers
        label = f"Dask, LocalCluster ({args.workers} worker processes)"
        results.append((label, best_of(dask_run, args.repeats)))
    print(
        f"Gradient of a logistic loss, {rows:,} rows x {d} features ({rows * d * 8 / 1e6:.0f} MB), "
        f"{X.npartitions} chunks; best of {args.repeats}; {os.cpu_count()} CPUs on this machine\n"
    )
    print("| run | time | rows/s | vs NumPy |")
    print("|---|---|---|---|")
    base = results[0][1]
    for label, seconds in results:
        print(f"| {label} | {seconds:.3f} s | {rows / seconds:,.0f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
