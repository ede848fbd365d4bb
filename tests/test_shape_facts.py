"""Shapes proved equal under checked facts about the arguments' dimensions (sct.analysis.shapes).

A variant compiled for a call may leave out an ``unbroadcast`` where the call's
dimensions make an operand's shape the result's (``W1.shape[1] == b1.shape[0]``);
it is reused only where those facts hold again. Every test here calls one
gradient object with shapes that do and do not broadcast, in turns, and checks
each call against central differences and against the generic variant.
"""

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import sct
from sct import pipeline
from sct.analysis import shapes
from sct.backend import cache

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import programs as P  # noqa: E402


def layer(W, b, x, y):
    a = x @ W
    h = np.tanh(a + b)
    return np.mean((h - y) ** 2)


def layer_in_turns(W, b, x, y):  # a function of its own: the variants of a function are shared by its objects
    return np.mean((np.tanh(x @ W + b) - y) ** 2)


def middle(x, z, w):
    u = x * z
    v = np.sin(u) + x
    return np.sum(v * w)


def loop(W, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h + b)
    return np.sum(h**2)


def sliced(z, c, n):
    i = z[:, :n]
    return np.sum(i * c + c)


def tail_sum(z, v):
    s = np.sum(z[1:], axis=0)  # a slice keeps its axis: s has z's last dimension only
    return np.sum(s * v)


def central(f, args, k, eps=1e-6):
    """The gradient of ``f`` by its ``k``-th argument by central differences."""
    args = [np.array(a, dtype=float) for a in args]
    out = np.zeros_like(args[k])
    for index in np.ndindex(args[k].shape):
        up = [a.copy() for a in args]
        down = [a.copy() for a in args]
        up[k][index] += eps
        down[k][index] -= eps
        out[index] = (f(*up) - f(*down)) / (2 * eps)
    return out


def generic(f, wrt, args):
    """The gradients the generic variant (for arrays of any shape) computes."""
    variant = pipeline.compiled(f, list(wrt), (None,) * len(args), many=True)
    return variant.function(*args)[1]


def layer_args(rng, b=4, y=(5, 4)):
    """Arguments of ``layer``: W (3, 4), b of length ``b``, x (5, 3), y of shape ``y``."""
    return rng.standard_normal((3, 4)), rng.standard_normal(b), rng.standard_normal((5, 3)), rng.standard_normal(y)


def check(gradient, f, wrt, args):
    found = gradient(*args)
    expected = generic(f, wrt, args)
    for k, g, e in zip(wrt, found, expected):
        assert np.shape(g) == np.shape(args[k])
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g, central(f, args, k), rtol=1e-5, atol=1e-7)


LAYER = sct.grad(layer, wrt=(0, 1, 2, 3))  # one object for every example: its variants pile up, in turns
MIDDLE = sct.grad(middle, wrt=(0, 1, 2))
LOOP = sct.grad(loop, wrt=(0, 1, 2, 3))
SIZES = st.sampled_from([1, 2, 3])


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(
    n=SIZES, i=SIZES, j=SIZES, b1=st.booleans(), y_kind=st.sampled_from(["full", "row", "column", "flat", "one"])
)
def test_a_layer_with_and_without_broadcasting(n, i, j, b1, y_kind):
    rng = np.random.default_rng(n * 100 + i * 10 + j)
    y_shape = {"full": (n, j), "row": (1, j), "column": (n, 1), "flat": (j,), "one": (1,)}[y_kind]
    args = (rng.standard_normal((i, j)), rng.standard_normal(1 if b1 else j), rng.standard_normal((n, i)))
    check(LAYER, layer, (0, 1, 2, 3), (*args, rng.standard_normal(y_shape)))


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(a=SIZES, b=SIZES, c=SIZES, x_mid=st.booleans(), z_kind=st.sampled_from(["full", "mid", "lead"]))
def test_a_middle_dimension_of_one(a, b, c, x_mid, z_kind):
    rng = np.random.default_rng(a * 100 + b * 10 + c)
    x = rng.standard_normal((a, 1 if x_mid else b, c))
    z = rng.standard_normal({"full": (a, b, c), "mid": (a, 1, c), "lead": (b, c)}[z_kind])
    w = rng.standard_normal((a, b, c))
    check(MIDDLE, middle, (0, 1, 2), (x, z, w))


@hypothesis.settings(max_examples=30, deadline=None)
@hypothesis.given(batch=SIZES, width=SIZES, steps=st.sampled_from([1, 3]), b_one=st.booleans(), h_one=st.booleans())
def test_a_loop_carried_value_and_broadcasting_into_it(batch, width, steps, b_one, h_one):
    rng = np.random.default_rng(batch * 100 + width * 10 + steps)
    W = rng.standard_normal((2, width))
    b = rng.standard_normal(1 if b_one else width)
    h0 = rng.standard_normal((1 if h_one else batch, width))
    xs = rng.standard_normal((steps, batch, 2))
    check(LOOP, loop, (0, 1, 2, 3), (W, b, h0, xs))


