"""Programs as users write them (none written for sct), each differentiated and checked every way.

A Kalman filter step, a mixture-of-Gaussians likelihood with a hand-written logsumexp, softmax
attention, 1-d convolutions with loops and slices, Adam unrolled inside the loss, a Gauss-Newton
step, particles with pairwise forces, a tree of parameters, a class's method, closures with
defaults, ``enumerate``/``zip``/``reversed`` over lists of arrays, comprehensions with conditions,
``while`` with ``break``/``continue``, slice updates with negative steps, kinks of ``np.where``/
``np.maximum``/``np.clip``, repeated fancy indices, masks, scans, sorting and ``argmax`` indexing,
``np.einsum``, int/float mixing, ``@=``/``**=``, starred targets, ``math`` with NumPy...

For each: the value is Python's, bit for bit; the arguments are not changed; each gradient has
its argument's structure; reverse mode agrees with central differences along a random direction
and forward mode (``sct.jvp``) with reverse mode; and where the program is written without in-place
updates, the gradient equals JAX's (the same source run with ``np`` bound to ``jax.numpy``;
skipped without JAX; a few programs by default, all 25 with ``SCT_JAX_ALL=1``). The hunt that
wrote these found the bugs tests/test_in_place_calls.py holds (docs/reliability.md lists them).
"""

import math
import os
import types

import numpy as np
import programs as P
import pytest

import sct

rng = np.random.default_rng(20261201)


def normal(*shape):
    return rng.normal(size=shape)


# ---- the programs -------------------------------------------------------------------------------
def kalman_step(mu, P, z, F, H, Q, R):
    mu_pred = F @ mu
    P_pred = F @ P @ F.T + Q
    y = z - H @ mu_pred
    S = H @ P_pred @ H.T + R
    K = P_pred @ H.T @ np.linalg.inv(S)
    mu_new = mu_pred + K @ y
    I = np.eye(len(mu))  # noqa: E741
    P_new = (I - K @ H) @ P_pred
    sign, logdet = np.linalg.slogdet(S)
    nll = 0.5 * (y @ np.linalg.solve(S, y) + logdet + len(z) * math.log(2 * math.pi))
    return nll + np.trace(P_new) + np.sum(mu_new**2)


def gmm_loglik(x, means, log_sigmas, logits):
    log_w = logits - np.max(logits)
    log_w = log_w - np.log(np.sum(np.exp(log_w)))
    sig = np.exp(log_sigmas)
    d = (x[:, None] - means[None, :]) / sig[None, :]
    comp = -0.5 * d**2 - log_sigmas[None, :] - 0.5 * np.log(2 * np.pi) + log_w[None, :]
    m = np.max(comp, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(comp - m), axis=1))
    return -np.mean(lse)


def attention(X, Wq, Wk, Wv):
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    d = Q.shape[-1]
    scores = Q @ K.T
    scores /= np.sqrt(d)
    scores = scores - scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w /= w.sum(axis=-1, keepdims=True)
    return np.sum(np.tanh(w @ V))


def conv1d_loops(x, w, b):
    k = len(w)
    out = []
    for i in range(len(x) - k + 1):
        out.append(np.dot(x[i : i + k], w) + b)
    y = np.array(out)
    return np.sum(np.tanh(y) ** 2)


def conv1d_shifted_slices(x, w):
    k = w.shape[0]
    n = x.shape[0] - k + 1
    cols = [x[j : j + n] * w[j] for j in range(k)]
    y = np.stack(cols).sum(axis=0)
    return np.sum(y**2) / n


def adam_unrolled(w, X, y):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    b1, b2, lr, eps = 0.9, 0.999, 0.05, 1e-8
    for t in range(1, 4):
        r = X @ w - y
        g = X.T @ r / len(y)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    r = X @ w - y
    return 0.5 * np.mean(r**2)


