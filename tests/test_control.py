"""Control flow, indexing and containers: gradients against finite differences, golden sources."""

from pathlib import Path

import functions as F
import numpy as np
import programs as P
import pytest
from conftest import assert_grads_match, numeric_grad

import sct
from sct.errors import UnsupportedSyntaxError

GOLDEN = Path(__file__).parent / "golden"

SCALAR_CASES = F.SCALAR_CONTROL_CASES


@pytest.mark.parametrize("fn, args", SCALAR_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_scalar_control_flow(fn, args):
    grads = sct.grad(fn, wrt=tuple(range(len(args))))(*args)
    assert_grads_match(fn, args, grads)


def test_rnn(rng):
    args = (
        rng.normal(size=(4, 3)),
        rng.normal(size=(4, 4)) * 0.5,
        rng.normal(size=4),
        rng.normal(size=(6, 3)),
    )
    grads = sct.grad(F.rnn, wrt=(0, 1, 2))(*args)
    assert_grads_match(F.rnn, args, grads)


def test_relu_net_list_of_matrices(rng):
    Ws = [rng.normal(size=(3, 3)) for _ in range(3)]
    x = rng.normal(size=3)
    grads = sct.grad(F.relu_net)(Ws, x)
    assert isinstance(grads, list) and len(grads) == 3
    for k in range(3):

        def f_k(W, k=k):
            return F.relu_net(Ws[:k] + [W] + Ws[k + 1 :], x)

        np.testing.assert_allclose(grads[k], numeric_grad(f_k, [Ws[k]], 0), rtol=1e-5, atol=1e-6)


def test_tuple_argument_gets_tuple_gradient(rng):
    Ws = tuple(rng.normal(size=(2, 2)) for _ in range(2))
    grads = sct.grad(F.relu_net)(Ws, np.ones(2))
    assert isinstance(grads, tuple) and len(grads) == 2


@pytest.mark.parametrize(
    "fn, make",
    [
        (F.rows, lambda r: (r.normal(size=(4, 3)), r.normal(size=3))),
        (F.indexing, lambda r: (r.normal(size=5),)),
        (F.written, lambda r: (r.normal(size=3),)),
        (F.loop_written, lambda r: (r.normal(size=4),)),
        (F.enumerate_zip, lambda r: (r.normal(size=4), r.normal(size=4))),
    ],
)
def test_indexing_and_loops_over_arrays(fn, make, rng):
    args = make(rng)
    saved = [np.copy(a) for a in args]
    grads = sct.grad(fn, wrt=tuple(range(len(args))))(*args)
    assert_grads_match(fn, args, grads)
    for a, b in zip(args, saved):
        np.testing.assert_array_equal(a, b)


def test_fancy_and_boolean_indexing_with_repeats(rng):
    x = rng.normal(size=5)
    idx = np.array([0, 2, 2, 4])
    g = sct.grad(F.fancy_indexing)(x, idx)
    expected = numeric_grad(lambda v: F.fancy_indexing(v, idx), [x], 0)
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6)


def test_writing_into_an_argument_copies_it(rng):
    def f(x):
        x[0] = x[1] * 3.0
        return np.sum(x * x)

    x = rng.normal(size=3)
    before = x.copy()
    g = sct.grad(f)(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g, [0.0, 2 * before[1] + 18 * before[1], 2 * before[2]])


def test_vjp_of_function_returning_a_tuple(rng):
    def f(x, y):
        return x * y, np.sin(x) + y

    x, y = rng.normal(size=3), rng.normal(size=3)
    (a, b), vjp_fn = sct.vjp(f, x, y)
    np.testing.assert_allclose(a, x * y)
    ca, cb = rng.normal(size=3), rng.normal(size=3)
    gx, gy = vjp_fn((ca, cb))
    np.testing.assert_allclose(gx, ca * y + cb * np.cos(x))
    np.testing.assert_allclose(gy, ca * x + cb)


