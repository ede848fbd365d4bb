"""Derivatives of ``scipy.integrate.odeint`` and ``solve_ivp`` (its ``.y``) by the adjoint method.

Generated code calls these helpers; the rules in :mod:`sct.rules.scipy_integrate` name them.

Reverse mode (``*_vjp_*``): the adjoint state ``lam(t) = dL/dy(t)`` obeys
``lam' = -(df/dy)^T lam``. It is integrated backwards with the same integrator
(``odeint`` for ``odeint``, ``solve_ivp`` with the same ``method`` for
``solve_ivp``) from the last requested time to the first, together with the
state itself (restarted from the stored solution at each requested time) and
the running integral ``mu = int (df/dargs)^T lam dt``; the cotangent of each
requested time point is added as it is passed. ``(df/dy)^T lam`` and
``(df/dargs)^T lam`` come from ``sct.vjp`` of the user's right-hand side: it is
ordinary Python, compiled like any other. Only the solution at the requested
times is held: memory does not grow with the number of steps.
The time points get ``g_i . f(y_i, t_i)``, and the initial time
``-lam(t0) . f(y0, t0)``.

Forward mode (``*_jvp_*``): the tangent ``s(t) = dy(t)`` obeys the sensitivity
equation ``s' = (df/dy) s + (df/dargs) dargs``, integrated alongside the state
(``sct.jvp`` of the right-hand side), from ``s(t0) = dy0 - f(y0, t0) dt0``;
the output at ``t_i`` adds ``f(y_i, t_i) dt_i``.

SciPy is imported only when a helper runs.
"""

from __future__ import annotations

import numpy as np

from .. import nested
from ..errors import SctError
from .runtime import HELPERS as _ALL


def solution_y(sol):
    """``sol.y``: the solution at ``t_eval`` of the result of ``solve_ivp``."""
    return sol.y


def solution_part(d, sol):
    """The derivative (adjoint or tangent) ``d`` of ``sol.y`` as that of ``sol``, which must come from solve_ivp.

    ``x.y`` on anything else (a named tuple, say) has no derivative in sct: refused, not guessed.
    """
    if type(sol).__name__ != "OdeResult":
        raise SctError(
            f"sct differentiates `.y` only on the result of scipy.integrate.solve_ivp, not on {type(sol).__name__}"
        )
    return d


# ---- the user's right-hand side -----------------------------------------------------------------
class _Field:
    """``func`` seen as ``f(y, t) -> dy/dt`` on flat float vectors, with its vjp and jvp."""

    def __init__(self, func, args, tfirst, y0):
        self.func, self.args, self.tfirst = func, tuple(args), tfirst
        self.n = int(np.size(y0))  # the integrators pass the state as a vector, whatever y0's shape
        self.leaves = [i for i, a in enumerate(self.args) if _differentiable(a)]

    def primals(self, y, t):
        return ((t, y) if self.tfirst else (y, t)) + self.args

    def __call__(self, y, t):
        return _flat(self.func(*self.primals(y, t)))

    def vjp(self, y, t, lam):
        """(f, (df/dy)^T lam, (df/dargs)^T lam flattened)."""
        out, back = nested.COMPILER.vjp(self.func, *self.primals(y, t))
        grads = back(_shaped_like(lam, out))
        dy = grads[1 if self.tfirst else 0]
        dargs = [_flat_tree(grads[2 + i], self.args[i]) for i in self.leaves]
        return _flat(out), _flat(dy), np.concatenate([np.zeros(0), *dargs])

    def jvp(self, y, t, s, dargs):
        """(f, (df/dy) s + (df/dargs) dargs)."""
        primals = self.primals(y, t)
        tangents = ((0.0, s) if self.tfirst else (s, 0.0)) + tuple(dargs)
        out, dot = nested.COMPILER.jvp(self.func, primals, tangents)
        return _flat(out), _flat(dot)

    def args_size(self):
        return sum(_tree_size(self.args[i]) for i in self.leaves)

    def args_grads(self, mu):
        """The flat ``mu`` as one gradient per item of ``args`` (zero for integers and other constants)."""
        grads, k = [], 0
        for i, a in enumerate(self.args):
            if i in self.leaves:
                size = _tree_size(a)
                grads.append(_unflat_tree(mu[k : k + size], a))
                k += size
            else:
                grads.append(0.0)
        return tuple(grads)


