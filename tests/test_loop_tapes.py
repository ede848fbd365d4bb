"""One record a trip: a loop's row keeps the old values of what the trip carries over (issue 17 item 2).

Each case checks the gradient against central differences and forward mode against reverse
mode (``check`` from test_loop_records), and the generated source for the records: the old
value of a variable carried from trip to trip (``h`` in an RNN) goes into the loop's one row
with the values the trip makes afresh, pushed once a trip and taken back once a reversed trip.
"""

import math

import numpy as np
import programs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_loop_records import backward_code, check, source_for

import sct


def forward_code(source):
    return source.split("# backward")[0]


def rnn(Wx, Wh, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h**2)


def rnn_args(seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(3, 4)) * 0.5,
        rng.normal(size=(4, 4)) * 0.5,
        rng.normal(size=4),
        rng.normal(size=(2, 4)),
        rng.normal(size=(5, 2, 3)),
    )


def test_a_carried_value_goes_into_the_row_of_the_trip():
    args = rnn_args()
    check(rnn, args, wrt=(0, 1, 2, 3))
    source = source_for(rnn, args, (0, 1, 2, 3))
    forward, backward = forward_code(source), backward_code(source)
    assert "h_stack" not in source  # no record of its own
    assert forward.count(".append(") == 1 and "tape.append((h, " in forward  # one push a trip
    assert backward.count(".pop()") == 1 and "h, " in backward.split("tape.pop()")[0].splitlines()[-1]
    # the reversed trip reads the new h (tanh's rule) before it takes the row back with the old one
    assert backward.index("1.0 - h * h") < backward.index("tape.pop()")


def rk4(theta0, c):
    h = 0.05
    th, om = theta0, 0.0
    for _ in range(20):
        k1t, k1o = om, -math.sin(th) - c * om
        k2t = om + 0.5 * h * k1o
        k2o = -math.sin(th + 0.5 * h * k1t) - c * k2t
        th = th + h * (k1t + k2t) / 2.0
        om = om + h * (k1o + k2o) / 2.0
    return th * th + om * om


def test_two_carried_values_and_the_values_made_afresh_share_one_row():
    check(rk4, (1.2, 0.3))
    source = source_for(rk4, (1.2, 0.3), (0, 1))
    assert "_stack" not in source
    assert source.count("tape.append(") == 1 and source.count("tape.pop()") == 1
    row = next(line for line in forward_code(source).splitlines() if "tape.append(" in line)
    assert row.strip().startswith("tape.append((th, om, ")  # the old values, before th is overwritten


def lstm(Wx, Wh, b, h0, c0, xs):
    h, c = h0, c0
    n = h0.shape[1]
    for t in range(xs.shape[0]):
        z = xs[t] @ Wx + h @ Wh + b
        i = 1.0 / (1.0 + np.exp(-z[:, :n]))
        f = 1.0 / (1.0 + np.exp(-z[:, n : 2 * n]))
        g = np.tanh(z[:, 2 * n :])
        c = f * c + i * g
        h = np.tanh(c) * i
    return np.sum(h**2)


def lstm_args(seed=1):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(3, 6)) * 0.5,
        rng.normal(size=(2, 6)) * 0.5,
        rng.normal(size=6),
        rng.normal(size=(2, 2)),
        rng.normal(size=(2, 2)),
        rng.normal(size=(4, 2, 3)),
    )


def test_an_elementwise_value_of_a_changed_carried_one_is_made_again():
    """``np.tanh(c)`` is made after c is overwritten: made again in the reversed trip (as a hand-written
    LSTM does), it lets the row, pushed before ``c = ...``, keep the old c and the old h."""
    args = lstm_args()
    check(lstm, args, wrt=(0, 1, 2, 3, 4))
    source = source_for(lstm, args, (0, 1, 2, 3, 4))
    assert "_stack" not in source and "tape.append((c, h, " in source
    assert "= np.tanh(c)" in backward_code(source).split("tape.pop()")[0]  # at the top of the reversed trip


