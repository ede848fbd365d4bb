"""Peak memory of one gradient call: hand-written backprop, sct, autograd, PyTorch, jax.jit.

Run from the repository root::

    python benchmarks/memory.py                      # MLP at 128, 1024, 4096; the RNN
    python benchmarks/memory.py --sizes 128,1024 --markdown
    python benchmarks/memory.py --methods hand,sct --no-rnn

Each (workload, method) is measured in a fresh subprocess, so what one method
allocated never lowers or raises another's numbers. In the subprocess:

1. the libraries are imported, the arguments made, and the gradient compiled on
   small arguments of the same ranks (sct, autograd, torch) or ahead of time for
   these shapes (``jax.jit(...).lower(...).compile()``), so that no compile
   happens in the measured call;
2. **RSS**: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after one call minus
   the same before it: how far the call pushed the process's resident set above
   everything before it (imports, arguments). Every method has this number;
3. **traced**: the peak of ``tracemalloc`` over a second call, for the methods
   that allocate through NumPy (hand-written, sct, autograd): the bytes alive
   at the worst moment, to the byte and without the allocator's slack;
4. **time**: the median of ``--repeat`` further calls (the first, cold one, where
   ``--repeat 0``), shown as a ratio to hand-written backprop.

Everything runs single-threaded: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS`` (and the other BLAS thread variables) are set to 1 before
NumPy is imported, here and in every subprocess, and torch is told
``set_num_threads(1)``; the report says so, and names the BLAS in use.
The MLP is ``benchmarks/workloads.py``'s ``mlp`` at batch = width = N (10
outputs); the RNN is its ``rnn`` (50 steps, batch 16, hidden 64) and the same
network at batch = hidden = 256.
"""

from __future__ import annotations

import os

from threads import limit_threads

limit_threads(1)  # before NumPy is imported, here and (inherited) in the subprocesses

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import temporary_cache  # noqa: E402
import workloads  # noqa: E402

METHODS = ("hand", "sct", "autograd", "torch", "jax-jit")
TRACED = frozenset({"hand", "sct", "autograd"})  # allocate through NumPy: tracemalloc sees their arrays
MIB = 2**20


# ---- the cases: a workload and the sizes of its arguments ------------------------------------
def cases(sizes, rnn=True) -> list:
    """(label, workload name, keyword arguments of its ``make_args``, those of its small twin)."""
    found = [(f"mlp {n}", "mlp", {"batch": n, "width": n}, {"batch": 4, "width": 6}) for n in sizes]
    if rnn:
        small = {"steps": 3, "batch": 2, "n_in": 4, "hidden": 5}
        found.append(("rnn", "rnn", {}, small))
        found.append(("rnn 256", "rnn", {"batch": 256, "hidden": 256}, small))
    return found


def make_args(name: str, sizes: dict) -> tuple:
    return {"mlp": workloads.mlp_args, "rnn": workloads.rnn_args}[name](**sizes)


# ---- one measurement, in a subprocess ---------------------------------------------------
def runner(method: str, workload, args):
    """A no-argument callable that computes the gradients of ``workload`` at ``args`` with ``method``."""
    if method == "hand":
        return lambda: workload.hand_grad(*args)
    if method == "sct":
        import sct

        grad = sct.grad(workload.f, wrt=workload.wrt)
        return lambda: grad(*args)
    if method == "jax-jit":
        return _jax_jit(workload, args)
    import peers

    if method == "torch":
        import torch

        torch.set_num_threads(1)
    peer = {p.name: p for p in peers.PEERS}[method]
    return peer.build(workload, args).call


def _jax_jit(workload, args):
    """``jax.jit(jax.grad(f))`` compiled ahead of time for these shapes: no compile in the measured call."""
    import jax
    import jax.numpy as jnp
    import peers

    jax.config.update("jax_enable_x64", True)
    fn = peers.JAX_JIT_PORTS.get(workload.name, peers.port(workload.f, np=jnp, math=jnp))
    jax_args = tuple(jnp.asarray(a) for a in args)
    compiled = jax.jit(jax.grad(fn, argnums=workload.wrt)).lower(*jax_args).compile()
    return lambda: jax.block_until_ready(compiled(*jax_args))


def _max_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def child(method: str, name: str, sizes: dict, small: dict, repeat: int) -> dict:
    """Measure one method on one case in this (fresh) process; the numbers :func:`parent` prints."""
    workload = workloads.BY_NAME[name]
    args = make_args(name, sizes)
    if method != "jax-jit":  # compile (or load kernels) on small arguments of the same ranks
        runner(method, workload, make_args(name, small))()
    call = runner(method, workload, args)
    gc.collect()
    before = _max_rss()
    start = time.perf_counter()
    call()
    times = [time.perf_counter() - start]
    rss = _max_rss() - before
    traced = None
    if method in TRACED:
        gc.collect()
        tracemalloc.start()
        call()
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if repeat:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
    return {"rss": rss, "traced": traced, "time": statistics.median(times)}


