"""pytest-benchmark view of the suite: hand-written backprop vs sct, per workload.

    pytest benchmarks/bench_test.py

``benchmarks/run.py`` is the full report (forward pass, peers, compile time,
memory); this file only lets pytest-benchmark track the two core numbers.
"""

import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import WORKLOADS


def _gradient(method, workload):
    if method == "hand":
        return workload.hand_grad
    sct = pytest.importorskip("sct")
    if not hasattr(sct, "grad"):
        pytest.skip("sct.grad does not exist yet")
    gradient = sct.grad(workload.f, wrt=workload.wrt)
    try:
        gradient(*workload.make_args())
    except sct.SctError as exc:  # correctness is test_workloads.py's job
        pytest.skip(f"sct cannot differentiate {workload.name} yet: {type(exc).__name__}")
    return gradient


@pytest.mark.parametrize("method", ["hand", "sct"])
@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_gradient(benchmark, workload, method):
    gradient = _gradient(method, workload)
    args = workload.make_args()
    benchmark.group = workload.name
    benchmark(gradient, *args)
