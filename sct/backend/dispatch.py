"""The per-call fast path of a gradient object: generated, like the gradients.

A gradient object must pick the compiled variant for its arguments' signature
and check that the names the variant was compiled against still mean the same
objects (and the facts about the arguments' dimensions its code relies on,
``W1.shape[1] == b1.shape[0]``, still hold), on every call. Done with general code (build the signature tuple, look
it up, call a guard function) that costs more than a small scalar gradient
itself. So, as a JIT would, each gradient object compiles a dispatcher for the
variants it has seen: a chain of inline type tests and identity tests that ends
in the variant's code (the latest one's, written in) or a direct call of it.
Anything the chain does not recognise goes to the general path, which compiles
new variants and regenerates the dispatcher.

Besides the function's parameter names and the latest variant's own code, the
generated text holds no user names: every object it tests against is bound by
position (``__sct_v0_scope0``, ``__sct_v0_key0``, ``__sct_function1``, ...).
"""

from __future__ import annotations

import inspect
import textwrap
import types

import numpy as np

from ..analysis.shapes import fact_terms
from . import codegen

FLOAT = (0, "float")  # the signature of an argument that is exactly a Python float
INT = (0, "int")  # exactly a Python int (a bool, an IntEnum, a NumPy integer are (0, "b") and (0, "i"))
ABSENT = object()  # what a guarded name held when it was not defined (a builtin)
MISSING = object()  # an argument not given


class TypeOf:
    """What a guarded global must hold where only its type is relied on: a value of exactly ``type``.

    A module global holding a Python number is read live (rebinding it to another number needs no
    recompile), but the variants rely on its being a number (rank 0: no ``unbroadcast``, a scalar value
    that needs no check): the guard tests ``type(scope[name]) is type``.
    """

    def __init__(self, type_):
        self.type = type_

    def __repr__(self):
        return f"TypeOf({self.type.__name__})"


def guard_terms(guards, env: dict, prefix: str = "") -> list[str]:
    """Identity tests that hold while ``guards`` (see ``api._guards``) still hold.

    Binds the objects tested into ``env``. A term may raise ``KeyError`` (a
    guarded global deleted) or ``ValueError`` (an emptied closure cell): both
    mean the guard fails.
    """
    cells, names, codes = guards
    terms = []
    for k, (cell, value) in enumerate(cells):
        env[f"{prefix}cell{k}"], env[f"{prefix}held{k}"] = cell, value
        terms.append(f"{prefix}cell{k}.cell_contents is {prefix}held{k}")
    for k, (scope, key, value) in enumerate(names):
        env[f"{prefix}scope{k}"], env[f"{prefix}key{k}"] = scope, key
        if value is ABSENT:  # a builtin the module could later shadow
            terms.append(f"{prefix}key{k} not in {prefix}scope{k}")
        elif isinstance(value, TypeOf):  # a number read live: it must stay one of this type
            env[f"{prefix}global{k}"] = value.type
            terms.append(f"type({prefix}scope{k}[{prefix}key{k}]) is {prefix}global{k}")
        else:
            env[f"{prefix}global{k}"] = value
            terms.append(f"{prefix}scope{k}[{prefix}key{k}] is {prefix}global{k}")
    for k, (owner, code, defaults, kwdefaults) in enumerate(codes):
        env[f"{prefix}owner{k}"], env[f"{prefix}code{k}"] = owner, code
        terms.append(f"{prefix}owner{k}.__code__ is {prefix}code{k}")
        for attribute, value in (("defaults", defaults), ("kwdefaults", kwdefaults)):
            if value is None:  # no defaults: every call gave every argument, none was baked in
                continue
            env[f"{prefix}{attribute}{k}"] = value  # what an inlined call left to a default baked in
            terms.append(f"{prefix}owner{k}.__{attribute}__ is {prefix}{attribute}{k}")
    return terms


def guard_function(guards):
    """``fresh()``: whether the names a compile resolved still mean the same objects."""
    env = {}
    body = " and ".join(guard_terms(guards, env)) or "True"
    text = (
        "def fresh():\n"
        "    try:\n"
        f"        return {body}\n"
        "    except (KeyError, ValueError):  # a deleted global, an emptied cell\n"
        "        return False\n"
    )
    exec(compile(text, codegen.register(text, "guard"), "exec"), env)
    return env["fresh"]


