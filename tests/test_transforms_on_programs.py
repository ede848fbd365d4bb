"""Every transform, option and backend on the realistic programs, against an independent answer.

tests/test_realistic_programs_2.py checks ``sct.grad``/``sct.jvp`` on programs as users write them;
here the same programs (and a few written alike) go through what else a user calls: ``vjp`` with a
cotangent that is not one, called more than once; ``value_and_grad``; Jacobians and Hessians of loops;
grads of grads; bound methods called many times; ``checkpoint=`` bit for bit; one gradient object
called with arguments of many kinds in turn; ``sct export``. The hunt that wrote these found the bugs
each test names.
"""

import math
import os
import subprocess
import sys
import threading

import numpy as np
import programs as P
import pytest
import test_realistic_programs_2 as R

import sct


def fd_jacobian(f, x, h=1e-6):
    """Central differences: ``out.shape + x.shape`` (x an array or a float)."""
    x = np.asarray(x, dtype=float)
    columns = {}
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = h
        columns[idx] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    out_shape = np.shape(next(iter(columns.values())))
    J = np.zeros(out_shape + x.shape)
    for idx, col in columns.items():
        J[(...,) + idx] = col
    return J


def same(a, b):
    la, lb = P.tree_leaves(a), P.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(la, lb))


def wrt_of(args):
    return tuple(i for i, a in enumerate(args) if R._floating(a))


_LOOPED = {"while_break_continue", "newton_sqrt", "rk4", "adam_unrolled", "rnn_rollout", "early_returns", "mlp_tree"}
LOOPS = [(f, a) for f, a, _ in R.PROGRAMS if f.__name__ in _LOOPED | {"conv1d_loops"}]


# ---- sct.vjp ------------------------------------------------------------------------------------
@pytest.mark.parametrize("f, args", LOOPS, ids=[f.__name__ for f, _ in LOOPS])
def test_vjp_fn_called_again_and_again(f, args):
    """vjp_fn(2.5) is 2.5 x the gradient, however many times it is called (the docs promise it).

    Found: the backward sweep pops the forward sweep's records, so a second call raised IndexError
    ('pop from empty list') or TypeError for every program with a loop; and for a ``while`` with a
    ``break`` the split code did not compile (``nonlocal _`` for the backward loop's own counter)."""
    wrt = wrt_of(args)
    grads = sct.grad(f, wrt=wrt)(*P.snapshot(list(args)))
    out, vjp_fn = sct.vjp(f, *P.snapshot(list(args)))
    assert out == f(*P.snapshot(list(args)))
    for scale in (2.5, 1.0, -0.5, 2.5):
        pulled = vjp_fn(scale)
        for k, i in enumerate(wrt):
            for g, p in zip(P.tree_leaves(grads[k]), P.tree_leaves(pulled[i]), strict=True):
                np.testing.assert_allclose(p, scale * np.asarray(g), rtol=1e-12, atol=1e-14)


def test_vjp_fn_of_a_vector_loop_twice_against_differences():
    def rollout(y0, k):
        y = y0
        for _ in range(4):
            y = y + 0.1 * (-k * y + np.sin(y))
        return y

    x = np.array([0.3, -0.5, 1.1])
    J = fd_jacobian(lambda z: rollout(z, 0.7), x)
    _, vjp_fn = sct.vjp(rollout, x, 0.7)
    for ct in (np.array([0.5, -2.0, 3.0]), np.array([1.0, 0.0, 0.0]), np.array([0.5, -2.0, 3.0])):
        np.testing.assert_allclose(vjp_fn(ct)[0], ct @ J, rtol=1e-6, atol=1e-8)


# ---- bound methods ------------------------------------------------------------------------------
class Model:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        y = x
        for i in range(3):
            y = np.tanh(self.w * y + i)
        return np.sum(y**2)

    def pair(self, a, b):
        return np.sum(self.w * a * b) + np.sum(np.sin(a))


