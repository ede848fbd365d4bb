"""Random programs for property-based tests: hypothesis strategies that write source text.

``programs()`` draws a :class:`Program`: the source of a module defining one
function ``f`` over scalar and array parameters of random broadcast-compatible
shapes, built from the primitives sct supports (``+ - * / **``, unary minus,
``np.exp/log/sin/cos/tanh/sqrt/abs``, ``np.sum/np.mean``, ``math.*`` on
scalars), straight-line or, with ``control=True``, with ``if``, ``for`` over
``range`` and ``while``. Functions with domains are wrapped so every program is
defined everywhere (``np.log(e ** 2 + 1.0)``, ``a / (b ** 2 + 0.5)``).

``load(program)`` writes the source to a real file (sct reads source text with
:mod:`inspect`) and returns the function; ``directional_check`` compares a
gradient with central differences along a random direction.

Every subexpression has a shape that broadcasts to a *target* shape, so any two
of them combine: a shape ``s`` fits target ``t`` when it is ``t`` with some
leading axes dropped and some axes set to 1.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

_DIR = tempfile.TemporaryDirectory(prefix="sct_programs_")
atexit.register(_DIR.cleanup)
_counter = itertools.count()

UNIVERSES = [(), (3,), (3,), (2, 3), (2, 3), (2, 1, 3), (4, 2)]


@dataclass
class Program:
    source: str
    params: list[str]
    shapes: list  # per parameter: None for a Python float, else an array shape
    control: bool = False
    notes: list = field(default_factory=list)

    def __repr__(self):  # hypothesis prints this on failure: show the program
        return f"Program(shapes={self.shapes!r}, source=\n{self.source})"


def load(program: Program | str, name: str = "f"):
    """Write the program's source to a fresh file, import it, and return ``name`` from it."""
    text = program.source if isinstance(program, Program) else program
    stem = f"sct_prog_{next(_counter)}"
    path = Path(_DIR.name) / f"{stem}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    # exec the text directly: no .pyc, so a rewritten file is never shadowed by stale bytecode
    exec(compile(text, str(path), "exec"), module.__dict__)
    return getattr(module, name) if name else module


def sample(program: Program, seed: int):
    """(f, args, f(*args), rng) for a generated program, discarding examples whose value is not usable."""
    from hypothesis import assume

    rng = np.random.default_rng(seed)
    f = load(program)
    args = make_args(program, rng)
    try:
        with np.errstate(all="ignore"):
            value = f(*args)
    except (ValueError, ArithmeticError):  # math.exp(1e3) overflows, math.sin(inf): f itself fails here
        assume(False)
    assume(np.isfinite(value) and abs(value) < 1e6)
    return f, args, value, rng


def make_args(program: Program, rng: np.random.Generator) -> list:
    return [_value(s, rng) for s in program.shapes]


def _value(shape, rng):
    if shape is None:
        return float(rng.uniform(-1.5, 1.5))
    return rng.uniform(-1.5, 1.5, size=shape)


# ---- shapes --------------------------------------------------------------------
def fits(shape, target) -> bool:
    """``shape`` broadcasts to ``target`` without growing it."""
    if len(shape) > len(target):
        return False
    return all(a in (1, b) for a, b in zip(shape[::-1], target[::-1]))


def broadcast(*shapes):
    return np.broadcast_shapes(*shapes)


@st.composite
def sub_shapes(draw, target):
    """A shape that fits ``target``: some leading axes dropped, some axes set to 1."""
    drop = draw(st.integers(0, len(target)))
    kept = target[drop:]
    return tuple(draw(st.sampled_from([n, 1])) if n != 1 else 1 for n in kept)


# ---- expressions ------------------------------------------------------------------
@dataclass
class Var:
    name: str
    shape: tuple  # () for scalars
    exact: bool = True  # the shape is known exactly (not only an upper bound after an `if`)
    fresh: bool = True  # holds a new array, so `+=` on it cannot touch an argument


@dataclass
class Expr:
    text: str
    shape: tuple
    exact: bool = True


def _c(draw, lo=0.25, hi=2.0) -> str:
    value = round(draw(st.floats(lo, hi)), 3)
    return f"({value!r})" if math.copysign(1.0, value) < 0 else repr(value)  # `-1.5 ** 2` is -(1.5 ** 2)