def gauss_newton(theta, t, y):
    a, k = theta[0], theta[1]
    e = np.exp(-k * t)
    r = y - a * e
    J = np.stack([-e, a * t * e], axis=1)
    step = np.linalg.solve(J.T @ J, J.T @ r)
    theta_new = theta - step
    r2 = y - theta_new[0] * np.exp(-theta_new[1] * t)
    return np.sum(r2**2)


def particles(pos, vel, mass):
    n = pos.shape[0]
    dt = 0.01
    for _ in range(2):
        F = np.zeros_like(pos)
        for i in range(n):
            for j in range(i + 1, n):
                d = pos[j] - pos[i]
                r = np.sqrt(np.sum(d**2) + 0.1)
                f = mass[i] * mass[j] * d / r**3
                F[i] += f
                F[j] -= f
        vel = vel + dt * F / mass[:, None]
        pos = pos + dt * vel
    return np.sum(pos**2) + 0.5 * np.sum(mass[:, None] * vel**2)


def mlp_tree(params, x):
    h = x
    for layer in params["enc"]:
        h = np.tanh(h @ layer["W"] + layer["b"])
    out = h @ params["dec"]["W"] + params["dec"]["b"]
    reg = sum(np.sum(layer["W"] ** 2) for layer in params["enc"])
    return np.mean(out**2) + 1e-2 * reg


class Logistic:
    def __init__(self, W, b, scale=2.0):
        self.W = W
        self.b = b
        self.scale = scale

    def loss(self, x):
        z = self.W @ x + self.b
        return self.scale * np.sum(np.log1p(np.exp(-z)))


MODEL = Logistic(normal(3, 4), normal(3))


def method_of_a_global_object(x):
    return MODEL.loss(x) + MODEL.scale


def _make_loss(scale):
    shift = scale * 2

    def loss(x, c=scale, p=3):
        return np.sum(c * (x - shift) ** p) + scale

    return loss


_closure_loss = _make_loss(0.7)


def closure_with_defaults(x):
    return _closure_loss(x) + _closure_loss(x, 2.0, 2)


def enumerate_zip_reversed(xs, ws):
    s = 0.0
    for i, (x, w) in enumerate(zip(xs, ws)):
        s = s + (i + 1) * np.sum(x * w)
    for x in reversed(xs):
        s = 0.5 * s + np.sum(np.sin(x))
    return s


def comprehensions_with_conditions(ws, x):
    terms = [np.sum(w * x) for i, w in enumerate(ws) if i % 2 == 0]
    sq = [w**2 for w in ws if np.sum(w) > -100.0]
    return sum(terms) + np.sum(np.stack(sq))


def while_break_continue(x, a):
    y = x
    k = 0
    while True:
        k += 1
        if k % 2 == 0:
            y = y * 0.9
            continue
        y = np.cos(a * y)
        if k >= 7:
            break
    return np.sum(y)


def negative_step_slices(x):
    y = np.zeros(6)
    y[::-1] += np.concatenate([x, x])
    y[4:0:-2] = x[:2] * 3.0
    y[-1::-2] *= 2.0
    z = x[::-1] * y[:3]
    return np.sum(y * y) + np.sum(z) + np.sum(x[::-2]) + np.sum(x[-1:0:-1] ** 2)


def huber_relu_clip(x, lo, hi):
    h = np.where(np.abs(x) < 1.0, 0.5 * x**2, np.abs(x) - 0.5)
    r = np.maximum(x, 0.0) + np.minimum(x, lo)
    c = np.clip(x, lo, hi)
    return np.sum(h) + np.sum(r) + np.sum(c**2)


def repeated_fancy_indices(x, v):
    y = x.copy()
    y[[0, 0, 1]] += v  # NumPy adds once per distinct index
    z = np.zeros(4)
    z[[1, 1, 3]] = x[:3]  # the last write wins
    B = np.outer(x, x)
    B[[0, 0, 1], [1, 1, 2]] *= v
    return np.sum(y**2) + np.sum(z * x) + np.sum(B)


