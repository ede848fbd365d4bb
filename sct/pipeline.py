"""Function -> gradient code: the one place the stages are strung together.

parse (:mod:`sct.frontend.parse`) -> lower to one operation per line (:mod:`sct.frontend.lower`) ->
analyse (:mod:`sct.analysis.activity`) -> the adjoint (:mod:`sct.reverse.adjoint`) or the tangent
(:mod:`sct.forward.tangent`) -> optimise (:mod:`sct.passes.optimize`, :mod:`sct.passes.fuse`,
:mod:`sct.passes.unbox`) -> emit and compile (:mod:`sct.backend.codegen`) -> cache, in memory
(per function, per argument signature) and on disk (:mod:`sct.backend.cache`).

It takes a function, the positions to differentiate by and an argument
signature (:func:`sct.backend.variants.signature`); it gives a :class:`Compiled`
variant: the generated function, its source and what the dispatcher needs.
:mod:`sct.api`, :mod:`sct.transforms` and :mod:`sct.higher` call it; the
stages reach it, for a nested compile, through :mod:`sct.nested`.
"""

from __future__ import annotations

import functools
import gc
import inspect
import operator
import threading
import types
import weakref

import gast
import numpy as np

from . import backend as backends
from . import nested, validate, values
from .analysis import activity as analysis
from .analysis import complex_values
from .analysis import shapes as symbolic_shapes
from .backend import cache, codegen, namespaces, variants
from .backend.variants import _FLOAT, Compiled, _describe, _guards, signature
from .errors import SctError, UnsupportedSyntaxError
from .forward import tangent as forward
from .frontend import aliases, signatures
from .frontend import lower as anf
from .frontend import parse as frontend
from .ir import Assign, For, names_in, operands, walk
from .passes import algebra, containers, fuse, inverses, liveness, trip_records, unbox
from .passes import checkpoint as checkpoints
from .passes import optimize as passes
from .reverse import adjoint as reverse

_LOCK = threading.RLock()
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
STATS = {"compiles": 0, "validation compiles": 0}


# ---- wrt -------------------------------------------------------------------------
_WRT: dict = {}  # (code object, wrt) -> resolve_wrt's answer, for plain functions


_WRT_KEYS = {int, str, tuple}  # wrt values cached by value (a tuple of ints and names; anything else is checked)


def resolve_wrt(fn, wrt) -> tuple[list[int], bool]:
    """Positions of the parameters to differentiate by, and whether a tuple was asked for."""
    key = (fn.__code__, type(wrt), wrt) if type(fn) is types.FunctionType and type(wrt) in _WRT_KEYS else None
    if type(wrt) is tuple and not all(type(item) in _WRT_KEYS for item in wrt):
        key = None  # (0, [1]): not hashable; _resolve_wrt says what is wrong
    if key is not None and key in _WRT:
        positions, many = _WRT[key]
        return list(positions), many
    positions, many = _resolve_wrt(fn, wrt)
    if key is not None:
        _WRT[key] = (tuple(positions), many)
    return positions, many


def _resolve_wrt(fn, wrt) -> tuple[list[int], bool]:
    try:
        signature_ = inspect.signature(fn, follow_wrapped=not frontend.is_plain_wrapper(fn)).parameters.values()
    except (TypeError, ValueError):  # a C function without a signature: say there is no source
        frontend.parse(fn)
        raise SctError(f"cannot read the parameters of {fn!r}") from None
    params = [p.name for p in signature_ if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) < len(signature_) and not isinstance(wrt, str):  # *args, **kwargs, keyword-only
        frontend.check_supported(frontend.parse(fn))  # raises, pointing at the `def` line
    many = isinstance(wrt, tuple | list)
    positions = []
    for item in wrt if many else (wrt,):
        if isinstance(item, str):
            if item not in params:
                raise SctError(f"wrt={item!r}: {fn.__name__} has no parameter {item!r} (it has {params})")
            item = params.index(item)
        if not isinstance(item, int) or isinstance(item, bool):
            raise SctError(f"wrt must be an int, a parameter name, or a tuple of them; got wrt={item!r}")
        if not -len(params) <= item < len(params):
            raise SctError(f"wrt={item!r} is out of range: {fn.__name__} takes {len(params)} positional parameters")
        item %= len(params)
        if item in positions:
            raise SctError(f"wrt names parameter {params[item]!r} twice")
        positions.append(item)
    if many and not positions:
        raise SctError("wrt=() names no parameter to differentiate by")
    return positions, many