class _Gen:
    """Draws expressions over the variables in scope."""

    def __init__(self, draw, scope):
        self.draw = draw
        self.scope = scope  # name -> Var

    def leaf(self, target) -> Expr:
        usable = [v for v in self.scope.values() if fits(v.shape, target)]
        if usable and self.draw(st.integers(0, 6)):
            v = self.draw(st.sampled_from(usable))
            return Expr(v.name, v.shape, v.exact)
        return Expr(_c(self.draw, -2.0, 2.0), ())

    def expr(self, target, depth) -> Expr:
        if depth <= 0:
            return self.leaf(target)
        kind = self.draw(
            st.sampled_from(["leaf", "bin", "bin", "div", "pow", "neg", "unary", "unary", "wrapped", "reduce", "math"])
        )
        return getattr(self, "_" + kind)(target, depth - 1)

    def _leaf(self, target, depth):
        return self.leaf(target)

    def _bin(self, target, depth):
        a, b = self.expr(target, depth), self.expr(target, depth)
        op = self.draw(st.sampled_from(["+", "-", "*"]))
        return Expr(f"({a.text} {op} {b.text})", broadcast(a.shape, b.shape), a.exact and b.exact)

    def _div(self, target, depth):
        a, b = self.expr(target, depth), self.expr(target, depth)
        text = f"({a.text} / ({b.text} ** 2 + {_c(self.draw, 0.5, 2.0)}))"
        return Expr(text, broadcast(a.shape, b.shape), a.exact and b.exact)

    def _pow(self, target, depth):
        a = self.expr(target, depth)
        if self.draw(st.booleans()):
            n = self.draw(st.sampled_from(["2", "3"]))
            return Expr(f"({a.text} ** {n})", a.shape, a.exact)
        p = self.draw(st.sampled_from(["0.5", "1.5", "-0.5", "-1.0", "2.5"]))
        return Expr(f"(({a.text} ** 2 + {_c(self.draw, 0.5, 2.0)}) ** {p})", a.shape, a.exact)

    def _neg(self, target, depth):
        a = self.expr(target, depth)
        return Expr(f"(-{a.text})", a.shape, a.exact)

    def _unary(self, target, depth):
        a = self.expr(target, depth)
        fn = self.draw(st.sampled_from(["exp", "sin", "cos", "tanh", "abs"]))
        return Expr(f"np.{fn}({a.text})", a.shape, a.exact)

    def _wrapped(self, target, depth):
        a = self.expr(target, depth)
        fn = self.draw(st.sampled_from(["log", "sqrt"]))
        return Expr(f"np.{fn}({a.text} ** 2 + {_c(self.draw, 0.5, 2.0)})", a.shape, a.exact)

    def _reduce(self, target, depth):
        a = self.expr(target, depth)
        fn = self.draw(st.sampled_from(["sum", "mean"]))
        if not (a.exact and a.shape) or self.draw(st.booleans()):
            return Expr(f"np.{fn}({a.text})", ())
        if self.draw(st.booleans()):
            return Expr(f"np.{fn}({a.text}, axis=0)", a.shape[1:])
        axis = self.draw(st.integers(-len(a.shape), len(a.shape) - 1))
        shape = list(a.shape)
        shape[axis] = 1
        return Expr(f"np.{fn}({a.text}, axis={axis}, keepdims=True)", tuple(shape))

    def _math(self, target, depth):
        a = self.expr((), depth)
        if a.shape != ():
            return self._reduce(target, depth)
        fn = self.draw(st.sampled_from(["sin", "cos", "exp", "tanh", "log", "sqrt"]))
        if fn in ("log", "sqrt"):
            return Expr(f"math.{fn}({a.text} ** 2 + {_c(self.draw, 0.5, 2.0)})", ())
        return Expr(f"math.{fn}({a.text})", ())


