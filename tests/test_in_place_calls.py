"""Calls that change an array in place, and reduction keywords the rules do not model.

Each of these was differentiated silently wrong (found by hand-written realistic programs, see
docs/reliability.md): sct lowers a call as a value and never as a change to its arguments, so
``np.add.at(z, i, v)`` was read as doing nothing (the gradient by ``v`` was 0; it is now followed as a
statement, tests/test_add_at.py), ``np.negative(z, z)``
as leaving ``z`` alone (the gradient had the wrong sign), and a helper that wrote into its argument
(``z[0] += v``, ``xs.append(v)``, ``z *= v``) changed only its own copy, so even the value differed
from Python's. ``np.sum(x, where=m)`` got the gradient of ``np.sum(x)``, and ``np.max(x,
initial=c)`` a nan where ``c`` is the maximum, ``np.prod(x, initial=c)`` a gradient without the factor
``c`` and ``np.sum(x, initial=c)`` a tangent with ``c`` added. Now the calls are refused with a typed,
located error in both modes, and ``initial=`` is modelled; both are checked against central differences.
"""

import numpy as np
import pytest
from conftest import assert_refused, numeric_grad

import sct

X = np.array([0.3, -0.2, 0.5, 1.0])
V = 0.7
MASK = np.array([True, False, True, False])


def add_at_as_a_value(x, v):  # np.add.at as a statement is followed (tests/test_add_at.py); as a value it is not
    z = np.zeros(4)
    r = np.add.at(z, [0, 0, 2], v)
    return np.sum(z * x) + (r is None)


def multiply_at(x, v):
    z = np.ones(4)
    np.multiply.at(z, [0, 1], v)
    return np.sum(z * x)


def out_keyword(x, v):
    z = np.zeros(4)
    np.add(z, v, out=z)
    return np.sum(z * x)


def out_keyword_assigned(x, v):
    z = np.zeros(4)
    y = np.exp(x * v, out=z)
    return np.sum(z) + np.sum(y)


def out_positional(x, v):
    z = x * 1.0
    np.negative(z, z)
    return np.sum(z) * v


def out_of_a_method(x, v):
    z = x * v
    z.clip(0.0, 0.4, out=z)
    return np.sum(z)


def copyto(x, v):
    z = np.zeros(4)
    np.copyto(z, v)
    return np.sum(z * x)


def put(x, v):
    z = np.zeros(4)
    np.put(z, [0, 2], v)
    return np.sum(z * x)


def place(x, v):
    z = np.zeros(4)
    np.place(z, x > 0, v)
    return np.sum(z * x)


def putmask(x, v):
    z = np.zeros(4)
    np.putmask(z, x > 0, v)
    return np.sum(z * x)


def fill_diagonal(x, v):
    z = np.zeros((2, 2))
    np.fill_diagonal(z, v)
    return np.sum(z * x.reshape(2, 2))


def ufunc_where(x, v):
    return np.sum(np.exp(x * v, where=x > 0))


def median_overwrite(x, v):
    z = x * v
    m = np.median(z, overwrite_input=True)
    return m + np.sum(z * np.arange(4.0))


IN_PLACE = [
    (add_at_as_a_value, "np.add.at"),
    (multiply_at, "np.multiply.at"),
    (out_keyword, "out="),
    (out_keyword_assigned, "out="),
    (out_positional, "its `out`"),
    (out_of_a_method, "out="),
    (copyto, "np.copyto"),
    (put, "np.put"),
    (place, "np.place"),
    (putmask, "np.putmask"),
    (fill_diagonal, "np.fill_diagonal"),
    (ufunc_where, "where="),
    (median_overwrite, "overwrite_input"),
]


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, message", IN_PLACE, ids=[f.__name__ for f, _ in IN_PLACE])
def test_numpy_calls_that_write_into_an_argument_are_refused(fn, message, mode):
    assert_refused(fn, (X, V), message, mode)


def test_the_refusal_names_the_line():
    with pytest.raises(sct.UnsupportedSyntaxError) as info:
        sct.grad(multiply_at, wrt=1)(X, V)
    assert info.value.lineno == multiply_at.__code__.co_firstlineno + 2
    assert "np.multiply.at(z, [0, 1], v)" in str(info.value)


def one_hot_add(x, v):  # what the message for np.add.at says to write: repeated indices add up
    z = np.zeros(4)
    z = z + np.eye(4)[[0, 0, 2]].T @ (v * np.ones(3))
    return np.sum(z * x)


def test_the_suggested_rewrite_of_add_at_is_right():
    dx, dv = sct.grad(one_hot_add, wrt=(0, 1))(X, V)
    np.testing.assert_allclose(dx, numeric_grad(one_hot_add, (X, V), 0), atol=1e-7)
    assert dv == pytest.approx(2 * X[0] + X[2])


# ---- helpers that change their caller's objects -----------------------------------------------
def bump(z, v):
    z[0] += v
    return z


def through_bump(x, v):
    z = x * 1.0
    w = bump(z, v)
    return np.sum(z * x) + np.sum(w)


