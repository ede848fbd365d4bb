"""Containers are values, nested to any depth; assignment is simultaneous (issue 12, sections 1 and 2).

Each function below was silently wrong (or crashed) before: its value must be
Python's, and its derivatives must match central differences in both modes.
"""

import contextlib
import copy

import numpy as np
import pytest

import sct

A, B, C, D = (np.arange(1.0, 5.0) + k for k in range(4))


def nested_lists(p):
    return np.sum(p[0][0] ** 2) + np.sum(p[1][1] ** 2)


def layer_params(params):
    s = 0.0
    for W, b in params:
        s = s + np.sum(W**2) + np.sum(b**2)
    return s


def list_of_dicts(layers):
    return np.sum(layers[0]["w"] * layers[1]["w"])


def dict_of_lists(params):
    return np.sum(params["ws"][0] * params["ws"][1])


def copied_list(xs):
    ys = list(xs)
    return np.sum(np.concatenate(ys) ** 2)


def _cat(args):
    return np.hstack(args)


def tuple_to_helper(a, b):
    return np.sum(_cat((a, b)) ** 2)


def list_plus_list(xs):
    return np.sum(np.hstack(xs + [np.ones(2)]) ** 2)


def tuple_plus_tuple(a, b):
    t = (a, b)
    return np.sum(np.hstack(t + (np.ones(2),)) ** 2)


def appended_tuples(w):
    layers = []
    for k in range(2):
        layers.append((w[k], w[k] * 2.0))
    s = 0.0
    for a, b in layers:
        s = s + np.sum(a * b)
    return s


def dict_keys_loop(d):
    s = 0.0
    for k in d:
        s = s + d[k] * (k + 1.0)
    return s


def dict_methods(d):
    s = 0.0
    for k, v in d.items():
        s = s + v * v
    for v in d.values():
        s = s + v
    for k in d.keys():  # noqa: SIM118 (the method is what is tested)
        s = s + d.get(k, 0.0) * d.get("missing", 2.0)
    for k in sorted(d):
        s = s * d[k]
    return s


def builtin_sum(xs):
    return sum(xs) * xs[0]


def sum_of_arrays(xs):
    return np.sum(sum(xs) ** 2)


def enumerate_zip(a, b):
    s = 0.0
    for i, (x, y) in enumerate(zip(a, b)):
        s = s + i * x * y
    return s


def zip_star(pairs):
    xs, ys = zip(*pairs)
    return xs[0] * ys[1] + xs[1] * ys[0] ** 2


def sorted_list(xs):
    ys = sorted(xs)
    return ys[0] * 2.0 + ys[1] * ys[2]


def nested_result(x):
    return {"a": [x, 2.0 * x], "b": (x**2,)}


def swap_in_for(x):
    x_prev = 1.0
    for i in range(3):
        x, x_prev = 2.0 * x, x
    return x + x_prev


def swap_in_while(x):
    x_prev = 1.0
    while x < 100.0:
        x, x_prev = 2.0 * x + x_prev, x
    return x + x_prev


def nested_target(x):
    (a, b), c = (x, 2 * x), 3 * x
    return a * b * c


def starred_target(xs):
    first, *rest = xs
    *init, last = xs
    return first * rest[0] * rest[1] + len(init) * last


def fibonacci_pair(a, b):
    for _ in range(5):
        a, b = b, a + b
    return a * b


def _pair_of_pairs(x):
    return 1.0, (x, x)


def nested_helper_result(x):
    t = _pair_of_pairs(x)
    return t[1][0] * t[1][1]


def _id(value):
    return getattr(value, "__name__", "")


CASES = [
    (nested_lists, ([(A, B), (C, D)],)),
    (nested_lists, (((A, B), (C, D)),)),
    (layer_params, ([(np.ones((2, 2)), np.ones(2)), (2 * np.ones((2, 2)), 3 * np.ones(2))],)),
    (list_of_dicts, ([{"w": A}, {"w": B}],)),
    (dict_of_lists, ({"ws": [A, B]},)),
    (copied_list, ([A, B],)),
    (tuple_to_helper, (A, B)),
    (list_plus_list, ([A, B],)),
    (tuple_plus_tuple, (A, B)),
    (appended_tuples, (A,)),
    (dict_keys_loop, ({0: 1.5, 1: 0.5},)),
    (dict_methods, ({"a": 1.5, "b": 2.0},)),
    (builtin_sum, ([1.0, 2.0, 3.0],)),
    (sum_of_arrays, ([A, B, C],)),
    (enumerate_zip, ([1.0, 2.0], [3.0, 4.0, 5.0])),
    (zip_star, ([(1.0, 2.0), (3.0, 4.0)],)),
    (sorted_list, ([3.0, 1.0, 2.0],)),
    (swap_in_for, (3.0,)),
    (swap_in_while, (3.0,)),
    (nested_target, (3.0,)),
    (starred_target, ([1.0, 2.0, 3.0],)),
    (fibonacci_pair, (1.0, 2.0)),
    (nested_helper_result, (0.7,)),
]