def lstm_projected(Wx, Wh, b, h0, c0, xs):
    h, c = h0, c0
    n = h0.shape[1]
    for t in range(xs.shape[0]):
        z = xs[t] @ Wx + h @ Wh + b
        i = 1.0 / (1.0 + np.exp(-z[:, :n]))
        f = 1.0 / (1.0 + np.exp(-z[:, n : 2 * n]))
        g = np.tanh(z[:, 2 * n :])
        c = f * c + i * g
        h = np.tanh(c @ Wh[:, :n]) * i  # a product of the new c: stored, not made again
    return np.sum(h**2)


def test_a_value_made_after_a_carried_one_changes_keeps_that_one_on_its_own_record():
    args = lstm_args()
    check(lstm_projected, args, wrt=(0, 1, 2, 3, 4))
    source = source_for(lstm_projected, args, (0, 1, 2, 3, 4))
    assert "c_stack.append(c)" in source and "tape.append((h, " in source


def bounce(y0, v0, restitution):
    y, v, t = y0, v0, 0.0
    while t < 1.0:
        v = v - 9.81 * 0.01
        y = y + v * 0.01
        if y < 0.0:
            y = -y
            v = -restitution * v
        t = t + 0.01
    return y + 0.3 * v


def test_a_value_pushed_twice_a_trip_stays_exact():
    """v is recorded before the step and again in the bounce: both records give back what they kept."""
    for y0 in (0.05, 1.0):  # bounces on some trips, or on none
        check(bounce, (y0, 0.5, 0.8))


def twice(x, a):
    for _ in range(4):
        b = x * a
        x = math.sin(b) + x  # x overwritten twice a trip, with a value made afresh in between
        c = x * x
        x = x - 0.1 * c
    return x


def test_a_value_overwritten_twice_a_trip():
    check(twice, (0.4, 0.9))
    source = source_for(twice, (0.4, 0.9), (0, 1))
    assert source.count(".append(") == source.count(".pop()")


def nested(x, a):
    for i in range(3):
        s = a * x
        for j in range(2):
            e = math.sin(x * s)
            x = x + 0.1 * e * x
        x = x * a
    return x


def test_a_loop_inside_another_loop():
    check(nested, (0.4, 0.9))


def breaks(x, a):
    t = 0
    while True:
        b = math.cos(0.5 * x)
        x = x + a * b * x
        t = t + 1
        if x > 3.0 or t > 20:
            break
    return x


@pytest.mark.parametrize("x", [0.2, 2.9])
def test_while_loops_that_break(x):
    check(breaks, (x, 0.7))


def first_set_in_the_loop(x, n):
    for k in range(n):
        if k == 0:
            y = x
        e = np.sin(y) * x
        y = y * e
    return np.sum(y)


@pytest.mark.parametrize("n", [1, 3])
def test_a_carried_value_first_set_in_the_loop(n):
    x = np.array([0.3, -0.4, 0.8])
    g = sct.grad(first_set_in_the_loop)(x, n)
    eps = 1e-6
    numeric = [
        (first_set_in_the_loop(x + eps * e, n) - first_set_in_the_loop(x - eps * e, n)) / (2 * eps) for e in np.eye(3)
    ]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


def test_rows_in_split_mode_and_with_checkpoints():
    """vjp's backward function takes the rows back (nonlocal); checkpointing gives the same bits."""
    args = rnn_args(2)
    out, vjp_fn = sct.vjp(rnn, *args)
    grads = sct.grad(rnn, wrt=(0, 1, 2, 3, 4))(*args)
    for got, want in zip(vjp_fn(1.0), grads):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert out == pytest.approx(rnn(*args), rel=1e-12)
    for k in (1, 2, 3):
        for got, want in zip(sct.grad(rnn, wrt=(0, 1, 2, 3, 4), checkpoint=k)(*args), grads):
            assert np.array_equal(got, want)
    first = sct.grad(rk4, wrt=(0, 1))(1.2, 0.3)
    assert sct.grad(rk4, wrt=(0, 1), checkpoint=4)(1.2, 0.3) == first


