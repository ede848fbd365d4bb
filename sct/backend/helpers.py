"""Every helper generated code calls, by name: the table :mod:`sct.backend.codegen` puts in its namespace.

:mod:`sct.backend.runtime` has the basic helpers (``unbroadcast``, ``zeros_like``, the
stacks); the families built on them add themselves to its ``HELPERS`` when they
are imported: containers (:mod:`sct.backend.trees`), NumPy (:mod:`sct.backend.runtime_numpy`),
linear algebra (:mod:`sct.backend.linalg_helpers`), ``multivariate_normal``'s and
``dirichlet``'s (:mod:`sct.backend.stats_helpers`), the derivatives of ``scipy.integrate``
(:mod:`sct.backend.ode_adjoint`) and ``scipy.signal`` (:mod:`sct.backend.signal_adjoint`).
Importing this module imports them all, so its ``HELPERS`` is complete.
"""

from . import linalg_helpers, ode_adjoint, revolve, runtime_numpy, signal_adjoint, stats_helpers, trees  # noqa: F401
from .runtime import HELPERS

__all__ = ["HELPERS"]