@pytest.mark.parametrize("f, args", CASES, ids=_id)
def test_value_is_pythons(f, args):
    expected = f(*copy.deepcopy(args))
    value, _ = sct.value_and_grad(f)(*copy.deepcopy(args))
    assert value == expected


@pytest.mark.parametrize("f, args", CASES, ids=_id)
def test_derivatives_match_central_differences(f, args):
    sct.check_grads(f, args, modes=("fwd", "rev"), order=1)


SECOND_ORDER = [nested_lists, layer_params, list_of_dicts, dict_of_lists, tuple_to_helper, appended_tuples]
SECOND_ORDER += [builtin_sum, sum_of_arrays, enumerate_zip, sorted_list, swap_in_for, swap_in_while]
SECOND_ORDER += [nested_target, fibonacci_pair, nested_helper_result]


@pytest.mark.parametrize(
    "f, args", [c for c in CASES if c[0] in SECOND_ORDER], ids=lambda c: getattr(c, "__name__", "")
)
def test_second_order(f, args):
    sct.check_grads(f, args, modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize(
    "f, args", [c for c in CASES if c[0] not in SECOND_ORDER], ids=lambda c: getattr(c, "__name__", "")
)
def test_second_order_is_right_or_refused(f, args):
    # Second derivatives through some container helpers (list(x), xs + ys, dict methods) are not
    # supported yet: those must be refused, never wrong.
    with contextlib.suppress(sct.SctError):
        sct.check_grads(f, args, modes=("fwd", "rev"), order=2)


def _structure(tree):
    if isinstance(tree, list | tuple):
        return (type(tree).__name__, [_structure(v) for v in tree])
    if isinstance(tree, dict):
        return ("dict", {k: _structure(v) for k, v in tree.items()})
    return "leaf"


@pytest.mark.parametrize("f, args", CASES, ids=_id)
def test_gradient_has_the_arguments_structure(f, args):
    grads = sct.grad(f, wrt=tuple(range(len(args))))(*copy.deepcopy(args))
    assert [_structure(g) for g in grads] == [_structure(a) for a in args]


def test_arguments_are_not_mutated():
    params = [(A.copy(), B.copy()), (C.copy(), D.copy())]
    before = copy.deepcopy(params)
    sct.grad(nested_lists)(params)
    for (w, b), (w0, b0) in zip(params, before):
        assert np.array_equal(w, w0) and np.array_equal(b, b0)


def test_nested_result_gives_cotangents_of_the_same_structure():
    out, vjp_fn = sct.vjp(nested_result, 3.0)
    assert out == nested_result(3.0)
    (g,) = vjp_fn({"a": [1.0, 1.0], "b": (1.0,)})
    assert g == pytest.approx(1.0 + 2.0 + 2 * 3.0)


def test_dict_iteration_visits_keys():
    # for k in d iterates keys, as Python does: 1.0 * 1 + 1.0 * 2 = 3.0
    assert sct.value_and_grad(dict_keys_loop)({0: 1.0, 1: 1.0})[0] == 3.0


def test_repetition_of_a_list_is_refused():
    def f(xs):
        ys = xs * 2
        return ys[0] * ys[3]

    with pytest.raises(sct.UnsupportedSyntaxError, match="list or tuple"):
        sct.grad(f)([1.0, 2.0])


def test_sorted_with_a_key_permutes_the_items():  # refused before issue 13 (tests/test_idioms13.py has more)
    def f(xs):
        return sorted(xs, key=abs)[0] * 3.0

    assert sct.value_and_grad(f)([-2.0, 1.0]) == (f([-2.0, 1.0]), [0.0, 3.0])


def _leaves(tree):
    if isinstance(tree, list | tuple):
        return [x for v in tree for x in _leaves(v)]
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    return [tree]


@pytest.mark.parametrize("f, args", CASES, ids=_id)
def test_exported_module_agrees(f, args):
    from sct.export import export_source

    wrt = tuple(range(len(args)))
    namespace = {}
    exec(compile(export_source(f, wrt=wrt), f"<export of {f.__name__}>", "exec"), namespace)
    exported = namespace["gradient"](*copy.deepcopy(args))
    expected = sct.grad(f, wrt=wrt)(*copy.deepcopy(args))
    assert [_structure(g) for g in exported] == [_structure(g) for g in expected]
    for a, b in zip(_leaves(exported), _leaves(expected)):
        assert np.allclose(a, b)


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("layer_params", "[(np.ones((2, 2)), np.ones(2)), (2.0 * np.ones((2, 2)), np.ones(2))]"),
        ("dict_methods", "{'a': 1.5, 'b': 2.0}"),
        ("zip_star", "[(1.0, 2.0), (3.0, 4.0)]"),
    ],
)
def test_sct_check_agrees_on_containers(name, arguments):
    import pathlib
    import subprocess
    import sys

    here = pathlib.Path(__file__)
    done = subprocess.run(
        [sys.executable, "-m", "sct", "check", f"{here}:{name}", "--args", arguments],
        capture_output=True,
        text=True,
        cwd=here.parent.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok:" in done.stdout


def alias_write(xs):
    ys = xs
    ys[0] = 5.0 * xs[1]
    return xs[0] * xs[1]


def alias_dict_write(d):
    d2 = d
    d2["a"] = 3.0 * d["b"]
    return d["a"] * d["b"]


def alias_append(xs):
    ys = xs
    ys.append(xs[0] * 2.0)
    return len(xs) * xs[-1]


def item_write(p):
    a = p[0]
    a[0] = 2.0 * a[1]
    return p[0][0] * p[0][1]


def copy_then_write(xs):
    ys = [x for x in xs]
    ys[0] = 10.0 * ys[1]
    return xs[0] + ys[0]


def dict_update_in_loop(d):
    for k in d:
        d[k] = d[k] * 2.0
    return d["a"] * d["b"]


def list_extend(xs):
    xs += [xs[0]]
    return sum(xs)


@pytest.mark.parametrize(
    "f, arg",
    [
        (alias_write, [1.0, 2.0]),
        (alias_dict_write, {"a": 1.0, "b": 2.0}),
        (alias_append, [1.0, 2.0]),
        (item_write, [[1.0, 2.0]]),
        (copy_then_write, [1.0, 2.0]),
        (dict_update_in_loop, {"a": 1.0, "b": 2.0}),
        (list_extend, [1.0, 2.0]),
    ],
    ids=_id,
)
def test_updates_of_shared_containers_are_exact_or_refused(f, arg):
    expected = f(copy.deepcopy(arg))
    try:
        value, _ = sct.value_and_grad(f)(copy.deepcopy(arg))
    except sct.SctError:
        return
    assert value == expected
    sct.check_grads(f, (arg,), modes=("fwd", "rev"), order=1)


def two_extremes(x, y):
    return max(x, y) * min(x, 2.0 * y)


def extremes_of_lists(xs):
    return max(xs) * min(xs) + max([xs[0], 2.0])


@pytest.mark.parametrize(
    "f, args",
    [(two_extremes, (1.0, 3.0)), (two_extremes, (3.0, 1.0)), (extremes_of_lists, ([1.0, 3.0, 2.0, 2.5],))],
    ids=_id,
)
def test_builtin_max_and_min(f, args):
    assert sct.value_and_grad(f)(*args)[0] == f(*args)
    sct.check_grads(f, args, modes=("fwd", "rev"), order=2)


def test_max_of_a_list_picks_the_first_maximum_as_python_does():
    assert sct.grad(extremes_of_lists)([1.0, 3.0, 2.0, 3.0]) == [3.0, 1.0, 0.0, 0.0]


def new_key(x, y):
    kw = {"a": x}
    kw["b"] = y
    return kw["a"] * kw["b"]


def test_adding_a_key_to_a_dict_is_refused_located():
    # it raised a KeyError from the generated code's record of the old value
    with pytest.raises(sct.UnsupportedSyntaxError, match="adding the key 'b'"):
        sct.grad(new_key)(1.0, 2.0)


def get_with_array_default(d, y):
    return np.sum(d.get("a", y) * 2.0 + d.get("z", y))


def get_of_a_float_leaf(x0, x1):
    return np.sum(np.sin(x0["c"]) + x0.get("c", np.tanh(x1)))


def test_dict_get_with_a_default_of_another_shape():
    # forward mode summed the item's tangent and the default's: a tangent of the default's shape
    sct.check_grads(get_with_array_default, ({"a": 0.5}, np.ones(3)), modes=("fwd", "rev"), order=1)


def test_a_float_in_a_dict_gets_a_float_gradient():
    grads = sct.grad(get_of_a_float_leaf)({"c": 1.5}, np.ones(3))
    assert type(grads["c"]) is float
    sct.check_grads(get_of_a_float_leaf, ({"c": 1.5}, np.ones(3)), modes=("fwd", "rev"), order=1)


def sum_with_a_start(xs, s0):
    return np.sum(sum(xs, s0) ** 2)


def test_builtin_sum_with_a_float_start_value():
    # the start value's gradient was the whole broadcast array: a TypeError for a float start
    xs = [np.ones(3), 2.0 * np.ones(3)]
    grads = sct.grad(sum_with_a_start, wrt=(0, 1))(xs, 0.5)
    assert type(grads[1]) is float
    sct.check_grads(sum_with_a_start, (xs, 0.5), modes=("fwd", "rev"), order=2)
