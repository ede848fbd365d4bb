"""``sct check``: reading the arguments, and comparing the gradient with central differences.

Arguments come as ``--args`` text in a safe literal syntax (numbers, lists,
``np.ones(3)``-style constructors, names of parameters; never evaluated as
Python) or as an ``.npz`` file. Each array gradient is compared element by
element, and the worst rows are shown as a table.
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
import traceback

import numpy as np

from . import api
from .errors import UserError
from .values import check_argument, leaves


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
        if any(isinstance(i, tuple | dict) for i in items):  # a list of containers stays a list
            return items
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
