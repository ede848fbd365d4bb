"""Random programs for property-based tests: hypothesis strategies that write source text.

``programs()`` draws a :class:`Program`: the source of a module defining one
function ``f`` over scalar and array parameters of random broadcast-compatible
shapes, built from the primitives sct supports (``+ - * / **``, unary minus,
``np.exp/log/sin/cos/tanh/sqrt/abs``, ``np.sum/np.mean``, ``np.convolve``,
``np.interp`` over increasing constant points, ``math.*`` on scalars),
straight-line or, with ``control=True``, with ``if``, ``for`` over ``range``
and ``while``. Functions with domains are wrapped so every program is
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
from hypothesis import HealthCheck, Phase, settings
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
    if isinstance(shape, Tree):
        return shape.build(lambda spec: _value(spec, rng))
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
            st.sampled_from(
                ["leaf", "bin", "bin", "div", "pow", "neg", "unary", "unary", "wrapped", "reduce", "math", "signal"]
            )
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

    def _signal(self, target, depth):
        """``np.convolve`` (any mode, either operand first) or ``np.interp`` (``xp`` increasing constants)."""
        if self.draw(st.booleans()):
            return self._convolve(target, depth)
        x = self.expr(target, depth)
        m = self.draw(st.integers(2, 4))
        xp = sorted(self.draw(st.lists(st.integers(-20, 20), min_size=m, max_size=m, unique=True)))
        xp_text = f"np.array({[k / 10 for k in xp]!r})"
        fp = self.draw(st.lists(st.floats(-2.0, 2.0).map(lambda v: round(v, 3)), min_size=m, max_size=m))
        fp_text = f"np.array({fp!r})"
        if self.draw(st.booleans()):  # values that carry a derivative
            fp_text = f"({self.expr((), depth).text} * {fp_text} + {_c(self.draw, -1.0, 1.0)})"
        return Expr(f"np.interp({x.text}, {xp_text}, {fp_text})", x.shape, x.exact)

    def _convolve(self, target, depth):
        n = target[-1] if target else 3
        a = self.expr((n,), depth)
        a_text = a.text if a.exact and a.shape == (n,) else f"({a.text} * np.ones({n}))"  # exactly (n,)
        k = self.draw(st.integers(1, 4))
        kernel = [round(self.draw(st.floats(-1.0, 1.0)), 3) for _ in range(k)]
        v_text = f"({self.expr((), depth).text} * np.array({kernel!r}))"
        mode = self.draw(st.sampled_from(["full", "same", "valid"]))
        first, second = (a_text, v_text) if self.draw(st.booleans()) else (v_text, a_text)
        text = f"np.convolve({first}, {second}, {mode!r})"
        if mode == "same" and k <= n and target:  # max(n, k) = n long: the last axis of the target
            return Expr(text, (n,))
        return Expr(f"np.sum({text} * {_c(self.draw, 0.25, 1.0)})", ())

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
    return [tree_map(lambda a, d: a + t * d, a, d) for a, d in zip(args, direction)]


def directional_fd(f, args, direction, h):
    return (f(*_shift(args, direction, h)) - f(*_shift(args, direction, -h))) / (2 * h)


def directional_check(f, args, grads, direction, value=None):
    """Assert ``sum(grad * direction)`` matches central differences; IllConditioned if FD cannot tell.

    Central differences at two steps must agree before they are trusted (near a
    kink of ``abs`` or a branch boundary they do not); the comparison then uses
    their Richardson extrapolation, accurate to O(h**4).
    """
    value = f(*args) if value is None else value
    pairs = zip(tree_leaves(list(grads)), tree_leaves(list(direction)), strict=True)
    analytic = float(sum(np.vdot(np.asarray(g, float), np.asarray(d, float)) for g, d in pairs))
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
    return [
        tree_map(lambda a: float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a)), a)
        for a in args
    ]


def snapshot(args):
    return [tree_map(lambda a: a.copy() if isinstance(a, np.ndarray) else a, a) for a in args]


def assert_unchanged(before, after):
    for i, (b, a) in enumerate(zip(before, after)):
        assert_same_structure(b, a, f"argument {i}")
        for lb, la in zip(tree_leaves(b), tree_leaves(a)):
            assert type(lb) is type(la), f"argument {i} changed type"
            assert np.array_equal(lb, la, equal_nan=True), f"argument {i} was mutated"


# ---- pytrees: lists, tuples and dicts nested to any depth ------------------------------------
def tree_leaves(x) -> list:
    if type(x) in (list, tuple):
        return [leaf for v in x for leaf in tree_leaves(v)]
    if type(x) is dict:
        return [leaf for v in x.values() for leaf in tree_leaves(v)]
    return [x]


def tree_map(fn, x, *rest):
    if type(x) in (list, tuple):
        return type(x)(tree_map(fn, *parts) for parts in zip(x, *rest, strict=True))
    if type(x) is dict:
        return {k: tree_map(fn, v, *(r[k] for r in rest)) for k, v in x.items()}
    return fn(x, *rest)


def assert_same_structure(primal, other, where="value"):
    """``other`` has ``primal``'s containers (types, lengths, keys in order), a float for each float
    and an array of the same shape for each array."""
    if type(primal) in (list, tuple, dict):
        assert type(other) is type(primal), (
            f"{where}: {type(other).__name__} where the primal is {type(primal).__name__}"
        )
        assert len(other) == len(primal), f"{where}: {len(other)} items where the primal has {len(primal)}"
        if type(primal) is dict:
            assert list(other) == list(primal), f"{where}: keys {list(other)!r} where the primal has {list(primal)!r}"
            for k in primal:
                assert_same_structure(primal[k], other[k], f"{where}[{k!r}]")
        else:
            for k, (p, o) in enumerate(zip(primal, other)):
                assert_same_structure(p, o, f"{where}[{k}]")
    elif isinstance(primal, float):
        assert isinstance(other, float), f"{where}: a {type(other).__name__} where the primal is a float"
    else:
        assert isinstance(other, np.ndarray | np.generic | float), f"{where}: a {type(other).__name__}"
        assert np.shape(other) == np.shape(primal), f"{where}: shape {np.shape(other)} for {np.shape(primal)}"


# ---- idioms: the Python people write around the arithmetic (issue 12) -------------------------
# ``idioms(family)`` draws a Program in one family of idioms; its arguments may be containers
# (``Program.shapes`` holds a ``Tree`` for those). Every idiom's result flows into the return
# value, so a wrong container, order, index or name shows in the value or the gradient.
FAMILIES = (
    "containers",
    "simultaneous",
    "targets",
    "dicts",
    "fancy",
    "builtins",
    "calls",
    "functions",
    "sequences",
    "mutation",
    "reductions",
    "indexing",
)


@dataclass(frozen=True)
class Tree:
    """A container argument: ``kind`` is list, tuple or dict, ``items`` its (key, spec) pairs; a spec
    is None (a Python float), an array shape, or another Tree."""

    kind: type
    items: tuple

    def build(self, leaf):
        values = [(k, s.build(leaf) if isinstance(s, Tree) else leaf(s)) for k, s in self.items]
        return dict(values) if self.kind is dict else self.kind(v for _, v in values)

    def paths(self, prefix):
        """(``prefix[k]...`` text, spec) for every leaf."""
        for k, s in self.items:
            text = f"{prefix}[{k!r}]"
            if isinstance(s, Tree):
                yield from s.paths(text)
            else:
                yield text, s

    def flat(self) -> bool:
        """A list or tuple of leaves only (something ``for v in x`` may run over)."""
        return self.kind is not dict and all(not isinstance(s, Tree) for _, s in self.items)


def _leaf_spec(draw, universe):
    return None if draw(st.integers(0, 3)) == 0 else draw(sub_shapes(universe))


@st.composite
def trees(draw, universe, depth=3, kinds=(list, tuple, dict), min_size=1):
    kind = draw(st.sampled_from(kinds))
    n = draw(st.integers(min_size, 3))
    keys = (
        range(n) if kind is not dict else draw(st.lists(st.sampled_from("abcdw"), min_size=n, max_size=n, unique=True))
    )
    items = []
    for k in keys:
        if depth > 1 and draw(st.integers(0, 2)) == 0:
            items.append((k, draw(trees(universe, depth - 1, kinds))))
        else:
            items.append((k, _leaf_spec(draw, universe)))
    return Tree(kind, tuple(items))


def _shape(spec):
    return () if spec is None else spec


class _Ctx:
    """One program being written: module-level lines, the body of ``f``, its parameters, and the
    values that must reach the result."""

    def __init__(self, draw, universes=UNIVERSES):
        self.draw = draw
        self.universe = draw(st.sampled_from(universes))
        self.gen = _Gen(draw, {})
        self.module: list[str] = []
        self.body: list[str] = []
        self.params: list[str] = []
        self.shapes: list = []
        self.outputs: list[Expr] = []
        self.used: list[str] = []  # the idioms written, for Program.notes
        self.defaults: list[str] = []  # `name=value` parameters after the drawn ones (not passed)
        self._names = itertools.count()

    def write(self, *idioms):
        """Write one of ``idioms``, drawn."""
        fn = self.draw(st.sampled_from(idioms))
        self.used.append(fn.__name__.lstrip("_"))
        fn(self)

    def name(self, prefix="t"):
        return f"{prefix}{next(self._names)}"

    def expr(self, target=None, depth=None, scope=None) -> Expr:
        depth = self.draw(st.integers(1, 2)) if depth is None else depth
        gen = self.gen if scope is None else _Gen(self.draw, scope)
        return gen.expr(self.universe if target is None else target, depth)

    def bounded(self, target=None) -> str:
        """An expression in (-1, 1) over the scope: loops stay bounded."""
        return f"np.tanh({self.expr(target).text})"

    def decay(self):
        return _c(self.draw, 0.1, 0.9)

    def see(self, text, shape, exact=True):
        self.gen.scope[text] = Var(text, shape, exact, fresh=False)

    def forget(self, *texts):
        for t in texts:
            self.gen.scope.pop(t, None)

    def param(self, spec):
        name = f"x{len(self.params)}"
        self.params.append(name)
        self.shapes.append(spec)
        if isinstance(spec, Tree):
            for text, leaf in spec.paths(name):
                self.see(text, _shape(leaf))
        else:
            self.see(name, _shape(spec))
        return name

    def params_drawn(self, n_max=2, tree_chance=True):
        for _ in range(self.draw(st.integers(1, n_max))):
            if tree_chance and self.draw(st.booleans()):
                self.param(self.draw(trees(self.universe)))
            else:
                self.param(_leaf_spec(self.draw, self.universe))

    def output(self, text, shape, exact=True):
        self.outputs.append(Expr(text, shape, exact))

    def leaf_list(self, n_min=1, kinds=(list,)):
        """(text, [(element text, shape)], kind) of a list or tuple of leaves: a parameter or a new local."""
        flat = [
            (p, s)
            for p, s in zip(self.params, self.shapes)
            if isinstance(s, Tree) and s.flat() and s.kind in kinds and len(s.items) >= n_min
        ]
        if flat and self.draw(st.booleans()):
            p, s = self.draw(st.sampled_from(flat))
            return p, [(f"{p}[{k}]", _shape(leaf)) for k, leaf in s.items], s.kind
        kind = self.draw(st.sampled_from(kinds))
        items = [self.expr() for _ in range(self.draw(st.integers(max(n_min, 1), 3)))]
        name = self.name()
        texts = ", ".join(e.text for e in items)
        self.body.append(f"{name} = ({texts},)" if kind is tuple else f"{name} = [{texts}]")
        for k, e in enumerate(items):
            self.see(f"{name}[{k}]", e.shape, e.exact)
        return name, [(f"{name}[{k}]", e.shape) for k, e in enumerate(items)], kind

    def program(self) -> Program:
        result = self.expr()
        terms = [result.text]
        for e in self.outputs:
            terms.append(e.text if e.exact and fits(e.shape, self.universe) else f"np.sum({e.text})")
        text = " + ".join(terms)
        reduce = self.draw(st.sampled_from(["sum", "mean"]))
        body = [*self.body, f"return np.{reduce}({text})"]
        lines = ["import builtins", "import math", "", "import numpy as np", "", ""]
        lines += self.module + ([""] if self.module else []) + ["", f"def f({', '.join(self.params + self.defaults)}):"]
        lines += ["    " + line for line in body]
        return Program("\n".join(lines) + "\n", self.params, self.shapes, True, notes=self.used)


def _indent(lines, n=1):
    return ["    " * n + line for line in lines]


def _accumulate(ctx, over_text, values, shape_of_item, head, item_text):
    """``s = 0.0`` then ``head: s = decay * s + item``: the order of the items shows in the value."""
    s = ctx.name("s")
    shape = broadcast(*values) if values else ()
    ctx.body += [f"{s} = 0.0", head, f"    {s} = {ctx.decay()} * {s} + {item_text}"]
    ctx.output(s, shape, exact=False)
    return s


# ---- containers nested up to three deep: arguments, locals, results of helpers ----
def _container_literal(ctx, depth, scope=None, names=None):
    """(text, [(path suffix, Expr)]) of a nested list/tuple/dict literal of expressions."""
    kind = ctx.draw(st.sampled_from([list, tuple, dict]))
    n = ctx.draw(st.integers(1, 3))
    keys = (
        list(range(n))
        if kind is not dict
        else ctx.draw(st.lists(st.sampled_from("pqrs"), min_size=n, max_size=n, unique=True))
    )
    parts, leaves = [], []
    for k in keys:
        if depth > 1 and ctx.draw(st.integers(0, 2)) == 0:
            text, sub = _container_literal(ctx, depth - 1, scope)
            leaves += [(f"[{k!r}]{p}", e) for p, e in sub]
        else:
            e = ctx.expr(scope=scope)
            text = e.text
            leaves.append((f"[{k!r}]", e))
        parts.append(f"{k!r}: {text}" if kind is dict else text)
    inner = ", ".join(parts)
    if kind is dict:
        return "{" + inner + "}", leaves
    return (f"({inner},)" if kind is tuple else f"[{inner}]"), leaves


def _c_local(ctx):
    name = ctx.name()
    text, leaves = _container_literal(ctx, ctx.draw(st.integers(1, 3)))
    ctx.body.append(f"{name} = {text}")
    for p, e in leaves:
        ctx.see(name + p, e.shape, e.exact)
    p, e = ctx.draw(st.sampled_from(leaves))
    ctx.output(name + p, e.shape, e.exact)


def _c_helper(ctx):
    h = ctx.name("h")
    scope = {"a": Var("a", ()), "b": Var("b", ())}  # called with scalars: every shape then fits
    text, leaves = _container_literal(ctx, ctx.draw(st.integers(1, 3)), scope=scope)
    ctx.module += [f"def {h}(a, b):", f"    return {text}", "", ""]
    e1, e2 = ctx.expr(()), ctx.expr(())
    name = ctx.name()
    ctx.body.append(f"{name} = {h}({e1.text}, {e2.text})")
    for p, _ in leaves:
        ctx.see(name + p, ())
    p, _ = ctx.draw(st.sampled_from(leaves))
    ctx.output(name + p, ())


def _c_pairs(ctx):
    """``for W, b in params``: the usual list of per-layer tuples."""
    n = ctx.draw(st.integers(1, 3))
    kind = ctx.draw(st.sampled_from([list, tuple]))
    layers = Tree(
        kind,
        tuple(
            (k, Tree(tuple, ((0, _leaf_spec(ctx.draw, ctx.universe)), (1, _leaf_spec(ctx.draw, ctx.universe)))))
            for k in range(n)
        ),
    )
    p = ctx.param(layers)
    s = ctx.name("s")
    w, b = ctx.name("w"), ctx.name("b")
    ctx.body += [f"{s} = 0.0", f"for {w}, {b} in {p}:", f"    {s} = {s} + np.sum({w} ** 2) + np.sum(np.sin({b}) * {w})"]
    ctx.output(s, ())


def _c_iterate(ctx):
    text, items, _ = ctx.leaf_list(kinds=(list, tuple))
    v = ctx.name("v")
    _accumulate(ctx, text, [s for _, s in items], None, f"for {v} in {text}:", f"np.tanh({v})")


@st.composite
def _containers(draw):
    ctx = _Ctx(draw)
    ctx.params_drawn()
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_c_local, _c_helper, _c_pairs, _c_iterate)
    return ctx


# ---- simultaneous assignment: `x, y = y * 2.0, x`, straight, in `for` and in `while` ----
def _rotation(ctx, names):
    """A right side for ``names`` that reads the names it assigns."""
    form = ctx.draw(st.sampled_from(["swap", "scaled", "fib", "mixed"]))
    ctx.used.append(form)
    n = len(names)
    if form == "swap":
        k = ctx.draw(st.integers(1, n - 1))
        return [names[(i + k) % n] for i in range(n)]
    if form == "scaled":  # x, y = y * 2.0, x
        return [f"{names[(i + 1) % n]} * {ctx.decay()}" if i == 0 else names[(i + 1) % n] for i in range(n)]
    if form == "fib":  # a, b = b, a + b (halved to stay bounded)
        return (
            [names[-1], f"0.5 * ({' + '.join(names)})"] if n == 2 else [*names[1:], f"0.5 * ({names[0]} + {names[-1]})"]
        )
    return [f"{ctx.decay()} * {names[(i + 1) % n]} + {ctx.bounded()}" for i in range(n)]


def _simultaneous_statement(ctx, names):
    rhs = _rotation(ctx, names)
    open_, close = ctx.draw(st.sampled_from([("", ""), ("(", ")"), ("[", "]")]))
    return f"{open_}{', '.join(names)}{close} = {', '.join(rhs)}"


@st.composite
def _simultaneous(draw):
    ctx = _Ctx(draw)
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 2))):
        names = [ctx.name() for _ in range(draw(st.integers(2, 3)))]
        inits = [ctx.expr() for _ in names]
        ctx.body.append(f"{', '.join(names)} = {', '.join(e.text for e in inits)}")
        shape = broadcast(*(e.shape for e in inits))
        for n in names:
            ctx.see(n, shape, exact=False)
        where = draw(st.sampled_from(["straight", "for", "while"]))
        statement = _simultaneous_statement(ctx, names)
        ctx.used.append(f"{len(names)} names {where}")
        trips = draw(st.integers(0, 4))
        if where == "straight":
            ctx.body.append(statement)
        elif where == "for":
            ctx.body += [f"for _ in range({trips}):", "    " + statement]
        else:
            k = ctx.name("k")
            ctx.body += [f"{k} = 0", f"while {k} < {trips}:", "    " + statement, f"    {k} = {k} + 1"]
        for i, n in enumerate(names):
            ctx.output(f"{n} * {float(i + 1)!r}", shape, exact=False)
    return ctx


# ---- nested and starred targets ----
def _t_nested(ctx):
    a, b, c = ctx.name(), ctx.name(), ctx.name()
    ea, eb, ec = ctx.expr(), ctx.expr(), ctx.expr()
    form = ctx.draw(st.integers(0, 2))
    if form == 0:
        ctx.body.append(f"({a}, {b}), {c} = ({ea.text}, {eb.text}), {ec.text}")
    elif form == 1:
        ctx.body.append(f"{a}, [{b}, {c}] = {ea.text}, [{eb.text}, {ec.text}]")
    else:
        t = ctx.name()
        ctx.body += [f"{t} = ({ea.text}, ({eb.text}, {ec.text}))", f"{a}, ({b}, {c}) = {t}"]
    for n, e in zip((a, b, c), (ea, eb, ec)):
        ctx.see(n, e.shape, e.exact)
        ctx.output(f"{n} * {ctx.decay()}", e.shape, e.exact)


def _t_starred(ctx):
    text, items, _ = ctx.leaf_list(n_min=2, kinds=(list, tuple))
    shapes = [s for _, s in items]
    first, rest = ctx.name(), ctx.name()
    form = ctx.draw(st.integers(0, 2))
    if form == 0:
        ctx.body.append(f"{first}, *{rest} = {text}")
        ctx.output(first, shapes[0])
        others = shapes[1:]
    elif form == 1:
        ctx.body.append(f"*{rest}, {first} = {text}")
        ctx.output(first, shapes[-1])
        others = shapes[:-1]
    else:
        last = ctx.name()
        ctx.body.append(f"{first}, *{rest}, {last} = {text}")
        ctx.output(f"{first} * {ctx.decay()}", shapes[0])
        ctx.output(last, shapes[-1])
        others = shapes[1:-1]
    v = ctx.name("v")
    _accumulate(ctx, rest, others, None, f"for {v} in {rest}:", f"np.sin({v})")


def _t_loop(ctx):
    _, xs, _ = ctx.leaf_list(n_min=1)
    pairs = ctx.name()
    items = [(t, s, ctx.expr()) for t, s in xs]
    ctx.body.append(f"{pairs} = [{', '.join(f'({t}, {e.text})' for t, _, e in items)}]")
    i, a, b = ctx.name("i"), ctx.name("a"), ctx.name("b")
    shapes = [broadcast(s, e.shape) for _, s, e in items]
    if ctx.draw(st.booleans()):
        head, item = f"for {i}, ({a}, {b}) in enumerate({pairs}):", f"({i} + 1.0) * {a} * np.cos({b})"
    else:
        head, item = f"for ({a}, {b}) in {pairs}:", f"{a} - np.sin({b})"
    _accumulate(ctx, pairs, shapes, None, head, item)


@st.composite
def _targets(draw):
    ctx = _Ctx(draw)
    ctx.params_drawn()
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_t_nested, _t_starred, _t_loop)
    return ctx


# ---- dict iteration ----
def _dict_source(ctx):
    """(text, [(key, shape)]) of a dict: a parameter (str keys) or a local with int keys out of order."""
    dicts = [
        (p, s)
        for p, s in zip(ctx.params, ctx.shapes)
        if isinstance(s, Tree) and s.kind is dict and all(not isinstance(v, Tree) for _, v in s.items)
    ]
    if dicts and ctx.draw(st.booleans()):
        p, s = ctx.draw(st.sampled_from(dicts))
        return p, [(k, _shape(v)) for k, v in s.items]
    keys = ctx.draw(st.permutations([0, 1, 2, 3]))[: ctx.draw(st.integers(1, 4))]
    values = [ctx.expr() for _ in keys]
    name = ctx.name("d")
    ctx.body.append(f"{name} = {{{', '.join(f'{k!r}: {e.text}' for k, e in zip(keys, values))}}}")
    return name, [(k, e.shape) for k, e in zip(keys, values)]


def _d_loop(ctx):
    d, items = _dict_source(ctx)
    ints = isinstance(items[0][0], int)
    weight = lambda k: f"({k} + 1.0) * " if ints else ""  # noqa: E731 the key shows in the value
    k, v = ctx.name("k"), ctx.name("v")
    form = ctx.draw(st.sampled_from(["in", "items", "values", "keys", "sorted", "get"]))
    heads = {
        "in": (f"for {k} in {d}:", f"{weight(k)}{d}[{k}]"),
        "items": (f"for {k}, {v} in {d}.items():", f"{weight(k)}{v}"),
        "values": (f"for {v} in {d}.values():", f"np.tanh({v})"),
        "keys": (f"for {k} in {d}.keys():", f"{weight(k)}{d}[{k}]"),
        "sorted": (f"for {k} in sorted({d}):", f"{weight(k)}{d}[{k}]"),
        "get": (f"for {k} in {[0, 1, 2, 3] if ints else ['a', 'b', 'c', 'w']!r}:", f"{d}.get({k}, 0.0)"),
    }
    head, item = heads[form]
    ctx.used.append(f"{form} {'int' if ints else 'str'} keys")
    _accumulate(ctx, d, [s for _, s in items], None, head, item)


def _d_get(ctx):
    d, items = _dict_source(ctx)
    key = ctx.draw(st.sampled_from([k for k, _ in items] + ([7] if isinstance(items[0][0], int) else ["z"])))
    default = ctx.expr()
    shapes = dict(items)
    ctx.output(f"{d}.get({key!r}, {default.text})", shapes.get(key, default.shape), default.exact)


@st.composite
def _dicts(draw):
    ctx = _Ctx(draw)
    if draw(st.booleans()):
        ctx.param(draw(trees(ctx.universe, depth=1, kinds=(dict,))))
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_d_loop, _d_loop, _d_get)
    return ctx


# ---- repeated fancy indices in reads and writes ----
def _index(ctx):
    n = ctx.universe[0]
    picks = ctx.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
    if len(picks) > 1 and ctx.draw(st.booleans()):
        picks[1] = picks[0]  # a repeat
    ctx.used.append("repeated index" if len(set(picks)) < len(picks) else "distinct index")
    text = f"np.array({picks!r})" if ctx.draw(st.integers(0, 3)) else repr(picks)
    return text, (len(picks), *ctx.universe[1:])


def _f_write(ctx):
    y = ctx.name("y")
    ctx.body.append(f"{y} = np.ones({ctx.universe!r}) * {ctx.expr().text}")
    for _ in range(ctx.draw(st.integers(1, 2))):
        index, shape = _index(ctx)
        op = ctx.draw(st.sampled_from(["=", "+=", "-=", "*="]))
        ctx.used.append(f"y[i] {op}")
        v = ctx.expr(shape)
        if ctx.draw(st.booleans()):
            i = ctx.name("i")
            ctx.body.append(f"{i} = {index}")
            index = i
        ctx.body.append(f"{y}[{index}] {op} {v.text}")
    ctx.see(y, ctx.universe)
    ctx.output(f"{y} * {ctx.expr().text}", ctx.universe)


def _f_read(ctx):
    arrays = [v for v in ctx.gen.scope.values() if v.exact and v.shape == ctx.universe]
    index, shape = _index(ctx)
    if arrays and ctx.draw(st.booleans()):
        base = ctx.draw(st.sampled_from(arrays)).name
    else:
        base = ctx.name("y")
        ctx.body.append(f"{base} = np.ones({ctx.universe!r}) * {ctx.expr().text}")
        ctx.see(base, ctx.universe)
    ctx.output(f"{base}[{index}] * {ctx.expr(shape).text}", shape)


def _f_read_write(ctx):
    """``a = y[index]`` then a write into ``y``, then both read: a copy (an index array, or a name bound only to
    one) keeps the old values; a view (a slice, a row, a name bound to an int after an index array) sees the
    write, which sct must follow or refuse."""
    y, a = ctx.name("y"), ctx.name("a")
    ctx.body.append(f"{y} = np.ones({ctx.universe!r}) * {ctx.expr().text}")
    n = ctx.universe[0]
    kind = ctx.draw(st.sampled_from(["index", "named index", "slice", "row", "rebound"]))
    ctx.used.append(f"read by {kind} before a write")
    index, shape = _index(ctx)
    if kind == "named index" or kind == "rebound":
        i = ctx.name("i")
        ctx.body.append(f"{i} = {index}")
        if kind == "rebound":
            k = ctx.draw(st.integers(0, n - 1))
            ctx.body.append(f"{i} = {k}")
            shape = ctx.universe[1:]
        index = i
    elif kind == "slice":
        start = ctx.draw(st.integers(0, n - 1))
        index, shape = f"{start}:", (n - start, *ctx.universe[1:])
    elif kind == "row":
        index, shape = repr(ctx.draw(st.integers(0, n - 1))), ctx.universe[1:]
    ctx.body.append(f"{a} = {y}[{index}]")
    written, written_shape = _index(ctx)
    op = ctx.draw(st.sampled_from(["=", "+=", "*="]))
    ctx.body.append(f"{y}[{written}] {op} {ctx.expr(written_shape).text}")
    ctx.output(f"{a} * {ctx.expr(shape).text}", shape, exact=False)
    ctx.output(f"{y} * {ctx.expr().text}", ctx.universe, exact=False)


@st.composite
def _fancy(draw):
    ctx = _Ctx(draw, universes=[(3,), (4,), (3, 2), (4, 3)])
    ctx.param(ctx.universe)
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_f_write, _f_write, _f_read, _f_read_write)
    return ctx


# ---- builtins shadowed by module globals and by locals ----
_SHADOWS = {
    "len": ["def len(v):", "    return 2"],
    "range": ["def range(n):", "    return builtins.range(n - 1, -1, -1)"],
    "min": ["min = max"],
    "float": ["def float(v):", "    return 2.0 * v + 1.0"],
    "sum": ["def sum(xs):", "    return xs[-1] * 2.0"],
}


def _b_use(ctx, name, local_names):
    """A call of ``name`` as the program means it (the module's, unless a local took the name),
    and a ``for`` over a list, which a compiler may lower with ``len`` and ``range``."""
    text, items, _ = ctx.leaf_list(n_min=2)
    shapes = [s for _, s in items]
    if name not in local_names:
        if name == "len":
            ctx.output(f"{ctx.expr().text} * len({text})", ctx.universe, exact=False)
        elif name == "range":
            i = ctx.name("i")
            _accumulate(ctx, text, shapes, None, f"for {i} in range({len(items)}):", f"np.tanh({text}[{i}])")
        elif name in ("min", "float"):
            a, b = ctx.expr(()), ctx.expr(())
            ctx.output(f"min({a.text}, {b.text})" if name == "min" else f"float({a.text})", ())
        else:
            ctx.output(f"sum({text})", broadcast(*shapes), exact=False)
    v = ctx.name("v")
    if ctx.draw(st.booleans()):
        _accumulate(ctx, text, shapes, None, f"for {v} in {text}:", f"np.sin({v})")
    else:
        i = ctx.name("i")
        _accumulate(ctx, text, shapes, None, f"for {i}, {v} in enumerate({text}):", f"({i} + 1.0) * {v}")


@st.composite
def _builtins(draw):
    ctx = _Ctx(draw)
    ctx.params_drawn()
    names = draw(st.lists(st.sampled_from(sorted(_SHADOWS)), min_size=1, max_size=3, unique=True))
    # a name bound anywhere in f is local all through f: decide which before any call is written
    local_names = {name for name in names if draw(st.booleans())}
    ctx.used += [f"{'local' if n in local_names else 'global'} {n}" for n in names]
    for name in names:
        if name not in local_names:
            ctx.module += [*_SHADOWS[name], "", ""]
        else:  # a local of that name, bound after a loop has run
            _b_use(ctx, name, local_names)
            e = ctx.expr(())
            ctx.body.append(f"{name} = {e.text}")
            ctx.output(f"{name} * {ctx.decay()}", ())
    for name in names:
        _b_use(ctx, name, local_names)
    return ctx


# ---- helpers called with literals, concatenation, list(), sum(), enumerate(zip()), zip(*) ----
_TOTAL = [
    "def total(xs):",
    "    s = 0.0",
    "    for v in xs:",
    "        s = s + np.sum(np.tanh(v) * v)",
    "    return s",
    "",
    "",
]
_PAIR = ["def pair(t):", "    a, b = t", "    return np.sum(a * b + np.sin(a))", "", ""]


def _k_helper(ctx):
    if _TOTAL[0] not in ctx.module:
        ctx.module += _TOTAL + _PAIR
    items = [ctx.expr() for _ in range(ctx.draw(st.integers(1, 3)))]
    texts = ", ".join(e.text for e in items)
    if ctx.draw(st.booleans()):
        call = f"total(({texts},))" if ctx.draw(st.booleans()) else f"total([{texts}])"
    else:
        a, b = ctx.expr(), ctx.expr()
        call = f"pair(({a.text}, {b.text}))" if ctx.draw(st.booleans()) else f"pair([{a.text}, {b.text}])"
    ctx.output(call, ())


def _k_concat(ctx):
    text, items, kind = ctx.leaf_list(kinds=(list, tuple))
    e = ctx.expr()
    ys = ctx.name()
    ctx.body.append(f"{ys} = {text} + [{e.text}]" if kind is list else f"{ys} = {text} + ({e.text},)")
    shapes = [s for _, s in items] + [e.shape]
    v = ctx.name("v")
    _accumulate(ctx, ys, shapes, None, f"for {v} in {ys}:", f"np.tanh({v})")
    ctx.output(f"{ys}[-1]", e.shape, e.exact)


def _k_list(ctx):
    text, items, _ = ctx.leaf_list(kinds=(list, tuple))
    ys = ctx.name()
    e = ctx.expr()
    ctx.body += [f"{ys} = list({text})", f"{ys}[0] = {e.text}", f"{ys}.append({text}[0] * 2.0)"]
    shapes = [e.shape] + [s for _, s in items[1:]] + [items[0][1]]
    ctx.output(f"sum({ys})", broadcast(*shapes), exact=False)
    ctx.output(f"{text}[0]", items[0][1])  # list() copied it: the original is unchanged


def _k_sum(ctx):
    text, items, _ = ctx.leaf_list()
    ctx.output(f"sum({text})", broadcast(*(s for _, s in items)), exact=False)


def _k_zip(ctx):
    xs_text, xs, _ = ctx.leaf_list()
    ys = [ctx.expr() for _ in xs]
    ys_text = ctx.name()
    ctx.body.append(f"{ys_text} = [{', '.join(e.text for e in ys)}]")
    shapes = [broadcast(s, e.shape) for (_, s), e in zip(xs, ys)]
    i, a, b = ctx.name("i"), ctx.name("a"), ctx.name("b")
    if ctx.draw(st.booleans()):
        head, item = f"for {i}, ({a}, {b}) in enumerate(zip({xs_text}, {ys_text})):", f"({i} + 1.0) * {a} * {b}"
    else:
        head, item = f"for {a}, {b} in zip({xs_text}, {ys_text}):", f"{a} * np.cos({b})"
    _accumulate(ctx, ys_text, shapes, None, head, item)


def _k_unzip(ctx):
    n = ctx.draw(st.integers(1, 3))
    pairs = [(ctx.expr(), ctx.expr()) for _ in range(n)]
    p, us, vs = ctx.name(), ctx.name(), ctx.name()
    ctx.body += [f"{p} = [{', '.join(f'({a.text}, {b.text})' for a, b in pairs)}]", f"{us}, {vs} = zip(*{p})"]
    k = ctx.draw(st.integers(0, n - 1))
    ctx.output(f"{us}[{k}] * {vs}[{n - 1 - k}]", broadcast(pairs[k][0].shape, pairs[n - 1 - k][1].shape))


@st.composite
def _calls(draw):
    ctx = _Ctx(draw)
    ctx.params_drawn()
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_k_helper, _k_concat, _k_list, _k_sum, _k_zip, _k_unzip)
    return ctx


# ---- family "functions": function values, local defs, closures ------------------------------------
_APPLY = ["def apply(fn, v):", "    return fn(v) * 0.5 + fn(0.5 * v)", "", ""]
_MAKE = ["def make(a):", "    def step(v):", "        return a * np.sin(v) + v", "", "    return step", "", ""]
_SCALED = ["def scaled(v, k, shift=0.25):", "    return k * v + shift", "", ""]


def _module(ctx, lines):
    if lines[0] not in ctx.module:
        ctx.module += lines


def _in_scope(ctx, name, shape):
    """The scope of a local function's body: the function's variables, and its parameter ``name``."""
    return {**ctx.gen.scope, name: Var(name, shape, True, fresh=False)}


def _f_local_def(ctx):
    """A local def with a default (evaluated at the def) that reads a variable rebound before the call."""
    h, z, c, k = ctx.name("h"), ctx.name("z"), ctx.name("c"), ctx.name("k")
    arg = ctx.expr()
    first = ctx.expr()
    ctx.body.append(f"{k} = {first.text}")
    ctx.see(k, first.shape, first.exact)
    default = ctx.expr()
    body = ctx.expr(scope={**_in_scope(ctx, z, arg.shape), c: Var(c, default.shape, default.exact, False)})
    ctx.body += [f"def {h}({z}, {c}={default.text}):", f"    return {body.text} * {k}"]
    again = ctx.expr()
    ctx.body.append(f"{k} = {again.text}")  # the call reads k as it is now
    ctx.see(k, again.shape, again.exact)
    shape = broadcast(body.shape, again.shape)
    ctx.output(f"{h}({arg.text})", shape, exact=False)
    if ctx.draw(st.booleans()):
        other = ctx.expr(target=default.shape)  # c's shape, as the body was written for it
        ctx.output(f"{h}({arg.text}, {c}={other.text})", broadcast(shape, other.shape), exact=False)


def _f_passed(ctx):
    """A function passed to a helper: a lambda, a NumPy function or a module-level one."""
    _module(ctx, _APPLY)
    arg = ctx.expr()
    z = ctx.name("z")
    choice = ctx.draw(st.sampled_from(["lambda", "numpy", "local"]))
    if choice == "lambda":
        body = ctx.expr(scope=_in_scope(ctx, z, arg.shape))
        fn, shape = f"lambda {z}: {body.text}", body.shape
    elif choice == "numpy":
        fn, shape = ctx.draw(st.sampled_from(["np.sin", "np.tanh", "np.cos"])), arg.shape
    else:
        g = ctx.name("g")
        body = ctx.expr(scope=_in_scope(ctx, z, arg.shape))
        ctx.body += [f"def {g}({z}):", f"    return {body.text}"]
        fn, shape = g, body.shape
    ctx.output(f"apply({fn}, {arg.text})", broadcast(shape, arg.shape), exact=False)


def _f_factory(ctx):
    """A function returned by a call, called at once or bound to a name first."""
    _module(ctx, _MAKE)
    a, v = ctx.expr(), ctx.expr()
    shape = broadcast(a.shape, v.shape)
    if ctx.draw(st.booleans()):
        ctx.output(f"make({a.text})({v.text})", shape, exact=False)
    else:
        s = ctx.name("step")
        ctx.body.append(f"{s} = make({a.text})")
        ctx.output(f"{s}({v.text}) + {s}({v.text} * 0.5)", shape, exact=False)


def _f_partial(ctx):
    """functools.partial of a module-level function, keyword and positional."""
    _module(ctx, _SCALED)
    if "import functools" not in ctx.module:
        ctx.module.insert(0, "import functools")
    k, v = ctx.expr(), ctx.expr()
    p = ctx.name("p")
    if ctx.draw(st.booleans()):
        ctx.body.append(f"{p} = functools.partial(scaled, k={k.text})")
    else:
        ctx.body.append(f"{p} = functools.partial(scaled, {v.text})")
        v = Expr(k.text, k.shape, k.exact)
    ctx.output(f"{p}({v.text})", broadcast(k.shape, v.shape), exact=False)


def _f_loop_def(ctx):
    """A local def made in a loop, closing over the loop variable, called in the same trip."""
    h, z, i, s = ctx.name("h"), ctx.name("z"), ctx.name("i"), ctx.name("s")
    arg = ctx.expr()
    body = ctx.expr(scope=_in_scope(ctx, z, arg.shape))
    n = ctx.draw(st.integers(1, 3))
    ctx.body += [
        f"{s} = 0.0",
        f"for {i} in range({n}):",
        f"    def {h}({z}):",
        f"        return np.tanh({body.text}) * ({i} + 1.0)",
        f"    {s} = {s} + {h}({arg.text})",
    ]
    ctx.output(s, body.shape, exact=False)


@st.composite
def _functions(draw):
    ctx = _Ctx(draw)
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_f_local_def, _f_passed, _f_factory, _f_partial, _f_loop_def)
    return ctx


# ---- family "sequences": NumPy results that are tuples or lists of arrays, used more than once ----
# np.split, np.linalg.qr, np.gradient... return several arrays; each is read in more than one way
# (an item, a slice, stacked, joined, iterated, unpacked), so their gradients must add item by item.
def _s_source(ctx):
    """(text of the call, the shapes of its items) for a value of the (n, m) universe."""
    n, m = ctx.universe
    v = ctx.expr()
    kind = ctx.draw(st.sampled_from(["split", "array_split", "hsplit", "rows", "gradient", "qr", "svd", "eigh"]))
    ctx.used.append(kind)
    base = ctx.name("a")
    ctx.body.append(f"{base} = {v.text} * np.ones({ctx.universe!r})")
    if kind == "split":
        return f"np.split({base}, {n})", [(1, m)] * n
    if kind == "array_split":
        return f"np.array_split({base}, 3, axis=1)", [(n, len(c)) for c in np.array_split(np.arange(m), 3)]
    if kind == "hsplit":
        return f"np.hsplit({base}, {m})", [(n, 1)] * m
    if kind == "rows":
        return f"[r for r in {base}]", [(m,)] * n
    if kind == "gradient":
        return f"np.gradient({base})", [(n, m), (n, m)]
    square = ctx.name("q")
    # distinct eigenvalues and singular values (2, 4, 6, ... moved a little): the vectors are defined
    gram, spread = f"{base}[:, :{n}] @ {base}[:, :{n}].T", f"np.diag(np.arange(2.0, {2 * n + 1}, 2.0))"
    ctx.body.append(f"{square} = np.tanh({gram}) * 0.2 + {spread}")
    if kind == "qr":
        return f"np.linalg.qr({square})", [(n, n), (n, n)]
    if kind == "svd":
        return f"np.linalg.svd({square})", [(n, n), (n,), (n, n)]
    return f"np.linalg.eigh({square})", [(n,), (n, n)]


def _s_uses(ctx):
    text, shapes = _s_source(ctx)
    parts = ctx.name("parts")
    ctx.body.append(f"{parts} = {text}")
    k = len(shapes)
    same = [i for i in range(k) if shapes[i] == shapes[0]]
    for _ in range(ctx.draw(st.integers(2, 3))):
        use = ctx.draw(st.sampled_from(["item", "slice", "stack", "iterate", "unpack", "sum_items"]))
        ctx.used.append(use)
        i = ctx.draw(st.integers(0, k - 1))
        if use == "item":
            ctx.output(f"np.sum({parts}[{i}] * {ctx.expr(()).text})", ())
        elif use == "slice" and len(same) > 1:
            ctx.output(f"np.sum(np.stack({parts}[:{len(same)}]) ** 2)", ())
        elif use == "stack" and len(same) == k:
            ctx.output(f"np.sum(np.stack({parts}) * {ctx.decay()})", ())
        elif use == "iterate":
            v = ctx.name("v")
            _accumulate(ctx, parts, [()], None, f"for {v} in {parts}:", f"np.sum(np.tanh({v}))")
        elif use == "unpack":
            names = [ctx.name("u") for _ in range(k)]
            ctx.body.append(f"{', '.join(names)}, = {parts}" if k == 1 else f"{', '.join(names)} = {parts}")
            ctx.output(f"np.sum({names[i]} ** 2) * {ctx.decay()}", ())
        else:
            ctx.output(f"np.sum({parts}[0]) * {ctx.decay()} + np.sum({parts}[-1])", ())


@st.composite
def _sequences(draw):
    ctx = _Ctx(draw, universes=[(2, 3), (3, 3), (4, 2), (3, 4)])
    ctx.param(ctx.universe)
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 2))):
        ctx.write(_s_uses)
    return ctx


# ---- family "mutation": changes in place, through calls (the hunt of 2026-12-01) ----
# NumPy calls that write into an argument (np.add.at, out=, np.copyto, np.put, a positional out),
# helpers that write into their argument (z[i] += v, z *= v, xs.append(v)) or into a copy of it,
# helpers that update a number with +=, and writes into a module's array or into a copy of it.
# Python changes the object for the caller; sct must compute the same value or refuse.
def _m_fresh(ctx, prefix="z"):
    """A new local array of the universe's shape, bound to a fresh name (never an argument's)."""
    z = ctx.name(prefix)
    ctx.body.append(f"{z} = np.ones({ctx.universe!r}) * {ctx.expr().text}")
    return z


def _m_index(ctx):
    n = ctx.universe[0]
    picks = ctx.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    return repr(picks), (len(picks), *ctx.universe[1:])


def _m_numpy_call(ctx):
    z = _m_fresh(ctx)
    kind = ctx.draw(st.sampled_from(["add.at", "out=", "copyto", "put", "negative"] + ["assigned"] * 5))
    ctx.used.append(kind)
    if kind == "add.at":
        index, shape = _m_index(ctx)
        ctx.body.append(f"np.add.at({z}, {index}, {ctx.expr(shape).text})")
    elif kind == "out=":
        fn = ctx.draw(st.sampled_from(["exp", "sin", "tanh"]))
        ctx.body.append(f"np.{fn}({ctx.expr().text} * 0.5, out={z})")
    elif kind == "copyto":
        ctx.body.append(f"np.copyto({z}, {ctx.expr().text})")
    elif kind == "put":
        ctx.body.append(f"np.put({z}, [0], {ctx.expr(()).text})")
    elif kind == "negative":
        ctx.body.append(f"np.negative({z}, {z})")
    else:  # the way to write it: a new array
        ctx.body.append(f"{z} = {z} + np.tanh({ctx.expr().text})")
    ctx.see(z, ctx.universe)
    ctx.output(f"{z} * {ctx.expr().text}", ctx.universe)


def _m_helper_write(ctx):
    h = ctx.name("put")
    op = ctx.draw(st.sampled_from(["=", "+=", "*="]))
    copies = ctx.draw(st.integers(0, 2)) > 0  # a third of them change the caller's array: refused
    ctx.used.append(f"helper z[i] {op}" + (" on a copy" if copies else " on its argument"))
    first = ["    z = z.copy()"] if copies else []
    ctx.module += [f"def {h}(z, v):", *first, f"    z[0] {op} v", "    return z", "", ""]
    z = _m_fresh(ctx)
    w = ctx.name("w")
    ctx.body.append(f"{w} = {h}({z}, {ctx.expr(ctx.universe[1:]).text})")
    ctx.output(f"{z} * {ctx.expr().text} + {w}", ctx.universe)


def _m_helper_augment(ctx):
    h = ctx.name("grow")
    ctx.module += [f"def {h}(s, v):", "    s += np.sum(v * v)", "    s *= 0.5", "    return s", "", ""]
    on_array = ctx.draw(st.integers(0, 2)) == 0
    ctx.used.append("helper s += on an array" if on_array else "helper s += on a number")
    # a number: `+ 0.0` makes a new one even from a 0-d array argument, which += would change
    start = _m_fresh(ctx, "a") if on_array else f"({ctx.expr(()).text}) + 0.0"
    r = ctx.name("r")
    ctx.body.append(f"{r} = {h}({start}, {ctx.expr().text})")
    ctx.output(r, ctx.universe if on_array else (), exact=not on_array)
    if on_array:
        ctx.output(f"{start} * 2.0", ctx.universe)


def _m_helper_append(ctx):
    h = ctx.name("push")
    in_place = ctx.draw(st.integers(0, 2)) == 0
    ctx.used.append("helper xs.append" if in_place else "helper xs + [v]")
    grow = "    xs.append(v)" if in_place else "    xs = xs + [v]"
    ctx.module += [f"def {h}(xs, v):", grow, "    return np.sum(xs[-1]) * len(xs)", "", ""]
    xs = ctx.name("xs")
    ctx.body.append(f"{xs} = [{ctx.expr().text}]")
    r = ctx.name("r")
    ctx.body.append(f"{r} = {h}({xs}, {ctx.expr().text})")
    ctx.output(f"{r} + np.sum({xs}[-1]) * len({xs})", ())


def _m_global_write(ctx):
    g = ctx.name("BUF").upper()
    ctx.module += [f"{g} = np.zeros({ctx.universe!r})", ""]
    copies = ctx.draw(st.integers(0, 2)) > 0
    ctx.used.append("global written on a copy" if copies else "global written")
    target = g
    if copies:
        target = ctx.name("buf")
        ctx.body.append(f"{target} = {g}.copy()")
    ctx.body.append(f"{target}[0] = {ctx.expr(ctx.universe[1:]).text}")
    ctx.output(f"{target} * {ctx.expr().text}", ctx.universe)


@st.composite
def _mutation(draw):
    ctx = _Ctx(draw, universes=[(3,), (4,), (3, 2), (2, 3)])
    ctx.param(ctx.universe)
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_m_numpy_call, _m_helper_write, _m_helper_augment, _m_helper_append, _m_global_write)
    return ctx


# ---- family "reductions": NumPy reductions with their keywords, over values with ties ----
# axis (None, an int, a negative int, a tuple), keepdims, initial= (which may be the extremum),
# where= (refused), over operands that repeat their elements (np.concatenate([e, e]),
# np.maximum(e, e)), so ties split the derivative as they must.
_REDUCTIONS = ["sum", "mean", "prod", "max", "min", "amax", "nanmax", "nansum", "nanprod", "std", "var", "ptp"]


def _r_operand(ctx):
    e = ctx.expr()
    form = ctx.draw(st.sampled_from(["plain", "concatenated", "maximum", "stacked"]))
    ctx.used.append(form)
    item = f"{e.text} * np.ones({ctx.universe!r})"
    if form == "concatenated":
        return f"np.concatenate([{item}, {item}])", (2 * ctx.universe[0], *ctx.universe[1:])
    if form == "maximum":
        return f"np.maximum({e.text}, {e.text}) * np.ones({ctx.universe!r})", ctx.universe
    if form == "stacked":
        return f"np.stack([{item}, {item}])", (2, *ctx.universe)
    return f"({e.text}) * np.ones({ctx.universe!r})", ctx.universe


def _r_reduce(ctx):
    fn = ctx.draw(st.sampled_from(_REDUCTIONS))
    operand, shape = _r_operand(ctx)
    axes = [None, *range(-len(shape), len(shape))]
    if len(shape) > 1:
        axes.append((0, len(shape) - 1))
    axis = ctx.draw(st.sampled_from(axes))
    keepdims = ctx.draw(st.booleans())
    words = [] if axis is None else [f"axis={axis!r}"]
    if keepdims:
        words.append("keepdims=True")
    if fn in ("sum", "prod", "max", "min", "amax", "nansum", "nanprod") and ctx.draw(st.booleans()):
        words.append(f"initial={_c(ctx.draw, -2.0, 2.0)}")  # for max and min it may win
        ctx.used.append(f"{fn} initial")
    if fn not in ("ptp",) and ctx.draw(st.integers(0, 9)) == 0:
        mask = np.resize([True, False], shape).tolist()
        words.append(f"where=np.array({mask!r})")
        ctx.used.append(f"{fn} where")
        if fn in ("max", "min", "amax", "nanmax") and not any(w.startswith("initial") for w in words):
            words.append("initial=-5.0" if fn in ("max", "amax", "nanmax") else "initial=5.0")
    ctx.used.append(f"np.{fn}")
    text = f"np.{fn}({operand}{''.join(', ' + w for w in words)})"
    r = ctx.name("r")
    ctx.body.append(f"{r} = {text}")
    ctx.output(f"np.sum({r} * {ctx.decay()})", ())


def _r_scan(ctx):
    fn = ctx.draw(st.sampled_from(["cumsum", "cumprod"]))
    operand, shape = _r_operand(ctx)
    axis = ctx.draw(st.sampled_from([None, *range(len(shape))]))
    ctx.used.append(f"np.{fn}")
    words = "" if axis is None else f", axis={axis}"
    ctx.output(f"np.sum(np.{fn}({operand}{words}) * {ctx.decay()})", ())


@st.composite
def _reductions(draw):
    ctx = _Ctx(draw, universes=[(3,), (4,), (2, 3), (3, 2)])
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(_r_reduce, _r_reduce, _r_scan)
    return ctx


# ---- family "indexing": every kind of index NumPy has (the hunt of round three) ----
# Bool masks (arrays, comparisons, np.True_/np.False_, a module's mask, a bool default argument),
# integer arrays with repeats and negatives, np.ix_, `...`, None/np.newaxis, steps and negative
# slices, `x[i, j]` with computed ints, np.take/np.take_along_axis, np.where(mask)/np.nonzero
# results used as indices, writes `y[mask] = ...` and `y[idx] += ...` with repeated idx, and reads
# after writes through views; some inside loops and branches. Every read reaches the result.
def _x_base(ctx, fresh=False):
    """(name, shape) of an array to index: the first argument, or a new local array."""
    if not fresh and ctx.draw(st.booleans()):
        return "x0", ctx.universe
    y = ctx.name("y")
    ctx.body.append(f"{y} = x0 * (0.5 + ({ctx.expr(()).text}) ** 2) + {ctx.expr().text}")  # never a constant
    return y, ctx.universe


def _x_use(ctx, text):
    """Make ``text`` (an indexed value of unknown shape) reach the result, nonlinearly."""
    fn = ctx.draw(st.sampled_from(["sin", "tanh", "exp", "square"]))
    inner = f"({text}) ** 2" if fn == "square" else f"np.{fn}({text})"
    ctx.output(f"np.sum({inner} * (0.5 + np.tanh({ctx.expr(()).text}) ** 2))", (), exact=False)  # never times 0


def _x_int_index(ctx, n, repeats=True):
    picks = ctx.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4))
    if repeats and len(picks) > 1 and ctx.draw(st.booleans()):
        picks[-1] = picks[0] - n if picks[0] >= 0 else picks[0] + n  # the same element, written the other way
    ctx.used.append("repeated int index" if len({p % n for p in picks}) < len(picks) else "int index")
    return f"np.array({picks!r})" if ctx.draw(st.booleans()) else repr(picks)


def _x_mask(ctx, base, shape):
    """(text, what) of a bool index for ``base``: over all of it, over its first axis, or 0-d."""
    kind = ctx.draw(st.sampled_from(["compare", "compare", "literal", "global", "default", "scalar", "0-d compare"]))
    ctx.used.append(f"mask {kind}")
    if kind == "compare":
        return f"{base} > {_c(ctx.draw, -0.5, 0.5)}"
    if kind in ("literal", "global", "default"):
        lead = ctx.draw(st.booleans()) or len(shape) == 1
        bits = ctx.draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])) if lead else None
        if not lead:
            bits = np.array(ctx.draw(st.lists(st.booleans(), min_size=math.prod(shape), max_size=math.prod(shape))))
            bits = bits.reshape(shape).tolist()
        text = f"np.array({bits!r})"
        if kind == "literal":
            return text
        m = ctx.name("M").upper() if kind == "global" else ctx.name("m")
        if kind == "global":
            ctx.module += [f"{m} = {text}", ""]
        else:
            ctx.defaults.append(f"{m}={text}")
        return m
    if kind == "scalar":
        return ctx.draw(st.sampled_from(["np.True_", "np.False_", "True"]))
    return f"np.sum({base}) > {_c(ctx.draw, -1.0, 1.0)}"


def _x_read(ctx):
    base, shape = _x_base(ctx)
    n = shape[0]
    forms = [
        "mask",
        "ints",
        "ints axis 1",
        "ix_",
        "ellipsis",
        "newaxis",
        "slice",
        "computed ints",
        "take",
        "take_along_axis",
        "where",
        "nonzero",
        "bool list",
        "0-d int array",
        "chained",
        "argsort",
        "mixed",
        "take mode",
        "mask axis 1",
        "flat",
        "ix_ bool",
    ]
    form = ctx.draw(st.sampled_from(forms))
    ctx.used.append(form)
    two = len(shape) == 2
    if form == "mask":
        text = f"{base}[{_x_mask(ctx, base, shape)}]"
    elif form == "ints":
        text = f"{base}[{_x_int_index(ctx, n)}]"
    elif form == "ints axis 1" and two:
        text = f"{base}[:, {_x_int_index(ctx, shape[1])}]"
    elif form == "ix_" and two:
        text = f"{base}[np.ix_({_x_int_index(ctx, n)}, {_x_int_index(ctx, shape[1])})]"
    elif form == "ellipsis":
        text = f"{base}[{ctx.draw(st.sampled_from(['...', '..., ::-1', '..., -1', '0, ...', '..., 1:']))}]"
    elif form == "newaxis":
        a = ctx.draw(st.sampled_from(["None", "np.newaxis"]))
        if two:
            text = f"{base}[:, {a}, :] * {base}[{a}, :, :]"
        else:
            text = f"{base}[:, {a}] * {base}[{a}, :]"
    elif form == "slice":
        s = ctx.draw(st.sampled_from(["::-1", "::2", "-2::-1", "1::-2", "-1:0:-1", ":-1", "-3:", "::-2"]))
        text = f"{base}[{s}]" if not two or ctx.draw(st.booleans()) else f"{base}[:, {s}]"
    elif form == "computed ints":
        i, j = ctx.name("i"), ctx.name("j")
        ctx.body.append(f"{i} = len({base}) - 1 - int(np.argmax({base}.ravel()) % {n})")
        ctx.body.append(f"{j} = {base}.shape[-1] // 2 - 1")
        text = f"{base}[{i}, {j}]" if two else f"{base}[{i}] * {base}[{j}]"
    elif form == "take":
        axis = ctx.draw(st.sampled_from([None, 0, -1])) if two else ctx.draw(st.sampled_from([None, 0]))
        m = n if axis in (None, 0) and not (axis is None and two) else (shape[-1] if axis == -1 else math.prod(shape))
        if axis is None:
            m = math.prod(shape)
        words = "" if axis is None else f", axis={axis}"
        text = f"np.take({base}, {_x_int_index(ctx, m)}{words})"
    elif form == "take_along_axis":
        axis = ctx.draw(st.sampled_from([0, -1]))
        how = ctx.draw(st.sampled_from(["argsort", "flipped argsort"]))
        order = f"np.argsort({base}, axis={axis})"
        if how == "flipped argsort":
            order = f"np.flip({order}, axis={axis})"
        text = f"np.take_along_axis({base}, {order}, axis={axis})"
    elif form == "where":
        w = ctx.name("w")
        ctx.body.append(f"{w} = np.where({base} > {_c(ctx.draw, -0.5, 0.5)})")
        text = f"{base}[{w}]" if ctx.draw(st.booleans()) or two else f"{base}[{w}[0]]"
    elif form == "nonzero":
        text = f"{base}[np.nonzero({base} < {_c(ctx.draw, -0.5, 0.5)})]"
    elif form == "bool list":
        bits = ctx.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        text = f"{base}[{bits!r}]"
    elif form == "0-d int array":
        k = ctx.draw(st.integers(-n, n - 1))
        how = ctx.draw(st.sampled_from(["np.argmax(x0)", "np.argmin(x0)", f"np.array({k})", f"np.int64({k})"]))
        text = f"{base}.ravel()[{how}]" if "arg" in how else f"{base}[{how}]"
    elif form == "chained":
        text = f"{base}[1:][::-1][{_x_int_index(ctx, n - 1)}]"
    elif form == "argsort":
        k = ctx.draw(st.integers(1, n))
        text = f"{base}[np.argsort(-{base}, axis=0)[:{k}]]" if not two else f"{base}[np.argsort({base}[:, 0])[:{k}]]"
    elif form == "mixed" and two:
        i = ctx.draw(st.integers(-n, n - 1))
        text = ctx.draw(
            st.sampled_from(
                [
                    f"{base}[{i}, {_x_int_index(ctx, shape[1])}]",
                    f"{base}[{_x_int_index(ctx, n)}, 1:]",
                    f"{base}[::-1, {_x_int_index(ctx, shape[1])}]",
                    f"{base}[[0, -1], [-1, 0]]",
                ]
            )
        )
    elif form == "take mode":
        mode = ctx.draw(st.sampled_from(["wrap", "clip"]))
        picks = ctx.draw(st.lists(st.integers(-2 * n, 2 * n), min_size=1, max_size=4))
        text = f"np.take({base}, {picks!r}, axis=0, mode={mode!r})"
    elif form == "mask axis 1" and two:
        bits = ctx.draw(st.lists(st.booleans(), min_size=shape[1], max_size=shape[1]))
        text = f"{base}[:, np.array({bits!r})]" if ctx.draw(st.booleans()) else f"{base}[{base}[:, 0] > 0.0, :]"
    elif form == "flat":
        how = ctx.draw(st.sampled_from(["ravel()", "reshape(-1)", "T.ravel()", "flatten()"]))
        text = f"{base}.{how}[{_x_int_index(ctx, math.prod(shape))}]"
    elif form == "ix_ bool" and two:
        bits = ctx.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        text = f"{base}[np.ix_(np.array({bits!r}), {_x_int_index(ctx, shape[1])})]"
    else:
        text = f"{base}[{_x_int_index(ctx, n)}]"
    _x_use(ctx, text)


def _x_write(ctx):
    y, shape = _x_base(ctx, fresh=True)
    n = shape[0]
    form = ctx.draw(
        st.sampled_from(
            [
                "mask =",
                "mask +=",
                "mask = other",
                "idx =",
                "idx +=",
                "idx -=",
                "idx *=",
                "slice =",
                "ix_ +=",
                "ellipsis *=",
                "where =",
                "overlap +=",
                "overlap =",
                "swap",
                "repeat = array",
                "0-d bool",
                "mask = self",
            ]
        )
    )
    ctx.used.append(f"y[{form}]")
    v = ctx.expr(()).text
    if form == "mask =":
        ctx.body.append(f"{y}[{_x_mask(ctx, y, shape)}] = {v}")
    elif form == "mask +=":
        ctx.body.append(f"{y}[{_x_mask(ctx, y, shape)}] += {v}")
    elif form == "mask = other":
        m = ctx.name("m")
        ctx.body.append(f"{m} = x0 < {_c(ctx.draw, -0.5, 0.5)}")
        ctx.body.append(f"{y}[{m}] = np.sin(x0[{m}]) * {v}")
    elif form.startswith("idx"):
        op = form.split()[1]
        idx = _x_int_index(ctx, n)
        k = ctx.draw(st.integers(1, 4)) if not idx.startswith("np") else None
        if k is not None and ctx.draw(st.booleans()):
            v = f"{ctx.expr(()).text} * np.arange(1.0, {len(eval(idx)) + 1})" + ("[:, None]" if len(shape) == 2 else "")
        ctx.body.append(f"{y}[{idx}] {op} {v}")
    elif form == "slice =":
        s = ctx.draw(st.sampled_from(["::-1", "::2", "-2::-1", "1:", "-1:0:-1"]))
        ctx.body.append(f"{y}[{s}] = {y}[{s}] * {v} + 1.0")
    elif form == "ix_ +=" and len(shape) == 2:
        ctx.body.append(f"{y}[np.ix_({_x_int_index(ctx, n)}, {_x_int_index(ctx, shape[1])})] += {v}")
    elif form == "ellipsis *=":
        ctx.body.append(f"{y}[..., {ctx.draw(st.sampled_from(['0', '-1', '::2', ':1']))}] *= {v}")
    elif form == "overlap +=":
        ctx.body.append(
            ctx.draw(st.sampled_from([f"{y}[::-1] += {y}", f"{y}[1:] += {y}[:-1]", f"{y}[:-1] -= {y}[1:]"]))
        )
    elif form == "overlap =":
        ctx.body.append(ctx.draw(st.sampled_from([f"{y}[1:] = {y}[:-1] * {v}", f"{y}[::-1] = {y} * {v}"])))
    elif form == "swap":
        ctx.body.append(f"{y}[[0, -1]] = {y}[[-1, 0]]")
    elif form == "repeat = array":
        ctx.body.append(f"{y}[{_x_int_index(ctx, n)}] = np.sin(x0[{_x_int_index(ctx, n)}][:1]) * {v}")
    elif form == "0-d bool":
        op = ctx.draw(st.sampled_from(["=", "+=", "*="]))
        ctx.body.append(
            f"{y}[{ctx.draw(st.sampled_from(['np.True_', 'np.False_', 'True', 'x0.ravel()[0] > 0.0']))}] {op} {v}"
        )
    elif form == "mask = self":
        m = ctx.name("m")
        ctx.body.append(f"{m} = {y} > {_c(ctx.draw, -0.5, 0.5)}")
        ctx.body.append(f"{y}[{m}] = {y}[{m}] ** 2 * {v}")
    else:
        ctx.body.append(f"{y}[np.where({y} > 0.0)] = {v}")
    ctx.see(y, shape)
    _x_use(ctx, y)


def _x_view(ctx):
    """A view taken before a write, read after it: the write shows through the view."""
    y, shape = _x_base(ctx, fresh=True)
    v = ctx.name("v")
    view = ctx.draw(st.sampled_from(["1:", "::-1", "::2", "...", ":-1"]))
    ctx.body.append(f"{v} = {y}[{view}]")
    target = ctx.draw(st.sampled_from(["y", "v"]))
    ctx.used.append(f"view [{view}], write through {target}")
    where = ctx.draw(st.sampled_from(["0", "-1", ":1", "::2"]))
    ctx.body.append(f"{y if target == 'y' else v}[{where}] = {ctx.expr(()).text}")
    _x_use(ctx, v)
    _x_use(ctx, y)


def _x_loop(ctx):
    """Index reads and writes with the loop's counter, or a branch on a value picked by index."""
    y, shape = _x_base(ctx, fresh=True)
    n = shape[0]
    kind = ctx.draw(
        st.sampled_from(
            ["write k", "write -k", "accumulate idx", "mask in loop", "branch", "window", "while idx", "read k"]
        )
    )
    ctx.used.append(f"loop {kind}")
    d = ctx.decay()
    if kind == "write k":
        ctx.body += [f"for k in range(1, {n}):", f"    {y}[k] = {d} * {y}[k - 1] + np.sin({y}[k])"]
    elif kind == "write -k":
        ctx.body += [f"for k in range(1, {n}):", f"    {y}[-k - 1] = {y}[-k] * {d} - {y}[-k - 1]"]
    elif kind == "accumulate idx":
        idx = _x_int_index(ctx, n)
        ctx.body += ["for k in range(2):", f"    {y}[{idx}] += {d} * np.tanh({y}[{idx}])"]
    elif kind == "mask in loop":
        ctx.body += ["for k in range(2):", f"    {y}[{y} > 0.0] *= {d}", f"    {y} = {y} + {d} * x0"]
    elif kind == "window":
        ctx.body += [f"for k in range({n - 1}):", f"    {y}[k:k + 2] += {y}[k::-1][:2] * {d}"]
    elif kind == "while idx":
        ctx.body += ["k = 0", f"while k < {n}:", f"    {y}[[k, k - 1]] *= {d}", "    k = k + 1"]
    elif kind == "read k":
        s = ctx.name("s")
        ctx.body += [f"{s} = 0.0", f"for k in range({n}):", f"    {s} = {s} * {d} + np.sum({y}[[k, -k - 1]] * {y}[k])"]
        ctx.output(s, (), exact=False)
    else:
        i = _x_int_index(ctx, n, repeats=False)
        ctx.body += [
            f"if np.sum({y}[{i}]) > 0.0:",
            f"    {y}[{i}] = {y}[{i}] * {d}",
            "else:",
            f"    {y}[{y} < 0.0] = 0.5 * {y}[{y} < 0.0]",
        ]
    ctx.see(y, shape)
    _x_use(ctx, y)


