"""``check_grads``: sct's derivatives against central finite differences, autograd-style.

Along one random direction ``v`` (and, in reverse mode, one random output
cotangent ``u``) it compares

* forward mode: ``jvp(f, x, v)`` with ``(f(x + eps v) - f(x - eps v)) / (2 eps)``;
* reverse mode: ``<vjp(f, x)(u), v>`` with ``<u, (f(x + eps v) - f(x - eps v)) / (2 eps)>``;

and for ``order=2`` does the same again on the derivative itself (the generated
tangent or adjoint code, differentiated in turn). Both call styles work::

    sct.check_grads(f, (x, y), modes=("fwd", "rev"), order=2)
    sct.check_grads(f, modes=["fwd", "rev"], order=2)(x, y)     # autograd's style

>>> import numpy as np, sct
>>> def f(x):
...     return np.sum(np.sin(x) * x)
>>> sct.check_grads(f, (np.array([0.1, 0.7]),))
"""

from __future__ import annotations

import numbers

import numpy as np

from . import pipeline
from .backend.runtime import detached as _fresh  # a copy of the arrays and containers: f may change its arguments
from .higher import JVPAt, VJPAt

__all__ = ["check_grads"]

EPS, RTOL, ATOL = 1e-4, 1e-4, 1e-6
_MODES = ("fwd", "rev")


def check_grads(f, args=None, order=2, modes=_MODES, *, rtol=RTOL, atol=ATOL, eps=EPS, wrt=None, argnum=None, seed=0):
    """Check ``f``'s derivatives at ``args`` against central differences; AssertionError on mismatch.

    ``wrt`` (or autograd's ``argnum``) picks the arguments to check by position or
    name; by default every floating-point argument. Without ``args`` (autograd's
    ``check_grads(f, modes=..., order=...)(*args)``) returns the checker; an int
    in place of ``args`` is autograd's ``argnum``.
    """
    if isinstance(order, str | list | tuple):  # check_grads(f, args, ("rev",))
        order, modes = 2, order
    if isinstance(args, numbers.Integral | str) and argnum is None:
        args, argnum = None, args
    if args is None:
        return lambda *call_args: check_grads(
            f, call_args, order, modes, rtol=rtol, atol=atol, eps=eps, wrt=wrt, argnum=argnum, seed=seed
        )
    args = tuple(args) if isinstance(args, tuple | list) else (args,)
    modes = tuple(modes)
    bad = [m for m in modes if m not in _MODES]
    if bad or not modes:
        raise ValueError(f"modes={modes!r}: use 'fwd' and/or 'rev'")
    positions = _positions(f, args, wrt if wrt is not None else argnum)
    rng = np.random.default_rng(seed)
    _check(f, args, positions, modes, order, dict(rtol=rtol, atol=atol, eps=eps), rng)


def _positions(f, args, wrt):
    if wrt is not None:
        return pipeline.resolve_wrt(f, wrt)[0]
    found = [i for i, a in enumerate(args) if _is_float(a)]
    if not found:
        raise ValueError("check_grads found no floating-point argument to differentiate by; pass wrt=...")
    return found


def _is_float(a) -> bool:
    if isinstance(a, bool):
        return False
    if isinstance(a, float | complex):
        return True
    if isinstance(a, list | tuple | dict):  # a container of floats (a pytree)
        return any(_is_float(v) for v in (a.values() if isinstance(a, dict) else a))
    return isinstance(a, np.ndarray | np.generic) and a.dtype.kind in "fc"


def _random_like(x, rng, part="real"):
    """A random direction with ``x``'s structure; None at leaves that are not floats (ints, keys).

    At a complex leaf the direction is real (``part="real"``) or imaginary (``"imag"``); a cotangent
    of a complex value (``part="both"``) has both parts.
    """
    if isinstance(x, tuple | list):
        return type(x)(_random_like(v, rng, part) for v in x)
    if isinstance(x, dict):
        return {k: _random_like(v, rng, part) for k, v in x.items()}
    if not _is_float(x):
        return None
    v = float(rng.normal()) if np.ndim(x) == 0 and not isinstance(x, np.ndarray) else rng.normal(size=np.shape(x))
    if not np.iscomplexobj(x):
        return v
    if part == "both":
        return v + 1j * _random_like(x, rng, "real")
    return v * 1j if part == "imag" else v + 0j


