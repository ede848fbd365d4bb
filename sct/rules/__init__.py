"""The rule tables. Importing this package registers every built-in rule."""

from . import np_core, operators, pymath  # noqa: F401  (registration)
from .table import DYNAMIC, Entry, lookup

__all__ = ["DYNAMIC", "Entry", "lookup"]
