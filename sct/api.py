"""The public entry points: grad, value_and_grad, vjp, source; and the cache.

Each differentiated function is compiled once per *signature* of its
arguments (rank and dtype kind of each), like a JIT specialising on shapes:
knowing that an argument is a scalar is what lets the generated code skip
``unbroadcast``. ``.source`` shows the shape-generic variant.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from . import analysis, anf, codegen, reverse
from . import optimize as passes
from . import parse as frontend
from .errors import SctError

_LOCK = threading.RLock()
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
STATS = {"compiles": 0}


@dataclass
class Compiled:
    function: object
    source: str
    helpers: dict
    params: list
    wrt: list
    guards: tuple = ((), (), ())  # what the compile relied on; see _guards

    def fresh(self) -> bool:
        """Whether the names the compile resolved still mean the same objects (a few ``is`` tests)."""
        cells, names, codes = self.guards
        for cell, value in cells:
            try:
                if cell.cell_contents is not value:
                    return False
            except ValueError:  # the cell was emptied
                return False
        for scope, name, value in names:
            if scope.get(name, _ABSENT) is not value:
                return False
        return all(owner.__code__ is code for owner, code in codes)


# ---- staleness -------------------------------------------------------------------
# A compiled variant bakes in what the function's free names meant when it was
# compiled: closure values are bound into the generated code, and the rule chosen
# for each call depends on the function a global name held. Module globals that
# are plain data (numbers, arrays) are read live by the generated code, so
# rebinding them needs no recompile; anything else is checked per call by identity.
_ABSENT = object()
_DATA = (int, float, complex, str, bytes, np.ndarray, np.generic, type(None))


def _guards(fn, seen=None) -> tuple:
    """(cells, names, codes) to check before reusing a variant compiled from ``fn``."""
    seen = set() if seen is None else seen
    fn = inspect.unwrap(fn, stop=lambda f: not hasattr(f, "__wrapped__"))
    code = getattr(fn, "__code__", None)
    if code is None or id(fn) in seen:
        return (), (), ()
    seen.add(id(fn))
    cells, names, codes = [], [], [(fn, code)]
    for cell in fn.__closure__ or ():
        try:
            cells.append((cell, cell.cell_contents))
        except ValueError:
            continue
    scope = fn.__globals__
    builtins_ = scope.get("__builtins__", {})
    builtins_ = builtins_ if isinstance(builtins_, dict) else vars(builtins_)
    for name in _global_names(code):
        value = scope.get(name, _ABSENT)
        if value is _ABSENT and name not in builtins_ or isinstance(value, _DATA) and type(value) is not bool:
            continue
        names.append((scope, name, value))
        if inspect.isfunction(value):  # a user function sct may differentiate through
            more = _guards(value, seen)
            cells += more[0]
            names += more[1]
            codes += more[2]
    for cell, value in list(cells):
        if inspect.isfunction(value):
            more = _guards(value, seen)
            cells += more[0]
            names += more[1]
            codes += more[2]
    return tuple(cells), tuple(names), tuple(codes)


def _global_names(code) -> set:
    """Names a code object (and the code nested in it) may read as globals or attributes."""
    found = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            found |= _global_names(const)
    return found


# ---- argument signatures -------------------------------------------------------
_FLOAT = (0, "f")


def signature(args) -> tuple:
    """Rank and dtype kind of each argument; the key compiled variants are cached by."""
    return tuple(_FLOAT if type(a) is float else _describe(a) for a in args)


def _describe(a):
    if isinstance(a, np.ndarray | np.generic):
        return (a.ndim, a.dtype.kind)
    if isinstance(a, bool):
        return (0, "b")
    if isinstance(a, int):
        return (0, "i")
    if isinstance(a, float):
        return _FLOAT
    if isinstance(a, complex):
        return (0, "c")
    if isinstance(a, list | tuple | dict):
        items = list(a.values()) if isinstance(a, dict) else a
        ranks = {np.ndim(v) if isinstance(v, np.ndarray | float) else None for v in items}
        return (None, type(a).__name__, ranks.pop() if len(ranks) == 1 else None)
    return None


def _annotated_signature(fn) -> tuple:
    """The signature ``.source`` shows: scalars where the parameters are annotated ``float``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(_FLOAT if p.annotation in (float, "float") else None for p in params)