@st.composite
def _indexing(draw):
    ctx = _Ctx(draw, universes=[(3,), (4,), (3, 2), (4, 3), (2, 3)])
    ctx.param(ctx.universe)
    ctx.params_drawn(tree_chance=False)
    for _ in range(draw(st.integers(1, 3))):
        ctx.write(*[_x_read] * 4, *[_x_write] * 4, *[_x_loop] * 3, _x_view)
    return ctx


_FAMILY_STRATEGIES = {
    "containers": _containers,
    "simultaneous": _simultaneous,
    "targets": _targets,
    "dicts": _dicts,
    "fancy": _fancy,
    "builtins": _builtins,
    "calls": _calls,
    "functions": _functions,
    "sequences": _sequences,
    "mutation": _mutation,
    "reductions": _reductions,
    "indexing": _indexing,
}


def idioms(family: str):
    """Programs written with one family of idioms (one of ``FAMILIES``)."""
    return _FAMILY_STRATEGIES[family]().map(lambda ctx: ctx.program())


@st.composite
def _nested_results(draw):
    ctx = _Ctx(draw)
    ctx.params_drawn()
    text, _ = _container_literal(ctx, draw(st.integers(1, 3)))
    lines = ["import math", "", "import numpy as np", "", "", f"def f({', '.join(ctx.params)}):", f"    return {text}"]
    return Program("\n".join(lines) + "\n", ctx.params, ctx.shapes, False, notes=["nested result"])


def nested_results():
    """Programs whose ``f`` returns a list/tuple/dict literal nested up to three deep (for ``sct.vjp``)."""
    return _nested_results()


def generating(n: int):
    """Hypothesis's settings for the bulk scripts (harvest_idioms.py, hunt_folds.py, hunt_fancy_second_order.py):
    ``n`` fresh examples, generated only: no shrinking, no example database, no health checks, no deadline."""
    return settings(
        max_examples=n, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
    )
