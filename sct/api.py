"""The public entry points: grad, value_and_grad, vjp, source; the pipeline and the cache.

Each differentiated function is compiled once per *signature* of its
arguments (rank and dtype kind of each, :mod:`sct.variants`), like a JIT
specialising on shapes: knowing that an argument is a scalar is what lets the
generated code skip ``unbroadcast``. ``.source`` shows the shape-generic variant.
"""

from __future__ import annotations

import functools
import gc
import inspect
import operator
import sys
import threading
import types
import weakref

import gast
import numpy as np

from . import (
    aliases,
    analysis,
    anf,
    cache,
    codegen,
    containers,
    dispatch,
    fuse,
    reverse,
    signatures,
    unbox,
    validate,
    values,
    variants,
)
from . import optimize as passes
from . import parse as frontend
from .anf_functions import is_object
from .errors import SctError, UnsupportedSyntaxError
from .ir import Assign, operands, walk
from .variants import (  # noqa: F401 (some are part of sct.api for the tests)
    _ANNOTATED_FLOAT,
    _FLOAT,
    Compiled,
    _annotated_signature,
    _describe,
    _guards,
    signature,
)

_LOCK = threading.RLock()
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
STATS = {"compiles": 0, "validation compiles": 0}


# ---- wrt -------------------------------------------------------------------------
_WRT: dict = {}  # (code object, wrt) -> resolve_wrt's answer, for plain functions


def resolve_wrt(fn, wrt) -> tuple[list[int], bool]:
    """Positions of the parameters to differentiate by, and whether a tuple was asked for."""
    key = (fn.__code__, type(wrt), wrt) if type(fn) is types.FunctionType and not isinstance(wrt, list) else None
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
    checkpoint=None,
) -> Compiled:
    """Run the whole pipeline: parse, lower, analyse, emit the adjoint (or tangent), optimise, compile.

    ``unit_seed``: the caller never passes ``delta_out`` (a gradient object), so
    the code may read 1.0 for it: ``delta_e = 1.0 / g``, not ``delta_out / g``.
    ``grads_only``: the caller wants no value (``grad``), so where the value is
    surely a scalar (nothing to check) the code returns the gradients alone and
    computes the value only as far as the gradients need it.
    """
    from . import complex_values, forward, higher

    fn = higher.differentiable(fn, sig)  # a generated function: its source, made differentiable again
    parsed = frontend.parse(fn)
    if isinstance(fn, signatures.Flat):  # f(x, *rest, k): the body of f, every parameter positional
        signatures.flatten_parameters(parsed.node)
    frontend.check_supported(parsed)
    structures = {p: s[3] for p, s in zip(anf.parameter_names(parsed.node.args), sig) if s and len(s) > 3}
    params = anf.parameter_names(parsed.node.args)
    callables, objects = variants.callables(params, sig, parsed.fn), variants.objects(params, sig)
    ir, namer = anf.lower(parsed, has_aux=has_aux, structures=structures, callables=callables, objects=objects)
    arg_ranks = {p: (s[0] if s else None) for p, s in zip(ir.params, sig)}
    elements = {p: s[2] for p, s in zip(ir.params, sig) if s and len(s) > 2}
    if ir.shared_updates:  # x += e on an array another name holds: only NumPy changes both
        maybe_arrays = {p for p, s in zip(ir.params, sig) if s != _FLOAT}  # (0, "f") may be a 0-d array
        scalars = aliases.surely_scalars(ir, analysis.ranks(ir, arg_ranks, elements), maybe_arrays)
        problems = [p for var, p in ir.shared_updates if var not in scalars]
        if problems:
            raise UnsupportedSyntaxError(problems)
    ir.containers = {p: s[3] for p, s in zip(ir.params, sig) if s and len(s) > 3}
    containers.specialise(ir, ir.containers)
    passes.propagate_ir_copies(ir)
    wrt = [ir.params[i] for i in positions]
    ranks = analysis.ranks(ir, arg_ranks, elements)
    kinds = {p: s[1] for p, s in zip(ir.params, sig) if s and s[1] in ("list", "tuple", "dict")}
    kinds.update({p: "float" for p, s in zip(ir.params, sig) if s == _FLOAT})
    complex_inputs = complex_values.may_be_complex(ir, sig)
    with complex_values.compiling(complex_inputs):  # the rules' complex forms
        if mode == "forward":
            src = forward.tangent(ir, wrt, ranks, namer)
        else:
            src = reverse.adjoint(ir, wrt, ranks, namer, split=split, many=many, kinds=kinds)
            if unit_seed and not split:
                _unit_seed(src.fn, ir.output, ranks.get(ir.output))
    complex_ = complex_inputs or _may_be_complex(ir, ranks)
    scalar = ranks.get(ir.output) == 0 and not complex_  # a complex scalar: the value must be checked
    grads_only = grads_only and scalar and not has_aux and not split and mode == "reverse"
    if grads_only:
        ret = src.fn.body[-1]
        ret.value = ret.value.elts[1]  # return (out, grads) -> return grads
    if optimize:
        passes.optimize(src.fn)
    missing = object()
    free = {k: v for k, v in ir.namespace.items() if parsed.globals.get(k, missing) is not v}
    helpers = {**src.helpers, **free}
    floats = {p for p, s in zip(ir.params, sig) if s == _FLOAT}
    if complex_ and mode == "reverse" and unit_seed:  # no Python floats for NumPy scalars: float() drops
        _real_floats(src, helpers)
    elif floats and optimize and mode == "reverse" and unit_seed:  # what gradient objects call
        _unbox(src, floats, helpers, parsed.globals)
    if mode == "reverse" and not split:  # checkpoint=k, or ``# sct: checkpoint`` on a loop (sct.checkpoint)
        from . import checkpoint as checkpoints

        checkpoints.apply(src, parsed, ir, checkpoint)  # last: the loops it copies are the optimised ones
    text = src.unparse()
    function = codegen.compile_source(text, src.fn.name, parsed.globals, helpers, src.fn.name)
    STATS["compiles" if counted else "validation compiles"] += 1  # what calls compile; not validation's own
    return Compiled(function, text, helpers, ir.params, wrt, scalar=scalar, grads_only=grads_only)