# ---- the pipeline ---------------------------------------------------------------------
def _without_gc(fn):
    """Run ``fn`` with the cycle collector paused: a compile allocates many small trees and
    no cycles that matter, and the collector's passes over them cost a fifth of a large compile."""

    @functools.wraps(fn)
    def paused(*args, **kwargs):
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was:
                gc.enable()

    return paused


@_without_gc
def build(
    fn,
    positions,
    sig,
    *,
    split=False,
    has_aux=False,
    optimize=True,
    many=None,
    mode="reverse",
    unit_seed=False,
    grads_only=False,
    counted=True,
    observe=None,
    checkpoint=None,
    shapes=None,
    facts=None,
    portable=False,
) -> Compiled:
    """Run the whole pipeline: parse, lower, analyse, emit the adjoint (or tangent), optimise, compile.

    ``unit_seed``: the caller never passes ``delta_out`` (a gradient object), so
    the code may read 1.0 for it: ``delta_e = 1.0 / g``, not ``delta_out / g``.
    ``grads_only``: the caller wants no value (``grad``), so where the value is
    surely a scalar (nothing to check) the code returns the gradients alone and
    computes the value only as far as the gradients need it.
    ``observe(ir, wrt)``: called with the lowered IR just before the emitter reads it
    (:mod:`sct.explain` maps generated lines back to the user's with it).
    ``portable``: the code will be written against any array namespace (``sct export --xp``): no NumPy-only
    rewrites (``np.trace``).
    ``shapes``: the call's dimensions (:func:`sct.analysis.shapes.pattern_of`), for a variant for that call:
    its code may rely on equalities between them (no ``unbroadcast`` where shapes are proved equal), and the
    ones it relies on are its ``facts``, which a caller must check before reusing it. ``facts``: those
    facts, to build the variant again from them alone (``.source``).
    """
    fn = nested.COMPILER.differentiable(fn, sig)  # a generated function: its source, made differentiable again
    parsed = frontend.parse(fn)
    if isinstance(fn, signatures.Flat):  # f(x, *rest, k): the body of f, every parameter positional
        signatures.flatten_parameters(parsed.node)
    frontend.check_supported(parsed)
    structures = {p: s[3] for p, s in zip(anf.parameter_names(parsed.node.args), sig) if s and len(s) > 3}
    params = anf.parameter_names(parsed.node.args)
    callables, objects = variants.callables(params, sig, parsed.fn), variants.objects(params, sig)
    ir, namer = anf.lower(parsed, has_aux=has_aux, structures=structures, callables=callables, objects=objects)
    arg_ranks = {**_global_numbers(ir, parsed), **{p: (s[0] if s else None) for p, s in zip(ir.params, sig)}}
    elements = {p: s[2] for p, s in zip(ir.params, sig) if s and len(s) > 2}
    if ir.shared_updates:  # x += e on an array another name holds: only NumPy changes both
        maybe_arrays = {p for p, s in zip(ir.params, sig) if s != _FLOAT}  # (0, "f") may be a 0-d array
        arg_kinds = {p: s[1] for p, s in zip(ir.params, sig) if s}
        scalars = aliases.surely_scalars(ir, analysis.ranks(ir, arg_ranks, elements, arg_kinds), maybe_arrays)
        problems = [p for var, p in ir.shared_updates if var not in scalars]
        if problems:
            raise UnsupportedSyntaxError(problems)
    ir.containers = {p: s[3] for p, s in zip(ir.params, sig) if s and len(s) > 3}
    containers.specialise(ir, ir.containers)
    passes.propagate_ir_copies(ir)
    wrt = [ir.params[i] for i in positions]
    arg_kinds = {p: s[1] for p, s in zip(ir.params, sig) if s}
    ranks = analysis.ranks(ir, arg_ranks, elements, arg_kinds)
    kinds = {p: s[1] for p, s in zip(ir.params, sig) if s and s[1] in ("list", "tuple", "dict")}
    kinds.update({p: "float" for p, s in zip(ir.params, sig) if s == _FLOAT})
    complex_inputs = complex_values.may_be_complex(ir, sig)
    if observe is not None:
        observe(ir, wrt)
    with complex_values.compiling(complex_inputs):  # the rules' complex forms
        if mode == "forward":
            src = forward.tangent(ir, wrt, ranks, namer)
        else:
            known = None
            if shapes is not None or facts is not None:  # a variant for one call: shapes proved equal under facts
                known = symbolic_shapes.Shapes(ir, ranks, pattern=shapes, facts=facts)
            src = reverse.adjoint(ir, wrt, ranks, namer, split=split, many=many, kinds=kinds, shapes=known)
            if unit_seed and not split:
                _unit_seed(src.fn, ir.output, ranks.get(ir.output))
    complex_ = complex_inputs or _may_be_complex(ir, ranks)
    scalar = ranks.get(ir.output) == 0 and not complex_  # a complex scalar: the value must be checked
    grads_only = grads_only and scalar and not has_aux and not split and mode == "reverse"
    if grads_only:
        ret = src.fn.body[-1]
        ret.value = ret.value.elts[1]  # return (out, grads) -> return grads
    if optimize:
        algebra.optimize(src.fn)
        if mode == "reverse":
            inverses.share(src.fn)  # one np.linalg.inv of a matrix the backward sweep inverts and solves with
            if not portable and namespaces.of_signature(sig) is None:  # NumPy's arrays: the array API has no trace
                inverses.traces(src.fn, ranks)  # np.trace(delta_q) for np.sum(delta_q * p), p = np.eye(n)
            trip_records.walk_records(src.fn)  # for y in reversed(y_stack): where a while loop counted its trips
    missing = object()
    free = {k: v for k, v in ir.namespace.items() if parsed.globals.get(k, missing) is not v}
    helpers = {**src.helpers, **free}
    floats = {p for p, s in zip(ir.params, sig) if s == _FLOAT}
    ints = {p for p, s in zip(ir.params, sig) if s == variants._INT}  # loop bounds, say: Python ints for sure
    unboxed = False
    foreign = namespaces.of_signature(sig)
    numpy = foreign is None  # arrays of another library: the code is written against their namespace, last
    if numpy and complex_ and mode == "reverse" and unit_seed:  # no Python floats for NumPy scalars: float() drops
        _real_floats(src, helpers)
    elif numpy and floats and optimize and mode == "reverse" and unit_seed:  # what gradient objects call
        unboxed = _unbox(src, floats, helpers, parsed.globals, ints)
    if mode == "reverse" and not split:  # checkpoint=k, or ``# sct: checkpoint`` on a loop (sct.passes.checkpoint)
        checkpoints.apply(src, parsed, ir, checkpoint)  # after the optimiser: it copies the optimised loops
    has_arrays = any(rank is not None and rank > 0 for rank in ranks.values())  # scalar code keeps its lines
    if optimize and not unboxed and mode == "reverse" and has_arrays:  # Python-float variants fuse everything
        temporaries = {d for d, v in src.adjoint_of.items() if v in namer.temps}
        resolve = codegen.namespace(parsed.globals, helpers).get
        fuse.fold_adjoints(src.fn, _scalars(ranks), temporaries, resolve)  # delta_log_noise = delta_m * m * 2.0
        fuse.fold_recomputations(src.fn, namer.temps, resolve)  # delta_Wx += xs[t].T @ delta_i
    if optimize and not unboxed:  # Python floats hold no arrays: nothing worth releasing
        liveness.release(src.fn, _scalars(ranks), {v for v, rank in ranks.items() if rank is not None and rank > 0})
    if foreign is not None:  # the same code, its NumPy calls (the shape records above too) against the namespace
        namespaces.retarget(src.fn, helpers, foreign)
    text = src.unparse()
    function = codegen.compile_source(text, src.fn.name, parsed.globals, helpers, src.fn.name)
    STATS["compiles" if counted else "validation compiles"] += 1  # what calls compile; not validation's own
    used = getattr(src, "facts", ())
    return Compiled(function, text, helpers, ir.params, wrt, scalar=scalar, grads_only=grads_only, facts=used)