def measure(method: str, case, repeat: int) -> dict | None:
    label, name, sizes, small = case
    command = [sys.executable, __file__, "--child", json.dumps([method, name, sizes, small, repeat])]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        print(f"  {label} {method}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the report -------------------------------------------------------------------------
def available(method: str) -> bool:
    module = {"autograd": "autograd", "torch": "torch", "jax-jit": "jax"}.get(method)
    return module is None or importlib.util.find_spec(module) is not None


def blas() -> str:
    try:
        config = np.show_config(mode="dicts")
        found = config["Build Dependencies"]["blas"]
        return f"{found.get('name', '?')} {found.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - an older NumPy: say so rather than fail
        return "unknown"


def _ratio(value, base) -> str:
    return f"{value / base:.2f}x" if value is not None and base else "-"


def _mib(value) -> str:
    return f"{value / MIB:.1f}" if value is not None else "-"


def rows(results: dict, case_labels: list, methods: list) -> list:
    """One row a (case, method): traced MiB, its ratio, RSS MiB, its ratio, time ms, its ratio."""
    table = []
    for label in case_labels:
        hand = results.get((label, "hand")) or {}
        for method in methods:
            r = results.get((label, method))
            if r is None:
                continue
            table.append(
                [
                    label,
                    method,
                    _mib(r["traced"]),
                    _ratio(r["traced"], hand.get("traced")),
                    _mib(r["rss"]),
                    _ratio(r["rss"], hand.get("rss")),
                    f"{r['time'] * 1e3:.2f}",
                    _ratio(r["time"], hand.get("time")),
                ]
            )
    return table


HEADER = ["case", "method", "traced MiB", "x hand", "RSS MiB", "x hand", "time ms", "x hand"]


def sweep_rows(results: dict, sizes, methods: list) -> list:
    """The MLP size sweep: hand-written MiB, then each method's traced (RSS) ratio to it."""
    table = []
    for n in sizes:
        label = f"mlp {n}"
        hand = results.get((label, "hand"))
        if hand is None:
            continue
        row = [str(n), f"{_mib(hand['traced'])} ({_mib(hand['rss'])})"]
        for method in methods[1:]:
            r = results.get((label, method))
            if r is None:
                row.append("-")
            elif r["traced"] is not None:
                row.append(f"{_ratio(r['traced'], hand['traced'])} ({_ratio(r['rss'], hand['rss'])})")
            else:
                row.append(f"({_ratio(r['rss'], hand['rss'])})")
        table.append(row)
    return table


def render(header, table, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in table])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    return "\n".join("  ".join(str(x).rjust(w) for x, w in zip(row, widths)) for row in [header, *table])


def parent(options) -> None:
    sizes = [int(s) for s in options.sizes.split(",") if s]
    methods = [m for m in options.methods.split(",") if m]
    missing = [m for m in methods if not available(m)]
    methods = [m for m in methods if m not in missing]
    if "hand" not in methods:
        methods.insert(0, "hand")
    all_cases = cases(sizes, rnn=not options.no_rnn)
    results = {}
    for case in all_cases:
        for method in methods:
            repeat = options.repeat if case[2].get("batch", 0) < 4096 else 0
            result = measure(method, case, repeat)
            if result is not None:
                results[(case[0], method)] = result
            print(f"  measured {case[0]:8} {method}", file=sys.stderr)
    print("Peak memory of one gradient call, single-threaded (OMP/OPENBLAS/MKL_NUM_THREADS=1, torch 1 thread);")
    print(f"BLAS: {blas()}; NumPy {np.__version__}; Python {sys.version.split()[0]}.")
    if missing:
        print(f"Not installed, so not measured: {', '.join(missing)}.")
    print("traced: tracemalloc peak (NumPy-based methods); RSS: getrusage max RSS of a fresh subprocess minus")
    print("its baseline before the call; time: median of the calls after the measured one (the cold call at 4096).")
    print()
    print(render(HEADER, rows(results, [c[0] for c in all_cases], methods), options.markdown))
    if sizes:
        print()
        print("MLP size sweep (batch = width = N): hand-written traced MiB (RSS MiB); each method's traced ratio")
        print("to it (RSS ratio in parentheses).")
        print()
        header = ["N", "hand MiB", *methods[1:]]
        print(render(header, sweep_rows(results, sizes, methods), options.markdown))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="128,1024,4096", help="MLP batch = width sizes (comma separated)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"any of {', '.join(METHODS)}")
    parser.add_argument("--no-rnn", action="store_true", help="leave out the RNN cases")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls after the measured one (0 at 4096)")
    parser.add_argument("--markdown", action="store_true", help="tables in Markdown")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    if options.child:
        print(json.dumps(child(*json.loads(options.child))))
        return
    parent(options)


if __name__ == "__main__":
    main()
