"""Facts about the variables of a generated scalar function, for :mod:`sct.passes.unbox`.

* :class:`Signs`: which variables are never negative, so ``a ** 1.5`` is real
  (Python makes a negative float to a fractional power complex).
* :func:`may_be_none`: which variables may hold the ``None`` the forward sweep
  starts a record's variable at, so ``float(v)`` of them must stay.
"""

from __future__ import annotations

import math

import gast
import numpy as np

from ..ir import names_in


def may_be_none(fn) -> set:
    """Variables that may hold None: set to it (the forward sweep does, for records), or copied from one."""
    found, size = set(), -1
    statements = list(_statements(fn))
    while len(found) != size:  # a least fixed point: the order the statements are read in does not matter
        size = len(found)
        for stmt in statements:
            if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
                value = stmt.value
                if isinstance(value, gast.Constant) and value.value is None or _carries(value, found):
                    found.add(stmt.targets[0].id)
            elif isinstance(stmt, gast.Expr) and _method_of(stmt.value, "append"):
                if stmt.value.args and _carries(stmt.value.args[0], found):
                    found.add(stmt.value.func.value.id)
            elif isinstance(stmt, gast.For) and set(names_in(stmt.iter)) & found:
                found |= set(names_in(stmt.target))
    return found


def _statements(fn):
    """The statements under ``fn`` (``gast.walk``'s, in another order): statements are only ever in the
    statement lists of other statements (and of ``except`` handlers), never inside an expression."""
    stack = [fn]
    while stack:
        node = stack.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            value = getattr(node, field, None)
            if type(value) is list:
                stack.extend(value)


def _carries(node, found: set) -> bool:
    """Can ``node`` be the very object one of ``found`` holds (a copy, a pop, a branch of ``a if c else b``)?"""
    if isinstance(node, gast.Name):
        return node.id in found
    if _method_of(node, "pop"):
        return node.func.value.id in found
    if isinstance(node, gast.IfExp):
        return _carries(node.body, found) or _carries(node.orelse, found)
    if isinstance(node, gast.BoolOp):
        return any(_carries(v, found) for v in node.values)
    return False


class Signs:
    """The variables that are never negative (nan allowed), by a fixed point from "all of them".

    For ``a ** 1.5``, real where ``a`` is ``b ** 2 + 0.5``, complex in Python
    for a negative ``a``. ``np.sqrt`` and friends count as non-negative: of a
    negative number they give nan (or raise), never a negative number.
    """

    NONNEGATIVE = {np.exp, np.sqrt, np.absolute, np.fabs, np.square, np.cosh, np.exp2, abs}
    NONNEGATIVE |= {math.exp, math.sqrt, math.fabs, math.cosh}
    KEEPING = {np.sum, np.mean, np.max, np.min, np.amax, np.amin, float}  # of a scalar: its value

    def __init__(self, fn, locals_: set, resolve):
        self.resolve, self.locals = resolve, locals_
        self.known = set(locals_) - {a.id for a in fn.args.args}
        for _ in range(len(self.known) + 1):
            before = set(self.known)
            self.block(fn.body)
            if self.known == before:
                break

    def block(self, body):
        for stmt in body:
            if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
                self.learn(stmt.targets[0].id, stmt.value)
            elif isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Tuple):  # r, s = tape.pop()
                for target in stmt.targets[0].elts:
                    self.known.discard(getattr(target, "id", None))
            elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
                self.learn(stmt.target.id, gast.BinOp(left=stmt.target, op=stmt.op, right=stmt.value))
            elif isinstance(stmt, gast.Expr) and _method_of(stmt.value, "append"):
                self.learn(stmt.value.func.value.id, stmt.value.args[0])  # a record: all it holds
            elif isinstance(stmt, gast.For):
                records = stmt.iter.args if _call_of(stmt.iter, self.resolve, zip) else [stmt.iter]
                targets = stmt.target.elts if isinstance(stmt.target, gast.Tuple) else [stmt.target]
                for target, record in zip(targets, records):
                    if _call_of(record, self.resolve, reversed):
                        record = record.args[0]
                    if isinstance(target, gast.Name):
                        self.learn(target.id, record, element=True)
            for block in (getattr(stmt, "body", None), getattr(stmt, "orelse", None)):
                if isinstance(block, list):
                    self.block(block)

    def learn(self, var, value, element=False):
        """``var`` takes ``value`` (or, for a loop target, each element of it)."""
        counting = element and _call_of(value, self.resolve, range)  # range(a, b, c): all >= 0 if a, b, c are
        nonnegative = all(map(self.nonnegative, value.args)) if counting else self.nonnegative(value)
        if var in self.known and not nonnegative:
            self.known.discard(var)

    def nonnegative(self, node) -> bool:
        if isinstance(node, gast.Constant):
            return isinstance(node.value, int | float) and node.value >= 0
        if isinstance(node, gast.Name):
            return node.id in self.known
        if isinstance(node, gast.BinOp):
            if isinstance(node.op, gast.Pow):
                return self.even(node.right) or self.nonnegative(node.left)
            both = self.nonnegative(node.left) and self.nonnegative(node.right)
            return both and isinstance(node.op, gast.Add | gast.Mult | gast.Div | gast.FloorDiv)
        if isinstance(node, gast.IfExp):
            return self.nonnegative(node.body) and self.nonnegative(node.orelse)
        if isinstance(node, gast.Call) and not node.keywords:
            if _method_of(node, "pop"):
                return node.func.value.id in self.known
            func = called(node.func, self.resolve, self.locals)
            if is_in(func, self.NONNEGATIVE):
                return True
            return is_in(func, self.KEEPING) and len(node.args) == 1 and self.nonnegative(node.args[0])
        return False

    @staticmethod
    def even(node) -> bool:
        value = node.value if isinstance(node, gast.Constant) else None
        return isinstance(value, int | float) and not isinstance(value, bool) and value % 2 == 0

    def real_power(self, node: gast.BinOp) -> bool:
        """Is ``a ** b`` surely real: a whole-number exponent, or a base that is never negative?"""
        exponent = node.right.value if isinstance(node.right, gast.Constant) else None
        if isinstance(exponent, float) and exponent.is_integer():
            return True
        return self.nonnegative(node.left)


def _method_of(node, method: str) -> bool:
    """Is ``node`` ``<name>.method(...)`` (``h_stack.append(h)``)?"""
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, gast.Name)
    )


def _call_of(node, resolve, function) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and resolve(node.func.id) is function


def called(func, resolve, locals_) -> object:
    """The object a call's ``func`` names: a free name or an attribute of one (``np.exp``); else None."""
    if isinstance(func, gast.Name) and func.id not in locals_:
        return resolve(func.id)
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id not in locals_:
        return getattr(resolve(func.value.id), func.attr, None)
    return None


def is_in(obj, objects: set) -> bool:
    """``obj in objects``, False for an unhashable ``obj``."""
    try:
        return obj in objects
    except TypeError:  # unhashable
        return False
