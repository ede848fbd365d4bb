"""Emission: gast -> ast -> source with ``ast.unparse``; compile with a linecache entry.

Generated functions are built as gast trees by the emitters. Comments cannot
live in an AST, so an emitter places a ``comment(text)`` marker statement and
``unparse`` turns it into ``# text``. ``compile_source`` compiles the text so
that tracebacks show generated lines, and binds the names the code uses:
the user's live module globals, and our helpers through a closure.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import contextlib
import functools
import itertools
import linecache
import math
import operator
import re
import sys
import threading
import types
import warnings
from dataclasses import dataclass, field

import gast
import numpy as np

from .helpers import HELPERS

_COMMENT = "__sct_comment__"
_COMMENT_LINE = re.compile(rf"^(\s*){_COMMENT}\((.*)\)$", re.M)
RELEASED = "__sct_released__"  # the last target of a ``del`` that sct.passes.liveness writes
_RELEASED_LINE = re.compile(rf", {RELEASED}$", re.M)
_counter = itertools.count()


def name(id_: str, store: bool = False) -> gast.Name:
    ctx = gast.Store() if store else gast.Load()
    return gast.Name(id=id_, ctx=ctx, annotation=None, type_comment=None)


def assign(target: str, value) -> gast.Assign:
    return gast.Assign(targets=[name(target, store=True)], value=value, type_comment=None)


def comment(text: str) -> gast.Expr:
    """A statement that unparses as ``# text``."""
    return gast.Expr(value=gast.Call(func=name(_COMMENT), args=[gast.Constant(value=text, kind=None)], keywords=[]))


def bodies_in(stmts):
    """The statement lists nested in ``stmts`` (the bodies of its ``if`` and loops, theirs, ...)."""
    pending = [s for s in stmts if isinstance(s, gast.If | gast.For | gast.While)]
    while pending:
        node = pending.pop()
        for block in (node.body, node.orelse):
            yield block
            pending += [s for s in block if isinstance(s, gast.If | gast.For | gast.While)]


def is_comment(stmt) -> bool:
    return (
        isinstance(stmt, gast.Expr)
        and isinstance(stmt.value, gast.Call)
        and isinstance(stmt.value.func, gast.Name)
        and stmt.value.func.id == _COMMENT
    )


def marker(body, text: str):
    """The position in ``body`` of the comment ``# text`` (``backward``: where the reverse sweep begins), or None."""
    return next((i for i, s in enumerate(body) if is_comment(s) and s.value.args[0].value == text), None)


def function_def(fn_name: str, params, body, defaults=None) -> gast.FunctionDef:
    defaults = defaults or {}
    args = [name(p, store=False) for p in params] + [name(p) for p in defaults]
    for a in args:
        a.ctx = gast.Param()
    arguments = gast.arguments(
        args=args,
        posonlyargs=[],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[gast.Constant(value=v, kind=None) for v in defaults.values()],
    )
    return gast.FunctionDef(
        name=fn_name,
        args=arguments,
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
        type_params=[],
    )


def nodes(node):
    """Every node under ``node`` (like ``gast.walk``, without its per-field overhead).

    Depth first, not in ``gast.walk``'s order. ``ctx`` markers (``Load()``,
    ``Store()``) are not visited: no pass looks at them as nodes, and they are a
    third of a function's tree.
    """
    stack = [node]
    pop, push, extend, known = stack.pop, stack.append, stack.extend, _FIELDS
    while stack:
        current = pop()
        fields = known.get(type(current))
        if fields is None:
            if not isinstance(current, gast.AST):  # a None in a list (dict keys)
                continue
            fields = child_fields(type(current))
        yield current
        for attr in fields:
            value = getattr(current, attr, None)
            if type(value) is list:
                extend(value)
            elif value is not None:
                push(value)


