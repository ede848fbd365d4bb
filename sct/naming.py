"""The one place generated names are made.

Temporaries are ``a, b, c, ..., z, aa, ab, ...``, skipping every name the user's
function already uses; adjoints of a value ``v`` are ``delta_v``; records made by
the forward sweep for the reverse sweep are ``<what>_stack``. A :class:`Namer` is
deterministic: the same function always gets the same names.
"""

from __future__ import annotations

import builtins
import keyword
import string


def _letters():
    size = 1
    while True:
        yield from _words(size)
        size += 1


def _words(size):
    if size == 1:
        yield from string.ascii_lowercase
        return
    for head in string.ascii_lowercase:
        for tail in _words(size - 1):
            yield head + tail


class Namer:
    """Hands out fresh names that clash with nothing in ``taken``."""

    def __init__(self, taken=()):
        self.taken = set(taken) | set(keyword.kwlist) | set(dir(builtins))
        self._temps = _letters()
        self.temps = set()  # the temporaries handed out: values the user never named

    def reserve(self, name: str) -> str:
        self.taken.add(name)
        return name

    def temp(self) -> str:
        """The next free single-op temporary: a, b, c, ..."""
        for name in self._temps:
            if name not in self.taken:
                self.temps.add(name)
                return self.reserve(name)
        raise AssertionError("unreachable: the name generator is infinite")

    def fresh(self, base: str) -> str:
        """``base`` itself if free, else ``base_1``, ``base_2``, ..."""
        name, i = base, 0
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        return self.reserve(name)

    def delta(self, name: str) -> str:
        return self.fresh(f"delta_{name}")

    def tangent(self, name: str) -> str:
        return self.fresh(f"dot_{name}")

    def version(self, name: str) -> str:
        """A new SSA name for a user variable that is assigned again."""
        return self.fresh(name)
