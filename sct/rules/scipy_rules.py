"""SciPy's rules: imported by :func:`sct.rules.table.load_optional` once the user's code has imported SciPy.

Each family lives in its own module (every one of these SciPy submodules exists in the SciPy
versions sct supports: ``scipy>=1.15``).
"""

from . import scipy_integrate, scipy_linalg, scipy_signal, scipy_special, scipy_stats  # noqa: F401  (registration)
