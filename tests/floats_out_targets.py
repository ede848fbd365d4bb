"""Functions for tests/test_floats_out.py: transforms called inside functions being differentiated."""

import numpy as np

import sct


def g(x):
    return x * np.sin(x)


def f_vjp(x):
    y, back = sct.vjp(g, x)
    (d,) = back(1.0)
    return y * d


def f_vjp_value(x):
    y, back = sct.vjp(g, x)
    return y


def f_vg(x):
    v, d = sct.value_and_grad(g)(x)
    return v * d


def f_vg_value(x):
    v, d = sct.value_and_grad(g)(x)
    return v


def ga(x):
    return x * np.sin(x), np.cos(x)


def f_vg_aux(x):
    (v, a), d = sct.value_and_grad(ga, has_aux=True)(x)
    return v * d + a


def garr(x, y):
    return np.sum(np.sin(x) * y)


def f_vjp_np(x):
    y, back = sct.vjp(g, x)
    (d,) = back(np.float64(1.0))
    return y * d


def f_vjp_arr(x, y):
    v, back = sct.vjp(garr, x, y)
    dx, dy = back(1.0)
    return v * np.sum(dx) + dy