# ---- the adjoint and tangent sweeps, for any integrator ---------------------------------------------
def _adjoint(field, g, ys, ts, y0, t0, integrate):
    """(dL/dy0, dL/dts, dL/dt0, mu) for outputs ``ys`` (T, n) at times ``ts`` reached from ``y0`` at ``t0``.

    ``integrate(rhs, z, ta, tb)`` is the state ``z`` carried from time ``ta`` to ``tb`` by ``rhs(z, t)``.
    """
    n, p = field.n, field.args_size()

    def backwards(z, t):
        f, dy, dargs = field.vjp(z[:n], t, z[n : 2 * n])
        return np.concatenate([f, -dy, -dargs])

    times = [t0, *ts]
    states = [np.ravel(y0), *ys]
    cotangents = [np.zeros(n), *g]
    lam, mu = np.array(cotangents[-1], dtype=float), np.zeros(p)
    dts = np.zeros(len(ts))
    for i in range(len(ts), 0, -1):
        dts[i - 1] = np.dot(cotangents[i], field(states[i], times[i]))
        if times[i] != times[i - 1]:
            z = integrate(backwards, np.concatenate([states[i], lam, mu]), times[i], times[i - 1])
            lam, mu = z[n : 2 * n], z[2 * n :]
        lam = lam + cotangents[i - 1]
    dt0 = -np.dot(lam, field(np.ravel(y0), t0))
    return lam, dts, dt0, mu


def _tangent(field, ys, ts, y0, t0, dy0, dt0, dts, dargs, integrate_to):
    """The tangent of the outputs ``ys`` (T, n): the sensitivity equation integrated from ``t0``.

    ``integrate_to(rhs, z0)`` is the state at each of the times ``ts`` (T, size of z0) from ``z0`` at ``t0``.
    """
    n = field.n
    y0 = np.ravel(y0)

    def forwards(z, t):
        return np.concatenate(field.jvp(z[:n], t, z[n:], dargs))

    s0 = np.ravel(dy0) - field(y0, t0) * dt0
    if not np.any(s0) and not any(np.any(_flat_tree(d, d)) for d in dargs):
        sensitivity = np.zeros((len(ts), n))
    else:
        sensitivity = integrate_to(forwards, np.concatenate([y0, s0]))[:, n:]
    drift = np.array([field(ys[i], ts[i]) * dts[i] for i in range(len(ts))]).reshape(len(ts), n)
    return sensitivity + drift


# ---- odeint ----------------------------------------------------------------------------------------
# The options that shape the integration itself (the adjoint uses them too); the rest (Dfun, tcrit,
# full_output, ...) concern the primal solve only.
_ODEINT_OPTIONS = ("rtol", "atol", "hmax", "hmin", "mxstep", "mxordn", "mxords")


def _odeint_setup(func, y0, t, args, options):
    field = _Field(func, args if isinstance(args, tuple) else (args,), options.get("tfirst", False), y0)
    kept = {k: v for k, v in options.items() if k in _ODEINT_OPTIONS}
    if np.ndim(kept.get("atol", 0.0)) > 0:  # per-component tolerances: the augmented state takes the tightest
        kept["atol"] = float(np.min(kept["atol"]))
    return field, kept


def _odeint_between(kept):
    from scipy.integrate import odeint

    def integrate(rhs, z, ta, tb):
        return odeint(rhs, z, np.array([ta, tb], dtype=float), **kept)[-1]

    return integrate


def _odeint_grads(g, ans, func, y0, t, args=(), **options):
    """(dy0, dt, dargs) of ``odeint(func, y0, t, args, **options)`` against the cotangent ``g`` of ``ans``."""
    key = ("odeint", g, ans, func, y0, t, args, options)
    found = _remembered(key)
    if found is not None:
        return found
    field, kept = _odeint_setup(func, y0, t, args, options)
    ts = np.ravel(np.asarray(t, dtype=float))
    ys = np.reshape(np.asarray(ans, dtype=float), (len(ts), field.n))
    gs = np.reshape(np.asarray(g, dtype=float), (len(ts), field.n))
    lam, dts, dt0, mu = _adjoint(field, gs, ys, ts, y0, ts[0], _odeint_between(kept))
    dts[0] += dt0
    result = (_like(lam, y0), _like(dts, t), field.args_grads(mu))
    _remember(key, result)
    return result


def odeint_vjp_y0(g, ans, func, y0, t, args=(), **options):
    """The adjoint of ``odeint(func, y0, t, args)`` in ``y0``."""
    return _odeint_grads(g, ans, func, y0, t, args, **options)[0]


