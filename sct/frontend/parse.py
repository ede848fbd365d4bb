"""Frontend: a live Python function -> its gast tree, with every name resolved.

``parse(fn)`` reads the source with :mod:`inspect`, dedents it, parses it with
gast, strips decorators, and records where each line came from so every later
error can point at ``file:line:col`` in the user's file. ``check_supported``
walks the tree once and reports *all* constructs sct cannot handle in one
:class:`~sct.errors.UnsupportedSyntaxError`.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import inspect
import linecache
import re
import sys
import textwrap
import types
from dataclasses import dataclass, field

import gast

from ..backend.codegen import BASE_NAMESPACE, child_fields, compile_unrun, nodes
from ..errors import Location, Problem, SourceUnavailableError, UnsupportedSyntaxError
from . import blocks


@dataclass
class Parsed:
    fn: object
    node: gast.FunctionDef
    filename: str
    first_lineno: int  # file line of the tree's line 1
    indent: int  # columns removed by dedent
    lines: list[str]  # the dedented source lines
    globals: dict
    closure: dict
    renamed: dict = field(default_factory=dict)  # a name in the tree -> the user's (see _rename_own_names)

    def location(self, node) -> Location:
        lineno = getattr(node, "lineno", 1) or 1
        col = getattr(node, "col_offset", 0) or 0
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        return Location(self.filename, lineno + self.first_lineno - 1, col + self.indent, line)

    def described(self, message: str) -> str:
        """``message`` with the user's own spelling of the names sct renamed: `len`, not `len_`."""
        for new, old in self.renamed.items():
            message = message.replace(f"`{new}`", f"`{old}`")
        return message

    def resolve(self, name: str):
        """The object a free name of the function refers to; KeyError if none."""
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        return getattr(builtins, name)


_DEF = re.compile(r"^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@)")


def _source_lines(code, fn) -> tuple[list, int]:
    """``inspect.getsourcelines(code)``, without its search of every loaded module for the file's
    (``inspect.getmodule``: a third of the seed function's first call); the same lines and line number."""
    filename = code.co_filename
    if not (filename.startswith("<") and filename.endswith(">")):
        linecache.checkcache(filename)
    lines = linecache.getlines(filename, getattr(fn, "__globals__", None))
    start = code.co_firstlineno - 1
    if not lines or start >= len(lines):
        return inspect.getsourcelines(code)  # its errors and its search, where the cache has nothing
    while start > 0 and not _DEF.match(lines[start]):
        start -= 1
    length = blocks.block_length(lines[start:]) if blocks.USED else None  # tokenize is slow to start
    if length is None:
        return inspect.getblock(lines[start:]), start + 1
    return lines[start : start + length], start + 1


def parse(fn) -> Parsed:
    fn = unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        raise SourceUnavailableError(
            f"{fn!r} is not a Python function (builtins and C extensions have no source); "
            "register a rule for it with sct.defvjp instead"
        )
    try:
        lines, first_lineno = _source_lines(code, fn)  # fn's own, not what __wrapped__ points at
    except (OSError, TypeError) as exc:
        name = code.co_filename
        where = (
            "typed at a plain `python` prompt"
            if name == "<stdin>"
            else f"made by exec or eval ({name})"
            if name.startswith("<")
            else f"loaded from {name}, which cannot be read now"
        )
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__} ({exc}): it was {where}, and Python keeps no source "
            "text there (the plain REPL, `python -`, exec), while sct differentiates source; define it in a file "
            "and import it, or use IPython or Jupyter, whose cells keep their source"
        ) from None
    source = "".join(lines)
    dedented = textwrap.dedent(source)
    indent = _indent(lines[0]) - _indent(dedented.splitlines()[0] + "\n")
    node = _find_function(dedented, fn, code)
    if not _runs(dedented, code):
        raise SourceUnavailableError(
            f"the source of {fn.__qualname__} in {code.co_filename} is not the code Python runs: the file "
            "changed after it was imported; reload the module (importlib.reload) or restart Python"
        )
    closure = {}
    if fn.__closure__:
        for name, cell in zip(code.co_freevars, fn.__closure__):
            with contextlib.suppress(ValueError):  # an empty cell: not bound yet
                closure[name] = cell.cell_contents
    parsed = Parsed(
        fn=fn,
        node=node,
        filename=code.co_filename,
        first_lineno=max(first_lineno, 1),
        indent=indent,
        lines=dedented.splitlines(),
        globals=fn.__globals__,
        closure=closure,
    )
    _rename_own_names(parsed)
    hoist_local_functions(node.body)
    return parsed


