"""Every helper generated code calls, by name: the table :mod:`sct.codegen` puts in its namespace.

:mod:`sct.runtime` has the basic helpers (``unbroadcast``, ``zeros_like``, the
stacks); the families built on them add themselves to its ``HELPERS`` when they
are imported: containers (:mod:`sct.trees`), NumPy (:mod:`sct.runtime_numpy`),
linear algebra (:mod:`sct.linalg_helpers`), ``multivariate_normal``'s and
``dirichlet``'s (:mod:`sct.stats_helpers`), the derivatives of ``scipy.integrate``
(:mod:`sct.ode_adjoint`) and ``scipy.signal`` (:mod:`sct.signal_adjoint`).
Importing this module imports them all, so its ``HELPERS`` is complete.
"""

from . import linalg_helpers, ode_adjoint, runtime_numpy, signal_adjoint, stats_helpers, trees  # noqa: F401
from .runtime import HELPERS

__all__ = ["HELPERS"]
