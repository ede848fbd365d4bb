"""Reversing ``if`` statements, and knowing again which branch ran.

Mixed into the reverse emitter (:mod:`sct.reverse.adjoint`). An ``if`` is reversed as
an ``if``: its branches reversed, the adjoints one branch defines and the other
does not set to zero in the other. Which branch ran is known again in one of
three ways:

- the condition reads nothing the branches change: the reverse sweep tests it
  again as it is;
- the branches change what it reads (``if x > 0.0: x = ...``) and each branch
  that assigns such a variable records its old value first: the records are
  taken *before* the ``if`` (``x_stack.append(x)``), restored before the
  reversed ``if``, and the condition is tested again on the restored values,
  as hand-written backprop does;
- otherwise the forward sweep records the branch it took
  (``g_stack.append(True)``) and the reverse sweep pops it.
"""

from __future__ import annotations

import copy

import gast

from ..backend.codegen import assign
from ..ir import Assign, For, If, SetItem, names_in, walk
from .records import popped_stack, restores
from .sweep import ForwardSweep


class BranchReversal:
    def reverse_if(self, stmt: If, state) -> list:
        then_state, else_state = state.copy(), state.copy()
        body = self.block(stmt.body, then_state)
        orelse = self.block(stmt.orelse, else_state)
        for var in sorted(then_state.defined - else_state.defined):
            orelse.append(assign(self.delta(var), self.zero(var)))
        for var in sorted(else_state.defined - then_state.defined):
            body.append(assign(self.delta(var), self.zero(var)))
        state.defined = then_state.defined | else_state.defined
        state.owned = then_state.owned & else_state.owned
        flag = stmt.test.id if isinstance(stmt.test, gast.Name) and stmt.test.id in self.flags else None
        hoisted = self.hoist(stmt, flag, body, orelse) if flag is not None else None
        if not body and not orelse:
            return [self.pop(v) for v in hoisted or ()]
        if hoisted is not None:  # restore what the condition reads, and test it again
            test = copy.deepcopy(self.flag_conditions[flag])
            return [self.pop(v) for v in hoisted] + [ForwardSweep.if_statement(test, body, orelse)]
        reverse = ForwardSweep.if_statement(stmt.test, body, orelse)
        if flag is not None:
            return [self.pop(flag), reverse]  # the forward sweep recorded the branch it took
        return [reverse]

    def hoist(self, stmt: If, flag: str, body: list, orelse: list):
        """The variables whose records move before the ``if`` (sorted), or None where they cannot.

        The condition must read only variables the function never assigns and
        variables that each branch either leaves alone or records before its
        first assignment, at its top level; in the reversed branch, nothing
        before that record's pop may read the variable. Removes those pops from
        ``body`` and ``orelse``, and notes the assignments that no longer push.
        """
        self.hoisted.pop(flag, None)
        reads = set(names_in(self.flag_conditions[flag]))
        changed = {s.target for s in walk(stmt.body + stmt.orelse) if isinstance(s, Assign | For | SetItem)}
        hoisted = sorted(reads & changed)
        if not hoisted or (reads - changed) & set(self.assigned):
            return None
        pops, firsts = [], []
        for var in hoisted:
            for branch, reverse in ((stmt.body, body), (stmt.orelse, orelse)):
                first = _first_assignment(branch, var)
                if first is None:
                    if any(isinstance(s, Assign | For | SetItem) and s.target == var for s in walk(branch)):
                        return None  # first assigned in a nested block
                    continue
                k = _restoring_pop(reverse, var, self.stacks.get(var))
                if k is None:
                    return None
                pops.append((reverse, reverse[k]))
                firsts.append(first)
        for reverse, pop in pops:
            reverse.remove(pop)
        self.hoisted[flag] = (hoisted, {id(s) for s in firsts})
        return hoisted


def _first_assignment(branch: list, var: str):
    """The top-level ``var = ...`` of ``branch`` that first assigns ``var``; None if another comes first."""
    for stmt in branch:
        if isinstance(stmt, Assign) and stmt.target == var:
            return stmt
        if any(isinstance(s, Assign | For | SetItem) and s.target == var for s in walk([stmt])):
            return None
    return None


def _restoring_pop(reverse: list, var: str, stack):
    """The index of ``var = var_stack.pop()`` that restores ``var``'s value at entry to the branch.

    It is the last pop of the record at the top level of the reversed branch,
    with none nested after it, and nothing before it may read or write ``var``.
    """
    found = [k for k, s in enumerate(reverse) if restores(s, var, stack)]
    if stack is None or not found:
        return None
    k = found[-1]
    after = [n for s in reverse[k + 1 :] for n in gast.walk(s)]
    if any(isinstance(n, gast.Call) and popped_stack(n) == stack for n in after):
        return None
    before = [n for s in reverse[:k] for n in gast.walk(s)]
    if any(isinstance(n, gast.Name) and n.id == var for n in before):
        return None
    return k