def statements(stmts):
    """Every statement in ``stmts`` and nested in them: the ``gast.stmt`` nodes :func:`nodes` finds, without
    visiting an expression (none holds a statement). In the bodies and branches of compound statements, the
    handlers of a ``try`` and the cases of a ``match``; depth first, not in ``gast.walk``'s order."""
    pending = list(stmts)
    pop, extend, known = pending.pop, pending.extend, _BLOCKS
    while pending:
        stmt = pop()
        yield stmt
        fields = known.get(type(stmt))
        if fields is None:
            fields = _block_fields(type(stmt))
        for attr in fields:
            for item in getattr(stmt, attr, None) or ():
                if isinstance(item, gast.stmt):
                    pending.append(item)
                else:  # an except handler, a match case: its body
                    extend(item.body)


_BLOCKS: dict = {}  # statement type -> its fields that hold statements, handlers or cases


def _block_fields(kind) -> tuple:
    _BLOCKS[kind] = tuple(f for f in kind._fields if f in ("body", "orelse", "finalbody", "handlers", "cases"))
    return _BLOCKS[kind]


_FIELDS: dict = {gast.Constant: ("",)}  # a Constant's value is a number or a string, never a node
_NOT_NODES = frozenset(
    {"ctx", "id", "attr", "arg", "kind", "type_comment", "is_async", "level", "module", "conversion"}
)


def child_fields(kind) -> tuple:
    """The fields of a gast node type that may hold nodes (not ``ctx``, names, flags)."""
    if kind not in _FIELDS:
        _FIELDS[kind] = tuple(f for f in kind._fields if f not in _NOT_NODES) or ("",)  # ("",): found next time
    return _FIELDS[kind]


class _SignedConstants(ast.NodeTransformer):
    """``Constant(-0.5)`` -> ``-(0.5)``: ``ast.unparse`` writes ``-0.5 ** 2`` for the former."""

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, int | float) and not isinstance(v, bool) and math.copysign(1, v) < 0:
            return ast.copy_location(ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-v)), node)
        return node


CHECK_WRITER = False  # tests: compare each text :func:`_text` writes with ``ast.unparse``'s


def unparse(node) -> str:
    if type(node) is gast.FunctionDef:
        try:
            text = _text(node)
        except _Slow:
            pass
        else:
            if CHECK_WRITER:
                assert text == ast.unparse(to_ast(node)), "the writer and ast.unparse differ"
            return _marked(text)
    return written(to_ast(node))


def written(tree) -> str:
    """The source of the ``ast`` tree ``to_ast`` made: markers written as comments."""
    return _marked(ast.unparse(tree))


def statements_text(stmts) -> str:
    """The source of the ``gast`` statements ``stmts`` (a module of them), markers written as comments."""
    try:
        if stmts and _is_docstring(stmts[0]):
            raise _Slow
        lines = []
        for stmt in stmts:
            _statement(stmt, "", lines)
        text = "\n".join(lines)
    except _Slow:
        return written(ast.Module(body=[to_ast(s) for s in stmts], type_ignores=[]))
    if CHECK_WRITER:
        assert text == ast.unparse(ast.Module(body=[to_ast(s) for s in stmts], type_ignores=[]))
    return _marked(text)


def _marked(text: str) -> str:
    text = _RELEASED_LINE.sub("  # not read again", text)
    return _COMMENT_LINE.sub(lambda m: f"{m.group(1)}# {_string(m.group(2))}", text)


# Writing the text of a generated function directly: the text ``ast.unparse`` writes for the ``ast`` tree
# ``to_ast`` makes, byte for byte, without making that tree. Generated functions are mostly one-operation
# lines (``v = np.sin(u)``, ``d = a * b``, ``del a, b``); the writer knows the function, ``if``, ``for``,
# ``while`` and the simple statements; an expression it does not know is written by ``ast.unparse`` alone
# (only where the expression stands in a place ``ast.unparse`` writes at its lowest precedence, where no
# parent's parentheses depend on it), and any other compound statement leaves the whole tree to
# ``ast.unparse`` (``_Slow``). ``CHECK_WRITER`` compares the two (tests/test_compile_stages3.py).


class _Slow(Exception):
    """A construct the writer leaves to ``ast.unparse`` with the whole tree."""


