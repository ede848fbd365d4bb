"""Lowering to A-normal form: one primitive per statement.

After lowering, a function body is a list of these statements, and nothing else:

* ``Assign(t, atom)``                    a copy or a constant: ``t = x``, ``t = 2.0``
* ``Assign(t, atom OP atom)``            a binary operator: ``t = x * y``
* ``Assign(t, OP atom)``                 a unary operator: ``t = -x``
* ``Assign(t, atom CMP atom)``           one comparison: ``t = x > 0.0``
* ``Assign(t, f(atom, ..., k=atom))``    a call of a function resolved at compile time
* ``Assign(t, x.m(atom, ...))``          a method of an array (``method=True``)
* ``Assign(t, x.attr)``                  an attribute of an array: ``t = x.T``
* ``Assign(t, x[index])``                indexing, where ``index`` is made of atoms and slices
* ``Assign(t, (atom, ...))``             building a tuple, list or dict
* ``SetItem(t, index, atom)``            ``t[index] = atom`` into an array the function made
* ``Effect(f(atom, ...))``               a call kept for its side effect only
* ``If(test, body, orelse)``             ``test`` is a comparison or boolean over atoms
* ``For(i, range(atom, ...), body)``     loops over anything else become index loops
* ``While(cond, test, body)``            ``cond`` computes ``test`` before each trip

An *atom* is a variable, a constant, a tuple or list of atoms, or a dotted name
rooted at a global (``np.pi``). No statement's target is also its operand.
A user variable assigned only in straight-line code at the top of the function
gets a new version each time (``x``, then ``x_1``): those values are never
overwritten. Variables assigned inside ``if``/``for``/``while`` keep one name.
``break``, ``continue`` and ``return`` inside control flow become flags and
guards (``if not skip: ...``), so every loop is a plain loop the reverse sweep
can replay from its trip count. Temporaries are ``a, b, c, ...``; the value the
function returns is assigned to ``out``.
"""

from __future__ import annotations

import operator

import gast
import numpy as np

from . import aliases
from .anf_calls import Calls
from .anf_control import ControlFlow, Lowered
from .errors import Problem, UnsupportedSyntaxError
from .ir import ATTRIBUTES, BINOPS, COMPARES, METHODS, UNARYOPS, Assign, Effect, FunctionIR, SetItem
from .naming import Namer
from .parse import Parsed
from .runtime import HELPERS, appended, copied, dropped_last

LOAD = gast.Load()
RESERVED = {"np", "math", *HELPERS}  # names generated code uses for its own helpers


