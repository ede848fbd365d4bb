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

This module lowers statements and names; expressions are lowered in
:mod:`sct.frontend.expressions`, control flow in :mod:`sct.frontend.control`, calls of the
user's functions in :mod:`sct.frontend.calls`.
"""

from __future__ import annotations

import ast

import gast
import numpy as np

from ..backend.codegen import child_fields, nodes, statements
from ..backend.helpers import HELPERS
from ..backend.runtime import added_at, appended, copied, dropped_last, subtracted_at
from ..errors import Problem, UnsupportedSyntaxError
from ..ir import BINOPS, UNARYOPS, Assign, Effect, FunctionIR, If, SetItem
from ..naming import Namer
from . import aliases
from .calls import Calls
from .control import ControlFlow, Lowered, _fake_for
from .expressions import Computed, Expressions, name
from .functions import Functions, Known
from .parse import Parsed
from .transforms import Transforms

LOAD = gast.Load()
RESERVED = {"np", "math", *HELPERS}  # names generated code uses for its own helpers


def lower(parsed: Parsed, has_aux: bool = False, structures=None, callables=None, objects=None):
    """``structures``: parameter -> the structure of its container argument (:func:`sct.passes.containers.describe`),
    so ``f(*args)``/``f(**kw)`` of a tuple or dict passed in can be unpacked (the variant is compiled for it).
    ``callables``: parameter -> the function it is passed (the variant is compiled for that function);
    ``objects``: parameter -> the class of the object it is passed (its methods are that class's).
    Returns the function's IR and the namer that made its names.
    """
    lowering = _Lowering(parsed)
    for param, (cls, attributes) in (objects or {}).items():
        if param in lowering.params and param not in lowering.bindings:
            lowering.objects[param] = (cls, False, attributes)
    for param, value in (callables or {}).items():
        if isinstance(value, type) and param in lowering.params and param not in lowering.bindings:
            lowering.objects[param] = (value, True, None)  # a class passed in (cls of a classmethod)
    for param, value in (callables or {}).items():
        if param in lowering.params:
            lowering.lambdas[param] = Known(value, name(param))
    for param, structure in (structures or {}).items():
        if param in lowering.params and param not in lowering.unversioned:
            lowering.note_structure(param, structure)
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


class _Lowering(Expressions, ControlFlow, Calls, Transforms, Functions):
    def __init__(self, parsed: Parsed):
        self.parsed = parsed
        self.params = parameter_names(parsed.node.args)
        facts = _NameFacts(parsed.node)
        self.locals = set(self.params) | facts.stored
        self.namer = Namer(facts.used | self.locals | {parsed.node.name} | RESERVED)
        self.unversioned = facts.nested
        self.initial_names = set(self.namer.taken)
        self.current = {p: p for p in self.params}  # user name -> its current version
        self.namespace = {}  # free name -> object, for the generated code
        self.stmts = []
        self.origin = None
        self.output = None
        self.aux = None
        self.problems = []
        self.lambdas = {}  # local name -> lambda node, transform, or function value (sct.frontend.functions)
        self.held_in = {}  # local name holding a function -> the blocks its binding is in
        self.bindings = facts.bindings
        self.enclosing = None  # a local def's lowering: the lowering of the function it was made in
        self.function_atoms = {}  # the output of an inlined call that returned a function -> that function
        self.objects = {}  # a name holding an object (self of a method) -> (its class, is the class itself,
        #                    the names of its attributes where it is held as the dict of them (differentiated by))
        self.written = facts.written  # arrays the function writes into (x[i] = v)
        self.reassigned = set()
        self.shared = aliases.shared_updates(parsed.node, parsed.resolve)  # x += e where another name holds x's
        self.parameter_updates = {}  # in an inlined function: updates of an object its caller holds
        self.inlined = False  # an inlined function: its parameters hold its caller's objects
        self.outside = {}  # user name -> the object from outside it holds (a global's, a caller's, a view)
        self.shared_updates = []  # (the variable updated, the problem if it is an array)
        self.roots = {}  # user name -> the version its object was bound to (x += e keeps the object)
        self.augmented = {}  # version made by x += e -> its root
        ControlFlow.__init__(self)
        Calls.__init__(self)

    def lowering_for(self, parsed):
        """A lowering of a function inlined here: it shares this one's names and problems."""
        return _callee(self, parsed)

    def function(self, has_aux: bool):
        self.has_aux = has_aux
        self.output = self.namer.fresh("out")
        body = self.parsed.node.body
        if not _ends_in_return(body):
            self.problem(self.parsed.node, "every path through the function must end in `return <value>`")
        self.changed_defaults()
        self.stmts = self.function_body(body)
        if self.problems:
            raise UnsupportedSyntaxError(self.problems)
        return self.stmts

    def changed_defaults(self):
        """``def f(x, buf=np.zeros(3)): buf[0] += x[0]``: Python keeps the change in the default for the
        next call (it accumulates), sct's copy does not: a problem at each such update."""
        fn = getattr(self.parsed, "fn", None)
        code = getattr(fn, "__code__", None)
        if code is None:
            return
        defaults = getattr(fn, "__defaults__", None) or ()
        names = code.co_varnames[: code.co_argcount]
        mutable = {
            n for n, d in zip(names[len(names) - len(defaults) :], defaults) if isinstance(d, np.ndarray | list | dict)
        }
        mutable |= {
            n for n, d in (getattr(fn, "__kwdefaults__", None) or {}).items() if isinstance(d, np.ndarray | list | dict)
        }
        if not mutable:
            return
        updates = aliases.parameter_updates(self.parsed.node)
        for node in gast.walk(self.parsed.node):
            param = updates.get(id(node))
            if param in mutable:
                self.problem(
                    node,
                    f"`{param}` defaults to an array (or list, dict) that this function changes in place: Python "
                    f"keeps the change for the next call, sct does not; default to None and make it inside: "
                    f"`{param} = np.zeros(...) if {param} is None else {param}.copy()`",
                )

    # ---- simple statements ---------------------------------------------------------
    def simple_statement(self, stmt):
        if id(stmt) in self.parameter_updates:
            self.caller_update(stmt, self.parameter_updates[id(stmt)])
        if id(stmt) in self.shared and not isinstance(getattr(stmt, "target", None), gast.Name):
            other = self.current.get(self.shared[id(stmt)][0])  # x[i] = v where another name holds x's array:
            if other is not None:  # a problem unless that name holds a number (a = x[0] of a vector: a copy)
                self.shared_updates.append((other, self.shared_problem(stmt)))
            else:
                self.problems.append(self.shared_problem(stmt))
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
            if id(stmt) in self.shared and root is not None:  # a problem if x (its root) is an array
                self.shared_updates.append((root, self.shared_problem(stmt)))
            load = _as_load(stmt.target)
            self.assign(stmt.target, gast.BinOp(left=load, op=stmt.op, right=stmt.value))
            if root is not None:
                self.roots[stmt.target.id] = root  # in Python, still the object bound before
                self.augmented[self.current[stmt.target.id]] = root
        elif isinstance(stmt, gast.Expr) and self.updater_at(stmt.value) is not None:
            self.update_at(stmt.value, self.updater_at(stmt.value))
        elif isinstance(stmt, gast.Expr) and self.is_append(stmt.value):
            items = stmt.value.func.value
            self.grow(items.id, self.expr(items), self.expr(stmt.value.args[0]))
        elif isinstance(stmt, gast.Expr):
            if not isinstance(stmt.value, gast.Constant):  # docstrings
                self.stmts.append(Effect(self.expr(stmt.value, keep_call=True), self.origin))
        elif isinstance(stmt, gast.Assert):
            self.assertion(stmt)
        elif isinstance(stmt, gast.Raise):
            self.raise_statement(stmt)
        elif isinstance(stmt, gast.FunctionDef):  # local defs without decorators are values (sct.frontend.parse)
            self.problem(stmt, f"the local `def {stmt.name}` is decorated; decorate a module-level function instead")
        elif not isinstance(stmt, gast.Pass):
            self.problem(stmt, f"`{type(stmt).__name__}` is not supported here")

    def assertion(self, stmt):
        """``assert test, msg`` as ``if not test: raise AssertionError(msg)``, the message made only then.

        Python drops asserts when run with ``-O``; so does sct then.
        """
        if not __debug__:
            return
        origin = self.origin
        test = self.test(stmt.test)
        with self.collecting() as failed:
            args = [] if stmt.msg is None else [self.expr(stmt.msg)]
            error = gast.Call(func=name("AssertionError"), args=args, keywords=[])  # the builtin, as Python's
            failed.append(Effect(error, origin, raises=True))
        self.stmts.append(If(self.settled(test, failed), [], failed, origin))

    def raise_statement(self, stmt):
        """``raise E(...)``: kept in the forward sweep (the reverse sweep never runs after it)."""
        if stmt.exc is None:
            self.problem(
                stmt,
                "a bare `raise` re-raises the exception being handled, and sct has no "
                "`try`; raise an exception: `raise ValueError(...)`",
            )
            return
        if stmt.cause is not None:
            self.problem(stmt, "`raise ... from ...` is not supported; write `raise E(...)` without `from`")
            return
        self.stmts.append(Effect(self.expr(stmt.exc, keep_call=True), self.origin, raises=True))

    def return_value(self, value):
        """``out = value`` (and the aux output) for a ``return`` statement."""
        if self.returned_function(value):  # an inlined function returning a function (sct.frontend.functions)
            return
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
        if sum(isinstance(n, gast.Return) for n in statements([self.parsed.node])) == 1:  # out is bound once
            self.note_pack(self.output, self.stmts[-1])

    def assign(self, target, value):
        """Lower ``target = value``; returns an atom holding the value (for chains)."""
        if isinstance(target, gast.Name):
            return self.bind(target.id, value)
        if isinstance(target, gast.Tuple | gast.List):
            return self.unpack(target, value)
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            return self.set_item(target, value)
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Subscript):
            inner = ast.unparse(gast.gast_to_ast(target.value))
            self.problem(
                target,
                f"sct writes only into a named array (`x[i] = v`), not into `{inner}`: for an array index it "
                f"with one subscript (`a[i, j] = v`); for a list of arrays, take the item, write into it and "
                f"put it back: `item = {inner}.copy()`, `item[...] = v`, `{inner} = item`",
            )
            return value
        self.problem(target, "only names, tuples and `array[index]` can be assigned to")
        return value

    def bind(self, user_name: str, value):
        if isinstance(value, gast.Lambda) and (value.args.defaults or any(value.args.kw_defaults)):
            self.hold(user_name, self.held_function(value), value)  # its defaults evaluated here, as in Python
            return value
        if isinstance(value, gast.Lambda) or self.maker_of(value) is not None:
            self.hold(user_name, value, value)  # inlined where it is called (a lambda, or `sct.grad(g)`)
            return value
        held = self.held_function(value) if not isinstance(value, Lowered) else None
        if held is not None:
            self.hold(user_name, held, value)
            return value
        if isinstance(value, gast.Call) and not self.is_transform_call(value):  # it may return a function
            prim, flat, method = self.primitive(value)
            held = self.function_atoms.get(flat.id) if prim is None and isinstance(flat, gast.Name) else None
            if held is not None:
                self.hold(user_name, held, value)
                return value
            value = gast.copy_location(Computed(prim, flat, method), value)
        self.note_outside(user_name, value)
        base = self.local_name(user_name)
        if user_name in self.unversioned:
            version = base
        elif user_name in self.current:
            version = self.namer.version(base)
        else:
            version = base
        self.emit(version, value, overwrites=user_name in self.unversioned)
        copied_from = self.stmts[-1].value if self.stmts[-1].prim is None else None
        if isinstance(copied_from, gast.Name) and copied_from.id in self.objects and self.bindings.get(user_name) == 1:
            self.objects[version] = self.objects[copied_from.id]  # rng = np.random.default_rng(0)
        if user_name not in self.unversioned:  # bound once: what it holds is known here
            self.note_pack(version, self.stmts[-1])
        self.current[user_name] = version
        self.roots[user_name] = version
        if user_name in self.written and self.stmts[-1].prim not in _MAKES_NEW_ARRAY:
            self.copy_on_write(user_name)  # it may be the caller's array, or a view of one
        return name(self.current[user_name])

    def note_outside(self, user_name: str, value):
        """Remember that ``user_name`` now holds an object from outside the function (``W = BUF``,
        ``W = self.W`` in an inlined method, ``row = ROWS[0]``), or forget it."""
        root = value
        while isinstance(root, gast.Subscript | gast.Attribute):
            root = root.value
        found = None
        if isinstance(root, gast.Name):
            if root.id in self.outside:
                found = self.outside[root.id]
            elif root.id not in self.locals and (root.id in self.parsed.globals or root.id in self.parsed.closure):
                found = f"the global (or enclosing function's) `{root.id}`"
            elif self.inlined and root.id in self.params:
                found = f"its argument `{root.id}`, which the caller holds"
        if found is None:
            self.outside.pop(user_name, None)
        else:
            self.outside[user_name] = found

    def copy_on_write(self, user_name: str):
        """``x = copied(x)`` before writing into an array (or list) the function did not make."""
        if user_name in self.outside:
            fn = self.parsed.node.name
            self.problems.append(
                Problem(
                    self.parsed.described(
                        f"`{user_name}` holds {self.outside[user_name]} (or a part of it), and `{fn}` writes "
                        f"into it: Python changes that object for the caller and for later calls, sct would "
                        f"change a copy; write into a copy yourself (`{user_name} = {user_name}.copy()`), or "
                        "return the new value"
                    ),
                    self.origin,
                )
            )
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
        """``[elt for x in xs if c for y in ys]`` (or a generator expression consumed at once) as
        nested loops growing a list; returns the list's atom. Its variables are its own, as in Python."""

        if any(gen.is_async for gen in node.generators):
            self.problem(node, "`async for` in a comprehension is not supported; write a loop")
            return gast.Constant(value=None, kind=None)
        self.own_variables(node)
        result = self.namer.temp()
        self.locals.add(result)
        self.unversioned.add(result)
        self.bind(result, gast.List(elts=[], ctx=LOAD))
        body = [gast.Expr(value=_append_call(result, node.elt))]
        for gen in reversed(node.generators):
            for cond in reversed(gen.ifs):
                body = [gast.copy_location(gast.If(test=cond, body=body, orelse=[]), node)]
            body = [_fake_for(gen, body, node)]
        self.for_loop(body[0])
        return name(self.current[result])

    def own_variables(self, node):
        """Rename a comprehension's variables where the function uses the same names outside it.

        In Python a comprehension's ``for`` targets are local to it: ``[v * 3 for v in xs]``
        neither reads nor changes a ``v`` of the function. Renamed throughout the
        comprehension (its first iterable is evaluated outside, and keeps the outer name).
        """
        gens = node.generators
        scope = [node.elt, *(p for g in gens for p in (g.target, *g.ifs)), *(g.iter for g in gens[1:])]
        scope = [p for p in scope if isinstance(p, gast.AST)]
        inside = [n for p in scope for n in gast.walk(p) if isinstance(n, gast.Name)]
        everywhere = [n.id for n in gast.walk(self.parsed.node) if isinstance(n, gast.Name)]
        bound = sorted({n.id for g in gens for n in gast.walk(g.target) if isinstance(n, gast.Name)})
        for var in bound:
            if everywhere.count(var) <= sum(n.id == var for n in inside):
                continue  # used nowhere else: the name can stay
            new = self.namer.fresh(var)
            self.locals.add(new)
            self.unversioned.add(new)
            for n in inside:
                if n.id == var:
                    n.id = new

    def local_name(self, user_name: str) -> str:
        """The generated code's name for a local of this function (inlined callees rename theirs)."""
        return user_name

    def unpack(self, target, value):
        """``a, b = ...``: every right-hand side is evaluated before any name is bound, as in Python."""
        elts = target.elts
        starred = [k for k, t in enumerate(elts) if isinstance(t, gast.Starred)]
        if len(starred) > 1:
            self.problem(target, "only one starred target is allowed in an assignment")
            return value
        if self.is_vjp_call(value):  # out, vjp_fn = sct.vjp(f, x)
            return self.unpack_vjp(target, value)
        value = _literal(value)
        if isinstance(value, gast.Tuple | gast.List) and not starred and len(value.elts) == len(elts):
            atoms = [self.expr(v) for v in value.elts]  # all right-hand sides first
            atoms = [self.kept(a, target) for a in atoms]
            self.views_written_in_unpacking(elts, value.elts, atoms)
            for t, a in zip(elts, atoms):
                self.assign(t, Lowered(a))
            return value
        whole = self.kept(self.expr(value), target)
        count = len(elts)
        for i, t in enumerate(elts):
            if starred and i == starred[0]:  # first, *rest = xs: rest is a list of the middle items
                after = count - i - 1
                part = gast.Slice(lower=_index(i), upper=_index(-after) if after else None, step=None)
                middle = gast.Subscript(value=Lowered(whole), slice=part, ctx=LOAD)
                self.assign(t.value, gast.Call(func=name("list"), args=[middle], keywords=[]))
                continue
            index = _index(i if not starred or i < starred[0] else i - count)
            self.assign(t, gast.Subscript(value=Lowered(whole), slice=index, ctx=LOAD))
        return whole

    def views_written_in_unpacking(self, targets, items, atoms):
        """``B[0], B[1] = B[1] * w, B[0]``: the item ``B[0]`` is a view of ``B`` (for a matrix), which the
        write to ``B[0]`` changes before ``B[1]`` is set, so Python does not swap the rows. sct reads
        each item as a value: a problem unless that item is a number (``x[0], x[1] = x[1], x[0]`` of a
        vector swaps), decided once the ranks are known, as for other shared updates."""
        for j, target in enumerate(targets):
            if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)):
                continue
            base = target.value.id
            for i, item in enumerate(items):
                if i == j or not isinstance(atoms[i], gast.Name) or not _views(item, base):
                    continue
                shown = ast.unparse(gast.gast_to_ast(item))
                message = (
                    f"`{shown}` on the right is a view of `{base}` (for an array of two or more dimensions), "
                    f"and the same assignment writes into `{base}`, so NumPy changes what it assigns from "
                    f"`{shown}` (this does not swap): sct cannot follow that; copy it first "
                    f"(`{shown}.copy()`), or swap with one fancy index: `{base}[[0, 1]] = {base}[[1, 0]]`"
                )
                self.shared_updates.append((atoms[i].id, Problem(self.parsed.described(message), self.where(item))))

    def kept(self, atom, target):
        """``atom``, or a copy of it where binding ``target`` would overwrite it first (``x, y = y, x`` in a loop)."""
        if not isinstance(atom, gast.Name):
            return atom
        names = {n.id for n in gast.walk(target) if isinstance(n, gast.Name)}
        overwritten = {self.local_name(n) for n in names & self.unversioned}  # versioned names get a new version
        if atom.id not in overwritten:
            return atom
        temp = self.namer.temp()
        self.stmts.append(Assign(temp, atom, None, self.origin))
        return name(temp)

    def set_item(self, target, value):
        owner = target.value.id
        if owner not in self.locals and (owner in self.parsed.globals or owner in self.parsed.closure):
            self.problem(
                target,
                f"`{owner}` is a global (or a name of an enclosing function) that this function writes into "
                f"(`{owner}[i] = ...`): Python changes it for every later call, sct does not (its values would "
                "differ from the second call on); sct differentiates functions that change only their own "
                f"locals: write into a local copy (`{owner}_here = {owner}.copy()`), or keep the side effect "
                "out of the differentiated function",
            )
        array = self.atom(target.value)
        index, value = self.index(target.slice), self.expr(value)
        self.stmts.append(SetItem(array.id, index, value, self.where(target)))
        return value

    def updater_at(self, call):
        """``added_at`` for the statement ``np.add.at(a, index, v)`` (``subtracted_at`` for ``np.subtract.at``),
        else None (other ufuncs' ``.at`` are refused where the call is lowered: sct.frontend.expressions)."""
        if not isinstance(call, gast.Call) or aliases.at_target(call) is None or self.global_path(call.func) is None:
            return None
        fn = self.resolve(call.func)
        if getattr(fn, "__name__", None) != "at":
            return None
        return UPDATES_AT.get(getattr(fn, "__self__", None))

    def update_at(self, call, helper):
        """``np.add.at(a, index, v)``: ``a = added_at(a, index, v)``, a copy of ``a`` with NumPy's own update.

        Python changes ``a``'s array in place: as for ``a[index] = v``, that change must not be seen through
        another name (sct.frontend.aliases reports it), a global or an object from outside the function.
        """
        spelled = aliases.spelled_call(call.func)
        target = call.args[0] if call.args else None
        if len(call.args) != 3 or call.keywords or not isinstance(target, gast.Name):
            self.problem(
                call,
                f"sct follows `{spelled}(a, index, v)` written with three positional arguments, `a` the name of an "
                f"array (not an expression such as `x[0]`): give the array a name first (`a = ...`)",
            )
            return
        owner = target.id
        scope = self.enclosing_scope(owner) if owner not in self.locals else None
        if scope is not None:  # a local def's update of its maker's array: sct would rebind only its own name
            self.problem(
                call,
                f"`{owner}` is a variable of the function `{scope.parsed.node.name}` that this local function "
                f"changes in place with `{spelled}`; sct does not follow a change made inside a called function "
                f"(the value and gradient would be wrong): return the new array and assign it there "
                f"(`{owner} = {owner}.copy()`, `{spelled}({owner}, ...)`, `return {owner}`)",
            )
            return
        if owner not in self.locals:
            self.problem(
                call,
                f"`{owner}` is a global (or a name of an enclosing function) that `{spelled}` changes in place: "
                f"Python changes it for every later call, sct does not (its values would differ from the second "
                f"call on); sct differentiates functions that change only their own locals: update a local copy "
                f"(`{owner}_here = {owner}.copy()`), or keep the side effect out of the differentiated function",
            )
            return
        if owner in self.outside:
            fn = self.parsed.node.name
            self.problem(
                call,
                f"`{owner}` holds {self.outside[owner]} (or a part of it), and `{fn}` changes it in place with "
                f"`{spelled}`: Python changes that object for the caller and for later calls, sct would change a "
                f"copy; update a copy yourself (`{owner} = {owner}.copy()`), or return the new value",
            )
            return
        args = [self.expr(target), self.index(call.args[1]), self.value_atom(call.args[2])]
        updated = gast.Call(func=name(helper.__name__), args=args, keywords=[])
        self.bind(owner, gast.copy_location(Computed(helper, updated, False), call))

    def value_atom(self, node):
        """An atom for ``node``: a name or a constant (a list or tuple display becomes a container first)."""
        atom = self.expr(node)
        if isinstance(atom, gast.Tuple | gast.List):
            temp = self.namer.temp()
            self.emit(temp, Lowered(atom))
            return name(temp)
        return atom

    def caller_update(self, stmt, param: str):
        """``x[i] = v``, ``x += e`` or ``xs.append(v)`` on a parameter of an inlined function: the caller's
        object changes in Python, not in sct's lowering, so it is a problem (for ``x += e``, where ``x``
        may be an array: a number makes a new one)."""
        fn = self.parsed.node.name
        problem = Problem(
            self.parsed.described(
                f"`{fn}` changes its argument `{param}` in place, and the caller holds that object, so Python "
                f"changes it for the caller too; sct does not follow a change made inside a called function "
                f"(the value and gradient would be wrong): make `{fn}` return the new value and assign it in "
                f"the caller (`{param} = {param}.copy()` first in `{fn}`, or `{param} = {param} + ...`)"
            ),
            self.parsed.location(stmt),
        )
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            self.shared_updates.append((self.current.get(param, param), problem))
        else:
            self.problems.append(problem)

    def shared_problem(self, stmt) -> Problem:
        """The problem with ``x += e`` or ``x[i] = v`` where another name holds x's array (see sct.frontend.aliases)."""
        other, made = self.shared[id(stmt)]
        where = self.parsed.location(made)
        return Problem(aliases.describe(stmt, other, where.lineno if where else None), self.parsed.location(stmt))

    def problem(self, node, message: str):
        self.problems.append(Problem(self.parsed.described(message), self.parsed.location(node)))