_BINOPS = {
    gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.MatMult: "@", gast.Div: "/", gast.Mod: "%",
    gast.LShift: "<<", gast.RShift: ">>", gast.BitOr: "|", gast.BitXor: "^", gast.BitAnd: "&",
    gast.FloorDiv: "//", gast.Pow: "**",
}  # fmt: skip


def _is_docstring(stmt) -> bool:
    return type(stmt) is gast.Expr and type(stmt.value) is gast.Constant and isinstance(stmt.value.value, str)


def _alone(node) -> str:
    """``node`` written by ``ast.unparse`` on its own."""
    return ast.unparse(to_ast(node))


def _atom(node):
    """The text of ``node`` where it is an operand (written at the highest precedence), or None."""
    kind = type(node)
    if kind is gast.Name:
        return node.id
    if kind is gast.Constant:
        v = node.value
        kind = type(v)
        if v is None or kind is bool or (kind is int and v >= 0):
            return repr(v)
        if kind is float and 0.0 <= v < math.inf and math.copysign(1, v) > 0:
            return repr(v)
        if kind is str and node.kind is None and v.isprintable() and "'" not in v and "\\" not in v:
            return f"'{v}'"  # ast.unparse's first choice of quote where nothing needs escaping
        return None
    if kind is gast.Attribute:
        inner = node.value
        if type(inner) is gast.Name:
            return f"{inner.id}.{node.attr}"
        text = _atom(inner)
        if text is None or type(inner) is gast.Constant:
            return None
        return f"{text}.{node.attr}"
    if kind is gast.Call:
        func = _atom(node.func)
        if func is None or type(node.func) is gast.Constant:
            return _alone(node)  # a call is never put in parentheses
        parts = [_expr(a) for a in node.args]
        for k in node.keywords:
            parts.append(f"{k.arg}={_expr(k.value)}" if k.arg is not None else f"**{_expr(k.value)}")
        return f"{func}({', '.join(parts)})"
    if kind is gast.Subscript:
        return _alone(node)  # never put in parentheses
    return None


def _expr(node) -> str:
    """The text of ``node`` where ``ast.unparse`` writes it at its lowest precedence (a value, an argument)."""
    text = _atom(node)
    if text is not None:
        return text
    kind = type(node)
    if kind is gast.BinOp:
        left, right = _atom(node.left), _atom(node.right)
        if left is not None and right is not None:
            return f"{left} {_BINOPS[type(node.op)]} {right}"
    elif kind is gast.UnaryOp and type(node.op) is gast.USub:
        operand = _atom(node.operand)
        if operand is not None and type(node.operand) is not gast.Constant:
            return f"-{operand}"
    return _alone(node)


def _text(fn) -> str:
    lines = []
    _statement(fn, "", lines)
    return "\n".join(lines)


