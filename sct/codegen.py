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
import types
import warnings
from dataclasses import dataclass, field

import gast
import numpy as np

from .runtime import HELPERS

_COMMENT = "__sct_comment__"
_COMMENT_LINE = re.compile(rf"^(\s*){_COMMENT}\((.*)\)$", re.M)
_counter = itertools.count()


def name(id_: str, store: bool = False) -> gast.Name:
    ctx = gast.Store() if store else gast.Load()
    return gast.Name(id=id_, ctx=ctx, annotation=None, type_comment=None)


def assign(target: str, value) -> gast.Assign:
    return gast.Assign(targets=[name(target, store=True)], value=value, type_comment=None)


def comment(text: str) -> gast.Expr:
    """A statement that unparses as ``# text``."""
    return gast.Expr(value=gast.Call(func=name(_COMMENT), args=[gast.Constant(value=text, kind=None)], keywords=[]))


def is_comment(stmt) -> bool:
    return (
        isinstance(stmt, gast.Expr)
        and isinstance(stmt.value, gast.Call)
        and isinstance(stmt.value.func, gast.Name)
        and stmt.value.func.id == _COMMENT
    )


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


class _SignedConstants(ast.NodeTransformer):
    """``Constant(-0.5)`` -> ``-(0.5)``: ``ast.unparse`` writes ``-0.5 ** 2`` for the former."""

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, int | float) and not isinstance(v, bool) and math.copysign(1, v) < 0:
            return ast.copy_location(ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-v)), node)
        return node


def unparse(node) -> str:
    tree = _SignedConstants().visit(gast.gast_to_ast(node))
    ast.fix_missing_locations(tree)
    text = ast.unparse(tree)
    return _COMMENT_LINE.sub(lambda m: f"{m.group(1)}# {ast.literal_eval(m.group(2))}", text)


@dataclass
class Source:
    """A generated function under construction: its tree and the objects it refers to."""

    namer: object
    fn: gast.FunctionDef | None = None
    helpers: dict = field(default_factory=dict)  # name in the code -> object
    defined: set = field(default_factory=set)  # adjoint/tangent names assigned so far

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
    frontend (:func:`sct.parse.parse`), so none of them reads it by this name.
    """
    return {n: getattr(builtins, n) for n in _BUILTIN_NAMES.intersection(user_globals)}


def namespace(user_globals: dict, helpers: dict) -> dict:
    """What generated code compiled against ``user_globals`` binds in its closure."""
    return {**BASE_NAMESPACE, **shadowed_builtins(user_globals), **helpers}


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


def compile_source(text: str, fn_name: str, user_globals: dict, helpers: dict, label: str):
    """Compile generated ``text`` defining ``fn_name``; returns the function.

    The function reads the user's module globals live (so a changed global
    constant is seen), and ``np``, ``math``, our helpers and the builtins the
    module shadows through a closure.
    """
    bound = namespace(user_globals, helpers)
    params = ", ".join(bound)
    header = f"def __sct_make__({params}):\n"
    body = "".join("    " + line + "\n" if line else "\n" for line in text.splitlines())
    module_text = header + body + f"    return {fn_name}\n"
    filename = f"<sct {label} #{next(_counter)}>"
    with _quiet():
        code = compile(module_text, filename, "exec")
    make_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    make = types.FunctionType(make_code, user_globals, "__sct_make__")
    lines = module_text.splitlines(keepends=True)
    linecache.cache[filename] = (len(module_text), None, lines, filename)
    return make(**bound)