def name(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def lower(parsed: Parsed, has_aux: bool = False) -> tuple[FunctionIR, Namer]:
    lowering = _Lowering(parsed)
    body = lowering.function(has_aux)
    ir = FunctionIR(
        name=parsed.node.name,
        params=lowering.params,
        body=body,
        output=lowering.output,
        namespace=lowering.namespace,
        filename=parsed.filename,
        aux=lowering.aux,
        names=set(lowering.namer.taken),
        shared_updates=lowering.shared_updates,
        augmented=lowering.augmented,
    )
    return ir, lowering.namer


class _Lowering(ControlFlow, Calls):
    def __init__(self, parsed: Parsed):
        self.parsed = parsed
        self.params = [a.id for a in parsed.node.args.args]
        self.locals = set(self.params) | _assigned_names(parsed.node)
        used = {n.id for n in gast.walk(parsed.node) if isinstance(n, gast.Name)}
        self.namer = Namer(used | self.locals | {parsed.node.name} | RESERVED)
        self.unversioned = _nested_assignments(parsed.node)
        self.initial_names = set(self.namer.taken)
        self.current = {p: p for p in self.params}  # user name -> its current version
        self.namespace = {}  # free name -> object, for the generated code
        self.stmts = []
        self.origin = None
        self.output = None
        self.aux = None
        self.problems = []
        self.lambdas = {}  # local name -> lambda node
        self.written = _written_names(parsed.node)  # arrays the function writes into (x[i] = v)
        self.reassigned = set()
        self.shared = aliases.shared_updates(parsed.node)  # x += e where another name holds x's array
        self.shared_updates = []  # (the variable updated, the problem if it is an array)
        self.roots = {}  # user name -> the version its object was bound to (x += e keeps the object)
        self.augmented = {}  # version made by x += e -> its root
        ControlFlow.__init__(self)
        Calls.__init__(self)

    def function(self, has_aux: bool):
        self.has_aux = has_aux
        self.output = self.namer.fresh("out")
        body = self.parsed.node.body
        if not _ends_in_return(body):
            self.problem(self.parsed.node, "every path through the function must end in `return <value>`")
        self.stmts = self.function_body(body)
        if self.problems:
            raise UnsupportedSyntaxError(self.problems)
        return self.stmts

    # ---- simple statements ---------------------------------------------------------
    def simple_statement(self, stmt):
        if id(stmt) in self.shared and not isinstance(getattr(stmt, "target", None), gast.Name):
            other, made = self.shared[id(stmt)]  # x[i] = v where another name holds x's array
            where = self.parsed.location(made)
            self.problem(stmt, aliases.describe(stmt, other, where.lineno if where else None))
        if isinstance(stmt, gast.Assign | gast.Expr) and self.is_pop(stmt.value):
            items = stmt.value.func.value
            if isinstance(stmt, gast.Assign):  # v = ys.pop(): the last item, then ys without it
                last = gast.Constant(value=-1, kind=None)
                self.assign(stmt.targets[0], gast.Subscript(value=items, slice=last, ctx=LOAD))
            self.shrink(items.id, self.expr(items))
        elif isinstance(stmt, gast.Assign):
            value = stmt.value
            for target in stmt.targets:
                value = self.assign(target, value)
        elif isinstance(stmt, gast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, stmt.value)
        elif isinstance(stmt, gast.AugAssign):
            root = None
            if isinstance(stmt.target, gast.Name):
                root = self.roots.get(stmt.target.id, self.current.get(stmt.target.id, stmt.target.id))
            if id(stmt) in self.shared:
                self.shared_update(stmt, root)
            load = _as_load(stmt.target)
            self.assign(stmt.target, gast.BinOp(left=load, op=stmt.op, right=stmt.value))
            if root is not None:
                self.roots[stmt.target.id] = root  # in Python, still the object bound before
                self.augmented[self.current[stmt.target.id]] = root
        elif isinstance(stmt, gast.Expr) and self.is_append(stmt.value):
            items = stmt.value.func.value
            self.grow(items.id, self.expr(items), self.expr(stmt.value.args[0]))
        elif isinstance(stmt, gast.Expr):
            if not isinstance(stmt.value, gast.Constant):  # docstrings
                self.stmts.append(Effect(self.expr(stmt.value, keep_call=True), self.origin))
        elif not isinstance(stmt, gast.Pass):
            self.problem(stmt, f"`{type(stmt).__name__}` is not supported here")

    def return_value(self, value):
        """``out = value`` (and the aux output) for a ``return`` statement."""
        if value is None:
            value = gast.Constant(value=None, kind=None)
        if self.has_aux:
            if not (isinstance(value, gast.Tuple) and len(value.elts) == 2):
                self.problem(value, "with has_aux=True the function must `return value, aux`")
                return
            if self.aux is None:
                self.aux = self.namer.fresh("aux")
            self.emit(self.aux, value.elts[1])
            value = value.elts[0]
        self.emit(self.output, value)

    def assign(self, target, value):
        """Lower ``target = value``; returns an atom holding the value (for chains)."""
        if isinstance(target, gast.Name):
            return self.bind(target.id, value)
        if isinstance(target, gast.Tuple | gast.List):
            return self.unpack(target, value)
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            return self.set_item(target, value)
        self.problem(target, "only names, tuples and `array[index]` can be assigned to")
        return value

    def bind(self, user_name: str, value):
        if isinstance(value, gast.Lambda):
            self.lambdas[user_name] = value  # inlined where it is called
            return value
        base = self.local_name(user_name)
        if user_name in self.unversioned:
            version = base
        elif user_name in self.current:
            version = self.namer.version(base)
        else:
            version = base
        self.emit(version, value, overwrites=user_name in self.unversioned)
        self.current[user_name] = version
        self.roots[user_name] = version
        if user_name in self.written and self.stmts[-1].prim not in _MAKES_NEW_ARRAY:
            self.copy_on_write(user_name)  # it may be the caller's array, or a view of one
        return name(self.current[user_name])

    def copy_on_write(self, user_name: str):
        """``x = copied(x)`` before writing into an array (or list) the function did not make."""
        source = self.atom(name(user_name))
        target = self.local_name(user_name) if user_name in self.unversioned else self.namer.version(user_name)
        call = gast.Call(func=name("copied"), args=[source], keywords=[])
        self.stmts.append(Assign(target, call, copied, self.origin))
        self.current[user_name] = target

    def is_append(self, call) -> bool:
        """``ys.append(y)`` on a local list."""
        return (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr == "append"
            and isinstance(call.func.value, gast.Name)
            and call.func.value.id in self.locals
            and len(call.args) == 1
        )

    def is_pop(self, call) -> bool:
        """``ys.pop()`` on a local list."""
        return (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr == "pop"
            and isinstance(call.func.value, gast.Name)
            and call.func.value.id in self.locals
            and not call.args
        )

    def shrink(self, user_name: str, items):
        """``items = dropped_last(items)``, through a temporary."""
        temp = self.namer.temp()
        value = gast.Call(func=name("dropped_last"), args=[items], keywords=[])
        self.stmts.append(Assign(temp, value, dropped_last, self.origin))
        self.bind(user_name, Lowered(name(temp)))

    def grow(self, user_name: str, items, item):
        """``items = appended(items, item)``, through a temporary (a target is never its own operand)."""
        temp = self.namer.temp()
        value = gast.Call(func=name("appended"), args=[items, item], keywords=[])
        self.stmts.append(Assign(temp, value, appended, self.origin))
        self.bind(user_name, Lowered(name(temp)))

    def list_comprehension(self, node):
        """``[elt for x in xs if c]`` as a loop growing a list; returns the list's atom."""
        from .anf_control import _fake_for

        if len(node.generators) != 1 or node.generators[0].is_async:
            self.problem(node, "only comprehensions with one `for` are supported; write a loop")
            return gast.Constant(value=None, kind=None)
        gen = node.generators[0]
        result = self.namer.temp()
        self.locals.add(result)
        self.unversioned.add(result)
        self.bind(result, gast.List(elts=[], ctx=LOAD))
        body = [gast.Expr(value=_append_call(result, node.elt))]
        for cond in reversed(gen.ifs):
            body = [gast.If(test=cond, body=body, orelse=[])]
        self.for_loop(_fake_for(gen, body, node))
        return name(self.current[result])

    def local_name(self, user_name: str) -> str:
        """The generated code's name for a local of this function (inlined callees rename theirs)."""
        return user_name

    def unpack(self, target, value):
        if isinstance(value, gast.Tuple | gast.List) and len(value.elts) == len(target.elts):
            atoms = [self.expr(v) for v in value.elts]  # all right-hand sides first
            for t, a in zip(target.elts, atoms):
                self.assign(t, Lowered(a))
            return value
        whole = self.expr(value)
        for i, t in enumerate(target.elts):
            index = gast.Constant(value=i, kind=None)
            self.assign(t, gast.Subscript(value=whole, slice=index, ctx=LOAD))
        return whole

    def set_item(self, target, value):
        array = self.atom(target.value)
        index, value = self.index(target.slice), self.expr(value)
        self.stmts.append(SetItem(array.id, index, value, self.where(target)))
        return value

    # ---- expressions ---------------------------------------------------------------
    def emit(self, target: str, value, overwrites=False):
        """Emit ``target = value`` with ``value`` made one primitive over atoms."""
        prim, flat, method = self.primitive(value)
        if overwrites and target in _names(flat) and not isinstance(value, Lowered):
            # ``y = y * x`` reads y and overwrites it: compute into a temporary first.
            temp = self.namer.temp()
            self.stmts.append(Assign(temp, flat, prim, self.where(value), method))
            prim, flat, method = None, name(temp), False
        self.stmts.append(Assign(target, flat, prim, self.where(value), method))

    def where(self, node):
        """The user's location of ``node``, or of the statement it belongs to."""
        return self.parsed.location(node) if hasattr(node, "lineno") else self.origin

    def expr(self, node, keep_call=False):
        """An atom for ``node``, emitting the statements that compute it."""
        if isinstance(node, Lowered):
            return node.atom
        if self.is_atom(node):
            return self.atom(node)
        if _negative_literal(node):
            return gast.Constant(value=-node.operand.value, kind=None)
        if isinstance(node, gast.Tuple | gast.List) and not keep_call:
            return type(node)(elts=[self.expr(e) for e in node.elts], ctx=LOAD)
        if isinstance(node, gast.IfExp):
            return name(self.if_expression(node))
        if isinstance(node, gast.ListComp):
            return self.list_comprehension(node)
        prim, flat, method = self.primitive(node)
        if keep_call:
            return flat
        temp = self.namer.temp()  # named after its operands, so names read in order
        self.stmts.append(Assign(temp, flat, prim, self.where(node), method))
        return name(temp)

    def is_atom(self, node) -> bool:
        if isinstance(node, gast.Name | gast.Constant):
            return True
        return isinstance(node, gast.Attribute) and self.global_path(node) is not None

    def atom(self, node):
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                if node.id not in self.current:
                    self.problem(node, f"`{node.id}` is used before it is assigned")
                    return name(node.id)
                bound = self.current[node.id]
                return name(bound) if isinstance(bound, str) else bound  # a constant argument
            if node.id not in self.initial_names:
                return node  # a name this lowering made (a temporary, a loop index)
            self.resolve(node)
            return self.rooted(node)
        if isinstance(node, gast.Attribute):
            self.resolve(node)
            return self.rooted(node)
        return node

    def primitive(self, node):
        """(rule key, the node with atoms for operands, is-method) for one operation."""
        if isinstance(node, Lowered):
            return None, node.atom, False
        if isinstance(node, gast.BinOp):
            flat = gast.BinOp(left=self.expr(node.left), op=node.op, right=self.expr(node.right))
            if type(node.op) not in BINOPS:
                self.problem(node, f"the operator `{type(node.op).__name__}` has no derivative; use arithmetic")
            return BINOPS.get(type(node.op)), flat, False
        if isinstance(node, gast.UnaryOp):
            operand = self.expr(node.operand)
            if isinstance(node.op, gast.UAdd):
                return None, operand, False
            if type(node.op) not in UNARYOPS:
                self.problem(node, f"the operator `{type(node.op).__name__}` has no derivative; use arithmetic")
            return UNARYOPS.get(type(node.op)), gast.UnaryOp(op=node.op, operand=operand), False
        if isinstance(node, gast.Compare):
            return self.compare(node)
        if isinstance(node, gast.Call):
            return self.call(node)
        if isinstance(node, gast.Attribute):
            if node.attr not in ATTRIBUTES:
                self.problem(node, f"the attribute `.{node.attr}` is not supported on arrays")
            flat = gast.Attribute(value=self.expr(node.value), attr=node.attr, ctx=LOAD)
            return ATTRIBUTES.get(node.attr), flat, False
        if isinstance(node, gast.Subscript):
            flat = gast.Subscript(value=self.expr(node.value), slice=self.index(node.slice), ctx=LOAD)
            return operator.getitem, flat, False
        if isinstance(node, gast.Tuple | gast.List):
            flat = type(node)(elts=[self.expr(e) for e in node.elts], ctx=LOAD)
            return (tuple if isinstance(node, gast.Tuple) else list), flat, False
        if isinstance(node, gast.Dict):
            keys = [None if k is None else self.expr(k) for k in node.keys]
            return dict, gast.Dict(keys=keys, values=[self.expr(v) for v in node.values]), False
        if isinstance(node, gast.IfExp):
            return None, name(self.if_expression(node)), False
        if isinstance(node, gast.ListComp):
            return None, self.list_comprehension(node), False
        if self.is_atom(node):
            return None, self.atom(node), False
        self.problem(node, f"the expression `{type(node).__name__}` is not supported")
        return None, gast.Constant(value=None, kind=None), False

    def compare(self, node):
        if len(node.ops) != 1:
            self.problem(node, "chained comparisons are not supported; split them with `and`")
        left, right = self.expr(node.left), self.expr(node.comparators[0])
        flat = gast.Compare(left=left, ops=node.ops[:1], comparators=[right])
        return COMPARES.get(type(node.ops[0])), flat, False

    def call(self, node):
        args = [self.expr(a) for a in node.args]
        keywords = [gast.keyword(arg=k.arg, value=self.expr(k.value)) for k in node.keywords]
        func = node.func
        if isinstance(func, gast.Name) and func.id in self.lambdas:
            return None, self.inline_lambda(self.lambdas[func.id], args, node), False
        if self.global_path(func) is not None:
            fn = self.resolve(func)
            if self.inlinable(fn):
                return None, self.inline_function(fn, args, keywords, node), False
            return fn, gast.Call(func=self.rooted(func), args=args, keywords=keywords), False
        if isinstance(func, gast.Attribute):
            receiver = self.expr(func.value)
            method = gast.Attribute(value=receiver, attr=func.attr, ctx=LOAD)
            if func.attr not in METHODS:
                self.problem(func, f"the array method `.{func.attr}()` is not supported")
            return METHODS.get(func.attr), gast.Call(func=method, args=args, keywords=keywords), True
        self.problem(node, "only calls of named functions are supported")
        return None, gast.Call(func=func, args=args, keywords=keywords), False

    def index(self, node):
        if isinstance(node, gast.Slice):
            parts = [None if p is None else self.expr(p) for p in (node.lower, node.upper, node.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e) for e in node.elts], ctx=LOAD)
        return self.expr(node)

    # ---- names ---------------------------------------------------------------------
    def global_path(self, node):
        """``["np", "linalg", "inv"]`` for a dotted name rooted at a non-local, else None."""
        parts = []
        while isinstance(node, gast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, gast.Name) and node.id not in self.locals:
            return [node.id] + parts[::-1]
        return None

    def resolve(self, node):
        path = self.global_path(node)
        try:
            value = self.parsed.resolve(path[0])
        except AttributeError:
            self.problem(node, f"the name `{path[0]}` is not defined")
            return None
        self.bind_global(path[0], value)
        for part in path[1:]:
            try:
                value = getattr(value, part)
            except AttributeError:
                self.problem(node, f"`{'.'.join(path)}` does not exist")
                return None
        return value

    def shared_update(self, stmt: gast.AugAssign, root: str):
        """Note ``x += e`` where another name holds x's array: a problem if ``x`` (``root``) is an array."""
        other, made = self.shared[id(stmt)]
        where = self.parsed.location(made)
        message = aliases.describe(stmt, other, where.lineno if where else None)
        self.shared_updates.append((root, Problem(message, self.parsed.location(stmt))))

    def problem(self, node, message: str):
        self.problems.append(Problem(message, self.parsed.location(node)))


