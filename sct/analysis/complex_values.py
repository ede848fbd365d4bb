"""Complex numbers: whether a variant is compiled for them, and the convention its derivatives follow.

sct follows autograd's convention. For ``f(z) = u(x, y) + i v(x, y)`` with
``z = x + i y``, ``sct.grad`` of the real-valued ``u`` is ``du/dx - i du/dy``:
for a holomorphic ``f`` (through ``np.real``) that is the complex derivative
``f'(z)``, and for a real loss ``L(z)`` gradient descent steps along its
complex conjugate. A cotangent ``g`` of a complex value means the same thing
(``dL/dx - i dL/dy``), so the reverse rule of a holomorphic function is
``g * f'(z)``, as for real numbers; only the functions that are not
holomorphic (``np.abs``, ``np.angle``, ``np.imag``, ...) need rules of their
own. The gradient of a real argument is real: the real part of what flows
back to it.

A variant is compiled for complex values when an argument is complex, or the
function (with what it inlines) holds a complex constant, reads a complex
array, or calls a function that makes complex values. Only then do those rules
emit their complex forms; code for real arguments is unchanged.
"""

from __future__ import annotations

import contextlib
import numbers

import gast
import numpy as np

from ..ir import Assign, walk

_STATE = {"on": False}
_MAKERS = {complex, np.complex128, np.complex64, np.linalg.eig, np.linalg.eigvals, np.roots}
_MAKER_MODULES = ("numpy.fft", "numpy.emath", "numpy.lib.scimath", "scipy.fft", "scipy.fftpack")
_MAKER_NAMES = {"scipy.linalg.eig", "scipy.linalg.eigvals", "scipy.signal.hilbert"}


def _makes_complex(prim) -> bool:
    """Functions whose results are complex (or may be) for real operands."""
    try:
        if prim in _MAKERS:
            return True
    except TypeError:  # unhashable
        return False
    module = getattr(prim, "__module__", None) or ""
    if module.startswith(_MAKER_MODULES) or getattr(prim, "__name__", "") == "astype_complex":
        return True
    return f"{module}.{getattr(prim, '__name__', '')}" in _MAKER_NAMES


def on() -> bool:
    """Whether the variant being compiled may hold complex values."""
    return _STATE["on"]


@contextlib.contextmanager
def compiling(complex_: bool):
    previous, _STATE["on"] = _STATE["on"], bool(complex_)
    try:
        yield
    finally:
        _STATE["on"] = previous


def _complex_value(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind == "c"


def may_be_complex(ir, sig) -> bool:
    """Whether a variant of ``ir`` for arguments of signature ``sig`` may compute complex values."""
    if any(s and len(s) > 1 and s[1] == "c" for s in sig):
        return True
    if any(_complex_value(v) for v in ir.namespace.values()):
        return True
    seen = {}  # prim's id -> whether it makes complex values: a long function calls a few prims many times
    for stmt in walk(ir.body):
        if not isinstance(stmt, Assign):
            continue
        prim = stmt.prim
        makes = seen.get(id(prim))
        if makes is None:
            makes = seen[id(prim)] = (_makes_complex(prim), prim)  # the prim kept: its id is not reused meanwhile
        if makes[0]:
            return True
        if _holds_complex_constant(stmt.value):
            return True
    return False


_PLAIN = (int, float, str, type(None))


def _holds_complex_constant(value) -> bool:
    """Whether the expression ``value`` holds a complex constant (``gast.walk``'s nodes, without its overhead)."""
    stack = [value]
    pop, extend, constant, ast_node = stack.pop, stack.extend, gast.Constant, gast.AST
    while stack:
        node = pop()
        if type(node) is constant:
            if type(node.value) not in _PLAIN and _complex_value(node.value):
                return True
            continue
        for attr in node._fields:
            child = getattr(node, attr, None)
            if type(child) is list:
                extend(c for c in child if isinstance(c, ast_node))
            elif isinstance(child, ast_node):
                stack.append(child)
    return False
