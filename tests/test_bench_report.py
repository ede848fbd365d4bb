"""Issue 19 item 4: benchmarks/run.py reports honestly: single-threaded by default, set before NumPy is
imported, a separate report per ``--threads`` count, and the BLAS in use in the header."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def _report(*extra):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", "seed", "--peers", "", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_single_threaded_by_default_and_says_so():
    out = _report()
    assert "== Machine (single-threaded run) ==" in out
    assert "threads: 1 (single-threaded; set before NumPy was imported: OMP_NUM_THREADS=1" in out
    assert "OPENBLAS_NUM_THREADS=1" in out
    assert "== Time per call (best of repeats), single-threaded ==" in out
    numpy_line = next(line for line in out.splitlines() if line.strip().startswith("numpy:"))
    assert "unknown" not in numpy_line  # the BLAS NumPy was built with, at least


def test_each_thread_count_is_its_own_report():
    out = _report("--threads", "1,2")
    assert out.count("== Machine (") == 2
    first, second = out.split("== Machine (2 threads run) ==")
    assert "single-threaded run" in first and "OPENBLAS_NUM_THREADS=2" in second
    assert "== Time per call (best of repeats), 2 threads ==" in second


@pytest.mark.parametrize("bad", ["0", "x", "1,-2"])
def test_bad_thread_counts_are_refused(bad):
    done = subprocess.run([sys.executable, str(RUN), "--threads", bad], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--threads takes positive thread counts" in done.stderr