def bump_statement(z, v):
    z[0] += v


def through_bump_statement(x, v):
    z = x * 1.0
    bump_statement(z, v)
    return np.sum(z * x)


def push(xs, v):
    xs.append(v)
    return 0.0


def through_push(x, v):
    xs = [x]
    r = push(xs, v * x)
    return np.sum(xs[-1]) + r


def scale(z, v):
    z *= v
    return 2.0


def through_scale(x, v):
    z = x * 1.0
    r = scale(z, v)
    return np.sum(z * x) * r


def through_local_def(x, v):
    def grow(z):
        z[1] = v
        return 1.0

    z = x * 1.0
    return grow(z) * np.sum(z * x)


CALLER_UPDATES = [through_bump, through_bump_statement, through_push, through_scale, through_local_def]


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn", CALLER_UPDATES, ids=[f.__name__ for f in CALLER_UPDATES])
def test_a_called_function_that_changes_its_argument_is_refused(fn, mode):
    assert_refused(fn, (X, V), "changes its argument", mode)


def accumulate(s, x):
    s += np.sum(x * x)  # a number: += makes a new one, the caller's is unchanged
    return s


def copy_then_write(z, v):
    z = z.copy()
    z[0] += v
    return z


def helpers_that_do_not_change_the_callers_objects(x, v):
    return accumulate(v, x) + accumulate(0.0, x) + np.sum(copy_then_write(x, v) * x)


def test_helpers_that_rebind_or_update_numbers_still_work():
    f = helpers_that_do_not_change_the_callers_objects
    value, (dx, dv) = sct.value_and_grad(f, wrt=(0, 1))(X, V)
    assert value == f(X, V)
    np.testing.assert_allclose(dx, numeric_grad(f, (X, V), 0), atol=1e-7)
    assert dv == pytest.approx(numeric_grad(f, (X, V), 1), abs=1e-7)
    sct.check_grads(f, (X, V))


# ---- reductions with where= and initial= ------------------------------------------------------
def sum_where(x):
    return np.sum(x**2, where=MASK)


def mean_where(x):
    return np.mean(x, where=MASK)


def method_sum_where(x):
    return x.sum(where=MASK)


def std_where(x):
    return np.std(x, where=MASK)


def prod_where(x):
    return np.prod(x, where=MASK)


def min_where_initial(x):
    return np.min(x, where=MASK, initial=10.0)


REDUCTIONS = [sum_where, mean_where, method_sum_where, std_where, prod_where, min_where_initial]


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn", REDUCTIONS, ids=[f.__name__ for f in REDUCTIONS])
def test_reductions_with_where_are_refused(fn, mode):
    assert_refused(fn, (X,), "where=", mode)


def sum_initial(x):  # an added constant (the tangent added it too)
    return np.sum(x**2, initial=2.0) + np.nansum(x, initial=1.0)


def max_initial_wins(x):  # the extremum is the initial value: no element's (the gradient was nan)
    return np.max(x, initial=5.0) + np.min(x * 2.0, initial=-7.0) + np.sum(x)


def max_initial_loses(x):
    return np.max(x**2, initial=-1.0) + np.amin(x, axis=0, initial=3.0)


def prod_initial_scales(x):  # the gradient was that of np.prod(x), off by the factor 2.0
    return np.prod(x, initial=2.0) + np.nanprod(x * x, initial=-0.5)


def masked_by_multiplying(x):  # what the message says to write
    return np.sum(x**2 * MASK) + np.sum(x * MASK) / np.sum(MASK)


@pytest.mark.parametrize(
    "fn", [sum_initial, max_initial_wins, max_initial_loses, prod_initial_scales, masked_by_multiplying]
)
def test_what_is_modelled_still_works(fn):
    sct.check_grads(fn, (X,))
    assert sct.value_and_grad(fn)(X)[0] == fn(X)


def test_a_reduction_keyword_of_a_constant_is_not_refused():
    def f(x):
        c = np.max(np.array([1.0, 2.0]), initial=5.0)  # no derivative needed
        return np.sum(x) * c

    assert sct.grad(f)(X) == pytest.approx(np.full(4, 5.0))


# ---- writes into a global or a closure's array ------------------------------------------------
BUFFER = np.zeros(4)
STATE = {"k": 1.0}


def writes_a_global_array(x):
    BUFFER[0] = x[0]
    return np.sum(BUFFER * x)


def writes_a_global_dict(x):
    STATE["k"] = STATE["k"] + 1.0
    return np.sum(x) * STATE["k"]


def _accumulator():
    total = np.zeros(4)

    def step(x):
        total[1] += x[1]  # Python's total grows from call to call; sct's copy did not
        return np.sum(total * x)

    return step


accumulates_in_a_closure = _accumulator()


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn", [writes_a_global_array, writes_a_global_dict, accumulates_in_a_closure])
def test_a_write_into_a_global_or_closure_is_refused(fn, mode):
    assert_refused(fn, (X,), "writes into", mode)