def _statement(stmt, indent: str, lines: list) -> None:
    kind = type(stmt)
    if kind is gast.Assign:
        targets = stmt.targets
        if len(targets) == 1 and type(targets[0]) is gast.Name and stmt.type_comment is None:
            lines.append(f"{indent}{targets[0].id} = {_expr(stmt.value)}")
            return
    elif kind is gast.Expr:
        if type(stmt.value) is gast.Call:
            lines.append(indent + _atom(stmt.value))
            return
    elif kind is gast.AugAssign:
        lines.append(f"{indent}{_expr(stmt.target)} {_BINOPS[type(stmt.op)]}= {_expr(stmt.value)}")
        return
    elif kind is gast.Delete:
        lines.append(f"{indent}del {', '.join(map(_expr, stmt.targets))}")
        return
    elif kind is gast.Return:
        lines.append(f"{indent}return {_expr(stmt.value)}" if stmt.value is not None else f"{indent}return")
        return
    elif kind is gast.If:
        inner = indent + "    "
        lines.append(f"{indent}if {_expr(stmt.test)}:")
        _body(stmt.body, inner, lines)
        while len(stmt.orelse) == 1 and type(stmt.orelse[0]) is gast.If:
            stmt = stmt.orelse[0]
            lines.append(f"{indent}elif {_expr(stmt.test)}:")
            _body(stmt.body, inner, lines)
        _else(stmt.orelse, indent, lines)
        return
    elif kind is gast.For:
        if type(stmt.target) is not gast.Name or stmt.type_comment is not None:
            raise _Slow
        lines.append(f"{indent}for {stmt.target.id} in {_expr(stmt.iter)}:")
        _body(stmt.body, indent + "    ", lines)
        _else(stmt.orelse, indent, lines)
        return
    elif kind is gast.While:
        lines.append(f"{indent}while {_expr(stmt.test)}:")
        _body(stmt.body, indent + "    ", lines)
        _else(stmt.orelse, indent, lines)
        return
    elif kind is gast.FunctionDef:
        if stmt.decorator_list or stmt.returns is not None or stmt.type_comment is not None:
            raise _Slow
        if getattr(stmt, "type_params", None):
            raise _Slow
        if lines:  # ast.unparse puts an empty line before a function that is not the first thing written
            lines.append("")
        lines.append(f"{indent}def {stmt.name}({ast.unparse(_arguments(stmt.args))}):")
        if stmt.body and _is_docstring(stmt.body[0]):
            raise _Slow
        _body(stmt.body, indent + "    ", lines)
        return
    if hasattr(stmt, "body"):  # another compound statement
        raise _Slow
    lines.append(indent + _alone(stmt))


def _else(orelse, indent: str, lines: list) -> None:
    """The ``else:`` of an ``if``, ``for`` or ``while`` written at ``indent``, where it has one."""
    if orelse:
        lines.append(f"{indent}else:")
        _body(orelse, indent + "    ", lines)


def _body(stmts, indent: str, lines: list) -> None:
    for stmt in stmts:
        _statement(stmt, indent, lines)


def _string(literal: str) -> str:
    """The value of a string literal as ``ast.unparse`` writes one; without ``ast.literal_eval``'s parse
    (a compile per comment) where the literal is plain: one quote character around, none inside, no escapes."""
    quote = literal[:1]
    if quote in ("'", '"') and len(literal) >= 2 and literal[-1] == quote:
        inner = literal[1:-1]
        if quote not in inner and "\\" not in inner:
            return inner
    return ast.literal_eval(literal)


def to_ast(node):
    """The ``ast`` tree ``ast.unparse`` writes as ``node`` (a gast tree or a list of them) is written.

    What ``gast.gast_to_ast`` and then :class:`_SignedConstants` give, in one pass
    and without source positions (``ast.unparse`` reads only a statement's line): a ``gast`` node
    becomes the ``ast`` node of the same name with the fields ``ast`` has, but
    for parameters (``ast.arg``), handler names (strings) and negative constants.
    Generated functions are large, and gast's own converter was most of the time
    it took to write them out.
    """
    convert = _CONVERTERS.get(type(node))
    if convert is None:
        if not isinstance(node, gast.AST):
            return node
        convert = _converter(type(node))
    return convert(node)


def _converter(kind):
    """The function that converts a ``gast`` node of type ``kind`` (kept in ``_CONVERTERS``)."""
    convert = _SPECIAL.get(kind)
    if convert is None:
        target, fields = _AST_CLASSES.get(kind) or _ast_class(kind)
        statement = issubclass(target, ast.stmt)

        def convert(node):
            new = target(*[to_ast(getattr(node, f, None)) for f in fields])  # positional: set in C
            if statement:
                new.lineno = 1  # ast.unparse looks up type comments by line
            return new

    _CONVERTERS[kind] = convert
    return convert


_AST_CLASSES: dict = {}


def _ast_class(kind) -> tuple:
    target = getattr(ast, kind.__name__)
    _AST_CLASSES[kind] = (target, target._fields)
    return _AST_CLASSES[kind]


def _arg(node):
    if node is None:
        return None
    return ast.arg(arg=node.id, annotation=to_ast(node.annotation), type_comment=node.type_comment)