def _global_numbers(ir, parsed) -> dict:
    """Rank 0 for the module globals the function reads that hold a Python int or float (``LOG_2PI``).

    They are read live, so a later call may find another number there; the variant's guards test that it
    is still one of the same type (:func:`sct.backend.variants._guards`), so their rank is known. A name the
    function assigns, a parameter, a closure variable, or one the lowering bound to something else is left out.
    """
    numbers = {k for k, v in parsed.globals.items() if type(v) in variants.NUMBERS}  # the only names found can hold
    if not numbers:  # a module holding no number: no walk
        return {}
    assigned = {s.target for s in walk(ir.body) if isinstance(s, Assign | For)} | set(ir.params)
    found = {}
    for stmt in walk(ir.body):
        if not isinstance(stmt, Assign):
            continue
        for name in names_in(stmt.value):
            if name in found or name not in numbers or name in assigned or name in parsed.closure:
                continue
            value = parsed.globals.get(name)
            if type(value) in variants.NUMBERS and ir.namespace.get(name, value) is value:
                found[name] = 0
    return found


def _unit_seed(fn, output: str, rank) -> None:
    """Read 1.0 for the seed ``delta_out``; or, where the code indexes it (a size-1 array
    returned, ``delta_a = delta_out[0]``), a seed of ones shaped like the value: ``1.0[0]`` fails.
    """
    seed = fn.args.args[-1].id
    reads, indexed = _seed_reads(fn, seed)
    if rank == 0 or rank is None and not indexed:  # rank > 0: a size-1 array, its gradient shaped by it
        for holder, at in reads:  # passes.bind_constant's replacement, from the same walk
            if type(holder) is list:
                holder[at] = gast.Constant(value=1.0, kind=None)
            else:
                setattr(holder, at, gast.Constant(value=1.0, kind=None))
        return
    at = codegen.marker(fn.body, "backward")
    fn.body.insert(at + 1, gast.parse(f"{seed} = np.ones_like({output})").body[0])