def test_a_bound_method_gradient_called_many_times():
    """Found: from its third call (once the fast dispatcher was made the object's ``__call__``)
    ``sct.grad(obj.method)`` lost ``obj``: 'loss was called with 1 arguments; wrt asks for argument 1'."""
    m = Model(np.array([0.5, 1.5, -0.7]))
    x = np.array([0.3, -0.5, 1.1])
    g = sct.grad(m.loss)
    vg = sct.value_and_grad(m.pair, wrt=(0, 1))
    for k in range(5):
        z = x + 0.1 * k
        np.testing.assert_allclose(g(z), fd_jacobian(m.loss, z), rtol=1e-6, atol=1e-8)
        value, (ga, gb) = vg(z, 2.0 * z)
        assert value == m.pair(z, 2.0 * z)
        np.testing.assert_allclose(ga, fd_jacobian(lambda a, z=z: m.pair(a, 2.0 * z), z), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gb, fd_jacobian(lambda b, z=z: m.pair(z, b), 2.0 * z), rtol=1e-6, atol=1e-8)
    H = sct.hessian(m.loss)
    for k in range(3):
        z = x - 0.2 * k
        np.testing.assert_allclose(H(z), fd_jacobian(sct.grad(m.loss), z), rtol=1e-5, atol=1e-7)


# ---- Jacobians, Hessians, grads of grads on loops and branches ----------------------------------
def rollout(y0, k):
    y = y0
    for _ in range(4):
        y = y + 0.1 * (-k * y + np.sin(y))
    return y


def test_jacobians_of_a_loop_both_modes_and_by_a_scalar():
    x = np.array([0.3, -0.5, 1.1])
    J = fd_jacobian(lambda z: rollout(z, 0.7), x)
    np.testing.assert_allclose(sct.jacobian(rollout)(x, 0.7), J, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sct.jacobian(rollout, mode="fwd")(x, 0.7), J, rtol=1e-6, atol=1e-8)
    Jk = fd_jacobian(lambda k: rollout(x, float(k)), 0.7)
    np.testing.assert_allclose(sct.jacobian(rollout, wrt="k")(x, 0.7), Jk, rtol=1e-6, atol=1e-8)
    t = np.array([0.5, -2.0, 3.0])
    _, tangent = sct.jvp(rollout, (x, 0.7), (t, 1.5))
    np.testing.assert_allclose(tangent, J @ t + 1.5 * Jk, rtol=1e-6, atol=1e-8)


SECOND = [
    (R.rk4, (np.array([0.3, -0.5, 1.1]), 0.7)),
    (R.while_break_continue, (np.array([0.3, -0.5, 1.1]), 0.8)),
    (R.early_returns, (np.array([0.3, -0.5, 1.1]), -0.6)),
    (R.gmm_loglik, R.PROGRAMS[1][1]),
    (R.attention, R.PROGRAMS[2][1]),
]


@pytest.mark.parametrize("f, args", SECOND, ids=[f.__name__ for f, _ in SECOND])
def test_hessian_and_hvp_against_differences_of_the_gradient(f, args):
    args = list(args)
    g = sct.grad(f)

    def grad_at(x):
        return g(x, *args[1:])

    H = fd_jacobian(grad_at, args[0])
    np.testing.assert_allclose(sct.hessian(f)(*args), H, rtol=1e-5, atol=1e-7)
    v = np.random.default_rng(5).normal(size=np.shape(args[0]))
    rest = args[1:]
    flat = H.reshape(np.size(args[0]), np.size(args[0]))
    whole = sct.hvp(f, tuple(args), tuple([v] + [np.zeros(np.shape(a)) if np.ndim(a) else 0.0 for a in rest]))
    np.testing.assert_allclose(np.ravel(whole[0]), flat @ np.ravel(v), rtol=1e-5, atol=1e-7)


def test_grads_of_grads_through_while_break_and_early_returns():
    d2 = sct.grad(sct.grad(R.newton_sqrt))(2.0)
    assert abs(d2 - (-0.25 * 2.0**-1.5)) < 1e-9
    x = np.array([0.3, -0.5, 1.1])
    gg = sct.grad(sct.grad(R.early_returns, wrt=1), wrt=1)(x, -0.6)
    ref = fd_jacobian(lambda a: sct.grad(R.early_returns, wrt=1)(x, float(a)), -0.6)
    assert abs(gg - float(ref)) < 1e-5


