"""The rule tables. Importing this package registers every built-in rule."""

from . import containers, np_core, np_elementwise, np_linalg, np_products, np_reductions, np_shapes, operators, pymath  # noqa: F401  (registration)
from .table import DYNAMIC, Entry, lookup

__all__ = ["DYNAMIC", "Entry", "lookup"]

from . import helpers  # noqa: E402, F401  (imported last: its NumPy fallbacks defer to the rules above)