def _seed_reads(fn, seed: str) -> tuple[list, bool]:
    """Where ``fn`` reads ``seed`` (each as the list and index, or the node and field, holding the ``Name``),
    and whether it indexes it; one walk for the two that a look for ``seed[...]`` and ``passes.bind_constant`` took."""
    reads, indexed = [], False
    stack, fields_of, name, subscript, load = [fn], codegen.child_fields, gast.Name, gast.Subscript, gast.Load
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        kind = type(node)
        if kind is subscript and type(node.value) is name and node.value.id == seed:
            indexed = True
        for attr in fields_of(kind):
            value = getattr(node, attr, None)
            if type(value) is list:
                for i, child in enumerate(value):
                    if type(child) is name:
                        if child.id == seed and type(child.ctx) is load:
                            reads.append((value, i))
                        elif child.annotation is not None:  # a parameter's: bind_constant's walk reads it too
                            push(child)
                    elif isinstance(child, gast.AST):
                        push(child)
            elif type(value) is name:
                if value.id == seed and type(value.ctx) is load:
                    reads.append((node, attr))
                elif value.annotation is not None:
                    push(value)
            elif isinstance(value, gast.AST):
                push(value)
    return reads, indexed


def _may_be_complex(ir, ranks) -> bool:
    """Whether a value may be complex: Python's ``a ** b`` of a negative float ``a`` to a fractional ``b`` is.

    (NumPy's gives NaN: a base known to be an array cannot.) Its gradient is complex
    too, and NumPy's ``float()`` of a complex scalar drops the imaginary part with only a warning.
    """
    for stmt in walk(ir.body):
        if not isinstance(stmt, Assign) or stmt.prim not in (operator.pow, pow):
            continue
        base, exponent = operands(stmt)[0][:2]
        power = analysis.static_value(exponent)
        if isinstance(power, int) or isinstance(power, float) and power.is_integer():
            continue
        if analysis.rank_of(base, ranks) in (0, None):
            return True
    return False


def _real_floats(src, helpers: dict) -> None:
    """``float(x)`` -> ``real_float(x)``, which raises for a complex ``x`` (see :func:`sct.values.real_float`)."""
    real = src.use(values.real_float, "real_float")
    for node in gast.walk(src.fn):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "float":
            node.func.id = real
    helpers[real] = values.real_float


def _unbox(src, floats: set, helpers: dict, user_globals: dict, ints: set = frozenset()) -> bool:
    """Python floats for NumPy scalars (:mod:`sct.passes.unbox`); a fallback without them where Python raises.

    Whether it converted the code."""
    bound = codegen.namespace(user_globals, helpers)
    types = unbox.plan(src.fn, floats, bound, user_globals, ints)
    if types is None:
        return False
    fuse.fuse(src.fn, types.resolve)  # scalars only: temporaries into their one use
    algebra.after_fusing(src.fn)  # signs brought together, copies and sums left, comments over what went
    if not types.wraps:  # it only drops float() of Python floats
        unbox.convert(src.fn, types)
        return True
    unconverted = codegen.Deferred(src.fn, src.fn.name, user_globals, helpers, src.fn.name)  # compiled if it runs
    unbox.convert(src.fn, types)
    fallback = src.namer.fresh(f"{src.fn.name}_numpy")
    helpers[fallback] = unconverted
    unbox.guard(src.fn, fallback)
    return True


