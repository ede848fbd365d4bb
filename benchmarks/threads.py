"""Thread pools sized before NumPy, JAX or PyTorch is imported (run.py and memory.py share this)."""

import os

THREAD_VARIABLES = (  # every thread pool NumPy's BLAS (or numexpr, or a peer's OpenMP) may size itself by
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_threads(n: int) -> None:
    """Size every thread pool to ``n`` threads; must run before NumPy, JAX or PyTorch is imported."""
    for var in THREAD_VARIABLES:
        os.environ[var] = str(n)
    flags = os.environ.get("XLA_FLAGS", "")
    if n == 1 and "intra_op_parallelism_threads" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