def _has_complex(args) -> bool:
    if isinstance(args, tuple | list):
        return any(_has_complex(a) for a in args)
    if isinstance(args, dict):
        return any(_has_complex(a) for a in args.values())
    return np.iscomplexobj(args)


def _step(x, eps, v):
    """``x + eps * v``, leaf by leaf (leaves without a direction unchanged)."""
    if isinstance(x, tuple | list):
        return type(x)(_step(a, eps, b) for a, b in zip(x, v))
    if isinstance(x, dict):
        return {k: _step(a, eps, v[k]) for k, a in x.items()}
    return x if v is None else x + eps * v


def _check(f, args, positions, modes, order, tol, rng):
    """Check along a random direction; for complex arguments once in the real and once in the imaginary direction.

    sct follows autograd's convention (:mod:`sct.analysis.complex_values`): a cotangent ``u`` of a value ``y`` stands
    for the real loss ``Re(sum(u * y))``, and the derivative along ``v`` is ``Re(sum(grad * v))``.
    """
    parts = ("real", "imag") if _has_complex([args[p] for p in positions]) else ("real",)
    for part in parts:
        v = [_random_like(args[p], rng, part) for p in positions]
        _check_along(f, args, positions, v, modes, order, tol, rng)


def _check_along(f, args, positions, v, modes, order, tol, rng):
    numeric = _directional(f, args, positions, v, tol["eps"])
    if "fwd" in modes:
        _compare(f, "forward mode (jvp)", JVPAt(f, positions, v)(*args), numeric, tol)
        if order > 1:
            _check(JVPAt(f, positions, v), args, positions, modes, order - 1, tol, rng)
    if "rev" in modes:
        u = _random_like(f(*_fresh(args)), rng, "both")
        grads = VJPAt(f, positions, u)(*args)
        grads = grads if len(positions) > 1 or isinstance(grads, tuple) else (grads,)
        analytic = sum(_inner(g, vi) for g, vi in zip(grads, v))
        _compare(f, "reverse mode (vjp)", analytic, _inner(u, numeric), tol)
        if order > 1:
            _check(VJPAt(f, positions, u), args, positions, modes, order - 1, tol, rng)


def _directional(f, args, positions, v, eps):
    """``(f(x + eps v) - f(x - eps v)) / (2 eps)`` for the arguments at ``positions``."""
    hi, lo = list(args), list(args)
    for p, vi in zip(positions, v):
        hi[p] = _step(args[p], eps, vi)
        lo[p] = _step(args[p], -eps, vi)
    return _combine(f(*_fresh(hi)), f(*_fresh(lo)), lambda a, b: (np.asarray(a) - np.asarray(b)) / (2 * eps))


def _combine(a, b, op):
    if isinstance(a, tuple | list):
        return type(a)(_combine(x, y, op) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: _combine(x, b[k], op) for k, x in a.items()}
    return op(a, b)


def _inner(a, b) -> float:
    if isinstance(a, tuple | list):
        return sum(_inner(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return sum(_inner(x, b[k]) for k, x in a.items())
    if a is None or b is None:
        return 0.0
    return float(np.real(np.sum(np.asarray(a) * np.asarray(b))))  # Re(sum(a b)): sct.analysis.complex_values


def _compare(f, what, analytic, numeric, tol):
    a, n = _flat(analytic), _flat(numeric)
    if a.shape != n.shape or not np.allclose(a, n, rtol=tol["rtol"], atol=tol["atol"]):
        name = getattr(f, "__qualname__", None) or repr(f)
        raise AssertionError(
            f"derivative of {name} disagrees with central differences in {what} "
            f"(rtol={tol['rtol']}, atol={tol['atol']}, eps={tol['eps']}):\n"
            f"    sct:                 {_show(analytic)}\n"
            f"    finite differences:  {_show(numeric)}"
        )


def _flat(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, tuple | list):
        return np.concatenate([_flat(v) for v in value]) if value else np.zeros(0)
    return np.ravel(np.asarray(value, dtype=complex if np.iscomplexobj(value) else float))


def _show(value) -> str:
    flat = _flat(value)
    if np.size(flat) > 1:
        return np.array2string(flat, precision=10)
    return repr(complex(flat[0]) if np.iscomplexobj(flat) else float(flat[0]))