def test_vjp_with_a_loop(rng):
    x = rng.normal(size=3)
    out, vjp_fn = sct.vjp(lambda v: F.rnn(np.eye(3), np.eye(3) * 0.5, v, np.ones((4, 3))), x)
    (g,) = vjp_fn(1.0)
    expected = numeric_grad(lambda v: F.rnn(np.eye(3), np.eye(3) * 0.5, v, np.ones((4, 3))), [x], 0)
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6)


def test_dict_argument(rng):
    def f(p, x):
        return np.sum(np.tanh(p["W"] @ x + p["b"]))

    p = {"W": rng.normal(size=(2, 3)), "b": rng.normal(size=2)}
    x = rng.normal(size=3)
    g = sct.grad(f)(p, x)
    assert set(g) == {"W", "b"}
    np.testing.assert_allclose(g["b"], numeric_grad(lambda b: f({"W": p["W"], "b": b}, x), [p["b"]], 0), atol=1e-6)
    np.testing.assert_allclose(g["W"], numeric_grad(lambda W: f({"W": W, "b": p["b"]}, x), [p["W"]], 0), atol=1e-6)


@pytest.mark.parametrize("fn", [F.loop_with_branch, F.branch])
def test_golden_control_flow_source(fn):
    source = sct.source(fn, wrt=tuple(range(fn.__code__.co_argcount)))
    golden = GOLDEN / f"reverse_{fn.__name__}.py"
    if not golden.exists():  # first run writes the file; review it and commit it
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(source + "\n")
    assert source + "\n" == golden.read_text()


def test_a_branch_in_a_loop_tests_its_condition_again_on_restored_values():
    source = sct.source(F.indexed_branches, wrt=(0, 1))
    assert ".append(True)" not in source and ".append(False)" not in source
    assert source.count("x_stack.append(x)\n        if x") == 2  # recorded before each ``if``
    assert source.count("x = x_stack.pop()\n        if x") == 2  # restored, then tested again
    nested = sct.source(F.nested_branches)
    assert "x = x_stack.pop()\n            if x > 0.5:" in nested  # an inner loop pops: its trips repeat
    assert "for x in reversed(x_stack):\n" in sct.source(F.while_branches)  # one record a trip: walked


def test_a_branch_whose_condition_cannot_be_tested_again_records_the_branch_it_takes():
    source = sct.source(F.squared_branches, wrt=(0, 1))
    assert source.count(".append(True)") == 1 and source.count(".append(False)") == 1
    assert "zip(reversed(range(" in source  # the reverse sweep reads the loop index too


def test_loop_records_only_what_the_reverse_sweep_reads():
    source = sct.source(F.affine_loop, wrt=(0, 1))
    # x * w reads x and w; the temporary a (= x * w) is never read by the reverse sweep.
    assert "x_stack.append(x)" in source
    assert "a_stack" not in source


def test_values_read_only_for_their_shape_are_recorded_as_shapes(rng):
    args = (rng.normal(size=(4, 3)), rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4), rng.normal(size=(6, 3)))
    source = sct.pipeline.compiled(F.rnn, [0, 1, 2], sct.pipeline.signature(args), many=True).source
    # ``j = g + i`` needs only the shapes of g and i to sum delta_j back; h itself is read by tanh's rule.
    # g = Wx @ xs[t] has one shape on every trip (read once); i = Wh @ h may not (h starts as zeros(c)).
    # i is made afresh each trip: its shape goes on the loop's tape with the trip's other values.
    assert "np.shape(i)" in source and "g_stack" not in source and "g_shape = np.shape(g)" in source
    # h's old value, carried from the trip before, goes into the same row (tests/test_loop_tapes.py)
    assert "tape.append((h, np.shape(i), " in source and "h_stack" not in source


def test_array_adjoints_accumulate_in_place_only_when_no_other_name_holds_them(rng):
    batch = (rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(5, 3)))

    def layer(W, b, x):
        a = x @ W + b  # b is broadcast over the batch: its adjoint sums axis 0 away
        return np.sum(np.tanh(a) * a) + np.sum(W * W)

    source = sct.pipeline.compiled(layer, [0, 1], sct.pipeline.signature(batch), many=True).source
    assert "delta_W += " in source  # the second use of W accumulates into the array made for the first
    assert ".sum(axis=0)" in source
    grads = sct.grad(layer, wrt=(0, 1))(*batch)
    assert_grads_match(layer, batch, grads)

    def aliased(x):
        y = x * 1.0
        z = y  # the adjoints of y and z are one array: neither may be updated in place
        return np.sum(z * z) + np.sum(y * 3.0) + np.sum(x)

    x = rng.normal(size=4)
    assert_grads_match(aliased, (x,), (sct.grad(aliased)(x),))


