"""``np.add.at(a, index, v)`` and ``np.subtract.at``: scatter-adds where every repeat of a position counts.

sct lowers the statement to ``a = added_at(a, index, v)`` (a copy of ``a`` with NumPy's own
``np.add.at``), so the value is Python's to the bit; the adjoint of ``v`` is the adjoint of
``a`` gathered at ``index``, summed back to ``v``'s shape. Python changes ``a``'s array in
place: wherever that change could be seen through another name (an alias, a view, a global,
the caller's object, a mutable default) sct refuses, as it does for ``a[index] += v``.
"""

import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_refused
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct.testing import check_grads

X = np.array([0.3, -0.2, 0.5, 1.0])
V = 0.7
MODES = ("rev", "fwd")


# ---- index forms ------------------------------------------------------------------------------
def repeated_list(x, v):
    z = np.zeros(4)
    np.add.at(z, [0, 0, 2], v)
    return np.sum(z * x)


def repeats_and_negatives(x, v):
    a = x * x
    np.add.at(a, np.array([0, -1, 3, 0, -4, 1]), v * x[1] + np.arange(6.0))
    return np.sum(np.sin(a) * x)


def int_index_into_rows(m, v):
    a = m * 2.0
    np.add.at(a, 1, v)  # a row
    np.add.at(a, -1, v * v)
    return np.sum(a**3)


def slice_index(x, v):
    a = x * 1.0
    np.add.at(a, slice(1, 3), v)
    return np.sum(a * a)


def bool_mask(x, v):
    a = x * 1.0
    np.add.at(a, x > 0, v)
    return np.sum(a * a)


def two_d_scatter(x, v):
    a = np.zeros((3, 3))
    np.add.at(a, (np.array([0, 0, 2]), np.array([1, 1, -1])), v * x[:3])
    return np.sum(a * a) + a[0, 1] * x[3]


def broadcast_rows(m, v):  # v (3,) into three rows of m (two of them the same)
    a = m + 0.0
    np.add.at(a, np.array([0, 2, 0]), v)
    return np.sum(np.tanh(a) * m)


def scalar_into_block(m, v):
    a = m * m
    np.add.at(a, (np.array([1, 1]), slice(None)), v)
    return np.sum(a * m)


def subtract_at(x, v):
    a = x * 1.0
    np.subtract.at(a, [0, 0, 3], v * x[:3])
    return np.sum(a * a)


def both(x, v):
    a = np.ones(4)
    np.add.at(a, [1, 1, 1], v * x[:3])
    np.subtract.at(a, [1, 2], x[2:] ** 2)
    return np.sum(np.log(a * a + 1.0))


def with_index_writes(x, v):  # a[i] = v writes into the array np.add.at made: sct's copy, owned
    a = np.zeros(4)
    np.add.at(a, [0, 0], v)
    a[1] = x[0] * a[0]
    np.add.at(a, [1, 1, 2], x[:3])
    a[0] += a[1]
    return np.sum(a * x)


M = np.array([[0.3, -0.2, 0.5], [1.0, 0.4, -0.7], [0.2, 0.9, -0.1]])
VECTOR = np.array([0.7, -0.3, 0.2])
CASES = [
    (repeated_list, (X, V)),
    (repeats_and_negatives, (X, V)),
    (int_index_into_rows, (M, VECTOR)),
    (slice_index, (X, V)),
    (bool_mask, (X, V)),
    (two_d_scatter, (X, V)),
    (broadcast_rows, (M, VECTOR)),
    (scalar_into_block, (M, V)),
    (subtract_at, (X, V)),
    (both, (X, V)),
    (with_index_writes, (X, V)),
]
IDS = [f.__name__ for f, _ in CASES]


@pytest.mark.parametrize("fn, args", CASES, ids=IDS)
def test_against_central_differences_both_modes_second_order(fn, args):
    check_grads(fn, args, modes=MODES, order=2)


@pytest.mark.parametrize("fn, args", CASES, ids=IDS)
def test_value_is_pythons_bit_for_bit(fn, args):
    copies = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    value, _ = sct.value_and_grad(fn, wrt=(0, 1))(*args)
    assert value == fn(*copies)
    assert all(np.array_equal(a, c) for a, c in zip(args, copies))  # the arguments are left alone


def test_repeated_indices_all_count():
    dx, dv = sct.grad(repeated_list, wrt=(0, 1))(X, V)
    np.testing.assert_array_equal(dx, [2 * V, 0.0, V, 0.0])
    assert dv == pytest.approx(2 * X[0] + X[2])


def accumulation_order(x):
    a = np.zeros(2)
    np.add.at(a, [0, 0, 0, 0, 1], x)
    return a[0] + a[1] * 1e-20