def _unit_seed(fn, output: str, rank) -> None:
    """Read 1.0 for the seed ``delta_out``; or, where the code indexes it (a size-1 array
    returned, ``delta_a = delta_out[0]``), a seed of ones shaped like the value: ``1.0[0]`` fails.
    """
    seed = fn.args.args[-1].id
    indexed = any(
        isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == seed
        for node in gast.walk(fn)
    )
    if rank == 0 or rank is None and not indexed:  # rank > 0: a size-1 array, its gradient shaped by the seed
        passes.bind_constant(fn, seed, 1.0)
        return
    at = next(i for i, stmt in enumerate(fn.body) if codegen.is_comment(stmt) and _comment_text(stmt) == "backward")
    fn.body.insert(at + 1, gast.parse(f"{seed} = np.ones_like({output})").body[0])


def _comment_text(stmt) -> str:
    return stmt.value.args[0].value


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


def _unbox(src, floats: set, helpers: dict, user_globals: dict) -> None:
    """Python floats for NumPy scalars (:mod:`sct.unbox`); a fallback without them where Python raises."""
    bound = codegen.namespace(user_globals, helpers)
    types = unbox.plan(src.fn, floats, bound, user_globals)
    if types is None:
        return
    fuse.fuse(src.fn, types.resolve)  # scalars only: temporaries into their one use
    passes.simplify(src.fn)  # what fusing brought together: a + 2.0 * (-b * c) -> a - 2.0 * (b * c)
    if not types.wraps:  # it only drops float() of Python floats
        unbox.convert(src.fn, types)
        return
    unconverted = codegen.compile_source(src.unparse(), src.fn.name, user_globals, helpers, src.fn.name)
    unbox.convert(src.fn, types)
    fallback = src.namer.fresh(f"{src.fn.name}_numpy")
    helpers[fallback] = unconverted
    unbox.guard(src.fn, fallback)