def test_inlined_calls_with_keywords_and_defaults(rng):
    W, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    grads = sct.grad(F.two_layers, wrt=(0, 1))(W, x)
    assert_grads_match(F.two_layers, (W, x), grads)
    source = sct.source(F.two_layers, wrt=(0, 1))
    assert "layer(" not in source and "sigmoid(" not in source  # inlined, not called
    assert "act" not in source  # the constant branch was resolved at compile time


def test_local_lambda_reads_enclosing_variables():
    grads = sct.grad(F.with_lambda, wrt=(0, 1))(0.3, 1.7)
    assert_grads_match(F.with_lambda, (0.3, 1.7), grads)


def test_closure_constant(rng):
    f = F.make_closure(2.5)
    x = rng.normal(size=4)
    np.testing.assert_allclose(sct.grad(f)(x), 2.5 * np.cos(x))


def test_recursion_gets_its_own_adjoint():
    assert sct.grad(F.recursive, wrt=1)(3, 1.5) == pytest.approx(4 * 1.5**3)
    source = sct.source(F.recursive, wrt=1)
    assert "recursive_with_vjp(" in source and "pullback(" in source


def test_recursion_over_arrays(rng):
    w, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    grads = sct.grad(F.tree_loss, wrt=(0, 1))(w, x)
    assert_grads_match(F.tree_loss, (w, x), grads)


def test_array_methods(rng):
    x, W = rng.normal(size=3), rng.normal(size=(3, 3))
    grads = sct.grad(F.method_calls, wrt=(0, 1))(x, W)
    assert_grads_match(F.method_calls, (x, W), grads)


def test_list_comprehension_and_append(rng):
    xs, w = rng.normal(size=(3, 2)), 0.7
    grads = sct.grad(F.grow_lists, wrt=(0, 1))(xs, w)
    assert_grads_match(F.grow_lists, (xs, w), grads)


def test_comprehension_over_a_literal_list_can_be_indexed():
    def f(x):
        ys = [v * v for v in [x, x * 2.0]]
        return ys[0] + ys[1]

    assert sct.grad(f)(2.0) == pytest.approx(2 * 2.0 + 8 * 2.0)


def test_writing_into_a_view_of_an_argument_read_afterwards_is_reported():
    # Python writes through the view into x; sct copies before writing (it never changes an argument), so the
    # value and gradient would silently differ from the function's own: sct says so instead (sct/frontend/aliases.py)
    source = "import numpy as np\n\n\ndef f(x):\n    y = x.T\n    y[0] = 1.0\n    return np.sum(y * x)\n"
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(UnsupportedSyntaxError, match="writes into the array `y`, and `x`"):
        sct.grad(P.load(source))(x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_writing_into_an_argument_leaves_the_callers_array_alone():
    def f(x):
        x[0] = 1.0
        return np.sum(x * x)

    x = np.array([1.0, 2.0, 3.0])
    g = sct.grad(f)(x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(g, [0.0, 4.0, 6.0])


def test_a_derivative_through_a_keyword_operand_is_reported_not_dropped():
    def f(x, y):
        return np.sum(np.clip(x, -1.0, a_max=y))

    with pytest.raises(sct.NonDifferentiableError, match="positionally") as info:
        sct.grad(f, wrt=(0, 1))(np.array([0.5, 2.0]), np.array([1.0, 1.0]))
    assert info.value.lineno is not None

    def g(x, y):
        return np.sum(np.clip(x, -1.0, y))

    np.testing.assert_allclose(sct.grad(g, wrt=1)(np.array([0.5, 2.0]), 1.0), 1.0)