# ---- local functions -------------------------------------------------------------------------
class LocalDef(gast.expr):
    """A ``def`` inside the function, as the value its name is bound to: ``h = LocalDef(def h...)``.

    Python binds a local ``def``'s name when the statement runs, to a function that reads
    the enclosing variables when it is *called*. The lowering inlines its body at each
    call (:mod:`sct.frontend.functions`); hiding the body from the enclosing function's node
    walks keeps its parameters, locals and ``return`` statements its own.
    """

    _fields = ()

    def __init__(self, node):
        super().__init__()
        self.node = node


def hoist_local_functions(body) -> None:
    """Replace each ``def h(...)`` statement of ``body`` (and of its blocks) by ``h = LocalDef(...)``."""
    for k, stmt in enumerate(body):
        if isinstance(stmt, gast.FunctionDef) and not stmt.decorator_list:
            hoist_local_functions(stmt.body)
            target = gast.Name(id=stmt.name, ctx=gast.Store(), annotation=None, type_comment=None)
            value = gast.copy_location(LocalDef(stmt), stmt)
            body[k] = gast.copy_location(gast.Assign(targets=[target], value=value, type_comment=None), stmt)
        elif isinstance(stmt, gast.If | gast.For | gast.While):
            hoist_local_functions(stmt.body)
            hoist_local_functions(stmt.orelse)


# ---- names the generated code uses for itself --------------------------------------------
# Generated code calls builtins the user did not write (``range(len(xs))`` for ``for v in xs``,
# ``float(...)``, ``zip``, ``reversed``...), NumPy as ``np`` and sct's helpers, and binds them
# in its closure. So a name of the user's that means something else under one of these
# spellings (a local ``len``, a module global ``len = lambda v: 1``, ``float = np.float32``)
# is renamed, consistently throughout the function, to a fresh name; a renamed global is
# bound under its new name (as a closure value). Where nothing is shadowed nothing changes.
@functools.cache
def _own_names() -> dict:
    """Each name the generated code may use for itself -> what it means there."""

    # ``_`` is no builtin: the REPL and doctest bind it (to the last result) in the builtins
    # module, and the generated code never reads it, so a user's ``_`` keeps its name everywhere.
    own = {n: getattr(builtins, n) for n in dir(builtins) if not n.startswith("_")}
    return {**own, **BASE_NAMESPACE}


def _rename_own_names(parsed: Parsed) -> None:
    own_names = _own_names()
    node = parsed.node
    names = [n for n in nodes(node) if isinstance(n, gast.Name)]
    used = {n.id for n in names}
    clashes = used & own_names.keys()
    if not clashes:
        return
    bound = {n.id for n in names if not isinstance(n.ctx, gast.Load)}
    missing = object()
    renames, taken = {}, used | own_names.keys() | set(parsed.globals) | set(parsed.closure)
    for own in sorted(clashes):
        try:
            value = parsed.resolve(own)
        except AttributeError:
            value = missing
        if own not in bound and value is own_names[own]:
            continue  # the builtin (or numpy) itself: the generated code means the same
        new, i = f"{own}_", 0
        while new in taken:
            i += 1
            new = f"{own}_{i}"
        taken.add(new)
        renames[own] = new
        parsed.renamed[new] = own
        if value is not missing:  # what the name means where the function does not bind it
            parsed.closure[new] = value
    for n in names:
        if n.id in renames:
            n.id = renames[n.id]


def unwrap(fn):
    """The function whose source sct reads for ``fn``; a decorator's wrapper is refused.

    Only wrappers that call the function they wrap unchanged are seen through:
    sct's own objects (gradients, custom rules) and ``functools`` caches. A
    ``functools.wraps`` decorator's wrapper may scale, clip or change the
    arguments, and a call runs it: with plain parameters it is what sct
    differentiates (it calls the wrapped function); with ``*args``/``**kwargs``
    it is refused, as differentiating the undecorated body (what
    ``__wrapped__`` points at) could give a wrong gradient.
    """
    while hasattr(fn, "__wrapped__"):
        if is_plain_wrapper(fn):  # def wrapper(x, y): sct reads the wrapper, which calls fn
            return fn
        if not _transparent(fn):
            raise _decorated(fn)
        fn = fn.__wrapped__
    return fn


