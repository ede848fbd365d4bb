"""Rules whose result is a tuple or list of arrays (np.split, np.gradient, np.linalg.qr, ...).

Their gradients are lists, one item per array. Where such a value is used twice,
the two contributions must add item by item: ``delta_parts + contribution`` on
two lists *concatenates* them, and reading ``delta_parts[0]`` afterwards gives
only the first contribution, a wrong number without an error. The rules table
marks these functions (``sequence`` in sct/rules/table.py); the last test checks
that every rule function that returns a tuple or list is marked.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg
from conftest import assert_grads_match

import sct
from sct.rules import table


def split_used_twice(x):
    parts = np.split(x, 2)
    return np.sum(np.stack(parts) * 2.0) + np.sum(np.concatenate(parts) ** 2)


def split_read_by_index_and_whole(x):
    parts = np.array_split(x, 3)
    s = 0.0
    for p in parts:
        s = s + np.sum(p**2)
    return s + np.sum(np.vstack(parts[:1]) * 3.0)


def split_stacked_two_ways(x):
    parts = np.split(x, 2)
    return np.sum(np.stack(parts) * np.stack(parts, axis=1).T)


def hsplit_twice(a):
    parts = np.hsplit(a, 2)
    return np.sum(np.stack(parts)) + np.sum(np.hstack(parts) ** 2)


def gradient_items_and_whole(a):
    g = np.gradient(a)
    return np.sum(np.stack(g) ** 2) + np.sum(g[0] * g[1])


def gradient_of_a_vector(x):
    g = np.gradient(x)  # one array, not a list
    return np.sum(g * g) + np.sum(g * x)


def qr_unpacked_and_sliced(a):
    q, r = np.linalg.qr(a)
    qr = np.linalg.qr(a)
    return np.sum(q * r[0, 0]) + np.sum(qr[1] ** 2) + np.sum(np.stack(qr[:1]))


def svd_items_twice(a):
    res = np.linalg.svd(a)
    s = res[1]
    return np.sum(s * 2.0) + np.sum(res[1] ** 2) + np.sum(np.stack(res[1:2]) * 0.5)


def eigh_items_twice(a):
    spd = a @ a.T + 4.0 * np.eye(a.shape[0])
    res = np.linalg.eigh(spd)
    w = res[0]
    return np.sum(w**2) + np.sum(np.stack(res[:1]) * 3.0) + np.sum(res[1][:, -1] ** 2 * w[-1])


def unstacked_rows(a):
    rows = [r for r in a]
    return np.sum(np.stack(rows) ** 2) + np.sum(rows[0] * rows[1])


def cho_factor_used_twice(a):
    spd = a @ a.T + 4.0 * np.eye(a.shape[0])
    c = scipy.linalg.cho_factor(spd)
    first = scipy.linalg.cho_solve(c, np.ones(a.shape[0]))
    return np.sum(first) + np.sum(np.triu(c[0]) ** 2)


RNG = np.random.default_rng(7)
VECTOR = np.linspace(0.3, 1.7, 6)
MATRIX = RNG.normal(size=(4, 4))
CASES = [
    (split_used_twice, VECTOR),
    (split_read_by_index_and_whole, VECTOR),
    (split_stacked_two_ways, VECTOR),
    (hsplit_twice, MATRIX),
    (gradient_items_and_whole, MATRIX),
    (gradient_of_a_vector, VECTOR),
    (qr_unpacked_and_sliced, MATRIX),
    (svd_items_twice, MATRIX),
    (eigh_items_twice, MATRIX),
    (unstacked_rows, MATRIX),
    (cho_factor_used_twice, MATRIX),
]
IDS = [f.__name__ for f, _ in CASES]


@pytest.mark.parametrize("fn, x", CASES, ids=IDS)
def test_reverse_mode_matches_central_differences(fn, x):
    assert_grads_match(fn, (x.copy(),), (sct.grad(fn)(x.copy()),))


@pytest.mark.parametrize("fn, x", CASES, ids=IDS)
def test_forward_mode_matches_reverse_mode(fn, x):
    tangent = RNG.normal(size=x.shape)
    _, directional = sct.jvp(fn, (x.copy(),), (tangent,))
    np.testing.assert_allclose(directional, np.sum(sct.grad(fn)(x.copy()) * tangent), rtol=1e-7, atol=1e-9)


def test_a_users_rule_returning_a_tuple_adds_item_by_item():
    def pair(x):
        return (np.sin(x), np.cos(x))

    sct.defvjp(pair, lambda g, ans, x: g[0] * np.cos(x) - g[1] * np.sin(x))

    def f(x):
        p = pair(x)
        return np.sum(np.stack(p) ** 2 * 3.0) + np.sum(p[0] * p[1]) + np.sum(np.concatenate(p))

    assert_grads_match(f, (VECTOR.copy(),), (sct.grad(f)(VECTOR.copy()),))


SAMPLES = [
    (MATRIX[:3, :3] @ MATRIX[:3, :3].T + 3 * np.eye(3),),
    (np.eye(3) * 2.0 + 0.1, 3),
    (np.eye(3) * 2.0 + 0.1, np.eye(3) + 0.5),
    (VECTOR[:3],),
    (VECTOR[:3], VECTOR[:3]),
    (VECTOR[:4], 2),
    (1.5,),
    (1.5, 0.5),
]
# Container builders (list(), zip(), sorted, ...) have their structure from sct.passes.containers' own cases;
# a user's rule (not symbolic) may return anything, so its result is taken as possibly a container.
CONTAINER_MODULES = ("sct.backend.trees", "sct.rules.containers", "builtins", "sct.backend.runtime")


def test_every_rule_function_returning_a_tuple_or_list_is_marked():
    table.load_optional()
    unmarked = []
    for entry in list(table.TABLE.values()):
        fn = entry.fn
        if (
            fn is None
            or entry.nondiff
            or not entry.symbolic
            or (getattr(fn, "__module__", "") or "").startswith(CONTAINER_MODULES)
        ):
            continue
        for args in SAMPLES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = fn(*args)
            except Exception:
                continue
            indices = isinstance(result, tuple | list) and all(np.asarray(r).dtype.kind in "iub" for r in result)
            if isinstance(result, tuple | list) and not indices and entry.sequence is None:  # np.where(c): indices
                unmarked.append(getattr(fn, "__qualname__", repr(fn)))
            break
    assert unmarked == []
