"""Benchmark sct's gradients against the forward pass, hand-written backprop and peers.

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--peers NAME,...] [--markdown]

For every workload in ``workloads.py`` this measures, side by side in one process:
the forward pass alone, the hand-written NumPy backward (``hand``), sct's
gradient, and, where importable, autograd, JAX (eager and ``jax.jit``) and
PyTorch eager.  Times are the best of several repeats of an auto-sized loop
(like ``timeit``).  It also records the first call of each gradient (for sct and
``jax.jit`` that includes compilation) and the tracemalloc peak of one gradient
call for the NumPy-based methods.  Every gradient is checked against ``hand``.
Progress goes to stderr, the report to stdout.
"""

import argparse
import gc
import os
import platform
import subprocess
import sys
import time
import timeit
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the sct checkout this script lives in

import peers
from peers import Runner
from workloads import BY_NAME, WORKLOADS

RTOL = 1e-6
ATOL = 1e-9


@dataclass(frozen=True)
class Settings:
    min_time: float  # seconds one timed loop must take at least
    repeats: int


FULL = Settings(min_time=0.2, repeats=7)
QUICK = Settings(min_time=0.02, repeats=3)


# methods ----------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    name: str
    build: Callable[..., Runner]
    uses_numpy: bool  # tracemalloc sees its memory


def _numpy_tuple(grads):
    return tuple(np.asarray(g) for g in grads)


def build_forward(workload, args):
    return Runner(lambda: workload.f(*args), to_numpy=None)


def build_hand(workload, args):
    return Runner(lambda: workload.hand_grad(*args), _numpy_tuple)


def import_sct():
    """The sct module, or the one-line reason it cannot be used."""
    try:
        import sct
    except Exception as exc:  # noqa: BLE001 - sct is under development
        return None, describe(exc)
    if not hasattr(sct, "grad"):
        return None, "sct has no grad() yet"
    return sct, None


def build_sct(workload, args):
    import sct

    grad = sct.grad(workload.f, wrt=workload.wrt)
    return Runner(lambda: grad(*args), _numpy_tuple)


def _sct_warm_up_target(x):
    return x * x + 1.0


def warm_up_sct(sct):
    """Compile a throwaway function so one-time start-up costs do not count as compile time."""
    try:
        sct.grad(_sct_warm_up_target)(1.0)
    except Exception as exc:  # noqa: BLE001 - report and go on
        print(f"sct warm-up failed: {describe(exc)}", file=sys.stderr)


def select_methods(peer_names):
    methods = [
        Method("forward", build_forward, uses_numpy=True),
        Method("hand", build_hand, uses_numpy=True),
        Method("sct", build_sct, uses_numpy=True),
    ]
    for peer in peers.PEERS:
        if peer.name in peer_names:
            methods.append(
                Method(peer.name, peer.build, uses_numpy=peer.name == "autograd")
            )
    return methods


# measuring --------------------------------------------------------------------


@dataclass
class Measurement:
    time: float | None = None  # seconds per call, best of the repeats
    first_call: float | None = None  # seconds, build + first call
    peak: int | None = None  # bytes, tracemalloc peak of one call
    error: str | None = None  # "ErrorType: first line"
    mismatch: float | None = None  # largest |got - hand| when not allclose


def describe(exc):
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def loops_for(timer, min_time):
    """Like ``timeit.Timer.autorange`` with a configurable minimum time."""
    scale = 1
    while True:
        for factor in (1, 2, 5):
            number = scale * factor
            if timer.timeit(number) >= min_time:
                return number
        scale *= 10


def best_time(call, settings):
    timer = timeit.Timer(call)
    number = loops_for(timer, settings.min_time)
    return min(timer.repeat(settings.repeats, number)) / number


def peak_memory(call):
    gc.collect()
    tracemalloc.start()
    try:
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak


def mismatch(got, expected):
    """None if the gradients agree with the reference, else the largest absolute difference."""
    if len(got) != len(expected) or any(
        np.shape(g) != np.shape(e) for g, e in zip(got, expected)
    ):
        return float("inf")
    if all(np.allclose(g, e, rtol=RTOL, atol=ATOL) for g, e in zip(got, expected)):
        return None
    return max(float(np.max(np.abs(g - e))) for g, e in zip(got, expected))


