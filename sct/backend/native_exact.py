"""What the numba backend computes as Python does, and what it refuses because numba computes it otherwise.

``a ** b`` becomes ``sct_pow(a, b)``, which numba compiles to libm's ``pow`` for
floats, as Python's float power is; :func:`inexact` finds the calls whose numba
versions round differently from what the Python code calls (measured with NumPy 2.4
and numba 0.68: ``np.exp`` differs in 5% of 20,000 inputs and ``np.tanh`` in 27%;
``math.lgamma`` in 88% of 5,000 and ``math.gamma`` in 70%; ``math.sin``, ``exp``,
``log``, ``tanh``, ``erf`` and the other ``math`` functions numba has, in none).
"""

from __future__ import annotations

import ast
import math


def _call(fn: str, *args):
    return ast.Call(func=ast.Name(id=fn, ctx=ast.Load()), args=list(args), keywords=[])


class Powers(ast.NodeTransformer):
    """``a ** b`` -> ``sct_pow(a, b)``: libm's ``pow``, as Python computes a float power (see ``POW``)."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            return _call(POW_NAME, node.left, node.right)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow) and isinstance(node.target, ast.Name):
            power = _call(POW_NAME, ast.Name(id=node.target.id, ctx=ast.Load()), node.value)
            return ast.Assign(targets=[ast.Name(id=node.target.id, ctx=ast.Store())], value=power)
        return node


POW_NAME = "sct_pow"
POW = '''
_libm_pow = ctypes.CDLL(ctypes.util.find_library("m")).pow
_libm_pow.argtypes = (ctypes.c_double, ctypes.c_double)
_libm_pow.restype = ctypes.c_double


def sct_pow(a, b):
    """``a ** b`` as Python computes it: for floats, libm's ``pow`` (numba's ``**`` multiplies out
    integer powers, and LLVM makes ``x ** 2.0`` ``x * x``: each rounds differently)."""
    return a ** b


@numba.extending.overload(sct_pow)
def _sct_pow(a, b):
    a, b = (t.type if isinstance(t, numba.types.Optional) else t for t in (a, b))  # a record's None at first
    real = (numba.types.Float, numba.types.Integer)
    if not (isinstance(a, real) and isinstance(b, real)):
        return None  # anything else: numba says it has no implementation, and sct refuses
    if isinstance(a, numba.types.Float) or isinstance(b, numba.types.Float):
        return lambda a, b: _libm_pow(a, b)  # (an optional value is unwrapped, an integer made a double)
    return lambda a, b: a ** b
'''
POW_IMPORTS = ("import ctypes", "import ctypes.util", "import numba", "import numba.extending")
_POW_FUNCTION = []


def pow_function():
    """``sct_pow`` (``POW``), made once."""
    if not _POW_FUNCTION:
        scope = {}
        exec("\n".join(POW_IMPORTS) + "\n" + POW, scope)  # noqa: S102 - our own code
        _POW_FUNCTION.append(scope[POW_NAME])
    return _POW_FUNCTION[0]


# NumPy functions whose numba versions give NumPy's results bit for bit (correctly rounded, or exact);
# numba's own exp, tanh, log, sum... round some results differently, and math.gamma, lgamma, hypot differ.
EXACT_NUMPY = frozenset(
    {"sqrt", "abs", "absolute", "fabs", "negative", "floor", "ceil", "trunc", "sign", "maximum", "minimum"}
    | {"add", "subtract", "multiply", "divide", "zeros_like", "ones_like", "full_like", "zeros", "ones"}
    | {"empty", "shape", "copy", "float64", "int64", "where", "equal", "not_equal", "less", "greater"}
)
INEXACT_MATH = frozenset({"gamma", "lgamma", "hypot"})
INEXACT_BUILTINS = frozenset({"sum"})  # Python 3.12 adds floats with compensation


def inexact(text: str) -> list:
    """``(line number, what, advice)`` of each call in ``text`` whose numba version computes other values."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            module, name = func.value.id, func.attr
            if module == "np" and name not in EXACT_NUMPY:
                advice = f"write math.{name} for scalars" if hasattr(math, name) else "use the default backend"
                found.append((node.lineno, f"np.{name}", advice))
            elif module == "math" and name in INEXACT_MATH:
                found.append((node.lineno, f"math.{name}", "use the default backend"))
        elif isinstance(func, ast.Name) and func.id in INEXACT_BUILTINS:
            found.append((node.lineno, func.id, "write the loop"))
    return sorted(found)
