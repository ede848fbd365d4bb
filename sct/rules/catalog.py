"""The table of supported functions, generated from the rule table itself.

``python -m sct.rules.catalog > docs/supported-functions.md`` writes the page;
a test checks that the committed page is what this prints, so the page can
never drift from the rules. Only built-in rules appear (user rules registered
with ``sct.defvjp`` are the user's own). SciPy's rules register only once SciPy
is imported; the catalog imports it (where it is installed) to list them.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from ..backend.runtime import added_at, subtracted_at
from ..ir import METHODS
from ..symbolic import qualified_name
from .table import TABLE, Entry, load_optional, lookup

# Library sections, in page order: (title, test on the function's module).
LIBRARIES = [
    ("NumPy", lambda m: m == "numpy" or (m.startswith("numpy.") and not m.startswith("numpy.linalg"))),
    ("numpy.linalg", lambda m: m.startswith("numpy.linalg")),
    ("math", lambda m: m == "math"),
    ("scipy.special", lambda m: m.startswith("scipy.special")),
    ("scipy.stats", lambda m: m.startswith("scipy.stats")),
    ("scipy.linalg", lambda m: m.startswith("scipy.linalg")),
    ("scipy.signal", lambda m: m.startswith("scipy.signal")),
    ("scipy.integrate", lambda m: m.startswith("scipy.integrate")),
    ("Python builtins", lambda m: m == "builtins"),
    ("Python operators", lambda m: m in ("_operator", "operator")),
    ("sct runtime helpers (called by generated code)", lambda m: m == "sct.backend.runtime"),
]
SCIPY = ("scipy.special", "scipy.stats", "scipy.linalg", "scipy.signal", "scipy.integrate")
# The libraries the coverage target counts (NumPy, numpy.linalg, math, SciPy).
COUNTED = {"NumPy", "numpy.linalg", "math", *SCIPY}

_OPERATOR_SYMBOLS = {
    "add": "a + b",
    "sub": "a - b",
    "mul": "a * b",
    "truediv": "a / b",
    "floordiv": "a // b",
    "mod": "a % b",
    "pow": "a ** b",
    "matmul": "a @ b",
    "neg": "-a",
    "pos": "+a",
    "not_": "not a",
    "gt": "a > b",
    "ge": "a >= b",
    "lt": "a < b",
    "le": "a <= b",
    "eq": "a == b",
    "ne": "a != b",
    "is_": "a is b",
    "is_not": "a is not b",
    "getitem": "a[i]",
    "and_": "a & b",
    "or_": "a | b",
    "xor": "a ^ b",
    "invert": "~a",
    "lshift": "a << b",
    "rshift": "a >> b",
}


# NumPy statements sct lowers to a helper (sct.frontend.lower.update_at), listed as the NumPy call they stand for.
STATEMENTS = {
    added_at: (
        "np.add.at",
        "the statement `np.add.at(a, index, v)` into an array the function owns, seen through no other name "
        "(as `a[i] += v`)",
    ),
    subtracted_at: ("np.subtract.at", "the statement `np.subtract.at(a, index, v)`, as `np.add.at`"),
}


def library(entry: Entry) -> str | None:
    """The section an entry belongs to, or None for a user's rule (or an unknown library)."""
    if not entry.symbolic:
        return None
    if _statement(entry.fn) is not None:
        return "NumPy"
    module = _module(entry.fn)
    for title, test in LIBRARIES:
        if test(module):
            return title
    return None


def _module(fn) -> str:
    """The module a function is listed under: SciPy's by their public names (``scipy.stats.norm``)."""
    module = getattr(fn, "__module__", None) or "numpy"  # ufuncs have no __module__
    if hasattr(fn, "__name__") and (module == "numpy" or module.startswith("scipy.")):
        name = qualified_name(fn)  # scipy.special's ufuncs, scipy.stats.norm.logpdf (a bound method)
        if name.startswith("scipy."):
            return name.rsplit(".", 1)[0]
    return module


