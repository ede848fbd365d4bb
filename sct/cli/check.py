"""``sct check``: reading the arguments, and comparing the gradient with central differences.

Arguments come as ``--args`` text in a safe literal syntax (numbers, lists,
``np.ones(3)``-style constructors, names of parameters; never evaluated as
Python) or as an ``.npz`` file. Each array gradient is compared element by
element, and the worst rows are shown as a table.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import inspect
import io
import math
import operator
import signal
import threading
import tokenize
import traceback
import warnings

import numpy as np

from .. import api, pipeline
from ..errors import UserError
from ..values import check_argument, leaves


# ---- reporting an error from the user's code ----------------------------------------
def user_frame(exc, path: str) -> str:
    """``file:line: `` of the innermost frame of ``exc`` in the user's file, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f"{path}:{frames[-1].lineno}: " if frames else f"{path}: "


def exception_line(exc) -> str:
    """``TypeError: the first line of its message``."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


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
        reason = _unbalanced(text) or f"not valid Python syntax ({exc.msg})"
        raise UserError(f"--args {text!r}: {reason}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "_"):
        raise UserError(f"--args {text!r}: expected comma-separated values")
    if any(k.arg is None for k in tree.keywords):
        raise UserError(f"--args {text!r}: ** is not allowed; write name=value")
    literal = _Literal(text)
    with _time_limit(TIME_LIMIT, f"--args {text!r}: took longer than {TIME_LIMIT} s to evaluate"):
        positional = [literal.value(a) for a in tree.args]
        return positional, {k.arg: literal.value(k.value) for k in tree.keywords}


MAX_ELEMENTS = 10**7  # the largest array --args may make (80 MB of floats)
MAX_BITS = 4096  # the largest integer --args may make
TIME_LIMIT = 10  # seconds


def _unbalanced(text: str) -> str | None:
    """Why the brackets of ``text`` do not match (an unclosed ``[``, a stray ``)``), or None."""
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.OP:
                continue
            if tok.string in "([{":
                stack.append((tok.string, tok.start[1]))
            elif tok.string in pairs:
                if not stack or stack[-1][0] != pairs[tok.string]:
                    return f"`{tok.string}` at column {tok.start[1] + 1} closes no bracket"
                stack.pop()
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    if stack:
        bracket, column = stack[-1]
        return f"the `{bracket}` at column {column + 1} is never closed"
    return None


@contextlib.contextmanager
def _time_limit(seconds: int, message: str):
    """Raise :class:`UserError` if the body runs longer than ``seconds`` (where a timer signal is available)."""
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise UserError(message)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
        try:
            value = self._eval(node)
        except UserError:
            raise
        except (ArithmeticError, ValueError, TypeError, MemoryError, IndexError, KeyError) as exc:
            raise UserError(f"--args: `{ast.unparse(node)}` raised {exception_line(exc)}") from None
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
            left, right = self._eval(node.left), self._eval(node.right)
            self._check_operands(node, left, right)
            return self.OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.Tuple):
            return tuple(self._eval(e) for e in node.elts)
        if isinstance(node, ast.List):
            return self._array([self._eval(e) for e in node.elts], node)
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {self._eval(k): self.value(v) for k, v in zip(node.keys, node.values)}
        dotted = _dotted(node.func if isinstance(node, ast.Call) else node)
        if isinstance(node, ast.Call) and dotted in self.functions and None not in (k.arg for k in node.keywords):
            args = [self._eval(a) for a in node.args]
            kwargs = {k.arg: self._eval(k.value) for k in node.keywords}
            self._check_size(node, _made_size(dotted, args, kwargs))
            return self.functions[dotted](*args, **kwargs)
        if not isinstance(node, ast.Call) and dotted in self.CONSTANTS:
            return self.CONSTANTS[dotted]
        raise UserError(
            f"--args: `{ast.unparse(node)}` is not allowed; use numbers, lists, tuples, dicts, "
            "name=value and np.ones/zeros/full/eye/arange/linspace/array/random.randn (see --help)"
        )

    def _check_operands(self, node, left, right):
        """Refuse arithmetic that would make something too large before doing it (``9**9**9``)."""
        for x in (left, right):
            if not isinstance(x, int | float | complex | np.ndarray | np.number):
                raise UserError(f"--args: `{ast.unparse(node)}`: arithmetic is only for numbers and arrays")
        integers = isinstance(left, int) and isinstance(right, int) and abs(left) > 1
        if isinstance(node.op, ast.Pow) and integers and right * math.log2(abs(left)) > MAX_BITS:
            raise UserError(f"--args: `{ast.unparse(node)}` is too large (over {MAX_BITS} bits)")
        if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
            try:
                if isinstance(node.op, ast.MatMult) and left.ndim and right.ndim:
                    shape = (*left.shape[:-1], *right.shape[-1:])
                else:
                    shape = np.broadcast_shapes(left.shape, right.shape)
            except ValueError:
                return  # NumPy says what is wrong when it runs
            self._check_size(node, math.prod(shape))

    def _check_size(self, node, size):
        if size is not None and size > MAX_ELEMENTS:
            raise UserError(f"--args: `{ast.unparse(node)}` is too large (over {MAX_ELEMENTS:,} elements)")

    def _array(self, items, node):
        if any(isinstance(i, tuple | dict) for i in items):  # a list of containers stays a list
            return items
        try:
            array = np.array(items)
        except ValueError:
            array = None
        if array is None or array.dtype.kind not in "biufc":
            raise UserError(f"--args: `{ast.unparse(node)}` is not a rectangular list of numbers")
        return array.astype(float) if array.dtype.kind in "biu" else array


def _made_size(function: str, args: list, kwargs: dict):
    """How many elements ``np.<function>(*args, **kwargs)`` would make (None: whatever its arguments hold)."""

    def count(shape):
        if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
            return int(shape)
        if isinstance(shape, tuple) and all(isinstance(n, int | np.integer) for n in shape):
            return math.prod(int(n) for n in shape)
        return None  # NumPy refuses it with a TypeError

    def arg(i, name, default=None):
        return args[i] if len(args) > i else kwargs.get(name, default)

    if function in ("ones", "zeros", "full"):
        return count(arg(0, "shape"))
    if function in ("random.randn", "random.rand"):
        return count(tuple(args))
    if function in ("random.normal", "random.uniform"):
        return count(arg(2, "size", 1))
    if function == "eye":
        n = count(arg(0, "N"))
        m = arg(1, "M")
        return None if n is None else n * (n if m is None else (count(m) or 0))
    if function == "linspace":
        return count(arg(2, "num", 50))
    if function == "arange":
        numbers = [a for a in args if isinstance(a, int | float)]
        if len(numbers) != len(args) or not numbers or not all(map(math.isfinite, numbers)):
            return None
        start, stop = (0, numbers[0]) if len(numbers) == 1 else numbers[:2]
        step = numbers[2] if len(numbers) > 2 else 1
        return max(0, math.ceil((stop - start) / step)) if step else None
    return None


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
        for i, v in enumerate(values):  # say "complex", not "no float argument"
            if any(np.iscomplexobj(leaf) for _, leaf in leaves(v)):
                check_argument(fn.__name__, i, v)
                raise UserError(
                    f"argument {i} of {fn.__name__} is complex; sct check compares real derivatives only: "
                    "check complex arguments with sct.check_grads in Python"
                )
        if not positions:
            raise UserError(
                f"no float argument to differentiate {fn.__name__} by (integers are not "
                "differentiated: write 3.0 instead of 3, or name the parameters with --wrt)"
            )
    else:
        positions, _ = pipeline.resolve_wrt(fn, wrt if isinstance(wrt, tuple) else (wrt,))
        for i in positions:
            values[i] = _as_float(values[i])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a nan or inf is reported below, not warned about
        value = _evaluate(fn, copy.deepcopy(values))
    if np.size(value) != 1 or isinstance(value, list | tuple | dict):
        raise UserError(f"{fn.__name__} returned a value of shape {np.shape(value)}; sct check needs a scalar output")
    if _not_finite(value):
        raise UserError(
            f"{fn.__name__}({', '.join(names[: len(values)])}) = {_num(_scalar(value))}: the function is not finite "
            "here, so it has no derivative to check; give arguments where it is finite"
        )
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # an infinite derivative shows in the table
        warnings.simplefilter("ignore", RuntimeWarning)
        grads = api.grad(fn, wrt=tuple(positions))(*copy.deepcopy(values))
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


def _not_finite(value) -> bool:
    try:
        return not np.all(np.isfinite(value))
    except TypeError:  # not a number: sct.grad says what it needs
        return False


def _evaluate(fn, values):
    try:
        return fn(*values)
    except Exception as exc:
        path = fn.__code__.co_filename if hasattr(fn, "__code__") else ""
        raise UserError(f"{user_frame(exc, path)}calling {fn.__name__} raised {exception_line(exc)}") from None


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
        args = copy.deepcopy(values)  # the function may write into its arguments
        args[i] = _replace(args[i], path, moved)
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
