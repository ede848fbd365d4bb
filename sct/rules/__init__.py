"""The rule tables. Importing this package registers every built-in rule."""

from . import (  # noqa: F401  (registration)
    containers,
    np_at,
    np_core,
    np_elementwise,
    np_linalg,
    np_products,
    np_reductions,
    np_shapes,
    operators,
    pymath,
)
from .table import DYNAMIC, OPTIONAL, Entry, lookup

__all__ = ["DYNAMIC", "Entry", "lookup"]

from . import helpers  # noqa: E402, F401  (imported last: its NumPy fallbacks defer to the rules above)


def _scipy() -> None:
    """SciPy's rules (:mod:`sct.rules.scipy_rules`): imported once the user's code has imported SciPy."""
    from . import scipy_rules  # noqa: F401  (registration; SciPy is optional, so not at the top)


OPTIONAL["scipy"] = _scipy
