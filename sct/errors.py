"""The errors sct raises. Every one is an :class:`SctError`.

Errors about the user's source carry a location (``filename``, ``lineno``,
``col_offset``, ``source_line``) and say what to do instead. One error may list
several problems: sct reports every problem in a function at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    filename: str
    lineno: int
    col_offset: int
    source_line: str

    def describe(self) -> str:
        text = f"{self.filename}:{self.lineno}:{self.col_offset + 1}"
        if self.source_line:
            text += f"\n    {self.source_line.strip()}"
        return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's function, and where."""

    message: str
    location: Location | None = None

    def describe(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location.describe()}\n  {self.message}"


def _position(problem: Problem) -> tuple:
    where = problem.location
    return (0, where.filename, where.lineno, where.col_offset) if where else (1, "", 0, 0)


class SctError(Exception):
    """Base class of every error sct raises on purpose."""


class _LocatedError(SctError):
    """An error about one or more places in the user's source."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        # each problem once, in the order of the source (a reverse sweep finds them backwards)
        self.problems = sorted(dict.fromkeys(problems), key=_position)
        first = self.problems[0].location
        self.filename = first.filename if first else None
        self.lineno = first.lineno if first else None
        self.col_offset = first.col_offset if first else None
        self.source_line = first.source_line if first else None
        super().__init__(self._message())

    def _message(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0].describe()
        parts = [f"{len(self.problems)} problems:"]
        parts += [f"[{i}] {p.describe()}" for i, p in enumerate(self.problems, 1)]
        return "\n".join(parts)


class UnsupportedSyntaxError(_LocatedError):
    """A construct sct cannot differentiate."""


class NonDifferentiableError(_LocatedError):
    """A call to a function with no derivative rule."""


class NumbaUnsupportedError(UnsupportedSyntaxError):
    """``backend="numba"``: numba cannot compile a construct of the generated code (:mod:`sct.backend.native`)."""


class CheckpointError(UnsupportedSyntaxError):
    """A loop sct was asked to checkpoint and cannot (:mod:`sct.passes.checkpoint`)."""


class ZeroInputError(SctError, ZeroDivisionError):
    """A derivative sct writes as a quotient by an input met a zero there (second derivatives of ``np.prod``
    and ``np.cumprod``, whose first derivatives are exact at zeros); raised by the generated code."""


class SourceUnavailableError(SctError):
    """The function has no source text sct can read."""


class BackendError(SctError):
    """A gradient needs a function its arguments' array namespace lacks (:mod:`sct.backend.namespaces`)."""


class UserError(SctError):
    """A problem with a command-line input (``sct dump/check/export``), reported as one line."""


def article(noun: str) -> str:
    """``noun`` with its indefinite article: ``"a float"``, ``"an int"``."""
    return f"an {noun}" if noun[:1].lower() in "aeio" or noun in ("ndarray", "NoneType") else f"a {noun}"


_BUILTIN_ADVICE = {
    "map": "write a loop or a list comprehension: [f(v) for v in xs]",
    "filter": "write a list comprehension with an `if`: [v for v in xs if p(v)]",
    "iter": "loop over the sequence itself",
    "next": "index the sequence: xs[0]",
    "getattr": "read the attribute directly: obj.name",
}


def no_rule_message(fn, register: str, what: str = "derivative rule") -> str:
    """Why a call has no derivative, and what to write: a rule to register, or for a builtin a rewrite."""
    label = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if label is None:  # a callable object: a user's rule, say
        label, module = getattr(fn, "__name__", None) or repr(fn), None
    if module == "builtins" and callable(fn) and not isinstance(fn, type(no_rule_message)):
        advice = _BUILTIN_ADVICE.get(label, "rewrite the computation with arithmetic, NumPy or a loop")
        return f"the builtin `{label}` has no derivative in sct; {advice}"
    shown = f"{module}.{label}" if module and module != "builtins" else label
    return (
        f"sct has no {what} for `{shown}`; register one before differentiating:\n"
        f"    sct.{register}({shown}, lambda g, ans, x: ...)   # one rule per argument"
    )
