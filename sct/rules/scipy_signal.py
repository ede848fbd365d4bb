"""Rules for ``scipy.signal.convolve`` and ``scipy.signal.correlate``: any mode, any rank, any method.

Both are linear in each operand. Forward: the product with the tangent in
that operand's place. Reverse: the helpers of :mod:`sct.backend.signal_adjoint`, which
place the cotangent back in the full convolution and correlate it with the
other operand (``correlate(a, b)`` is ``convolve(a, flip(b))``). ``method``
('auto', 'direct', 'fft') changes how a value is computed, not the value: the
derivatives pass it on. The helpers carry rules of their own (each is linear
in two operands), so derivatives of any order follow.
"""

import numpy as np
from scipy import signal

from ..backend.signal_adjoint import convolve_grad_left, convolve_grad_right, signal_convolve, signal_correlate
from ..symbolic import call
from .table import defjvp, defvjp

_RANK_0 = lambda ranks, args, kwargs: ranks[0]  # noqa: E731
_RANK_1 = lambda ranks, args, kwargs: ranks[1]  # noqa: E731
_RANK_2 = lambda ranks, args, kwargs: ranks[2]  # noqa: E731


def _convolution(fn, product, left, right):
    """Rules for ``fn(a, b, mode, method)``: ``product`` for its tangents, ``left``/``right`` for its adjoints."""
    defvjp(
        fn,
        lambda g, ans, a, b, mode="full", method="auto": left(g, a, b, mode, method),
        lambda g, ans, a, b, mode="full", method="auto": right(g, a, b, mode, method),
        None,
        None,
        ndim=_RANK_0,
    )
    defjvp(
        fn,
        lambda t, ans, a, b, mode="full", method="auto": product(t, b, mode, method),
        lambda t, ans, a, b, mode="full", method="auto": product(a, t, mode, method),
        None,
        None,
    )


def _call(fn):
    """``fn(...)`` as source (a call of the helper by name in generated code)."""
    return lambda *args: call(fn, *args)


_convolve = _call(signal_convolve)
_correlate = _call(signal_correlate)
_left = _call(convolve_grad_left)
_right = _call(convolve_grad_right)

for _fn in (signal.convolve, signal_convolve):
    _convolution(_fn, _convolve, _left, _right)
for _fn in (signal.correlate, signal_correlate):
    _convolution(
        _fn,
        _correlate,
        lambda g, a, b, mode, method: _left(g, a, np.flip(b), mode, method),
        lambda g, a, b, mode, method: np.flip(_right(g, a, np.flip(b), mode, method)),
    )

# convolve_grad_left(g, a, b) is correlate(G, b, 'valid'), G the cotangent placed in the full convolution:
# linear in g and b; a gives only its shape. convolve_grad_right likewise in g and a.
defvjp(
    convolve_grad_left,
    lambda H, ans, g, a, b, mode="full", method="auto": _convolve(H, b, mode, method),
    None,
    lambda H, ans, g, a, b, mode="full", method="auto": _right(g, H, b, mode, method),
    None,
    None,
    ndim=_RANK_1,
)
defjvp(
    convolve_grad_left,
    lambda t, ans, g, a, b, mode="full", method="auto": _left(t, a, b, mode, method),
    None,
    lambda t, ans, g, a, b, mode="full", method="auto": _left(g, a, t, mode, method),
    None,
    None,
)
defvjp(
    convolve_grad_right,
    lambda H, ans, g, a, b, mode="full", method="auto": _convolve(a, H, mode, method),
    lambda H, ans, g, a, b, mode="full", method="auto": _left(g, a, H, mode, method),
    None,
    None,
    None,
    ndim=_RANK_2,
)
defjvp(
    convolve_grad_right,
    lambda t, ans, g, a, b, mode="full", method="auto": _right(t, a, b, mode, method),
    lambda t, ans, g, a, b, mode="full", method="auto": _right(g, t, b, mode, method),
    None,
    None,
    None,
)