def test_the_accumulation_order_is_numpys():
    x = np.array([1e16, 1.0, 1.0, -1e16, 3.0])  # a sum in another order would not be 0
    value, dx = sct.value_and_grad(accumulation_order)(x)
    assert value == accumulation_order(x.copy())
    np.testing.assert_array_equal(dx, [1.0, 1.0, 1.0, 1.0, 1e-20])


def test_the_generated_line_reads_like_the_statement():
    source = sct.source(repeated_list, wrt=1)
    assert "z_1 = added_at(z, [0, 0, 2], v)" in source
    assert "delta_z_1[[0, 0, 2]]" in source
    assert "np.add.at" not in source  # the helper copies, then updates the copy


def test_jvp_agrees_with_vjp():
    t = np.array([0.1, -0.4, 0.3, 0.2])
    _, tangent = sct.jvp(repeats_and_negatives, (X, V), (t, 0.5))
    dx, dv = sct.grad(repeats_and_negatives, wrt=(0, 1))(X, V)
    assert tangent == pytest.approx(dx @ t + dv * 0.5)


def returned(x, v):
    a = x * 1.0
    np.add.at(a, [0, 0, 1], v)
    return a


def test_vjp_of_the_updated_array():
    out, pull = sct.vjp(returned, X, V)
    np.testing.assert_array_equal(out, returned(X.copy(), V))
    dx, dv = pull(np.arange(4.0))
    np.testing.assert_array_equal(dx, np.arange(4.0))
    assert dv == 0.0 + 0.0 + 1.0


def test_hessian():
    h = sct.hessian(subtract_at)(X, V)
    assert h.shape == (4, 4)
    np.testing.assert_allclose(h, h.T, atol=1e-12)


# ---- in loops and branches -------------------------------------------------------------------
def histogram(w, x, bins):
    h = np.zeros(4)
    for i in range(len(bins)):
        np.add.at(h, bins[i], w[i] * x)
    return np.sum(h**2) + h[0]


def histogram_while(w, x, bins):
    h = np.zeros(4)
    i = 0
    while i < len(bins):
        if w[i] > 0:
            np.add.at(h, bins[i], w[i] * x)
        else:
            np.subtract.at(h, [bins[i], bins[i]], w[i])
        i += 1
    return np.sum(np.tanh(h) * np.arange(1.0, 5.0))


W = np.array([0.5, -0.3, 0.8, 0.1, -0.6, 0.4])
BINS = np.array([0, 2, 0, 3, 2, 0])


@pytest.mark.parametrize("fn", [histogram, histogram_while])
def test_histogram_in_a_loop(fn):
    check_grads(fn, (W, 1.3, BINS), modes=MODES, order=2, wrt=(0, 1))
    value, _ = sct.value_and_grad(fn, wrt=(0, 1))(W, 1.3, BINS)
    assert value == fn(W, 1.3, BINS)


# ---- realistic programs ----------------------------------------------------------------------
def message_passing(W1, W2, H, src, dst, y):
    """Two rounds of a tiny graph network: messages along edges, summed at their destinations."""
    for W in (W1, W2):
        msg = np.tanh(H[src] @ W)
        agg = np.zeros((H.shape[0], W.shape[1]))
        np.add.at(agg, dst, msg)
        H = H + agg
    return np.mean((H.sum(axis=1) - y) ** 2)


def embedding_bag(E, weights, tokens, bags, target):
    """Bags of token embeddings, weighted and summed per bag (torch's EmbeddingBag(mode='sum'))."""
    out = np.zeros((3, E.shape[1]))
    np.add.at(out, bags, E[tokens] * weights[:, None])
    scores = out @ target
    return np.sum(np.log1p(np.exp(-scores)))


def _graph():
    rng = np.random.default_rng(3)
    H = rng.normal(size=(5, 3))
    src = np.array([0, 1, 2, 3, 4, 0, 2])
    dst = np.array([1, 2, 0, 0, 0, 3, 3])  # node 0 gets three messages
    return rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(3, 3)) * 0.5, H, src, dst, rng.normal(size=5)


def _bags():
    rng = np.random.default_rng(4)
    E = rng.normal(size=(6, 4))
    tokens = np.array([0, 3, 3, 5, 1, 0, 2])  # token 3 twice in bag 0, token 0 in two bags
    bags = np.array([0, 0, 0, 1, 1, 2, 2])
    return E, rng.uniform(0.5, 1.5, size=7), tokens, bags, rng.normal(size=4)


def test_graph_network_message_passing():
    args = _graph()
    check_grads(message_passing, args, modes=MODES, order=1, wrt=(0, 1, 2))
    value, _ = sct.value_and_grad(message_passing, wrt=(0, 1, 2))(*args)
    assert value == message_passing(*args)