UPDATES_AT = {np.add: added_at, np.subtract: subtracted_at}  # np.<ufunc>.at(a, index, v) -> a = helper(a, index, v)

_MAKES_NEW_ARRAY = {
    added_at,
    subtracted_at,
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


def parameter_names(args) -> list[str]:
    """Every parameter's name in order: positional-only, positional, ``*args``, keyword-only, ``**kwargs``."""
    found = [*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg]
    return [a.id for a in found if a is not None]


class _NameFacts:
    """What the lowering needs to know of a function's names, from one walk of it:

    ``used``: every name in it; ``stored``: :func:`_stores` of it (the names it assigns, and the lists it grows
    or pops); ``nested``: :func:`_nested_assignments`; ``bindings``: :func:`_binding_counts`; ``written``:
    :func:`_written_names`.
    """

    def __init__(self, fn_node):
        self.used, self.stored, self.nested, self.bindings, self.written = set(), set(), set(), {}, set()
        pending = [(fn_node, False)]  # (node, whether an if, for or while holds it)
        while pending:
            node, inside = pending.pop()
            inside = inside or isinstance(node, _COMPOUND)  # the loop's own target too, as _stores of it
            if isinstance(node, gast.Name):
                self.used.add(node.id)
            stored = _stored(node)
            if stored is not None:
                self.stored.add(stored)
                if inside:
                    self.nested.add(stored)
                if isinstance(node, gast.Name):
                    self.bindings[stored] = self.bindings.get(stored, 0) + 1
            self.written.update(_written_in(node))
            updated = aliases.at_target(node) if isinstance(node, gast.Call) else None
            if updated is not None and inside:  # np.add.at(h, i, v) in a loop: h = added_at(h, i, v) each trip
                self.nested.add(updated)
            for attr in child_fields(type(node)):
                value = getattr(node, attr, None)
                if type(value) is list:
                    pending += [(v, inside) for v in value if isinstance(v, gast.AST)]
                elif isinstance(value, gast.AST):
                    pending.append((value, inside))


def _stored(n):
    """The name ``n`` stores, as :func:`_stores` counts it (a name stored, or a list appended to or popped)."""
    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
        return n.id
    if (
        isinstance(n, gast.Call)
        and isinstance(n.func, gast.Attribute)
        and n.func.attr in ("append", "pop")
        and isinstance(n.func.value, gast.Name)
        and (n.func.attr == "pop" or len(n.args) == 1)  # np.append(x, v) is no list's append
    ):
        return n.func.value.id
    return None


def _written_in(node) -> list:
    """``x`` of a target ``x[i]`` of ``node`` (an assignment, a loop...), as :func:`_written_names` counts."""
    if isinstance(node, gast.Assign):
        targets = node.targets
    else:
        target = getattr(node, "target", None)
        if target is None:
            return []
        targets = [target]
    return [t.value.id for t in targets if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)]


