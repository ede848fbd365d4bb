"""A shared corpus of functions to differentiate, grouped by what they exercise."""

import math

import numpy as np


def seed(x, y):
    """The Kamper-style example: (x + sigmoid(y)) / (x**2 + y)."""
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)


def scalar_math(x, y):
    return math.sin(x) * math.exp(y) / math.sqrt(x * x + 1.0) + math.log(y + 2.0) - math.cos(x * y)


def polynomial(x, y):
    z = 3.0 * x**3 - 2.0 * x * y + y**2
    z = z / 4.0 - x
    return z * z


def unary_chain(x):
    return np.sum(np.tanh(np.sin(np.cos(np.exp(-np.abs(x))))) + np.sqrt(x * x + 1.0) + np.log(x * x + 2.0))


def tan_chain(x):
    return np.sum(np.tan(0.3 * x) - x**2 / 7.0)


def broadcasting(x, y):
    return np.sum((x * y + y) / (2.0 + x**2))


def mlp(W1, b1, W2, x):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2
    return np.mean(z**2)


def reductions(a, b):
    c = np.maximum(a, 0.0) * b
    d = np.sum(c, axis=0)
    e = np.mean(a * b, axis=1, keepdims=True)
    return np.sum(d * d) + np.sum(e) + np.sum(np.minimum(a, b))


def products(a, b, v):
    return np.sum(a.T @ b) + np.dot(v, a @ v) + np.sum(np.matmul(a, b) * a) + v @ v


def shapes(a):
    r = np.reshape(a, (2, 6))
    t = np.transpose(r)
    return np.sum(t * t.T.T) + np.sum(a.reshape(3, 4).T ** 2)


def reuse(x):
    y = x * x
    y = y + x
    x = y * 2.0
    return np.sum(x * y)


def seed_sum(x, y):
    return np.sum((x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y))


# ---- control flow ----------------------------------------------------------------------
def branch(x, y):
    if x > 0.0:
        z = x * y
    else:
        z = x + y
    return z * z


def early_return(x):
    if x < 0.0:
        return -x * 2.0
    return x**3


def affine_loop(x, w):
    for i in range(5):
        x = x * w + 1.0
    return x


def loop_with_branch(x):
    for i in range(200):
        if x > 0.0:
            x = x * 0.99 + math.sin(x) * 0.1
        else:
            x = x * 1.01 + 0.05
    return x * x


def nested_branches(x):
    for i in range(3):
        for j in range(4):
            if x > 0.5:
                x = x * 0.9 + 0.1 * math.sin(x)
            else:
                x = x * 1.1 + 0.05
    return x * x


def indexed_branches(x, ws):
    for t in range(ws.shape[0]):
        if x > 0.0:
            x = x * ws[t] - 0.2
        else:
            x = x + ws[t]
    for t in range(ws.shape[0]):  # a second loop with its own branch record
        if x < 1.0:
            x = x * x + ws[t]
    return x


def squared_branches(x, ws):
    for t in range(ws.shape[0]):
        if x > 0.0:
            x = x * ws[t] - 0.2
            x = x * x  # reads x between two assignments: the branch taken is recorded
        else:
            x = x + ws[t]
    return x


def history_reversed(x, a):
    xs = []
    for _ in range(3):
        xs.append(x)
        x = x * a + math.sin(x)
    total = 0.0
    for v in reversed(xs):  # a list the function built: its adjoint is a list too
        total = total + v * v
    return total + x


def while_branches(x):
    n = 0
    while n < 20:
        if x > 1.0:
            x = x * 0.5
        else:
            x = x * 1.7 + 0.1
        n = n + 1
    return x


def horner_reversed(coefficients, w):
    s = 0.0
    for c in reversed(coefficients):
        s = s * w + c
    return s


def while_loop(x):
    n = 0
    while x < 10.0:
        x = x * 1.5
        n = n + 1
    return x


def loop_break(x):
    s = 0.0
    for i in range(10):
        s = s + x * i
        if s > 5.0:
            break
        s = s * 0.9
    return s


def loop_continue(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        s = s + x**i
    return s


def return_in_loop(x):
    for i in range(10):
        x = x * 1.3
        if x > 5.0:
            return x * 2.0
    return x


def nested_loops(x):
    s = 0.0
    for i in range(3):
        t = x
        j = 0
        while j < i + 2:
            t = np.sin(t) + x * 0.5
            j = j + 1
        s = s + t * t
    return s


def conditional_expression(x, y):
    z = x * y if x > y else x - y
    return z * z + (y if y > 0.0 else -y)


def rnn(Wx, Wh, b, xs):
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wx @ xs[t] + Wh @ h + b)
    return np.sum(h**2)


def relu_net(Ws, x):
    z = x
    for W in Ws:
        z = np.maximum(W @ z, 0.0)
    return np.sum(z)


def rows(X, w):
    s = 0.0
    for row in X:
        s = s + np.tanh(np.dot(row, w))
    return s