def measure(method, workload, args, reference, settings):
    result = Measurement()
    try:
        start = time.perf_counter()
        runner = method.build(workload, args)
        out = runner.call()
        result.first_call = time.perf_counter() - start
        if runner.to_numpy is not None:
            result.mismatch = mismatch(runner.to_numpy(out), reference)
        result.time = best_time(runner.call, settings)
        if method.uses_numpy:
            result.peak = peak_memory(runner.call)
    except Exception as exc:  # noqa: BLE001 - one failure must not end the run
        result.error = describe(exc)
    return result


def sct_cache_hit(workload, args, steady, settings):
    """Extra seconds per call of ``sct.grad(f, wrt=...)(*args)`` once ``f`` is compiled."""
    import sct

    def regrad():
        return sct.grad(workload.f, wrt=workload.wrt)(*args)

    return best_time(regrad, settings) - steady


def progress(workload, method, m):
    if m.error:
        text = m.error
    else:
        text = f"{format_time(m.time):>10}  first call {format_time(m.first_call)}"
        if m.mismatch is not None:
            text += f"  MISMATCH (max abs diff {m.mismatch:.3g})"
    print(f"  {workload:6} {method:8} {text}", file=sys.stderr, flush=True)


def run_workload(workload, methods, settings):
    args = workload.make_args()
    reference = _numpy_tuple(workload.hand_grad(*args))
    results = {}
    for method in methods:
        results[method.name] = measure(method, workload, args, reference, settings)
        progress(workload.name, method.name, results[method.name])
    return results


def settle_allocator():
    """Put the C allocator in its steady state before timing anything.

    glibc serves blocks over a dynamic threshold (initially 128 KiB) with
    ``mmap`` and trims the heap eagerly, so until some large block has been
    freed, every call that allocates a few hundred KiB of temporaries pays page
    faults, and timings depend on what the process happened to do before (in
    our runs this changed the hand-written MLP backward by 2x).  Freeing one
    16 MiB block raises the threshold for the rest of the run, as any long
    training loop would; every method then runs under the same conditions.
    """
    block = np.ones(2**21)
    del block


# machine info -----------------------------------------------------------------


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas():
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info['name']} {info.get('version', '')}".strip()
    except (KeyError, TypeError, ValueError):
        return "unknown"


def git_commit():
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "none"
    return out.stdout.strip()


def machine_info(sct, sct_problem, peer_list):
    info = {
        "platform": platform.platform(),
        "cpu": f"{cpu_model()}, {os.cpu_count()} logical CPUs",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": f"{np.__version__} ({blas()})",
        "sct": sct_problem
        or f"{getattr(sct, '__version__', 'unversioned')} (commit {git_commit()})",
    }
    for peer in {p.module: p for p in peer_list}.values():
        info[peer.module] = peer.version() if peer.available() else "not installed"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


# report -----------------------------------------------------------------------


def format_time(seconds):
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_bytes(n):
    if n is None:
        return "-"
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def ratio(a, b):
    if a is None or b is None:
        return "-"
    r = a / b
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"


def time_cell(m):
    if m is None:
        return "-"
    if m.error:
        return "error"
    flag = " (wrong)" if m.mismatch is not None else ""
    return format_time(m.time) + flag


def table(headers, rows, markdown):
    rows = [[str(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(c) for c in col) for col in zip(headers, *rows)]
    fmt = "  ".join(
        f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths)
    )
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    return "\n".join(lines + [fmt.format(*row) for row in rows])


def seconds(results, name):
    m = results.get(name)
    return None if m is None or m.error or m.mismatch is not None else m.time


