"""Griewank's binomial checkpointing (revolve): where to keep a loop's state, with ``s`` states at most.

``checkpoint=("revolve", s)`` (:mod:`sct.passes.checkpoint`) reverses ``n`` trips
keeping at most ``s`` loop states at a time and running the fewest trips again.
Its generated code calls the two helpers below, plain Python on integers, which
``sct export`` copies into the module as it does the others.

To reverse trips ``lo .. hi-1`` from the kept state at ``lo`` with ``c`` states
(that one included), the schedule runs ``j`` trips forward without records,
keeps the state there, reverses the ``hi - lo - j`` trips after it with ``c - 1``
states, and then the ``j`` trips before it with ``c`` again (from the state at
``lo``). One trip is run with its records and reversed at once; with one state
(``c == 1``) the trips are run again from ``lo`` for each trip. The fewest trips
run forward without records, ``t(l, c)`` for ``l`` trips, is the textbook recurrence

    t(1, c) = 0,  t(l, 1) = l (l - 1) / 2,  t(l, c) = min over 0 < j < l of  j + t(l - j, c - 1) + t(j, c)

whose solution is ``t(l, c) = r l - C(c + r, r - 1)``, ``r`` the repetition number:
the least ``r`` with ``l <= C(c + r, c)`` (Griewank 1992; Griewank and Walther,
*Algorithm 799: revolve*, 2000). :func:`revolve_split` gives a ``j`` that attains it.
The first pass (the forward sweep) keeps the states the schedule keeps on its way
to the last trip (:func:`revolve_snapshots`), which it runs with its records.
"""

from __future__ import annotations

from .runtime import HELPERS


def revolve_split(trips, states):
    """How many of ``trips`` to run forward, from the kept state, before keeping the next (``states``:
    how many may be kept for these trips, the one at their start included); 0 for one trip.

    Any ``j`` with ``C(s + r - 2, s) <= j <= C(s + r - 1, s)`` and ``C(s + r - 2, s - 1) <= trips - j <= C(s + r - 1,
    s - 1)`` attains the optimum (``s`` states, ``r`` the repetition number); this is the largest."""
    if trips <= 1:
        return 0
    if states <= 1:  # nothing more to keep: run up to the last trip again
        return trips - 1
    r, most, fewer = 1, states + 1, 1  # most: C(s + r, s), the most trips r repetitions reverse; fewer: C(s + r - 1, s)
    while most < trips:
        r += 1
        fewer = most
        most = most * (states + r) // r
    return max(1, min(fewer, trips - fewer * states // (states + r - 1)))


def revolve_snapshots(trips, states):
    """The trips at whose start the first pass keeps the state: ``[0, ...]``, ``states`` at most ([] for one trip).

    It runs to the last trip as the reverse sweep would, keeping what the reverse sweep will restore."""
    kept = [0]
    if trips <= 1:
        kept.pop()  # [] made so, a list of integers to numba too
        return kept
    while True:
        lo = kept[-1]
        j = revolve_split(trips - lo, states + 1 - len(kept))
        if trips - (lo + j) <= 1:  # the last trip: run with its records, nothing kept at its start
            return kept
        kept.append(lo + j)


HELPERS.update({f.__name__: f for f in (revolve_split, revolve_snapshots)})
NAMES = ("revolve_split", "revolve_snapshots")
_NATIVE = {}


def native_helpers() -> dict:
    """The helpers under ``numba.njit`` (``backend="numba"``), calling each other's compiled forms."""
    if not _NATIVE:
        import inspect

        import numba

        scope = {}
        exec("\n\n".join(inspect.getsource(HELPERS[name]) for name in NAMES), scope)  # noqa: S102 - our own source
        for name in NAMES:
            scope[name] = numba.njit(scope[name])  # numba reads the others from scope when it compiles
        _NATIVE.update({name: scope[name] for name in NAMES})
    return dict(_NATIVE)
