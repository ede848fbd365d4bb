"""The two folds of adjoints, against the code before them: the same numbers to the bit.

``sct.passes.optimize._may_fold`` (copy propagation ``delta_a = delta_b``, now also of names updated in
place), ``sct.passes.fuse.fold_adjoints`` (single-use adjoints written into their one use) and
``fold_recomputations`` (a reversed trip's recomputed value into its one read) must not
change one bit of any result, but for NumPy's reuse of temporaries of 256 KiB or more (the section below),
where they change the rounding only. :func:`both` compiles a program twice in fresh modules (nothing cached),
once as the code is and once as it was before them (the fold a no-op, the copy refused where either name
is updated in place), and :func:`same_bits` compares the results bit for bit. Programs written against
the passes (aliasing, views, in-place writes, loops, checkpoints, second order, custom rules, complex
numbers, exported modules) are checked here old against new and against central differences; the random
programs in bulk by ``tests/hunt_folds.py`` (a script), a few of them here.
"""

from __future__ import annotations

import ast
import contextlib
import re

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
        m.setattr(fuse, "fold_recomputations", lambda *a, **k: False)
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


def check(source: str, call, both_results=False, exact=True):
    """``call`` on ``source`` with the folds and without: the same bits (``exact``), else the same up to
    rounding (NumPy's reused temporaries, below); the result with the folds (and without)."""
    new, old = both(source, call)
    if isinstance(new, BaseException) and not isinstance(old, BaseException):
        raise AssertionError(f"fails only with the folds: {new!r}") from new
    same_bits(new, old) if exact else rounding_apart(new, old)
    return (new, old) if both_results else new


def rounding_apart(a, b, where="result") -> None:
    """``a`` and ``b`` of the same types, structure, shapes and dtypes, and equal up to rounding."""
    if isinstance(a, BaseException) or isinstance(b, BaseException):
        assert type(a) is type(b), f"{where}: {a!r} with the folds, {b!r} without"
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} and {b!r}"
        for k, (x, y) in enumerate(zip(a, b)):
            rounding_apart(x, y, f"{where}[{k}]")
    elif not isinstance(a, str):
        x, y = np.asarray(a), np.asarray(b)
        assert type(a) is type(b) and x.dtype == y.dtype and x.shape == y.shape, f"{where}: {a!r} and {b!r}"
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12 * max(1.0, float(np.max(np.abs(y), initial=0))))


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
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(P.programs(control=True, max_statements=6), st.integers(0, 2**32 - 1))
def test_random_programs_same_bits(program, seed):
    f, args, _, _ = P.sample(program, seed)
    check(program.source, grads()(*args))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.sampled_from(("mutation", "indexing", "fancy")).flatmap(P.idioms), st.integers(0, 2**32 - 1))
def test_idiom_programs_same_bits(program, seed):
    args = P.make_args(program, np.random.default_rng(seed))
    check(program.source, grads()(*args))


# ---- NumPy's temporaries: where the folds change the last bit ----------------------------------------------
# NumPy computes ``a * b * c`` in the memory of the temporary ``a * b`` once it is 256 KiB or more: in that
# temporary's memory order (a new array takes C order where its operands' orders differ), and for a complex
# product maybe with the operands the other way round. A fold turns a named adjoint into such a temporary,
# so with large matrices of mixed memory order a later ``np.sum`` adds in another order, and a complex product
# may round otherwise: the same numbers up to rounding, not to the bit (docs/how-it-works.md, section 7).
# Below that size, and with one memory order, the bits are the same (the random programs above).
BIG = np.random.default_rng(0).standard_normal((3, 300, 300))  # over the 256 KiB where NumPy reuses temporaries


N = 200  # 200 x 200 float64: over the 256 KiB where NumPy computes ``a * b * c`` in ``a * b``'s memory


@st.composite
def layouts(draw):
    """Nested expressions of 200 x 200 matrices given in C or Fortran order (``layout_args``), a number and a
    vector: where NumPy's reuse of temporaries shows."""
    names = ["x", "y", "z", "s", "v"]  # matrices x, y, z; a number s; a vector v

    def expr(depth):
        if depth == 0 or draw(st.integers(0, 4)) == 0:
            return draw(st.sampled_from(["x", "y", "z", "x.T", "y.T", "s", "v", "2.0"]))
        kind = draw(st.integers(0, 9))
        a = expr(depth - 1)
        if kind < 5:
            return f"({a} {draw(st.sampled_from('+-*/'))} {expr(depth - 1)})"
        if kind < 8:
            return f"np.{draw(st.sampled_from(['sin', 'tanh', 'exp', 'cos']))}({a} * 0.1)"
        if kind == 8:
            return f"(np.tanh({a}) @ {draw(st.sampled_from(['x', 'y.T']))})"
        return f"np.sum({a}, axis={draw(st.integers(0, 1))}, keepdims=True)"

    lines = [f"    t = {expr(4)}"]
    if draw(st.booleans()):
        lines.append(f"    t = t * {expr(3)}")
    lines.append(f"    return np.sum(t * {expr(3)})")
    source = "import numpy as np\n\n\ndef f(" + ", ".join(names) + "):\n" + "\n".join(lines) + "\n"
    orders = tuple(draw(st.booleans()) for _ in range(3))
    return P.Program(source, names, [(N, N)] * 3 + [None, (N,)], False, notes=[str(orders)])


