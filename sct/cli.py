"""The command line: ``sct dump``, ``sct check`` and ``sct export``.

Every command takes ``FILE.py:FUNC``: sct runs FILE.py as a module (its
``if __name__ == "__main__":`` block does not run) and differentiates FUNC.
Exit status: 0 success, 1 a gradient check failed, 2 bad usage or input. A
user error is reported as one line on stderr starting ``sct: `` (with
``file:line:col`` where there is one), never as a traceback; set
``SCT_TRACEBACK=1`` to see the traceback of an internal error.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import itertools
import keyword
import math
import operator
import os
import sys
import tokenize
import traceback
import types
from pathlib import Path

import numpy as np

from . import __version__, api
from .errors import SctError

EXAMPLES = """\
examples:
  sct dump examples/seed.py:f --wrt x,y       print the gradient of f as Python source
  sct dump model.py:loss --mode forward       print its forward-mode (tangent) code
  sct check examples/seed.py:f --args "1.5, 2.0"
  sct check model.py:loss --args "[[1.0, 2.0], [3.0, 4.0]], np.ones(2)"
  sct check model.py:loss --args-file inputs.npz --wrt W,b
  sct export examples/seed.py:f --wrt x,y -o f_grad.py

exit status: 0 success, 1 gradient check failed, 2 bad usage or input"""


class UserError(SctError):
    """A problem with the command's input, reported as one line."""


# ---- loading FILE.py:FUNC --------------------------------------------------------
_counter = itertools.count()


def load(spec: str):
    """The function named by ``FILE.py:FUNC`` (FUNC may be dotted: ``Model.loss``)."""
    path, sep, func = spec.rpartition(":")
    if not sep or not path or not func:
        raise UserError(f"expected FILE.py:FUNC, got {spec!r} (for example examples/seed.py:f)")
    module = load_module(path)
    obj = module
    for part in func.split("."):
        if not hasattr(obj, part):
            defined = sorted(k for k, v in vars(module).items() if isinstance(v, types.FunctionType))
            hint = f" (it defines: {', '.join(defined)})" if defined else ""
            raise UserError(f"{path} has no function {func!r}{hint}")
        obj = getattr(obj, part)
    if isinstance(obj, api._Differentiated):
        obj = obj.__wrapped__
    if not callable(obj):
        raise UserError(f"{path}:{func} is a {type(obj).__name__}, not a function")
    return obj


def load_module(path: str) -> types.ModuleType:
    """Run ``path`` as a fresh module (not as ``__main__``) and return it."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{path}: no such file")
    try:
        text = file.read_text(encoding="utf-8")
        code = compile(text, path, "exec")
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}:{exc.offset or 1}"
        raise UserError(f"{where}: syntax error: {exc.msg}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: cannot read it: {exc}") from None
    taken = file.stem in sys.modules or file.stem in sys.stdlib_module_names
    name = file.stem if file.stem.isidentifier() and not taken else f"_sct_user_{next(_counter)}"
    module = types.ModuleType(name)
    module.__file__ = str(file)
    sys.modules[name] = module
    sys.path.insert(0, str(file.resolve().parent))
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as exc:
        raise UserError(f"{_user_frame(exc, path)}running it raised {_exception_line(exc)}") from None
    finally:
        sys.path.remove(str(file.resolve().parent))
    return module


def _user_frame(exc, path: str) -> str:
    """``file:line: `` of the innermost frame of ``exc`` in the user's file, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f"{path}:{frames[-1].lineno}: " if frames else f"{path}: "


def _exception_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def parse_wrt(text: str | None, default=0):
    """``"x,y"`` -> ``("x", "y")``; ``"1"`` -> ``1``; names and positions mix."""
    if text is None:
        return default
    items = [w.strip() for w in text.split(",") if w.strip()]
    if not items:
        raise UserError(f"--wrt {text!r} names no parameter")
    items = [int(w) if w.lstrip("-").isdigit() else w for w in items]
    return tuple(items) if len(items) > 1 else items[0]


# ---- sct dump ----------------------------------------------------------------------
_MODES = {"reverse": "reverse", "rev": "reverse", "forward": "forward", "fwd": "forward"}


def cmd_dump(args) -> int:
    fn = load(args.target)
    text = api.source(fn, wrt=parse_wrt(args.wrt), mode=_MODES[args.mode], optimize=not args.no_optimize)
    if use_color(args.color, sys.stdout):
        text = highlight(text)
    print(text)
    return 0


def use_color(choice: str, stream) -> bool:
    """Colour for ``--color auto``: only on a terminal, and never when NO_COLOR is set."""
    if choice != "auto":
        return choice == "always"
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


