"""``backend="numba"``: the generated forward and adjoint compiled to machine code with ``numba.njit``.

The generated gradient of scalar code is Python floats, ``math.*`` calls,
loops and lists used as stacks: numba compiles all of it. Two spellings are
rewritten first (:func:`numba_source`), with the same floating-point operations:

- ``for x in reversed(x_stack):`` (numba has no ``reversed``) becomes a loop over
  the indices backwards, ``for _k in range(len(x_stack) - 1, -1, -1): x = x_stack[_k]``;
  ``reversed(range(...))`` and ``zip`` of such likewise;
- the ``try``/``except ArithmeticError`` that runs the NumPy-scalar variant where
  Python floats raise (:mod:`sct.passes.unbox`) is dropped: the call falls back instead
  (below);
- ``a ** b`` calls libm's ``pow`` (``sct_pow``), as Python's float power does: numba
  multiplies out ``x ** 3``, and LLVM turns ``x ** 2.0`` into ``x * x`` and
  ``x ** 0.5`` into ``sqrt(x)``, each rounding some results differently.

Calls whose numba versions compute other values than Python's are refused
(:func:`inexact`): NumPy's functions other than exact ones (numba's ``np.exp``
rounds 5% of results differently from NumPy's, ``np.tanh`` 27%, and ``np.sum``
adds in another order), ``math.gamma``, ``math.lgamma``, ``math.hypot`` and
``sum``. ``math``'s other functions are libm's in both. So the numba gradient
equals the Python one bit for bit (``tests/test_numba.py``).

Where numba cannot compile the code, the first call raises
:class:`NumbaUnsupportedError` naming the line of the generated code and the
user's line it came from; sct never falls back to Python silently.

What numba does differently from Python is never let through:

- Python raises on ``1.0 / 0.0``, ``math.log(-1.0)``, ``math.exp(1000.0)``, where
  machine code may return ``inf`` or ``nan``. A call whose result is not finite,
  or that raised, is run again by the Python variant, whose answer (or error) is
  the one sct gives.
- numba reads module globals once, when it compiles. The plain-data globals
  the code reads are checked on each call, and a change compiles it again.

Not checked: integer arithmetic of the user's code wraps around at 2**63 in
machine code (Python's integers do not). Loop counters and indices are far from it.
"""

from __future__ import annotations

import ast
import linecache
import math
from itertools import count

import numpy as np

from ..errors import Location, NumbaUnsupportedError, Problem, SctError
from ..values import real_float
from . import revolve
from .native_exact import POW, POW_IMPORTS, POW_NAME, Powers, inexact, pow_function  # noqa: F401 (export)

_counter = count()


def require_numba():
    try:
        import numba
    except ImportError:
        raise SctError('backend="numba" needs numba: pip install numba (or sct-ad[numba])') from None
    return numba


# ---- the source, numba-friendly -------------------------------------------------------
def numba_source(text: str, real_floats: frozenset = frozenset({"real_float"})) -> str:
    """``text`` (a generated function) rewritten for numba, computing the same values the same way.

    >>> print(numba_source("def g(x_stack):\\n    for x in reversed(x_stack):\\n        y = x\\n    return y"))
    def g(x_stack):
        for _k in range(len(x_stack) - 1, -1, -1):
            x = x_stack[_k]
            y = x
        return y
    """
    tree = ast.parse(text)
    fn = tree.body[0]
    taken = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | {a.arg for a in fn.args.args}
    fresh = _Fresh(taken)
    fn.body = _unguarded(fn.body)
    _Rewriter(fresh).visit(fn)
    for node in ast.walk(fn):  # a block that held only a ``del``
        if isinstance(node, ast.If | ast.For | ast.While) and not node.body:
            node.body = [ast.Pass()]
    Powers().visit(fn)
    for node in ast.walk(fn):  # a complex value is NaN in machine code, and Python answers (see Native)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in real_floats:
            node.func.id = "float"
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


class _Fresh:
    def __init__(self, taken: set):
        self.taken = set(taken)

    def __call__(self, base: str) -> str:
        for i in count():
            candidate = base if i == 0 else f"{base}{i}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate
        raise AssertionError  # pragma: no cover


