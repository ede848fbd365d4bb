"""``sct export``: a generated gradient as a standalone module that needs only NumPy.

The module holds, in this order: a docstring saying what it computes and where
from, ``import numpy as np`` (and ``math`` where used), the user's constants
and functions that the gradient code refers to, the source of the runtime
helpers it calls (``unbroadcast``, ...; with the helpers those call in turn),
the generated ``grad_f`` itself, and a convenience ``gradient`` that returns
the gradient alone. Nothing imports ``sct``.

Without ``args`` the module holds the generic variant (any argument shapes;
parameters annotated ``float``: any scalar). With ``args`` (``sct export
--args``) it holds the variant for arguments of their kinds (a Python float, a
2-d float array, ...): where shapes are known it needs no ``unbroadcast``, and
it raises ``TypeError`` for arguments of other kinds rather than compute with
them. Both take ``delta_out``, so neither has the Python-float conversions of
the code ``sct.grad`` runs (:mod:`sct.passes.unbox`), which hold only for a seed of 1.0.

Every free name of the generated code is resolved the way the compiled
function resolves it (sct's helpers and rules, then ``np``/``math`` and the
runtime helpers, then the user's module globals, then builtins) and written
out as source: modules as imports, simple values by ``repr``, small arrays as
``np.array([...])``, plain functions by their source text (whose own free
names are resolved in turn). Anything else is refused with a clear error.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import re
import textwrap
import types

import gast
import numpy as np

from . import api, pipeline
from .backend import codegen, namespaces, revolve, runtime_xp
from .backend.helpers import HELPERS
from .backend.native import POW, POW_IMPORTS, POW_NAME, inexact, numba_source
from .backend.variants import _FLOAT, _INT, ANY, _annotated_signature, describe_kind, header, with_header
from .errors import SctError
from .version import __version__

MAX_ARRAY = 1000  # elements; larger global arrays must be passed as arguments


class ExportError(SctError):
    """The gradient refers to something that cannot be written into a module."""


def export_source(
    fn, wrt=0, *, origin: str | None = None, command: str | None = None, args=None, xp: bool = False, numba=False
) -> str:
    """The text of a standalone module computing the gradient of ``fn`` by ``wrt``.

    ``args``: arguments whose kinds the module is specialised for (None: the generic variant).
    ``origin`` (``FILE.py:FUNC``) and ``command`` only go into the docstring. ``xp``: the module is
    generic in an array namespace, its module global ``xp`` (NumPy unless the user sets another,
    ``module.xp = array_api_compat.array_namespace(x)``): its calls are the array API's
    (:mod:`sct.backend.namespaces`), its helpers those of :mod:`sct.backend.runtime_xp`.
    ``numba``: the gradient compiled with ``@numba.njit`` (see :func:`_numba_signature`).
    """
    fn = fn.__wrapped__ if isinstance(fn, api._Differentiated) else fn
    positions, many = pipeline.resolve_wrt(fn, wrt)
    if numba and (xp or args is not None):
        raise ExportError("sct export --numba writes scalar code from the annotations: give it without --xp or --args")
    if numba:
        sig = _numba_signature(fn)
    elif args is None:
        # Right for any arguments, containers too: parameters not annotated float may be anything.
        sig = tuple(ANY if s is None else s for s in _annotated_signature(fn))
    else:
        sig = api.call_signature(fn, positions, tuple(args))
    portable = {"portable": True} if xp else {}  # generic in xp: no NumPy-only rewrites (np.trace)
    variant = pipeline.compiled(fn, positions, sig, many=many, **portable)
    kinds = None if args is None else _checked_kinds(fn, variant.params, sig)
    source = _shaped_seed(variant.source)
    source = with_header(source, header(variant.params, sig, generic=args is None and not numba))
    if kinds is not None:
        source = _argument_check(source, kinds)
    helpers = variant.helpers
    if xp:
        source, helpers = _generic(source, helpers)
    if numba:
        source = numba_source(source)
    tree = ast.parse(source)
    generated = tree.body[0]
    scopes = [helpers, codegen.BASE_NAMESPACE, codegen.shadowed_builtins(fn.__globals__), fn.__globals__]
    writer = _Writer(xp)
    names = free_names(tree)
    helpers_of_numba = []
    if numba:  # sct_pow: Python's float power in numba (sct.backend.native.POW), written out below
        helpers_of_numba = [POW.strip()] if POW_NAME in names else []
        names = [n for n in names if n != POW_NAME]
    writer.require(names, scopes, where=f"the gradient of {fn.__name__}")
    if numba:
        _numba_ready(fn, writer, source)
        writer.imports += [line for line in POW_IMPORTS if line not in writer.imports] if helpers_of_numba else []
        source = "@numba.njit\n" + source
    params = variant.params
    wrapper = _fresh("gradient", writer.names | {generated.name} | set(params))
    # `c=2.0`: called as f is, the module's functions take f's defaults (numba's compiled code: passed in)
    defaulted = list(params) if numba else _with_defaults(fn, params)
    if defaulted != params:
        head = f"def {generated.name}("
        source = source.replace(f"{head}{', '.join(params)}, ", f"{head}{', '.join(defaulted)}, ", 1)
    parts = [
        _docstring(fn, variant, generated.name, wrapper, origin, command, positions, many, sig, args is None),
        "\n".join(sorted(writer.imports, key=lambda line: "numpy" in line)),
        "\n".join(writer.values),
        *writer.functions,
        *helpers_of_numba,
        source,
        _wrapper(
            wrapper, generated.name, params, fn.__name__, [params[i] for i in positions], variant.scalar, defaulted
        ),
        _reference(fn, origin),
    ]
    if numba:
        parts[0] = parts[0].replace("needs only NumPy, not sct", "needs NumPy and numba, not sct")
    head, *rest = (p.strip("\n") for p in parts if p)
    text = head + "\n\n" + "\n\n\n".join(rest) + "\n"
    compile(text, "<sct export>", "exec")  # it is a valid module, or this is a bug in sct
    return text


# ---- a module for arguments of given kinds (--args) ------------------------------------------
def _checked_kinds(fn, params, sig) -> dict:
    """Parameter -> its kind, for the parameters the exported code must test (floats, ints, arrays).

    A variant for a container, a function or an object is refused: its code holds their structure
    (or inlines the function), which a test of the argument at run time cannot confirm cheaply.
    """
    kinds = {}
    for param, s in zip(params, sig):
        if s is None:  # a string, None: the code is generic in it
            continue
        if s == _FLOAT or len(s) == 2 and isinstance(s[0], int) and isinstance(s[1], str):
            kinds[param] = s
            continue
        raise ExportError(
            f"sct export --args: {param} of {fn.__name__} is {describe_kind(s)}; a module specialised by "
            "--args takes floats, integers and arrays only: export without --args for the generic module"
        )
    return kinds


def _argument_check(source: str, kinds: dict) -> str:
    """``source`` with a test, first thing, that its arguments have the kinds it was made for."""
    tests = []
    for param, s in kinds.items():
        if s == _FLOAT:
            tests.append(f"isinstance({param}, float)")
        elif s == _INT:  # a Python int (its kind is no dtype's: np.asarray(3).dtype.kind is 'i')
            tests.append(f"type({param}) is int")
        else:
            tests.append(f"np.ndim({param}) == {s[0]} and np.asarray({param}).dtype.kind == {s[1]!r}")
    expected = ", ".join(f"{p}: {describe_kind(s)}" for p, s in kinds.items())
    first, _, rest = source.partition("\n")
    name = first[len("def ") : first.index("(")]
    message = f"{name} was made for {expected} (sct export --args); export without --args for arguments of any kind"
    header_line, _, rest = rest.partition("\n")
    check = f"    if not ({' and '.join(tests)}):\n        raise TypeError({message!r})\n"
    return f"{first}\n{header_line}\n{check}{rest}"


def _numba_signature(fn) -> tuple:
    """``--numba``: the scalar code of parameters annotated ``float`` (Python floats) and ``int``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return ()
    kinds = {float: _FLOAT, "float": _FLOAT, int: (0, "i"), "int": (0, "i")}
    return tuple(kinds.get(p.annotation, ANY) for p in params)