def load_scipy() -> None:
    """Register SciPy's rules, where SciPy is installed (they register lazily otherwise)."""
    try:
        import scipy  # noqa: F401
    except ImportError:
        return
    load_optional()


def builtin_entries() -> list[tuple[str, str, Entry]]:
    """(library, display name, entry) for every built-in rule, sorted by library then name."""
    load_scipy()
    order = {title: i for i, (title, _) in enumerate(LIBRARIES)}
    found = []
    for entry in TABLE.values():
        lib = library(entry)
        if lib is not None:
            found.append((lib, display_name(entry.fn, lib), entry))
    return sorted(found, key=lambda item: (order[item[0]], item[1]))


def _statement(fn):
    """``STATEMENTS``' entry for ``fn`` (``np.add.at``'s helper), or None (an unhashable ``fn`` too)."""
    try:
        return STATEMENTS.get(fn)
    except TypeError:
        return None


def display_name(fn, lib: str) -> str:
    if _statement(fn) is not None:
        return _statement(fn)[0]
    if not hasattr(fn, "__name__"):  # np.r_, np.c_: objects indexed like np.r_[a, b], not called
        return next(f"np.{n}" for n in dir(np) if not n.startswith("_") and getattr(np, n, None) is fn)
    name = qualified_name(fn)
    if lib == "Python operators":
        short = getattr(fn, "__name__", name)
        symbol = _OPERATOR_SYMBOLS.get(short)
        return f"operator.{short}" + (f" (`{symbol}`)" if symbol else "")
    return name


def positions(entry: Entry) -> int:
    """How many positional operands the rules cover (rules given by position: 0)."""
    if callable(entry.vjp) or callable(entry.jvp):
        return 0
    return max(len(entry.vjp), len(entry.jvp))


def differentiable(entry: Entry) -> bool:
    """A derivative flows through at least one operand, in both modes."""
    if entry.nondiff:
        return False
    n = positions(entry) or 8
    return any(entry.vjp_rule(i) is not None and entry.jvp_rule(i) is not None for i in range(n))


def _is_linear(entry: Entry) -> bool:
    rule = entry.jvp_rule(0)
    return "linear.<locals>" in getattr(rule, "__qualname__", "")


def notes(entry: Entry) -> str:
    if _statement(entry.fn) is not None:
        return f"{_statement(entry.fn)[1]}; every repeat of a position counts; no derivative through `index`"
    if entry.nondiff:
        return "no derivative: contributes zero"
    if not hasattr(entry.fn, "__name__"):
        return f"indexing syntax `{display_name(entry.fn, 'NumPy')}[a, b, ...]`; linear"
    parts = []
    if entry.elementwise:
        parts.append("elementwise, broadcasting" if entry.broadcasting else "elementwise")
    elif entry.broadcasting:
        parts.append("broadcasting")
    if _is_linear(entry):
        parts.append("linear")
    n = positions(entry)
    if n == 0:
        parts.append("any number of operands")
    else:
        names = _parameter_names(entry)
        without = [names[i] if i < len(names) else f"argument {i + 1}" for i in range(n) if entry.vjp_rule(i) is None]
        if without:
            parts.append(f"no derivative through {', '.join(without)}")
        refusing = [getattr(entry.vjp_rule(i), "refuses", None) for i in range(n)]
        refusing = list(dict.fromkeys(r for r in refusing if r is not None))
        if refusing:
            parts.append(f"refuses (typed error) a derivative in {', '.join(refusing)}")
    if entry.params:
        keywords = [f"`{p}=`" for p, _ in entry.params[1:]]
        parts.append(f"{', '.join(keywords)} by keyword or position")
    return "; ".join(parts)