def _scalars(ranks: dict) -> set:
    """Names known to hold scalars, and their adjoints and tangents: releasing them frees nothing worth a line."""
    scalars = {v for v, rank in ranks.items() if rank == 0}
    return scalars | {f"{prefix}_{v}" for v in scalars for prefix in ("delta", "dot")}


def compiled(fn, positions, sig, **options) -> Compiled:
    """The cached variant of ``fn`` for these options and argument signature."""
    defaults = {"split": False, "has_aux": False, "optimize": True, "many": None, "mode": "reverse"}
    counted = options.pop("counted", True)  # not part of the key
    if options.get("backend") is not None:  # the Python variant, then compiled by numba (sct.backend.native)
        return _native(fn, positions, sig, options, counted)
    options.pop("backend", None)
    options = {**defaults, "unit_seed": False, "grads_only": False, **options}
    key = (tuple(positions), sig, tuple(sorted(options.items())))
    try:
        variants = _CACHE.get(fn)
    except TypeError:  # not weak-referenceable (a ufunc): nothing to cache, and build says why
        return build(fn, positions, sig, **options, counted=counted)
    variant = variants.get(key) if variants is not None else None
    if variant is None and variants is not None and ("shapes" in options or "facts" in options):
        variant = _with_facts(variants, key, options)
    if variant is not None and variant.fresh():
        return variant
    with _LOCK:  # one compile at a time: each (fn, signature) is compiled once
        variants = _CACHE.setdefault(fn, {})
        variant = variants.get(key)
        if variant is None or not variant.fresh():
            guards = _guards(fn)  # taken first: a change during the build is caught next call
            stored = cache.key(fn, positions, sig, options, guards)  # on disk: None where off or not describable
            stored = None if any(namespaces.is_foreign(s) for s in sig) else stored  # bound to a live namespace
            variant = cache.load(stored, fn) if stored is not None else None
            if variant is None:
                variant = build(fn, positions, sig, **options, counted=counted)
                if stored is not None:
                    cache.store(stored, fn, variant)
            variant.guards = guards
            variants[key] = variant
        return variant


def _with_facts(variants: dict, key: tuple, options: dict) -> Compiled | None:
    """A variant compiled for another call of the same signature and options that serves this one:
    its facts hold for the call's dimensions (``shapes``), or are the ones asked for (``facts``)."""
    positions, sig, _ = key
    rest = {k: v for k, v in options.items() if k not in ("shapes", "facts")}
    for (p, s, items), variant in list(variants.items()):
        if p != positions or s != sig or len(items) != len(rest) + 1:
            continue
        found = dict(items)
        if {k: v for k, v in found.items() if k not in ("shapes", "facts")} != rest:
            continue
        if "facts" in options and variant.facts == options["facts"]:
            return variant
        if "shapes" in options and symbolic_shapes.holds(variant.facts, options["shapes"]):
            return variant
    return None


def _native(fn, positions, sig, options: dict, counted: bool) -> Compiled:
    """The variant for ``backend="numba"``: the Python variant's code compiled by ``numba.njit``."""
    backend = options.pop("backend")
    if backend != "numba":
        raise SctError(f"backend={backend!r}: the backends are None (Python) and 'numba'")
    python = compiled(fn, positions, sig, **options, counted=counted)
    key = (tuple(positions), sig, tuple(sorted(options.items())), backend)
    variants_ = _CACHE.setdefault(fn, {})
    found = variants_.get(key)
    if found is not None and found.fresh() and found.python is python:
        return found
    user_globals = getattr(inspect.unwrap(fn, stop=frontend.is_plain_wrapper), "__globals__", {})
    namespace = codegen.namespace(user_globals, python.helpers)
    name = python.source.split("(", 1)[0].removeprefix("def ").strip()
    source = codegen.unparse(liveness.strip(gast.parse(python.source).body[0]))  # numba compiles no ``del``
    function = backends.native.Native(source, name, namespace, user_globals, fn, python.function)  # loaded now
    variant = Compiled(function, source, python.helpers, python.params, python.wrt)
    variant.scalar, variant.grads_only, variant.guards = python.scalar, python.grads_only, python.guards
    variant.facts = python.facts
    variant.python = python
    variants_[key] = variant
    return variant


