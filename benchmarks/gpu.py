"""The mlp and rnn workloads' gradients on a CUDA GPU, with CuPy and PyTorch arrays.

    python benchmarks/gpu.py [--repeats R] [--cpu] [--small]

For each library that is installed and sees a CUDA device, the arguments are moved to the GPU
and ``sct.grad`` runs the generated code against the library's array API namespace. Each
gradient is checked against NumPy's on the CPU, then timed (best of R, synchronised).
Where there is no GPU, or neither library, it says so and exits 0. ``--cpu`` runs the same
checks on PyTorch CPU tensors, and ``--small`` on the workloads' smallest sizes (what the test
suite does, ``--cpu --small --repeats 1``, to keep this script working where there is no GPU).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import temporary_cache  # noqa: E402
from workloads import mlp, mlp_args, rnn_args  # noqa: E402

import sct  # noqa: E402


def rnn_xp(Wx, Wh, b, h0, xs):
    """The rnn workload, indexing time steps as the array API does (``xs[t, ...]``)."""
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t, ...] @ Wx + h @ Wh + b)
    return np.sum(h**2)


WORKLOADS = [("mlp", mlp, mlp_args, 6), ("rnn", rnn_xp, rnn_args, 3)]
SMALL = {"mlp": {"batch": 4, "width": 8, "n_out": 3}, "rnn": {"steps": 3, "batch": 2, "n_in": 4, "hidden": 5}}


def _torch(device="cuda"):
    try:
        import torch
    except ImportError:
        return None
    if device == "cpu":  # the script's own check, where there is no GPU
        return ("torch (CPU)", torch.asarray, lambda: None, lambda a: a.numpy())
    if not torch.cuda.is_available():
        return None
    return ("torch", lambda a: torch.asarray(a, device="cuda"), torch.cuda.synchronize, lambda a: a.cpu().numpy())


def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None
    except Exception:  # no driver
        return None
    return ("cupy", cupy.asarray, cupy.cuda.Device().synchronize, cupy.asnumpy)


def best_of(run, sync, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cpu", action="store_true", help="PyTorch CPU tensors instead (to check this script)")
    parser.add_argument("--small", action="store_true", help="the workloads' smallest sizes (to check this script)")
    args = parser.parse_args(argv)
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    libraries = [lib for lib in ((_torch("cpu"),) if args.cpu else (_cupy(), _torch())) if lib is not None]
    if not libraries:
        print("skipped: no CUDA GPU visible to CuPy or PyTorch (or neither is installed)")
        return 0
    try:
        import array_api_compat  # noqa: F401
    except ImportError:
        print("skipped: sct runs on GPU arrays through array-api-compat: pip install array-api-compat")
        return 0
    print("| workload | library | sct gradient | NumPy (CPU) | max abs difference |")
    print("|---|---|---|---|---|")
    failed = False
    for name, fn, make, n in WORKLOADS:
        host = make(**SMALL[name]) if args.small else make()
        grad = sct.grad(fn, wrt=tuple(range(n)))
        expected = grad(*host)
        cpu = best_of(lambda host=host, grad=grad: grad(*host), lambda: None, args.repeats)
        for label, to_device, sync, to_host in libraries:
            device = [to_device(a) for a in host]
            got = grad(*device)
            sync()
            error = max(float(np.max(np.abs(to_host(g) - e))) for g, e in zip(got, expected))
            failed |= not error < 1e-9
            seconds = best_of(lambda device=device, grad=grad: grad(*device), sync, args.repeats)
            print(f"| {name} | {label} | {seconds * 1e3:.3f} ms | {cpu * 1e3:.3f} ms | {error:.2g} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
