"""Old against new, in bulk: the two folds of adjoints on many random programs (not collected by pytest).

    PYTHONPATH=$PWD [HUNT_SEED=0] [HUNT_CALL=grads] python -W ignore tests/hunt_folds.py [N] [FAMILY ...]

For each family of ``tests/programs.py`` (``FAMILIES``, and ``random`` for ``P.programs(control=True)``),
N programs (default 120) each compiled with the folds and without (tests/test_fold_hunt.py's ``check``):
prints the counts, and each program whose results differ in one bit or which fails only with the folds
(``layouts`` and ``complex``: whose results differ by more than rounding, see tests/test_fold_hunt.py).
``shared``: random programs whose ``+=`` may update an array another name holds. ``layouts``: nested
expressions of 200 x 200 matrices in C and Fortran order (NumPy's temporaries; test_fold_hunt.layouts).
``complex``: nested expressions of complex vectors (which way round NumPy multiplies).
HUNT_CALL: ``grads`` (sct.grad and sct.value_and_grad), ``checkpoint`` (checkpoint=True), ``hessian``
(second order: the folded adjoint differentiated again), ``vjp``, ``export`` (sct export's module).
"""

import os
import sys
import time
from pathlib import Path

os.environ["SCT_CACHE"] = "0"
sys.path.insert(0, str(Path(__file__).parent.parent))

import numpy as np  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sct  # noqa: E402
from sct.export import export_source  # noqa: E402
from tests import programs as P  # noqa: E402
from tests import test_fold_hunt as H  # noqa: E402


def hunt(strategy, n, seed, make_args, exact=True):
    counts, found = {}, []

    @hypothesis_seed(seed)
    @P.generating(n)
    @given(strategy, st.integers(0, 2**32 - 1))
    def one(program, seed):
        args = make_args(program, seed)
        try:
            result, old = H.check(program.source, CALLS[CALL](args), both_results=True, exact=exact)
        except AssertionError as exc:
            counts["DIFFERENT"] = counts.get("DIFFERENT", 0) + 1
            found.append((program, seed, str(exc)[:400]))
            return
        if isinstance(result, BaseException):
            kind = f"both raise {type(result).__name__}"
        else:
            text = result[-1] if isinstance(result, tuple) and isinstance(result[-1], str) else None
            if text is None:
                kind = "same" if exact else "same up to rounding"
            else:
                kind = "folded" if text != old[-1] else "nothing folded"
        counts[kind] = counts.get(kind, 0) + 1

    one()
    return counts, found


M = 40_000  # complex vectors: 640 KB each, where NumPy reuses temporaries


@st.composite
def complex_vectors(draw):
    """Nested expressions of complex vectors z, w and a number s: where a complex product's rounding shows
    which way round NumPy multiplied."""

    def expr(depth):
        if depth == 0 or draw(st.integers(0, 4)) == 0:
            return draw(st.sampled_from(["z", "w", "s", "2.0", "np.conj(z)"]))
        kind = draw(st.integers(0, 7))
        if kind < 5:
            return f"({expr(depth - 1)} {draw(st.sampled_from('+-*/'))} {expr(depth - 1)})"
        return f"np.{draw(st.sampled_from(['sin', 'tanh', 'exp', 'cos']))}({expr(depth - 1)} * 0.1)"

    body = f"    t = {expr(4)}\n    return np.real(np.sum(t * {expr(3)}))\n"
    return P.Program("import numpy as np\n\n\ndef f(z, w, s):\n" + body, ["z", "w", "s"], [(M,), (M,), None])


def complex_args(program, seed):
    rng = np.random.default_rng(seed)
    z, w = rng.uniform(-1.5, 1.5, (2, M)) + 1j * rng.uniform(-1.5, 1.5, (2, M))
    return [z, w, float(rng.uniform(0.5, 1.5))]


def _hessian(args):
    return lambda f: sct.hessian(f, wrt=0)(*args)


def _vjp(args):
    def call(f):
        out, back = sct.vjp(f, *args)
        return out, back(1.0)

    return call


def _export(args):
    def call(f):
        text = export_source(f, wrt=tuple(range(len(args))))
        return P.load(text, name=None).gradient(*args), text

    return call


CALLS = {
    "grads": lambda args: H.grads()(*args),
    "checkpoint": lambda args: H.grads(checkpoint=True)(*args),
    "hessian": _hessian,
    "vjp": _vjp,
    "export": _export,
}
CALL = os.environ.get("HUNT_CALL", "grads")  # what each program is differentiated by (CALLS)


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 120
    seed = int(os.environ.get("HUNT_SEED", "0"))
    families = argv[2:] or ["random", *P.FAMILIES]
    for family in families:
        start = time.time()
        if family == "random":
            strategy = P.programs(control=True, max_statements=6)
        elif family == "shared":  # ``+=`` on an array an argument or another name holds too
            strategy = P.programs(control=True, max_statements=8, shared=True)
        elif family == "layouts":
            strategy = H.layouts()
        elif family == "complex":
            strategy = complex_vectors()
        else:
            strategy = P.idioms(family)
        make_args = {"layouts": H.layout_args, "complex": complex_args}.get(family)
        make_args = make_args or (lambda p, s: P.make_args(p, np.random.default_rng(s)))
        exact = family not in ("layouts", "complex")  # NumPy's reused temporaries: the rounding may differ
        counts, found = hunt(strategy, n, seed, make_args, exact)
        print(f"# {family}, {CALL}: {n} programs (seed {seed}) in {time.time() - start:.0f} s: {counts}", flush=True)
        for program, seed, message in found[:5]:
            print("-" * 80)
            print(f"seed {seed}, shapes {program.shapes}")
            print(program.source.split("import numpy as np\n", 1)[-1].strip("\n"))
            print("   ", message.replace("\n", "\n    "))
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
