"""Higher order: generated derivative functions made differentiable again.

Generated code is ordinary Python source (kept in :mod:`linecache` by
:func:`sct.backend.codegen.compile_source`), so it can go through the pipeline like the
user's own code. ``sct.grad(sct.grad(f))`` differentiates a *derived* function:
the generated ``grad_f`` with its seed ``delta_out`` fixed to ``1.0`` and its
``return`` cut down to what the inner ``grad`` returns::

    def grad_f(x):
        delta_out = 1.0
        ...
        return delta_x

The same trick fixes the tangents of a generated ``jvp_f`` (:class:`JVPAt`: the
directional derivative as a function of the primals) or the cotangent of a
generated ``grad_f`` (:class:`VJPAt`); :mod:`sct.testing` differentiates those
to check second derivatives. Derived functions are compiled per argument
signature, like every other variant.
"""

from __future__ import annotations

import functools
import numbers

import gast

from . import nested
from .backend import codegen
from .backend.runtime import primal_like
from .backend.variants import ANY
from .errors import UnsupportedSyntaxError
from .frontend.signatures import Flat
from .passes import liveness
from .pipeline import compiled, completed, resolve_wrt, signature, validated

LOAD = gast.Load()


def differentiable(fn, sig):
    """A function with source that computes what ``fn`` computes: ``fn`` itself, or its generated code."""
    make = getattr(fn, "__sct_generated__", None)
    if make is not None:
        return make(sig)

    if isinstance(fn, nested.COMPILER.gradient_types):
        if isinstance(fn.fn, Flat):  # its generated code takes (x, rest, k), not the call's arguments
            raise UnsupportedSyntaxError(
                f"cannot differentiate the gradient of {fn.fn.__name__} again: it takes *args, **kwargs, "
                "keyword-only or positional-only parameters; differentiate the gradient of a function with plain "
                f"parameters that calls it, e.g. sct.grad(lambda x, rest: {fn.fn.__name__}(x, *rest))"
            )

        options = {k: v for k, v in fn.options.items() if k != "backend"}  # its code (numba only runs it)
        variant = compiled(fn.fn, fn.positions, sig, **options)
        if fn._with_value:
            select = None
        elif fn.has_aux:  # ((out, aux), grads) -> (grads, aux)
            select = lambda ret: gast.Tuple(elts=[ret.elts[1], ret.elts[0].elts[1]], ctx=LOAD)
        else:
            select = lambda ret: ret.elts[1]
        return regenerate(variant, {extra_params(variant)[0]: 1.0}, select)
    return fn


def extra_params(variant) -> list:
    """The generated function's parameters beyond the user's: the seed ``delta_out``, or the ``dot_*``."""
    names = [a.id for a in gast.parse(variant.source).body[0].args.args]
    return names[len(variant.params) :]


def regenerate(variant, bind: dict, select=None, label=None):
    """Recompile ``variant``'s source with the parameters in ``bind`` fixed and its return cut down.

    ``bind`` maps parameter names to values: numbers become assignments at the top
    of the body (so constant folding sees them), anything else a free name bound
    in the closure. ``select`` maps the returned expression to the one to return.
    """
    tree = liveness.strip(gast.parse(variant.source).body[0])  # the frontend refuses ``del``; it frees nothing here
    consts, prologue = {}, []
    for param, value in bind.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            prologue.append(codegen.assign(param, gast.Constant(value=float(value), kind=None)))
        else:  # bound in the closure under its own name, then assigned (the body may assign the name again)
            held = f"{param}_value"
            consts[held] = value
            prologue.append(codegen.assign(param, codegen.name(held)))
    tree.args.args = [a for a in tree.args.args if a.id not in bind]
    tree.args.defaults = []
    ret = tree.body[-1]
    if select is not None:
        ret.value = select(ret.value)
    tree.body = prologue + tree.body
    text = codegen.unparse(tree)
    helpers = {**variant.helpers, **consts}
    user_globals = variant.function.__globals__
    return codegen.compile_source(text, tree.name, user_globals, helpers, label or tree.name)


