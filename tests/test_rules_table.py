"""The rule table as a whole: every built-in primitive has both modes, and there are enough of them.

A primitive with a reverse rule but no forward rule (or the other way round) would make
``sct.jvp`` or ``sct.grad`` fail on code the other mode accepts, and would break second
order (forward over reverse). These tests fail as soon as someone registers one side only.
"""

import builtins
import math
import operator

import numpy as np
import pytest

import sct  # noqa: F401  (registers the built-in rules)
from sct.backend import runtime
from sct.rules.table import TABLE

# Entries allowed to have one side only, each with its reason. Keep this short.
ONE_SIDED: dict = {}

_BUILTIN_MODULES = ("numpy", "math", "builtins", "_operator", "operator", "sct.backend.runtime")


def _module(fn) -> str:
    if isinstance(fn, np.ufunc):
        return "numpy"
    return getattr(fn, "__module__", None) or ""


def _name(fn) -> str:
    module = _module(fn)
    return f"{module}.{getattr(fn, '__name__', repr(fn))}"


def _builtin_entries():
    """The entries sct itself registers (not the user rules other tests add)."""
    for entry in TABLE.values():
        module = _module(entry.fn)
        if any(module == m or module.startswith(m + ".") for m in _BUILTIN_MODULES):
            yield entry


def _sides_disagree(entry) -> list[str]:
    """Operand positions with a rule on one side only."""
    if entry.nondiff:
        return [] if not entry.vjp and not entry.jvp else ["nondiff entry carries rules"]
    vjp, jvp = entry.vjp, entry.jvp
    if callable(vjp) or callable(jvp):  # rules by position (any number of operands)
        return [] if callable(vjp) and callable(jvp) else ["by-position rules on one side only"]
    if not vjp and not jvp:
        return ["no rule at all (neither nondiff nor differentiable)"]
    problems = []
    for i in range(max(len(vjp), len(jvp))):
        has_vjp = i < len(vjp) and vjp[i] is not None
        has_jvp = i < len(jvp) and jvp[i] is not None
        if has_vjp != has_jvp:
            problems.append(f"operand {i}: {'reverse' if has_vjp else 'forward'} rule only")
    return problems


def test_every_primitive_has_both_modes():
    missing = {}
    for entry in _builtin_entries():
        problems = _sides_disagree(entry)
        if problems and entry.fn not in ONE_SIDED:
            missing[_name(entry.fn)] = problems
    assert not missing, f"primitives with one mode only (add the other rule, or nondiff): {missing}"


def test_one_sided_allow_list_is_current():
    for fn, reason in ONE_SIDED.items():
        assert reason, f"{_name(fn)} is allowed one side without a reason"
        assert _sides_disagree(TABLE[fn]), f"{_name(fn)} now has both sides: drop it from ONE_SIDED"


def _counted(entry) -> bool:
    """A differentiable NumPy / math / numpy.linalg primitive (not an operator, builtin or helper)."""
    module = _module(entry.fn)
    if not (module == "numpy" or module.startswith("numpy.") or module == "math"):
        return False
    return not entry.nondiff and not _sides_disagree(entry)


def differentiable_primitives() -> list[str]:
    return sorted(_name(e.fn) for e in _builtin_entries() if _counted(e))


def test_differentiable_primitive_count():
    names = differentiable_primitives()
    print(f"\n{len(names)} differentiable NumPy/math/linalg primitives with reverse and forward rules")
    assert len(names) >= 150, names


def test_count_excludes_operators_builtins_and_helpers():
    names = set(differentiable_primitives())
    for fn in (operator.mul, builtins.abs, runtime.unbroadcast, runtime.prod_others):
        assert _name(fn) not in names
    for fn in (np.sin, np.maximum, np.prod, np.sort, math.atan2):
        assert _name(fn) in names


def test_a_one_sided_primitive_is_caught():
    from sct.rules.table import Entry

    fwd_missing = Entry(np.sin, vjp=[lambda g, ans, x: g], jvp=[])
    second_missing = Entry(np.add, vjp=[lambda g, ans, x, y: g, None], jvp=[lambda g, ans, x, y: g, lambda *a: a[0]])
    assert _sides_disagree(fwd_missing) == ["operand 0: reverse rule only"]
    assert _sides_disagree(second_missing) == ["operand 1: forward rule only"]
    assert _sides_disagree(Entry(np.floor, nondiff=True)) == []


@pytest.mark.parametrize("fn", [np.sign, np.argmax, np.greater, np.isnan, np.zeros_like, np.shape])
def test_nondiff_functions_are_registered(fn):
    entry = TABLE[fn]
    assert entry.nondiff and not entry.vjp and not entry.jvp
