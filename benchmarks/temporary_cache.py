"""A benchmark's own persistent cache: a temporary directory, removed when the script ends.

A benchmark that times first calls measures compiles: with the user's cache
(``~/.cache/sct``) a second run would time loads from it instead, and every run would
add its entries there (compile_scaling alone added thousands per run). Scripts call
``use()`` before their first gradient; the processes they start inherit the
directory. ``SCT_BENCH_CACHE_DIR=DIR`` uses ``DIR`` instead (kept afterwards).
"""

import atexit
import os
import shutil
import tempfile


def use() -> str:
    """Point ``SCT_CACHE_DIR`` at a new temporary directory (or ``SCT_BENCH_CACHE_DIR``); returns it."""
    given = os.environ.get("SCT_BENCH_CACHE_DIR")
    if given:
        os.environ["SCT_CACHE_DIR"] = given
        return given
    path = tempfile.mkdtemp(prefix="sct-bench-cache-")
    os.environ["SCT_CACHE_DIR"] = path
    atexit.register(shutil.rmtree, path, True)
    return path