def indexing(x):
    return x[0] * x[1] + np.sum(x[1:] ** 2) + np.sum(x[::2]) * x[-1]


def fancy_indexing(x, idx):
    return np.sum(x[idx] ** 2) + np.sum(x[x > 0.0])


def enumerate_zip(xs, ys):
    s = 0.0
    for i, x in enumerate(xs):
        s = s + x * i
    for x, y in zip(xs, ys):
        s = s + x * y
    return s


def written(x):
    y = np.zeros(3)
    y[0] = x[0] * 2.0
    y[1] = x[1] * x[2]
    y[2] += x[0]
    return np.sum(y * y)


def loop_written(x):
    ys = np.zeros(4)
    for i in range(4):
        ys[i] = x[i] * x[(i + 1) % 4]
    return np.sum(ys**2)


def tuple_unpack(x, y):
    a, b = x * y, x + y
    b, a = a, b
    return a * b


# ---- calls into user code ----------------------------------------------------------------
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def layer(W, x, b=0.0, act=None):
    z = W @ x + b
    if act is None:
        return z
    return np.tanh(z)


def two_layers(W, x):
    h = layer(W, x, act="tanh")
    h = layer(W, h, b=0.5)
    return np.sum(sigmoid(h))


def with_lambda(x, w):
    f = lambda v: v * w + 1.0  # noqa: E731
    return f(x) * f(x * 2.0)


def make_closure(scale):
    def scaled(x):
        return np.sum(np.sin(x) * scale)

    return scaled


def recursive(n, x):
    if n <= 0:
        return x
    return recursive(n - 1, x) * x


def tree(depth, w, x):
    if depth == 0:
        return np.tanh(w @ x)
    left = tree(depth - 1, w, x * 0.5)
    return np.tanh(w @ left + x)


def tree_loss(w, x):
    return np.sum(tree(3, w, x) ** 2)


def method_calls(x, W):
    y = W.dot(x)
    return y.sum() + x.mean() + W.T.max() * 0.0 + (W * W).sum(axis=0).sum() + x.reshape(1, -1).sum()


def grow_lists(xs, w):
    ys = [np.tanh(x * w) for x in xs if np.sum(x) > -10.0]
    zs = []
    for y in ys:
        zs.append(y * 2.0)
    return np.sum(zs[0] * zs[1]) + np.sum(ys[2])


# Array functions and argument shapes (a shape of () is a Python float), shared by the
# reverse-mode and forward-mode tests.
ARRAY_CASES = [
    (seed_sum, [(3,), (3,)]),
    (seed_sum, [(2, 3), (3,)]),
    (unary_chain, [(4,)]),
    (tan_chain, [(2, 2)]),
    (broadcasting, [(3, 1), (1, 4)]),
    (broadcasting, [(), (2, 3)]),
    (mlp, [(3, 4), (4,), (4, 2), (5, 3)]),
    (reductions, [(3, 4), (3, 4)]),
    (products, [(3, 3), (3, 3), (3,)]),
    (shapes, [(3, 4)]),
    (reuse, [(3,)]),
]


# Scalar control flow with arguments that take each path: tests/test_control.py checks their
# gradients, tests/test_liveness.py that releasing values changes none of their numbers.
SCALAR_CONTROL_CASES = [
    (branch, (0.5, 1.2)),
    (branch, (-0.5, 1.2)),
    (early_return, (-1.5,)),
    (early_return, (1.5,)),
    (affine_loop, (0.3, 0.7)),
    (loop_with_branch, (0.8,)),
    (loop_with_branch, (-0.3,)),
    (while_loop, (1.3,)),
    (loop_break, (0.7,)),
    (loop_break, (0.01,)),
    (loop_continue, (0.9,)),
    (return_in_loop, (0.9,)),
    (return_in_loop, (0.1,)),
    (nested_loops, (0.4,)),
    (conditional_expression, (2.0, 1.5)),
    (conditional_expression, (1.0, -1.5)),
    (tuple_unpack, (0.6, -1.1)),
    (nested_branches, (0.7,)),
    (nested_branches, (0.45,)),
    (indexed_branches, (0.3, np.array([0.9, -0.4, 1.3, 0.2, -1.1]))),
    (indexed_branches, (-0.3, np.array([0.9, -0.4, 1.3, 0.2, -1.1]))),
    (squared_branches, (0.3, np.array([0.9, -0.4, 1.3, 0.2, -1.1]))),
    (squared_branches, (-0.7, np.array([0.9, -0.4, 1.3, 0.2, -1.1]))),
    (history_reversed, (0.5, 0.8)),
    (while_branches, (0.3,)),
    (while_branches, (5.0,)),
    (horner_reversed, (np.array([0.5, -1.5, 2.0]), 0.7)),
    (horner_reversed, ([0.5, -1.5, 2.0], 0.7)),
]