def compiled(fn, positions, sig, **options) -> Compiled:
    """The cached variant of ``fn`` for these options and argument signature."""
    defaults = {"split": False, "has_aux": False, "optimize": True, "many": None, "mode": "reverse"}
    counted = options.pop("counted", True)  # not part of the key
    if options.get("backend") is not None:  # the Python variant, then compiled by numba (sct.native)
        return _native(fn, positions, sig, options, counted)
    options.pop("backend", None)
    options = {**defaults, "unit_seed": False, "grads_only": False, **options}
    key = (tuple(positions), sig, tuple(sorted(options.items())))
    try:
        variants = _CACHE.get(fn)
    except TypeError:  # not weak-referenceable (a ufunc): nothing to cache, and build says why
        return build(fn, positions, sig, **options, counted=counted)
    variant = variants.get(key) if variants is not None else None
    if variant is not None and variant.fresh():
        return variant
    with _LOCK:  # one compile at a time: each (fn, signature) is compiled once
        variants = _CACHE.setdefault(fn, {})
        variant = variants.get(key)
        if variant is None or not variant.fresh():
            guards = _guards(fn)  # taken first: a change during the build is caught next call
            stored = cache.key(fn, positions, sig, options, guards)  # on disk: None where off or not describable
            variant = cache.load(stored, fn) if stored is not None else None
            if variant is None:
                variant = build(fn, positions, sig, **options, counted=counted)
                if stored is not None:
                    cache.store(stored, fn, variant)
            variant.guards = guards
            variants[key] = variant
        return variant


def _native(fn, positions, sig, options: dict, counted: bool) -> Compiled:
    """The variant for ``backend="numba"``: the Python variant's code compiled by ``numba.njit``."""
    from . import native

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
    function = native.Native(python.source, name, namespace, user_globals, fn, python.function)
    variant = Compiled(function, python.source, python.helpers, python.params, python.wrt)
    variant.scalar, variant.grads_only, variant.guards = python.scalar, python.grads_only, python.guards
    variant.python = python
    variants_[key] = variant
    return variant


def validated(fn, variant, positions, sig, **options) -> Compiled:
    """``variant``; or, where translation validation is on (:mod:`sct.validate`), one that validates each call."""
    if not validate.ENABLED:
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
        if kind is not None and isinstance(kind[1], str) and kind[1] in "iub":
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