# ---- wrt -------------------------------------------------------------------------
def resolve_wrt(fn, wrt) -> tuple[list[int], bool]:
    """Positions of the parameters to differentiate by, and whether a tuple was asked for."""
    params = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    many = isinstance(wrt, tuple | list)
    positions = []
    for item in wrt if many else (wrt,):
        if isinstance(item, str):
            if item not in params:
                raise SctError(f"wrt={item!r}: {fn.__name__} has no parameter {item!r} (it has {params})")
            item = params.index(item)
        if not isinstance(item, int) or isinstance(item, bool) or not -len(params) <= item < len(params):
            raise SctError(
                f"wrt={item!r} is out of range: {fn.__name__} takes {len(params)} positional parameters"
            )
        item %= len(params)
        if item in positions:
            raise SctError(f"wrt names parameter {params[item]!r} twice")
        positions.append(item)
    if many and not positions:
        raise SctError("wrt=() names no parameter to differentiate by")
    return positions, many


# ---- the pipeline ---------------------------------------------------------------------
def build(
    fn, positions, sig, *, split=False, has_aux=False, optimize=True, many=None, mode="reverse"
) -> Compiled:
    """Run the whole pipeline: parse, lower, analyse, emit the adjoint (or tangent), optimise, compile."""
    from . import forward, higher

    fn = higher.differentiable(fn, sig)  # a generated function: its source, made differentiable again
    parsed = frontend.parse(fn)
    frontend.check_supported(parsed)
    ir, namer = anf.lower(parsed, has_aux=has_aux)
    passes.propagate_ir_copies(ir)
    wrt = [ir.params[i] for i in positions]
    arg_ranks = {p: (s[0] if s else None) for p, s in zip(ir.params, sig)}
    elements = {p: s[2] for p, s in zip(ir.params, sig) if s and len(s) > 2}
    ranks = analysis.ranks(ir, arg_ranks, elements)
    kinds = {p: s[1] for p, s in zip(ir.params, sig) if s and s[1] in ("list", "tuple", "dict")}
    if mode == "forward":
        src = forward.tangent(ir, wrt, ranks, namer)
    else:
        src = reverse.adjoint(ir, wrt, ranks, namer, split=split, many=many, kinds=kinds)
    if optimize:
        passes.optimize(src.fn)
    text = src.unparse()
    missing = object()
    free = {k: v for k, v in ir.namespace.items() if parsed.globals.get(k, missing) is not v}
    helpers = {**src.helpers, **free}
    function = codegen.compile_source(text, src.fn.name, parsed.globals, helpers, src.fn.name)
    STATS["compiles"] += 1
    return Compiled(function, text, helpers, ir.params, wrt)


def compiled(fn, positions, sig, **options) -> Compiled:
    """The cached variant of ``fn`` for these options and argument signature."""
    options = {"split": False, "has_aux": False, "optimize": True, "many": None, "mode": "reverse", **options}
    key = (tuple(positions), sig, tuple(sorted(options.items())))
    variants = _CACHE.get(fn)
    variant = variants.get(key) if variants is not None else None
    if variant is not None and variant.fresh():
        return variant
    with _LOCK:  # one compile at a time: each (fn, signature) is compiled once
        variants = _CACHE.setdefault(fn, {})
        variant = variants.get(key)
        if variant is None or not variant.fresh():
            guards = _guards(fn)  # taken first: a change during the build is caught next call
            variant = build(fn, positions, sig, **options)
            variant.guards = guards
            variants[key] = variant
        return variant


def _as_floats(grads, floats, many):
    if not many:
        return _as_float(grads)
    grads = list(grads)
    for k in floats:
        grads[k] = _as_float(grads[k])
    return tuple(grads)


def _as_float(g):
    return g if type(g) is float or np.ndim(g) != 0 else float(g)


def _check_wrt_args(fn, positions, args):
    for i in positions:
        if i >= len(args):
            raise SctError(f"{fn.__name__} was called with {len(args)} arguments; wrt asks for argument {i}")
        kind = _describe(args[i])
        if kind is not None and kind[1] in "iub":
            raise SctError(
                f"argument {i} of {fn.__name__} is an integer ({args[i]!r}); gradients need floats: "
                "pass 3.0 instead of 3, or x.astype(float)"
            )