class _Derived:
    """A derivative of ``fn`` with some inputs of the generated code fixed; callable and differentiable."""

    def __init__(self, fn, positions):
        self.fn, self.positions = fn, list(positions)
        functools.update_wrapper(self, fn, updated=())
        self.__wrapped__ = fn  # the parameters are fn's

    def __repr__(self):
        return f"<{type(self).__name__} of {getattr(self.fn, '__qualname__', self.fn)!r}>"


class JVPAt(_Derived):
    """``args -> jvp(fn, args, tangents)[1]`` for fixed ``tangents`` (one per position)."""

    def __init__(self, fn, positions, tangents):
        super().__init__(fn, positions)
        self.tangents = list(tangents)

    def variant(self, sig):

        return compiled(self.fn, self.positions, sig, mode="forward")

    def __call__(self, *args):

        args = completed(self.fn, args)
        sig = signature(args)
        variant = validated(self.fn, self.variant(sig), self.positions, sig, mode="forward")
        return variant.function(*args, *self.tangents)[1]

    def __sct_generated__(self, sig):
        variant = self.variant(sig)
        dots = extra_params(variant)
        return regenerate(variant, dict(zip(dots, self.tangents)), lambda ret: ret.elts[1])


class VJPAt(_Derived):
    """``args -> vjp(fn, *args)[1](cotangent)`` restricted to ``positions``, for a fixed cotangent."""

    def __init__(self, fn, positions, cotangent):
        super().__init__(fn, positions)
        self.cotangent = cotangent

    def variant(self, sig):

        return compiled(self.fn, self.positions, sig, many=True)

    def __call__(self, *args):

        args = completed(self.fn, args)
        sig = signature(args)
        variant = validated(self.fn, self.variant(sig), self.positions, sig, many=True)
        return variant.function(*args, self.cotangent)[1]

    def __sct_generated__(self, sig):
        variant = self.variant(sig)
        return regenerate(variant, {extra_params(variant)[0]: self.cotangent}, lambda ret: ret.elts[1])


def generated_vjp(fn, primals, has_aux=False):
    """For ``sct.vjp``'s ``vjp_fn``: ``cotangent -> gradients`` as generated source, the primals fixed."""

    def make(sig):

        positions = list(range(len(primals)))
        variant = compiled(fn, positions, signature(primals), has_aux=has_aux, many=True)
        return regenerate(variant, dict(zip(variant.params, primals)), lambda ret: ret.elts[1])

    return make


# ---- transforms called inside a function being differentiated (sct.frontend.transforms) ----------
class NotGenerated(Exception):
    """A transform called inside differentiated code that sct has no generated source for."""


def for_call(kind, fn, nparams, nprimals=None):
    """A function with source for a transform called inside differentiated code, to be inlined there.

    ``kind`` says what the call computes, and the parameters of the function returned:

    * ``"call"``: ``fn`` is a transform (``sct.grad(g)``), called with ``fn``'s parameters;
    * ``"value"``: ``fn`` itself (the ``out`` of ``sct.vjp``);
    * ``"jvp"``: ``(out, tangent)``, of the primals, ``fn``'s other parameters, then the tangents;
    * ``"hvp"``: the tangent of ``fn``'s gradient, of the same parameters as ``"jvp"``;
    * ``"vjp"``: the gradients (a tuple) of the primals, ``fn``'s other parameters, then the cotangent.

    The code is the generic variant (nothing is known of the arguments when the caller
    is compiled: each may be an array, a number or a container, as for ``sct export``),
    for ``nparams`` parameters, the first ``nprimals`` the primals.
    """

    sig = (ANY,) * nparams  # not the arrays-only variant: a parameter tree's adjoints added with `+` failed
    positions = list(range(nprimals or 0))
    if kind == "call" and _is_gradient(fn):
        made = _gradient_for_call(fn, sig)
    elif kind == "value":  # what sct.vjp returns: fn's value, a NumPy float64 as a Python float
        made = _primal_like_of(differentiable(fn, sig), nparams)
    elif kind == "call":
        made = differentiable(fn, sig)
        if made is fn:
            raise NotGenerated(f"sct has no generated source for {fn!r} called inside a function being differentiated")
    elif kind == "jvp":
        made = regenerate(compiled(fn, positions, sig, mode="forward"), {}, _tangent_like)
    elif kind == "hvp":
        gradient = nested.COMPILER.grad(fn, wrt=tuple(positions) if len(positions) > 1 else 0)
        made = regenerate(compiled(gradient, positions, sig, mode="forward"), {}, _tangent_only)
    else:  # "vjp": the gradients as vjp_fn returns them (a Python float for a Python float primal)
        variant = compiled(fn, positions, sig, many=True)
        made = regenerate(variant, {}, lambda ret: _grads_like(ret.elts[1], [variant.params[i] for i in positions]))
    return made