def validated(fn, variant, positions, sig, **options) -> Compiled:
    """``variant``; or, where translation validation is on (:mod:`sct.validate`), one that validates each call."""
    if not validate.ENABLED or any(namespaces.is_foreign(s) for s in sig):  # not run: NumPy would compute them
        return variant
    full = variant
    if variant.grads_only:  # it computes no value: the variant that does, for the value to compare
        full = compiled(fn, positions, sig, **{**options, "grads_only": False}, counted=False)
    return validate.checked(fn, variant, full, len(variant.params), options.get("split", False))


def _check_wrt_args(fn, positions, args):
    for i in positions:
        if i >= len(args):
            raise SctError(f"{fn.__name__} was called with {len(args)} arguments; wrt asks for argument {i}")
        kind = _describe(args[i])
        if variants.integer_kind(kind) or kind is not None and namespaces.integer(kind):
            raise SctError(
                f"argument {i} of {fn.__name__} is an integer ({args[i]!r}); gradients need floats: "
                "pass 3.0 instead of 3, or x.astype(float)"
            )
        values.check_argument(fn.__name__, i, args[i])


def _check_arity(fn, args):
    """Arguments the function cannot take would land in the generated code's own (``delta_out``)."""
    try:
        inspect.signature(fn).bind(*args)
    except TypeError as exc:
        raise SctError(f"{fn.__name__} was called with {len(args)} arguments: {exc}{values.method_hint(fn)}") from None
    except ValueError:  # no signature to check against
        pass


def bind_positionally(fn, args: tuple, kwargs: dict) -> tuple:
    """``fn(*args, **kwargs)``'s arguments as a tuple of positional ones, as a positional call would give them.

    A parameter left to its default between two given ones takes the default;
    those after the last given one are left off, as in a positional call (so a
    parameter differentiated by must be given, whichever way). Arguments ``fn``
    cannot take raise the ``TypeError`` that calling ``fn`` would.
    """
    target = inspect.unwrap(fn, stop=frontend.is_plain_wrapper)
    try:
        params = inspect.signature(target)
    except (TypeError, ValueError):  # no signature to bind by
        raise TypeError(f"{fn.__name__}() cannot be called with keyword arguments through sct") from None
    try:
        bound = params.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{fn.__name__}() {exc}") from None
    positional = [p for p in params.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    given = [i for i, p in enumerate(positional) if p.name in bound.arguments]
    if len(bound.arguments) > len(given):  # *args, **kwargs, keyword-only: refused when the object was made
        raise SctError(
            f"{fn.__name__} takes {sorted(set(bound.arguments) - {positional[i].name for i in given})} "
            "other than by position, which sct cannot pass here: differentiate a function with plain "
            "parameters that calls it (lambda x, rest: f(x, *rest))"
        )
    last = given[-1] + 1 if given else 0
    return tuple(bound.arguments.get(p.name, p.default) for p in positional[:last])


def _check_scalar(fn, out):
    if namespaces.check_scalar(fn.__name__, out):  # another library's array: from its shape, not computed
        return
    if isinstance(out, complex) or np.iscomplexobj(out) and not isinstance(out, list | tuple | dict):
        raise SctError(
            f"sct.grad needs {fn.__name__} to return a real scalar, but it returned the complex value {out!r}"
            f"{values.complex_hint(fn)}"
        )
    if not isinstance(out, list | tuple | dict):
        values.check_output(fn.__name__, out, "sct.grad")
    if isinstance(out, float) or np.size(out) == 1 and not isinstance(out, list | tuple | dict):
        return
    shape = np.shape(out) if not isinstance(out, dict) else type(out).__name__
    raise SctError(
        f"sct.grad needs {fn.__name__} to return a scalar, but it returned a value of shape {shape}; "
        "use sct.vjp(f, *args) for a vector-Jacobian product, or sct.jacobian(f) for the full Jacobian"
    )


def completed(fn, args: tuple) -> tuple:
    """``args`` and the defaults of the positional parameters of ``fn`` after them (the generated code takes all)."""
    plain = inspect.unwrap(fn, stop=frontend.is_plain_wrapper)
    return args + tuple(_defaults_after(plain, len(args))) if type(plain) is types.FunctionType else args


def _defaults_after(fn, given: int) -> tuple:
    """The default values of ``fn``'s positional parameters after the first ``given`` (all of them must have one)."""
    code, defaults = getattr(fn, "__code__", None), getattr(fn, "__defaults__", None) or ()
    missing = code.co_argcount - given if code is not None else 0
    return defaults[len(defaults) - missing :] if 0 < missing <= len(defaults) else ()


nested.provide(compiled=compiled, validated=validated, signature=signature)
