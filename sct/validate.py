"""Translation validation: every generated call also runs the original function, and must agree.

Switched on by ``SCT_VALIDATE=1`` in the environment or ``sct.validation(True)``.
Then each call of generated code (``grad``, ``value_and_grad``, ``vjp`` and its
``vjp_fn``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``) also

* calls the *original* function on deep copies of the arguments, and compares
  its value with the value the generated forward sweep computed: bit for bit
  (NaNs equal, -0.0 apart from 0.0), the same type class (a Python float is
  not a NumPy scalar), the same container types, shapes and dtypes;
* checks that the generated code (forward and backward sweep) left its
  arguments, and the cotangent given to ``vjp_fn``, exactly as they were.

A difference raises :class:`ValidationError`, an ``AssertionError``: it is a
bug in sct (the generated code does not compute what the function computes),
never the user's. It is deliberately not an ``SctError``, so code (and tests)
that expect sct's refusals cannot swallow it.

The two runs are not atomic: a function whose globals or closure another thread
changes between them is reported as a difference (switch validation off there).

Switched off, it costs nothing on a call: the variants that run are the plain
ones, and the per-call dispatcher (:mod:`sct.backend.dispatch`) is unchanged. Only
:func:`sct.pipeline.compiled`, on the general path, reads the switch.
"""

from __future__ import annotations

import copy
import math
import os

import numpy as np

from .backend.variants import Attributes
from .frontend.functions import is_object


class ValidationError(AssertionError):
    """The generated code disagrees with the function it was generated from: a bug in sct."""


ENABLED = os.environ.get("SCT_VALIDATE", "") not in ("", "0")


def validation(enabled: bool = True) -> bool:
    """Switch translation validation on or off (see :mod:`sct.validate`); returns the previous setting."""
    global ENABLED
    previous, ENABLED = ENABLED, bool(enabled)
    return previous


def enabled() -> bool:
    return ENABLED


# ---- comparing values ---------------------------------------------------------------
def difference(expected, got, path: str = "") -> str | None:
    """Where and how ``got`` differs from ``expected``; None if they are the same value, bit for bit."""
    if isinstance(expected, list | tuple | dict) or isinstance(got, list | tuple | dict):
        if type(expected) is not type(got):
            return f"{path or 'the value'}: {type(expected).__name__} expected, got {type(got).__name__}"
        if isinstance(expected, dict):
            if list(expected) != list(got):
                return f"{path or 'the value'}: keys {list(expected)} expected, got {list(got)}"
            pairs = [(f"{path}[{k!r}]", expected[k], got[k]) for k in expected]
        else:
            if len(expected) != len(got):
                return f"{path or 'the value'}: {len(expected)} items expected, got {len(got)}"
            pairs = [(f"{path}[{k}]", e, g) for k, (e, g) in enumerate(zip(expected, got))]
        for where, e, g in pairs:
            found = difference(e, g, where)
            if found:
                return found
        return None
    return _leaf_difference(expected, got, path or "the value")


def _class(value) -> str:
    """The type class compared: Python scalars by type; NumPy scalars and arrays by what they are."""
    if isinstance(value, np.ndarray):
        return "ndarray"
    if isinstance(value, np.generic):
        return f"NumPy {type(value).__name__}"
    return type(value).__name__


def _leaf_difference(expected, got, where: str) -> str | None:
    if _class(expected) != _class(got):
        return f"{where}: {_class(expected)} {expected!r} expected, got {_class(got)} {got!r}"
    if isinstance(expected, np.ndarray | np.generic):
        if expected.dtype != got.dtype or np.shape(expected) != np.shape(got):
            return f"{where}: {expected.dtype}{np.shape(expected)} expected, got {got.dtype}{np.shape(got)}"
        if not _same_numbers(expected, got):
            return f"{where}: {expected!r} expected, got {got!r}"
        return None
    if isinstance(expected, float | complex | int):
        return None if _same_numbers(expected, got) else f"{where}: {expected!r} expected, got {got!r}"
    if expected is None or isinstance(expected, str | bytes):
        return None if expected == got else f"{where}: {expected!r} expected, got {got!r}"
    if not (hasattr(expected, "shape") and hasattr(expected, "dtype")):
        return None  # an arbitrary object: no value to compare (sct refuses it as a result: sct.values)
    same = _same_numbers(np.asarray(expected), np.asarray(got))  # another library's array
    return None if same else f"{where}: {expected!r} expected, got {got!r}"