def _primal_like_of(fn, nparams: int):
    """``lambda *params: primal_like(fn(*params))`` as source: the value as ``sct.vjp`` returns it."""
    params = ", ".join(f"p{i}" for i in range(nparams))
    text = f"def vjp_value({params}):\n    return primal_like(value_fn({params}))\n"
    helpers = {"value_fn": fn, "primal_like": primal_like}
    return codegen.compile_source(text, "vjp_value", getattr(fn, "__globals__", {}), helpers, "vjp_value")


def _is_gradient(fn) -> bool:

    return isinstance(fn, nested.COMPILER.gradient_types)


def _gradient_for_call(fn, sig):
    """:func:`differentiable` of a gradient object, each gradient typed as the object returns it (``grad_like``)."""

    variant = compiled(fn.fn, fn.positions, sig, **fn.options)
    params = variant.params

    def typed(grads):
        if not isinstance(grads, gast.Tuple):
            return _call("grad_like", grads, codegen.name(params[fn.positions[0]]))
        return gast.Tuple(
            elts=[_call("grad_like", g, codegen.name(params[i])) for g, i in zip(grads.elts, fn.positions)], ctx=LOAD
        )

    def select(ret):
        value, grads = ret.elts
        if fn._with_value:  # the value as sct.value_and_grad returns it: a Python float for a float64
            return gast.Tuple(elts=[_value_like(value, fn.has_aux), typed(grads)], ctx=LOAD)
        if fn.has_aux:  # ((out, aux), grads) -> (grads, aux)
            return gast.Tuple(elts=[typed(grads), value.elts[1]], ctx=LOAD)
        return typed(grads)

    return regenerate(variant, {extra_params(variant)[0]: 1.0}, select)


def _grads_like(grads, primals: list):
    """``(like(g0, x0), ...)``: gradients typed as ``vjp_fn`` types them (:func:`sct.backend.runtime.like`)."""
    if not (isinstance(grads, gast.Tuple) and len(grads.elts) == len(primals)):
        grads = gast.Tuple(elts=[_item(grads, k) for k in range(len(primals))], ctx=LOAD)
    return gast.Tuple(elts=[_call("like", g, codegen.name(x)) for g, x in zip(grads.elts, primals)], ctx=LOAD)


def _item(value, k: int):
    return gast.Subscript(value=value, slice=gast.Constant(value=k, kind=None), ctx=LOAD)


def _value_like(value, has_aux: bool):
    """``primal_like(out)``, or ``(primal_like(out), aux)`` where ``value`` is ``(out, aux)``."""
    if not has_aux:
        return _call("primal_like", value)
    if isinstance(value, gast.Tuple) and len(value.elts) == 2:
        out, aux = value.elts
    else:
        out, aux = _item(value, 0), _item(value, 1)
    return gast.Tuple(elts=[_call("primal_like", out), aux], ctx=LOAD)


def _call(helper, *args):
    return gast.Call(func=codegen.name(helper), args=list(args), keywords=[])


def _tangent_like(ret):
    """``return out, dot_out`` -> ``return primal_like(out), tangent_like(dot_out, out)``: what ``sct.jvp`` returns."""
    return gast.Tuple(elts=[_call("primal_like", ret.elts[0]), _tangent_only(ret)], ctx=LOAD)


def _tangent_only(ret):
    return gast.Call(func=codegen.name("tangent_like"), args=[ret.elts[1], ret.elts[0]], keywords=[])


