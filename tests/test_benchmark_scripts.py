"""Every benchmark script runs, in its smallest setting, against this checkout.

The benchmarks are not timed tests (speed is compared in benchmarks/, never asserted
here); but a script that no longer runs is found only when someone wants its numbers.
Two of them reached into modules that the move into stage folders took away
(``sct.api._CACHE``, ``sct.cache``) and nobody noticed for a session. This runs each
one in a fresh process with its smallest options and checks that it printed its table.
(benchmarks/run.py has its own tests in tests/test_bench_report.py.)
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

CASES = {
    "readability": (["--only", "seed,mlp"], "| mlp |", ()),
    "cache_first_call": (["--only", "seed", "--repeats", "1"], "| seed |", ()),
    "compile_scaling": (["--sizes", "10,20", "--depths", "2,3"], "exponent", ()),
    "memory": (["--sizes", "128", "--methods", "hand,sct", "--no-rnn", "--repeat", "0"], "128", ()),
    "dask_throughput": (
        ["--rows", "4000", "--chunk-rows", "1000", "--workers", "1", "--repeats", "1"],
        "| Dask, 1 core (synchronous) |",
        ("dask", "distributed"),
    ),
}


def _run(name, args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"benchmarks/{name}.py {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_benchmark_script_runs(name):
    args, expected, needs = CASES[name]
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    out = _run(name, args)
    assert expected in out, out[-2000:]


def test_every_benchmark_script_is_run_here_or_in_its_own_tests():
    """A new script in benchmarks/ is added to CASES (or to the short list below, saying why) when it is written."""
    # run.py: tests/test_bench_report.py; gpu.py: tests/test_gpu_script.py; checkpoint.py: tests/test_revolve.py;
    # native.py: its smallest run (--quick) compiles with numba and jax and loops 10^5 trips, ~10 s, too long here.
    own_tests = {"run", "gpu", "checkpoint", "native"}
    helpers = {"workloads", "peers", "threads", "temporary_cache", "conftest", "bench_test", "test_workloads"}
    scripts = {p.stem for p in BENCHMARKS.glob("*.py")}
    assert scripts - helpers - own_tests == set(CASES)


def test_readability_counts_the_variant_that_ran():
    """The table's seed row counts the float-specialised adjoint (no np.exp of a Python float's array path)."""
    out = _run("readability", ["--show", "seed"])
    assert out.splitlines()[1].strip() == "# variant for x: float, y: float"


def test_readability_goal_on_every_workload():
    """Issue 17's goal, kept: on every workload the backward part of the adjoint that runs, bookkeeping
    aside, is at most 1.5 times the hand-written one's (benchmarks/readability.py counts both)."""
    from benchmarks import readability

    for workload in readability.WORKLOADS:
        row = readability.measure(workload)
        (ours, hand), (ours_kept, hand_kept) = row["backward"], row["kept"]
        assert (ours - ours_kept) <= readability.GOAL * (hand - hand_kept), row
