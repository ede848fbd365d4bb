"""Old against new, in bulk: the two folds of adjoints on many random programs (not collected by pytest).

    PYTHONPATH=$PWD python -W ignore tests/hunt_folds.py [N] [FAMILY ...]

For each family of ``tests/programs.py`` (``FAMILIES``, and ``random`` for ``P.programs(control=True)``),
N programs (default 120) each compiled with the folds and without (tests/test_fold_hunt.py's ``check``):
prints the counts, and each program whose results differ in one bit or which fails only with the folds.
"""

import os
import sys
import time
from pathlib import Path

os.environ["SCT_CACHE"] = "0"
sys.path.insert(0, str(Path(__file__).parent.parent))

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests import programs as P  # noqa: E402
from tests import test_fold_hunt as H  # noqa: E402


def hunt(strategy, n, seed):
    counts, found = {}, []

    @hypothesis_seed(seed)
    @settings(
        max_examples=n, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
    )
    @given(strategy, st.integers(0, 2**32 - 1))
    def one(program, seed):
        args = P.make_args(program, np.random.default_rng(seed))
        try:
            result, old = H.check(program.source, H.grads()(*args), both_results=True)
        except AssertionError as exc:
            counts["DIFFERENT"] = counts.get("DIFFERENT", 0) + 1
            found.append((program, seed, str(exc)[:400]))
            return
        if isinstance(result, BaseException):
            kind = f"both raise {type(result).__name__}"
        else:
            kind = "same bits, folded" if result[-1] != old[-1] else "same bits, nothing folded"
        counts[kind] = counts.get(kind, 0) + 1

    one()
    return counts, found


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 120
    seed = int(os.environ.get("HUNT_SEED", "0"))
    families = argv[2:] or ["random", *P.FAMILIES]
    for family in families:
        start = time.time()
        strategy = P.programs(control=True, max_statements=6) if family == "random" else P.idioms(family)
        counts, found = hunt(strategy, n, seed)
        print(f"# {family}: {n} programs (seed {seed}) in {time.time() - start:.0f} s: {counts}", flush=True)
        for program, seed, message in found[:5]:
            print("-" * 80)
            print(f"seed {seed}, shapes {program.shapes}")
            print(program.source.split("import numpy as np\n", 1)[-1].strip("\n"))
            print("   ", message.replace("\n", "\n    "))
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