# ---- public API -------------------------------------------------------------------
class _Differentiated:
    """Shared machinery of the callables grad and value_and_grad return.

    A call goes through ``_call``: at first ``_general``; from the second call
    on, a dispatcher generated for the variants compiled so far (see
    :mod:`sct.dispatch`), which falls back to ``_general`` for arguments it does
    not recognise. (A gradient object made for one call, ``sct.grad(f)(x)``,
    never pays for generating one.)
    """

    _with_value = False  # whether a call returns (value, grads)

    @property
    def _grads_only(self) -> bool:
        return not self._with_value and not self.has_aux

    def __init__(self, fn, wrt, has_aux, backend=None, checkpoint=None):
        if not callable(fn):
            raise SctError(f"sct.grad expects a function, got {fn!r}")
        self._spec = (fn, wrt)  # as given: a method decorated in a class body binds it again (__get__)
        # obj.f (or cls.f of a classmethod): f with its first argument given; wrt counts the others
        self._receiver, fn, wrt = _unbound(fn, wrt)
        self._flat = signatures.needs_flattening(fn)  # a plain function only: a Grad is not seen through
        if self._flat:  # f(x, *rest, k=1.0, **opts): differentiated as flat(x, rest, k, opts)
            target = signatures.flat(fn)
            signatures.check_wrt(target, wrt)
            fn, user_fn = target, fn
        self.fn, self.has_aux = fn, has_aux
        self.positions, many = resolve_wrt(fn, wrt)
        self.options = {"has_aux": has_aux, "many": many}
        self._extra = _extra_options(backend, checkpoint)  # given only where not the default: keys stay as they were
        self.options.update(self._extra)
        functools.update_wrapper(self, user_fn if self._flat else fn, updated=())  # fn may be a Grad: keep ours
        self._variants = _variants_of(fn, self.positions, self.options, self._grads_only)
        self._call = self._general
        self._calls = 0  # through the general path
        self._dispatched = None  # the variants the current dispatcher tests for

    def __call__(self, *args, **kwargs):
        if self._receiver is not _NO_RECEIVER:
            return self._call(self._receiver, *args, **kwargs)
        return self._call(*args, **kwargs)

    def __get__(self, obj, owner=None):
        """``@sct.grad`` on a method: ``obj.f`` differentiates ``f`` with ``self`` given (wrt counts after it)."""
        if obj is None or self._receiver is not _NO_RECEIVER:
            return self
        fn, wrt = self._spec
        return type(self)(types.MethodType(fn, obj), wrt, self.has_aux, **self._extra)

    def _general(self, *args, **kwargs):
        """Any call: find (or compile) the variant for these arguments, run it, shape the result."""
        if self._flat:  # one argument per parameter: *rest a tuple, **opts a dict
            args = self.fn.flatten(args, kwargs, [self.fn.names[i] for i in self.positions])
        elif kwargs:  # bound like the function binds them, then passed by position
            args = bind_positionally(self.fn, args, kwargs)
        if any(is_object(args[i]) for i in self.positions if i < len(args)):  # by an object: by its attributes
            wrt = set(self.positions)
            args = tuple(variants.Attributes.of(a) if i in wrt and is_object(a) else a for i, a in enumerate(args))
        sig = signature(args)
        found = self._variants.get(sig)
        if found is None and max(self.positions) < len(args):  # the rest may take their defaults
            args = args + self._defaults(len(args))
            sig = signature(args)
            found = self._variants.get(sig)
        self._calls += 1
        if found is None or not found.fresh():
            found = self._compile(args)
        elif self._calls > 1 and not self._flat and self._dispatched != list(self._variants.values()):  # in use
            self._dispatch()
        for i in self.positions:  # a container, None, a str, an object: the key hides what the leaves are
            if sig[i] is None or sig[i][0] is None:
                _check_wrt_args(self.fn, self.positions, args)
                break
        if validate.ENABLED:
            found = self._validated(sig, found)
        try:
            if found.grads_only:  # the value is a scalar, and not asked for
                return found.function(*args)
            value, grads = found.function(*args)
        except (TypeError, IndexError, ValueError) as exc:
            self._explain(args, exc)
            raise
        if not isinstance(value, float):  # Python and NumPy floats are scalars: nothing to check
            self._check(value[0] if self.has_aux else value)
        return self._result(value, grads)

    def _defaults(self, given: int) -> tuple:
        """The default values of the positional parameters after the first ``given``.

        A parameter differentiated by must be given (as in JAX), so only those after the last of them.
        """
        fn = inspect.unwrap(self.fn, stop=frontend.is_plain_wrapper)
        return _defaults_after(fn, max(given, max(self.positions) + 1))

    def _result(self, value, grads):
        return (grads, value[1]) if self.has_aux else grads

    def _check(self, value):
        _check_scalar(self.fn, value)

    def _explain(self, args, exc):
        """The generated code failed: raise ``fn``'s own error, or say that ``fn`` returns no scalar.

        Where ``fn`` itself fails on these arguments, its own error (an
        ``UnboundLocalError``, say, that the generated code met as a ``None``) is
        the one Python would raise, so it is the one to see.
        """
        try:
            out = self.fn(*args)
            out = out[0] if self.has_aux else out
        except Exception as own:
            raise own from None
        try:
            _check_scalar(self.fn, out)
        except SctError as err:
            raise err from exc

    def _validated(self, sig, variant) -> Compiled:
        return validated(
            self.fn, variant, self.positions, sig, unit_seed=True, grads_only=self._grads_only, **self.options
        )

    def _compile(self, args):
        sig = signature(args)
        _check_wrt_args(self.fn, self.positions, args)
        _check_arity(self.fn, args)
        variant = compiled(self.fn, self.positions, sig, unit_seed=True, grads_only=self._grads_only, **self.options)
        self._variants[sig] = variant
        if self._dispatched is not None:  # a dispatcher is in use: it must see the new variant
            self._dispatch()
        return variant

    def _dispatch(self):
        """Generate the dispatcher, and make it this object's own ``__call__``.

        Calling an instance runs its class's ``__call__``; a Python ``__call__``
        that forwards to ``self._call`` costs a frame and a bound method, ~0.15 µs,
        as much as ten float operations. So the object gets a class of its own
        (a subclass, made once) whose ``__call__`` is the dispatcher itself.
        """
        self._dispatched = list(self._variants.values())
        recent = list(self._variants.items())[-_DISPATCHED:][::-1]
        if validate.ENABLED:  # a dispatcher made now validates for as long as it lives
            recent = [(sig, self._validated(sig, variant)) for sig, variant in recent]
        self._call = dispatch.dispatcher(
            recent,
            self._general,
            self._explain,
            self._check,
            with_value=self._with_value,
            has_aux=self.has_aux,
            names=_positional_names(self.fn),
            name=getattr(self.fn, "__name__", None),
        )
        cls = type(self)
        if "_dispatching" not in cls.__dict__:
            cls = type(cls.__name__, (cls,), {"_dispatching": True, "__module__": cls.__module__})
            cls.__qualname__ = type(self).__qualname__
            self.__class__ = cls
        cls.__call__ = staticmethod(self._call)

    @property
    def source(self) -> str:
        """The generated adjoint (the shape-generic variant, what ``sct dump`` prints)."""
        sig = _annotated_signature(self.fn)
        options = {k: v for k, v in self.options.items() if k != "backend"}  # the code, whichever runs it
        return compiled(self.fn, self.positions, sig, **options).source

    def __repr__(self):
        return f"<{type(self).__name__} of {self.fn.__qualname__}>"

    def __reduce__(self):
        """Pickled as the function and the options: compiled code is rebuilt where it is unpickled
        (from the persistent cache, :mod:`sct.cache`, where it has the entry)."""
        fn, wrt = self._spec
        if self._receiver is not _NO_RECEIVER:  # obj.f of a method decorated in the class body: obj.f again
            name = getattr(self.fn, "__name__", None)
            owner = inspect.getattr_static(type(self._receiver), name, None) if name else None
            if isinstance(owner, _Differentiated) and owner._spec[0] is self.fn:
                return getattr, (self._receiver, name)
        module, qualname = getattr(self, "__module__", None), getattr(self, "__qualname__", None)
        found = sys.modules.get(module) if isinstance(module, str) else None
        for part in qualname.split(".") if found is not None and isinstance(qualname, str) else ():
            found = getattr(found, part, None)
        if found is self:  # @sct.grad on a module-level function: the module's name for it
            return qualname
        return _unpickled, (isinstance(self, ValueAndGrad), fn, wrt, self.has_aux, self._extra)