def test_has_aux_value_and_grad_and_wrt_names_on_a_loop():
    x = np.array([0.3, -0.5, 1.1])

    def with_aux(x, a):
        v = R.while_break_continue(x, a)
        return v, {"v": v, "x2": x * 2}

    plain = sct.grad(R.while_break_continue, wrt=(0, 1))(x, 0.8)
    (gx, ga), aux = sct.grad(with_aux, wrt=("x", "a"), has_aux=True)(x, 0.8)
    assert same((gx, ga), plain)
    (value, aux2), (hx, ha) = sct.value_and_grad(with_aux, wrt=("x", "a"), has_aux=True)(x, 0.8)
    assert value == R.while_break_continue(x, 0.8) and same((hx, ha), plain)
    assert np.array_equal(aux["x2"], 2 * x) and aux["v"] == value


def test_grad_inside_the_differentiated_function_and_jacobians_of_a_gradient():
    x = np.array([0.3, -0.5, 1.1])

    def inner(x):
        return np.sum(sct.grad(R.rk4)(x, 0.7) * np.sin(x))

    np.testing.assert_allclose(sct.grad(inner)(x), fd_jacobian(inner, x), rtol=1e-5, atol=1e-7)
    H = fd_jacobian(lambda z: sct.grad(R.rk4)(z, 0.7), x)
    np.testing.assert_allclose(sct.jacobian(sct.grad(R.rk4))(x, 0.7), H, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sct.jacobian(sct.grad(R.rk4), mode="fwd")(x, 0.7), H, rtol=1e-5, atol=1e-7)

    def uses_vjp_twice(x):
        out, fn = sct.vjp(rollout, x, 0.7)
        return np.sum(fn(np.ones(3))[0] * fn(2.0 * x)[0]) + np.sum(out)

    np.testing.assert_allclose(sct.grad(uses_vjp_twice)(x), fd_jacobian(uses_vjp_twice, x), rtol=1e-5, atol=1e-7)


# ---- options and backends -----------------------------------------------------------------------
CHECKPOINTED = [(f, a) for f, a, _ in R.PROGRAMS if f.__name__ in {"rk4", "conv1d_loops", "early_returns", "scans"}]


@pytest.mark.parametrize("option", [1, 2, 3, True, "log", ("revolve", 1), ("revolve", 2)], ids=str)
@pytest.mark.parametrize("f, args", CHECKPOINTED, ids=[f.__name__ for f, _ in CHECKPOINTED])
def test_checkpointed_loops_give_the_plain_gradient_bit_for_bit(f, args, option):
    wrt = wrt_of(args)
    plain = sct.grad(f, wrt=wrt)(*P.snapshot(list(args)))
    assert same(sct.grad(f, wrt=wrt, checkpoint=option)(*P.snapshot(list(args))), plain)


def scalar_loop(x, a):
    s = 0.0
    for i in range(5):
        s = s + math.sin(x * i) * a + x**2 / (1.0 + a * a)
        if s > 2.0:
            s = s - 1.0
    return s


def scalar_while(x, y):
    n = 0
    while x > 0.1 and n < 50:
        x = x * 0.9 - 0.01 * y
        n += 1
    return x * y + math.exp(-x)


@pytest.mark.parametrize("f, args", [(scalar_loop, (0.3, 1.2)), (scalar_while, (1.3, 0.4)), (R.newton_sqrt, (2.0,))])
def test_numba_backend_equals_python_on_scalar_programs(f, args):
    pytest.importorskip("numba")
    wrt = tuple(range(len(args)))
    value, grads = sct.value_and_grad(f, wrt=wrt, backend="numba")(*args)
    assert value == f(*args)
    assert grads == sct.grad(f, wrt=wrt)(*args)


EXPORTED = [(f, a) for f, a, _ in R.PROGRAMS if f.__name__ in {"rk4", "gmm_loglik", "ints_and_floats", "newton_sqrt"}]