def odeint_vjp_t(g, ans, func, y0, t, args=(), **options):
    """The adjoint of ``odeint(func, y0, t, args)`` in the time points ``t``."""
    return _odeint_grads(g, ans, func, y0, t, args, **options)[1]


def odeint_vjp_args(g, ans, func, y0, t, args=(), **options):
    """The adjoint of ``odeint(func, y0, t, args)`` in ``args``: a tuple, one gradient per item."""
    grads = _odeint_grads(g, ans, func, y0, t, args, **options)[2]
    return grads if isinstance(args, tuple) else grads[0]  # odeint takes a lone argument as (args,)


def _odeint_tangent(ans, func, y0, t, args, options, dy0=0.0, dt=0.0, dargs=None):
    from scipy.integrate import odeint

    field, kept = _odeint_setup(func, y0, t, args, options)
    ts = np.ravel(np.asarray(t, dtype=float))
    ys = np.reshape(np.asarray(ans, dtype=float), (len(ts), field.n))
    dts = np.broadcast_to(np.ravel(np.asarray(dt, dtype=float)), ts.shape)
    dargs = tuple(_zero_tangent(a) for a in field.args) if dargs is None else _as_args(dargs)
    dy0 = np.broadcast_to(np.asarray(dy0, dtype=float), np.shape(y0))

    def integrate_to(rhs, z0):
        return odeint(rhs, z0, ts, **kept)

    out = _tangent(field, ys, ts, y0, ts[0], dy0, dts[0], dts, dargs, integrate_to)
    return np.reshape(out, np.shape(ans))


def odeint_jvp_y0(dy0, ans, func, y0, t, args=(), **options):
    """The tangent of ``odeint(func, y0, t, args)`` for the tangent ``dy0`` of ``y0``."""
    return _odeint_tangent(ans, func, y0, t, args, options, dy0=dy0)


def odeint_jvp_t(dt, ans, func, y0, t, args=(), **options):
    """The tangent of ``odeint(func, y0, t, args)`` for the tangent ``dt`` of the time points."""
    return _odeint_tangent(ans, func, y0, t, args, options, dt=dt)


def odeint_jvp_args(dargs, ans, func, y0, t, args=(), **options):
    """The tangent of ``odeint(func, y0, t, args)`` for the tangent ``dargs`` of ``args`` (one per item)."""
    return _odeint_tangent(ans, func, y0, t, args, options, dargs=dargs)


# ---- solve_ivp -------------------------------------------------------------------------------------
# solve_ivp's options that concern the result's bookkeeping, not the integration: the adjoint drops them.
_IVP_DROPPED = ("t_eval", "dense_output", "events", "vectorized", "args", "first_step", "jac", "jac_sparsity")


def _ivp_setup(fun, y0, args, options):
    args = () if args is None else args
    field = _Field(fun, args if isinstance(args, tuple) else (args,), True, y0)
    kept = {k: v for k, v in options.items() if k not in _IVP_DROPPED}
    if np.ndim(kept.get("atol", 0.0)) > 0:
        kept["atol"] = float(np.min(kept["atol"]))
    return field, kept


def _ivp_between(kept):
    from scipy.integrate import solve_ivp

    def integrate(rhs, z, ta, tb):
        sol = solve_ivp(lambda s, w: rhs(w, s), (ta, tb), z, **kept)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed integrating the adjoint equation backwards: {sol.message}")
        return sol.y[:, -1]

    return integrate


def _ivp_grads(g, ans, fun, t_span, y0, method="RK45", t_eval=None, args=None, **options):
    """(dt_span, dy0, dt_eval, dargs) of ``solve_ivp(fun, t_span, y0, method, t_eval, args=args).y``."""
    ans = np.asarray(ans.y)  # the derivative of the result is that of its y
    key = ("solve_ivp", g, ans, fun, t_span, y0, method, t_eval, args, options)
    found = _remembered(key)
    if found is not None:
        return found
    field, kept = _ivp_setup(fun, y0, args, options)
    ts = np.ravel(np.asarray(t_eval, dtype=float))
    ys = np.reshape(np.asarray(ans, dtype=float), (field.n, len(ts))).T
    gs = np.reshape(np.asarray(g, dtype=float), (field.n, len(ts))).T
    t0 = float(t_span[0])
    lam, dts, dt0, mu = _adjoint(field, gs, ys, ts, y0, t0, _ivp_between({**kept, "method": method}))
    dt_span = type(t_span)([dt0, 0.0]) if isinstance(t_span, tuple | list) else np.array([dt0, 0.0])
    result = (dt_span, _like(lam, y0), _like(dts, t_eval), field.args_grads(mu))
    _remember(key, result)
    return result