def _numba_ready(fn, writer, source: str) -> None:
    """``--numba``: only NumPy and ``math`` around the gradient (numba compiles nothing else it calls),
    and nothing whose numba version computes other values than Python's (:func:`sct.backend.native.inexact`)."""

    writer.imports.append("import numba")
    annotate = "annotate the scalar parameters (x: float, n: int) so that sct writes scalar code"
    native = {n for n in revolve.NAMES if writer.bound.get(n) is HELPERS[n]}  # checkpoint=("revolve", s)'s schedule
    writer.functions = [f"@numba.njit\n{t}" if t.split("(")[0][4:] in native else t for t in writer.functions]
    others = sorted(n for n, v in writer.bound.items() if isinstance(v, types.FunctionType) and n not in native)
    if others:
        called = ", ".join(others)
        where = f"the gradient of {fn.__name__}"
        raise ExportError(f"--numba: {where} calls {called}, which numba cannot compile; {annotate}")
    for line_no, what, advice in inexact(source)[:1]:
        line = source.splitlines()[line_no - 1].strip()
        raise ExportError(
            f"--numba: the gradient of {fn.__name__} calls {what} (`{line}`), which sct does not run under numba: "
            f"numba's own version may round some results differently from Python's; {advice}, or {annotate}"
        )