def is_plain_wrapper(fn) -> bool:
    """A decorator's wrapper function with plain positional parameters, which sct can differentiate."""
    code = getattr(fn, "__code__", None)
    if not isinstance(fn, types.FunctionType) or code is None:
        return False
    return not code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) and not code.co_kwonlyargcount


def _transparent(wrapper) -> bool:
    if isinstance(wrapper, getattr(functools, "_lru_cache_wrapper", ())):  # functools.cache: runs fn itself
        return True
    module = type(wrapper).__module__ or ""
    return not isinstance(wrapper, types.FunctionType) and (module == "sct" or module.startswith("sct."))


def _decorated(wrapper) -> UnsupportedSyntaxError:
    inner = inspect.unwrap(wrapper)
    own_code = getattr(wrapper, "__code__", None)  # the wrapper's own; __qualname__ was copied from fn
    qualname = getattr(own_code, "co_qualname", None) or getattr(own_code, "co_name", type(wrapper).__qualname__)
    decorator = qualname.split(".<locals>.")[0] if ".<locals>." in qualname else qualname
    name = getattr(inner, "__name__", "the function")
    code = getattr(inner, "__code__", None)
    location = None
    if code is not None:
        line = linecache.getline(code.co_filename, code.co_firstlineno)
        location = Location(code.co_filename, code.co_firstlineno, _indent(line), line.rstrip("\n"))
    how = "takes *args/**kwargs" if isinstance(wrapper, types.FunctionType) else "is not a plain function"
    message = (
        f"{name} is wrapped by the decorator `{decorator}` (it sets __wrapped__, as functools.wraps does); "
        f"a call runs its wrapper, which {how}, so sct cannot differentiate it, and the undecorated body "
        f"may compute something else: differentiate the undecorated function, sct.grad({name}.__wrapped__), "
        "or give the wrapper plain positional parameters"
    )
    return UnsupportedSyntaxError([Problem(message, location)])


# ---- the source read is the code that runs ------------------------------------------------
# inspect reads a function's source from its file as it is now; if the file was edited after
# the import, that is not what Python runs. The source read is compiled again (not run) and what
# does not depend on where the function is defined (every name it uses, every constant after
# Python's folding, the lines that hold code) is compared with the live code object.


def _runs(source: str, code) -> bool:
    """Whether the function ``code`` (what Python runs) is compiled from ``source`` (what sct read)."""

    for text in (source, "(" + source.strip().rstrip(",") + ")"):  # a lambda's line may be a fragment
        try:
            module = compile_unrun(text, code)
            break
        except (SyntaxError, ValueError):  # `nonlocal y` outside its function...: nothing to compare
            continue
    else:
        return True
    found, target = [module], _fingerprint(code)
    rewritten = any(n.startswith("@py") for n in target[0])  # pytest rewrote the asserts of a test module
    while found:
        c = found.pop()
        if c.co_name != code.co_name or c.co_argcount != code.co_argcount:
            pass
        elif _fingerprint(c) == target or rewritten and _rewritten_from(_fingerprint(c), target):
            return True
        found += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return False


def _rewritten_from(plain: tuple, rewritten: tuple) -> bool:
    """Whether pytest's assert rewriting of ``plain`` can give ``rewritten``: it only adds names and
    constants (the helpers that explain a failure), on the same lines."""
    return plain[0] <= rewritten[0] and plain[1] <= rewritten[1] and plain[2] == rewritten[2]