def _argument_test(param: str, sig) -> str | None:
    """An inline test that argument ``param`` has signature ``sig``, or None if there is none cheap."""
    if sig == FLOAT:
        return f"type({param}) is float"
    if sig == INT:
        return f"type({param}) is int"
    if isinstance(sig, tuple) and len(sig) == 2 and isinstance(sig[0], int) and isinstance(sig[1], str):
        ndim, kind = sig
        return f"type({param}) is __sct_ndarray and {param}.ndim == {ndim} and {param}.dtype.kind == {kind!r}"
    return None


def dispatcher(
    variants: list,
    general,
    explain,
    arithmetic,
    check,
    *,
    with_value: bool,
    has_aux: bool,
    names=None,
    name=None,
    record=False,
):
    """A function ``call(*args)`` that runs the right variant, or ``general(*args)``.

    ``variants`` is a list of ``(signature, compiled)``, the first tested first;
    ``explain(args, exc)`` turns a failure of the generated code into the user's
    error; ``arithmetic(args)``, called while an ``ArithmeticError`` of the generated code
    is handled, the result NumPy's arithmetic gives (or that error again); ``check(value)``
    raises if the value is not a scalar (not called for variants proved ``scalar``).
    A call returns ``(value, grads)`` if ``with_value``; else ``grads``, or ``(grads, aux)`` if ``has_aux``.

    The dispatcher takes the function's parameters as its own
    (``def call(x=MISSING, y=MISSING, *rest)``): no tuple to build and
    unpack, and keywords bind as they bind in the function, at no cost to a
    positional call. (A call that leaves a parameter to its default takes the
    general path, which fills it in.) ``names`` are the function's own names for
    its positional parameters: where the generated code renamed one (a parameter
    called ``len``), the dispatcher takes them by position and keywords in
    ``**__sct_kw``, which it hands to the general path. ``name``: the function's,
    for Python's own errors (``f() got an unexpected keyword argument 'z'``).
    The first variant's code is written into it where that variant returns the
    gradients alone (``grad``): a call less. Every name the dispatcher adds
    starts ``__sct_``, which generated code never uses. ``record``: each branch
    first sets the closure cell ``__sct_ran`` (see :func:`ran_cell`) to its
    index, which ``.source`` reads (a store of a constant: ~5 ns a call).
    """
    env = {"__sct_ndarray": np.ndarray, "__sct_general": general, "__sct_explain": explain, "__sct_check": check}
    env["__sct_arithmetic"] = arithmetic
    env.update({"__sct_float64": np.float64, "__sct_missing": MISSING, "__sct_pyfloat": float})
    params = list(variants[0][1].params) if variants else []
    inlined = variants[0][1] if variants and _inlinable(variants[0][1]) else None
    value = "__sct_result[0][0]" if has_aux else "__sct_result[0]"
    returned = (
        "__sct_result" if with_value else "(__sct_result[1], __sct_result[0][1])" if has_aux else "__sct_result[1]"
    )
    given = f"({', '.join(params)}{',' if len(params) == 1 else ''})"  # the arguments, when all are given
    names = params if names is None else list(names)
    own = names == params  # keywords bind to the dispatcher's own parameters
    signature = "".join(f"{p}=__sct_missing, " for p in params) + ("/, " if params and not own else "")
    lines = [f"def __sct_call({signature}*__sct_rest{'' if own else ', **__sct_kw'}):"]
    if record:
        env["__sct_ran"] = -1  # no branch ran yet
        lines.append("    nonlocal __sct_ran")
    env["__sct_fallback"] = _fallback(general, names)
    for v, (sig, variant) in enumerate(variants):
        tests = [_argument_test(p, s) for p, s in zip(params, sig)]
        if len(sig) != len(params) or not all(tests):
            continue
        tests += fact_terms(variant.facts, params)  # what it relies on of the dimensions: after the ndim tests
        args = ", ".join(params[: len(sig)])
        guards = guard_terms(variant.guards, env, prefix=f"__sct_v{v}_")
        lines += [
            f"    if {' and '.join(tests + ['not __sct_rest'] + ([] if own else ['not __sct_kw']))}:",
            "        try:",
            f"            __sct_fresh = {' and '.join(guards) or 'True'}",
            "        except (KeyError, ValueError):",
            "            __sct_fresh = False",
            "        if __sct_fresh:",
            *([f"            __sct_ran = {v}"] if record else []),
            "            try:",
        ]
        if variant is inlined:
            lines += _body(variant, indent=" " * 16)
        else:
            env[f"__sct_function{v}"] = variant.function
            lines.append(
                f"                {'return' if variant.grads_only else '__sct_result ='} __sct_function{v}({args})"
            )
        lines += [
            "            except (TypeError, IndexError, ValueError) as __sct_exc:",
            f"                __sct_explain(({args}{',' if len(sig) == 1 else ''}), __sct_exc)",
            "                raise",
            "            except ArithmeticError:  # Python floats raised where NumPy's may give inf",
            f"                return __sct_arithmetic(({args}{',' if len(sig) == 1 else ''}))",
        ]
        if variant.grads_only:  # a proved scalar value, not returned at all
            continue
        if not variant.scalar:
            lines += [
                f"            __sct_value = {value}",
                "            if type(__sct_value) is not float and not isinstance(__sct_value, __sct_float64):",
                "                __sct_check(__sct_value)",
            ]
        if with_value:  # Python floats out: a NumPy float64 value as the float it equals
            again = "(__sct_value, __sct_result[0][1])" if has_aux else "__sct_value"
            lines += [
                f"            __sct_value = {value}",
                "            if type(__sct_value) is __sct_float64:",
                "                __sct_value = __sct_pyfloat(__sct_value)",
                f"                return {again}, __sct_result[1]",
            ]
        lines.append(f"            return {returned}")
    lines.append(f"    return __sct_fallback({given}, __sct_rest, {'{}' if own else '__sct_kw'})")
    text = "\n".join(lines) + "\n"
    if inlined is None and record:  # a closure, for ``nonlocal __sct_ran``
        text = "def __sct_make(__sct_ran):\n" + textwrap.indent(text, "    ") + "    return __sct_call\n"
        exec(compile(text, codegen.register(text, "dispatch"), "exec"), env)
        call = env["__sct_make"](-1)
    elif inlined is None:
        exec(compile(text, codegen.register(text, "dispatch"), "exec"), env)
        call = env["__sct_call"]
    else:
        helpers = {**inlined.helpers, **env}
        call = codegen.compile_source(text, "__sct_call", inlined.function.__globals__, helpers, "dispatch")
    if name is not None:
        call.__name__ = call.__qualname__ = name
    return call


