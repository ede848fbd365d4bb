"""Rules for the :mod:`math` module and Python's numeric builtins (scalars only)."""

import builtins
import math

import numpy as np

from ..backend import trees
from ..symbolic import Sym, call
from .np_elementwise import _abs_jvp, _abs_vjp, power_dx, power_dy
from .table import defjvp, defvjp, elementwise, linear, nondiff, scalar


def scalar_rule(fn, *derivatives):
    elementwise(fn, *derivatives, ndim=scalar)


scalar_rule(math.exp, lambda g, ans, x: g * ans)
scalar_rule(math.expm1, lambda g, ans, x: g * (ans + 1.0))
scalar_rule(math.log1p, lambda g, ans, x: g / (1.0 + x))
scalar_rule(math.log2, lambda g, ans, x: g / (x * math.log(2.0)))
scalar_rule(math.log10, lambda g, ans, x: g / (x * math.log(10.0)))
scalar_rule(math.sqrt, lambda g, ans, x: g / (2.0 * ans))
scalar_rule(math.sin, lambda g, ans, x: g * call(math.cos, x))
scalar_rule(math.cos, lambda g, ans, x: -g * call(math.sin, x))
scalar_rule(math.tan, lambda g, ans, x: g * (1.0 + ans * ans))
scalar_rule(math.asin, lambda g, ans, x: g / call(math.sqrt, 1.0 - x * x))
scalar_rule(math.acos, lambda g, ans, x: -g / call(math.sqrt, 1.0 - x * x))
scalar_rule(math.atan, lambda g, ans, x: g / (1.0 + x * x))
scalar_rule(math.sinh, lambda g, ans, x: g * call(math.cosh, x))
scalar_rule(math.cosh, lambda g, ans, x: g * call(math.sinh, x))
scalar_rule(math.tanh, lambda g, ans, x: g * (1.0 - ans * ans))
scalar_rule(math.asinh, lambda g, ans, x: g / call(math.sqrt, x * x + 1.0))
scalar_rule(math.acosh, lambda g, ans, x: g / call(math.sqrt, x * x - 1.0))
scalar_rule(math.atanh, lambda g, ans, x: g / (1.0 - x * x))
scalar_rule(math.fabs, lambda g, ans, x: g * call(math.copysign, 1.0, x))
scalar_rule(math.erf, lambda g, ans, x: g * 2.0 / call(math.sqrt, math.pi) * call(math.exp, -(x * x)))
scalar_rule(math.erfc, lambda g, ans, x: -g * 2.0 / call(math.sqrt, math.pi) * call(math.exp, -(x * x)))
scalar_rule(math.exp2, lambda g, ans, x: g * ans * math.log(2.0))
scalar_rule(math.cbrt, lambda g, ans, x: g / (3.0 * ans * ans))
scalar_rule(math.degrees, lambda g, ans, x: g * (180.0 / math.pi))
scalar_rule(math.radians, lambda g, ans, x: g * (math.pi / 180.0))
# copysign(x, y) = |x| sign(y): no derivative through the sign operand.
scalar_rule(math.copysign, lambda g, ans, x, y: g * call(math.copysign, 1.0, x) * call(math.copysign, 1.0, y), None)
scalar_rule(
    math.atan2,
    lambda g, ans, y, x: g * x / (x * x + y * y),
    lambda g, ans, y, x: -g * y / (x * x + y * y),
)
scalar_rule(
    math.hypot,
    lambda g, ans, x, y: g * x / ans,
    lambda g, ans, x, y: g * y / ans,
)
scalar_rule(
    math.pow,
    power_dx(lambda x, y: call(math.pow, x, y)),
    power_dy(lambda x: call(math.log, x) if isinstance(x, Sym) else math.log(x)),
)


def _log_rules():
    def dx(g, ans, x, base=None):
        return g / x if base is None else g / (x * call(math.log, base))

    def dbase(g, ans, x, base):
        return -g * ans / (base * call(math.log, base))

    elementwise(math.log, dx, dbase, ndim=scalar)


_log_rules()

elementwise(builtins.abs, _abs_vjp, ndim=lambda r, a, k: r[0])  # np.abs's rules: complex forms too
defjvp(builtins.abs, _abs_jvp)
linear(builtins.float, lambda g, ans, x: g, ndim=scalar)
elementwise(builtins.pow, power_dx(lambda x, y: x**y), power_dy(np.log))
nondiff(builtins.int, builtins.round, math.floor, math.ceil, math.trunc, ndim=scalar)
nondiff(builtins.len, math.isnan, math.isinf, math.isfinite, ndim=scalar)
nondiff(builtins.range, builtins.print, builtins.isinstance, builtins.bool)


def formatted(*values):
    """An f-string (``f"{x:.3f}"``) as a primitive: the rule-table key of a ``JoinedStr``; a str has no derivative."""
    return "".join(values)


nondiff(formatted)


# max(x, y) / min(x, y) of two numbers; a tie splits g equally (as np.maximum does, and JAX):
# the first operand of max gets (sign(x - y) + 1) / 2 of it.
def _first_wins(x, y):
    return (np.sign(x - y) + 1.0) * 0.5


def _second_wins(x, y):
    return (1.0 - np.sign(x - y)) * 0.5


def _extreme(largest: bool):
    """max/min rules: of two numbers (a tie splits g), or of one sequence (the first extreme item gets g)."""
    first, second = (_first_wins, _second_wins) if largest else (_second_wins, _first_wins)

    def vjp(i):
        def rule(g, ans, *args):
            if len(args) == 1:
                return call(trees.extreme_grad, g, args[0], largest)
            return g * (first if i == 0 else second)(args[0], args[1])

        return rule

    def jvp(i):
        def rule(t, ans, *args):
            if len(args) == 1:
                return call(trees.extreme_tangent, t, args[0], largest)
            return t * (first if i == 0 else second)(args[0], args[1])

        return rule

    return (lambda i: vjp(i)), (lambda i: jvp(i))


for _fn, _largest in ((builtins.max, True), (builtins.min, False)):
    _vjp, _jvp = _extreme(_largest)
    elementwise(_fn, ndim=lambda r, a, k: 0 if len(r) > 1 else None)
    defvjp(_fn, _vjp, broadcasting=True)
    defjvp(_fn, _jvp)
