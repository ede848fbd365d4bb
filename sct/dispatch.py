"""The per-call fast path of a gradient object: generated, like the gradients.

A gradient object must pick the compiled variant for its arguments' signature
and check that the names the variant was compiled against still mean the same
objects, on every call. Done with general code (build the signature tuple, look
it up, call a guard function) that costs more than a small scalar gradient
itself. So, as a JIT would, each gradient object compiles a dispatcher for the
variants it has seen: a chain of inline type tests and identity tests that ends
in a direct call of the variant. Anything the chain does not recognise goes to
the general path, which compiles new variants and regenerates the dispatcher.

The generated text holds no user names: every object it tests against is bound
by position (``v0_scope0``, ``v0_key0``, ``function0``, ...).
"""

from __future__ import annotations

import itertools

import numpy as np

FLOAT = (0, "float")  # the signature of an argument that is exactly a Python float
ABSENT = object()  # what a guarded name held when it was not defined (a builtin)


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
        else:
            env[f"{prefix}global{k}"] = value
            terms.append(f"{prefix}scope{k}[{prefix}key{k}] is {prefix}global{k}")
    for k, (owner, code) in enumerate(codes):
        env[f"{prefix}owner{k}"], env[f"{prefix}code{k}"] = owner, code
        terms.append(f"{prefix}owner{k}.__code__ is {prefix}code{k}")
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
    exec(compile(text, "<sct guard>", "exec"), env)
    return env["fresh"]


def _argument_test(k: int, sig) -> str | None:
    """An inline test that argument ``a{k}`` has signature ``sig``, or None if there is none cheap."""
    if sig == FLOAT:
        return f"type(a{k}) is float"
    if isinstance(sig, tuple) and len(sig) == 2 and isinstance(sig[0], int) and isinstance(sig[1], str):
        ndim, kind = sig
        return f"type(a{k}) is ndarray and a{k}.ndim == {ndim} and a{k}.dtype.kind == {kind!r}"
    return None


def dispatcher(variants: list, general, explain, check, *, with_value: bool, has_aux: bool):
    """A function ``call(*args)`` that runs the right variant, or ``general(*args)``.

    ``variants`` is a list of ``(signature, compiled)``; ``explain(args, exc)``
    turns a failure of the generated code into the user's error; ``check(value)``
    raises if the value is not a scalar (not called for variants proved ``scalar``).
    A call returns ``(value, grads)`` if ``with_value``; else ``grads``, or
    ``(grads, aux)`` if ``has_aux``.
    """
    env = {"ndarray": np.ndarray, "float64": np.float64, "general": general, "explain": explain, "check": check}
    by_arity: dict[int, list] = {}
    for sig, variant in variants:
        tests = [_argument_test(k, s) for k, s in enumerate(sig)]
        if all(t is not None for t in tests):
            by_arity.setdefault(len(sig), []).append((tests, variant))
    value = "result[0][0]" if has_aux else "result[0]"
    returned = "result" if with_value else "(result[1], result[0][1])" if has_aux else "result[1]"
    lines, numbers = ["def call(*args):"], itertools.count()
    for arity, group in sorted(by_arity.items()):
        params = ", ".join(f"a{k}" for k in range(arity))
        lines.append(f"    if len(args) == {arity}:")
        if arity:
            lines.append(f"        {params}{',' if arity == 1 else ''} = args")
        for tests, variant in group:
            v = next(numbers)
            guards = guard_terms(variant.guards, env, prefix=f"v{v}_")
            env[f"function{v}"] = variant.function
            lines += [
                f"        if {' and '.join(tests) or 'True'}:",
                "            try:",
                f"                fresh = {' and '.join(guards) or 'True'}",
                "            except (KeyError, ValueError):",
                "                fresh = False",
                "            if fresh:",
                "                try:",
                f"                    {'return' if variant.grads_only else 'result ='} function{v}({params})",
                "                except (TypeError, IndexError, ValueError) as exc:",
                "                    explain(args, exc)",
                "                    raise",
            ]
            if variant.grads_only:  # a proved scalar value, not returned at all
                continue
            if not variant.scalar:
                lines += [
                    f"                value = {value}",
                    "                if type(value) is not float64 and type(value) is not float:",
                    "                    check(value)",
                ]
            lines.append(f"                return {returned}")
    lines.append("    return general(*args)")
    exec(compile("\n".join(lines) + "\n", "<sct dispatch>", "exec"), env)
    return env["call"]