@pytest.mark.parametrize("f, args", EXPORTED, ids=[f.__name__ for f, _ in EXPORTED])
@pytest.mark.parametrize("kind", ["plain", "args"])
def test_the_exported_module_gives_sct_grads_numbers(f, args, kind):
    """Found: a module exported with ``--args`` for an int argument refused that very argument
    (its check compared ``dtype.kind`` with 'int')."""
    from sct.export import export_source

    wrt = wrt_of(args)
    text = export_source(f, wrt, args=tuple(P.snapshot(list(args))) if kind == "args" else None)
    module = {}
    exec(compile(text, f"<exported {f.__name__}>", "exec"), module)
    got = module["gradient"](*P.snapshot(list(args)))
    got = got if isinstance(got, tuple) else (got,)
    want = sct.grad(f, wrt=wrt)(*P.snapshot(list(args)))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("f, args", [(R.rk4, SECOND[0][1]), (R.early_returns, SECOND[2][1]), (rollout, SECOND[0][1])])
def test_the_exported_array_api_module_on_array_api_strict(f, args):
    xp = pytest.importorskip("array_api_strict")
    from sct.export import export_source

    text = export_source(f, 0, xp=True)
    module = {}
    exec(compile(text, f"<exported {f.__name__}>", "exec"), module)
    module["xp"] = xp
    if f is rollout:  # found: a vector value's `gradient` was that of its sum, without an error (as sct.grad refuses)
        with pytest.raises(ValueError, match="not a scalar"):
            module["gradient"](xp.asarray(args[0]), args[1])
        return
    got = module["gradient"](xp.asarray(args[0]), args[1])
    np.testing.assert_allclose(np.asarray(got), sct.grad(f)(*args), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["plain", "args"])
def test_the_exported_gradient_of_a_vector_value_is_refused(kind):
    """Found: ``gradient(x)`` of an exported module for a function with a vector value returned the
    gradient of the sum of its entries (or a float for an array argument), where sct.grad refuses."""
    from sct.export import export_source

    x = np.array([0.3, -0.5, 1.1])
    text = export_source(rollout, 0, args=(x, 0.7) if kind == "args" else None)
    module = {}
    exec(compile(text, "<exported rollout>", "exec"), module)
    with pytest.raises(ValueError):
        module["gradient"](x, 0.7)
    value, pulled = module["grad_rollout"](x, 0.7, np.array([0.5, -2.0, 3.0]))  # a vjp: still right
    np.testing.assert_allclose(
        pulled, np.array([0.5, -2.0, 3.0]) @ fd_jacobian(lambda z: rollout(z, 0.7), x), rtol=1e-6
    )


# ---- the adjoint rewrites (sct/passes/algebra.py, sct/reverse/items.py, gather.py, tapes.py) -------
# Programs built to stress them: tiling slices joined again, in-place updates between lines a rewrite
# merges, aliases, round trips, number sums, tuple results read in loops, computed and negative bounds.
def s_tiles(x):
    a = x[:2]
    b = x[2:5]
    c = x[5:]
    y = np.concatenate([c * 2.0, a, b**2])
    return np.sum(y * np.arange(y.shape[0]))


def s_tiles_neg(x):
    n = x.shape[0]
    a = x[: n - 3]
    b = x[-3:]
    return np.sum(np.concatenate([b, a]) * np.linspace(0, 1, n)) + np.sum(np.concatenate([x[:-1], x[-1:]]) ** 3)


def s_tiles_2d(X):
    top = X[:1]
    rest = X[1:]
    Y = np.concatenate([rest, top * 3.0], axis=0)
    Z = np.concatenate([X[:, 1:], X[:, :1]], axis=1)
    return np.sum(Y * Z) + np.sum(Y[0] * X[-1])


def s_merged_with_inplace(x, w):
    y = x * w
    s = np.sum(y)
    y[0] = 5.0 * s
    t = np.sum(y * x)
    y += w
    return s + t + np.sum(y**2)


def s_alias_sums(x):
    y = x
    z = y + x
    y = y * 2.0
    u = z + y + x + x
    v = u
    v = v * x
    return np.sum(v) + np.sum(u * z)


def s_round_trip(x):
    a = x.reshape(2, 3)
    b = a.reshape(6)
    c = b.T.T
    d = np.transpose(np.transpose(a))
    return np.sum(c * x) + np.sum(d.ravel() * b) + np.sum(-((-x) ** 2))


