"""Benchmark sct's gradients against the forward pass, hand-written backprop and peers.

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--peers NAME,...] [--markdown] [--threads N[,N...]]

For every workload in ``workloads.py`` this measures, side by side in one process:
the forward pass alone, the hand-written NumPy backward (``hand``), sct's
gradient, and, where importable, autograd, JAX (eager and ``jax.jit``) and
PyTorch eager.  Times are the best of several repeats of an auto-sized loop
(like ``timeit``).  It also records the first call of each gradient (for sct and
``jax.jit`` that includes compilation) and the tracemalloc peak of one gradient
call for the NumPy-based methods.  Every gradient is checked against ``hand``.
Progress goes to stderr, the report to stdout.

It runs single-threaded unless told otherwise: before NumPy (or any peer) is
imported, every BLAS/OpenMP thread count is set to 1 (``--threads N`` sets N),
PyTorch gets ``torch.set_num_threads(N)`` and XLA one intra-op thread for N = 1.
So ratios compare the work each method does, not how many cores it can borrow.
``--threads 1,8`` runs the whole benchmark once per count, each in a fresh
process (a BLAS thread pool is fixed when NumPy loads), and prints one report per
count. Each report's header says the thread count and the BLAS in use.
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

from threads import THREAD_VARIABLES, limit_threads  # before NumPy: it sizes the thread pools


def thread_counts(argv) -> list[int]:
    """The ``--threads`` counts in ``argv`` (default ``[1]``), read before anything imports NumPy."""
    counts = "1"
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            counts = argv[i + 1]
        elif arg.startswith("--threads="):
            counts = arg.split("=", 1)[1]
    try:
        found = [int(n) for n in counts.split(",") if n.strip()]
    except ValueError:
        found = []
    if not found or min(found) < 1:
        sys.exit(f"run.py: --threads takes positive thread counts, e.g. --threads 1 or --threads 1,8; got {counts!r}")
    return found


THREADS = thread_counts(sys.argv[1:]) if __name__ == "__main__" else [1]
if len(THREADS) == 1:
    limit_threads(THREADS[0])

import numpy as np  # noqa: E402 - after the thread counts are set

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the sct checkout this script lives in

import peers  # noqa: E402 - needs the path set above
import temporary_cache  # noqa: E402
from peers import Runner  # noqa: E402
from workloads import BY_NAME, WORKLOADS  # noqa: E402

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
    uses_numpy: bool  # plain NumPy underneath: shares its BLAS threads, tracemalloc sees its memory


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
            methods.append(Method(peer.name, peer.build, uses_numpy=peer.name == "autograd"))
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
    """``Type: first line``, plus the last line when the message has several (sct's do)."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    if not lines:
        return type(exc).__name__
    text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    return f"{type(exc).__name__}: {text}"


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
    if len(got) != len(expected) or any(np.shape(g) != np.shape(e) for g, e in zip(got, expected)):
        return float("inf")
    if all(np.allclose(g, e, rtol=RTOL, atol=ATOL) for g, e in zip(got, expected)):
        return None
    return max(float(np.max(np.abs(g - e))) for g, e in zip(got, expected))


@dataclass
class Timed:
    """A method that ran once and is ready for the timed rounds."""

    result: Measurement
    runner: Runner
    timer: timeit.Timer
    number: int  # calls per timed loop


def prepare(method, workload, args, reference, settings, results):
    """Build and first-call ``method``, check its gradient, size its timing loop.

    Records into ``results[method.name]``; returns a ``Timed`` or None on error.
    """
    result = results[method.name] = Measurement()
    try:
        start = time.perf_counter()
        runner = method.build(workload, args)
        out = runner.call()
        result.first_call = time.perf_counter() - start
        if runner.to_numpy is not None:
            result.mismatch = mismatch(runner.to_numpy(out), reference)
        timer = timeit.Timer(runner.call)
        return Timed(result, runner, timer, loops_for(timer, settings.min_time))
    except Exception as exc:  # noqa: BLE001 - one failure must not end the run
        result.error = describe(exc)
        return None


def time_interleaved(timed, settings):
    """Best time per call of each method, taking the methods in turn in every round.

    Interleaving means a burst of load from elsewhere on the machine hits all
    methods alike instead of one, which keeps the ratios honest.
    """
    for _ in range(settings.repeats):
        for t in timed:
            if t.result.error:
                continue
            try:
                seconds = t.timer.timeit(t.number) / t.number
            except Exception as exc:  # noqa: BLE001
                t.result.error = describe(exc)
                continue
            t.result.time = seconds if t.result.time is None else min(t.result.time, seconds)


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
    prepared = [prepare(m, workload, args, reference, settings, results) for m in methods]
    # The NumPy-based methods share one BLAS thread pool and are interleaved; a
    # peer with its own thread pool (JAX, PyTorch) is timed on its own, since
    # its idle threads spin for a while and would slow down whatever runs next.
    numpy_based = [t for m, t in zip(methods, prepared) if t is not None and m.uses_numpy]
    time_interleaved(numpy_based, settings)
    for method, t in zip(methods, prepared):
        if t is not None and not method.uses_numpy:
            time_interleaved([t], settings)
    for method, t in zip(methods, prepared):
        if t is not None and method.uses_numpy and not t.result.error:
            t.result.peak = peak_memory(t.runner.call)
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
    """The BLAS NumPy uses, and its kernels and thread count where threadpoolctl can tell."""
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        built = f"{info['name']} {info.get('version', '')}".strip()
    except (KeyError, TypeError, ValueError):
        built = "unknown"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"{built} (threadpoolctl not installed: kernels and threads not queried)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return built
    parts = []
    for p in pools:
        kernels = p.get("architecture") or p.get("threading_layer") or "?"
        parts.append(f"{p.get('internal_api', '?')} {p.get('version', '')} ({kernels}, {p.get('num_threads')} threads)")
    return "; ".join(parts)


def set_peer_threads(n: int, peer_names) -> str:
    """PyTorch's own thread pools, sized like NumPy's; what was done, for the header."""
    done = [f"{var}={os.environ.get(var, 'unset')}" for var in THREAD_VARIABLES[:3]]
    if "torch" in peer_names:
        try:
            import torch

            torch.set_num_threads(n)
            if n == 1:
                torch.set_num_interop_threads(1)
            done.append(f"torch.set_num_threads({n})")
        except (ImportError, RuntimeError) as exc:
            done.append(f"torch threads not set ({describe(exc)})")
    if "XLA_FLAGS" in os.environ:
        done.append(f"XLA_FLAGS={os.environ['XLA_FLAGS']}")
    return ", ".join(done)


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
        "sct": sct_problem or f"{getattr(sct, '__version__', 'unversioned')} (commit {git_commit()})",
    }
    for peer in {p.module: p for p in peer_list}.values():
        info[peer.module] = peer.version() if peer.available() else "not installed"
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
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    return "\n".join(lines + [fmt.format(*row) for row in rows])