def test_second_order_through_a_row():
    first = sct.grad(twice)
    eps = 1e-5
    numeric = (first(0.4 + eps, 0.9) - first(0.4 - eps, 0.9)) / (2 * eps)
    assert sct.grad(first)(0.4, 0.9) == pytest.approx(numeric, rel=1e-6)


# ---- records whose values nobody reads (sct.passes.tapes) ------------------------------------------
def _pass(text):
    import gast

    from sct.backend.codegen import unparse
    from sct.passes.tapes import drop_unread_columns

    fn = gast.parse(text.strip()).body[0]
    changed = drop_unread_columns(fn)
    return changed, unparse(fn)


def test_the_pass_explains_itself(monkeypatch):
    import builtins
    import doctest

    import sct.passes.tapes

    monkeypatch.setattr(builtins, "_", None, raising=False)  # doctest sets builtins._: undone after the test
    assert doctest.testmod(sct.passes.tapes).failed == 0


LEFT_EMPTY = """
def grad_f(x, delta_out=1.0):
    tape = []
    for t in range(3):
        f = x * t
        tape.append((np.shape(f), np.shape(x)))
        x = np.sin(f)
    for t in reversed(range(3)):
        f_shape, x_shape = tape.pop()
        delta_out = delta_out * np.cos(x)
    return delta_out
"""


def test_a_record_left_empty_goes_with_its_pushes_and_pops():
    changed, text = _pass(LEFT_EMPTY)
    assert changed and "tape" not in text and "np.shape" not in text
    assert "delta_out = delta_out * np.cos(x)" in text


@pytest.mark.parametrize(
    "change, why",
    [
        ("f_shape, x_shape = tape.pop()\n        g = f_shape", "a column is read"),
        ("f_shape, x_shape = tape.pop()\n        g = len(tape)", "the list has another use"),
        ("f_shape = tape.pop()", "pushes and pops of different widths"),
    ],
)
def test_records_in_use_are_left_alone(change, why):
    text = LEFT_EMPTY.replace("f_shape, x_shape = tape.pop()", change)
    changed, out = _pass(text)
    assert "tape = []" in out and "tape.append(" in out and "tape.pop()" in out, why


def test_a_list_of_the_users_keeps_its_pops():
    changed, out = _pass(LEFT_EMPTY.replace("tape", "items"))
    assert not changed and "items.pop()" in out


def test_a_column_whose_push_has_an_effect_stays():
    text = LEFT_EMPTY.replace("np.shape(x)", "np.copy(x)")
    changed, out = _pass(text)
    assert "tape.append(np.copy(x))" in out and "x_shape = tape.pop()" in out


# ---- slices that tile an array: one np.concatenate (sct.reverse.gather) ----------------------------
def gates(W, x):
    z = x @ W
    n = x.shape[1]
    i = 1.0 / (1.0 + np.exp(-z[:, :n]))
    f = 1.0 / (1.0 + np.exp(-z[:, n : 2 * n]))
    o = np.tanh(z[:, 2 * n : 3 * n])
    g = np.sin(z[:, 3 * n :])
    return np.sum(i * f + o * g * g)


def gate_args(seed=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 12)) * 0.5, rng.normal(size=(2, 3))


def test_slices_that_tile_an_axis_are_joined():
    args = gate_args()
    check(gates, args, wrt=(0, 1))
    source = source_for(gates, args, (0, 1))
    assert "np.concatenate((delta_" in source and ", axis=1)" in source
    assert "zeros_like(z)" not in source and "delta_z[" not in source


def test_slices_that_tile_an_axis_in_the_lstm():
    rng = np.random.default_rng(1)
    args = (
        rng.normal(size=(3, 6)) * 0.5,
        rng.normal(size=(2, 6)) * 0.5,
        rng.normal(size=6),
        rng.normal(size=(2, 2)),
        rng.normal(size=(2, 2)),
        rng.normal(size=(4, 2, 3)),
    )
    source = source_for(lstm, args, (0, 1, 2, 3, 4))
    assert "np.concatenate((" in source and "zeros_like(z)" not in source
    assert "z, " not in source.split("tape.append(")[1].split("\n")[0]  # z itself is not kept