def s_number_sums(x, k):
    y = 1.0 + x + 2.0 + k + 3.0
    z = (y - 0.5) + (0.5 - k) - 1.0
    w = 2.0 * (3.0 * (z * 4.0))
    return np.sum(w * y) + k * 2.0 + 1.0


def s_tuple_in_loop(x):
    def stats(v):
        return np.mean(v), v - np.mean(v), np.max(v)

    acc = 0.0
    for i in range(3):
        m, c, mx = stats(x * (i + 1))
        acc = acc + m * mx + np.sum(c**2)
        x = x + c * 0.1
    return acc


def s_computed_bounds(x, k):
    n = x.shape[0]
    lo = n // 3
    hi = n - lo
    y = x[lo:hi] * k
    z = x[hi - 1 : lo - 1 if lo > 0 else None : -1]
    return np.sum(y**2) + np.sum(z * np.sin(z)) + np.sum(x[-n + 1 : -1] * k)


def s_slice_updates_in_loop(x):
    y = np.zeros_like(x)
    n = x.shape[0]
    for i in range(1, n):
        y[i:] = y[i:] + x[: n - i] * 0.5
        y[:i] -= x[-i:] * 0.1
    return np.sum(y**2)


def s_items_and_lists(x):
    parts = [x[i] * (i + 1.0) for i in range(x.shape[0])]
    s = parts[0]
    for p in parts[1:]:
        s = s * 0.5 + p
    first, *rest = parts
    return s + first * sum(rest) + parts[-1] ** 2


def s_reassign_sum(x, y):
    a = x + y
    b = a + x
    a = a * a
    c = b + a + y
    return np.sum(c * a)


def s_stacked_rows(x):
    rows = []
    for i in range(3):
        rows.append(x[i : i + 2] * (i + 1.0))
    M = np.stack(rows)
    return np.sum(M[:, 0] * M[:, 1]) + np.sum(np.concatenate(rows) ** 2)


_r = np.random.default_rng(3)
STRESS = [
    (s_tiles, (_r.normal(size=8),)),
    (s_tiles_neg, (_r.normal(size=7),)),
    (s_tiles_2d, (_r.normal(size=(3, 4)),)),
    (s_merged_with_inplace, (_r.normal(size=4), _r.normal(size=4))),
    (s_alias_sums, (_r.normal(size=3),)),
    (s_round_trip, (_r.normal(size=6),)),
    (s_number_sums, (_r.normal(size=3), 0.7)),
    (s_tuple_in_loop, (_r.normal(size=4),)),
    (s_computed_bounds, (_r.normal(size=7), 1.3)),
    (s_slice_updates_in_loop, (_r.normal(size=5),)),
    (s_items_and_lists, (_r.normal(size=4),)),
    (s_reassign_sum, (_r.normal(size=3), _r.normal(size=3))),
    (s_stacked_rows, (_r.normal(size=5),)),
]


@pytest.mark.parametrize("f, args", STRESS, ids=[f.__name__ for f, _ in STRESS])
def test_rewritten_adjoints_against_unoptimised_code_and_differences(f, args):
    from sct import api

    wrt = tuple(range(len(args)))
    grads = sct.grad(f, wrt=wrt)(*P.snapshot(list(args)))
    sig = api.signature(tuple(args))
    plain = api.compiled(f, list(wrt), sig, many=True, optimize=False).function(*P.snapshot(list(args)))[1]
    for i in wrt:
        np.testing.assert_allclose(grads[i], plain[i], rtol=1e-12, atol=1e-13)

        def along(x, i=i):
            full = P.snapshot(list(args))
            full[i] = float(x) if np.ndim(args[i]) == 0 else x
            return f(*full)

        np.testing.assert_allclose(grads[i], fd_jacobian(along, args[i]), rtol=1e-5, atol=1e-6)
    _, vjp_fn = sct.vjp(f, *P.snapshot(list(args)))
    for scale in (1.0, 3.0):
        for i, g in enumerate(vjp_fn(scale)):
            np.testing.assert_allclose(g, scale * np.asarray(grads[i]), rtol=1e-12, atol=1e-14)
    direction = [_r.normal(size=np.shape(a)) if np.ndim(a) else 0.7 for a in args]
    _, tangent = sct.jvp(f, tuple(P.snapshot(list(args))), tuple(direction))
    reverse = sum(float(np.vdot(grads[i], direction[i])) for i in wrt)
    assert abs(tangent - reverse) <= 1e-9 * (1.0 + abs(reverse))