def layout_args(program, seed):
    """The arguments of a program of :func:`layouts`: its matrices in Fortran order where it drew so."""
    rng = np.random.default_rng(seed)
    orders = ast.literal_eval(program.notes[0])
    mats = [rng.uniform(-1.5, 1.5, (N, N)) for _ in orders]
    mats = [np.asfortranarray(m) if fortran else m for m, fortran in zip(mats, orders)]
    return [*mats, float(rng.uniform(0.5, 1.5)), rng.uniform(-1.5, 1.5, N)]


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(layouts(), st.integers(0, 2**32 - 1))
def test_matrices_in_both_memory_orders_agree_to_rounding(no_validation, program, seed):
    check(program.source, grads()(*layout_args(program, seed)), exact=False)


def test_a_temporary_numpy_reuses_changes_only_the_rounding(no_validation):
    # delta_a = np.full_like(d, 1.0) * z * y * np.cos(a) is made in the memory order of x.T (Fortran) where the
    # lines it came from made it in C order: np.sum(delta_a * x) adds in another order (1 ulp). (Translation
    # validation off: the forward sweep's own lines differ from f's nested expression the same way.)
    source = "import numpy as np\n\n\ndef f(s, x, y, z):\n    return np.sum(np.sin(x * s) * y * z)\n"
    x, y, z = BIG
    for args in ((0.3, x.T, y, z), (0.3, x.T, y, z.T), (0.3, x, y.T, z)):
        new, old = check(source, grads()(*args), both_results=True, exact=False)
        assert "delta_b" in old[2] and "delta_b" not in new[2]  # the fold ran: b = np.sin(a), a temporary
    check(source, grads()(0.3, *BIG))  # one memory order: the same bits


def test_a_complex_product_numpy_may_turn_round_changes_only_the_rounding(no_validation):
    # delta_c = delta_g * e * (1.0 - d * d): NumPy may compute (1.0 - d * d) * (delta_g * e) in the temporary's
    # memory, and a complex product rounds otherwise the other way round (the last bit of a few of 40,000)
    body = "return np.sum(np.real(np.tanh(np.sin(z * w) * w) * np.conj(z)))"
    source = f"import numpy as np\n\n\ndef f(z, w):\n    {body}\n"
    rng = np.random.default_rng(0)
    z, w = rng.uniform(-1.0, 1.0, (2, 40_000)) + 1j * rng.uniform(-1.0, 1.0, (2, 40_000))
    check(source, grads()(z, w), exact=False)
    check(source, grads()(z[:100], w[:100]))  # small: no temporary reused, the same bits


# ---- programs written against the folds: old against new, and against central differences ------------------
def _rng():
    return np.random.default_rng(7)


ALIASES = """
import numpy as np


def f(x, w):
    b = x * 1.0
    b[0] = b[0] * 0.5 + np.sin(w[0, 0])
    c = b
    v = c.T
    r = b[1]
    h = np.tanh(v @ w)
    y = np.exp(h) * np.sin(h)
    return np.sum(y * y) + np.sum(b * v) + np.sum(r * c[2] * np.exp(v[0]))
"""

SCATTER = """
import numpy as np


def f(x, w):
    y = np.zeros(4)
    for i in range(4):
        y[i] = np.sum(np.tanh(x[i] * w) ** 2)
    idx = np.array([0, 1, 1, 3])
    y[idx] += np.exp(w[:4] * 2.0)
    y[[2, 2, 0]] = np.cos(w[1:4] * y[1:4])
    z = y[idx] * np.sin(w[idx])
    return np.sum(np.sin(y) * np.cos(y)) + np.sum(z * z)
"""