def _positional_names(fn) -> list | None:
    """The names ``fn`` takes its positional parameters by (keywords bind to them), or None if unknown."""
    try:
        params = inspect.signature(inspect.unwrap(fn, stop=frontend.is_plain_wrapper)).parameters.values()
    except (TypeError, ValueError):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


_DISPATCHED = 4  # variants the fast path of one gradient object tests for, the latest first
_VARIANTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _variants_of(fn, positions, options, grads_only) -> dict:
    """``{signature: variant}`` shared by the gradient objects of one function and options.

    So ``sct.grad(f)(x)``, a new object per call, finds its variant at once.
    """
    key = (tuple(positions), options["has_aux"], options["many"], grads_only)
    key += tuple(sorted((k, v) for k, v in options.items() if k not in ("has_aux", "many")))
    try:
        found = _VARIANTS.get(fn)
    except TypeError:  # not weak-referenceable: build says why on the first call
        return {}
    if found is None:
        with _LOCK:
            found = _VARIANTS.setdefault(fn, {})
    return found.setdefault(key, {})


_NO_RECEIVER = object()


def completed(fn, args: tuple) -> tuple:
    """``args`` and the defaults of the positional parameters of ``fn`` after them (the generated code takes all)."""
    plain = inspect.unwrap(fn, stop=frontend.is_plain_wrapper)
    return args + tuple(_defaults_after(plain, len(args))) if type(plain) is types.FunctionType else args


def _defaults_after(fn, given: int) -> tuple:
    """The default values of ``fn``'s positional parameters after the first ``given`` (all of them must have one)."""
    code, defaults = getattr(fn, "__code__", None), getattr(fn, "__defaults__", None) or ()
    missing = code.co_argcount - given if code is not None else 0
    return defaults[len(defaults) - missing :] if 0 < missing <= len(defaults) else ()


def _unbound(fn, wrt):
    """``(self, its function, wrt counting self)`` of a bound method ``obj.f`` of Python code; else ``fn`` as it is."""
    if inspect.ismethod(fn) and isinstance(fn.__func__, types.FunctionType):
        return fn.__self__, fn.__func__, _after_receiver(wrt)
    return _NO_RECEIVER, fn, wrt