def ran_cell(call):
    """The closure cell in which a dispatcher made with ``record=True`` keeps the index of the branch
    that ran last (-1: none, or the general path since); None for one made without."""
    names = call.__code__.co_freevars
    return call.__closure__[names.index("__sct_ran")] if "__sct_ran" in names else None


def _fallback(general, names: list):
    """``fallback(given, rest, kw)``: the general path, called as the dispatcher was (``MISSING``: not given)."""

    def fallback(given, rest, kw):
        for k, value in enumerate(given):
            if value is MISSING:  # the rest by keyword: a parameter between may be left to its default
                later = {n: v for n, v in zip(names[k:], given[k:]) if v is not MISSING}
                return general(*given[:k], *rest, **later, **kw)
        return general(*given, *rest, **kw)

    return fallback


def _inlinable(variant) -> bool:
    """Can the variant's code go into the dispatcher: it returns the gradients, and its names are its own?"""
    if not variant.grads_only or variant.validated or "__sct_" in variant.source:
        return False
    if not isinstance(variant.function, types.FunctionType):  # compiled otherwise (numba): its source is not what runs
        return False
    extra = list(inspect.signature(variant.function).parameters.values())[len(variant.params) :]
    return all(isinstance(p.default, int | float) and not isinstance(p.default, bool) for p in extra)


def _body(variant, indent: str) -> list[str]:
    """The variant's body as lines at ``indent``; its extra parameters (``delta_out=1.0``) set to their defaults."""
    extra = list(inspect.signature(variant.function).parameters.values())[len(variant.params) :]
    lines = [f"{indent}{p.name} = {p.default!r}" for p in extra]
    body = variant.source.splitlines()[1:]  # under ``def grad_f(...):``, indented by four
    return lines + [indent + line[4:] if line.strip() else "" for line in body]