def seconds(results, name):
    """The time of a method that ran and gave the right gradient, else None."""
    m = results.get(name)
    return None if m is None or m.error or m.mismatch is not None else m.time


def times_table(all_results, method_names, markdown):
    rows = [[w] + [time_cell(r.get(n)) for n in method_names] for w, r in all_results.items()]
    return table(["workload"] + method_names, rows, markdown)


def ratios_table(all_results, peer_names, markdown):
    headers = ["workload", "sct/forward", "sct/hand"] + [f"{p}/hand" for p in peer_names]
    rows = []
    for w, r in all_results.items():
        sct, hand = seconds(r, "sct"), seconds(r, "hand")
        row = [w, ratio(sct, seconds(r, "forward")), ratio(sct, hand)]
        rows.append(row + [ratio(seconds(r, p), hand) for p in peer_names])
    return table(headers, rows, markdown)


def speedup_table(all_results, peer_names, markdown):
    rows = [[w] + [ratio(seconds(r, p), seconds(r, "sct")) for p in peer_names] for w, r in all_results.items()]
    return table(["workload"] + peer_names, rows, markdown)


def compile_time(m):
    """First call minus a steady call: the one-time cost (tracing, compiling, caching)."""
    return None if m is None or m.error else m.first_call - m.time


def compile_memory_table(all_results, method_names, markdown):
    memory_methods = [n for n in ("hand", "sct", "autograd") if n in method_names]
    headers = ["workload", "sct first call", "sct compile"]
    if "jax-jit" in method_names:
        headers.append("jax-jit compile")
    headers += [f"peak {n}" for n in memory_methods] + ["sct/hand peak"]
    rows = []
    for w, r in all_results.items():
        sct = r["sct"]
        row = [w, format_time(None if sct.error else sct.first_call), format_time(compile_time(sct))]
        if "jax-jit" in method_names:
            row.append(format_time(compile_time(r["jax-jit"])))
        row += [format_bytes(r[n].peak) for n in memory_methods]
        rows.append(row + [ratio(r["sct"].peak, r["hand"].peak)])
    return table(headers, rows, markdown)