def test_in_turns_each_call_gets_the_variant_whose_facts_hold():
    gradient = sct.grad(layer_in_turns, wrt=(0, 1, 2, 3))
    rng = np.random.default_rng(0)
    plain = layer_args(rng)
    broad = (plain[0], rng.standard_normal(1), plain[2], rng.standard_normal((1, 4)))
    for args in (plain, broad, plain, broad, plain, plain, broad):  # the dispatcher takes over from the third call
        check(gradient, layer_in_turns, (0, 1, 2, 3), args)
    keys = list(gradient._variants)
    assert len(keys) == 2  # one for each: the second was compiled when the first's facts failed
    assert all(type(key) is sct.api.Facts and key[1] for key in keys)  # both rely on facts
    before = pipeline.STATS["compiles"]
    for args in (plain, broad, plain):
        gradient(*args)
    assert pipeline.STATS["compiles"] == before  # picked again, not compiled again


def test_the_source_states_the_facts_and_drops_the_identity_unbroadcast():
    gradient = sct.grad(layer, wrt=(0, 1, 2, 3))
    rng = np.random.default_rng(1)
    gradient(*layer_args(rng))
    header = gradient.source.splitlines()[1]
    assert "where W.shape[1] == b.shape[0]" in header
    assert "np.shape(" not in gradient.source
    # b of length 1: a's adjoint must be summed back where b broadcasts it (W of width 1 would too)
    gradient(*layer_args(rng, b=1))
    assert "b.shape[0] == 1" in gradient.source.splitlines()[1]


@pytest.mark.parametrize("name", ["mlp", "rnn", "gp"])
def test_the_workloads_specialised_source_has_no_unbroadcast_and_no_shape_record(name):
    fn, args = getattr(workloads, name), getattr(workloads, f"{name}_args")()
    gradient = sct.grad(fn, wrt=tuple(range(len(args))) if name != "gp" else (0, 1, 2))
    gradient(*args)
    assert "unbroadcast" not in gradient.source
    assert "np.shape(" not in gradient.source


def test_the_generic_variant_and_export_rely_on_no_facts():
    generic_text = sct.source(layer, wrt=(0, 1, 2, 3), generic=True)
    assert "unbroadcast" in generic_text and "where" not in generic_text.splitlines()[1]
    from sct.export import export_source

    rng = np.random.default_rng(2)
    args = layer_args(rng)
    text = export_source(layer, wrt=(0, 1, 2, 3), args=args)
    assert "unbroadcast" in text  # the exported module serves every call of these ranks: b may broadcast
    namespace = {}
    exec(compile(text, "<exported>", "exec"), namespace)
    exported = namespace["grad_layer"]
    broad = (args[0], rng.standard_normal(1), args[2], rng.standard_normal((1, 4)))
    found = exported(*broad)
    found = found[1] if isinstance(found, tuple) and len(found) == 2 and np.ndim(found[0]) == 0 else found
    for k, g in enumerate(found):
        np.testing.assert_allclose(g, central(layer, broad, k), rtol=1e-5, atol=1e-7)


def test_a_slice_keeps_its_axis_with_an_unknown_length():
    gradient = sct.grad(sliced, wrt=(0, 1))
    rng = np.random.default_rng(3)
    for z, c in [((4, 6), (4, 2)), ((4, 6), (4, 1)), ((4, 6), (2,)), ((4, 6), (1, 2))]:
        args = (rng.standard_normal(z), rng.standard_normal(c), 2)
        found = gradient(*args)
        for k in (0, 1):
            np.testing.assert_allclose(found[k], central(lambda a, b: sliced(a, b, 2), args[:2], k), rtol=1e-5)
    gradient = sct.grad(tail_sum, wrt=(0, 1))
    for z, v in [((4, 3), (4, 3)), ((4, 3), (3,)), ((4, 3), (1, 3)), ((4, 1), (4, 3))]:
        args = (rng.standard_normal(z), rng.standard_normal(v))
        check(gradient, tail_sum, (0, 1), args)


def test_facts_are_checked_on_the_arguments_and_on_patterns():
    a, b = np.ones((5, 4)), np.ones(4)
    pattern = shapes.pattern_of((a, b, 1.0, np.ones((1, 5))))
    assert pattern == ((2, 3), (3,), None, (1, 2))
    same = (((0, 1), (1, 0)),)
    one = (((1, 0), 1),)
    assert shapes.holds(same, pattern) and not shapes.holds(one, pattern)
    assert shapes.holds_for(same, (a, b)) and not shapes.holds_for(same, (a, np.ones(1)))
    assert shapes.holds_for(one, (a, np.ones(1)))
    assert shapes.fact_terms(same + one, ["W", "b"]) == ["W.shape[1] == b.shape[0]", "b.shape[0] == 1"]