def partial_gates(W, x):
    z = x @ W
    n = x.shape[1]
    return np.sum(np.sin(z[:, :n]) * np.cos(z[:, n : 2 * n]))  # the rest of z is not read


def overlapping(W, x):
    z = x @ W
    n = x.shape[1]
    return np.sum(np.sin(z[:, : 2 * n])) + np.sum(np.cos(z[:, n:]))


def by_argument(W, x, k):
    z = x @ W
    return np.sum(np.sin(z[:, :k])) + np.sum(np.cos(z[:, k:]) ** 2)  # k may be negative: not proven


def out_of_order(x):
    return np.sum(np.sin(x[4:]) * 2.0) + np.sum(np.cos(x[:2])) + np.sum(x[2:4] ** 2)


def short_axis(x):
    return np.sum(np.sin(x[:2])) + np.sum(x[2:5] ** 2) + np.sum(np.exp(x[5:]))  # pieces clip on a short x


@pytest.mark.parametrize("f", [partial_gates, overlapping])
def test_slices_that_do_not_tile_are_left_alone(f):
    args = gate_args()
    check(f, args, wrt=(0, 1))
    source = source_for(f, args, (0, 1))
    assert "np.concatenate" not in source and "zeros_like(z)" in source


def test_bounds_that_may_be_negative_are_not_proven():
    W, x = gate_args()
    for k in (-2, 0, 5):
        grads = sct.grad(by_argument, wrt=(0, 1))(W, x, k)
        check(by_argument, (W, x, k), wrt=(0, 1))
        assert "np.concatenate" not in sct.grad(by_argument, wrt=(0, 1)).source
        assert grads[0].shape == W.shape


@pytest.mark.parametrize("size", [3, 4, 6, 9])
def test_constant_bounds_in_any_order_and_clipped(size):
    x = np.linspace(-0.7, 0.9, size)
    for f in (out_of_order, short_axis):
        check(f, (x,))
        source = source_for(f, (x,), (0,))
        assert "np.concatenate((" in source and "axis=0" in source and "zeros_like(x)" not in source


def test_joined_slices_differentiate_again():
    W, x = gate_args()
    hess = sct.hessian(lambda x: gates(W, x))(x)
    first = sct.grad(lambda x: gates(W, x))
    eps = 1e-6
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = eps
        column = (first(x + e) - first(x - e)) / (2 * eps)
        np.testing.assert_allclose(hess.reshape(x.size, x.size)[:, k], column.ravel(), rtol=1e-5, atol=1e-7)


@st.composite
def tilings(draw):
    """A function of x reading x[c0:c1], x[c1:c2], ... (constant cuts, some past the end), in any order."""
    size = draw(st.integers(1, 8))
    cuts = sorted(draw(st.lists(st.integers(0, 10), min_size=1, max_size=4)))
    bounds = ["", *map(str, cuts), ""]
    pieces = [f"x[{lo}:{hi}]" for lo, hi in zip(bounds, bounds[1:])]
    ops = draw(
        st.lists(
            st.sampled_from(["np.sin({})", "{} ** 2", "np.exp(0.3 * {})", "2.0 * {}"]),
            min_size=len(pieces),
            max_size=len(pieces),
        )
    )
    terms = [f"np.sum({op.format(p)})" for op, p in zip(ops, pieces)]
    order = draw(st.permutations(terms))
    source = "import numpy as np\n\n\ndef f(x):\n    return " + " + ".join(order) + "\n"
    return source, size


def test_random_tilings_are_joined():
    f = programs.load("import numpy as np\n\n\ndef f(x):\n    return np.sum(x[3:] ** 2) + np.sum(np.sin(x[:3]))\n")
    x = np.linspace(0.1, 0.9, 5)
    assert "np.concatenate((" in source_for(f, (x,), (0,))


@settings(max_examples=40, deadline=None)
@given(tilings(), st.integers(0, 2**16))
def test_random_tilings(case, seed):
    source, size = case
    f = programs.load(source)
    x = np.random.default_rng(seed).normal(size=size) * 0.5
    g = sct.grad(f)(x)
    eps = 1e-6
    numeric = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(size)]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)