LSTM = """
import numpy as np


def f(W, U, b, xs):
    n = U.shape[1]
    h = np.zeros(n)
    c = np.zeros(n)
    for t in range(xs.shape[0]):
        z = W @ xs[t] + U @ h + b
        i = 1.0 / (1.0 + np.exp(-z[0:n]))
        g = np.tanh(z[n:2 * n])
        fg = 1.0 / (1.0 + np.exp(-z[2 * n:3 * n]))
        o = 1.0 / (1.0 + np.exp(-z[3 * n:4 * n]))
        c = fg * c + i * g
        h = o * np.tanh(c)
    return np.sum(h * h) + np.sum(c) * 0.1
"""

WHILE_BRANCH = """
import numpy as np


def f(x, a):
    s = x * 1.0
    k = 0
    while k < 4:
        if np.sum(s) > 0.0:
            s = np.sin(s * a) + s * np.exp(-a * a)
        else:
            s = np.cos(s) * a - np.tanh(s * s)
        s[k % 3] += np.sum(s * s) * 0.1
        k = k + 1
    return np.sum(np.exp(s * 0.5) * s)
"""

MATRICES = """
import numpy as np


def f(A, B, s):
    C = np.tanh(A @ B * s) * np.exp(A * 0.1)
    D = C.T @ np.sin(B * C) + np.outer(np.sum(C, axis=0), np.sum(B, axis=1))
    return np.sum(D * D) / (1.0 + np.trace(C * C))
"""

COMPLEX = """
import numpy as np


def f(z, w):
    a = np.exp(z * 1j) * w
    b = np.abs(a * np.conj(a) + np.sin(w)) ** 2
    return np.sum(np.real(np.exp(a * 0.1) * np.conj(a))) + np.sum(b)
"""

ELEMENTWISE = """
import numpy as np


def f(W, x, b):
    h = np.tanh(W @ x + b)
    y = np.exp(h * 0.5) * np.sin(h) / (1.0 + h * h)
    return np.sum(y * y) + np.sum(np.cos(W * 0.1) * W) + np.sum(np.sqrt(1.0 + x * x) * b)
"""

CASES = {
    "aliases and views": (ALIASES, lambda r: (r.standard_normal((3, 3)), r.standard_normal((3, 2)))),
    "repeated indices": (SCATTER, lambda r: (r.standard_normal((4, 5)), r.standard_normal(5))),
    "lstm": (
        LSTM,
        lambda r: (
            r.standard_normal((12, 2)) * 0.5,
            r.standard_normal((12, 3)) * 0.5,
            r.standard_normal(12),
            r.standard_normal((4, 2)),
        ),
    ),
    "while and if": (WHILE_BRANCH, lambda r: (r.standard_normal(3) * 0.5, 0.7)),
    "elementwise": (ELEMENTWISE, lambda r: (r.standard_normal((3, 3)), r.standard_normal(3), r.standard_normal(3))),
    "matrices": (MATRICES, lambda r: (r.standard_normal((3, 3)) * 0.5, r.standard_normal((3, 3)) * 0.5, 0.3)),
}


@pytest.mark.parametrize("name", CASES)
def test_adversarial_programs_same_bits_and_exact(name):
    source, make = CASES[name]
    args = make(_rng())
    (grads_, (value, _), _) = check(source, grads()(*args))
    sct.check_grads(P.load(source), args, modes=("rev",), order=1)
    assert np.isfinite(value)


@pytest.mark.parametrize("name", ["lstm", "matrices"])
def test_checkpointed_loops_same_bits(name):
    source, make = CASES[name]
    args = make(_rng())
    new = check(source, grads(checkpoint=True)(*args))
    plain = check(source, grads()(*args))
    for a, b in zip(new[0], plain[0]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["aliases and views", "lstm", "matrices"])
def test_second_order_through_folded_code_same_bits(name):
    # sct.hessian and sct.hvp differentiate the generated (folded) adjoint again (they refuse the adjoint of
    # "repeated indices" and "while and if", with the folds and without: writes into arrays two names hold)
    source, make = CASES[name]
    args = make(_rng())
    direction = tuple(np.ones_like(a) if isinstance(a, np.ndarray) else 1.0 for a in args)
    check(source, lambda f: sct.hessian(f, wrt=0)(*args))
    check(source, lambda f: sct.hvp(f, args, direction))
    if name != "lstm":
        sct.check_grads(P.load(source), args, modes=("rev",), order=2)


@pytest.mark.parametrize("name", ["aliases and views", "repeated indices", "matrices"])
def test_vjp_and_value_and_grad_same_bits(name):
    source, make = CASES[name]
    args = make(_rng())

    def vjp(f):
        out, back = sct.vjp(f, *args)
        return out, back(1.0)

    check(source, vjp)