def test_the_persistent_cache_keys_the_pattern_and_keeps_the_facts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SCT_CACHE", "1")
    monkeypatch.setattr(cache, "_user_rules", lambda: ())  # rules other tests registered (lambdas): not our key
    rng = np.random.default_rng(4)
    plain = layer_args(rng)
    broad = (plain[0], rng.standard_normal(1), plain[2], plain[3])
    sig = sct.backend.variants.signature(plain)
    options = {"many": True, "unit_seed": True, "grads_only": True}
    keys = []
    for args in (plain, broad):
        full = {**options, "shapes": shapes.pattern_of(args)}
        full = {"split": False, "has_aux": False, "optimize": True, "mode": "reverse", **full}
        keys.append(cache.key(layer, [0, 1, 2, 3], sig, full, sct.backend.variants._guards(layer)))
    assert keys[0] != keys[1]
    variant = pipeline.build(layer, [0, 1, 2, 3], sig, many=True, unit_seed=True, shapes=shapes.pattern_of(plain))
    assert variant.facts
    variant.function.__sct_compiled__  # compiled by sct: storable
    if cache.store(keys[0], layer, variant):
        assert cache.load(keys[0], layer).facts == variant.facts


def test_threads_calling_one_gradient_in_turns():
    gradient = sct.grad(layer, wrt=(0, 1))
    rng = np.random.default_rng(5)
    cases = []
    for b in (4, 1):
        args = layer_args(rng, b=b)
        cases.append((args, generic(layer, (0, 1), args)))
    failures = []

    def work(offset):
        for k in range(60):
            args, expected = cases[(k + offset) % 2]
            found = gradient(*args)
            if not all(np.allclose(f, e, rtol=1e-12) and np.shape(f) == np.shape(e) for f, e in zip(found, expected)):
                failures.append((offset, k))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


MASKS = st.lists(st.booleans(), min_size=12, max_size=12)


def _ones_in(shape, mask) -> tuple:
    """``shape`` with the axes ``mask`` picks set to 1 (still broadcast-compatible with what it met)."""
    return tuple(1 if m else n for n, m in zip(shape, mask))


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(P.programs(control=("for",)), st.integers(0, 2**16), MASKS)
def test_random_programs_called_with_and_without_length_1_dims_agree_with_the_generic_variant(program, seed, mask):
    f, args, _, rng = P.sample(program, seed)
    wrt = tuple(range(len(args)))
    gradient = sct.grad(f, wrt=wrt)
    bits = iter(mask * 4)
    other = [
        a if np.ndim(a) == 0 else rng.uniform(-1.5, 1.5, _ones_in(np.shape(a), [next(bits) for _ in np.shape(a)]))
        for a in args
    ]
    for call in (args, other, args, other):
        with np.errstate(all="ignore"):
            try:
                expected = generic(f, wrt, call)
            except (ValueError, ArithmeticError):
                hypothesis.assume(False)
            found = gradient(*call)
        for k, g, e in zip(wrt, found, expected):
            assert np.shape(g) == np.shape(call[k])
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12, equal_nan=True)


def products(A, v, c, r):
    s = A @ v  # (m,)
    t = A.T @ A  # (n, n)
    k = np.sum(t, axis=-1, keepdims=True)  # (n, 1)
    e = np.eye(A.shape[1])  # (n, n)
    u = (t + e) * k + r  # r: (n, n), (1, n), (n,) or (1,)
    w = s[:, None] * c  # c: (m, 1), (m, n) or (1,)
    return np.sum(u**2) + np.mean(w) + np.sum(np.mean(A, axis=0) * v)


@pytest.mark.parametrize(
    "c, r",
    [((4, 1), (3, 3)), ((4, 3), (1, 3)), ((1,), (3,)), ((4, 1), (1,)), ((1, 1), (3, 1)), ((4, 3), (3, 3))],
)
def test_products_transposes_reductions_and_new_axes(c, r):
    gradient = PRODUCTS
    rng = np.random.default_rng(6)
    A, v = rng.standard_normal((4, 3)), rng.standard_normal(3)
    for args in [(A, v, rng.standard_normal(c), rng.standard_normal(r)), (A, v, np.ones((4, 3)), np.ones((3, 3)))]:
        check(gradient, products, (0, 1, 2, 3), args)


PRODUCTS = sct.grad(products, wrt=(0, 1, 2, 3))
