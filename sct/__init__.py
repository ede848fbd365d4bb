"""sct: source-code-transformation automatic differentiation for Python and NumPy.

``sct.grad(f)`` reads ``f``'s source and generates a readable Python function
that computes its gradient, like backprop written by hand.
"""

import importlib
from typing import TYPE_CHECKING

from .api import grad, source, value_and_grad, vjp
from .custom import custom_jvp, custom_vjp, defjvp, defvjp
from .errors import (
    BackendError,
    CheckpointError,
    NonDifferentiableError,
    NumbaUnsupportedError,
    SctError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)
from .transforms import hessian, hvp, jacobian, jvp
from .validate import ValidationError, validation
from .version import __version__

__all__ = [
    "__version__",
    "grad",
    "value_and_grad",
    "vjp",
    "source",
    "report",
    "jvp",
    "jacobian",
    "hessian",
    "hvp",
    "defvjp",
    "defjvp",
    "custom_vjp",
    "custom_jvp",
    "check_grads",
    "validation",
    "ValidationError",
    "SctError",
    "UnsupportedSyntaxError",
    "NonDifferentiableError",
    "SourceUnavailableError",
    "BackendError",
    "NumbaUnsupportedError",
    "CheckpointError",
]

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and the API reference (mkdocstrings)
    from .report_page import report
    from .testing import check_grads

# Loaded on first use (PEP 562): the report page, notebook display and explanations, check_grads, the
# standalone-module writer. ``import sct`` need not pay for what a session may never call.
_LAZY = {"report": ("report_page", "report"), "check_grads": ("testing", "check_grads")}
_LAZY_MODULES = frozenset({"display", "explain", "export", "report_page", "testing"})


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
    elif name in _LAZY_MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _LAZY_MODULES)