def _after_receiver(wrt):
    """``wrt`` of a bound method (positions count the arguments after ``self``) for its function."""
    if isinstance(wrt, int):
        return wrt + 1
    if isinstance(wrt, tuple | list):
        return type(wrt)(_after_receiver(w) for w in wrt)
    return wrt  # a parameter's name


class Grad(_Differentiated):
    pass


class ValueAndGrad(_Differentiated):
    _with_value = True

    def _result(self, value, grads):
        return value, grads


def _unpickled(with_value: bool, fn, wrt, has_aux, extra=None):
    """A gradient object made again from what ``_Differentiated.__reduce__`` pickled."""
    return (ValueAndGrad if with_value else Grad)(fn, wrt, has_aux, **(extra or {}))


def _extra_options(backend, checkpoint) -> dict:
    """``backend=`` and ``checkpoint=``, checked; only those not left to their defaults."""
    extra = {}
    if backend is not None:
        if backend != "numba":
            raise SctError(f"backend={backend!r}: the backends are None (Python, the default) and 'numba'")
        extra["backend"] = backend
    if checkpoint is not None and checkpoint is not False:
        from .checkpoint import check_option

        extra["checkpoint"] = check_option(checkpoint)
    return extra


def grad(fn=None, wrt=0, has_aux=False, *, backend=None, checkpoint=None):
    """The gradient of a scalar function: ``sct.grad(f)(x)`` or ``@sct.grad(wrt=(0, 1))``.

    ``backend="numba"``: the generated code compiled with ``numba.njit`` (:mod:`sct.native`).
    ``checkpoint=k``: loops store every k-th state and recompute the rest (:mod:`sct.checkpoint`).
    """
    if fn is None:
        return lambda f: Grad(f, wrt, has_aux, backend, checkpoint)
    return Grad(fn, wrt, has_aux, backend, checkpoint)


def value_and_grad(fn=None, wrt=0, has_aux=False, *, backend=None, checkpoint=None):
    """Like grad, returning ``(value, gradient)`` from one forward pass."""
    if fn is None:
        return lambda f: ValueAndGrad(f, wrt, has_aux, backend, checkpoint)
    return ValueAndGrad(fn, wrt, has_aux, backend, checkpoint)


def vjp(fn, *primals, has_aux=False):
    """``(out, vjp_fn)``: ``vjp_fn(cotangent)`` returns one gradient per primal (a tuple)."""
    positions = list(range(len(primals)))
    for i, primal in enumerate(primals):
        values.check_argument(getattr(fn, "__name__", repr(fn)), i, primal, integers_ok=True)
    options = {"split": True, "has_aux": has_aux, "many": True}
    variant = compiled(fn, positions, signature(primals), **options)
    variant = validated(fn, variant, positions, signature(primals), **options)
    value, backward = variant.function(*primals)
    values.check_output(getattr(fn, "__name__", repr(fn)), value[0] if has_aux else value, "sct.vjp")

    def vjp_fn(cotangent):
        return backward(cotangent)

    from .higher import generated_vjp

    vjp_fn.__sct_generated__ = generated_vjp(fn, primals, has_aux)  # so vjp_fn is differentiable too
    if has_aux:
        return value[0], vjp_fn, value[1]
    return value, vjp_fn


def source(fn, wrt=0, mode="reverse", optimize=True) -> str:
    """The generated source, as ``sct dump`` prints it."""
    fn = getattr(fn, "__wrapped__", fn) if isinstance(fn, _Differentiated) else fn
    receiver, fn, wrt = _unbound(fn, wrt)  # obj.m: by x, not by self
    if mode not in ("reverse", "forward"):
        raise SctError(f"mode={mode!r}: use 'reverse' or 'forward'")
    positions, many = resolve_wrt(fn, wrt)
    if mode == "forward":
        from .forward import tangent_source

        return tangent_source(fn, positions, optimize=optimize)
    sig = _annotated_signature(fn)
    if receiver is not _NO_RECEIVER:  # self's class: its attributes and methods
        sig = (_describe(receiver), *sig[1:])
    return compiled(fn, positions, sig, optimize=optimize, many=many).source
