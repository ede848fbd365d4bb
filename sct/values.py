"""What sct differentiates by and what it differentiates: real numbers, refused otherwise.

An allow-list. A value sct differentiates *by* is a tree (lists, tuples, dicts,
nested) of real floats: Python floats, NumPy floating scalars and arrays, or
the arrays of another array library (anything with ``shape`` and ``dtype``,
passed through unchanged). A value sct differentiates is a tree of real
numbers. Anything else (None, a str, an arbitrary object, a complex number,
an array of objects or strings) is refused with an :class:`SctError` that
names it, never turned into a zero gradient.
"""

from __future__ import annotations

import inspect

import numpy as np

from .errors import SctError, article

_COMPLEX_LATER = (
    "sct differentiates by complex arrays and numbers passed as arguments themselves, not yet inside a "
    "list, tuple or dict: pass them as arguments of their own"
)
_COMPLEX_RESULT = "take its real part (np.real) or its absolute value for a real value to differentiate"


def leaves(value, path=""):
    """``(path, leaf)`` for each leaf of a tree of lists, tuples and dicts."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for k, item in enumerate(value):
            yield from leaves(item, f"{path}[{k}]")
    else:
        yield path, value


def _kind(leaf) -> str | None:
    """``"f"`` real float, ``"i"`` integer or bool, ``"c"`` complex, ``"a"`` another library's array, else None."""
    if isinstance(leaf, bool | int | np.integer | np.bool_):
        return "i"
    if isinstance(leaf, float | np.floating):
        return "f"
    if isinstance(leaf, complex | np.complexfloating):
        return "c"
    if isinstance(leaf, np.ndarray):
        kind = leaf.dtype.kind
        return "i" if kind in "iub" else kind if kind in "fc" else None
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):  # CuPy, PyTorch, JAX, Dask, array_api_strict
        return "c" if "complex" in str(leaf.dtype) else "a"
    return None


def _what(leaf) -> str:
    if leaf is None:
        return "None"
    if isinstance(leaf, np.ndarray):
        return f"an array of dtype {leaf.dtype}"
    text = repr(leaf)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{article(type(leaf).__name__)} ({text})"


def check_argument(fn_name: str, i: int, arg, integers_ok: bool = False) -> None:
    """Refuse differentiating ``fn_name`` by argument ``i`` unless its leaves are real floats.

    Integer leaves are left to the caller (``integers_ok``: they have no
    tangent in ``jvp``; ``grad`` refuses a whole integer argument itself).
    """
    for path, leaf in leaves(arg):
        kind = _kind(leaf)
        if kind in ("f", "a") or kind == "i" and (integers_ok or path) or kind == "c" and not path:
            continue  # a complex argument: sct.analysis.complex_values (not yet inside a container)
        where = f"argument {i}{path} of {fn_name}"
        if kind == "c":
            raise SctError(f"{where} is complex ({leaf!r}); {_COMPLEX_LATER}")
        if kind == "i":
            continue  # a whole integer argument: the caller says so in its own words
        raise SctError(
            f"{where} is {_what(leaf)}: sct differentiates only by floats and arrays of floats "
            "(or lists, tuples and dicts of them); differentiate by another argument (wrt=...), "
            "or make this one a float"
        )


def real_float(value) -> float:
    """``float(value)``, raising ``TypeError`` for a complex value as Python does (NumPy only warns)."""
    if isinstance(value, complex | np.complexfloating) or np.iscomplexobj(value):
        raise TypeError(f"a complex value ({value!r}) where sct needs a real one")
    return float(value)


def check_output(fn_name: str, out, what: str) -> None:
    """Refuse a result of ``fn_name`` that is not a tree of real numbers; ``what`` is the transform's name."""
    for path, leaf in leaves(out):
        kind = _kind(leaf)
        if kind in ("f", "i", "a") or kind == "c" and what in ("sct.vjp", "sct.jvp"):
            continue  # vjp and jvp take complex results (sct.analysis.complex_values)
        where = f"the value {fn_name} returned" + (f", at {path}," if path else "")
        if kind == "c":
            raise SctError(f"{what} needs real values, but {where} is complex ({leaf!r}); {_COMPLEX_RESULT}")
        raise SctError(
            f"{what} needs {fn_name} to return numbers or arrays of numbers (or lists, tuples and dicts of them), "
            f"but {where} is {_what(leaf)}"
        )


def complex_hint(fn) -> str:
    """What to do about a complex value ``fn`` returned: about ``**`` only where its source has a power."""
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        text = ""
    if "**" in text or "power" in text:
        return " (a negative float to a fractional power is complex in Python: use np.power, or take the real part)"
    return "; sct differentiates real-valued functions: return the real part (np.real(...)) or abs(...) ** 2"


def method_hint(fn) -> str:
    """How to differentiate a method called without its instance (``sct.grad(Model.loss)(x)``), or ""."""
    owner, _, name = getattr(fn, "__qualname__", "").rpartition(".")
    try:
        first = next(iter(inspect.signature(fn).parameters), None)
    except (TypeError, ValueError):
        return ""
    if not owner or owner.endswith("<locals>") or first != "self":
        return ""
    return (
        f" ({name} is a method of {owner}, called without its instance: differentiate the bound method, "
        f"sct.grad(obj.{name}), or pass the instance first, sct.grad({owner}.{name}, wrt=1)(obj, x); "
        f"`@sct.grad` over a `def` in a class body makes such a function: apply sct.grad to obj.{name} instead)"
    )