def _arguments(node):
    new = ast.arguments()
    for f in ast.arguments._fields:
        value = getattr(node, f, None)
        if f in ("posonlyargs", "args", "kwonlyargs"):
            value = [_arg(a) for a in value]
        elif f in ("vararg", "kwarg"):
            value = _arg(value)
        else:
            value = to_ast(value)
        setattr(new, f, value)
    return new


def _constant(node):
    v = node.value
    if isinstance(v, int | float) and not isinstance(v, bool) and math.copysign(1, v) < 0:  # see _SignedConstants
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-v))
    return ast.Constant(value=v, kind=node.kind)


def _handler(node):
    name_ = node.name.id if node.name is not None else None
    return ast.ExceptHandler(type=to_ast(node.type), name=name_, body=to_ast(node.body))


def _list(nodes_):
    return [to_ast(n) for n in nodes_]


def _same(value):
    return value


_CONVERTERS: dict = {list: _list, str: _same, int: _same, float: _same, bool: _same, type(None): _same}
_CONTEXTS = {gast.Load: ast.Load(), gast.Store: ast.Store(), gast.Del: ast.Del(), gast.Param: ast.Load()}
_SPECIAL = {
    gast.Name: lambda node: ast.Name(id=node.id, ctx=_CONTEXTS[type(node.ctx)]),
    gast.arguments: _arguments,
    gast.Constant: _constant,
    gast.ExceptHandler: _handler,
}


@dataclass
class Source:
    """A generated function under construction: its tree and the objects it refers to."""

    namer: object
    fn: gast.FunctionDef | None = None
    helpers: dict = field(default_factory=dict)  # name in the code -> object
    defined: set = field(default_factory=set)  # adjoint/tangent names assigned so far
    adjoint_of: dict = field(default_factory=dict)  # delta_v -> v, in a reverse sweep

    def use(self, obj, base: str) -> str:
        """Bind ``obj`` (a user's rule) under a fresh name the generated code can call."""
        for known, value in self.helpers.items():
            if value is obj:
                return known
        known = self.namer.fresh(re.sub(r"\W", "_", base))
        self.helpers[known] = obj
        return known

    def unparse(self, node=None) -> str:
        return unparse(self.fn if node is None else node)


BASE_NAMESPACE = {"np": np, "math": math, **HELPERS}
_BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("__"))


def shadowed_builtins(user_globals: dict) -> dict:
    """The builtins the user's module binds to something else, as the builtins.

    Generated code may call builtins the user never wrote (``range(len(xs))``,
    ``float(...)``); bound in its closure they mean the builtins whatever the
    module binds. The user's own uses of such a global were renamed by the
    frontend (:func:`sct.frontend.parse.parse`), so none of them reads it by this name.
    """
    found = {}
    for n in _BUILTIN_NAMES.intersection(user_globals):
        value = getattr(builtins, n, _GONE)  # IPython adds get_ipython to builtins only while a cell runs
        if value is not _GONE:
            found[n] = value
    return found


_GONE = object()


def namespace(user_globals: dict, helpers: dict) -> dict:
    """What generated code compiled against ``user_globals`` binds in its closure."""
    return {**BASE_NAMESPACE, **optional_libraries(), **shadowed_builtins(user_globals), **helpers}


def optional_libraries() -> dict:
    """``scipy``, once the user's code imported it: the rules of SciPy's functions spell their
    derivatives ``scipy.special.digamma(x)`` whatever name the user imported the function by."""
    scipy = sys.modules.get("scipy")
    return {} if scipy is None else {"scipy": scipy}


_FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, f).compiler_flag for f in __future__.all_feature_names)
)


def compile_unrun(text: str, like) -> types.CodeType:
    """Compile (never run) ``text`` as the module of code object ``like`` was: to compare the two."""
    with _quiet():
        return compile(text, like.co_filename, "exec", flags=like.co_flags & _FUTURE_FLAGS, dont_inherit=True)