def _shaped_seed(source: str) -> str:
    """Where the code indexes its seed (a size-1 array returned: ``delta_out[0]``), shape the default ``1.0``.

    The reverse sweep then starts with ``delta_out = delta_out * np.ones_like(out)``: a cotangent of the
    value's shape, as gradient objects seed it (``1.0[0]`` would fail).
    """
    fn = ast.parse(source).body[0]
    if not fn.args.defaults:
        return source
    seed = fn.args.args[-1].arg
    if not any(
        isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == seed for n in ast.walk(fn)
    ):
        return source
    value = fn.body[-1].value.elts[0] if isinstance(fn.body[-1].value, ast.Tuple) else None
    if not isinstance(value, ast.Name):
        return source
    lines = source.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == "# backward")
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, f"{indent}{seed} = {seed} * np.ones_like({value.id})\n")
    return "".join(lines)


# ---- free names ------------------------------------------------------------------------
def free_names(tree) -> list[str]:
    """Names a piece of code reads but never binds, in order of first use (scopes merged).

    >>> free_names(ast.parse("def f(x):\\n    y = np.sin(x) + k\\n    return g(y)"))
    ['np', 'k', 'g']
    """
    bound, used = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                used.setdefault(node.id, (node.lineno, node.col_offset))
            else:
                bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return [n for n, _ in sorted(used.items(), key=lambda kv: kv[1]) if n not in bound]


# ---- writing out what the code needs ----------------------------------------------------
def _generic(source: str, helpers: dict) -> tuple[str, dict]:
    """``source`` written against a module global ``xp`` (:func:`sct.namespaces.retarget`), and the helpers it binds."""

    commented = re.sub(r"^(\s*)# (.*)$", lambda m: f"{m[1]}{codegen._COMMENT}({m[2]!r})", source, flags=re.M)
    fn = gast.parse(commented).body[0]
    helpers = dict(helpers)
    name = namespaces.retarget(fn, helpers, None)
    if name != "xp":
        raise ExportError("the gradient uses the name 'xp' itself; rename it to export a module generic in xp")
    text = codegen.unparse(fn)
    return text, {**helpers, "xp": runtime_xp}  # xp: the module global, written as an import below


class _Writer:
    def __init__(self, xp: bool = False):
        self.bound = {}  # name -> the object written under it
        self.imports = ["import numpy as np"]
        self.bound["np"] = np
        self.generic = xp
        if xp:  # the namespace: NumPy (2.x implements the array API) until the user sets another
            self.imports.append("import numpy as xp  # the array namespace: set module.xp to another")

            self.bound["xp"] = runtime_xp
        self.values, self.functions = [], []

    @property
    def names(self) -> set:
        return set(self.bound)

    def require(self, names, scopes, where: str):
        for name in names:
            for scope in scopes:
                if name in scope:
                    self.define(name, scope[name], where)
                    break
            else:
                if not hasattr(builtins, name):
                    raise ExportError(f"{where} uses {name!r}, which is not defined anywhere")

    def define(self, name: str, obj, where: str):
        if name in self.bound:
            if name == "xp" and self.generic:  # the helpers' own global xp: the module's
                return
            if self.bound[name] is not obj:
                raise ExportError(f"{where} uses {name!r} for two different objects; rename one of them")
            return
        if obj is getattr(builtins, name, None):
            return
        if hasattr(builtins, name):  # bound in the module it would change what the generated code calls
            raise ExportError(
                f"{where} uses its own {name!r}, which shadows the builtin {name!r} that the exported "
                "code calls; rename it in your module and export again"
            )
        self.bound[name] = obj
        if isinstance(obj, types.ModuleType):
            self.imports.append(_import(name, obj, where))
        elif isinstance(obj, types.FunctionType):
            self.function(name, obj)
        elif isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == "sct.errors":
            self.functions.append(_error_class(name, obj))  # raised by a helper (nonzero_divisor): no sct needed
        else:
            self.values.append(f"{name} = {literal(obj, name, where)}")

    def function(self, name: str, fn):
        text, tree = function_source(fn)
        if fn.__name__ == "<lambda>":
            text = f"{name} = {text}"
        elif not fn.__name__.isidentifier():  # it would be written into the module as code
            raise ExportError(f"{fn.__qualname__!r} has the name {fn.__name__!r}, which is not an identifier")
        elif fn.__name__ != name and hasattr(builtins, fn.__name__):  # `def len`: written under ``name``
            if any(isinstance(n, ast.Name) and n.id == fn.__name__ for n in ast.walk(tree)):
                raise ExportError(f"{fn.__qualname__} calls itself by a builtin's name; rename it and export again")
            tree.body[0].name = name
            text = ast.unparse(tree) + "\n"
        elif fn.__name__ != name:  # written under its own name, then bound to the one used
            own = self.bound.setdefault(fn.__name__, fn)
            if own is not fn:
                raise ExportError(f"{fn.__qualname__} and another object are both called {fn.__name__!r}")
            text = f"{text}\n\n{name} = {fn.__name__}"
        self.functions.append(text)
        closure = {}
        if fn.__closure__:
            closure = {n: c.cell_contents for n, c in zip(fn.__code__.co_freevars, fn.__closure__)}
        self.require(free_names(tree), [closure, fn.__globals__], where=fn.__qualname__)


