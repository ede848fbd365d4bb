"""Iteration idioms and the statements users leave in (issue 13, items 5 and 7).

Every function here is checked twice: its value through sct must be what Python
computes, and its derivatives must match central differences in both modes.
What stays refused is refused with a typed error that names the construct and
the rewrite.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sct

X = np.array([0.5, -1.25, 2.0])


def check(f, *args, order=1):
    """sct's value is Python's, and its derivatives match central differences in both modes."""
    value, _ = sct.value_and_grad(f)(*args)
    assert value == f(*args)
    sct.check_grads(f, args, modes=("fwd", "rev"), order=order)


def refused(f, *args, error=sct.UnsupportedSyntaxError):
    with pytest.raises(error) as info:
        sct.grad(f)(*args)
    message = str(info.value)
    assert "defvjp" not in message  # never "register a rule" for a builtin
    return message


# ---- item 7: statements users leave in --------------------------------------------------
class TooBig(Exception):
    pass


def asserted(x):
    assert x > 0
    assert x < 10.0, f"x = {x:.2f} is too big"
    return x**2 * 3.0


def asserted_array(x):
    assert np.all(np.isfinite(x)), "not finite"
    return np.sum(np.sin(x) * x)


def lazy_message(xs):
    assert len(xs) > 0, f"the first item would be {xs[5]}"  # evaluated only when the assert fails
    return xs[0] * xs[1]


def test_assert_is_kept_and_differentiated_through():
    check(asserted, 2.0, order=2)
    check(asserted_array, X, order=2)
    check(lazy_message, [1.5, -2.0])


@pytest.mark.parametrize("x, args", [(-1.0, ()), (12.0, ("x = 12.00 is too big",))])
def test_a_failing_assert_raises_assertion_error_as_python_does(x, args):
    # Python's `assert c` raises AssertionError(), `assert c, msg` AssertionError(msg) (pytest rewrites
    # the asserts of this module when Python runs them, so these are written out)
    for run in (sct.grad(asserted), lambda v: sct.jvp(asserted, (v,), (1.0,)), lambda v: sct.vjp(asserted, v)):
        with pytest.raises(AssertionError) as got:
            run(x)
        assert type(got.value) is AssertionError and got.value.args == args


def test_asserts_are_dropped_under_python_O(tmp_path):
    module = tmp_path / "dropped.py"
    module.write_text(
        textwrap.dedent(
            """
            import sct

            def f(x):
                assert x > 0, "dropped under -O"
                return x * 3.0

            print(sct.grad(f)(-1.0))
            """
        )
    )
    sct_root = str(__import__("pathlib").Path(sct.__file__).parent.parent)
    out = subprocess.run(
        [sys.executable, "-O", str(module)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": sct_root, "PATH": ""},
        check=True,
    )
    assert out.stdout.strip() == "3.0"


def printed(x):
    print(f"x={x:.3f} {x!r:>12} {x!s} {x!a} {x:{8}.{2}f} {'tag'} {x * 2.0:+.1e}")
    print("plain", x, sep="|")
    return np.sin(x) * x


def test_print_with_f_strings_prints_what_python_prints(capsys, no_validation):
    # no_validation: translation validation runs printed() itself again, which prints once more
    expected_value = printed(0.75)
    expected = capsys.readouterr().out
    value, _ = sct.value_and_grad(printed)(0.75)
    assert value == expected_value
    assert capsys.readouterr().out == expected
    sct.jvp(printed, (0.75,), (1.0,))
    assert capsys.readouterr().out == expected
    sct.check_grads(printed, (0.75,), modes=("fwd", "rev"), order=2)


def f_string_value(x):
    label = f"{x:.1f}"
    return x * float(len(label))  # the string carries no derivative


def test_an_f_string_is_a_value_without_derivative():
    check(f_string_value, 12.5)


def as_float(x):
    return np.sum(x.astype(float) ** 2 * x.astype(np.float64))


def as_float_string(x):
    return np.sum(np.cos(x.astype("float64")))


def as_int(x, w):
    return np.sum(x.astype(int) * w * x)


def test_astype_float_is_the_identity_for_derivatives():
    check(as_float, X, order=2)
    check(as_float_string, X)


def test_astype_int_truncates_without_derivative():
    x, w = np.array([0.5, 1.7, -2.3]), np.array([1.0, 2.0, 3.0])
    check(as_int, x, w)  # central differences see the truncation's zero derivative too


def as_float32(x):
    return np.sum(x.astype(np.float32) * 2.0)


def test_astype_float32_rounds_the_value_as_numpy_does():
    x = np.array([0.1, 1.0 / 3.0])
    value, grad = sct.value_and_grad(as_float32)(x)
    assert value == as_float32(x)
    np.testing.assert_allclose(grad, [2.0, 2.0])


def astype_copy(x):
    return np.sum(x.astype(float, copy=False))


def test_astype_refusals_name_the_rewrite():  # x.astype(complex) is differentiated: tests/test_complex.py
    for f in (astype_copy,):
        assert "x.astype(float)" in refused(f, X)


def raising(x):
    if x > 5.0:
        raise TooBig(f"too big: {x}")
    if x < -5.0:
        raise ValueError
    return x * np.exp(x)


def raising_helper(v):
    if v < 0.0:
        raise TooBig("negative")
    return np.sqrt(v)


def calls_raising_helper(x):
    return raising_helper(x * x + 1.0) * x


def ends_in_raise(x):
    if x > 0.0:
        return x**3
    raise ValueError(f"{x} is not positive")


def raises_in_loop(xs):
    s = 0.0
    for v in xs:
        if v == 0.0:
            raise ZeroDivisionError("a zero item")
        s = s + 1.0 / v
    return s


def test_raise_in_a_branch_is_kept_in_the_forward_sweep():
    check(raising, 0.7, order=2)
    check(calls_raising_helper, 0.7)
    check(ends_in_raise, 0.7)
    check(raises_in_loop, [0.5, 2.0, -4.0])


@pytest.mark.parametrize(
    "f, x, error",
    [
        (raising, 6.0, TooBig),
        (raising, -6.0, ValueError),
        (ends_in_raise, -1.0, ValueError),
        (raises_in_loop, [1.0, 0.0], ZeroDivisionError),
    ],
)
def test_a_raised_exception_is_the_users_own(f, x, error):
    with pytest.raises(error) as expected:
        f(x)
    for run in (sct.grad(f), lambda v: sct.jvp(f, (v,), (v,)), lambda v: sct.value_and_grad(f)(v)):
        with pytest.raises(error) as got:
            run(x)
        assert type(got.value) is error and got.value.args == expected.value.args


def test_a_raise_in_an_inlined_helper_propagates():
    with pytest.raises(TooBig, match="negative"):
        sct.grad(lambda x: raising_helper(x) * 2.0)(-1.0)


def bare_raise(x):
    if x > 0:
        raise
    return x


def raise_from(x):
    if x > 0:
        raise ValueError("no") from None
    return x


def test_raise_forms_sct_does_not_model_are_refused():
    assert "raise ValueError(...)" in refused(bare_raise, 1.0)
    assert "without `from`" in refused(raise_from, 1.0)


# ---- item 5: iteration idioms -----------------------------------------------------------
def gen_sum(ws):
    return sum(w**2 for w in ws)


def gen_sum_if(xs):
    return sum(x for x in xs if x > 0)


def gen_sum_start(xs):
    return sum((np.sin(x) for x in xs), 1.5)


def gen_max(xs):
    return max(x * 2.0 for x in xs) + min(np.cos(x) for x in xs)


def gen_nested(rows):
    return sum(sum(v * v for v in row) for row in rows)


def gen_two_fors(xs, ys):
    return sum(a * b for a in xs for b in ys if a > b)


def gen_into_list(xs):
    ys = list(x * 3.0 for x in xs)
    zs = tuple(np.exp(x) for x in xs)
    return ys[0] * zs[1] + sorted(x * x for x in xs)[0]


def test_generator_expressions_consumed_at_once():
    check(gen_sum, [1.0, 2.0, -3.0])
    check(gen_sum, X)  # over an array's items
    check(gen_sum_if, [1.0, -2.0, 3.0])
    check(gen_sum_start, [0.25, 1.5])
    check(gen_max, [1.0, 3.0, 2.0])
    check(gen_nested, [[1.0, 2.0], [3.0, -0.5]])
    check(gen_two_fors, [1.0, 2.5, 0.5], [0.75, 2.0])
    check(gen_into_list, [1.0, -0.5, 0.25])


def comprehension_scope(x):
    v = x * 2.0
    ys = [v * 3.0 for v in [x, x * x]]
    zs = sum(v for v in ys)
    return v + ys[1] + zs


def comprehension_scope_nested(rows):
    return sum(sum(w for w in row) * w for row, w in zip(rows, [2.0, 3.0]))


def test_a_comprehensions_variables_are_its_own():
    check(comprehension_scope, 1.5)  # was 4x: the comprehension overwrote the function's v
    check(comprehension_scope_nested, [[1.0, 2.0], [0.5, 4.0]])


def square(v):
    return v * v


def weighted(v, w):
    return v * w


def mapped(xs):
    a = list(map(lambda v: v**3, xs))
    b = sum(map(square, xs))
    c = max(map(np.sin, xs))
    return a[1] + b + c + sum(map(weighted, xs, [1.0, 2.0]))


def filtered(xs):
    return sum(filter(lambda v: v > 0.0, xs)) + sum(filter(None, [x * (x > 0.5) for x in xs]))


def test_map_and_filter():
    check(mapped, [0.5, 1.5, -1.0])
    check(filtered, [0.25, -1.0, 2.0])


def by_key(xs):
    ys = sorted(xs, key=lambda v: -v)
    zs = sorted(xs, key=square, reverse=True)
    return ys[0] * 3.0 + ys[1] + zs[0] * zs[2] * 0.5


def by_pair_key(pairs):
    ordered = sorted(pairs, key=lambda p: p[1])
    return ordered[0][0] * 2.0 + ordered[1][0] * ordered[1][1]


def by_key_of_array(x):
    rows = sorted(x, key=abs)
    return rows[0] * 5.0 + rows[-1]


def test_sorted_with_a_key_permutes_the_items():
    check(by_key, [1.0, 3.0, -2.0])
    check(by_pair_key, [(1.0, 0.5), (2.0, -1.0), (3.0, 2.0)])
    check(by_key_of_array, X)


@given(st.lists(st.sampled_from([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]), min_size=1, max_size=6), st.booleans())
def test_sorted_with_a_key_is_stable_and_its_gradient_follows_the_items(xs, reverse):
    weights = np.arange(1.0, len(xs) + 1.0)

    def f(items):
        ordered = sorted(items, key=abs, reverse=reverse)
        return sum(w * v for w, v in zip(weights, ordered))

    value, grad = sct.value_and_grad(f)(list(xs))
    assert value == f(list(xs))
    order = sorted(range(len(xs)), key=lambda i: abs(xs[i]), reverse=reverse)  # Python's own (stable) order
    expected = np.zeros(len(xs))
    expected[order] = weights
    np.testing.assert_array_equal(grad, expected)
    tangent = sct.jvp(f, (list(xs),), ([1.0] * len(xs),))[1]
    assert tangent == pytest.approx(np.sum(expected))


def reversed_values(xs):
    ys = list(reversed(xs))
    return ys[0] * 3.0 + ys[1] + sum(reversed(xs)) * max(reversed(xs))


def reversed_dict(d):
    keys = list(reversed(d))
    return d[keys[0]] * 2.0 + d[keys[1]]


def test_reversed_as_a_value():
    check(reversed_values, [1.0, 2.0, 0.5])
    check(reversed_values, X)
    check(reversed_dict, {"a": 1.5, "b": -2.0})


def enumerate_zip(a, b):
    s = 0.0
    for i, (u, v) in enumerate(zip(a, b)):
        s = s + (i + 1.0) * u * v
    return s


def transposed_pairs(pairs):
    firsts, seconds = zip(*pairs)
    return sum(firsts) * seconds[1]


def test_enumerate_zip_and_zip_star():
    check(enumerate_zip, [1.0, 2.0], [3.0, -1.0])
    check(transposed_pairs, [(1.0, 2.0), (3.0, 4.0)])


# ---- what stays refused ----------------------------------------------------------------
def stored_generator(ws):
    g = (w**2 for w in ws)
    return sum(g)


def generator_iterated_twice(ws):
    g = (w for w in ws)
    return sum(g) + sum(g)  # Python: the second sum is 0.0


def loop_over_map(xs):
    s = 0.0
    for v in map(square, xs):
        s = s + v
    return s


def stored_reversed(xs):
    r = reversed(xs)
    return sum(r)


def reversed_of_generator(xs):
    return sum(reversed(x for x in xs))  # Python: TypeError, a generator is not reversible


def stored_filter(xs):
    f = filter(None, xs)
    return sum(f)


LAZY = [stored_generator, generator_iterated_twice, loop_over_map]
LAZY += [stored_reversed, reversed_of_generator, stored_filter]


@pytest.mark.parametrize("f", LAZY)
def test_lazy_iterators_not_consumed_at_once_are_refused(f):
    message = refused(f, [1.0, 2.0])
    assert "lazy iterator" in message and "list comprehension" in message


def lazy_inside_a_comprehension(xs):
    products = sum(v * w for v in map(np.sin, xs) for w in filter(lambda u: u > 0.0, xs))
    return products + max([v for v in (x * x for x in xs)])


def test_a_comprehension_iterates_a_lazy_iterable_at_once():
    check(lazy_inside_a_comprehension, [0.5, 0.25, -1.5])


def sum_squared(xs):
    return sum(xs) * sum(w * w for w in xs)


def sorted_weighted(x):
    ys = sorted(x)
    zs = sorted(x, key=lambda v: -v)
    return ys[0] * ys[1] + zs[0] * np.sin(zs[2])


def test_second_derivatives_through_sum_and_sorted():
    check(sum_squared, np.array([1.0, 2.0, -3.0]), order=2)
    sct.check_grads(sum_squared, ([1.0, 2.0, -3.0],), modes=("fwd",), order=2)
    check(sorted_weighted, np.array([0.5, -1.0, 2.0]), order=2)


def dot_by_zip(ws, xs):
    return sum(w * x for w, x in zip(ws, xs)) + sum(i * x for i, x in enumerate(xs))


def test_generators_over_zip_and_enumerate():
    check(dot_by_zip, [1.0, -2.0, 0.5], [0.25, 3.0, 2.0])
    check(dot_by_zip, X, X * 2.0)


def extreme_by_key(xs):
    far = max(xs, key=abs)
    near = min(xs, key=lambda v: (v - 1.0) ** 2)
    return far * 2.0 + near * np.exp(near) + max((x * x for x in xs), key=square)


def extreme_pair(pairs):
    best = max(pairs, key=lambda p: p[1])
    return best[0] * best[1]


def test_max_and_min_with_a_key():
    check(extreme_by_key, [0.5, -3.0, 1.25, 2.0])
    tie = [0.5, -3.0, 1.25, 3.0]  # |-3| = |3|: max returns the first, as Python's does, and it gets the gradient
    value, grad = sct.value_and_grad(extreme_by_key)(tie)
    assert value == extreme_by_key(tie) and grad[1] == 2.0 + 2.0 * -3.0 and grad[3] == 0.0
    check(extreme_by_key, X)
    check(extreme_pair, [(1.0, 0.5), (2.0, 3.0), (-1.0, 2.5)])
    with pytest.raises(ValueError, match="max\\(\\) arg is an empty sequence"):
        sct.grad(extreme_by_key)([])


def max_default(xs):
    return max(xs, default=0.0)


def test_max_with_a_default_is_refused_with_the_rewrite():
    assert "if len(xs) else default" in refused(max_default, [1.0])


def test_key_none_compares_the_items_themselves():
    check(lambda xs: sorted(xs, key=None)[0] * max(xs, key=None), [2.0, 1.0, 3.0])


# ---- and/or short-circuit as in Python --------------------------------------------------------
def test_and_or_in_a_condition_evaluate_only_what_python_evaluates():
    def scan(x, n):
        s, i = 0.0, 0
        while i < n and x[i] > -10.0:  # x[n] would raise IndexError
            s = s + x[i] ** 2
            i = i + 1
        return s

    def pick(x):
        xs = [x, 2.0 * x]
        k = 2
        if k < len(xs) and xs[k] > 0.0 or x > 0.5:  # xs[2] is never read
            return x * 3.0
        return x

    check(scan, X, 3)
    check(pick, 1.0)
    check(pick, 0.1)
