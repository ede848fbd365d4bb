"""The command line: ``sct dump``, ``sct export``, ``sct check``, ``sct cache``."""

from .commands import main

__all__ = ["main"]
