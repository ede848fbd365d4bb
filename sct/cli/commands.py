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
import functools
import inspect
import io
import itertools
import keyword
import os
import sys
import tokenize
import traceback
import types
from pathlib import Path

from .. import api
from ..errors import SctError, UserError, article
from ..explain import explain
from ..export import export_source
from ..report_page import render, write
from ..version import __version__
from . import cache as cli_cache
from .check import check_gradient, exception_line, read_arguments, user_frame

EXAMPLES = """\
examples:
  sct dump examples/seed.py:f --wrt x,y       print the gradient of f as Python source
  sct dump model.py:loss --mode forward       print its forward-mode (tangent) code
  sct check examples/seed.py:f --args "1.5, 2.0"
  sct check model.py:loss --args "[[1.0, 2.0], [3.0, 4.0]], np.ones(2)"
  sct check model.py:loss --args-file inputs.npz --wrt W,b
  sct export examples/seed.py:f --wrt x,y -o f_grad.py

exit status: 0 success, 1 gradient check failed, 2 bad usage or input"""


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
    problem = _not_a_function_here(obj, module, func)
    if problem:
        raise UserError(
            f"{path}:{func} is {problem}; FUNC must be a function defined in {path}, "
            "or a method of a class defined there (Class.method)"
        )
    return obj


def _not_a_function_here(obj, module, func: str) -> str | None:
    """What ``obj`` is, where it is not a function (or method) defined in ``module``'s file; else None.

    Nothing named FUNC is called before this says yes: ``FILE.py:np.save`` must
    not write a file before sct refuses it.
    """
    if isinstance(obj, type):
        methods = sorted(k for k, v in vars(obj).items() if isinstance(v, types.FunctionType) and k[:2] != "__")
        return "a class" + (f" (name one of its methods, for example {obj.__name__}.{methods[0]})" if methods else "")
    if isinstance(obj, functools.partial):
        return "a functools.partial (name the function it wraps, and give every argument with --args)"
    target = obj.__func__ if isinstance(obj, types.MethodType) else obj
    inner = inspect.unwrap(target) if callable(target) else target
    if isinstance(inner, types.FunctionType):
        file = getattr(module, "__file__", None)
        if file is not None and Path(inner.__code__.co_filename).resolve() == Path(file).resolve():
            return None
        return f"`{_qualified(inner)}`, a function defined elsewhere"
    if type(obj).__module__ == module.__name__:
        methods = sorted(k for k in dir(type(obj)) if not k.startswith("_") and callable(getattr(type(obj), k)))
        example = f", for example {func}.{methods[0]}" if methods else ""
        return f"an instance of {type(obj).__name__} (name one of its methods{example})"
    name = getattr(obj, "__name__", None)
    what = article(type(obj).__name__)
    return f"`{name}`, {what}" if name and callable(obj) else f"{what}, not a function"


def _qualified(fn) -> str:
    module = getattr(fn, "__module__", None)
    return f"{module}.{fn.__qualname__}" if module else fn.__qualname__


def load_module(path: str) -> types.ModuleType:
    """Run ``path`` as a fresh module (not as ``__main__``) and return it."""
    file = Path(path)
    if file.is_dir():
        raise UserError(f"{path} is a directory; FILE must be a Python file (FILE.py:FUNC)")
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
        raise UserError(f"{user_frame(exc, path)}running it raised {exception_line(exc)}") from None
    finally:
        sys.path.remove(str(file.resolve().parent))
    return module


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
    if args.html or args.explain:
        return dump_views(args, fn)
    text = api.source(
        fn, wrt=parse_wrt(args.wrt), mode=_MODES[args.mode], optimize=not args.no_optimize, **chosen_variant(args, fn)
    )
    if use_color(args.color, sys.stdout):
        text = highlight(text)
    print(text)
    return 0


