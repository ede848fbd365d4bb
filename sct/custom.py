"""Custom rules: tell sct how to differentiate a function instead of letting it read the body.

Two styles, and both put the rule into the one rule table, where the emitters
find it like any built-in rule. A user's rule is called *by name* in the
generated code (``delta_x = logsumexp_vjp(delta_b, b, x)``), so the source shows
exactly which rule runs.

autograd style, for any function (a C extension, a library call, your own):

    sct.defvjp(fn, rule_0, rule_1, ...)   # rule_i(g, ans, *args) -> contribution to args[i]
    sct.defjvp(fn, rule_0, rule_1, ...)   # rule_i(t, ans, *args) -> share of the output tangent

JAX style, as a decorator on your own function::

    @sct.custom_vjp
    def f(x, y): ...

    def f_fwd(x, y):
        return f(x, y), residuals        # the value, and what f_bwd needs
    def f_bwd(residuals, g):
        return (gx, gy)                  # one cotangent per argument

    f.defvjp(f_fwd, f_bwd)

    @sct.custom_jvp
    def h(x): ...

    @h.defjvp
    def h_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return h(x), <tangent of the output>

Registering only one mode is enough: the other is made from it by evaluating
the rule on unit vectors (once per element of the output for a missing forward
rule, once per element of the argument for a missing reverse rule), which is
exact but costs a loop; register both for large arrays.
"""

from __future__ import annotations

import functools
import inspect
import threading

import numpy as np

from . import pipeline
from .backend import codegen
from .errors import SctError
from .higher import JVPAt, VJPAt
from .rules import lookup, table

__all__ = ["defvjp", "defjvp", "custom_vjp", "custom_jvp"]


# ---- autograd style ----------------------------------------------------------------
def defvjp(fn, *rules):
    """Register reverse rules for ``fn``, which sct then treats as a primitive.

    One rule per positional argument, ``rule(g, ans, *args) -> contribution``:
    ``g`` is the gradient of ``fn``'s output, ``ans`` its value; ``None`` for an
    argument with no derivative. Where ``fn`` has no forward rule, one is made
    from these (see the module docstring).
    """
    _check_rules(fn, rules, "defvjp")
    entry = lookup(fn)
    keep_jvp = entry is not None and entry.jvp and not _derived(entry.jvp)
    jvp_symbolic = entry is not None and getattr(entry, "jvp_symbolic", entry.symbolic)
    table.defvjp(fn, *rules, symbolic=False)
    _differentiable_rules(rules)
    entry = lookup(fn)
    if keep_jvp:
        entry.jvp_symbolic = jvp_symbolic
    else:
        entry.jvp = [None if r is None else _jvp_from_vjp(r, fn, i) for i, r in enumerate(rules)]
        entry.jvp_symbolic = False
    _forget_compiled()


def defjvp(fn, *rules):
    """Register forward rules for ``fn``: ``rule(t, ans, *args)`` maps argument ``i``'s tangent
    ``t`` to its share of the output's tangent (``None``: no derivative)."""
    _check_rules(fn, rules, "defjvp")
    entry = lookup(fn)
    keep_vjp = entry is not None and entry.vjp and not entry.nondiff and not _derived(entry.vjp)
    table.defjvp(fn, *rules)  # symbolic stays as it was: it describes the reverse rules
    _differentiable_rules(rules)
    entry = lookup(fn)
    entry.jvp_symbolic = False
    if not keep_vjp:
        entry.vjp = [None if r is None else _vjp_from_jvp(r, fn, i) for i, r in enumerate(rules)]
        entry.symbolic = False
    _forget_compiled()


def _check_rules(fn, rules, what):
    if not callable(fn):
        raise SctError(f"sct.{what} expects the function to register rules for, got {fn!r}")
    if not rules or not all(r is None or callable(r) for r in rules):
        raise SctError(f"sct.{what}({_label(fn)}, ...) needs one rule (a function or None) per argument")


def _forget_compiled():
    """Variants compiled before a rule changed must not be reused."""
    pipeline._CACHE.clear()


