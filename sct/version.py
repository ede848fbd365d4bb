"""sct's version (the persistent cache keys on it)."""

__version__ = "0.1.0"