def _error_class(name: str, cls) -> str:
    """An error class of sct's that a helper raises, written as a class of the builtin error it extends."""
    base = next(c for c in cls.__mro__ if getattr(builtins, c.__name__, None) is c)
    doc = " ".join((cls.__doc__ or "").split())
    return f"class {name}({base.__name__}):\n    {doc!r}\n"


def _import(name: str, module, where: str) -> str:
    real = module.__name__
    if real != "math" and real.split(".")[0] != "numpy":
        raise ExportError(
            f"{where} uses the module {real!r}; an exported gradient may import only NumPy and math "
            "(register a rule for the function instead, or pass its result as an argument)"
        )
    return f"import {real}" if name == real else f"import {real} as {name}"


def literal(value, name: str = "value", where: str = "the gradient") -> str:
    """Source text that rebuilds ``value``: numbers, strings, containers, small arrays.

    >>> literal((1.0, float("inf"), [2, None]))
    "(1.0, float('inf'), [2, None])"
    >>> literal(np.arange(3.0))
    'np.array([0.0, 1.0, 2.0], dtype=np.float64)'
    """
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return repr(value)
    if isinstance(value, tuple | list):
        items = [literal(v, name, where) for v in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v, name, where)}" for k, v in value.items()) + "}"
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return f"np.{value.dtype.name}({literal(value.item())})"
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        if value.size > MAX_ARRAY:
            raise ExportError(
                f"{where} uses the global array {name!r} ({value.size} elements), too large to write "
                f"into the module (the limit is {MAX_ARRAY}); pass it to the function as an argument"
            )
        return f"np.array({literal(value.tolist())}, dtype=np.{value.dtype.name})"
    raise ExportError(
        f"{where} uses {name!r}, a {type(value).__name__}, which sct export cannot write into a "
        "module; pass it to the function as an argument instead"
    )


def function_source(fn) -> tuple[str, ast.AST]:
    """The source of a plain function (decorators dropped), or of a lambda's expression."""
    try:
        lines, _ = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        raise ExportError(
            f"the gradient calls {fn.__qualname__}, whose source is not available; define it in a file"
        ) from None
    text = textwrap.dedent("".join(lines))
    if fn.__name__ == "<lambda>":
        return _lambda_source(fn, text)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        tree = None
    node = tree.body[0] if tree is not None and tree.body else None
    if not isinstance(node, ast.FunctionDef) or node.name != fn.__name__:  # the file changed since the import
        raise ExportError(
            f"the source of {fn.__qualname__} in {inspect.getsourcefile(fn)} no longer matches the running "
            "function (was the file edited after it was imported?); restart Python and export again"
        )
    if node.decorator_list:
        text = "\n".join(text.splitlines()[node.lineno - 1 :])
        tree = ast.parse(text)
    return text.rstrip() + "\n", tree


def _lambda_source(fn, text: str) -> tuple[str, ast.AST]:
    code = fn.__code__
    params = list(code.co_varnames[: code.co_argcount])
    for attempt in (text, "(" + text.strip().rstrip(",") + ")"):
        try:
            tree = ast.parse(attempt)
            break
        except SyntaxError:
            continue
    else:
        raise ExportError(f"cannot read the source of the lambda on line {code.co_firstlineno}")
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and [a.arg for a in n.args.args] == params]
    if len(found) != 1:
        raise ExportError(
            f"cannot tell which lambda on line {code.co_firstlineno} of {code.co_filename} the gradient "
            "uses; define the rule with `def` instead"
        )
    return ast.unparse(found[0]), found[0]