def _written_names(fn_node) -> set:
    """Names of arrays written into: ``x[i] = v`` or ``x[i] += v``."""
    found = set()
    for node in nodes(fn_node):
        targets = node.targets if isinstance(node, gast.Assign) else [getattr(node, "target", None)]
        for t in targets:
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                found.add(t.value.id)
    return found


def _literal(value):
    """A tuple or list display, also when already lowered (its items then lowered atoms)."""
    if isinstance(value, Lowered) and isinstance(value.atom, gast.Tuple | gast.List):
        return type(value.atom)(elts=[Lowered(e) for e in value.atom.elts], ctx=LOAD)
    return value


def _index(i: int):
    return gast.Constant(value=i, kind=None) if i >= 0 else gast.UnaryOp(op=gast.USub(), operand=_index(-i))


def _append_call(list_name: str, item):
    func = gast.Attribute(value=name(list_name), attr="append", ctx=LOAD)
    return gast.Call(func=func, args=[item], keywords=[])


def _as_load(target):
    if isinstance(target, gast.Name):
        return gast.Name(id=target.id, ctx=LOAD, annotation=None, type_comment=None)
    return target


def _binding_counts(fn_node) -> dict:
    """How many times each name is bound (assigned, a loop or comprehension target) in the function."""
    counts = {}
    for n in nodes(fn_node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def _assigned_names(fn_node) -> set:
    return _stores(fn_node)


def _stores(node) -> set:
    """Names stored under ``node``: assignment targets and lists grown with ``.append``."""
    found = set()
    for n in nodes(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            found.add(n.id)
        elif (
            isinstance(n, gast.Call)
            and isinstance(n.func, gast.Attribute)
            and n.func.attr in ("append", "pop")
            and isinstance(n.func.value, gast.Name)
            and (n.func.attr == "pop" or len(n.args) == 1)  # np.append(x, v) is no list's append
        ):
            found.add(n.func.value.id)
    return found


_COMPOUND = (gast.If, gast.For, gast.While)


def _nested_assignments(fn_node) -> set:
    """Names assigned inside an if/for/while (they keep one name, values may be overwritten)."""
    found = set()
    for node in nodes(fn_node):
        if isinstance(node, _COMPOUND):
            found |= _stores(node)
    return found


def _views(item, base: str) -> bool:
    """Is ``item`` (as written) ``base`` itself or an item, slice or attribute of it (possibly a view)?"""
    while isinstance(item, gast.Subscript | gast.Attribute):
        item = item.value
    return isinstance(item, gast.Name) and item.id == base


def _ends_in_return(body) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, gast.Return | gast.Raise):  # a path that raises returns nothing
        return True
    if isinstance(last, gast.If):
        return _ends_in_return(last.body) and _ends_in_return(last.orelse)
    return False


def _callee(caller, parsed):
    """A lowering of an inlined function that shares the caller's names and problems."""

    class Callee(_Lowering):
        def __init__(self):
            _Lowering.__init__(self, parsed)
            self.namer = caller.namer
            self.namer.taken |= self.initial_names
            self.namespace = caller.namespace
            self.problems = caller.problems
            self.shared_updates = caller.shared_updates
            self.augmented = caller.augmented
            self.root = caller.root
            self.packs = caller.packs
            self.function_atoms = caller.function_atoms
            self.objects = caller.objects
            self.inlining = caller.inlining + [parsed.fn]
            self.current = {}
            self.renamed = {}
            self.reassigned = {
                n.id for n in gast.walk(parsed.node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
            }
            self.has_aux = False
            self.inlined = True
            self.outside = {}
            self.parameter_updates = aliases.parameter_updates(parsed.node)
            self.output = self.namer.temp()
            self.origin = caller.origin

        def local_name(self, user_name):
            if user_name not in self.locals:
                return user_name
            if user_name not in self.renamed:
                self.renamed[user_name] = self.namer.fresh(user_name)
            return self.renamed[user_name]

        def problem(self, node, message):
            self.problems.append(Problem(self.parsed.described(message), self.parsed.location(node)))

    return Callee()
