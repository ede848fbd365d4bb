"""A new process's first gradient call: compiled, and served from the persistent cache.

For each workload of ``workloads.py``: one process compiles and stores (the cold
first call), then fresh processes time their first call with the entry on disk
(the warm first call: key, read, rebuild, call). Each process calls the function
itself once first, so that NumPy's own first-call costs are not counted. Prints a Markdown table for
docs/performance.md. Run: ``python benchmarks/cache_first_call.py [--repeats 5] [--only seed,mlp]``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = """\
import json, sys, time
import sct
from sct import pipeline
from sct.backend import cache
from workloads import BY_NAME

w = BY_NAME[sys.argv[1]]
args = w.make_args()
w.f(*args)  # NumPy's own first-call costs (BLAS threads, first touch of memory) are not sct's
gradient = sct.grad(w.f, wrt=w.wrt)
spent = [0.0]


def timed(function):
    def run(*a, **k):
        start = time.perf_counter()
        try:
            return function(*a, **k)
        finally:
            spent[0] += time.perf_counter() - start

    return run


cache.key, cache.load = timed(cache.key), timed(cache.load)
start = time.perf_counter()
gradient(*args)
first = time.perf_counter() - start
steady = []
for _ in range(5):
    start = time.perf_counter()
    gradient(*args)
    steady.append(time.perf_counter() - start)
extra = first - min(steady)  # what the first call costs beyond running the gradient
hits, compiles = cache.STATS["hits"], pipeline.STATS["compiles"]
print(json.dumps({"first": first, "extra": extra, "cache": spent[0], "hits": hits, "compiles": compiles}))
"""


def first_call(name: str, cache_dir: str) -> dict:
    env = {**os.environ, "SCT_CACHE": "1", "SCT_CACHE_DIR": cache_dir}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT)])
    done = subprocess.run([sys.executable, "-c", CHILD, name], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm processes per workload (the median is shown)")
    parser.add_argument("--only", default="", help="workload name(s), comma-separated (default: all)")
    options = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from workloads import BY_NAME, WORKLOADS

    chosen = [BY_NAME[n] for n in options.only.split(",") if n] or WORKLOADS

    print("| workload | first call, compiled | first call, from the cache | beyond a steady call | cache lookup |")
    print("|---|---|---|---|---|")
    for w in chosen:
        with tempfile.TemporaryDirectory() as cache_dir:
            cold = first_call(w.name, cache_dir)
            warm = [first_call(w.name, cache_dir) for _ in range(options.repeats)]
        hit = all(r["hits"] >= 1 and r["compiles"] == 0 for r in warm)
        median = statistics.median(r["first"] for r in warm)
        extra = statistics.median(r["extra"] for r in warm)
        own = statistics.median(r["cache"] for r in warm)
        print(
            f"| {w.name} | {cold['first'] * 1e3:.1f} ms | {median * 1e3:.2f} ms | {extra * 1e3:.2f} ms "
            f"| {own * 1e3:.2f} ms{'' if hit else ' (NOT served from the cache)'} |"
        )


if __name__ == "__main__":
    main()