# ---- the parts of the module ---------------------------------------------------------------
def _fresh(base: str, taken: set) -> str:
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


def _docstring(fn, variant, generated, wrapper, origin, command, positions, many, sig, generic) -> str:
    params = variant.params
    call = f"{', '.join(params)}"
    wrt = [params[i] for i in positions]
    deltas = ", ".join(f"delta_{w}" for w in wrt) if many else f"delta_{wrt[0]}"
    name = _plain(fn.__name__)
    gradient_of = f"the gradient of `{name}` with respect to {', '.join(wrt)}"
    where = _plain(origin or f"{fn.__code__.co_filename}:{fn.__qualname__}")
    made = f"Made by `{_plain(command)}` with sct {__version__}" if command else f"Made by sct {__version__}"
    value = f"value, ({deltas})" if many else f"value, {deltas}"
    lines = [
        f'"""{gradient_of[0].upper()}{gradient_of[1:]}, from {where}.',
        "",
        f"{made};",
        "this module needs only NumPy, not sct. Usage::",
        "",
        f"    {value} = {generated}({call})  # {name}({call}) and its gradient",
        f"    {deltas} = {wrapper}({call})  # the gradient only",
        "",
        f"`{generated}` takes an optional last argument `delta_out` (default 1.0), the cotangent of",
        f"`{name}`'s value, which scales the gradient. Each gradient has the shape of its",
        "argument. Regenerate this file with sct rather than editing it.",
        "",
        *(_plain(line) for line in _which_variant(variant.params, sig, generic)),
        '"""',
    ]
    return "\n".join(lines)


def _which_variant(params, sig, generic: bool) -> list[str]:
    """The docstring's lines that say which variant the module holds."""
    if generic:
        kinds = header(params, sig, generic=True)[len("# generic variant, ") :]
        lines = textwrap.wrap(f"This is the generic variant, {kinds}.", 88)
        return lines + ["(`sct export --args ...` writes one for arguments of given kinds.)"]
    kinds = header(params, sig, generic=False)[len("# variant ") :]
    lines = textwrap.wrap(f"This is the variant {kinds}, from `--args`.", 88)
    return lines + ["It raises TypeError for arguments of other kinds (without --args: the generic one)."]


def _with_defaults(fn, params) -> list:
    """``params`` with ``=default`` after each that has a default in ``fn`` written as a literal (else as they are)."""
    code, defaults = getattr(fn, "__code__", None), getattr(fn, "__defaults__", None) or ()
    if code is None or not defaults or list(code.co_varnames[: code.co_argcount]) != list(params):
        return list(params)
    first = len(params) - len(defaults)
    try:
        texts = [literal(v, params[first + i], f"the default of {params[first + i]!r}") for i, v in enumerate(defaults)]
    except ExportError:  # a default no literal rebuilds (a function, an object): the caller passes it
        return list(params)
    return [p if i < first else f"{p}={texts[i - first]}" for i, p in enumerate(params)]


def _wrapper(wrapper, generated, params, fname, wrt, scalar: bool, defaulted=None) -> str:
    """``gradient(...)``: the generated function's gradients; where its value was not proved a scalar, after a
    check that it is one (else the code's gradient would be that of the sum of the value's entries)."""
    call = ", ".join(params)
    head = (
        f"def {wrapper}({', '.join(defaulted or params)}):\n"
        f'    """The gradient of {_plain(fname)} with respect to {", ".join(wrt)} (without the value)."""\n'
    )
    if scalar:
        return head + f"    return {generated}({call})[1]\n"
    return head + (
        f"    value, grads = {generated}({call})\n"
        "    if isinstance(value, list | tuple | dict) or getattr(value, 'size', 1) != 1:  # as sct.grad refuses it\n"
        f"        raise ValueError({fname + ' returned a value that is not a scalar: it has no gradient; '!r}\n"
        f"                         {'call ' + generated + '(..., delta_out) with a cotangent of its shape'!r})\n"
        "    return grads\n"
    )


def _plain(text: str) -> str:
    """``text`` (a name, a path, a command) made one line that cannot end a docstring or a comment."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def _reference(fn, origin) -> str:
    """The differentiated function's own source, as comments, for the reader."""
    try:
        lines, lineno = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return ""
    where = _plain(f"{fn.__code__.co_filename}, line {lineno}")
    body = "".join("# " + line if line.strip() else "#\n" for line in textwrap.dedent("".join(lines)).splitlines(True))
    return f"# The function this module differentiates ({where}):\n#\n{body}"