def _parameter_names(entry: Entry) -> list[str]:
    """The names (`` `x` ``, `` `axis` ``...) of the positional parameters of ``fn``, where Python can tell
    (or the rule declares them: SciPy's ufuncs and distributions' methods)."""
    declared = [f"`{p}`" for p, _ in entry.params or ()]
    try:
        params = inspect.signature(entry.fn).parameters.values()
    except (TypeError, ValueError):
        return declared
    names = [f"`{p.name}`" for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names if len(names) >= len(declared) else declared


def aliases(fn, namespaces=None) -> list[str]:
    """Other public NumPy names for the same object (``np.absolute`` for ``np.abs``)."""
    own = display_name(fn, "NumPy")
    found = []
    for prefix, namespace in namespaces or (("np", np), ("np.linalg", np.linalg)):
        for name in dir(namespace):
            if name.startswith("_"):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    value = getattr(namespace, name)
                except AttributeError:
                    continue
            if value is fn and f"{prefix}.{name}" != own:
                found.append(f"{prefix}.{name}")
    return found


def _aliases(fn, title: str) -> list[str]:
    if title in ("NumPy", "numpy.linalg"):
        return aliases(fn)
    if title == "scipy.special":  # scipy.special.psi is scipy.special.digamma
        import scipy.special

        return aliases(fn, (("scipy.special", scipy.special),))
    return []


def _mark(entry: Entry, side: str) -> str:
    if entry.nondiff:
        return "zero"
    rules = entry.vjp if side == "vjp" else entry.jvp
    return "✓" if rules else ""


def render() -> str:
    entries = builtin_entries()
    counted = [e for lib, _, e in entries if lib in COUNTED]
    both = sum(differentiable(e) for e in counted)
    zero = sum(e.nondiff for e in counted)
    lines = [
        "# Supported functions",
        "",
        "<!-- Generated by `python -m sct.rules.catalog > docs/supported-functions.md`; do not edit. -->",
        "",
        f"sct differentiates {both} NumPy, `numpy.linalg`, `math` and SciPy functions in both reverse",
        f"and forward mode, and treats {zero} more as non-differentiable (they contribute a zero derivative",
        "and never raise). Any other function can be given rules with `sct.defvjp` / `sct.defjvp`.",
        "Every rule is itself written in NumPy (and SciPy), so generated code can be differentiated again.",
        "SciPy stays optional: its rules register the first time sct looks up a function after your code",
        "imported SciPy. `scipy.stats` rules are per distribution and method; a distribution not listed",
        "here is refused, never differentiated through SciPy's own code.",
        "",
    ]
    for title, _ in LIBRARIES:
        rows = [(name, e) for lib, name, e in entries if lib == title]
        if not rows:
            continue
        lines += [f"## {title}", "", "| Function | Reverse | Forward | Notes |", "|---|---|---|---|"]
        for name, e in rows:
            note = notes(e)
            also = _aliases(e.fn, title)
            if also:
                note = (note + "; " if note else "") + "also " + ", ".join(f"`{a}`" for a in also)
            shown = name if title == "Python operators" else f"`{name}`"
            lines.append(f"| {shown} | {_mark(e, 'vjp')} | {_mark(e, 'jvp')} | {note} |")
        lines.append("")
    lines += _methods()
    return "\n".join(lines)


def _methods() -> list[str]:
    lines = [
        "## Array methods",
        "",
        "`x.method(...)` on an array is differentiated as the NumPy function it stands for.",
        "",
        "| Method | Same as | Reverse | Forward |",
        "|---|---|---|---|",
    ]
    for name in sorted(METHODS):
        fn = METHODS[name]
        entry = lookup(fn)
        if entry is None:
            lines.append(f"| `x.{name}()` | `{qualified_name(fn)}` | | |")
            continue
        lines.append(f"| `x.{name}()` | `{qualified_name(fn)}` | {_mark(entry, 'vjp')} | {_mark(entry, 'jvp')} |")
    lines.append("")
    return lines


def main() -> None:
    """``python -m sct.rules.catalog``: running it imports the package ``sct``, which registers every rule."""
    print(render(), end="")


if __name__ == "__main__":
    main()

__all__ = ["render", "builtin_entries", "library", "differentiable"]
