"""Rules for NumPy's elementwise functions (ufuncs and their friends).

Each ``elementwise`` entry is one partial derivative per operand, written as
``g`` times that partial: the same rule serves reverse mode (``g`` is the
result's adjoint) and forward mode (``g`` is the operand's tangent). Every
function a rule calls has a rule itself, so generated code differentiates again.
Broadcast operands are summed back to their shape by the emitter.
"""

import math
import numbers

import numpy as np

from ..analysis import complex_values
from ..backend import runtime, runtime_numpy
from ..symbolic import Sym, call
from .table import broadcast, defjvp, defvjp, elementwise, linear, nondiff, same

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _unary(fn, derivative):
    elementwise(fn, derivative)


# ---- arithmetic --------------------------------------------------------------------
_unary(np.negative, lambda g, ans, x: -g)
_unary(np.positive, lambda g, ans, x: g)
elementwise(np.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
elementwise(np.subtract, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
elementwise(np.multiply, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
# np.true_divide is np.divide (one ufunc under two names).
elementwise(np.divide, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y)
_unary(np.reciprocal, lambda g, ans, x: -g * ans * ans)
_unary(np.square, lambda g, ans, x: g * 2.0 * x)


# x ** y. d/dx = y x^(y-1) is 0 where y == 0 (x^0 = 1), also at x = 0 where x^(y-1) is 1/0;
# d/dy = x^y log x is 0 at x = 0 (0^y = 0 for y > 0), where log x is -inf. Constant
# exponents (the common x ** 2) keep the plain form; variable ones avoid the 0 * inf.
def _static(v) -> bool:
    return isinstance(v, numbers.Number)


def power_dx(power):
    """The rule d/dx of ``power(x, y)`` (``x ** y``, np.float_power, math.pow...)."""

    def rule(g, ans, x, y):
        if _static(y):
            return 0.0 if y == 0 else g * y * power(x, y - 1)
        return g * y * power(x, np.where(np.equal(y, 0), 1.0, y - 1))

    return rule


def power_dy(log):
    """The rule d/dy of ``power(x, y)``: ``g * ans * log(x)``, 0 where x == 0."""

    def rule(g, ans, x, y):
        if _static(x):
            return 0.0 if x == 0 else g * ans * log(x)
        return g * ans * log(np.where(np.equal(x, 0), 1.0, x))

    return rule


elementwise(np.power, power_dx(lambda x, y: x**y), power_dy(np.log))
elementwise(np.float_power, power_dx(np.float_power), power_dy(np.log))


# np.abs is np.absolute; at 0 the derivative is taken as 0 (np.sign(0)). Of a complex z it is
# |z| = sqrt(x^2 + y^2): adjoint Re(g) conj(z) / |z|, tangent Re(conj(z) t) / |z| (sct.analysis.complex_values).
def _abs_vjp(g, ans, x):
    if not complex_values.on():
        return g * np.sign(x)
    return np.real(g) * np.conjugate(x) / call(runtime.nonzero_or_one, ans)


def _abs_jvp(t, ans, x):
    if not complex_values.on():
        return t * np.sign(x)
    return np.real(np.conjugate(x) * t) / call(runtime.nonzero_or_one, ans)


_unary(np.abs, _abs_vjp)
defjvp(np.abs, _abs_jvp)
_unary(np.fabs, lambda g, ans, x: g * np.sign(x))
# np.conj is np.conjugate; for real input both are the identity. np.real is Re: its adjoint Re(g)
# (a real value's adjoint is real), its tangent Re(t). np.imag: adjoint -i Re(g), tangent Im(t);
# of a real value it is the constant 0. np.angle = atan2(y, x): adjoint -i Re(g) conj(z) / |z|^2,
# tangent Im(conj(z) t) / |z|^2 (no derivative at 0); of a real value piecewise constant.
_unary(np.conjugate, lambda g, ans, x: np.conjugate(g))
_unary(np.real, lambda g, ans, x: np.real(g))


def _imag_vjp(g, ans, x):
    return -1j * np.real(g) if complex_values.on() else 0.0


def _imag_jvp(t, ans, x):
    return np.imag(t) if complex_values.on() else 0.0


def _angle_scale(deg):
    return 180.0 / math.pi if deg is True else 1.0 if deg is False else np.where(deg, 180.0 / math.pi, 1.0)


def _angle_vjp(g, ans, z, deg=False):
    if not complex_values.on():
        return 0.0
    return -1j * np.real(g) * _angle_scale(deg) * np.conjugate(z) / np.real(z * np.conjugate(z))


def _angle_jvp(t, ans, z, deg=False):
    if not complex_values.on():
        return 0.0
    return _angle_scale(deg) * np.imag(np.conjugate(z) * t) / np.real(z * np.conjugate(z))


defvjp(np.imag, _imag_vjp, ndim=same)
defjvp(np.imag, _imag_jvp)
defvjp(np.angle, _angle_vjp, None, ndim=same)
defjvp(np.angle, _angle_jvp, None)


# np.real_if_close(a): a, or its real part where every imaginary part is tiny (then so is the adjoint's).
def _real_if_close(g, ans, x, *args, **kwargs):
    return call(runtime_numpy.real_if_real, g, ans) if complex_values.on() else g


defvjp(np.real_if_close, _real_if_close, None, ndim=same)
defjvp(np.real_if_close, _real_if_close, None)
linear(runtime_numpy.real_if_real, lambda g, ans, v, x: call(runtime_numpy.real_if_real, g, x), rest=(None,))
nondiff(np.iscomplex, np.isreal, ndim=same)
nondiff(np.iscomplexobj, np.isrealobj, ndim=lambda ranks, args, kwargs: 0)

# copysign(x, y) = |x| sign(y): no derivative through y. remainder (np.mod) and fmod are x - k y
# with k piecewise constant (floor or trunc of x / y).
elementwise(np.copysign, lambda g, ans, x, y: g * np.copysign(1.0, x) * np.copysign(1.0, y), None)
elementwise(np.remainder, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.floor_divide(x, y))
elementwise(np.fmod, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.trunc(x / y))
# nan_to_num: the replaced NaNs and infinities get a zero derivative.
elementwise(np.nan_to_num, lambda g, ans, x, *args, **kw: np.where(np.isfinite(x), g, 0.0), ndim=same)

# ---- exponentials and logarithms ---------------------------------------------------
_unary(np.exp, lambda g, ans, x: g * ans)
_unary(np.exp2, lambda g, ans, x: g * ans * _LN2)
_unary(np.expm1, lambda g, ans, x: g * (ans + 1.0))
_unary(np.log, lambda g, ans, x: g / x)
_unary(np.log2, lambda g, ans, x: g / (x * _LN2))
_unary(np.log10, lambda g, ans, x: g / (x * _LN10))
_unary(np.log1p, lambda g, ans, x: g / (1.0 + x))
_unary(np.sqrt, lambda g, ans, x: g / (2.0 * ans))
_unary(np.cbrt, lambda g, ans, x: g / (3.0 * ans * ans))
# log(e^x + e^y): the shares are the softmax weights e^(x - ans) and e^(y - ans).
elementwise(np.logaddexp, lambda g, ans, x, y: g * np.exp(x - ans), lambda g, ans, x, y: g * np.exp(y - ans))
elementwise(np.logaddexp2, lambda g, ans, x, y: g * np.exp2(x - ans), lambda g, ans, x, y: g * np.exp2(y - ans))

# ---- trigonometric and hyperbolic ----------------------------------------------------
_unary(np.sin, lambda g, ans, x: g * np.cos(x))
_unary(np.cos, lambda g, ans, x: -g * np.sin(x))
_unary(np.tan, lambda g, ans, x: g * (1.0 + ans * ans))
_unary(np.arcsin, lambda g, ans, x: g / np.sqrt(1.0 - x * x))
_unary(np.arccos, lambda g, ans, x: -g / np.sqrt(1.0 - x * x))
_unary(np.arctan, lambda g, ans, x: g / (1.0 + x * x))
elementwise(
    np.arctan2,
    lambda g, ans, y, x: g * x / (x * x + y * y),
    lambda g, ans, y, x: -g * y / (x * x + y * y),
)
elementwise(np.hypot, lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans)
_unary(np.sinh, lambda g, ans, x: g * np.cosh(x))
_unary(np.cosh, lambda g, ans, x: g * np.sinh(x))
_unary(np.tanh, lambda g, ans, x: g * (1.0 - ans * ans))
_unary(np.arcsinh, lambda g, ans, x: g / np.sqrt(x * x + 1.0))
_unary(np.arccosh, lambda g, ans, x: g / np.sqrt(x * x - 1.0))
_unary(np.arctanh, lambda g, ans, x: g / (1.0 - x * x))
for _fn in (np.deg2rad, np.radians):
    _unary(_fn, lambda g, ans, x: g * (math.pi / 180.0))
for _fn in (np.rad2deg, np.degrees):
    _unary(_fn, lambda g, ans, x: g * (180.0 / math.pi))
# sinc(x) = sin(pi x) / (pi x): the derivative (cos(pi x) - sinc(x)) / x is 0 / 0 at x = 0 (where
# it is 0), so a helper computes it, and the helper's own derivative is the next one (any order).
_unary(np.sinc, lambda g, ans, x: g * call(runtime.sinc_derivative, x, 1))
defvjp(runtime.sinc_derivative, lambda g, ans, x, n=1: g * call(runtime.sinc_derivative, x, n + 1), None, ndim=same)
defjvp(runtime.sinc_derivative, lambda g, ans, x, n=1: g * call(runtime.sinc_derivative, x, n + 1), None)


# ---- maxima, minima, clipping, selection ------------------------------------------------
# Ties are split equally, as in JAX: where x == y each operand gets half of g. The share of
# the first operand of maximum is (sign(x - y) + 1) / 2: 1 where x > y, 1/2 on ties, 0 below.
def _first_wins(x, y):
    return (np.sign(x - y) + 1.0) * 0.5


def _second_wins(x, y):
    return (1.0 - np.sign(x - y)) * 0.5


elementwise(np.maximum, lambda g, ans, x, y: g * _first_wins(x, y), lambda g, ans, x, y: g * _second_wins(x, y))
elementwise(np.minimum, lambda g, ans, x, y: g * _second_wins(x, y), lambda g, ans, x, y: g * _first_wins(x, y))


# fmax/fmin ignore a NaN operand: the other one then gets all of g. Ties split as above.
def _fmax_share(x, y):
    return np.where(np.isnan(y), 1.0, np.where(np.isnan(x), 0.0, _first_wins(x, y)))


def _fmin_share(x, y):
    return np.where(np.isnan(y), 1.0, np.where(np.isnan(x), 0.0, _second_wins(x, y)))


elementwise(np.fmax, lambda g, ans, x, y: g * _fmax_share(x, y), lambda g, ans, x, y: g * _fmax_share(y, x))
elementwise(np.fmin, lambda g, ans, x, y: g * _fmin_share(x, y), lambda g, ans, x, y: g * _fmin_share(y, x))


# np.clip(x, lo, hi): x gets g where lo <= x <= hi (bounds included), lo where x < lo, hi
# where x > hi; the three shares add up to g. A bound may be None (no bound on that side), and
# may be given by keyword (a_min=, a_max=, or NumPy 2's min=, max=) where it is a constant.
def _bounds(lo=None, hi=None, a_min=None, a_max=None, min=None, max=None, **kwargs):  # noqa: A002
    lo = a_min if lo is None else lo
    hi = a_max if hi is None else hi
    return (min if lo is None else lo), (max if hi is None else hi)


def _clip_x(g, ans, x, *args, **kwargs):
    lo, hi = _bounds(*args, **kwargs)
    if lo is None:
        return g * (x <= hi)
    if hi is None:
        return g * (x >= lo)
    return g * np.logical_and(x >= lo, x <= hi)


def _clip_x_vjp(g, ans, x, *args, **kwargs):
    share = _clip_x(g, ans, x, *args, **kwargs)
    if any(isinstance(v, Sym) for v in kwargs.values()):  # a bound array by keyword may have broadcast x
        return call(runtime.unbroadcast, share, x)
    return share


def _clip_rank(ranks, args, kwargs):
    bounds = [v for k, v in kwargs.items() if k in ("a_min", "a_max", "min", "max")]
    return broadcast(
        [r for r, a in zip(ranks, args) if a is not None]
        + [0 if isinstance(v, numbers.Number) else None for v in bounds],
        args,
        kwargs,
    )


_CLIP_BOUNDS = (lambda g, ans, x, lo, hi=None, **kw: g * (x < lo), lambda g, ans, x, lo, hi, **kw: g * (x > hi))
elementwise(np.clip, _clip_x, *_CLIP_BOUNDS, ndim=_clip_rank)
defvjp(np.clip, _clip_x_vjp, *_CLIP_BOUNDS, broadcasting=True, ndim=_clip_rank)
# np.where(cond, x, y): the condition carries no derivative.
elementwise(
    np.where,
    None,
    lambda g, ans, cond, x, y: np.where(cond, g, 0.0),
    lambda g, ans, cond, x, y: np.where(cond, 0.0, g),
)

# ---- piecewise constant: zero derivative almost everywhere ------------------------------
nondiff(np.sign, np.floor, np.ceil, np.rint, np.trunc, np.fix, np.round, np.heaviside, ndim=broadcast)
nondiff(np.around, np.floor_divide, np.signbit, np.isclose, np.isposinf, np.isneginf, np.spacing, ndim=broadcast)
nondiff(np.allclose, np.array_equal, ndim=lambda ranks, args, kwargs: 0)