_MAKES_NEW_ARRAY = {
    np.zeros,
    np.ones,
    np.empty,
    np.full,
    np.zeros_like,
    np.ones_like,
    np.empty_like,
    np.full_like,
    np.array,
    np.copy,
    copied,
    np.eye,
    np.arange,
    np.linspace,
    HELPERS["zeros_like"],  # also a fresh list for a list (np.copy of a ragged list would fail)
    *BINOPS.values(),
    *UNARYOPS.values(),
}


def _written_names(fn_node) -> set:
    """Names of arrays written into: ``x[i] = v`` or ``x[i] += v``."""
    found = set()
    for node in gast.walk(fn_node):
        targets = node.targets if isinstance(node, gast.Assign) else [getattr(node, "target", None)]
        for t in targets:
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                found.add(t.value.id)
    return found


def _append_call(list_name: str, item):
    func = gast.Attribute(value=name(list_name), attr="append", ctx=LOAD)
    return gast.Call(func=func, args=[item], keywords=[])


def _names(node) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def _negative_literal(node) -> bool:
    return (
        isinstance(node, gast.UnaryOp)
        and isinstance(node.op, gast.USub)
        and isinstance(node.operand, gast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    )


def _as_load(target):
    if isinstance(target, gast.Name):
        return gast.Name(id=target.id, ctx=LOAD, annotation=None, type_comment=None)
    return target


def _assigned_names(fn_node) -> set:
    return _stores(fn_node)


def _stores(node) -> set:
    """Names stored under ``node``: assignment targets and lists grown with ``.append``."""
    found = set()
    for n in gast.walk(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            found.add(n.id)
        elif (
            isinstance(n, gast.Call)
            and isinstance(n.func, gast.Attribute)
            and n.func.attr in ("append", "pop")
            and isinstance(n.func.value, gast.Name)
        ):
            found.add(n.func.value.id)
    return found


_COMPOUND = (gast.If, gast.For, gast.While)


def _nested_assignments(fn_node) -> set:
    """Names assigned inside an if/for/while (they keep one name, values may be overwritten)."""
    found = set()
    for node in gast.walk(fn_node):
        if isinstance(node, _COMPOUND):
            found |= _stores(node)
    return found


def _ends_in_return(body) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, gast.Return):
        return True
    if isinstance(last, gast.If):
        return _ends_in_return(last.body) and _ends_in_return(last.orelse)
    return False