_COLORS = {
    "keyword": "\x1b[1;35m",
    "defname": "\x1b[1;34m",
    "comment": "\x1b[90m",
    "number": "\x1b[36m",
    "string": "\x1b[32m",
    "delta": "\x1b[33m",
}
_RESET = "\x1b[0m"


def highlight(text: str) -> str:
    """``text`` (Python source) with ANSI colours; the text unchanged if it does not tokenize.

    >>> highlight("x = 1  # one") == "x = \\x1b[36m1\\x1b[0m  \\x1b[90m# one\\x1b[0m"
    True
    """
    lines = text.splitlines(keepends=True)
    out, row, col, after_def = [], 1, 0, False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    for tok in tokens:
        (srow, scol), (erow, ecol) = tok.start, tok.end
        if srow > len(lines):
            break
        out.append(_between(lines, (row, col), (srow, scol)))
        style = _style(tok, after_def)
        after_def = tok.type == tokenize.NAME and tok.string in ("def", "class")
        out.append(f"{_COLORS[style]}{tok.string}{_RESET}" if style and tok.string else tok.string)
        row, col = erow, ecol
    out.append(_between(lines, (row, col), (len(lines) + 1, 0)))
    return "".join(out)


def _between(lines, start, end) -> str:
    (r0, c0), (r1, c1) = start, end
    if (r0, c0) >= (r1, c1):
        return ""
    if r0 == r1:
        return lines[r0 - 1][c0:c1]
    return lines[r0 - 1][c0:] + "".join(lines[r0 : r1 - 1]) + (lines[r1 - 1][:c1] if r1 <= len(lines) else "")


def _style(tok, after_def: bool) -> str | None:
    if tok.type == tokenize.COMMENT:
        return "comment"
    if tok.type == tokenize.NUMBER:
        return "number"
    if tok.type == tokenize.STRING:
        return "string"
    if tok.type == tokenize.NAME:
        if after_def:
            return "defname"
        if keyword.iskeyword(tok.string):
            return "keyword"
        if tok.string.startswith("delta_"):
            return "delta"
    return None


# ---- sct check ---------------------------------------------------------------------
def cmd_check(args) -> int:
    fn = load(args.target)
    values = read_arguments(fn, args.args, args.args_file)
    ok, text = check_gradient(fn, values, parse_wrt(args.wrt, default=None), args.rtol, args.atol, args.max_rows)
    print(text)
    return 0 if ok else 1


# ---- arguments for sct check: a safe literal syntax, or an .npz ------------------------
def read_arguments(fn, text: str | None, npz: str | None) -> list:
    """The values to call ``fn`` with, from ``--args`` text or an ``--args-file``."""
    positional, named = parse_arguments(text) if text is not None else read_npz(npz)
    params = _parameters(fn)
    if len(positional) > len(params):
        raise UserError(f"{fn.__name__} takes {len(params)} arguments; --args gives {len(positional)}")
    values = list(positional)
    for p in params[len(positional) :]:
        if p.name in named:
            values.append(named.pop(p.name))
        elif p.default is not p.empty:
            values.append(p.default)
        else:
            names = ", ".join(q.name for q in params)
            raise UserError(f"no value for parameter {p.name!r} of {fn.__name__}({names})")
    if named:
        given = [k for k in named if k in {p.name for p in params}]
        problem = "given twice" if given else "not parameters of " + fn.__name__
        raise UserError(f"argument(s) {', '.join(given or named)}: {problem}")
    return values


def _parameters(fn) -> list:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p for p in inspect.signature(fn).parameters.values() if p.kind in kinds]


def parse_arguments(text: str) -> tuple[list, dict]:
    """``"3.0, [1.0, 2.0], y=np.ones(2)"`` -> positional and named values.

    >>> parse_arguments("3, [[1, 2]], scale=2 * np.pi")
    ([3, array([[1., 2.]])], {'scale': 6.283185307179586})
    """
    try:
        tree = ast.parse(f"_({text})", mode="eval").body
    except SyntaxError as exc:
        raise UserError(f"--args {text!r}: not valid Python syntax ({exc.msg})") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "_"):
        raise UserError(f"--args {text!r}: expected comma-separated values")
    literal = _Literal(text)
    positional = [literal.value(a) for a in tree.args]
    if any(k.arg is None for k in tree.keywords):
        raise UserError(f"--args {text!r}: ** is not allowed; write name=value")
    return positional, {k.arg: literal.value(k.value) for k in tree.keywords}