def _unguarded(body: list) -> list:
    """The body of ``try: body except ArithmeticError: return fallback(...)`` (:func:`sct.unbox.guard`)."""
    if (
        len(body) == 1
        and isinstance(body[0], ast.Try)
        and len(body[0].handlers) == 1
        and isinstance(body[0].handlers[0].type, ast.Name)
        and body[0].handlers[0].type.id == "ArithmeticError"
    ):
        return body[0].body
    return body


class _Rewriter(ast.NodeTransformer):
    def __init__(self, fresh: _Fresh):
        self.fresh = fresh

    def visit_Delete(self, node: ast.Delete):
        """``del a, b  # not read again`` (:mod:`sct.passes.liveness`) frees memory in Python; numba refuses
        ``del`` of a name it may have to keep alive (a loop's counter) and frees its own: dropped."""
        return None if all(isinstance(t, ast.Name) for t in node.targets) else node

    def visit_For(self, node: ast.For):
        self.generic_visit(node)
        sources = _reversed_sources(node.iter)
        if sources is None:
            return node
        k = self.fresh("_k")
        targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        if len(targets) != len(sources):
            return node
        prelude, lengths, items = [], [], []
        for source in sources:
            if _is_range(source):  # reversed(range(a, b, s)[:c]): item j is a + j * s
                start, step, length = self._range_parts(source, prelude)
                lengths.append(length)
                items.append(lambda j, start=start, step=step: _add(start, _mul(j, step)))
            else:  # a stack: a list, indexed
                stack = self._named(source, prelude, "_r")
                length = _call("len", _load(stack))
                lengths.append(length)
                items.append(lambda j, stack=stack: ast.Subscript(value=_load(stack), slice=j, ctx=ast.Load()))
        if len(lengths) == 1:  # index k from the end down
            header = _call("range", _sub(lengths[0], 1), _const(-1), _const(-1))
            body = [ast.Assign(targets=[targets[0]], value=items[0](_load(k)))]
        else:  # zip: as long as the shortest; trip k reads each source's k-th item from its end
            n_names = [self.fresh("_n") for _ in lengths]
            prelude += [_assign(name, length) for name, length in zip(n_names, lengths)]
            header = _call("range", _call("min", *[_load(name) for name in n_names]))
            body = [
                ast.Assign(targets=[target], value=item(_sub(_sub(_load(n), 1), _load(k))))
                for target, item, n in zip(targets, items, n_names)
            ]
        loop = ast.For(target=_store(k), iter=header, body=body + node.body, orelse=node.orelse)
        return prelude + [loop]

    def _range_parts(self, source, prelude):
        rng, limit = (source.value, source.slice.upper) if isinstance(source, ast.Subscript) else (source, None)
        args = rng.args
        start = args[0] if len(args) > 1 else _const(0)
        step = args[2] if len(args) > 2 else _const(1)
        start = self._named(start, prelude, "_start")
        step = self._named(step, prelude, "_step")
        length = self._named(_call("len", rng), prelude, "_len")
        length = _load(length)
        if limit is not None:
            length = _call("min", length, limit)
        return _load(start), _load(step), length

    def _named(self, expr, prelude, base) -> str:
        if isinstance(expr, ast.Name):
            return expr.id
        if isinstance(expr, ast.Constant):
            return expr  # type: ignore[return-value]
        var = self.fresh(base)
        prelude.append(_assign(var, expr))
        return var


def _reversed_sources(it) -> list | None:
    """What ``reversed(s)``, or ``zip(reversed(s), reversed(t), ...)``, walks backwards; else None."""
    if _is_call(it, "reversed") and len(it.args) == 1:
        return [it.args[0]]
    if _is_call(it, "zip") and it.args and all(_is_call(a, "reversed") and len(a.args) == 1 for a in it.args):
        return [a.args[0] for a in it.args]
    return None


