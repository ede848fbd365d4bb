"""SciPy's rules: imported by :func:`sct.rules.table.load_optional` once the user's code has imported SciPy.

Each family lives in its own module; a family whose SciPy submodule is missing is skipped.
"""

from __future__ import annotations

import importlib

FAMILIES = ("scipy_special", "scipy_stats", "scipy_linalg", "scipy_signal", "scipy_integrate")

for _family in FAMILIES:
    try:
        importlib.import_module(f"{__package__}.{_family}")
    except ModuleNotFoundError as _exc:  # not written yet, or that part of SciPy is absent
        if not (_exc.name or "").startswith(("scipy", f"{__package__}.{_family}")):
            raise