def _same_numbers(a, b) -> bool:
    """Equal bit for bit, as numbers: NaN equals NaN, -0.0 differs from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b) or a != a and b != b
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind not in "fc":
        return bool(np.array_equal(a, b))
    if not np.array_equal(a, b, equal_nan=True):
        return False
    return bool(np.array_equal(np.signbit(a.real), np.signbit(b.real)))


# ---- the checks around a call ---------------------------------------------------------
def _copy(args, what: str):
    try:
        return copy.deepcopy(args)
    except Exception as exc:  # noqa: BLE001 -- an argument deepcopy cannot copy: nothing to validate against
        raise ValidationError(f"sct validation cannot copy {what} to compare against: {exc!r}") from exc


def _unchanged(before, after, fn_name: str, what: str) -> None:
    found = difference(before, after)
    if found:
        raise ValidationError(
            f"bug in sct: the generated code for {fn_name} changed {what} it was given ({found}); "
            "it must never modify its arguments"
        )


def _agree(fn, expected, got, fn_name: str) -> None:
    found = difference(expected, got)
    if found:
        raise ValidationError(
            f"bug in sct: the generated forward sweep of {fn_name} computes a value that differs from what "
            f"{fn_name} itself returns ({found})"
        )


def _data(args) -> list:
    """The arguments that are data; objects (a random generator) may change, as they do in Python."""
    return [None if is_object(a) else a for a in args]


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def checked(fn, variant, full, n_params: int, split: bool):
    """A version of ``variant`` (a :class:`~sct.backend.variants.Compiled`) whose calls validate against ``fn``.

    ``full`` is the variant that returns the value (``variant`` itself unless
    ``variant`` returns the gradients alone): where ``variant`` computes no
    value, ``full`` is run too, for its value. ``n_params``: how many of the
    generated function's arguments are ``fn``'s (the rest are seeds or tangents).
    """
    found = getattr(variant, "_checked", None)
    if found is not None:
        return found
    function, value_of = variant.function, full.function
    name = _name(fn)

    def validated(*args):
        before = _copy(args, "the arguments")
        own_args = _copy(args[:n_params], "the arguments")
        again = args if value_of is function else _copy(args, "the arguments")  # a generator's state, as given
        result = function(*args)
        value = result[0] if value_of is function else value_of(*again)[0]
        _unchanged(_data(before), _data(args), name, "the arguments")
        expected = fn(*(a.obj if isinstance(a, Attributes) else a for a in own_args))  # by an object: the object
        _agree(fn, expected, value, name)
        if split:
            return value, _checked_backward(result[1], before, args, (_copy(value, "the value"), value), name)
        return result

    changes = {"function": validated, "validated": True}
    checked_variant = copy.copy(variant)
    for key, value in changes.items():
        object.__setattr__(checked_variant, key, value)
    checked_variant.fresh = variant.fresh
    object.__setattr__(variant, "_checked", checked_variant)
    return checked_variant


def _checked_backward(backward, before, args, values, name: str):
    """``vjp_fn``'s backward sweep, checked to leave the arguments, the cotangent and the value alone.

    ``values``: a copy of the value the forward sweep returned, and that value.
    """

    def backward_checked(cotangent):
        given = _copy(cotangent, "the cotangent")
        grads = backward(cotangent)
        _unchanged(before, args, name, "the arguments (in the backward sweep)")
        _unchanged(given, cotangent, name, "the cotangent")
        _unchanged(values[0], values[1], name, "the value it returned earlier (in the backward sweep)")
        return grads

    return backward_checked
