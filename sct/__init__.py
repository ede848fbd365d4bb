"""sct: source-code-transformation automatic differentiation for Python and NumPy.

``sct.grad(f)`` reads ``f``'s source and generates a readable Python function
that computes its gradient, like backprop written by hand.
"""

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
from .report_page import report
from .testing import check_grads
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