def _label(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _name(rule, fn, i, kind) -> str:
    own = getattr(rule, "__name__", "<lambda>")
    if own.isidentifier():
        return own
    return f"{getattr(fn, '__name__', 'rule')}_{kind}{i}"


def _differentiable_rules(rules):
    """Make each rule written as a plain function a primitive too, differentiated by sct itself.

    Generated code calls a user's rule by name; differentiating that code again
    (second order, ``check_grads(order=2)``) needs the rule's own derivatives:
    its forward and reverse variants, compiled from its source when first used.
    """
    for rule in rules:
        if rule is None or lookup(rule) is not None or getattr(rule, "derived", False):
            continue
        if not inspect.isfunction(rule) or rule.__code__.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
            continue
        n = rule.__code__.co_argcount
        table.defvjp(rule, *[_RuleVJP(rule, k) for k in range(n)], symbolic=False)
        lookup(rule).jvp = [_RuleJVP(rule, k) for k in range(n)]
        lookup(rule).jvp_symbolic = False


class _RuleJVP:
    """Forward rule for operand ``k`` of a user's rule, from sct's tangent code of the rule."""

    derived = True

    def __init__(self, rule, k):
        self.rule, self.k, self.__name__ = rule, k, f"jvp_of_{rule.__name__}"

    def __call__(self, t, ans, *args, **kwargs):
        return JVPAt(self.rule, [self.k], [t])(*_positional(self.rule, args, kwargs))


class _RuleVJP:
    """Reverse rule for operand ``k`` of a user's rule, from sct's adjoint code of the rule."""

    derived = True

    def __init__(self, rule, k):
        self.rule, self.k, self.__name__ = rule, k, f"vjp_of_{rule.__name__}"

    def __call__(self, g, ans, *args, **kwargs):
        return VJPAt(self.rule, [self.k], g)(*_positional(self.rule, args, kwargs))[0]


def _positional(rule, args, kwargs) -> tuple:
    """``args`` and ``kwargs`` as positional arguments of ``rule`` (its generated code takes no keywords)."""
    if not kwargs:
        return args
    try:
        bound = inspect.signature(rule).bind(*args, **kwargs)
    except TypeError as exc:
        raise SctError(f"cannot call the rule {_label(rule)} with these arguments: {exc}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise SctError(
            f"higher derivatives of the rule {_label(rule)} need its keyword-only arguments "
            f"{sorted(bound.kwargs)} as positional parameters"
        )
    return bound.args


# ---- one mode from the other -----------------------------------------------------
def _derived(rules) -> bool:
    return not callable(rules) and any(getattr(r, "derived", False) for r in rules)


def _unit(shape, idx):
    if not shape:
        return 1.0
    e = np.zeros(shape)
    e[idx] = 1.0
    return e


def _shaped_like(values, like):
    """``values`` (an array) as ``like``'s kind: a float for a Python scalar."""
    if np.ndim(like) == 0 and not isinstance(like, np.ndarray):
        return float(values)
    return values


def _zero(x):
    return 0.0 if np.ndim(x) == 0 and not isinstance(x, np.ndarray) else np.zeros(np.shape(x))


def _jvp_from_vjp(rule, fn, i):
    """A forward rule from reverse rule ``i``: one reverse evaluation per output element."""
    return _Transposed(rule, lambda ans, args: np.shape(ans), f"jvp_from_{_name(rule, fn, i, 'vjp')}")


def _vjp_from_jvp(rule, fn, i):
    """A reverse rule from forward rule ``i``: one forward evaluation per element of the argument."""
    return _Transposed(rule, lambda ans, args: np.shape(args[i]), f"vjp_from_{_name(rule, fn, i, 'jvp')}")


class _Transposed:
    """``D(x, ans, *args) = sum_k e_k <base(e_k, ans, *args), x>``: the transpose of a linear rule.

    ``base`` is linear in its first operand, so ``D`` is its adjoint (a reverse
    rule from a forward one, or back). ``D`` has rules of its own, made from
    sct's derivatives of ``base``, so generated code calling it can be
    differentiated again.
    """

    derived = True

    def __init__(self, base, unit_shape, name):
        self.base, self.unit_shape, self.__name__ = base, unit_shape, name
        if inspect.isfunction(base):
            n = base.__code__.co_argcount
            table.defvjp(
                self,
                _TransposedPart(self, 0, "vjp"),
                *[_TransposedPart(self, j, "vjp") for j in range(1, n)],
                symbolic=False,
            )
            lookup(self).jvp = [_TransposedPart(self, j, "jvp") for j in range(n)]
            lookup(self).jvp_symbolic = False

    def __call__(self, x, ans, *args, base=None, **kwargs):
        base = base or self.base
        shape = self.unit_shape(ans, args)
        out = np.zeros(shape, dtype=np.result_type(x, 0.0))
        for idx in np.ndindex(shape):
            out[idx] = np.sum(base(_unit(shape, idx), ans, *args, **kwargs) * x)
        return float(out) if not shape and not isinstance(x, np.ndarray) else out


class _TransposedPart:
    """A rule of a :class:`_Transposed` rule ``D`` for its operand ``j`` (see its docstring)."""

    derived = True

    def __init__(self, owner, j, kind):
        self.owner, self.j, self.kind = owner, j, kind
        self.__name__ = f"{kind}_of_{owner.__name__}"

    def __call__(self, d, ans_d, x, ans, *args, **kwargs):
        base = self.owner.base
        if self.j == 0:  # D is linear in x: its own forward rule; its transpose, base, in reverse
            return self.owner(d, ans, *args, **kwargs) if self.kind == "jvp" else base(d, ans, *args, **kwargs)
        if self.kind == "vjp":  # d/d(operand j) of <d, D(x, ...)> = <base(d, ...), x>
            return VJPAt(base, [self.j], x)(*_positional(base, (d, ans, *args), kwargs))[0]
        moved = JVPAt(base, [self.j], [d])
        positional = lambda e, a, *rest, **kw: moved(*_positional(base, (e, a, *rest), kw))  # noqa: E731
        return self.owner(x, ans, *args, base=positional, **kwargs)


# ---- JAX style ---------------------------------------------------------------------
class _Custom:
    """A user function with its own derivative rule; calling it runs the function itself."""

    def __init__(self, fun):
        if not callable(fun):
            raise SctError(f"@sct.{type(self).__name__} decorates a function, got {fun!r}")
        self.fun = fun
        functools.update_wrapper(self, fun)
        sig = inspect.signature(fun)
        self.params = [
            p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __repr__(self):
        return f"<sct.{type(self).__name__} {_label(self.fun)}>"

    def rule_name(self, base: str, i: int) -> str:
        return base if len(self.params) == 1 else f"{base}_{self.params[i]}"

    def __sct_generated__(self, sig):
        """For ``sct.grad(f)`` on the decorated function itself: ``def custom_f(x): return f(x)``."""
        name = self.fun.__name__ if self.fun.__name__.isidentifier() else "fn"
        callee = name if name not in codegen.BASE_NAMESPACE else f"{name}_"
        params = ", ".join(self.params)
        text = f"def custom_{name}({params}):\n    return {callee}({params})\n"
        return codegen.compile_source(text, f"custom_{name}", self.fun.__globals__, {callee: self}, name)


class custom_vjp(_Custom):  # noqa: N801  (named like jax.custom_vjp)
    """``@sct.custom_vjp``: differentiate ``f`` in reverse mode with ``f.defvjp(fwd, bwd)``, as in JAX.

    ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, g) -> (g_0, g_1, ...)``
    (one cotangent per positional argument; ``None`` for none). In the generated
    code the rule for argument ``x`` is called as ``<bwd>_x(delta_out, out, *args)``,
    which runs ``fwd`` for the residuals, then ``bwd``, once for all arguments.
    Forward mode through ``f`` evaluates ``bwd`` once per element of the output.
    """

    def defvjp(self, fwd, bwd):
        if not (callable(fwd) and callable(bwd)):
            raise SctError("f.defvjp(fwd, bwd) takes two functions: fwd(*args) -> (out, residuals), bwd(res, g)")
        run = _JointVJP(self, fwd, bwd)
        base = _name(bwd, self.fun, 0, "bwd")
        defvjp(self, *[_Part(run, i, self.rule_name(base, i)) for i in range(len(self.params))])
        return self


class custom_jvp(_Custom):  # noqa: N801  (named like jax.custom_jvp)
    """``@sct.custom_jvp``: differentiate ``f`` in forward mode with ``f.defjvp(jvp)``, as in JAX.

    ``jvp(primals, tangents) -> (out, tangent_out)``, where ``primals`` and
    ``tangents`` are tuples with one entry per argument. Usable as a decorator
    (``@f.defjvp``). In the generated code the rule for argument ``x`` is called
    as ``<jvp>_x(dot_x, out, *args)`` (the other tangents zero). Reverse mode
    through ``f`` evaluates ``jvp`` once per element of each argument.
    """

    def defjvp(self, jvp):
        if not callable(jvp):
            raise SctError("f.defjvp(jvp) takes one function: jvp(primals, tangents) -> (out, tangent_out)")
        base = _name(jvp, self.fun, 0, "jvp")
        defjvp(self, *[_TangentPart(jvp, i, self.rule_name(base, i)) for i in range(len(self.params))])
        return jvp


class _JointVJP:
    """Runs ``fwd`` then ``bwd`` once per (g, args), for the per-argument rules to share."""

    def __init__(self, owner, fwd, bwd):
        self.owner, self.fwd, self.bwd = owner, fwd, bwd
        self.last = None
        self.lock = threading.Lock()

    def __call__(self, g, args):
        key = (g, *args)
        with self.lock:
            last = self.last
            if last is not None and len(last[0]) == len(key) and all(a is b for a, b in zip(last[0], key)):
                return last[1]
        _, residuals = self.fwd(*args)
        grads = self.bwd(residuals, g)
        if not isinstance(grads, tuple | list):
            grads = (grads,)
        if len(grads) != len(args):
            raise SctError(
                f"the bwd rule of {_label(self.owner.fun)} returned {len(grads)} cotangents for {len(args)} "
                "arguments; return a tuple with one per argument (None for none)"
            )
        with self.lock:
            self.last = (key, grads)
        return grads


class _Part:
    """Reverse rule for argument ``i`` of a custom_vjp function."""

    def __init__(self, run, i, name):
        self.run, self.i, self.__name__ = run, i, name

    def __call__(self, g, ans, *args):
        grad = self.run(g, args)[self.i]
        return 0.0 * np.asarray(args[self.i]) if grad is None else grad


class _TangentPart:
    """Forward rule for argument ``i`` of a custom_jvp function: the jvp with the other tangents zero."""

    def __init__(self, jvp, i, name):
        self.jvp, self.i, self.__name__ = jvp, i, name

    def __call__(self, t, ans, *args):
        tangents = tuple(t if j == self.i else _zero(a) for j, a in enumerate(args))
        return self.jvp(tuple(args), tangents)[1]
