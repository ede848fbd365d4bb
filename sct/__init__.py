"""sct: source-code-transformation automatic differentiation for Python and NumPy.

``sct.grad(f)`` reads ``f``'s source and generates a readable Python function
that computes its gradient, like backprop written by hand.
"""

from .api import grad, source, value_and_grad, vjp
from .errors import NonDifferentiableError, SctError, SourceUnavailableError, UnsupportedSyntaxError

__version__ = "0.1.0"

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "source",
    "SctError",
    "UnsupportedSyntaxError",
    "NonDifferentiableError",
    "SourceUnavailableError",
]