def solve_ivp_vjp_t_span(g, ans, fun, t_span, y0, *more, **options):
    """The adjoint of ``solve_ivp(fun, t_span, y0, ...).y`` in ``t_span`` (only its start moves the result)."""
    return _ivp_grads(g, ans, fun, t_span, y0, *more, **options)[0]


def solve_ivp_vjp_y0(g, ans, fun, t_span, y0, *more, **options):
    """The adjoint of ``solve_ivp(fun, t_span, y0, ...).y`` in ``y0``."""
    return _ivp_grads(g, ans, fun, t_span, y0, *more, **options)[1]


def solve_ivp_vjp_t_eval(g, ans, fun, t_span, y0, *more, **options):
    """The adjoint of ``solve_ivp(fun, t_span, y0, ...).y`` in ``t_eval``."""
    return _ivp_grads(g, ans, fun, t_span, y0, *more, **options)[2]


def solve_ivp_vjp_args(g, ans, fun, t_span, y0, *more, **options):
    """The adjoint of ``solve_ivp(fun, t_span, y0, ...).y`` in ``args``: a tuple, one gradient per item."""
    return _ivp_grads(g, ans, fun, t_span, y0, *more, **options)[3]


def _ivp_tangent(ans, fun, t_span, y0, method="RK45", t_eval=None, args=None, tangents=None, **options):
    from scipy.integrate import solve_ivp

    ans = np.asarray(ans.y)
    field, kept = _ivp_setup(fun, y0, args, options)
    ts = np.ravel(np.asarray(t_eval, dtype=float))
    ys = np.reshape(np.asarray(ans, dtype=float), (field.n, len(ts))).T
    tangents = tangents or {}
    dt_span = tangents.get("t_span", (0.0, 0.0))
    dts = np.broadcast_to(np.ravel(np.asarray(tangents.get("t_eval", 0.0), dtype=float)), ts.shape)
    dargs = tangents.get("args")
    dargs = tuple(_zero_tangent(a) for a in field.args) if dargs is None else _as_args(dargs)
    dy0 = np.broadcast_to(np.asarray(tangents.get("y0", 0.0), dtype=float), np.shape(y0))

    def integrate_to(rhs, z0):
        sol = solve_ivp(lambda s, w: rhs(w, s), tuple(t_span), z0, t_eval=ts, method=method, **kept)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed integrating the sensitivity equation: {sol.message}")
        return sol.y.T

    out = _tangent(field, ys, ts, y0, float(t_span[0]), dy0, float(dt_span[0]), dts, dargs, integrate_to)
    return np.reshape(out.T, np.shape(ans))


def solve_ivp_jvp_t_span(dt_span, ans, fun, t_span, y0, *more, **options):
    """The tangent of ``solve_ivp(fun, t_span, y0, ...).y`` for the tangent of ``t_span``."""
    return _ivp_tangent(ans, fun, t_span, y0, *more, tangents={"t_span": dt_span}, **options)


def solve_ivp_jvp_y0(dy0, ans, fun, t_span, y0, *more, **options):
    """The tangent of ``solve_ivp(fun, t_span, y0, ...).y`` for the tangent of ``y0``."""
    return _ivp_tangent(ans, fun, t_span, y0, *more, tangents={"y0": dy0}, **options)


def solve_ivp_jvp_t_eval(dt_eval, ans, fun, t_span, y0, *more, **options):
    """The tangent of ``solve_ivp(fun, t_span, y0, ...).y`` for the tangent of ``t_eval``."""
    return _ivp_tangent(ans, fun, t_span, y0, *more, tangents={"t_eval": dt_eval}, **options)


def solve_ivp_jvp_args(dargs, ans, fun, t_span, y0, *more, **options):
    """The tangent of ``solve_ivp(fun, t_span, y0, ...).y`` for the tangent of ``args`` (one per item)."""
    return _ivp_tangent(ans, fun, t_span, y0, *more, tangents={"args": dargs}, **options)


# ---- flat vectors and trees of arguments ---------------------------------------------------------------
def _differentiable(x) -> bool:
    if isinstance(x, list | tuple):
        return any(_differentiable(v) for v in x)
    if isinstance(x, dict):
        return any(_differentiable(v) for v in x.values())
    if isinstance(x, bool) or callable(x):
        return False
    kind = getattr(np.asarray(x), "dtype", np.dtype(object)).kind
    return kind in "fc"


