"""SciPy's rules: imported by :func:`sct.rules.table.load_optional` once the user's code has imported SciPy.

Each family lives in its own module; a family whose part of SciPy is missing is skipped.
"""

from __future__ import annotations


def _skip(exc: ImportError) -> None:
    """A missing part of SciPy (or a family not written yet) skips its family; anything else is a bug."""
    if not (exc.name or "").startswith(("scipy", __package__)):
        raise exc


try:
    from . import scipy_special  # noqa: F401  (registration)
except ImportError as exc:
    _skip(exc)
try:
    from . import scipy_stats  # noqa: F401
except ImportError as exc:
    _skip(exc)
try:
    from . import scipy_linalg  # noqa: F401
except ImportError as exc:
    _skip(exc)
try:
    from . import scipy_signal  # noqa: F401
except ImportError as exc:
    _skip(exc)
try:
    from . import scipy_integrate  # noqa: F401
except ImportError as exc:
    _skip(exc)