class _Literal:
    """Evaluates the small expression language of ``--args``; nothing else runs."""

    CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}
    OPERATORS = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.Pow: operator.pow,
        ast.MatMult: operator.matmul,
    }

    def __init__(self, text):
        rng = np.random.default_rng(0)  # seeded: the same --args give the same numbers
        self.text = text
        self.functions = {
            "array": lambda *a, **k: np.array(*a, **k),
            "ones": np.ones,
            "zeros": np.zeros,
            "full": np.full,
            "eye": np.eye,
            "arange": np.arange,
            "linspace": np.linspace,
            "random.randn": lambda *shape: rng.standard_normal(shape),
            "random.rand": lambda *shape: rng.random(shape),
            "random.normal": rng.normal,
            "random.uniform": rng.uniform,
        }

    def value(self, node):
        value = self._eval(node)
        if isinstance(value, np.ndarray) and value.dtype.kind in "biu":
            value = value.astype(float)
        return value

    def _eval(self, node):
        if isinstance(node, ast.Constant) and not isinstance(node.value, bytes | type(...)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self._eval(node.operand)
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp) and type(node.op) in self.OPERATORS:
            return self.OPERATORS[type(node.op)](self._eval(node.left), self._eval(node.right))
        if isinstance(node, ast.Tuple):
            return tuple(self._eval(e) for e in node.elts)
        if isinstance(node, ast.List):
            return self._array([self._eval(e) for e in node.elts], node)
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {self._eval(k): self.value(v) for k, v in zip(node.keys, node.values)}
        dotted = _dotted(node.func if isinstance(node, ast.Call) else node)
        if isinstance(node, ast.Call) and dotted in self.functions:
            args = [self._eval(a) for a in node.args]
            return self.functions[dotted](*args, **{k.arg: self._eval(k.value) for k in node.keywords})
        if not isinstance(node, ast.Call) and dotted in self.CONSTANTS:
            return self.CONSTANTS[dotted]
        raise UserError(
            f"--args: `{ast.unparse(node)}` is not allowed; use numbers, lists, tuples, dicts, "
            "name=value and np.ones/zeros/full/eye/arange/linspace/array/random.randn (see --help)"
        )

    def _array(self, items, node):
        try:
            array = np.array(items)
        except ValueError:
            array = None
        if array is None or array.dtype.kind not in "biufc":
            raise UserError(f"--args: `{ast.unparse(node)}` is not a rectangular list of numbers")
        return array.astype(float) if array.dtype.kind in "biu" else array


def _dotted(node) -> str | None:
    """``np.random.randn`` -> ``"random.randn"`` (the module prefix dropped); None if not dotted."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    if parts[0] in ("np", "numpy", "math") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def read_npz(path: str) -> tuple[list, dict]:
    """Arrays saved with ``np.savez(x, y)`` (positional) or ``np.savez(x=..., y=...)`` (named)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: cannot read it as an .npz file ({exc})") from None
    if isinstance(data, np.ndarray):  # a single .npy array
        return [_from_file(data)], {}
    with data:
        arrays = {key: _from_file(data[key]) for key in data.files}
    positional = []
    while f"arr_{len(positional)}" in arrays:
        positional.append(arrays.pop(f"arr_{len(positional)}"))
    return positional, arrays


def _from_file(array):
    return array.item() if array.ndim == 0 and array.dtype.kind == "f" else array


# ---- the check itself ----------------------------------------------------------------
def check_gradient(fn, values, wrt, rtol, atol, max_rows=8) -> tuple[bool, str]:
    """Compare ``sct.grad`` with central differences; ``(ok, report)``."""
    names = [p.name for p in _parameters(fn)]
    if wrt is None:
        positions = [i for i, v in enumerate(values) if _float_leaves(v)]
        if not positions:
            raise UserError(
                f"no float argument to differentiate {fn.__name__} by (integers are not "
                "differentiated: write 3.0 instead of 3, or name the parameters with --wrt)"
            )
    else:
        positions, _ = api.resolve_wrt(fn, wrt if isinstance(wrt, tuple) else (wrt,))
        for i in positions:
            values[i] = _as_float(values[i])
    value = _evaluate(fn, values)
    if np.size(value) != 1 or isinstance(value, list | tuple | dict):
        raise UserError(f"{fn.__name__} returned a value of shape {np.shape(value)}; sct check needs a scalar output")
    grads = api.grad(fn, wrt=tuple(positions))(*values)
    rows, bad, total = [], 0, 0
    for i, grad in zip(positions, grads):
        for path, x in _leaves(values[i]):
            found = _compare(fn, values, i, path, x, _get(grad, path), rtol, atol)
            total += len(found)
            bad += sum(r[-1] for r in found)
            rows += _select(found, max_rows, names[i] + _path_text(path), np.shape(x))
    lines = [f"{fn.__name__}({', '.join(names[: len(values)])}) = {_num(_scalar(value))}", ""]
    lines += _table(rows)
    tolerance = f"rtol={rtol:g}, atol={atol:g}"
    if bad:
        lines.append(f"FAILED: {bad} of {total} derivatives disagree with central differences ({tolerance})")
    else:
        agree = "derivative agrees" if total == 1 else "derivatives agree"
        lines.append(f"ok: {total} {agree} with central differences ({tolerance})")
    return not bad, "\n".join(lines)


