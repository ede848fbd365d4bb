"""``backend="numba"`` and ``checkpoint=`` side by side with pure-Python sct and jitted JAX.

    python benchmarks/native.py [--quick] [--markdown]

Times (best of several repeats, like ``timeit``; compilation excluded, and
reported on its own as the first call) of the gradient of:

- the scalar ``loop`` and ``chain`` workloads of ``workloads.py``;
- a scalar loop of 10^4, 10^5 and 10^6 trips (``long_loop``), for sct in Python,
  sct with numba, and ``jax.jit`` of ``jax.grad`` of the same loop written with
  ``lax.fori_loop`` (the form ``jax.jit`` accepts);

and the tracemalloc peak of one gradient call of ``long_loop`` with and without
checkpoints (Python backend: numba's own allocations are not traced).
Progress goes to stderr, the report to stdout.
"""

import argparse
import functools
import math
import sys
import time
import timeit
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the sct checkout this script lives in
sys.path.insert(0, str(HERE))

import temporary_cache  # noqa: E402
import workloads  # noqa: E402

import sct  # noqa: E402


def long_loop(x, a, n):
    for i in range(n):
        if x > 0.0:  # noqa: SIM108 - a branch on purpose, as in workloads.loop
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
    return x * x


def _jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_long_loop(jax):
    import jax.numpy as jnp
    from jax import lax

    def f(x, a, n):
        def step(i, x):
            return lax.cond(x > 0.0, lambda x: x * a - 0.3 + 0.1 * jnp.sin(x), lambda x: x * 1.01 + 0.2, x)

        x = lax.fori_loop(0, n, step, x)
        return x * x

    return jax.jit(jax.grad(f, argnums=(0, 1)), static_argnums=2)


def jax_workload(jax, name):
    import jax.numpy as jnp

    sys.path.insert(0, str(HERE))
    import peers

    w = workloads.BY_NAME[name]
    fn = peers.JAX_JIT_PORTS.get(name) or peers.port(w.f, np=jnp, math=jnp)
    return jax.jit(jax.grad(fn, argnums=w.wrt))


def best(call, min_time=0.2, repeat=5) -> float:
    """Seconds per call, best of ``repeat`` (each an auto-sized loop of at least ``min_time``)."""
    timer = timeit.Timer(call)
    number = 1
    while timer.timeit(number) < min_time and number < 10**7:
        number *= 4
    return min(timer.timeit(number) / number for _ in range(repeat))


def first_call(make) -> float:
    start = time.perf_counter()
    make()
    return time.perf_counter() - start


def row(name, results: dict) -> list:
    return [name] + [results.get(k) for k in ("python", "numba", "jax-jit")]


def _sct(fn, wrt, backend):
    return sct.grad(fn, wrt=wrt, backend=backend)


def _measure(call, warm, min_time: float, repeat: int) -> tuple[float, float]:
    """(the first call ``warm()``, with any compilation; then the best time of ``call``)."""
    return first_call(warm), best(call, min_time, repeat)