def _check_scalar(fn, out):
    if type(out) is float or np.size(out) == 1 and not isinstance(out, list | tuple | dict):
        return
    shape = np.shape(out) if not isinstance(out, dict) else type(out).__name__
    raise SctError(
        f"sct.grad needs {fn.__name__} to return a scalar, but it returned a value of shape {shape}; "
        "use sct.vjp(f, *args) for a vector-Jacobian product, or sct.jacobian(f) for the full Jacobian"
    )


# ---- public API -------------------------------------------------------------------
class _Differentiated:
    """Shared machinery of the callables grad and value_and_grad return."""

    def __init__(self, fn, wrt, has_aux):
        if not callable(fn):
            raise SctError(f"sct.grad expects a function, got {fn!r}")
        self.fn, self.has_aux = fn, has_aux
        self.positions, many = resolve_wrt(fn, wrt)
        self.options = {"has_aux": has_aux, "many": many}
        functools.update_wrapper(self, fn, updated=())  # fn may be a Grad: keep our own fields
        self._variants = {}

    def _run(self, args):
        sig = signature(args)
        found = self._variants.get(sig)
        if found is None or not found[0].fresh():
            _check_wrt_args(self.fn, self.positions, args)
            variant = compiled(self.fn, self.positions, sig, **self.options)
            floats = tuple(k for k, i in enumerate(self.positions) if sig[i] == _FLOAT)
            found = self._variants[sig] = (variant, floats)
        variant, floats = found
        value, grads = variant.function(*args)
        _check_scalar(self.fn, value[0] if self.has_aux else value)
        if floats:  # the gradient of a Python float is a float, not a 0-d array
            grads = _as_floats(grads, floats, self.options["many"])
        return value, grads

    @property
    def source(self) -> str:
        """The generated adjoint (the shape-generic variant, what ``sct dump`` prints)."""
        sig = _annotated_signature(self.fn)
        return compiled(self.fn, self.positions, sig, **self.options).source

    def __repr__(self):
        return f"<{type(self).__name__} of {self.fn.__qualname__}>"


class Grad(_Differentiated):
    def __call__(self, *args):
        value, grads = self._run(args)
        return (grads, value[1]) if self.has_aux else grads


class ValueAndGrad(_Differentiated):
    def __call__(self, *args):
        return self._run(args)


def grad(fn=None, wrt=0, has_aux=False):
    """The gradient of a scalar function: ``sct.grad(f)(x)`` or ``@sct.grad(wrt=(0, 1))``."""
    if fn is None:
        return lambda f: Grad(f, wrt, has_aux)
    return Grad(fn, wrt, has_aux)


def value_and_grad(fn=None, wrt=0, has_aux=False):
    """Like grad, returning ``(value, gradient)`` from one forward pass."""
    if fn is None:
        return lambda f: ValueAndGrad(f, wrt, has_aux)
    return ValueAndGrad(fn, wrt, has_aux)


def vjp(fn, *primals, has_aux=False):
    """``(out, vjp_fn)``: ``vjp_fn(cotangent)`` returns one gradient per primal (a tuple)."""
    positions = list(range(len(primals)))
    variant = compiled(fn, positions, signature(primals), split=True, has_aux=has_aux, many=True)
    value, backward = variant.function(*primals)

    def vjp_fn(cotangent):
        return backward(cotangent)

    if has_aux:
        return value[0], vjp_fn, value[1]
    return value, vjp_fn


def source(fn, wrt=0, mode="reverse", optimize=True) -> str:
    """The generated source, as ``sct dump`` prints it."""
    fn = getattr(fn, "__wrapped__", fn) if isinstance(fn, _Differentiated) else fn
    if mode not in ("reverse", "forward"):
        raise SctError(f"mode={mode!r}: use 'reverse' or 'forward'")
    positions, many = resolve_wrt(fn, wrt)
    if mode == "forward":
        from .forward import tangent_source

        return tangent_source(fn, positions, optimize=optimize)
    return compiled(fn, positions, _annotated_signature(fn), optimize=optimize, many=many).source