def _fingerprint(code) -> tuple:
    """The names, constants and lines (from the first) of ``code`` and the code nested in it.

    None of these depends on where the function is defined (a closure reads ``k``
    from a cell, a module function as a global: the same name either way).
    """
    names, consts, lines, nested = set(), set(), set(), [code]
    while nested:
        c = nested.pop()
        names.update(c.co_names, c.co_varnames, c.co_freevars, c.co_cellvars)
        lines.update(line - code.co_firstlineno for _, _, line in c.co_lines() if line is not None)
        inner = [k for k in c.co_consts if isinstance(k, types.CodeType)]
        nested += inner
        labels = {k.co_name for k in inner}  # 3.10 keeps nested functions' qualified names as constants
        for k in c.co_consts:
            if k is None or isinstance(k, types.CodeType):
                continue
            if isinstance(k, str) and any(k == n or k.endswith("." + n) for n in labels):
                continue
            consts.add((type(k), repr(k)))
    names = frozenset(n for n in names if "__" not in n)  # not __class__, nor names mangled in a class
    return names, frozenset(consts), frozenset(lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _find_function(source: str, fn, code) -> gast.FunctionDef:
    tree = _parse_fragment(source, fn)
    if code.co_name == "<lambda>":
        return _lambda_as_def(tree, code, fn)
    for node in gast.walk(tree):
        if isinstance(node, gast.FunctionDef | gast.AsyncFunctionDef) and node.name == code.co_name:
            node.decorator_list = []
            return node  # an `async def` is reported by check_supported, with its location
    raise SourceUnavailableError(f"cannot find the definition of {fn.__qualname__} in its source")


def _parse_fragment(source: str, fn):
    """Parse a function's source; a lambda's line may be a fragment of a larger expression."""
    for text in (source, "(" + source.strip().rstrip(",") + ")"):
        try:
            return to_gast(ast.parse(text)) if _OWN_CONVERSION else gast.parse(text)
        except SyntaxError:
            pass
    raise SourceUnavailableError(f"cannot parse the source of {fn.__qualname__}; define it with `def` in a file")


# ``gast.parse`` is ``ast.parse`` and gast's conversion, a ``NodeTransformer`` that looks up a visitor and builds
# a dictionary of fields per node: most of the time parsing took. ``to_gast`` gives the same tree (the same
# types, fields and positions: tests/test_compile_stages3.py compares them on sct's own source) in one
# recursive pass, as gast 0.7 converts on Python 3.10 and 3.11; elsewhere gast converts.
_OWN_CONVERSION = sys.version_info[:2] in ((3, 10), (3, 11)) and getattr(gast, "__version__", "") == "0.7.0"


def to_gast(node):
    """The ``gast`` tree ``gast.ast_to_gast`` makes of the ``ast`` tree ``node``."""
    convert = _TO_GAST.get(type(node))
    if convert is None:
        if not isinstance(node, ast.AST):
            return node
        convert = _to_gast_converter(type(node))
    return convert(node)


def _to_gast_list(items):
    return [to_gast(item) for item in items]


def _located(new, node):
    """``ast.copy_location``: the positions of a parsed node (all four are there)."""
    new.lineno, new.col_offset = node.lineno, node.col_offset
    new.end_lineno, new.end_col_offset = node.end_lineno, node.end_col_offset
    return new


def _to_gast_converter(kind):
    _TO_GAST[kind] = _generic_to_gast(kind)
    return _TO_GAST[kind]


_ABSENT = object()


def _generic_to_gast(kind):
    """gast's ``generic_visit`` for the ``ast`` type ``kind``: the gast node of the same name, its fields converted."""
    target = getattr(gast, kind.__name__, None)
    if target is None:  # not a gast node: gast drops it

        def convert(node):
            return None

    else:
        fields, attributes = kind._fields, kind._attributes

        def convert(node):
            new = target(**{f: to_gast(getattr(node, f)) for f in fields if hasattr(node, f)})
            for attr in attributes:
                value = getattr(node, attr, _ABSENT)
                if value is not _ABSENT:
                    setattr(new, attr, value)
            return new

    return convert


def _gast_name(node):
    new = gast.Name(node.id, to_gast(node.ctx), None, None)
    if hasattr(node, "end_col_offset"):
        return _located(new, node)
    return ast.copy_location(new, node)


def _gast_arg(node):
    new = gast.Name(node.arg, gast.Param(), to_gast(node.annotation), to_gast(node.type_comment))
    return ast.copy_location(new, node)


def _gast_handler(node):
    if not node.name:
        return _UNNAMED_HANDLER(node)
    new = gast.ExceptHandler(to_gast(node.type), gast.Name(node.name, gast.Store(), None, None), to_gast(node.body))
    return ast.copy_location(new, node)


def _gast_function(target):
    def convert(node):
        new = target(
            to_gast(node.name),
            to_gast(node.args),
            to_gast(node.body),
            to_gast(node.decorator_list),
            to_gast(node.returns),
            to_gast(node.type_comment),
            [],  # type_params
        )
        return ast.copy_location(new, node)

    return convert


def _gast_class(node):
    new = gast.ClassDef(
        to_gast(node.name),
        to_gast(node.bases),
        to_gast(node.keywords),
        to_gast(node.body),
        to_gast(node.decorator_list),
        [],  # type_params
    )
    return ast.copy_location(new, node)


_TO_GAST: dict = {
    list: _to_gast_list,
    ast.Name: _gast_name,
    ast.arg: _gast_arg,
    ast.FunctionDef: _gast_function(gast.FunctionDef),
    ast.AsyncFunctionDef: _gast_function(gast.AsyncFunctionDef),
    ast.ClassDef: _gast_class,
    ast.Load: lambda node: gast.Load(),
    ast.Store: lambda node: gast.Store(),
    ast.Del: lambda node: gast.Del(),
    ast.ExceptHandler: _gast_handler,
}
_UNNAMED_HANDLER = _generic_to_gast(ast.ExceptHandler)


def _lambda_as_def(tree, code, fn) -> gast.FunctionDef:
    params = list(code.co_varnames[: code.co_argcount])
    found = [n for n in gast.walk(tree) if isinstance(n, gast.Lambda) and [a.id for a in n.args.args] == params]
    if len(found) != 1:
        raise SourceUnavailableError(
            f"cannot tell which lambda on line {code.co_firstlineno} is {fn!r}; define it with `def` instead"
        )
    lam = found[0]
    ret = gast.Return(value=lam.body)
    gast.copy_location(ret, lam.body)
    node = gast.FunctionDef(
        name="lambda_",
        args=lam.args,
        body=[ret],
        decorator_list=[],
        returns=None,
        type_comment=None,
        type_params=[],
    )
    return gast.copy_location(node, lam)


# Node types the lowering understands, and what to write instead of the others.
_SUPPORTED = (
    gast.FunctionDef,
    LocalDef,
    gast.arguments,
    gast.Assign,
    gast.AugAssign,
    gast.AnnAssign,
    gast.Return,
    gast.If,
    gast.For,
    gast.While,
    gast.Break,
    gast.Continue,
    gast.IfExp,
    gast.Lambda,
    gast.ListComp,
    gast.GeneratorExp,  # only where it is consumed at once (sum, max, list...): the lowering checks
    gast.comprehension,
    gast.Assert,
    gast.Raise,
    gast.JoinedStr,
    gast.FormattedValue,
    gast.BoolOp,
    gast.boolop,
    gast.Expr,
    gast.Pass,
    gast.Name,
    gast.Constant,
    gast.Attribute,
    gast.Subscript,
    gast.Slice,
    gast.Tuple,
    gast.List,
    gast.Dict,
    gast.BinOp,
    gast.UnaryOp,
    gast.Compare,
    gast.Call,
    gast.keyword,
    gast.expr_context,
    gast.operator,
    gast.unaryop,
    gast.cmpop,
)
_INSTEAD = {
    gast.Try: "move the try/except outside the differentiated function",
    gast.With: "move the `with` block outside the differentiated function",
    gast.Global: "pass the value in as an argument",
    gast.Nonlocal: "pass the value in as an argument",
    gast.Yield: "return a list instead of yielding",
    gast.YieldFrom: "return a list instead of yielding",
    gast.ClassDef: "define the class outside the differentiated function",
    gast.AsyncFunctionDef: "differentiate a plain (non-async) function",
    gast.Await: "differentiate a plain (non-async) function",
    gast.Delete: "drop the `del`; sct frees temporaries itself",
    gast.Starred: "pass the arguments one by one",
}


def check_supported(parsed: Parsed, allowed=_SUPPORTED, helper=False) -> None:
    """Raise one UnsupportedSyntaxError listing every construct outside ``allowed``.

    ``helper``: a function inlined where it is called, whose call binds ``*args``,
    ``**kwargs``, keyword-only and positional-only parameters as Python does.
    """
    problems = []
    root = parsed.node
    for node, supported in _walk_body(root, parsed):
        if supported if allowed is _SUPPORTED else _allowed(parsed, node, allowed):
            continue
        problems.append(Problem(_unsupported_message(node), parsed.location(node)))
    args = root.args
    if (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs) and not helper:
        problems.insert(
            0,
            Problem(
                "*args, **kwargs, keyword-only and positional-only parameters are supported in the function "
                "sct.grad and sct.value_and_grad differentiate and in the functions it calls, not here; "
                "differentiate a function with plain positional parameters that calls it (lambda x, rest: f(x, *rest))",
                parsed.location(root),
            ),
        )
    if isinstance(root, gast.AsyncFunctionDef):
        problems.insert(0, Problem(_unsupported_message(root), parsed.location(root)))
    if problems:
        raise UnsupportedSyntaxError(problems)


def _walk_body(root, parsed):
    """Every node under ``root``'s body, not descending into what is already reported; each with whether it is
    supported (``_SUPPORTED``). In the order of ``gast.iter_child_nodes``, but for the ``ctx`` markers
    (``Load()``, ``Store()``): always supported, not visited."""
    stack = list(reversed(root.body))
    while stack:
        node = stack.pop()
        supported = _allowed(parsed, node, _SUPPORTED)
        yield node, supported
        if isinstance(node, gast.Call) and _transposing_zip(node):
            stack.extend([node.args[0].value, node.func])  # zip(*pairs): the starred operand is allowed there
        elif supported:
            stack.extend(reversed(_children(node)))


def _children(node) -> list:
    found = []
    for attr in child_fields(type(node)):
        value = getattr(node, attr, None)
        if type(value) is list:
            found += [v for v in value if isinstance(v, gast.AST)]
        elif isinstance(value, gast.AST):
            found.append(value)
    return found


def _allowed(parsed: Parsed, node, allowed) -> bool:
    if _starred_target(node):
        return True
    return isinstance(node, allowed) and not _bad_call(node) and not _unpacks_into_library(parsed, node)


def _starred_target(node) -> bool:
    """``first, *rest = xs``: a starred assignment target (lowered as a slice made a list); or ``f(*args)``.

    (Where a starred operand is not a call's argument, the lowering reports it.)
    """
    return isinstance(node, gast.Starred)


# Bitwise operators have no derivative and no rule; reported at the expression that uses them.
_BITWISE = {gast.LShift: "<<", gast.RShift: ">>", gast.BitOr: "|", gast.BitXor: "^", gast.BitAnd: "&"}
_BITWISE[gast.Invert] = "~"


def _bad_call(node) -> bool:
    """A supported node type used in an unsupported way: ``x << 1``, ``~x``.

    (``f(*args, **kw)`` is checked where it is lowered: only a call sct inlines can unpack.)
    """
    if isinstance(node, gast.BinOp | gast.UnaryOp | gast.AugAssign):
        return type(node.op) in _BITWISE
    return False


def _unpacks_into_library(parsed: Parsed, node) -> bool:
    """``np.add(*args)``, ``f(**kw)`` of a function sct does not inline: refused here, with the rest.

    (A call of the user's own function or of a local lambda is checked where it is lowered.)
    """
    if not isinstance(node, gast.Call) or _transposing_zip(node):
        return False
    if not any(isinstance(a, gast.Starred) for a in node.args) and all(k.arg is not None for k in node.keywords):
        return False
    path, func = [], node.func
    while isinstance(func, gast.Attribute):
        path.insert(0, func.attr)
        func = func.value
    if not isinstance(func, gast.Name):
        return True
    missing = object()
    value = parsed.closure.get(func.id, parsed.globals.get(func.id, missing))
    if value is missing:
        return bool(path)  # a local name: a lambda, inlined (its calls are checked as it is lowered)
    for attr in path:
        value = getattr(value, attr, missing)
    module = getattr(value, "__module__", "") or ""
    user = isinstance(value, types.FunctionType) and not module.startswith(("numpy", "sct.")) and module != "sct"
    return not user


def _transposing_zip(node) -> bool:
    """``zip(*pairs)``: transposing a sequence of sequences (a primitive of its own)."""
    return (
        isinstance(node.func, gast.Name)
        and node.func.id == "zip"
        and len(node.args) == 1
        and isinstance(node.args[0], gast.Starred)
        and not node.keywords
    )


def _unsupported_message(node) -> str:
    kind = type(node).__name__
    if isinstance(node, gast.BinOp | gast.UnaryOp | gast.AugAssign):
        return f"the bitwise operator `{_BITWISE[type(node.op)]}` is not supported; sct differentiates arithmetic"
    if isinstance(node, gast.Call):
        return (
            "only calls of your own functions (which sct inlines) can unpack *args or **kwargs; "
            "pass the arguments one by one"
        )
    instead = _INSTEAD.get(type(node), "rewrite it with the constructs listed in docs/supported.md")
    return f"`{kind}` is not supported by sct; {instead}"