def time_gradients(quick: bool) -> tuple[list, list]:
    jax = _jax()
    rows, compiles = [], []
    for name in ("loop", "chain"):
        w = workloads.BY_NAME[name]
        args = w.make_args()
        results, compile_ = {}, {}
        for label, backend in (("python", None), ("numba", "numba")):
            g = _sct(w.f, w.wrt, backend)
            call = functools.partial(g, *args)
            compile_[label], results[label] = _measure(call, call, 0.05 if quick else 0.2, 5)
        if jax is not None:
            g = jax_workload(jax, name)
            call = functools.partial(_jax_call, jax, g, tuple(jax.numpy.asarray(a) for a in args))
            compile_["jax-jit"], results["jax-jit"] = _measure(call, call, 0.05 if quick else 0.2, 5)
        print(f"{name}: {results}", file=sys.stderr)
        rows.append(row(name, results))
        compiles.append(row(name, compile_))
    for n in (10**4, 10**5) if quick else (10**4, 10**5, 10**6):
        results, compile_ = {}, {}
        for label, backend in (("python", None), ("numba", "numba")):
            g = _sct(long_loop, (0, 1), backend)
            warm = functools.partial(g, 0.5, 0.8, 10)  # compiled on a short loop, once per function
            compile_[label], results[label] = _measure(functools.partial(g, 0.5, 0.8, n), warm, 0.0, 3)
        if jax is not None:
            g = jax_long_loop(jax)
            call = functools.partial(_jax_call, jax, g, (jax.numpy.asarray(0.5), jax.numpy.asarray(0.8), n))
            compile_["jax-jit"], results["jax-jit"] = _measure(call, call, 0.0, 3)  # n is static: once per n
        print(f"long_loop n={n}: {results}", file=sys.stderr)
        rows.append(row(f"long_loop, {n:,} trips", results))
        if n == 10**4:
            compiles.append(row("long_loop", compile_))
    return rows, compiles


def _jax_call(jax, g, args):
    return jax.block_until_ready(g(*args))


def peak(g, *args) -> int:
    g(*args), g(*args)  # compiled, dispatcher made
    tracemalloc.start()
    try:
        g(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def memory(quick: bool) -> list:
    rows = []
    for n in (10**4, 10**5) if quick else (10**4, 10**5, 10**6):
        plain = peak(sct.grad(long_loop, wrt=(0, 1)), 0.5, 0.8, n)
        sqrt = peak(sct.grad(long_loop, wrt=(0, 1), checkpoint=True), 0.5, 0.8, n)
        every = peak(sct.grad(long_loop, wrt=(0, 1), checkpoint=1000), 0.5, 0.8, n)
        log = peak(sct.grad(long_loop, wrt=(0, 1), checkpoint="log"), 0.5, 0.8, n)
        print(f"memory n={n}: {plain} {sqrt} {every} {log}", file=sys.stderr)
        rows.append([f"{n:,}", plain, sqrt, every, log])
    return rows


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v < 1.0:
        return f"{v * 1e6:,.1f} µs" if v < 1e-3 else f"{v * 1e3:,.2f} ms"
    if isinstance(v, float):
        return f"{v:,.2f} s"
    return str(v)


def report(rows, compiles, mem) -> str:
    out = ["| gradient of | sct (Python) | sct (numba) | jax.jit | numba vs Python | numba vs jax.jit |"]
    out.append("|---|---|---|---|---|---|")
    for name, py, nb, jx in rows:
        speed = f"{py / nb:.1f}x" if py and nb else "-"
        vs = f"{jx / nb:.1f}x" if jx and nb else "-"
        out.append(f"| {name} | {_fmt(py)} | {_fmt(nb)} | {_fmt(jx)} | {speed} | {vs} |")
    out += ["", "First call (compilation included):", "", "| gradient of | sct (Python) | sct (numba) | jax.jit |"]
    out.append("|---|---|---|---|")
    for name, py, nb, jx in compiles:
        out.append(f"| {name} | {_fmt(py)} | {_fmt(nb)} | {_fmt(jx)} |")
    out += ["", "Peak memory of one gradient call of long_loop (tracemalloc, bytes):", ""]
    out += ["| trips | plain | checkpoint=True (k = sqrt(n)) | checkpoint=1000 | checkpoint='log' |"]
    out.append("|---|---|---|---|---|")
    for n, plain, sqrt, every, log in mem:
        sqrt_, log_ = f"{sqrt:,} ({plain / sqrt:.0f}x less)", f"{log:,} ({plain / log:.0f}x less)"
        out.append(f"| {n} | {plain:,} | {sqrt_} | {every:,} | {log_} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, loops up to 10^5 trips")
    args = parser.parse_args(argv)
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    rows, compiles = time_gradients(args.quick)
    mem = memory(args.quick)
    print(report(rows, compiles, mem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