# ---- statements -----------------------------------------------------------------------
@st.composite
def programs(draw, control=(), max_depth=3, max_statements=4, scalars=False, shared=False):
    """A :class:`Program` whose function ``f`` returns a scalar.

    ``control`` names the compound statements to use besides assignments: any of
    ``"if"``, ``"for"``, ``"while"`` (``True`` for all three). ``scalars``: every
    parameter is a Python float. ``shared``: ``+=`` may update an array that an
    argument or another name holds too (NumPy then changes both).
    """
    universe = () if scalars else draw(st.sampled_from(UNIVERSES))
    n_params = draw(st.integers(1, 3))
    shapes = []
    for _ in range(n_params):
        if scalars or draw(st.integers(0, 3)) == 0:
            shapes.append(None)
        else:
            shapes.append(draw(sub_shapes(universe)))
    params = [f"x{i}" for i in range(n_params)]
    scope = {p: Var(p, () if s is None else s, fresh=False) for p, s in zip(params, shapes)}
    gen = _Gen(draw, scope)
    gen.shared = shared
    body: list[str] = []
    n_statements = draw(st.integers(0, max_statements))
    if control is True:
        control = ("if", "for", "while")
    kinds = ["assign", "assign", "augassign"] + list(control or ()) * 2
    for k in range(n_statements):
        kind = draw(st.sampled_from(kinds))
        depth = draw(st.integers(1, max_depth))
        _STATEMENTS[kind](draw, gen, body, f"t{k}", universe, depth)
    depth = draw(st.integers(1, max_depth))
    result = gen.expr(universe, depth)
    if body:  # make the value depend on the last statement
        last = gen.scope.get(f"t{n_statements - 1}")
        if last is not None:
            result = Expr(f"({result.text} + {last.name})", broadcast(result.shape, last.shape))
    if result.shape == () and draw(st.booleans()):
        body.append(f"return {result.text}")
    else:
        body.append(f"return np.{draw(st.sampled_from(['sum', 'mean']))}({result.text})")
    lines = ["import math", "", "import numpy as np", "", "", f"def f({', '.join(params)}):"]
    lines += ["    " + line for line in body]
    return Program("\n".join(lines) + "\n", params, shapes, bool(control))


def _assign(draw, gen, body, name, universe, depth):
    arrays = [v for v in gen.scope.values() if v.exact and v.shape]
    if getattr(gen, "shared", False) and arrays and draw(st.booleans()):  # another name for an array
        v = draw(st.sampled_from(arrays))
        body.append(f"{name} = {v.name}")
        gen.scope[name] = Var(name, v.shape, True, fresh=False)
        return
    e = gen.expr(universe, depth)
    body.append(f"{name} = {e.text}")
    _aliased(gen, e)
    gen.scope[name] = Var(name, e.shape, e.exact, fresh=not e.text.isidentifier())


def _aliased(gen, *exprs):
    """``name = other``: in Python both names hold one array, and ``+=`` on either would change both.

    sct reads ``x += e`` as ``x = x + e`` (docs/supported.md), so programs never update an alias in place.
    """
    for e in exprs:
        if e.text in gen.scope:
            gen.scope[e.text].fresh = False


def _augassign(draw, gen, body, name, universe, depth):
    targets = [v for v in gen.scope.values() if (v.fresh or gen.shared) and v.exact]
    if not targets:
        return _assign(draw, gen, body, name, universe, depth)
    v = draw(st.sampled_from(targets))
    # in place on an ndarray: the right side must not grow the target's shape
    e = gen.expr(v.shape, depth)
    op = draw(st.sampled_from(["+=", "-=", "*="]))
    body.append(f"{v.name} {op} {e.text}")


def _scalar_test(draw, gen, depth):
    e = gen.expr((), depth)
    text = e.text if e.shape == () else f"np.sum({e.text})"
    return f"{text} > {_c(draw, -1.0, 1.0)}"


def _if(draw, gen, body, name, universe, depth):
    test = _scalar_test(draw, gen, depth)
    a, b = gen.expr(universe, depth), gen.expr(universe, depth)
    body += [f"if {test}:", f"    {name} = {a.text}", "else:", f"    {name} = {b.text}"]
    _aliased(gen, a, b)
    shape = broadcast(a.shape, b.shape)
    gen.scope[name] = Var(name, shape, a.shape == b.shape and a.exact and b.exact, fresh=False)