def test_complex_inputs_same_bits():
    r = _rng()
    args = (r.standard_normal(4) + 1j * r.standard_normal(4), r.standard_normal(4))
    check(COMPLEX, grads()(*args))
    check(COMPLEX, grads(wrt=1)(*args))
    sct.check_grads(P.load(COMPLEX), args, modes=("rev",), order=1, wrt=1)


def test_the_adversarial_programs_fold_something():
    # otherwise the tests above could not fail
    for name, (source, make) in CASES.items():
        new, old = both(source, grads()(*make(_rng())))
        assert new[-1] != old[-1], name


CUSTOM = """
import numpy as np

import sct


def scale(x, k):
    return x * k


def scale_vjp_x(g, ans, x, k):
    return g * k


def scale_vjp_k(g, ans, x, k):
    return np.sum(g * x)


sct.defvjp(scale, scale_vjp_x, scale_vjp_k)


@sct.custom_vjp
def squash(x):
    return np.tanh(x)


def squash_fwd(x):
    y = np.tanh(x)
    return y, (y,)


def squash_bwd(res, g):
    (y,) = res
    return (g * (1.0 - y * y),)


squash.defvjp(squash_fwd, squash_bwd)


def f(x, k):
    a = scale(np.exp(x * 0.5) * np.sin(x), k)
    b = squash(a * a + x)
    return np.sum(np.cos(b) * b) + np.sum(scale(b, 2.0) * a)
"""


def test_custom_rules_same_bits_and_exact():
    # user code in the backward sweep: no adjoint moves past a call of it, nor into its arguments
    args = (_rng().standard_normal(4), 0.7)
    # a rule that writes into the adjoint it is given gives wrong numbers with the folds and without; the same
    mutating = CUSTOM.replace("    return g * k\n", "    g *= k\n    return g\n")
    assert mutating != CUSTOM
    check(mutating, grads()(*args))
    new, old = both(CUSTOM, grads()(*args))
    same_bits(new, old)
    assert not isinstance(new, BaseException), new
    f = P.load(CUSTOM)
    with np.errstate(all="ignore"):
        (gx, gk) = new[0]
        for i, g in ((0, gx), (1, gk)):
            h = 1e-6
            lo, hi = list(args), list(args)
            for k in np.ndindex(np.shape(args[i])):
                if i == 0:
                    lo[0], hi[0] = args[0].copy(), args[0].copy()
                    lo[0][k] -= h
                    hi[0][k] += h
                else:
                    lo[1], hi[1] = args[1] - h, args[1] + h
                assert abs((f(*hi) - f(*lo)) / (2 * h) - np.asarray(g)[k]) < 1e-6


EXPORTED = (
    ("matrices", (0, 1, 2)),
    ("lstm", (0, 1)),
    ("repeated indices", (0, 1)),
)


@pytest.mark.parametrize("name, wrt", EXPORTED)
def test_exported_modules_same_bits(name, wrt):
    from sct.export import export_source

    source, make = CASES[name]
    args = make(_rng())

    def exported(f):
        text = export_source(f, wrt=wrt)
        return P.load(text, name=None).gradient(*args), text

    new = check(source, exported)
    assert not isinstance(new, BaseException), new
    for g, e in zip(new[0], check(source, grads(wrt=wrt)(*args))[0]):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


def test_array_api_exports_same_bits():
    strict = pytest.importorskip("array_api_strict")
    from sct.export import export_source

    name, wrt = "elementwise", (0, 1, 2)
    source, make = CASES[name]
    args = make(_rng())

    def exported(f):
        module = P.load(export_source(f, wrt=wrt, xp=True), name=None)
        module.xp = strict
        grads_ = module.gradient(*[strict.asarray(a) if isinstance(a, np.ndarray) else a for a in args])
        return tuple(np.asarray(g) for g in grads_)

    new = check(source, exported)
    assert not isinstance(new, BaseException), new


def test_a_copy_of_an_adjoint_updated_in_place_folds_to_the_same_bits():
    # 59be68d: delta_ai = delta_c, where delta_c += ... updates delta_c in place, folds (the LSTM workload)
    import types

    from benchmarks import workloads

    w = workloads.BY_NAME["lstm"]
    results = []
    for old in (False, True):
        f = types.FunctionType(w.f.__code__, w.f.__globals__, w.f.__name__)  # a new function: nothing cached
        with pytest.MonkeyPatch.context() as m:
            if old:
                m.setattr(optimize, "_may_fold", _old_may_fold)
            g = sct.grad(f, wrt=w.wrt)
            results.append((g(*w.make_args()), g.source))
    (new, text), (old, before) = results
    same_bits(new, old)
    assert re.search(r"\n +delta_\w+ = delta_c\n", before) and not re.search(r"\n +delta_\w+ = delta_c\n", text)
    assert "delta_c += " in text