def boolean_masks(x, y):
    m = x > 0
    a = np.sum(x[m] ** 2)
    z = y.copy()
    z[np.logical_not(m)] = 0.0
    z[m] *= 2.0
    keep = np.abs(x) > 0.2
    return a + np.sum(z * x) + np.mean(x[keep]) + np.sum(x[np.where(x < 0)])


def scans(x):
    c = np.cumsum(x)
    p = np.cumprod(x)
    return np.sum(c * p) + np.sum(np.cumprod(x[::-1])) + np.sum(np.cumsum(x[::-1])[::-1] * x)


def sort_and_argmax(x, y):
    s = np.sort(x)
    i = np.argmax(x)
    order = np.argsort(y)
    return s[-1] * 2.0 + s[0] + x[i] * y[i] + np.sum(x[order] * np.arange(len(x))) + np.max(x) - np.min(x)


def einsums(A, B, v):
    a = np.einsum("ij,jk->ik", A, B)
    b = np.einsum("ii->", A @ A)
    c = np.einsum("ij,ij->i", A, A)
    d = np.einsum("i,i->", v, v)
    e = np.einsum("ii->i", A)
    f = np.einsum("ij,jk,ki->", A, A, A) + np.einsum("i,i,i->", v, v, v)
    return np.sum(a**2) + b + np.sum(c) * d + np.sum(e * v) + f


def ints_and_floats(x, n):
    k = len(x)
    m = x / k
    p = x * n + 3 // 2
    q = m * (k - 1) / 2
    total = 0.0
    for i in range(k):
        total += (i + 1) / k * x[i] ** 2 + i * x[i]
    return float(np.sum(p * q)) + int(k) * 0.5 + np.sum(x**2) / n + total


def symmetric_products(A, x):
    G = A.T @ A
    G @= A.T @ A
    x = x.copy()
    x **= 2
    return x @ G @ x + np.sum(A @ A.T) + np.trace(A.T @ A)


def starred_targets(xs):
    first, *mid, last = xs
    s = np.sum(first * last)
    for m in mid:
        s = s + np.sum(np.tanh(m))
    *init, tail = mid
    return s + np.sum(tail) * len(init)


def math_and_numpy(x, y):
    a = math.exp(x) * np.sin(y)
    b = math.hypot(x, y) + math.atan2(y, x)
    c = math.log1p(x * x) + np.log1p(y * y)
    d = math.pow(abs(x) + 1.0, 1.5) + np.power(abs(y) + 1.0, 2.5)
    return a + b + c + d + math.sqrt(x * x + 1.0) * np.tanh(y) + max(x, y) * 2.0 + min(x * y, 0.5)


def rnn_rollout(Wx, Wh, xs):
    h = np.zeros(Wh.shape[0])
    hs = []
    for x in xs:
        h = np.tanh(Wx @ x + Wh @ h)
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H[-1] ** 2) + 0.1 * np.sum(H)


def rk4(y0, k):
    y = y0
    dt = 0.1
    for _ in range(5):
        k1 = -k * y + np.sin(y)
        k2 = -k * (y + dt / 2 * k1) + np.sin(y + dt / 2 * k1)
        k3 = -k * (y + dt / 2 * k2) + np.sin(y + dt / 2 * k2)
        k4 = -k * (y + dt * k3) + np.sin(y + dt * k3)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum(y**2)


def newton_sqrt(a):
    x = a
    n = 0
    while n < 20:
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < 1e-12:
            break
        x = x_new
        n += 1
    return x


def tuple_returning_helper(x):
    def stats(v):
        return np.mean(v), np.std(v), v - np.mean(v)

    m, s, c = stats(x)
    _, s2, _ = stats(x**2)
    return m * s + np.sum(c**3) + s2


def labels_and_take_along(X, y):
    idx = np.argmax(X, axis=1)
    picked = np.take_along_axis(X, idx[:, None], axis=1)
    lab = X[np.arange(X.shape[0]), y]
    logp = X - np.log(np.sum(np.exp(X), axis=1, keepdims=True))
    return np.sum(picked) + np.sum(lab) - np.mean(logp[np.arange(X.shape[0]), y])