def _for(draw, gen, body, name, universe, depth):
    init = gen.expr(universe, depth)
    body.append(f"{name} = {init.text}")
    _aliased(gen, init)
    var = gen.scope[name] = Var(name, init.shape, init.exact, fresh=False)
    i = f"i{name}"
    gen.scope[i] = Var(i, (), fresh=False)
    step = gen.expr(var.shape, depth)
    decay = _c(draw, 0.1, 0.9)
    n = draw(st.integers(0, 4))
    body += [f"for {i} in range({n}):", f"    {name} = {decay} * {name} + np.tanh({step.text})"]
    del gen.scope[i]  # the loop variable is unbound when the range is empty


def _while(draw, gen, body, name, universe, depth):
    if draw(st.booleans()):  # a counted loop
        init = gen.expr(universe, depth)
        body.append(f"{name} = {init.text}")
        var = gen.scope[name] = Var(name, init.shape, init.exact, fresh=False)
        k = f"k{name}"
        step = gen.expr(var.shape, depth)
        body += [
            f"{k} = 0",
            f"while {k} < {draw(st.integers(0, 4))}:",
            f"    {name} = {_c(draw, 0.1, 0.9)} * {name} + np.sin({step.text})",
            f"    {k} = {k} + 1",
        ]
        return
    # a data-dependent loop: every trip adds at least 0.5, so at most ~8 trips
    init = gen.expr((), depth)
    step = gen.expr((), depth)
    start = f"np.tanh({init.text})" if init.shape == () else f"np.tanh(np.sum({init.text}))"
    body += [
        f"{name} = {start}",
        f"while {name} < {_c(draw, 0.0, 3.0)}:",
        f"    {name} = {name} + 0.5 + {step.text} ** 2",
    ]
    gen.scope[name] = Var(name, (), fresh=False)


_STATEMENTS = {
    "assign": _assign,
    "augassign": _augassign,
    "if": _if,
    "for": _for,
    "while": _while,
}


# ---- checking -------------------------------------------------------------------------
class IllConditioned(Exception):
    """Central differences are not trustworthy here (a kink, a branch, huge values)."""


def _shift(args, direction, t):
    return [a + t * d for a, d in zip(args, direction)]


def directional_fd(f, args, direction, h):
    return (f(*_shift(args, direction, h)) - f(*_shift(args, direction, -h))) / (2 * h)


def directional_check(f, args, grads, direction, value=None):
    """Assert ``sum(grad * direction)`` matches central differences; IllConditioned if FD cannot tell.

    Central differences at two steps must agree before they are trusted (near a
    kink of ``abs`` or a branch boundary they do not); the comparison then uses
    their Richardson extrapolation, accurate to O(h**4).
    """
    value = f(*args) if value is None else value
    analytic = float(sum(np.vdot(np.asarray(g, float), np.asarray(d, float)) for g, d in zip(grads, direction)))
    if not (np.isfinite(value) and abs(value) < 1e6 and np.isfinite(analytic) and abs(analytic) < 1e6):
        raise IllConditioned(f"value {value!r}, derivative {analytic!r}")
    with np.errstate(all="ignore"):
        fd1 = directional_fd(f, args, direction, 2e-4)
        fd2 = directional_fd(f, args, direction, 1e-4)
    if not (np.isfinite(fd1) and np.isfinite(fd2)):
        raise IllConditioned("finite differences overflow")
    scale = 1.0 + abs(fd2) + abs(analytic)
    if abs(fd1 - fd2) > 1e-4 * scale:
        raise IllConditioned(f"finite differences disagree: {fd1!r} at h=2e-4, {fd2!r} at h=1e-4")
    richardson = (4.0 * fd2 - fd1) / 3.0
    tol = 1e-6 * scale + 2.0 * abs(fd1 - fd2) + 1e-10 * abs(value)
    assert abs(analytic - richardson) <= tol, (
        f"gradient mismatch: analytic {analytic!r}, central differences {richardson!r} "
        f"(h=2e-4: {fd1!r}, h=1e-4: {fd2!r})"
    )


def random_direction(args, rng):
    return [float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a)) for a in args]


def snapshot(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def assert_unchanged(before, after):
    for i, (b, a) in enumerate(zip(before, after)):
        assert type(b) is type(a), f"argument {i} changed type"
        assert np.array_equal(b, a, equal_nan=True), f"argument {i} was mutated"