def _evaluate(fn, values):
    try:
        return fn(*values)
    except Exception as exc:
        path = fn.__code__.co_filename if hasattr(fn, "__code__") else ""
        raise UserError(f"{_user_frame(exc, path)}calling {fn.__name__} raised {_exception_line(exc)}") from None


def _compare(fn, values, i, path, x, analytic, rtol, atol) -> list:
    """One row per element of the leaf ``x`` at ``values[i][path]``: (element, a, n, rel, bad)."""
    shape = np.shape(x)
    if np.shape(analytic) != shape:
        return [(f"shape {np.shape(analytic)} != {shape}", math.nan, math.nan, math.inf, True)]
    rows = []
    for index in np.ndindex(shape):
        a = float(np.real(np.asarray(analytic)[index]))
        n = _central_difference(fn, values, i, path, x, index)
        diff = abs(a - n)
        rel = diff / max(abs(a), abs(n)) if diff else 0.0
        bad = not (diff <= atol + rtol * abs(n))
        element = "[" + ", ".join(map(str, index)) + "]" if shape else ""
        rows.append((element, a, n, rel, bad))
    return rows


def _central_difference(fn, values, i, path, x, index) -> float:
    x0 = float(np.asarray(x)[index])
    h = 6e-6 * max(1.0, abs(x0))  # about the cube root of the machine epsilon

    def at(t):
        if isinstance(x, np.ndarray):
            moved = x.astype(float, copy=True)
            moved[index] = t
        else:
            moved = t
        args = list(values)
        args[i] = _replace(values[i], path, moved)
        return _scalar(fn(*args))

    return (at(x0 + h) - at(x0 - h)) / (2 * h)


def _select(rows, max_rows, label, shape) -> list:
    """The rows to show: all of them, or the ``max_rows`` largest errors (in index order)."""
    shown = rows
    if len(rows) > max_rows:
        worst = sorted(range(len(rows)), key=lambda k: (-rows[k][4], -rows[k][3]))[:max_rows]
        shown = [rows[k] for k in sorted(worst)]
    out = [(label, *r) for r in shown]
    if len(shown) < len(rows):
        note = f"... {len(rows) - len(shown)} more of shape {shape}; the largest errors are shown"
        out.append((label, note, None, None, None, False))
    return out


def _table(rows) -> list[str]:
    header = ("argument", "element", "analytic", "numeric", "rel. error", "")
    cells = [header]
    for label, element, a, n, rel, bad in rows:
        if a is None:
            cells.append((label, element, "", "", "", ""))
            continue
        cells.append((label, element, _num(a), _num(n), f"{rel:.1e}", "MISMATCH" if bad else ""))
    widths = [max(len(c[k]) for c in cells if not (c[2] == "" and k == 1)) for k in range(6)]
    align = [str.ljust, str.ljust, str.rjust, str.rjust, str.rjust, str.ljust]
    return ["  ".join(a(c, w) for a, c, w in zip(align, row, widths)).rstrip() for row in cells]


def _num(value) -> str:
    return f"{value:.10g}" if math.isfinite(value) else str(value)


def _scalar(value) -> float:
    return float(np.real(np.asarray(value)).reshape(-1)[0])


def _float_leaves(value) -> list:
    return [x for _, x in _leaves(value) if np.asarray(x).dtype.kind == "f" and not isinstance(x, bool)]


def _as_float(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return value.astype(float)
    if isinstance(value, dict):
        return {k: _as_float(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_as_float(v) for v in value)
    return value


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list | tuple):
        for key, item in enumerate(value):
            yield from _leaves(item, (*path, key))
    elif np.asarray(value).dtype.kind == "f":
        yield path, value


def _get(value, path):
    for key in path:
        value = value[key]
    return value


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    items = list(value)
    items[head] = _replace(items[head], rest, new)
    return tuple(items) if isinstance(value, tuple) else items


def _path_text(path) -> str:
    return "".join(f"[{key!r}]" for key in path)


# ---- sct export --------------------------------------------------------------------
def cmd_export(args) -> int:
    from .export import export_source

    fn = load(args.target)
    out = args.output
    if out != "-" and Path(out).exists() and not args.force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    command = "sct export " + " ".join(_quote(a) for a in args.argv)
    text = export_source(fn, wrt=parse_wrt(args.wrt), origin=args.target, command=command)
    if out == "-":
        sys.stdout.write(text)
        return 0
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{out}: cannot write it: {exc.strerror or exc}") from None
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "/._:,-=" for c in arg) else repr(arg)


