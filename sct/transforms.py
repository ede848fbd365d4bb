"""Forward mode and the transforms built from both modes: jvp, jacobian, hessian, hvp.

* ``jvp(f, primals, tangents)`` runs the generated tangent function
  (:mod:`sct.forward.tangent`): ``f`` and its directional derivative in one pass.
* ``jacobian(f, mode="rev")`` runs the generated adjoint once per output
  element, ``mode="fwd"`` the tangent function once per input element; the
  result has shape ``out.shape + x.shape`` (JAX's ``jacrev``/``jacfwd``).
* ``hessian(f)`` is the forward-mode Jacobian of the generated gradient, and
  ``hvp(f, primals, tangents)`` the tangent of the generated gradient
  (forward-over-reverse): both differentiate generated code (:mod:`sct.higher`).
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from . import api, nested, pipeline, values
from .backend import namespaces, runtime, variants
from .errors import BackendError, SctError

_GRADS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _as_tuple(values, what: str) -> tuple:
    if isinstance(values, tuple | list):
        return tuple(values)
    raise SctError(f"{what} must be a tuple of arguments, e.g. (x,) or (x, y); got {type(values).__name__}")


def _match(tangent, primal):
    """``tangent`` shaped like ``primal``: floats for Python floats, full arrays for arrays."""
    if isinstance(primal, tuple | list):
        return type(primal)(_match(t, p) for t, p in zip(tangent, primal))
    if isinstance(primal, dict):
        return {k: _match(tangent[k], v) for k, v in primal.items()}
    if isinstance(primal, float) and np.ndim(tangent) == 0:
        return float(tangent)
    if isinstance(primal, np.ndarray) and np.shape(tangent) != primal.shape:
        return np.broadcast_to(tangent, primal.shape).copy()
    return tangent


def _is_integer(x) -> bool:
    return variants.integer_kind(pipeline._describe(x))


def _unbound(fn, wrt) -> tuple:
    """``(obj, its method's function, wrt counting obj)`` of a bound method ``obj.m``; ``(None, fn, wrt)`` else."""
    receiver, target, by = api._unbound(fn, wrt)
    return (None, fn, wrt) if receiver is api._NO_RECEIVER else (receiver, target, by)


def _tangent_variant(fn, positions, primals):
    pipeline._check_wrt_args(fn, positions, primals)
    sig = pipeline.signature(primals)
    return pipeline.validated(fn, pipeline.compiled(fn, positions, sig, mode="forward"), positions, sig, mode="forward")


def jvp(fn, primals, tangents):
    """``(f(*primals), J @ tangents)``: forward mode, from generated source.

    ``primals`` and ``tangents`` are tuples with one entry per argument of ``f``,
    the tangent of each argument shaped like it (ignored for integer arguments,
    which have none).
    """
    primals, tangents = _as_tuple(primals, "primals"), _as_tuple(tangents, "tangents")
    if len(primals) != len(tangents):
        raise SctError(f"jvp got {len(primals)} primals but {len(tangents)} tangents; give one per argument")
    for i, (p, t) in enumerate(zip(primals, tangents)):
        if not isinstance(p, tuple | list | dict) and np.shape(p) != np.shape(t):
            raise SctError(f"tangent {i} has shape {np.shape(t)} but its primal has shape {np.shape(p)}")
    positions = [i for i, p in enumerate(primals) if not _is_integer(p)]  # integers have no tangent
    for i in positions:
        values.check_argument(getattr(fn, "__name__", repr(fn)), i, primals[i], integers_ok=True)
    receiver, fn, _ = _unbound(fn, 0)  # obj.m: compiled for self's class, along the primals after self
    if receiver is not None:
        primals, tangents, positions = (receiver, *primals), (None, *tangents), [i + 1 for i in positions]
    primals = pipeline.completed(fn, primals)  # the generated code takes every parameter: defaults fill in the rest
    variant = _tangent_variant(fn, positions, primals)
    out, dot = _run_tangent(fn, variant, primals, [tangents[i] for i in positions], "sct.jvp")
    values.check_output(getattr(fn, "__name__", repr(fn)), out, "sct.jvp")
    return runtime.primal_like(out), _match(dot, out)  # Python floats out, as the tangent is


def _run_tangent(fn, variant, primals, tangents, what: str):
    """``variant.function(*primals, *tangents)``; where it fails on a value that is no number, say so."""
    try:
        return variant.function(*primals, *tangents)
    except (TypeError, ValueError) as exc:  # the tangent of a str, say, fails in the generated code
        try:
            own = fn(*primals)
        except Exception:
            raise exc from None
        values.check_output(getattr(fn, "__name__", repr(fn)), own, what)
        raise


# ---- Jacobians ---------------------------------------------------------------------
def jacobian(fn, wrt=0, mode="rev"):
    """The Jacobian of ``fn``: ``jacobian(f)(*args)`` has shape ``out.shape + args[wrt].shape``.

    ``mode="rev"`` runs the adjoint once per output element (good for few
    outputs); ``mode="fwd"`` runs the tangent function once per input element
    (good for few inputs). A tuple ``wrt`` gives a tuple of Jacobians.
    """
    if mode not in ("rev", "fwd"):
        raise SctError(f"mode={mode!r}: use 'rev' (reverse mode) or 'fwd' (forward mode)")
    receiver, target, by = _unbound(fn, wrt)  # obj.m: the method's function, called with obj first
    positions, many = pipeline.resolve_wrt(target, by)
    run = _jacrev if mode == "rev" else _jacfwd

    @functools.wraps(fn)
    def jacobian_fn(*args):
        args = pipeline.completed(target, args if receiver is None else (receiver, *args))  # defaults, as f takes them
        _numpy_only("jacobian", fn, args, dask_ok=True)
        for p in positions:
            if p < len(args) and np.iscomplexobj(args[p]):  # a real Jacobian cannot hold du/dx - i du/dy
                raise SctError(
                    f"sct.jacobian and sct.hessian do not take complex arguments yet (argument {p} of "
                    f"{getattr(fn, '__name__', fn)!r} is complex); use sct.grad, sct.vjp or sct.jvp"
                )
        jacobians = run(target, positions, args)
        return tuple(jacobians) if many else jacobians[0]

    # what a call of jacobian_fn inside differentiated code compiles to (sct.frontend.transforms)
    jacobian_fn.__sct_transform__ = ("jacobian", fn, {"wrt": wrt, "mode": mode})
    return jacobian_fn


def _jacrev(fn, positions, args):
    pipeline._check_wrt_args(fn, positions, args)
    sig = pipeline.signature(args)
    variant = pipeline.validated(fn, pipeline.compiled(fn, positions, sig, many=True), positions, sig, many=True)
    out = _array_output(fn, fn(*args))
    rows = []
    for idx in np.ndindex(out.shape):
        seed = np.zeros(out.shape)
        seed[idx] = 1.0
        rows.append(variant.function(*args, seed if out.ndim else 1.0)[1])
    return [_assemble([r[k] for r in rows], out.shape, args[p], rows_first=True) for k, p in enumerate(positions)]


def _jacfwd(fn, positions, args):
    variant = _tangent_variant(fn, positions, args)
    zeros = [np.zeros(np.shape(args[p])) if np.ndim(args[p]) else 0.0 for p in positions]
    out = None
    jacobians = []
    for k, p in enumerate(positions):
        columns = []
        for idx in np.ndindex(np.shape(args[p])):
            tangents = list(zeros)
            tangents[k] = np.zeros(np.shape(args[p]))
            tangents[k][idx] = 1.0
            if not np.ndim(args[p]):
                tangents[k] = 1.0
            value, dot = _run_tangent(fn, variant, args, tangents, "sct.jacobian")
            out = _array_output(fn, value)
            columns.append(np.broadcast_to(dot, out.shape))
        if out is None:  # an empty argument
            out = _array_output(fn, _run_tangent(fn, variant, args, zeros, "sct.jacobian")[0])
        jacobians.append(_assemble(columns, out.shape, args[p], rows_first=False))
    return jacobians


def _array_output(fn, value):
    if isinstance(value, tuple | list | dict):
        raise SctError(
            f"sct.jacobian needs {fn.__name__} to return one array, not a {type(value).__name__}; "
            "take the Jacobian of each output separately"
        )
    values.check_output(fn.__name__, value, "sct.jacobian")
    return np.asarray(value)


def _assemble(parts, out_shape, x, rows_first: bool):
    """Stack per-element results into an array of shape ``out_shape + x.shape``."""
    x_shape = np.shape(x)
    if rows_first:  # one gradient (shaped like x) per output element
        jac = np.array(parts, dtype=float).reshape(out_shape + x_shape)
    else:  # one tangent (shaped like out) per input element
        nx, nout = len(x_shape), len(out_shape)
        jac = np.array(parts, dtype=float).reshape(x_shape + out_shape)
        jac = jac.transpose(list(range(nx, nx + nout)) + list(range(nx)))
    return float(jac) if jac.ndim == 0 else np.ascontiguousarray(jac)  # as nested jacobians compute it


# ---- second order ----------------------------------------------------------------------
def _grad_of(fn, wrt):
    """``sct.grad(fn, wrt)``, made once per (fn, wrt) so its compiled variants are reused."""
    per_fn = _GRADS.setdefault(fn, {})
    if wrt not in per_fn:
        per_fn[wrt] = api.grad(fn, wrt=wrt)
    return per_fn[wrt]


def hessian(fn, wrt=0):
    """The Hessian of scalar ``fn``: the forward-mode Jacobian of its generated gradient.

    ``hessian(f)(x)`` has shape ``x.shape + x.shape``; a tuple ``wrt`` gives a
    tuple of tuples of blocks, ``H[i][j]`` for arguments ``wrt[i]`` and ``wrt[j]``.
    """
    receiver, target, by = _unbound(fn, wrt)  # obj.m: the method's function, called with obj first
    positions, many = pipeline.resolve_wrt(target, by)
    blocks = [[jacobian(_grad_of(target, i), wrt=j, mode="fwd") for j in positions] for i in positions]

    @functools.wraps(fn)
    def hessian_fn(*args):
        args = pipeline.completed(target, args if receiver is None else (receiver, *args))  # defaults, as f takes them
        _numpy_only("hessian", fn, args)
        _check_value(target, tuple(positions) if many else positions[0], args)
        if not many:
            return blocks[0][0](*args)
        return tuple(tuple(block(*args) for block in row) for row in blocks)

    hessian_fn.__sct_transform__ = ("hessian", fn, {"wrt": wrt})
    return hessian_fn


def hvp(fn, primals, tangents):
    """Hessian-vector product ``H @ v`` of scalar ``fn``, without forming ``H``.

    Forward-over-reverse: the tangent of the generated gradient along
    ``tangents``. With several primals, ``H`` is the Hessian with respect to all
    of them and the result a tuple (one entry per primal).
    """
    primals = _as_tuple(primals, "primals")
    if _unbound(fn, 0)[0] is not None:
        raise SctError(
            f"sct.hvp of the bound method {fn.__qualname__}: differentiate a function of the arguments, "
            f"such as lambda x: obj.{fn.__name__}(x)"
        )
    wrt = tuple(range(len(primals))) if len(primals) > 1 else 0
    _numpy_only("hvp", fn, primals)
    _check_value(fn, wrt, primals)
    return jvp(_grad_of(fn, wrt), primals, tangents)[1]


def _numpy_only(what: str, fn, args, dask_ok: bool = False) -> None:
    """Refuse another library's arrays where the transform would run NumPy code on them, or differentiate
    generated code written against their namespace (whose functions sct has no rules for), naming them.

    ``jacobian`` seeds and assembles with NumPy, which takes Dask arrays (computing them); ``hessian`` and
    ``hvp`` differentiate the generated gradient again, which for Dask arrays calls Dask's own reductions."""
    found = {namespaces.describe_value(a) for a in _leaves(args)} - {None}
    if dask_ok:
        found = {k for k in found if not k.__module__.startswith("dask")}
    if not found:
        return
    kinds = ", ".join(sorted(f"{k.__module__}.{k.__name__}" for k in found))
    name = getattr(fn, "__name__", repr(fn))
    raise BackendError(
        f"sct.{what} of {name} does not run on arrays of type {kinds}: "
        + (
            "it differentiates the generated gradient again, and for these arrays that code calls the library's "
            "own functions, which sct has no rules for"
            if what != "jacobian"
            else "it builds the Jacobian with NumPy"
        )
        + ". sct.grad, sct.value_and_grad, sct.vjp and sct.jvp run on them; for this, pass NumPy arrays"
        + (
            " (or take sct.grad of `def g(x, v): return np.sum(sct.grad(f)(x) * v)`, H @ v by reverse over "
            "reverse, which runs on them)"
            if what != "jacobian"
            else ""
        )
    )


def _leaves(args):
    for a in args:
        if isinstance(a, tuple | list):
            yield from _leaves(a)
        elif isinstance(a, dict):
            yield from _leaves(list(a.values()))
        else:
            yield a


def _check_value(fn, wrt, args) -> None:
    """Refuse a value of ``fn`` that is no real scalar (a str): what ``grad`` checks on each call.

    ``hessian`` and ``hvp`` differentiate the generated gradient, which does not
    check it; so here, on a call where the analysis did not prove it a scalar.
    """
    variant = _grad_of(fn, wrt).variant_for(args)
    if variant is None or not variant.scalar:
        pipeline._check_scalar(fn, fn(*args))


nested.provide(
    makers={jacobian: "jacobian", hessian: "hessian"}, direct={jvp: "jvp", hvp: "hvp"}, jacobian=jacobian, jvp=jvp
)