def failures(all_results):
    lines = []
    for w, r in all_results.items():
        for n, m in r.items():
            if m.error:
                lines.append(f"{w} / {n}: {m.error}")
            elif m.mismatch is not None:
                lines.append(f"{w} / {n}: gradient differs from hand-written (max abs diff {m.mismatch:.3g})")
    return lines


def report(all_results, method_names, info, cache_hit, markdown, threads=1):
    peer_names = [n for n in method_names if n not in ("forward", "hand", "sct")]
    heading = "### {}" if markdown else "== {} =="
    bullet = "- " if markdown else "  "
    label = "single-threaded" if threads == 1 else f"{threads} threads"
    sections = [
        (f"Machine ({label} run)", "\n".join(f"{bullet}{key}: {value}" for key, value in info.items())),
        (f"Time per call (best of repeats), {label}", times_table(all_results, method_names, markdown)),
        (
            "Ratios to the forward pass and to hand-written backprop (lower is better)",
            ratios_table(all_results, peer_names, markdown),
        ),
    ]
    if peer_names:
        sections.append(
            (
                "sct speed-up over each peer (peer time / sct time, higher is better)",
                speedup_table(all_results, peer_names, markdown),
            )
        )
    compile_memory = compile_memory_table(all_results, method_names, markdown)
    if cache_hit is not None:
        compile_memory += (
            f"\n\nsct cache hit (seed): sct.grad(f, wrt=...)(*args) costs {format_time(cache_hit)}"
            " more than calling an existing gradient object"
        )
    sections.append(("First call, compile time, and peak memory of one gradient call", compile_memory))
    problems = failures(all_results)
    if problems:
        sections.append(("Failures", "\n".join(bullet + line for line in problems)))
    return "\n\n".join(heading.format(title) + "\n" + body for title, body in sections)


# main -------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short loops and few repeats")
    parser.add_argument("--only", action="append", default=[], help="workload name(s), comma-separated")
    parser.add_argument(
        "--peers",
        default=",".join(p.name for p in peers.PEERS),
        help="peers to include, comma-separated (default: all installed); '' for none",
    )
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument(
        "--threads",
        default="1",
        help="threads for BLAS and the peers (default 1: single-threaded); a list such as 1,8 runs once per count",
    )
    args = parser.parse_args(argv)
    args.only = [n for item in args.only for n in item.split(",") if n]
    unknown = [n for n in args.only if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    args.peers = [n for n in args.peers.split(",") if n]
    unknown = [n for n in args.peers if n not in {p.name for p in peers.PEERS}]
    if unknown:
        parser.error(f"unknown peer {', '.join(unknown)}; choose from {', '.join(p.name for p in peers.PEERS)}")
    return args


def run_each_thread_count(argv, counts):
    """One fresh process per thread count (a BLAS pool is sized when NumPy loads); their reports in turn."""
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--threads":
            skip = True
        elif not arg.startswith("--threads="):
            rest.append(arg)
    status = 0
    for n in counts:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *rest, "--threads", str(n)])
        status = status or done.returncode
        print(flush=True)
    return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    counts = thread_counts(argv)
    if len(counts) > 1:
        sys.exit(run_each_thread_count(argv, counts))
    args = parse_args(argv)
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    threads = counts[0]
    if threads != THREADS[0]:  # main() called with other counts than the command line's: too late for NumPy
        sys.exit("run.py: run it as a script for --threads (thread pools are sized when NumPy is imported)")
    settings = QUICK if args.quick else FULL
    selected = [w for w in WORKLOADS if not args.only or w.name in args.only]
    peer_list = [p for p in peers.PEERS if p.name in args.peers]
    installed = [p.name for p in peer_list if p.available()]
    sct, sct_problem = import_sct()
    threading = set_peer_threads(threads, installed)
    info = {
        "threads": (f"{threads} (single-threaded; " if threads == 1 else f"{threads} (multi-threaded BLAS and peers; ")
        + f"set before NumPy was imported: {threading})",
        **machine_info(sct, sct_problem, peer_list),
    }
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
        cache_hit = sct_cache_hit(BY_NAME["seed"], BY_NAME["seed"].make_args(), seed.time, settings)
    print(report(all_results, [m.name for m in methods], info, cache_hit, args.markdown, threads))


if __name__ == "__main__":
    main()
