"""Higher order: generated derivative functions made differentiable again.

Generated code is ordinary Python source (kept in :mod:`linecache` by
:func:`sct.codegen.compile_source`), so it can go through the pipeline like the
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

from . import codegen
from .errors import UnsupportedSyntaxError

LOAD = gast.Load()


def differentiable(fn, sig):
    """A function with source that computes what ``fn`` computes: ``fn`` itself, or its generated code."""
    make = getattr(fn, "__sct_generated__", None)
    if make is not None:
        return make(sig)
    from .api import Grad, ValueAndGrad

    if isinstance(fn, Grad | ValueAndGrad):
        from .api import compiled
        from .signatures import Flat

        if isinstance(fn.fn, Flat):  # its generated code takes (x, rest, k), not the call's arguments
            raise UnsupportedSyntaxError(
                f"cannot differentiate the gradient of {fn.fn.__name__} again: it takes *args, **kwargs, "
                "keyword-only or positional-only parameters; differentiate the gradient of a function with plain "
                f"parameters that calls it, e.g. sct.grad(lambda x, rest: {fn.fn.__name__}(x, *rest))"
            )

        variant = compiled(fn.fn, fn.positions, sig, **fn.options)
        if isinstance(fn, ValueAndGrad):
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
    tree = gast.parse(variant.source).body[0]
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
        from .api import compiled

        return compiled(self.fn, self.positions, sig, mode="forward")

    def __call__(self, *args):
        from .api import signature, validated

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
        from .api import compiled

        return compiled(self.fn, self.positions, sig, many=True)

    def __call__(self, *args):
        from .api import signature, validated

        sig = signature(args)
        variant = validated(self.fn, self.variant(sig), self.positions, sig, many=True)
        return variant.function(*args, self.cotangent)[1]

    def __sct_generated__(self, sig):
        variant = self.variant(sig)
        return regenerate(variant, {extra_params(variant)[0]: self.cotangent}, lambda ret: ret.elts[1])


def generated_vjp(fn, primals, has_aux=False):
    """For ``sct.vjp``'s ``vjp_fn``: ``cotangent -> gradients`` as generated source, the primals fixed."""

    def make(sig):
        from .api import compiled, signature

        positions = list(range(len(primals)))
        variant = compiled(fn, positions, signature(primals), has_aux=has_aux, many=True)
        return regenerate(variant, dict(zip(variant.params, primals)), lambda ret: ret.elts[1])

    return make