def _flat(x):
    return np.ravel(np.asarray(x, dtype=float))


def _tree_leaves(x):
    if isinstance(x, list | tuple):
        return [leaf for v in x for leaf in _tree_leaves(v)]
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in _tree_leaves(v)]
    return [x] if _differentiable(x) else []


def _tree_size(x):
    return sum(int(np.size(leaf)) for leaf in _tree_leaves(x))


def _flat_tree(g, like):
    """The leaves of gradient ``g`` (structured like ``like``) as one flat vector."""
    if isinstance(like, list | tuple):
        return np.concatenate([np.zeros(0), *[_flat_tree(gi, li) for gi, li in zip(g, like)]])
    if isinstance(like, dict):
        return np.concatenate([np.zeros(0), *[_flat_tree(g[k], v) for k, v in like.items()]])
    if not _differentiable(like):
        return np.zeros(0)
    return np.broadcast_to(np.asarray(g, dtype=float), np.shape(like)).ravel()


def _unflat_tree(flat, like):
    """``flat`` cut into a gradient with the structure of ``like``."""
    if isinstance(like, list | tuple):
        parts, k = [], 0
        for item in like:
            size = _tree_size(item)
            parts.append(_unflat_tree(flat[k : k + size], item))
            k += size
        return type(like)(parts)
    if isinstance(like, dict):
        out, k = {}, 0
        for key, item in like.items():
            size = _tree_size(item)
            out[key] = _unflat_tree(flat[k : k + size], item)
            k += size
        return out
    if not _differentiable(like):
        return 0.0
    return _like(flat, like)


def _like(flat, x):
    """``flat`` shaped like ``x``: a Python float for a Python float."""
    if isinstance(x, list | tuple):
        return type(x)(float(v) for v in np.ravel(flat))
    if isinstance(x, float | int) or (np.ndim(x) == 0 and not isinstance(x, np.ndarray)):
        return float(np.ravel(flat)[0])
    return np.reshape(np.asarray(flat, dtype=float), np.shape(x)).copy()


def _shaped_like(lam, out):
    """The cotangent ``lam`` (flat) with the structure of the right-hand side's value ``out``."""
    if isinstance(out, list | tuple):
        return type(out)(_like(lam[i : i + 1], v) for i, v in enumerate(out))
    if isinstance(out, float | int):
        return float(lam[0])
    return np.reshape(lam, np.shape(out))


def _zero_tangent(x):
    if isinstance(x, list | tuple):
        return type(x)(_zero_tangent(v) for v in x)
    if isinstance(x, dict):
        return {k: _zero_tangent(v) for k, v in x.items()}
    return np.zeros(np.shape(x)) if np.ndim(x) else 0.0


def _as_args(dargs):
    return tuple(dargs) if isinstance(dargs, list | tuple) else (dargs,)


# ---- one adjoint computed once for all the operands that need it -----------------------------------------
# The reverse sweep asks for dy0, dt and dargs of one call in turn; the second and third requests
# with equal inputs (compared by value, held as copies) reuse the first's result.
_LAST: list = [None]  # (key, result), replaced whole so that a reader never pairs one call's key with another's result


def _frozen(x):
    if isinstance(x, list | tuple):
        return type(x)(_frozen(v) for v in x)
    if isinstance(x, dict):
        return {k: _frozen(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return x.copy()
    return x


def _equal(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if callable(a) or isinstance(a, type):
        return a is b
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _remembered(key):
    last = _LAST[0]
    if last is not None and _equal(last[0], key):
        return _frozen(last[1])
    return None


def _remember(key, result):
    _LAST[0] = (_frozen(key), _frozen(result))


HELPERS = {
    f.__name__: f
    for f in (
        solution_y,
        solution_part,
        odeint_vjp_y0,
        odeint_vjp_t,
        odeint_vjp_args,
        odeint_jvp_y0,
        odeint_jvp_t,
        odeint_jvp_args,
        solve_ivp_vjp_t_span,
        solve_ivp_vjp_y0,
        solve_ivp_vjp_t_eval,
        solve_ivp_vjp_args,
        solve_ivp_jvp_t_span,
        solve_ivp_jvp_y0,
        solve_ivp_jvp_t_eval,
        solve_ivp_jvp_args,
    )
}


_ALL.update(HELPERS)
