"""Checkpointed loops side by side: time and peak memory of one gradient call, per ``checkpoint=`` option.

    python benchmarks/checkpoint.py [--quick] [--trips N ...] [--numba] [--arrays]

The loop is ``long_loop`` of ``native.py`` (a scalar loop of ``n`` trips with a branch),
differentiated in pure Python by ``x`` and ``a``, for ``n`` = 10^4, 10^5 and 10^6
(``--quick``: up to 10^5). Each option gets the best of a few calls (one at 10^6 trips)
and, in a call of its own, the tracemalloc peak; every gradient is checked to equal the
plain one bit for bit. The options: plain (every trip's records), ``checkpoint=True``
(``k = sqrt(n)``), ``checkpoint=1000``, ``"log"`` and ``("revolve", s)`` for a few ``s``.
``--arrays``: ``array_loop`` instead, whose trip is arithmetic on 1,000 numbers (1,000 and
5,000 trips), where the trips run again cost more than the bookkeeping of the schedules.
``--numba``: the same with ``backend="numba"``, times only (tracemalloc does not see
numba's allocations). Progress goes to stderr, the markdown table to stdout.
"""

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the sct checkout this script lives in
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import temporary_cache  # noqa: E402
from native import long_loop  # noqa: E402

import sct  # noqa: E402


def array_loop(x, a, n):
    """A loop whose trip costs more: arithmetic on an array of 1,000 numbers."""
    for i in range(n):
        x = np.sin(x) * a + 0.001 * i
    return np.sum(x * x)


WORKLOADS = {"scalar": (long_loop, lambda: 0.5), "array": (array_loop, lambda: np.linspace(-1.0, 1.0, 1000))}

OPTIONS = [
    ("plain", None),
    ("checkpoint=True", True),
    ("checkpoint=1000", 1000),
    ("'log'", "log"),
    ("('revolve', 10)", ("revolve", 10)),
    ("('revolve', 20)", ("revolve", 20)),
    ("('revolve', 40)", ("revolve", 40)),
]


def states(option, n: int) -> str:
    """How many loop states the option keeps at most for ``n`` trips."""
    if option is None:
        return "-"
    if option is True:
        k = max(1, int(n**0.5))
        return f"{-(-n // k):,}"
    if option == "log":
        return f"{max(1, (n // 8).bit_length()):,}"
    if isinstance(option, tuple):
        return str(option[1])
    return f"{-(-n // option):,}"


def measure(option, n: int, repeat: int, backend=None, workload="scalar") -> tuple[float, int, object]:
    fn, start_at = WORKLOADS[workload]
    x = start_at()
    g = sct.grad(fn, wrt=(0, 1), checkpoint=option, backend=backend)
    g(x, 0.8, 10)  # compiled for these kinds of arguments
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = g(x, 0.8, n)
        best = min(best, time.perf_counter() - start)
    if backend is not None:  # tracemalloc does not see numba's allocations
        return best, 0, result
    tracemalloc.start()
    try:
        g(x, 0.8, n)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return best, peak, result


def run(trips, backend=None, workload="scalar") -> list:
    rows = []
    for n in trips:
        repeat = 1 if n >= 10**6 and backend is None else 3
        plain = None
        for name, option in OPTIONS:
            seconds, peak, result = measure(option, n, repeat, backend, workload)
            if option is None:
                plain = result
            elif not all(np.array_equal(r, p) for r, p in zip(result, plain)):
                raise AssertionError(f"{name} at {n} trips: {result} != {plain}")
            print(f"n={n} {name}: {seconds:.3f} s, {peak:,} bytes", file=sys.stderr)
            rows.append((n, name, states(option, n), seconds, peak))
    return rows


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    return f"{seconds * 1e3:,.1f} ms" if seconds < 1.0 else f"{seconds:,.2f} s"


def report(rows) -> str:
    out = ["| trips | checkpoint | states kept | time | vs plain | peak memory | vs plain |"]
    out.append("|---|---|---|---|---|---|---|")
    plain = {}
    for n, name, kept, seconds, peak in rows:
        if name == "plain":
            plain[n] = (seconds, peak)
        t0, m0 = plain[n]
        memory = f"{peak:,} | {m0 / peak:,.0f}x less" if peak else "- | -"
        out.append(f"| {n:,} | {name} | {kept} | {_time(seconds)} | {seconds / t0:.1f}x | {memory} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="loops of 10^4 and 10^5 trips only")
    parser.add_argument("--trips", type=int, nargs="+", help="these trip counts instead")
    parser.add_argument("--numba", action="store_true", help='backend="numba" (times only)')
    parser.add_argument("--arrays", action="store_true", help="array_loop: 1,000 numbers a trip")
    args = parser.parse_args(argv)
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    trips = args.trips or ((10**4, 10**5) if args.quick else (10**4, 10**5, 10**6))
    if args.arrays:
        trips = args.trips or (1000, 5000)
    print(report(run(trips, "numba" if args.numba else None, "array" if args.arrays else "scalar")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