def early_returns(x, a):
    if a > 0:
        return np.sum(x * a)
    for _ in range(3):
        x = x * a
        if np.sum(x) < -100.0:
            return np.sum(x)
    return np.sum(x**2)


def matrix_functions(A):
    S = A @ A.T + np.eye(3)
    L = np.linalg.cholesky(S)
    w, V = np.linalg.eigh(S)
    return np.sum(L) + np.sum(np.linalg.inv(S)) + np.log(np.linalg.det(S)) + np.sum(w * np.arange(3.0))


# (function, arguments, whether JAX can run the same source)
PROGRAMS = [
    (
        kalman_step,
        (
            normal(2),
            np.eye(2) + 0.1 * np.ones((2, 2)),
            normal(2),
            np.array([[1.0, 0.1], [0.0, 1.0]]),
            np.array([[1.0, 0.0], [0.3, 1.0]]),
            0.01 * np.eye(2),
            0.5 * np.eye(2),
        ),
        True,
    ),
    (gmm_loglik, (normal(7), normal(3), 0.1 * normal(3), normal(3)), True),
    (attention, (normal(4, 3), normal(3, 2), normal(3, 2), normal(3, 2)), True),
    (conv1d_loops, (normal(7), normal(3), 0.3), True),
    (conv1d_shifted_slices, (normal(7), normal(3)), True),
    (adam_unrolled, (normal(3), normal(5, 3), normal(5)), True),
    (gauss_newton, (np.array([1.5, 0.7]), np.linspace(0, 2, 6), np.array([1.4, 1.0, 0.8, 0.6, 0.4, 0.3])), True),
    (particles, (normal(3, 2), normal(3, 2), np.array([1.0, 2.0, 1.5])), False),
    (
        mlp_tree,
        (
            {
                "enc": [{"W": normal(3, 4), "b": normal(4)}, {"W": normal(4, 4), "b": normal(4)}],
                "dec": {"W": normal(4, 2), "b": normal(2)},
            },
            normal(5, 3),
        ),
        True,
    ),
    (method_of_a_global_object, (normal(4),), False),
    (closure_with_defaults, (normal(3),), False),
    (enumerate_zip_reversed, ([normal(3) for _ in range(3)], [normal(3) for _ in range(3)]), True),
    (comprehensions_with_conditions, ([normal(3) for _ in range(4)], normal(3)), True),
    (while_break_continue, (normal(3), 0.8), True),
    (negative_step_slices, (normal(3),), False),
    (huber_relu_clip, (np.array([-2.0, -0.3, 0.4, 1.7, 0.9]), -0.5, 0.6), True),
    (repeated_fancy_indices, (normal(4), 0.7), False),
    (boolean_masks, (normal(6), normal(6)), False),
    (scans, (normal(5),), True),
    (scans, (np.array([0.5, 0.0, -1.2, 2.0]),), True),  # a zero: cumprod's rule must not divide by it
    (sort_and_argmax, (normal(5), normal(5)), True),
    (einsums, (normal(3, 3), normal(3, 2), normal(3)), True),
    (ints_and_floats, (normal(4), 3), False),
    (symmetric_products, (normal(3, 3), normal(3)), True),
    (starred_targets, ([normal(2) for _ in range(5)],), True),
    (math_and_numpy, (0.4, -0.8), False),
    (rnn_rollout, (normal(3, 2), 0.5 * normal(3, 3), [normal(2) for _ in range(4)]), True),
    (rk4, (normal(3), 0.8), True),
    (newton_sqrt, (2.0,), True),
    (tuple_returning_helper, (normal(5),), False),
    (labels_and_take_along, (normal(4, 3), np.array([0, 2, 1, 1])), True),
    (early_returns, (normal(3), 0.5), True),
    (early_returns, (normal(3), -0.5), True),
    (matrix_functions, (normal(3, 3),), True),
]
IDS = [f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(PROGRAMS)]