# ---- one gradient object, arguments of many kinds in turn ---------------------------------------
def broadcast_pair(x, y):
    z = x * y + np.sin(x) * 2.0
    return np.sum(z * z) + np.sum(x) * np.sum(y) + np.sum(np.exp(-(y**2)))


def transposed_pair(x, y):
    return np.sum((x + y.T) ** 2 * np.sin(x))


def reduced_pair(x, y):
    return np.sum(np.sum(x, axis=0) * y) + np.sum(np.mean(x, axis=-1) ** 2)


KINDS = [
    lambda r: 0.7,
    lambda r: np.float64(0.3),
    lambda r: np.array(0.4),
    lambda r: r.normal(size=(1,)),
    lambda r: r.normal(size=3),
    lambda r: r.normal(size=(1, 3)),
    lambda r: r.normal(size=(3, 1)),
    lambda r: r.normal(size=(2, 3)),
    lambda r: r.normal(size=(3, 3)),
    lambda r: r.normal(size=(1, 1)),
]


def _as(v, like):
    return type(like)(v) if isinstance(like, float) else np.asarray(v).reshape(np.shape(like))


def _fd_pair(f, x, y):
    return fd_jacobian(lambda v: f(_as(v, x), y), x), fd_jacobian(lambda v: f(x, _as(v, y)), y)


@pytest.mark.parametrize("f", [broadcast_pair, transposed_pair, reduced_pair])
def test_one_gradient_object_called_with_arguments_of_many_kinds(f):
    """Each call picks (or compiles) a variant keyed by ranks, dtype kinds and which dimensions are
    equal or 1: in any order, every call's gradient is the right one, with its argument's shape."""
    r = np.random.default_rng(11)
    g = sct.grad(f, wrt=(0, 1))
    vg = sct.value_and_grad(f, wrt=(0, 1))
    pairs = [(i, j) for i in range(len(KINDS)) for j in range(len(KINDS))]
    r.shuffle(pairs)
    checked = 0
    for i, j in pairs[:60] + pairs[:10]:
        x, y = KINDS[i](r), KINDS[j](r)
        try:
            value = f(x, y)
        except (ValueError, AttributeError):  # shapes that do not broadcast, `0.7.T`: Python refuses
            continue
        if np.ndim(value) != 0:
            continue
        gx, gy = g(x, y)
        v, (hx, hy) = vg(x, y)
        assert v == value
        want = _fd_pair(f, x, y)
        for got, again, w, a in ((gx, hx, want[0], x), (gy, hy, want[1], y)):
            assert np.shape(got) == np.shape(a) and np.array_equal(got, again)
            assert type(got) is float if type(a) is float else True
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked > 15


def test_threads_calling_one_gradient_and_one_vjp_fn():
    f, args = next((f, a) for f, a, _ in R.PROGRAMS if f.__name__ == "while_break_continue")
    wrt = wrt_of(args)
    want = sct.grad(f, wrt=wrt)(*P.snapshot(list(args)))
    g = sct.grad(f, wrt=wrt)
    _, vjp_fn = sct.vjp(f, *P.snapshot(list(args)))
    errors = []

    def work():
        try:
            for k in range(5):
                assert same(g(*P.snapshot(list(args))), want)
                pulled = vjp_fn(float(k))
                for n, i in enumerate(wrt):
                    np.testing.assert_allclose(pulled[i], k * np.asarray(want[n]), rtol=1e-12, atol=1e-14)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# ---- the persistent cache -----------------------------------------------------------------------
_DIGEST = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import programs as P
import test_realistic_programs_2 as R
import sct
h = hashlib.sha256()
for f, args, _ in R.PROGRAMS:
    if f.__name__ not in {"rk4", "gmm_loglik", "while_break_continue", "mlp_tree", "scans", "newton_sqrt"}:
        continue
    wrt = tuple(i for i, a in enumerate(args) if R._floating(a))
    leaves = P.tree_leaves(list(sct.grad(f, wrt=wrt)(*P.snapshot(list(args)))))
    out, vjp_fn = sct.vjp(f, *P.snapshot(list(args)))
    leaves += P.tree_leaves(list(vjp_fn(1.5))) + P.tree_leaves(list(vjp_fn(-2.0)))
    for leaf in leaves:
        h.update(np.asarray(leaf, dtype=float).tobytes())
