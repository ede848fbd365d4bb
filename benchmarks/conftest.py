"""``pytest benchmarks/``: the gradients it compiles go to a temporary persistent cache, not the user's."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import temporary_cache  # noqa: E402

temporary_cache.use()
