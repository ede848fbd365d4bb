"""Worklist data flow: the fixed point of per-statement transfer functions, in linear time.

An analysis that gives each variable a value in a lattice (a rank, a structure)
from the statements that assign it re-evaluates a statement only when a
variable it reads has changed, instead of re-walking the whole function until
nothing changes (which is quadratic on straight-line code and grows with the
nesting depth of loops). For monotone transfer functions the answer is the same
least fixed point that the re-walk reaches.
"""

from __future__ import annotations

from collections import deque


def solve(stmts: list, reads, update, limit: int | None = None) -> bool:
    """Run ``update(stmt)`` over ``stmts`` to a fixed point; False if ``limit`` stopped it first.

    ``reads(stmt)`` gives the variables a statement reads; ``update(stmt)``
    evaluates it, joins the result into its target and says whether the target
    changed; then every statement that reads the target is evaluated again.
    Statements are first evaluated in program order. ``limit`` bounds how many
    times any one variable may change (for lattices of unbounded height).
    """
    # The first sweep, in program order, finds each statement's readers as it goes: a target that changes
    # at statement i is read again only by the statements up to i that read it (the later ones are still
    # to come), so the readers met so far are the ones to queue again, in the same order as with all found first.
    readers: dict = {}
    queue, queued = deque(), [False] * len(stmts)
    changes: dict = {}

    def changed(target) -> bool:
        """``target`` changed: queue its readers met so far; False where ``limit`` stops the solve."""
        if limit is not None:
            changes[target] = changes.get(target, 0) + 1
            if changes[target] > limit:
                return False
        for j in readers.get(target, ()):
            if not queued[j]:
                queued[j] = True
                queue.append(j)
        return True

    for i, stmt in enumerate(stmts):
        for var in set(reads(stmt)):
            found = readers.get(var)
            if found is None:
                readers[var] = [i]
            else:
                found.append(i)
        if update(stmt) and not changed(stmt.target):
            return False
    while queue:
        i = queue.popleft()
        queued[i] = False
        stmt = stmts[i]
        if update(stmt) and not changed(stmt.target):
            return False
    return True


def reachable(start, edges: dict) -> set:
    """Everything reachable from ``start`` (an iterable of nodes) along ``edges`` (node -> successors)."""
    found = set(start)
    stack = list(found)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                stack.append(nxt)
    return found