print(h.hexdigest())
"""


def test_the_persistent_cache_gives_the_numbers_it_gives_off(tmp_path):
    from pathlib import Path

    tests = str(Path(__file__).parent)
    root = str(Path(__file__).parent.parent)

    def digest(**env):
        run_env = {**os.environ, "PYTHONPATH": root, **env}
        done = subprocess.run(
            [sys.executable, "-c", _DIGEST, tests], capture_output=True, text=True, env=run_env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    off = digest(SCT_CACHE="0")
    on = {"SCT_CACHE": "1", "SCT_CACHE_DIR": str(tmp_path / "cache")}
    assert digest(**on) == off  # cold: compiled and stored
    assert any((tmp_path / "cache").iterdir())
    assert digest(**on) == off  # warm: loaded


# ---- second derivatives of np.cumprod -----------------------------------------------------------
def cumprods(x):
    return np.sum(np.cumprod(x) * x) + np.sum(np.cumprod(x[::-1]) ** 2)


def test_second_derivatives_of_cumprod_are_right_or_stop_at_a_zero():
    """Found: the Hessian of a program with np.cumprod was all NaN (RuntimeWarnings only) when an input
    was zero: the second-order rules divide by the input. Now they check it and raise."""
    x = np.array([0.5, -1.3, 0.8, 2.0])
    H = fd_jacobian(sct.grad(cumprods), x)
    np.testing.assert_allclose(sct.hessian(cumprods)(x), H, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sct.jacobian(sct.grad(cumprods))(x), H, rtol=1e-5, atol=1e-6)
    v = np.array([0.3, 1.0, -2.0, 0.5])
    np.testing.assert_allclose(sct.hvp(cumprods, (x,), (v,)), H @ v, rtol=1e-5, atol=1e-6)
    zero = np.array([0.5, 0.0, -1.2, 2.0])
    np.testing.assert_allclose(sct.grad(cumprods)(zero), fd_jacobian(cumprods, zero), rtol=1e-6, atol=1e-8)
    with pytest.raises(ZeroDivisionError, match="cumprod"):
        sct.hessian(cumprods)(zero)
    with pytest.raises(ZeroDivisionError, match="cumprod"):
        sct.jacobian(sct.grad(cumprods))(zero)


def products(x):
    return np.prod(x) + np.sum(np.prod(x.reshape(2, 2), axis=0)) + np.sum(x**2)


def test_second_derivatives_of_prod_are_right_or_stop_at_a_zero():
    """Found likewise: np.prod's Hessian was all NaN at an input with a zero."""
    x = np.array([0.5, -1.3, 0.8, 2.0])
    np.testing.assert_allclose(sct.hessian(products)(x), fd_jacobian(sct.grad(products), x), rtol=1e-5, atol=1e-6)
    for zero in (np.array([0.5, 0.0, -1.2, 2.0]), np.array([0.0, 0.0, -1.2, 2.0])):
        np.testing.assert_allclose(sct.grad(products)(zero), fd_jacobian(products, zero), rtol=1e-6, atol=1e-8)
        with pytest.raises(ZeroDivisionError, match="np.prod"):
            sct.hessian(products)(zero)


def test_a_gradient_of_a_parameter_tree_inside_the_differentiated_function():
    # was xfail: the gradient called inside ran the arrays-only generic variant, whose adjoints of the tree's
    # items were added with `+` ('dict' + 'dict'); now the variant for any argument (sct.higher.for_call)
    params, X = next(a for f, a, _ in R.PROGRAMS if f.__name__ == "mlp_tree")

    def outer(X):
        g = sct.grad(R.mlp_tree)(params, X)
        return np.sum(g["dec"]["W"] ** 2)

    np.testing.assert_allclose(sct.grad(outer)(X), fd_jacobian(outer, X), rtol=1e-5, atol=1e-6)
