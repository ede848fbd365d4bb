"""How sct's compile time (a gradient's first call) grows with the size of the function.

    python benchmarks/compile_scaling.py [--sizes 10,100,1000] [--depths 5,10,15,20] [--profile N]

Three families, each compiled from a freshly generated module so nothing is cached (the
persistent cache is a temporary directory, :mod:`temporary_cache`: a compile still pays its store):

* ``straight``: ``n`` straight-line NumPy statements on an array, ``v_i = np.sin(v_{i-1}) + v_{i//2}``;
* ``nested``: ``d`` nested ``for`` loops (one trip each) around one update of an array;
* ``seed``: the function of ``examples/seed.py`` (best of several fresh copies).

Each row is the first call of ``sct.grad(f)``: parse, lower, analyse, transform,
optimise, emit, compile and run once; in wall-clock time and in this process's CPU
time (steadier on a shared machine, where other work stretches the wall clock).
The fitted growth exponent is the slope of log(time) against log(size) between
consecutive sizes and by least squares over all sizes (1 is linear, 2 quadratic).
``--profile N`` prints a cProfile of the straight-line function with ``N`` statements instead.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import importlib.util
import math
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the sct checkout this script lives in
sys.path.insert(0, str(HERE))

import temporary_cache  # noqa: E402

import sct  # noqa: E402 - needs the path set above

_TMP = Path(tempfile.mkdtemp(prefix="sct_scaling_"))
atexit.register(shutil.rmtree, _TMP, True)  # the generated modules
_COUNT = [0]


def straight_source(n: int) -> str:
    """``n`` straight-line NumPy statements on the array ``x``."""
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x"]
    lines += [f"    v{i} = np.sin(v{i - 1}) + v{i // 2}" for i in range(1, n + 1)]
    lines.append(f"    return np.sum(v{n})")
    return "\n".join(lines) + "\n"


def nested_source(depth: int) -> str:
    """``depth`` nested ``for`` loops of one trip each around one update of ``s``."""
    lines = ["import numpy as np", "", "", "def f(x):", "    s = x"]
    for d in range(depth):
        lines.append("    " * (d + 1) + f"for i{d} in range(1):")
    lines.append("    " * (depth + 1) + "s = np.sin(s) * 0.5 + x")
    lines.append("    return np.sum(s)")
    return "\n".join(lines) + "\n"


def seed_source() -> str:
    return (HERE.parent / "examples" / "seed.py").read_text()


def load(source: str):
    """The function ``f`` of a new module holding ``source`` (a real file: sct reads the source)."""
    _COUNT[0] += 1
    path = _TMP / f"scaling_{_COUNT[0]}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def first_call(source: str, args, wrt=0) -> tuple[float, float]:
    """Seconds (wall clock, and CPU time of this process) for the first call of ``sct.grad`` of a fresh ``f``."""
    f = load(source)
    start, cpu = time.perf_counter(), time.process_time()
    sct.grad(f, wrt=wrt)(*args)
    return time.perf_counter() - start, time.process_time() - cpu


def slopes(sizes, times) -> tuple[list[float], float]:
    """Log-log slopes between consecutive points, and the least-squares slope over all."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in times]
    pairs = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    fit = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return pairs, fit


def report(title: str, label: str, sizes, measured) -> None:
    """A table of wall-clock and CPU times, and the growth exponents of both."""
    print(f"\n{title}")
    print(f"| {label} | " + " | ".join(f"{s:,}" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for k, row in enumerate(("first call (wall clock)", "first call (CPU time)")):
        print(f"| {row} | " + " | ".join(_fmt(m[k]) for m in measured) + " |")
    if len(sizes) > 1:
        for k, kind in enumerate(("wall clock", "CPU time")):
            pairs, fit = slopes(sizes, [m[k] for m in measured])
            between = ", ".join(f"{p:.2f}" for p in pairs)
            print(f"{kind}: fitted growth exponent {fit:.2f} (log-log slopes between sizes: {between})")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,2000,5000")
    parser.add_argument("--depths", default="5,10,15,20")
    parser.add_argument("--profile", type=int, default=0, help="profile the straight-line function of N statements")
    options = parser.parse_args(argv)
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    x = np.linspace(0.1, 0.9, 4)
    if options.profile:
        f = load(straight_source(options.profile))
        profile = cProfile.Profile()
        profile.runcall(sct.grad(f), x)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return
    first_call(straight_source(3), (x,))  # warm up: imports, rule tables
    sizes = [int(s) for s in options.sizes.split(",") if s]
    times = [first_call(straight_source(n), (x,)) for n in sizes]
    report("straight-line NumPy statements", "statements", sizes, times)
    depths = [int(d) for d in options.depths.split(",") if d]
    times = [first_call(nested_source(d), (x,)) for d in depths]
    report("nested for loops", "depth", depths, times)
    seeds = [first_call(seed_source(), (1.5, 2.0), wrt=(0, 1)) for _ in range(20)]
    wall, cpu = min(m[0] for m in seeds), min(m[1] for m in seeds)
    print(f"\nseed function (examples/seed.py), first call, best of 20: {_fmt(wall)} wall clock, {_fmt(cpu)} CPU time")


if __name__ == "__main__":
    main()
