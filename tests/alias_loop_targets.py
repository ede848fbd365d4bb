"""Functions for tests/test_aliases_in_loops.py (sct reads source: they live in a file)."""

import numpy as np


def rebound_in_a_branch(x, c):
    x = x * 1.0
    y = x
    x[0] = 5.0
    if c > 0.0:
        y = 2.0 * x
    return np.sum(y * x)  # with c <= 0, y is x's array and sees the write


def popped_from_a_list(x):
    x = x * 1.0
    ys = [x]
    z = ys.pop()
    z[0] = 5.0
    return np.sum(x * x)  # z is x's array


def rows_made_in_a_loop(x):
    rows = []
    for i in range(3):
        d = np.zeros_like(x)
        d[i] = x[i] ** 2  # this trip's new array: the rows appended earlier are other arrays
        rows.append(d)
    return np.sum(rows[0] * rows[2]) + np.sum(np.stack(rows) * x)


def rebound_in_a_loop_body(x):
    s = 0.0
    for i in range(2):
        y = x * 1.0
        z = y
        z = z * 3.0  # a new array: z no longer holds y's
        y[0] = 5.0
        s = s + np.sum(z * y)
    return s


def written_before_its_alias_is_made(x):
    s = 0.0
    for i in range(2):
        y = x * 1.0
        y[1] = x[0] * 2.0
        z = y  # after the write: z sees what Python sees
        s = s + np.sum(z * x)
    return s


def stack_of_earlier_trips(x):
    stack = []
    d = None
    for i in range(3):
        stack.append(d)  # the last trip's array
        d = np.zeros_like(x)
        d[i] = x[i] * 3.0
    total = np.sum(d * x)
    for i in range(3):
        d[i] = 0.5  # the array of the trip whose array is popped next: the stack no longer holds it
        total = total + np.sum(d * x)
        d = stack.pop()
    return total


def stack_that_still_holds_it(x):
    stack = []
    d = x * 1.0
    stack.append(d)
    stack.append(d)  # the same array twice
    e = stack.pop()
    e[0] = 7.0
    f = stack.pop()  # the other entry: e's array
    return np.sum(f * x)


def aliased_in_an_earlier_trip(x):
    stack = []
    w = None
    d = x * 1.0
    for i in range(2):
        w = d  # the last trip's array, held on by w
        stack.append(d)
        d = x * 2.0
    e = stack.pop()  # the array w holds
    e[0] = 9.0
    return np.sum(w * x)


def grown_from_a_number(x):
    s = 0.0
    s += x  # s now holds a new array
    y = s
    s[0] = 5.0  # y holds the same array
    return np.sum(y * x)


def ident(a):
    return a


def through_a_function_that_returns_its_argument(x):
    x = x * 1.0
    y = ident(x)  # y is x's array
    x[0] = 5.0
    return np.sum(y * x)


def flipped(x):
    x = x * 1.0
    y = np.flip(x)  # a view
    x[0] = 5.0
    return np.sum(y * x)


def through_a_helper_that_computes(x):
    y = scaled(x)  # a new array, though sct cannot tell without looking: refused, conservatively
    x = x * 1.0
    x[0] = 5.0
    return np.sum(y * x)


def scaled(a):
    return a * 2.0