def report(all_results, method_names, info, cache_hit, markdown):
    peer_names = [n for n in method_names if n not in ("forward", "hand", "sct")]
    heading = "### {}" if markdown else "== {} =="
    out = [heading.format("Machine")]
    bullet = "- " if markdown else "  "
    out += [f"{bullet}{key}: {value}" for key, value in info.items()]

    out += ["", heading.format("Time per call (best of repeats)")]
    rows = [
        [w] + [time_cell(r.get(n)) for n in method_names]
        for w, r in all_results.items()
    ]
    out.append(table(["workload"] + method_names, rows, markdown))

    out += [
        "",
        heading.format(
            "Ratios to the forward pass and to hand-written backprop (lower is better)"
        ),
    ]
    headers = ["workload", "sct/forward", "sct/hand"] + [
        f"{p}/hand" for p in peer_names
    ]
    rows = []
    for w, r in all_results.items():
        hand = seconds(r, "hand")
        row = [
            w,
            ratio(seconds(r, "sct"), seconds(r, "forward")),
            ratio(seconds(r, "sct"), hand),
        ]
        rows.append(row + [ratio(seconds(r, p), hand) for p in peer_names])
    out.append(table(headers, rows, markdown))

    if peer_names:
        out += [
            "",
            heading.format(
                "sct speed-up over each peer (peer time / sct time, higher is better)"
            ),
        ]
        rows = [
            [w] + [ratio(seconds(r, p), seconds(r, "sct")) for p in peer_names]
            for w, r in all_results.items()
        ]
        out.append(table(["workload"] + peer_names, rows, markdown))

    out += [
        "",
        heading.format(
            "First call (includes compilation) and peak memory of one gradient call"
        ),
    ]
    out.append(compile_memory_table(all_results, method_names, markdown))
    if cache_hit is not None:
        out += [
            "",
            f"sct cache hit (seed): sct.grad(f, wrt=...)(*args) costs {format_time(cache_hit)} more than calling the gradient object",
        ]

    problems = [
        (w, n, m)
        for w, r in all_results.items()
        for n, m in r.items()
        if m.error or m.mismatch is not None
    ]
    if problems:
        out += ["", heading.format("Failures")]
        for w, n, m in problems:
            text = (
                m.error
                or f"gradient differs from hand-written (max abs diff {m.mismatch:.3g})"
            )
            out.append(f"{bullet}{w} / {n}: {text}")
    return "\n".join(out)


def compile_memory_table(all_results, method_names, markdown):
    memory_methods = [n for n in ("hand", "sct", "autograd") if n in method_names]
    headers = ["workload", "sct first call", "sct compile"]
    if "jax-jit" in method_names:
        headers += ["jax-jit first call"]
    headers += [f"peak {n}" for n in memory_methods] + ["sct/hand peak"]
    rows = []
    for w, r in all_results.items():
        sct = r.get("sct")
        ok = sct is not None and not sct.error
        row = [w, format_time(sct.first_call if ok else None)]
        row.append(format_time(sct.first_call - sct.time if ok else None))
        if "jax-jit" in method_names:
            jit = r["jax-jit"]
            row.append(format_time(None if jit.error else jit.first_call))
        peaks = {n: r[n].peak for n in memory_methods}
        row += [format_bytes(peaks[n]) for n in memory_methods]
        row.append(ratio(peaks.get("sct"), peaks.get("hand")))
        rows.append(row)
    return table(headers, rows, markdown)


# main -------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short loops and few repeats"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="workload name(s), comma-separated"
    )
    parser.add_argument(
        "--peers",
        default=",".join(p.name for p in peers.PEERS),
        help="peers to include, comma-separated (default: all installed); '' for none",
    )
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args(argv)
    args.only = [n for item in args.only for n in item.split(",") if n]
    unknown = [n for n in args.only if n not in BY_NAME]
    if unknown:
        parser.error(
            f"unknown workload {', '.join(unknown)}; choose from {', '.join(BY_NAME)}"
        )
    args.peers = [n for n in args.peers.split(",") if n]
    unknown = [n for n in args.peers if n not in {p.name for p in peers.PEERS}]
    if unknown:
        parser.error(
            f"unknown peer {', '.join(unknown)}; choose from {', '.join(p.name for p in peers.PEERS)}"
        )
    return args


def main(argv=None):
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    selected = [w for w in WORKLOADS if not args.only or w.name in args.only]
    peer_list = [p for p in peers.PEERS if p.name in args.peers]
    installed = [p.name for p in peer_list if p.available()]
    sct, sct_problem = import_sct()
    info = machine_info(sct, sct_problem, peer_list)
    info["settings"] = (
        f"{'quick' if args.quick else 'full'}: best of {settings.repeats}, loops of >= {settings.min_time} s"
    )
    settle_allocator()
    if sct is not None:
        warm_up_sct(sct)

    methods = select_methods(installed)
    all_results = {}
    for workload in selected:
        print(f"{workload.name}: {workload.description}", file=sys.stderr, flush=True)
        all_results[workload.name] = run_workload(workload, methods, settings)

    cache_hit = None
    seed = all_results.get("seed", {}).get("sct")
    if seed is not None and not seed.error:
        cache_hit = sct_cache_hit(
            BY_NAME["seed"], BY_NAME["seed"].make_args(), seed.time, settings
        )
    print(
        report(all_results, [m.name for m in methods], info, cache_hit, args.markdown)
    )


if __name__ == "__main__":
    main()