@contextlib.contextmanager
def _quiet():
    """Compile generated code without a SyntaxWarning: it can only repeat one Python already gave the
    user for their own source (``y[0]`` of ``y = 1.0`` becomes ``1.0[0]``, ``x is 1.0``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        yield


def compile_source(text: str, fn_name: str, user_globals: dict, helpers: dict, label: str, code=None, bound=None):
    """Compile generated ``text`` defining ``fn_name``; returns the function.

    The function reads the user's module globals live (so a changed global
    constant is seen), and ``np``, ``math``, our helpers and the builtins the
    module shadows through a closure. ``code``: ``(code object, parameter
    names)`` as an earlier compile of the same text made it (:mod:`sct.backend.cache`),
    used where it binds the same names. ``bound``: the closure's names, as
    :func:`namespace` gave them earlier (:class:`Deferred`). The function's
    ``__sct_compiled__`` says how it was made, for the cache.
    """
    bound = namespace(user_globals, helpers) if bound is None else bound
    if len(text) < _SCANNED:  # a name the code never reads needs no cell: each costs ~1.3 us to make
        words = set(_WORD.findall(text))  # every name the code may read (and more: attributes, comments)
        bound = {k: v for k, v in bound.items() if k in words}
    header = f"def __sct_make__({', '.join(bound)}):\n"
    body = "".join("    " + line + "\n" if line else "\n" for line in text.splitlines())
    module_text = header + body + f"    return {fn_name}\n"
    filename = register(module_text, label)
    if code is not None and tuple(code[1]) == tuple(bound):
        code = _renamed(code[0], filename)
    else:
        with _quiet():
            code = compile(module_text, filename, "exec")
    make_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    make = types.FunctionType(make_code, user_globals, "__sct_make__")
    function = make(**bound)
    function.__sct_compiled__ = (text, fn_name, label, dict(helpers), code, tuple(bound))
    return function


_WORD = re.compile(r"\w+")
_SCANNED = 6000  # longer texts take longer to scan (~33 ns a character) than all ~160 cells to make


class Deferred:
    """A generated function compiled on its first call: what :func:`compile_source` would have made of
    ``node`` now, made later (the same text, the same names bound in its closure).

    The NumPy-scalar fallback of a variant on Python floats (:func:`sct.pipeline._unbox`) runs
    only where Python's float arithmetic raises, which most processes never see: writing and
    compiling it at once was a sixth of a scalar function's first call. ``text`` is its
    source; ``function()`` the compiled function; calling it calls that.
    """

    def __init__(self, node, fn_name: str, user_globals: dict, helpers: dict, label: str, text: str | None = None):
        self._tree = to_ast(node) if text is None else None  # a copy: ``node`` may change after this
        self._text = text
        self.fn_name, self.user_globals, self.helpers, self.label = fn_name, user_globals, dict(helpers), label
        self._bound = namespace(user_globals, self.helpers)  # as compile_source would bind them now
        self._function = None
        self._lock = threading.Lock()

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = written(self._tree)
            self._tree = None
        return self._text

    def function(self):
        with self._lock:
            if self._function is None:
                self._function = compile_source(
                    self.text, self.fn_name, self.user_globals, self.helpers, self.label, bound=self._bound
                )
        return self._function

    def __call__(self, *args, **kwargs):
        return (self._function or self.function())(*args, **kwargs)

    def __repr__(self) -> str:
        state = "compiled" if self._function is not None else "not compiled yet"
        return f"<sct.backend.codegen.Deferred {self.fn_name} ({state})>"


def register(text: str, label: str) -> str:
    """A new file name ``<sct LABEL #N>`` for generated ``text``, with its lines in :mod:`linecache`.

    Every piece of generated code sct compiles gets a name of its own (the counter
    is the process's, whatever the label), so a traceback or a warning shows the
    line of the code that ran, and sct reading a generated function's source
    again (:mod:`sct.higher`) reads that function's.
    """
    filename = f"<sct {label} #{next(_counter)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    return filename


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    """``code`` and the code objects in it, as if compiled from ``filename``."""
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)