def test_embedding_bag():
    args = _bags()
    check_grads(embedding_bag, args, modes=MODES, order=2, wrt=(0, 1))
    dE = sct.grad(embedding_bag)(*args)
    assert np.all(dE[4] == 0.0) and np.any(dE[3] != 0.0)  # token 4 is in no bag


EXPORT_SCRIPT = """
import json, sys
sys.modules["sct"] = None  # `import sct` now fails
import numpy as np
namespace = {}
exec(sys.stdin.read(), namespace)
E, w, tokens, bags, target = (np.asarray(a) for a in json.loads(sys.argv[1]))
value, grads = namespace["grad_embedding_bag"](E, w, tokens, bags, target)
print(json.dumps([float(value), [np.asarray(g).tolist() for g in grads]]))
"""


def test_export_runs_without_sct():
    import json

    from sct.export import export_source

    args = _bags()
    text = export_source(embedding_bag, wrt=(0, 1))
    assert "import sct" not in text and "def added_at" in text
    payload = json.dumps([np.asarray(a).tolist() for a in args])
    done = subprocess.run(
        [sys.executable, "-I", "-c", EXPORT_SCRIPT, payload], input=text, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    value, grads = json.loads(done.stdout)
    expected_value, expected = sct.value_and_grad(embedding_bag, wrt=(0, 1))(*args)
    assert value == expected_value
    for g, e in zip(grads, expected):
        np.testing.assert_array_equal(g, e)


# ---- random indices and shapes ---------------------------------------------------------------
@st.composite
def scatters(draw):
    n = draw(st.integers(1, 5))
    cols = draw(st.sampled_from([None, 1, 3]))
    index = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
    v_shape = draw(st.sampled_from(["scalar", "full", "row"] if cols else ["scalar", "full"]))
    subtract = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return n, cols, index, v_shape, subtract, seed


def scatter_program(a0, v, index, subtract):
    a = a0 * a0
    if subtract:
        np.subtract.at(a, index, v * a0[0])
    else:
        np.add.at(a, index, v * a0[0])
    return np.sum(np.sin(a) * a0)


@settings(max_examples=20, deadline=None)
@given(scatters())
def test_random_scatters(case):
    n, cols, index, v_shape, subtract, seed = case
    rng = np.random.default_rng(seed)
    shape = (n,) if cols is None else (n, cols)
    a0 = rng.normal(size=shape)
    block = (len(index), *shape[1:])
    v = {"scalar": 0.7, "full": rng.normal(size=block), "row": rng.normal(size=shape[1:])}[v_shape]
    index = np.array(index)
    args = (a0, v, index, subtract)
    check_grads(scatter_program, args, modes=MODES, order=1, wrt=(0, 1))
    value, _ = sct.value_and_grad(scatter_program, wrt=(0, 1))(*args)
    assert value == scatter_program(a0.copy(), v, index, subtract)


# ---- refusals: the change in place seen elsewhere -------------------------------------------
BUFFER = np.zeros(4)


def alias(x, v):
    a = x * 1.0
    b = a
    np.add.at(a, [0], v)
    return np.sum(b)


def view(x, v):
    a = x * 1.0
    b = a[1:]
    np.add.at(a, [1], v)
    return np.sum(b * b)


def alias_in_a_loop(x, v):  # b is read again in the next trip, after the update
    a = x * 1.0
    b = a
    total = 0.0
    for i in range(2):
        total = total + np.sum(b * x)
        np.add.at(a, [i], v)
    return total


def alias_bound_again_each_trip(x, v):  # b is bound again before each read: no other name sees the change
    a = x * 1.0
    total = 0.0
    for i in range(3):
        b = a
        total = total + np.sum(b * x)
        np.add.at(a, [i, 0], v)
    return total


def into_a_view(x, v):
    b = x * 1.0
    a = b[1:]
    np.add.at(a, [0], v)
    return np.sum(b * b)


def into_a_reshaped_view(x, v):
    b = x * 1.0
    a = b.reshape(2, 2)
    np.add.at(a, (0, 1), v)
    return np.sum(b * b)


def held_in_a_list(x, v):
    a = x * 1.0
    xs = [a, x]
    np.add.at(a, [0], v)
    return np.sum(xs[0])


def into_a_global(x, v):
    np.add.at(BUFFER, [1], v)
    return np.sum(BUFFER * x)


def through_a_name_of_a_global(x, v):
    W = BUFFER
    np.subtract.at(W, [1], v)
    return np.sum(W * x)


def _scatter_into(z, v):
    np.add.at(z, [0, 0], v)
    return z


def into_the_callers_array(x, v):
    z = x * 2.0
    _scatter_into(z, v)
    return np.sum(z * z)


def into_the_makers_array(x, v):  # a local def changes its maker's array: Python's closure sees it
    a = x * 1.0
    a = a * 2.0

    def update():
        np.add.at(a, [0], v)
        return 0.0

    s = update()
    return np.sum(a * a) + s


def into_a_default(x, v, buf=np.zeros(4)):  # noqa: B008 - the mutable default is the point
    np.add.at(buf, [0], v)
    return np.sum(buf * x)


def multiply_at(x, v):
    a = x * 1.0
    np.multiply.at(a, [0], v)
    return np.sum(a)


def as_a_value(x, v):
    a = x * 1.0
    r = np.add.at(a, [0], v)
    return np.sum(a) + (r is None)


def into_an_expression(x, v):
    a = x * 1.0
    np.add.at(a[1:], [0], v)
    return np.sum(a)


def with_keywords(x, v):
    a = x * 1.0
    np.add.at(a, indices=[0], b=v)
    return np.sum(a)


REFUSED = [
    (alias, "`b` \\(line \\d+\\) holds the same array"),
    (view, "`b` \\(line \\d+\\) holds the same array or a view"),
    (alias_in_a_loop, "holds the same array"),
    (into_a_view, "`b` \\(line \\d+\\) holds the same array or a view"),
    (into_a_reshaped_view, "`b` \\(line \\d+\\) holds the same array or a view"),
    (held_in_a_list, "`xs` \\(line \\d+\\) holds the same array"),
    (into_a_global, "`BUFFER` is a global"),
    (through_a_name_of_a_global, "`W` holds the global"),
    (into_the_callers_array, "`_scatter_into` changes its argument `z` in place"),
    (into_a_default, "`buf` defaults to an array"),
    (into_the_makers_array, "`a` is a variable of the function `into_the_makers_array`"),
    (multiply_at, "np.multiply.at"),
    (as_a_value, "statement of its own"),
    (into_an_expression, "the name of an array"),
    (with_keywords, "three positional arguments"),
]


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, message", REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_changes_seen_elsewhere_are_refused(fn, message, mode):
    assert_refused(fn, (X, V), message, mode)


def test_a_refusal_names_the_line():
    with pytest.raises(sct.UnsupportedSyntaxError) as info:
        sct.grad(alias)(X, V)
    assert info.value.lineno == alias.__code__.co_firstlineno + 3


def into_the_argument(x, v):  # as `x[[0, 0]] += v`: sct works on a copy, the caller's x is left alone
    np.add.at(x, [0, 0], v)
    return np.sum(x * x)


def test_into_the_argument_is_pythons_value_and_leaves_it_alone():
    x = X.copy()
    value, (dx, dv) = sct.value_and_grad(into_the_argument, wrt=(0, 1))(x, V)
    np.testing.assert_array_equal(x, X)
    assert value == into_the_argument(X.copy(), V)
    np.testing.assert_allclose(dx, 2 * (X + [2 * V, 0, 0, 0]))
    assert dv == pytest.approx(4 * (X[0] + 2 * V))


def test_an_alias_bound_again_each_trip_is_followed():
    check_grads(alias_bound_again_each_trip, (X, V), modes=MODES, order=2)
    assert sct.value_and_grad(alias_bound_again_each_trip)(X, V)[0] == alias_bound_again_each_trip(X.copy(), V)


def v_a_view_of_a(x, v):  # NumPy reads v before it changes a (as if buffered): so does the copy sct updates
    a = x * 1.0
    np.add.at(a, [1, 2, 3], a[:3] * v)
    np.add.at(a, [1, 2], a[0:2])
    return np.sum(a * a)


def test_v_a_view_of_a_is_read_before_the_update():
    check_grads(v_a_view_of_a, (X, V), modes=MODES, order=2)
    assert sct.value_and_grad(v_a_view_of_a)(X, V)[0] == v_a_view_of_a(X.copy(), V)


def an_element_read_before(x, v):  # b = a[0] of a vector is a number: the update does not reach it
    a = x * 1.0
    b = a[0]
    np.add.at(a, [0, 0], v)
    return np.sum(a * b) + b


def a_row_read_before(m, v):  # b = a[0] of a matrix is a view: the update reaches it
    a = m * 1.0
    b = a[0]
    np.add.at(a, [0, 0], v)
    return np.sum(a * b)


def test_a_number_read_before_is_followed_and_a_row_refused():
    check_grads(an_element_read_before, (X, V), modes=MODES, order=2)
    assert sct.value_and_grad(an_element_read_before)(X, V)[0] == an_element_read_before(X.copy(), V)
    for mode in MODES:
        assert_refused(a_row_read_before, (M, V), "`b` \\(line \\d+\\) holds the same array or a view", mode)


def a_copy_first(x, v):  # what the refusals suggest
    a = x * 1.0
    b = a
    a = a.copy()
    np.add.at(a, [0, 0], v)
    return np.sum(b * a)


def test_a_copy_first_is_followed():
    check_grads(a_copy_first, (X, V), modes=MODES, order=2)
