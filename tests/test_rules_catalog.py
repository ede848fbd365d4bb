"""The generated page of supported functions, and the array methods.

(That every primitive has both modes is tests/test_rules_table.py.)
"""

import importlib.util
import pathlib
import subprocess
import sys

import sct  # noqa: F401  (registers every built-in rule)
from sct.ir import METHODS
from sct.rules import catalog, lookup

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "supported-functions.md"
ENTRIES = catalog.builtin_entries()


def test_the_table_has_builtin_rules_in_every_library():
    libraries = {lib for lib, _, _ in ENTRIES}
    assert {"NumPy", "numpy.linalg", "math", "Python operators"} - libraries == set()
    if importlib.util.find_spec("scipy") is not None:  # the catalog registers SciPy's rules to list them
        assert {"scipy.special", "scipy.stats"} - libraries == set()


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
