"""The rule table as a whole: both modes for every primitive, and the generated docs page."""

import pathlib
import subprocess
import sys

import pytest

import sct  # noqa: F401  (registers every built-in rule)
from sct.ir import METHODS
from sct.rules import catalog, lookup

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "supported-functions.md"
ENTRIES = catalog.builtin_entries()


def test_the_table_has_builtin_rules_in_every_library():
    libraries = {lib for lib, _, _ in ENTRIES}
    assert {"NumPy", "numpy.linalg", "math", "Python operators"} - libraries == set()


@pytest.mark.parametrize("name, entry", [(name, e) for _, name, e in ENTRIES], ids=[n for _, n, _ in ENTRIES])
def test_every_primitive_has_both_a_reverse_and_a_forward_rule(name, entry):
    """A primitive is non-differentiable, or each operand with a derivative has it in both modes."""
    if entry.nondiff:
        assert not entry.vjp and not entry.jvp, f"{name} is nondiff but has rules"
        return
    assert catalog.one_sided(entry) == [], f"{name}: operands {catalog.one_sided(entry)} have a rule in one mode only"
    assert catalog.differentiable(entry), f"{name} has no rule for any operand; register it with nondiff instead"


def test_one_sided_entries_are_caught():
    """The check above can fail: an entry with a reverse rule only is reported."""
    from sct.rules.table import Entry

    entry = Entry(fn=len, vjp=[lambda g, ans, x: g], jvp=[])
    assert catalog.one_sided(entry) == [0]
    assert not catalog.differentiable(entry)


def test_every_array_method_has_rules():
    missing = sorted(name for name, fn in METHODS.items() if lookup(fn) is None)
    assert missing == [], f"x.{missing[0]}() maps to a function without rules"


def test_the_supported_functions_page_is_up_to_date():
    """docs/supported-functions.md is exactly what the catalog prints (in a fresh interpreter)."""
    printed = subprocess.run(
        [sys.executable, "-m", "sct.rules.catalog"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert PAGE.read_text() == printed, (
        "docs/supported-functions.md is out of date; regenerate it with\n"
        "    python -m sct.rules.catalog > docs/supported-functions.md"
    )


def test_the_page_lists_every_builtin_rule():
    page = PAGE.read_text()
    for lib, name, _ in ENTRIES:
        shown = name if lib == "Python operators" else f"`{name}`"
        assert f"| {shown} |" in page, f"{name} is missing from docs/supported-functions.md"


def test_array_methods_differentiate_like_their_functions():
    import numpy as np
    from conftest import assert_grads_match

    def f(x):
        return np.sum(x.conj() * x.conjugate() * x[x.argsort()]) + x.max() * x.std()

    x = np.array([0.3, -1.2, 2.0, 0.7])
    assert_grads_match(f, (x,), (sct.grad(f)(x),))
