"""Second order on idiom programs of the indexing families (the h-fancy hunt, item 3).

    PYTHONPATH=$PWD python -W ignore tests/hunt_fancy_second_order.py [N] [FAMILY ...]

For each program: ``sct.check_grads(f, args, order=2, modes=("rev", "fwd"))``. A mismatch is checked again
along one random direction v: sct's Hessian-vector product (``sct.hvp``, first argument only; the others
held) against central differences of sct's own gradient at eps 1e-5, 1e-6, 1e-7. If the best of those
agrees (rtol 1e-5), central differences at order 2's eps were too coarse: "fd too coarse", not sct; where sct
refuses that Hessian, order 2 is checked again at eps 1e-5..1e-7 ("fd too coarse (finer eps)"). Prints
counts per family and every unresolved mismatch. Not collected by pytest.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
import programs as P  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sct  # noqa: E402


def recheck(f, args, rng):
    """The smallest relative error of sct's Hessian-vector product (along the first argument, the others held)
    against central differences of sct's own gradient; the error text where sct refuses or fails."""
    x = args[0]
    if not isinstance(x, np.ndarray | float):
        return "first argument not an array"
    v = rng.normal(size=np.shape(x)) if isinstance(x, np.ndarray) else float(rng.normal())
    tangents = (v, *(P.tree_map(lambda a: 0.0 * a, a) for a in args[1:]))
    try:
        with np.errstate(all="ignore"):
            hv = sct.hvp(f, tuple(args), tangents)
            hv = np.asarray(hv[0] if isinstance(hv, tuple) else hv, dtype=float)
            errors = []
            for eps in (1e-5, 1e-6, 1e-7):
                up = np.asarray(sct.grad(f)(x + eps * v, *args[1:]), dtype=float)
                down = np.asarray(sct.grad(f)(x - eps * v, *args[1:]), dtype=float)
                fd = (up - down) / (2 * eps)
                errors.append(float(np.max(np.abs(hv - fd)) / (1.0 + np.max(np.abs(fd)))))
    except Exception as exc:  # noqa: BLE001  reported
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return min(errors)


def finer(f, args) -> bool:
    """Whether order 2 passes at a finer eps (1e-5..1e-7): where sct refuses the Hessian (its reverse-over-reverse
    is refused while forward-over-reverse is not), the check itself at a smaller step."""
    for eps in (1e-5, 1e-6, 1e-7):
        try:
            with np.errstate(all="ignore"):
                sct.check_grads(f, tuple(args), order=2, modes=("rev", "fwd"), eps=eps)
            return True
        except (AssertionError, sct.SctError):
            continue
    return False


def hunt(family, n):
    counts, unresolved = {}, []

    @P.generating(n)
    @given(P.idioms(family), st.integers(0, 2**32 - 1))
    def run(program, seed):
        rng = np.random.default_rng(seed)
        f = P.load(program)
        args = P.make_args(program, rng)
        try:
            with np.errstate(all="ignore"):
                sct.check_grads(f, tuple(args), order=2, modes=("rev", "fwd"))
            outcome = "exact"
        except sct.SctError:
            outcome = "refused"
        except AssertionError as exc:
            error = recheck(f, args, rng)
            if isinstance(error, float) and error < 1e-5:
                outcome = "fd too coarse"
            elif finer(f, args):
                outcome = "fd too coarse (finer eps)"
            else:
                outcome = "MISMATCH"
                unresolved.append((program.source, seed, error, str(exc)[:300]))
        except Exception as exc:  # noqa: BLE001  counted, shown
            outcome = f"error {type(exc).__name__}"
            unresolved.append((program.source, seed, None, f"{type(exc).__name__}: {str(exc)[:300]}"))
        counts[outcome] = counts.get(outcome, 0) + 1

    run()
    return counts, unresolved


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 60
    for family in argv[2:] or ["indexing", "mutation", "fancy", "targets"]:
        start = time.time()
        counts, unresolved = hunt(family, n)
        print(f"# {family}: {n} programs in {time.time() - start:.0f} s: {counts}", flush=True)
        for source, seed, error, message in unresolved:
            print("-" * 80)
            print(source.split("import numpy as np\n", 1)[-1].strip("\n"))
            print(f"    seed {seed}, best recheck error {error}\n    {message}")


if __name__ == "__main__":
    main(sys.argv)
