"""The two folds of adjoints, against the code before them: the same numbers to the bit.

``sct.passes.optimize._may_fold`` (copy propagation ``delta_a = delta_b``, now also of names updated in
place) and ``sct.passes.fuse.fold_adjoints`` (single-use adjoints written into their one use) must not
change one bit of any result. :func:`both` compiles a program twice in fresh modules (nothing cached),
once as the code is and once as it was before them (the fold a no-op, the copy refused where either name
is updated in place), and :func:`same_bits` compares the results bit for bit. Programs written against
the passes (aliasing, views, in-place writes, loops, checkpoints, second order, custom rules, complex
numbers, exported modules) are checked here old against new and against central differences; the random
programs in bulk by ``tests/hunt_folds.py`` (a script), a few of them here.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sct
from sct.passes import fuse, optimize
from tests import programs as P


def _old_may_fold(copy, stores, returned, protected) -> bool:
    """``_may_fold`` before 59be68d: no copy of a name updated in place folds."""
    target = copy.targets[0].id
    if not target.startswith("delta_") or stores.get(target) != 1 or target in returned:
        return False
    return target not in protected and getattr(copy.value, "id", None) not in protected


@contextlib.contextmanager
def old_folds():
    """The passes as they were before the two folds."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(fuse, "fold_adjoints", lambda *a, **k: False)
        m.setattr(optimize, "_may_fold", _old_may_fold)
        yield


def run(source: str, call, old: bool):
    """``call(f)`` for ``f`` loaded from ``source`` in a fresh module; an exception is returned, not raised."""
    with old_folds() if old else contextlib.nullcontext(), np.errstate(all="ignore"):
        try:
            return call(P.load(source))
        except Exception as exc:  # noqa: BLE001 compared like a result: both sides must fail alike
            return exc


def both(source: str, call):
    """(new, old): ``call(f)`` with the folds and without."""
    return run(source, call, False), run(source, call, True)


def same_bits(a, b, where="result") -> None:
    """``a`` and ``b`` the same to the bit: the same types, structure, shapes, dtypes and bytes."""
    if isinstance(a, BaseException) or isinstance(b, BaseException):
        assert type(a) is type(b), f"{where}: {a!r} with the folds, {b!r} without"
        return
    assert type(a) is type(b), f"{where}: {type(a).__name__} with the folds, {type(b).__name__} without"
    if isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: {len(a)} items, {len(b)} without the folds"
        for k, (x, y) in enumerate(zip(a, b)):
            same_bits(x, y, f"{where}[{k}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} and {list(b)}"
        for k in a:
            same_bits(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, str):
        return  # a generated source: it may differ
    else:
        x, y = np.asarray(a), np.asarray(b)
        assert x.dtype == y.dtype and x.shape == y.shape, f"{where}: {x.dtype}{x.shape} and {y.dtype}{y.shape}"
        assert x.tobytes() == y.tobytes(), f"{where}: {a!r} with the folds, {b!r} without"


def check(source: str, call, both_results=False):
    """``call`` on ``source`` with the folds and without: the same bits; the result with the folds (and without)."""
    new, old = both(source, call)
    if isinstance(new, BaseException) and not isinstance(old, BaseException):
        raise AssertionError(f"fails only with the folds: {new!r}") from new
    same_bits(new, old)
    return (new, old) if both_results else new


def grads(wrt=None, **options):
    """A ``call`` for :func:`check`: ``sct.grad`` and ``sct.value_and_grad`` of ``f`` at ``args``."""

    def call_with(*args):
        def call(f):
            w = tuple(range(len(args))) if wrt is None else wrt
            g = sct.grad(f, wrt=w, **options)
            return g(*args), sct.value_and_grad(f, wrt=w, **options)(*args), g.source

        return call

    return call_with


# ---- random programs: a few here, in bulk in tests/hunt_folds.py ---------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(P.programs(control=True, max_statements=6), st.integers(0, 2**32 - 1))
def test_random_programs_same_bits(program, seed):
    f, args, _, _ = P.sample(program, seed)
    check(program.source, grads()(*args))


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.sampled_from(("mutation", "indexing", "fancy")).flatmap(P.idioms), st.integers(0, 2**32 - 1))
def test_idiom_programs_same_bits(program, seed):
    args = P.make_args(program, np.random.default_rng(seed))
    check(program.source, grads()(*args))


# ---- NumPy's temporaries: ``a * b * c`` is computed in ``a * b``'s memory, in its memory order ------------
BIG = np.random.default_rng(0).standard_normal((3, 300, 300))  # over the 256 KiB where NumPy reuses temporaries


def test_a_fold_makes_no_temporary_numpy_reuses_in_another_memory_order(no_validation):
    # delta_a = np.full_like(d, 1.0) * z * y * np.cos(a) made the product in the memory order of x.T (Fortran),
    # where the lines it came from made it in C order: np.sum(delta_a * x) added in another order (1 ulp).
    # (Translation validation off: the forward sweep's own lines differ from f's nested expression the same
    # way, and validation says so; see the report of h-folds.)
    source = "import numpy as np\n\n\ndef f(s, x, y, z):\n    return np.sum(np.sin(x * s) * y * z)\n"
    x, y, z = BIG
    for args in ((0.3, x.T, y, z), (0.3, x.T, y, z.T), (0.3, x, y.T, z)):
        check(source, grads()(*args))


def test_what_numpy_cannot_compute_in_place_still_moves():
    def fold(use, flat=()):
        from tests.test_adjoint_folds import _fold

        return _fold(f"def g(w, v, x):\n    delta_a = w * x\n    {use}\n    return delta_c\n", flat=flat)

    assert "delta_c = np.sum(delta_a * v)" in fold("delta_c = np.sum(delta_a * v)")  # beside a matrix, summed
    assert "delta_c = np.sum(w * x * v)" in fold("delta_c = np.sum(delta_a * v)", flat=("delta_a",))  # a vector
    assert "delta_c = np.sum(w * x * 2.0)" in fold("delta_c = np.sum(delta_a * 2.0)")  # beside a number
    assert "delta_c += w * x * v" in fold("delta_c += delta_a * v")  # into an array's own memory
    assert "delta_c = v - w * x" in fold("delta_c = v - delta_a")  # NumPy reuses only a left operand of -
    assert "delta_c = v @ (w * x)" in fold("delta_c = v @ delta_a")
    assert "delta_c = delta_a ** v" in fold("delta_c = delta_a ** v", flat=("delta_a",))