# ---- the parser and main -------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="sct",
        description="sct: readable gradients for Python and NumPy, as source code.",
        epilog=EXAMPLES,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"sct {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, run, help, epilog):
        sub = commands.add_parser(name, help=help, description=help, epilog=epilog, formatter_class=fmt)
        sub.add_argument("target", metavar="FILE.py:FUNC", help="the function to differentiate")
        sub.set_defaults(run=run)
        return sub

    wrt_help = "comma-separated parameter names or positions to differentiate by"
    dump = command(
        "dump",
        cmd_dump,
        "print the generated gradient code",
        "examples:\n  sct dump examples/seed.py:f --wrt x,y\n  sct dump examples/seed.py:f --wrt y "
        "--mode forward\n  sct dump examples/seed.py:f --no-optimize | less",
    )
    dump.add_argument("--wrt", help=wrt_help + " (default: the first parameter)")
    dump.add_argument("--mode", choices=list(_MODES), default="reverse", help="reverse (default) or forward")
    dump.add_argument("--no-optimize", action="store_true", help="show the code before the clean-up passes")
    dump.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="auto: only on a terminal")

    check = command(
        "check",
        cmd_check,
        "compare the gradient with central finite differences",
        'examples:\n  sct check examples/seed.py:f --args "1.5, 2.0"\n'
        "  sct check examples/mlp.py:loss --args-file params.npz --wrt W1,b1\n\n"
        "--args is Python literal syntax: numbers, nested lists (become float arrays),\n"
        "tuples, dicts, name=value, and np.ones/zeros/full/eye/arange/linspace/array,\n"
        "np.random.randn/rand (seeded, so runs repeat), np.pi, np.e.\n"
        "--args-file: a .npz from np.savez(x, y) (positional) or np.savez(x=..., y=...).\n"
        "Without --wrt, every float argument is checked. Exit status 1 on a mismatch.",
    )
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--args", help='the arguments, e.g. "3.0, -4.0" or "x=[1.0, 2.0], y=0.5"')
    source.add_argument("--args-file", metavar="FILE.npz", help="arrays saved with np.savez")
    check.add_argument("--wrt", help=wrt_help + " (default: every float argument)")
    check.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default 1e-5)")
    check.add_argument("--atol", type=float, default=1e-8, help="absolute tolerance (default 1e-8)")
    check.add_argument("--max-rows", type=int, default=8, help="rows shown per array argument (default 8)")

    export = command(
        "export",
        cmd_export,
        "write the gradient as a standalone module that needs only NumPy",
        "examples:\n  sct export examples/seed.py:f --wrt x,y -o f_grad.py\n"
        "  python -c 'import f_grad; print(f_grad.gradient(1.5, 2.0))'",
    )
    export.add_argument("--wrt", help=wrt_help + " (default: the first parameter)")
    export.add_argument("-o", "--output", required=True, metavar="OUT.py", help="the file to write ('-': stdout)")
    export.add_argument("--force", action="store_true", help="overwrite OUT.py if it exists")
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse printed it)
        return exc.code if isinstance(exc.code, int) else 2
    args.argv = argv[1:]
    try:
        return args.run(args)
    except SctError as exc:
        print(f"sct: {describe(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `sct dump ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("sct: interrupted", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("SCT_TRACEBACK"):
            traceback.print_exc()
        print(
            f"sct: internal error: {_exception_line(exc)} (this is a bug in sct; "
            "set SCT_TRACEBACK=1 to see where, and please report it)",
            file=sys.stderr,
        )
        return 2


def describe(exc: SctError) -> str:
    """An error as one line (``file:line:col: message``), then any further problems indented."""
    problems = getattr(exc, "problems", None)
    if not problems:
        return str(exc)
    if len(problems) == 1:
        return _problem(problems[0])
    parts = [f"{len(problems)} problems:"] + [_problem(p) for p in problems]
    return "\n  ".join(part.replace("\n", "\n  ") for part in parts)


def _problem(problem) -> str:
    loc = problem.location
    if loc is None:
        return problem.message
    return f"{loc.filename}:{loc.lineno}:{loc.col_offset + 1}: {problem.message}"