# ---- the checks ----------------------------------------------------------------------------------
def _floating(a) -> bool:
    return any(isinstance(v, float) or isinstance(v, np.ndarray) and v.dtype.kind == "f" for v in P.tree_leaves(a))


def _unchanged(before, after):
    for b, a in zip(P.tree_leaves(list(before)), P.tree_leaves(list(after)), strict=True):
        assert type(a) is type(b) and np.array_equal(a, b), "an argument was changed"


def _direction(args, seed):
    r = np.random.default_rng(seed)

    def leaf(a):
        if isinstance(a, float):
            return float(r.normal())
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            return r.normal(size=a.shape)
        return np.zeros(np.shape(a)) if isinstance(a, np.ndarray) else 0.0

    return [P.tree_map(leaf, a) for a in args]


def differentiated(f, args):
    """(wrt, value, grads, direction, <grads, direction>) with every check but JAX's done."""
    args = list(args)
    wrt = tuple(i for i, a in enumerate(args) if _floating(a))
    before = P.snapshot(args)
    expected = f(*P.snapshot(args))
    value, grads = sct.value_and_grad(f, wrt=wrt)(*args)
    _unchanged(before, args)
    assert value == expected, f"value {value!r}, Python's {expected!r}"
    assert type(value) is type(expected) or np.ndim(value) == np.ndim(expected) == 0
    for i, g in zip(wrt, grads):
        P.assert_same_structure(args[i], g, f"gradient of argument {i}")
    direction = _direction(args, seed=len(args))
    chosen = [direction[i] for i in wrt]

    def along(*xs):
        full = P.snapshot(args)
        for i, x in zip(wrt, xs):
            full[i] = x
        return f(*full)

    P.directional_check(along, [P.snapshot(args)[i] for i in wrt], grads, chosen, value=float(expected))
    pairs = zip(P.tree_leaves(list(grads)), P.tree_leaves(chosen), strict=True)
    reverse = sum(float(np.vdot(g, d)) for g, d in pairs)
    out, tangent = sct.jvp(f, tuple(args), tuple(direction))
    _unchanged(before, args)
    assert out == expected, f"forward-mode value {out!r}, Python's {expected!r}"
    assert abs(float(tangent) - reverse) <= 1e-9 * (1.0 + abs(reverse)), f"jvp {float(tangent)!r}, vjp {reverse!r}"
    return wrt, grads


@pytest.mark.parametrize("f, args, _jax", PROGRAMS, ids=IDS)
def test_realistic_program(f, args, _jax):
    differentiated(f, args)


# Un-jitted JAX costs seconds a program on the shared 2-core container: by default a few that cover
# linear algebra, containers, loops, kinks and scans; SCT_JAX_ALL=1 runs every one JAX can run.
_JAX_DEFAULT = {"kalman_step", "mlp_tree", "huber_relu_clip", "scans", "while_break_continue", "conv1d_loops"}
JAX_PROGRAMS = [
    (f, args) for f, args, ok in PROGRAMS if ok and (os.environ.get("SCT_JAX_ALL") or f.__name__ in _JAX_DEFAULT)
]


@pytest.mark.parametrize("f, args", JAX_PROGRAMS, ids=[f.__name__ for f, _ in JAX_PROGRAMS])
def test_realistic_program_against_jax(f, args):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    wrt = tuple(i for i, a in enumerate(args) if _floating(a))
    grads = sct.grad(f, wrt=wrt)(*args)
    in_jax = types.FunctionType(f.__code__, {**f.__globals__, "np": jax.numpy}, f.__name__, f.__defaults__)
    expected = jax.grad(in_jax, argnums=wrt)(*args)
    leaves = jax.tree_util.tree_leaves  # both in JAX's order (a dict's keys sorted)
    for ours, theirs in zip(leaves(grads), leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-9, atol=1e-12)