def _is_call(node, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name and not node.keywords


def _is_range(node) -> bool:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        s = node.slice
        return s.lower is None and s.step is None and s.upper is not None and _is_range(node.value)
    return _is_call(node, "range") and 1 <= len(node.args) <= 3


def _const(value):
    return ast.Constant(value=value)


def _load(name):
    return ast.Name(id=name, ctx=ast.Load()) if isinstance(name, str) else name


def _store(name: str):
    return ast.Name(id=name, ctx=ast.Store())


def _assign(name: str, value):
    return ast.Assign(targets=[_store(name)], value=value)


def _call(fn: str, *args):
    return ast.Call(func=ast.Name(id=fn, ctx=ast.Load()), args=[a for a in args if a is not None], keywords=[])


def _sub(a, b):
    return ast.BinOp(left=a, op=ast.Sub(), right=_const(b) if isinstance(b, int) else b)


def _add(a, b):
    if isinstance(a, ast.Constant) and a.value == 0:
        return b
    return ast.BinOp(left=a, op=ast.Add(), right=b)


def _mul(a, b):
    if isinstance(b, ast.Constant) and b.value == 1:
        return a
    return ast.BinOp(left=a, op=ast.Mult(), right=b)


# ---- compiling ---------------------------------------------------------------------------
def njit_function(text: str, fn_name: str, namespace: dict, user_fn):
    """``numba.njit`` of generated ``text`` (made numba-friendly) over ``namespace``; and the text."""

    numba = require_numba()
    text = numba_source(text, frozenset(k for k, v in namespace.items() if v is real_float))
    filename = f"<sct numba {fn_name} #{next(_counter)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    scope = {**namespace, POW_NAME: pow_function()}
    if any(name in text for name in revolve.NAMES):  # checkpoint=("revolve", s): its schedule, compiled too
        scope.update(revolve.native_helpers())
    exec(compile(text, filename, "exec"), scope)  # noqa: S102 - our own generated code
    return numba.njit(scope[fn_name]), text


class Native:
    """A variant's function compiled by numba, called like the Python one it is made from.

    ``python`` is the Python variant: it answers where the machine code raised
    or returned a value that is not finite (see the module docstring).
    """

    def __init__(self, text: str, fn_name: str, namespace: dict, user_globals: dict, user_fn, python):
        self.text, self.fn_name, self.user_fn, self.python = text, fn_name, user_fn, python
        self.namespace, self.user_globals = namespace, user_globals
        self.data = _data_globals(text, namespace, user_globals)
        self.jitted, self.numba_text = njit_function(text, fn_name, {**user_globals, **namespace}, user_fn)
        self.errors = require_numba().core.errors.NumbaError
        for line_no, what, advice in inexact(self.numba_text)[:1]:
            line = self.numba_text.splitlines()[line_no - 1].strip()
            message = (
                f'backend="numba": line {line_no} of the generated code, `{line}`, calls {what}, which sct does '
                "not run under numba: numba's own version may round some results differently from Python's "
                f"(or lack this form); {advice}"
            )
            raise NumbaUnsupportedError(Problem(message, user_location(user_fn, line)))
        self.kinds = None  # the NumPy scalar types of Python's result, where numba gives Python's (see _kinds)

    def __call__(self, *args):
        if self.data and any(self.user_globals.get(k, _MISSING) is not v for k, v in self.data.items()):
            self.__init__(self.text, self.fn_name, self.namespace, self.user_globals, self.user_fn, self.python)
        try:
            out = self.jitted(*args)
        except self.errors as exc:
            raise self._unsupported(exc) from None
        except Exception:  # Python's own answer: its error, or NumPy's value where unbox falls back
            return self.python(*args)
        if not _finite(out):
            return self.python(*args)
        if self.kinds is None:  # the first call: the types Python gives (np.exp of a float is an np.float64)
            self.kinds = _kinds(self.python(*args), out) or ()
        return _cast(out, self.kinds) if self.kinds else out

    def _unsupported(self, exc) -> NumbaUnsupportedError:
        loc = getattr(exc, "loc", None)
        line_no = getattr(loc, "line", None)
        lines = self.numba_text.splitlines()
        line = lines[line_no - 1].strip() if line_no and 0 < line_no <= len(lines) else None
        reason = _first_reason(str(exc))
        where = f"line {line_no} of the generated code, `{line}`" if line else "the generated code"
        message = (
            f'backend="numba": numba cannot compile {where}: {reason}. '
            "Use the default backend for this function, or rewrite the construct (see docs/performance.md)"
        )
        return NumbaUnsupportedError(Problem(message, user_location(self.user_fn, line)))


_MISSING = object()

_DATA = (int, float, complex, bool, np.ndarray, np.generic)


def _data_globals(text: str, namespace: dict, user_globals: dict) -> dict:
    """The plain-data module globals ``text`` reads (numba freezes them when it compiles)."""
    names = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return {k: user_globals[k] for k in names if k not in namespace and isinstance(user_globals.get(k), _DATA)}


def _finite(out) -> bool:
    """Whether every float in ``out`` is finite (``v - v`` is NaN for inf and NaN; a loop, the common case fast)."""
    kind = type(out)
    if kind is float:
        return out - out == 0.0
    if kind is tuple:
        for v in out:
            if type(v) is float:
                if v - v != 0.0:
                    return False
            elif not _finite(v):
                return False
        return True
    if isinstance(out, float):
        return math.isfinite(out)
    if isinstance(out, tuple | list):
        return all(_finite(v) for v in out)
    if isinstance(out, dict):
        return all(_finite(v) for v in out.values())
    if isinstance(out, np.ndarray | np.generic):
        return bool(np.isfinite(out).all()) if out.dtype.kind in "fc" else True
    return True


def _kinds(expected, got):
    """Where Python's result holds a NumPy scalar and numba's a Python number there: that type; else None.

    A tree like the result (tuples), of types and None; None for the whole where nothing differs.
    """
    if isinstance(expected, tuple) and isinstance(got, tuple) and len(expected) == len(got):
        inner = tuple(_kinds(e, g) for e, g in zip(expected, got))
        return inner if any(k is not None for k in inner) else None
    if isinstance(expected, np.generic) and not isinstance(got, np.generic | np.ndarray):
        return type(expected)
    return None


def _cast(out, kinds):
    if isinstance(kinds, tuple):
        return tuple(_cast(o, k) for o, k in zip(out, kinds)) if kinds else out
    return out if kinds is None else kinds(out)


def _first_reason(message: str) -> str:
    """Numba's reason, one line, without its terminal colours."""
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", message)
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    skip = ("Failed in nopython mode", "During:", "File ", "<source", "^")
    kept = [line for line in lines if not line.startswith(skip)]
    if not kept:
        return lines[0] if lines else "unknown reason"
    reason = kept[0]
    if reason.endswith(":") and len(kept) > 1:  # "No implementation of function ... found for signature:"
        reason += " " + kept[1].lstrip("> ")
    return reason.rstrip(".")


def user_location(user_fn, generated_line: str | None) -> Location | None:
    """Where in the user's function the generated ``line`` comes from, as near as its text says.

    The first of the user's lines that calls the function the line calls (``np.clip(``); else that
    assigns the user name it assigns (``delta_x`` and ``x``: ``x =``); else that mentions a name of
    it; else the ``def`` line.
    """
    import inspect
    import re

    try:
        lines, first = inspect.getsourcelines(user_fn)
        filename = inspect.getsourcefile(user_fn) or "<unknown>"
    except (OSError, TypeError):
        return None
    patterns = []
    node = _parsed_line(generated_line) if generated_line else None
    if node is not None and not isinstance(node, ast.FunctionDef):
        calls = [ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)]
        patterns += [re.escape(c) + r"\s*\(" for c in calls if c not in ("float", "len", "range")]
        targets = [n.id for t in getattr(node, "targets", []) for n in ast.walk(t) if isinstance(n, ast.Name)]
        patterns += [rf"\b{re.escape(t.removeprefix('delta_'))}\s*(\[.*\])?\s*[-+*/]?=(?!=)" for t in targets]
        names = [n.id.removeprefix("delta_") for n in ast.walk(node) if isinstance(n, ast.Name)]
        patterns += [rf"\b{re.escape(n)}\b" for n in names]
    for pattern in patterns:
        for offset, line in enumerate(lines):
            if offset and re.search(pattern, line.split("#")[0]):
                return Location(filename, first + offset, len(line) - len(line.lstrip()), line)
    return Location(filename, first, 0, lines[0]) if lines else None


def _parsed_line(text: str):
    text = text.strip()
    text = text + "\n    pass" if text.endswith(":") else text  # a header: a body to parse it with
    try:
        return ast.parse(text).body[0]
    except SyntaxError:
        return None