def writes_its_enclosing_functions_array(x):  # an inlined local def: the write is the function's own
    acc = np.zeros(4)

    def put(v):
        acc[0] = v
        return 1.0

    r = put(x[0] * 2.0)
    return np.sum(acc * x) * r


def test_a_local_def_writing_into_its_enclosing_functions_array_is_exact():
    f = writes_its_enclosing_functions_array
    value, grad = sct.value_and_grad(f)(X)
    assert value == f(X)
    np.testing.assert_allclose(grad, numeric_grad(f, (X,), 0), atol=1e-7)


# ---- shuffles --------------------------------------------------------------------------------
def shuffle_of_a_generator_made_here(x):
    rng = np.random.default_rng(0)
    z = x * 1.0
    rng.shuffle(z)  # the value was right (the forward sweep shuffled z), the gradient unpermuted
    return np.sum(z * np.arange(4.0))


def shuffle_of_a_generator_passed_in(x, rng):
    z = x * 1.0
    rng.shuffle(z)
    return np.sum(z * np.arange(4.0))


def shuffle_of_the_module(x):
    np.random.seed(0)
    z = x * 1.0
    np.random.shuffle(z)
    return np.sum(z * np.arange(4.0))


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_shuffles_in_place_are_refused(mode):
    assert_refused(shuffle_of_a_generator_made_here, (X,), "permutes", mode)
    assert_refused(shuffle_of_the_module, (X,), "permutes", mode)
    with pytest.raises(sct.SctError, match="permutes"):
        sct.grad(shuffle_of_a_generator_passed_in)(X, np.random.default_rng(0))


def permuted_copy(x):  # what the message says to write
    rng = np.random.default_rng(0)
    z = x[rng.permutation(len(x))]
    return np.sum(z * np.arange(4.0))


def test_a_permuted_copy_is_exact():
    value, grad = sct.value_and_grad(permuted_copy)(X)
    assert value == permuted_copy(X)
    np.testing.assert_allclose(grad, numeric_grad(permuted_copy, (X,), 0), atol=1e-7)


# ---- a default array changed in place --------------------------------------------------------
def accumulates_in_its_default(x, buf=np.zeros(4)):  # noqa: B008 the point of the test
    buf[0] += x[0]  # Python: 0.3, then 0.6, ... from call to call
    return np.sum(buf * x)


def appends_to_its_default(x, seen=[]):  # noqa: B006
    seen.append(x)
    return np.sum(seen[-1]) * len(seen)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn", [accumulates_in_its_default, appends_to_its_default])
def test_a_default_changed_in_place_is_refused(fn, mode):
    assert_refused(fn, (X,), "defaults to an array", mode)


def makes_its_buffer(x, buf=None):  # what the message says to write
    buf = np.zeros(4) if buf is None else buf.copy()
    buf[0] += x[0]
    return np.sum(buf * x)


def test_a_buffer_made_inside_is_exact():
    grad = sct.grad(makes_its_buffer)
    for _ in range(2):  # the same every call, as in Python
        value, g = sct.value_and_grad(makes_its_buffer)(X)
        assert value == makes_its_buffer(X)
        np.testing.assert_allclose(grad(X), numeric_grad(makes_its_buffer, (X,), 0), atol=1e-7)


# ---- a local name for an object from outside, written into --------------------------------------
ROWS = [np.zeros(4)]


def writes_a_global_through_a_local_name(x):
    w = BUFFER
    w[0] += x[0]
    return np.sum(w * x)


def writes_an_item_of_a_global_list(x):
    row = ROWS[0]
    row[0] += x[0]
    return np.sum(row * x)


class Holder:
    def __init__(self):
        self.w = np.zeros(4)

    def loss(self, x):
        w = self.w  # the object's own array: Python changes it for good
        w[1] += x[1]
        return np.sum(w * x)


HOLDER = Holder()


def writes_an_attribute_through_a_method(x):
    return HOLDER.loss(x)


def _closure_alias():
    acc = np.zeros(4)

    def step(x):
        a = acc
        a[2] += x[2]
        return np.sum(a * x)

    return step


writes_a_closure_through_a_local_name = _closure_alias()


OUTSIDE = [
    writes_a_global_through_a_local_name,
    writes_an_item_of_a_global_list,
    writes_an_attribute_through_a_method,
    writes_a_closure_through_a_local_name,
]


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn", OUTSIDE, ids=[f.__name__ for f in OUTSIDE])
def test_a_write_through_a_local_name_for_an_outside_object_is_refused(fn, mode):
    assert_refused(fn, (X,), "holds", mode)


def writes_into_its_own_copy_of_a_global(x):
    w = BUFFER.copy()
    w[0] += x[0]
    return np.sum(w * x)


def test_a_copy_of_a_global_may_be_written():
    f = writes_into_its_own_copy_of_a_global
    value, grad = sct.value_and_grad(f)(X)
    assert value == f(X)
    np.testing.assert_allclose(grad, numeric_grad(f, (X,), 0), atol=1e-7)