class JacobianOf:
    """``sct.jacobian(fn, wrt)`` (or ``sct.hessian``) called inside differentiated code, as generated source.

    ``mode="rev"`` runs the generated gradient once per element of the value (see
    ``_reverse``); ``"fwd"`` (and ``sct.hessian``), which can be differentiated again, one
    tangent per element of argument ``wrt``
    (``tangent_f`` is the generated tangent code of ``fn``, inlined in turn)::

        def jacobian_f(x):
            size = np.size(x)
            units = np.eye(size)
            zero = tangent_f(x, np.zeros_like(x))  # shaped like f(x)
            jac = np.zeros((np.size(zero), size))
            for i in range(size):
                column = tangent_f(x, np.reshape(units[i], np.shape(x)))
                jac = jac + np.outer(np.ravel(column), units[i])
            return grad_like(np.reshape(jac, np.shape(zero) + np.shape(x)), 0.0)  # a float where 0-d
    """

    def __init__(self, fn, wrt, label="jacobian", mode="fwd"):

        positions, many = resolve_wrt(fn, wrt)
        if many:
            raise NotGenerated(f"sct.{label} with a tuple wrt= inside a function being differentiated; use one wrt")
        self.fn, self.position, self.label, self.mode = fn, positions[0], label, mode
        self.positions = positions
        functools.update_wrapper(self, fn, updated=())
        self.__wrapped__ = fn

    def __call__(self, *args):

        return nested.COMPILER.jacobian(self.fn, wrt=self.position, mode=self.mode)(*args)

    def __sct_generated__(self, sig):

        if self.mode == "rev":
            return self._reverse(sig)
        variant = compiled(self.fn, [self.position], sig, mode="forward")
        tangent = regenerate(variant, {}, _tangent_only)
        x, call, name = self._template_names(sig)
        text = (
            f"def {name}({call}):\n"
            f"    size = np.size({x})\n"
            "    units = np.eye(size)\n"
            f"    zero = tangent_fn({call}, np.zeros_like({x}))\n"
            "    jac = np.zeros((np.size(zero), size))\n"
            "    for i in range(size):\n"
            f"        column = tangent_fn({call}, np.reshape(units[i], np.shape({x})))\n"
            "        jac = jac + np.outer(np.ravel(column), units[i])\n"
            f"    return grad_like(np.reshape(jac, np.shape(zero) + np.shape({x})), 0.0)\n"
        )
        user_globals = tangent.__globals__
        return codegen.compile_source(text, name, user_globals, {"tangent_fn": tangent}, name)

    def _template_names(self, sig):
        """(the argument differentiated by, the parameter list, the function's name) of a template."""
        params = [f"p{i}" for i in range(len(sig))]
        name = f"{self.label}_{getattr(self.fn, '__name__', 'fn')}"
        return params[self.position], ", ".join(params), name if name.isidentifier() else self.label

    def _reverse(self, sig):
        """``mode="rev"``, as ``sct.jacobian`` computes it: one gradient per element of the value."""

        variant = compiled(self.fn, [self.position], sig, many=True)
        gradient = regenerate(variant, {}, lambda ret: gast.Subscript(value=ret.elts[1], slice=_index(0), ctx=LOAD))
        x, call, name = self._template_names(sig)
        text = (
            f"def {name}({call}):\n"
            f"    value = value_fn({call})\n"
            "    size = np.size(value)\n"
            "    units = np.eye(size)\n"
            f"    jac = np.zeros((size, np.size({x})))\n"
            "    for i in range(size):\n"
            f"        row = gradient_fn({call}, np.reshape(units[i], np.shape(value)))\n"
            "        jac = jac + np.outer(units[i], np.ravel(row))\n"
            f"    return grad_like(np.reshape(jac, np.shape(value) + np.shape({x})), 0.0)\n"
        )
        helpers = {"value_fn": differentiable(self.fn, sig), "gradient_fn": gradient}
        return codegen.compile_source(text, name, gradient.__globals__, helpers, name)


def _index(i):
    return gast.Constant(value=i, kind=None)


def hessian_of(fn, wrt=0):
    """``sct.hessian(fn, wrt)`` inside differentiated code: the forward Jacobian of the generated gradient."""

    return JacobianOf(nested.COMPILER.grad(fn, wrt=wrt), wrt, "hessian")


nested.provide(
    for_call=for_call,
    jacobian_of=JacobianOf,
    hessian_of=hessian_of,
    differentiable=differentiable,
    NotGenerated=NotGenerated,
)