# ---- sct dump --html / --explain: the report and the explanation (sct.report, sct.explain)
def dump_view_options(dump) -> None:
    dump.add_argument(
        "--html",
        metavar="OUT.html",
        help="write a self-contained page: your function beside the generated code, linked line by line, "
        "and why each variable is active and recorded (OUT.html is overwritten)",
    )
    dump.add_argument(
        "--explain",
        action="store_true",
        help="print the code with the line of yours each line comes from, and the variables table",
    )


def dump_views(args, fn) -> int:
    wrt, mode, optimize = parse_wrt(args.wrt), _MODES[args.mode], not args.no_optimize
    found = explain(fn, wrt=wrt, mode=mode, optimize=optimize, **chosen_variant(args, fn))
    if args.html:
        write(render(found), args.html)
        print(f"wrote {args.html}", file=sys.stderr)
    if args.explain:
        print(found.text_report())
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
    check_options(args)
    fn = load(args.target)
    values = read_arguments(fn, args.args, args.args_file)
    ok, text = check_gradient(fn, values, parse_wrt(args.wrt, default=None), args.rtol, args.atol, args.max_rows)
    print(text)
    return 0 if ok else 1


def check_options(args) -> None:
    """Refuse tolerances and row counts that make no sense, before anything runs."""
    if args.max_rows < 1:
        raise UserError(f"--max-rows {args.max_rows}: give the number of rows to show, 1 or more")
    for name, value in (("--rtol", args.rtol), ("--atol", args.atol)):
        if not (value >= 0 and value != float("inf")):
            raise UserError(f"{name} {value:g}: a tolerance must be a finite number >= 0")


# ---- sct export --------------------------------------------------------------------
def cmd_export(args) -> int:

    fn = load(args.target)
    out = args.output
    if out != "-" and Path(out).is_dir():
        raise UserError(f"-o {out} is a directory; give the path of the file to write (-o {Path(out) / 'grad.py'})")
    if out != "-" and Path(out).exists() and not args.force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    command = "sct export " + " ".join(_quote(a) for a in args.argv)
    text = export_source(
        fn,
        wrt=parse_wrt(args.wrt),
        origin=args.target,
        command=command,
        xp=args.xp,
        numba=args.numba,
        **chosen_variant(args, fn),
    )
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


# ---- which variant dump and export show: --args, --generic ------------------------------------
def add_variant_options(sub, generic: bool) -> None:
    """``--args`` (and ``--generic`` where ``generic``): the variant to show or write."""
    group = sub.add_mutually_exclusive_group()
    group.add_argument(
        "--args",
        metavar="ARGS",
        help='arguments, as for sct check (e.g. "1.0, 2.0"): the variant for arguments of their kinds',
    )
    if generic:
        group.add_argument(
            "--generic", action="store_true", help="the generic variant, for arrays and numbers of any shape"
        )


def chosen_variant(args, fn) -> dict:
    """The keywords of ``sct.source`` (and ``export_source``) that ``--args``/``--generic`` ask for."""
    if getattr(args, "args", None) is not None:
        return {"args": tuple(read_arguments(fn, args.args, None))}
    if getattr(args, "generic", False):
        return {"generic": True}
    return {}


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
        "--mode forward\n  sct dump examples/seed.py:f --no-optimize | less\n"
        "  sct dump examples/seed.py:f --wrt x,y --html f.html\n  sct dump examples/rnn.py:loss --explain",
    )
    dump.add_argument("--wrt", help=wrt_help + " (default: the first parameter)")
    dump.add_argument("--mode", choices=list(_MODES), default="reverse", help="reverse (default) or forward")
    dump.add_argument("--no-optimize", action="store_true", help="show the code before the clean-up passes")
    dump.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="auto: only on a terminal")
    dump_view_options(dump)
    add_variant_options(dump, generic=True)

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
    add_variant_options(export, generic=False)
    export.add_argument(
        "--xp", action="store_true", help="a module generic in its global `xp` (an array API namespace), not NumPy"
    )
    export.add_argument("--numba", action="store_true", help="compile the gradient with @numba.njit (scalar code)")
    cli_cache.register(commands, fmt)
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
            f"sct: internal error: {exception_line(exc)} (this is a bug in sct; "
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
