"""The public entry points: grad, value_and_grad, vjp, source (the pipeline is :mod:`sct.pipeline`).

Each differentiated function is compiled once per *signature* of its
arguments (rank and dtype kind of each, :mod:`sct.backend.variants`), like a JIT
specialising on shapes: knowing that an argument is a scalar is what lets the
generated code skip ``unbroadcast``. ``.source`` shows the variant the last call
ran (before any call, the one for Python floats where parameters are annotated
``float``, else the generic one); ``sct.source(f, args=...)`` the one for
given arguments, ``sct.source(f, generic=True)`` the generic one.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
import weakref

import numpy as np

from . import higher, nested, validate, values
from .analysis.shapes import holds_for, pattern_of
from .backend import dispatch, namespaces, runtime, variants
from .backend.variants import (
    Compiled,
    _annotated_signature,
    _describe,
    float_signature,
    header,
    signature,
    with_header,
)
from .errors import SctError
from .frontend import parse as frontend
from .frontend import signatures
from .frontend.functions import is_object
from .passes import checkpoint as checkpoints
from .pipeline import (
    _LOCK,
    _check_arity,
    _check_scalar,
    _check_wrt_args,
    _defaults_after,
    bind_positionally,
    compiled,
    completed,
    resolve_wrt,
    validated,
)


# ---- public API -------------------------------------------------------------------
class _Differentiated:
    """Shared machinery of the callables grad and value_and_grad return.

    A call goes through ``_call``: at first ``_general``; from the second call
    on, a dispatcher generated for the variants compiled so far (see
    :mod:`sct.backend.dispatch`), which falls back to ``_general`` for arguments it does
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
        # What the last call ran, for .source, kept off the fast path: the signature the general path
        # last ran; the signature of each call while all had one (_MANY once they differ), for which a
        # dispatcher need not record anything; and, once they differ, the recording dispatcher's
        # signatures and its cell holding the index of the branch that ran last (-1: the general path).
        self._ran, self._seen, self._recent, self._ran_cell = None, None, (), None
        self._family = [None]  # the signature the general path last ran, shared by the obj.f of a method

    def __call__(self, *args, **kwargs):
        if self._receiver is not _NO_RECEIVER:
            return self._call(self._receiver, *args, **kwargs)
        return self._call(*args, **kwargs)

    def __get__(self, obj, owner=None):
        """``@sct.grad`` on a method: ``obj.f`` differentiates ``f`` with ``self`` given (wrt counts after it)."""
        if obj is None or self._receiver is not _NO_RECEIVER:
            return self
        fn, wrt = self._spec
        bound = type(self)(types.MethodType(fn, obj), wrt, self.has_aux, **self._extra)
        bound._family = self._family  # obj.f is a new object each time: obj.f.source shows the last obj.f(...)
        return bound

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
        key, found = self._find(sig, args)
        if found is None and max(self.positions) < len(args):  # the rest may take their defaults
            args = args + self._defaults(len(args))
            sig = signature(args)
            key, found = self._find(sig, args)
        self._calls += 1
        if found is None or not found.fresh():
            found = self._compile(args)
        else:
            self._ran_here(key)
            if self._calls > 1 and not self._flat and self._stale_dispatcher():  # in use
                self._dispatch()
        for i in self.positions:  # a container, None, a str, an object: the key hides what the leaves are
            if sig[i] is None or sig[i][0] is None:
                _check_wrt_args(self.fn, self.positions, args)
                break
        if validate.ENABLED:
            found = self._validated(_key(sig, found), found)
        try:
            if found.grads_only:  # the value is a scalar, and not asked for
                return found.function(*args)
            value, grads = found.function(*args)
        except (TypeError, IndexError, ValueError) as exc:
            self._explain(args, exc)
            raise
        except AttributeError as exc:  # another library's function given a Python number: typed (namespaces)
            namespaces.check_failure(args, exc)
            raise
        except ArithmeticError:  # Python float arithmetic raised where NumPy's may give inf or nan
            return self._arithmetic(args)
        if not isinstance(value, float):  # Python and NumPy floats are scalars: nothing to check
            self._check(value[0] if self.has_aux else value)
        return self._result(value, grads)

    def _find(self, sig, args) -> tuple:
        """``(key, variant)`` of a variant compiled for ``sig`` whose facts about the arguments' dimensions
        (:mod:`sct.analysis.shapes`) hold for ``args``; ``(None, None)`` if none. A variant's key is its
        signature, or a :class:`Facts` of its signature and facts where it relies on some."""
        found = self._variants.get(sig)  # one that relies on no facts: keyed by its signature alone
        if found is not None:
            return sig, found
        for key, variant in list(self._variants.items()):  # list(): atomic, where another thread adds one
            if type(key) is Facts and key[0] == sig and holds_for(key[1], args):
                return key, variant
        return None, None

    def variant_for(self, args) -> Compiled | None:
        """The compiled variant a call with ``args`` (all given) would run, if there is one yet."""
        return self._find(signature(args), args)[1]

    def _ran_here(self, sig) -> None:
        """Note that the general path runs the variant for ``sig``, a (signature, facts) key (for ``.source``)."""
        self._ran = self._family[0] = sig
        if self._ran_cell is not None:
            self._ran_cell.cell_contents = -1
        if self._seen is None:
            self._seen = sig
        elif self._seen != sig:
            self._seen = _MANY

    def _stale_dispatcher(self) -> bool:
        """Whether the dispatcher must be generated again: new variants, or signatures that differ
        where it records nothing."""
        return self._dispatched != list(self._variants.values()) or self._seen is _MANY and self._ran_cell is None

    def _last_signature(self):
        """The signature of the variant the last call ran, or None before any call."""
        ran = self._ran_cell.cell_contents if self._ran_cell is not None else -1
        if ran >= 0:
            return self._recent[ran]
        return self._family[0] if self._ran is None and self._receiver is not _NO_RECEIVER else self._ran

    def _defaults(self, given: int) -> tuple:
        """The default values of the positional parameters after the first ``given``.

        A parameter differentiated by must be given (as in JAX), so only those after the last of them.
        """
        fn = inspect.unwrap(self.fn, stop=frontend.is_plain_wrapper)
        return _defaults_after(fn, max(given, max(self.positions) + 1))

    def _result(self, value, grads):
        return (grads, value[1]) if self.has_aux else grads

    def _arithmetic(self, args):
        """The generated code raised an ``ArithmeticError`` on ``args``: the result NumPy's arithmetic gives,
        or that error again where ``fn`` raises too (see :func:`_numpy_floats`). Called while it is handled."""
        boxed = None if self._flat else _numpy_floats(self.fn, args)  # flat: args are the flattened ones
        if boxed is None:
            raise  # noqa: PLE0704 - the ArithmeticError being handled
        return self._python_floats(self._general(*boxed), args)

    def _python_floats(self, result, args):
        """``result`` of a call on ``args`` with Python floats made NumPy floats, with those gradients Python floats."""

        def back(i, g):
            return float(g) if type(args[i]) is float and np.ndim(g) == 0 else g

        def grads_back(grads):
            if self.options["many"]:
                return tuple(back(i, g) for i, g in zip(self.positions, grads))
            return back(self.positions[0], grads)

        if self._with_value:
            return result[0], grads_back(result[1])
        if self.has_aux:
            return grads_back(result[0]), result[1]
        return grads_back(result)

    def _check(self, value):
        _check_scalar(self.fn, value)

    def _explain(self, args, exc):
        """The generated code failed: raise ``fn``'s own error, or say that ``fn`` returns no scalar.

        Where ``fn`` itself fails on these arguments, its own error (an
        ``UnboundLocalError``, say, that the generated code met as a ``None``) is
        the one Python would raise, so it is the one to see.
        """
        namespaces.check_failure(args, exc)  # another library's arrays: its error, typed (fn is not run on them)
        try:
            out = self.fn(*args)
            out = out[0] if self.has_aux else out
        except Exception as own:
            raise own from None
        try:
            _check_scalar(self.fn, out)
        except SctError as err:
            raise err from exc

    def _validated(self, key, variant) -> Compiled:
        sig, facts = _split(key)
        options = {"unit_seed": True, "grads_only": self._grads_only, **self.options}
        if _specialises(sig):
            options["facts"] = facts
        return validated(self.fn, variant, self.positions, sig, **options)

    def _compile(self, args):
        sig = signature(args)
        _check_wrt_args(self.fn, self.positions, args)
        _check_arity(self.fn, args)
        options = {"unit_seed": True, "grads_only": self._grads_only, **self.options}
        if _specialises(sig):  # for this call's dimensions: its code may rely on facts about them
            options["shapes"] = pattern_of(args)
        variant = compiled(self.fn, self.positions, sig, **options)
        key = _key(sig, variant)
        self._variants[key] = variant
        self._ran_here(key)
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
        record = self._seen is _MANY  # calls differ: each branch says that it ran; while they agree, one branch
        if record:
            recent = list(self._variants.items())[-_DISPATCHED:][::-1]
        else:
            recent = [(self._seen, self._variants[self._seen])]
        if validate.ENABLED:  # a dispatcher made now validates for as long as it lives
            recent = [(key, self._validated(key, variant)) for key, variant in recent]
        self._call = dispatch.dispatcher(
            [(_split(key)[0], variant) for key, variant in recent],
            self._general,
            self._explain,
            self._arithmetic,
            self._check,
            with_value=self._with_value,
            has_aux=self.has_aux,
            names=_positional_names(self.fn),
            name=getattr(self.fn, "__name__", None),
            record=record,
        )
        self._recent = [key for key, _ in recent]
        self._ran_cell = dispatch.ran_cell(self._call) if record else None
        if self._receiver is not _NO_RECEIVER:  # obj.f: __call__ puts obj first, so the dispatcher stays behind it
            return
        cls = type(self)
        if "_dispatching" not in cls.__dict__:
            cls = type(cls.__name__, (cls,), {"_dispatching": True, "__module__": cls.__module__})
            cls.__qualname__ = type(self).__qualname__
            self.__class__ = cls
        cls.__call__ = staticmethod(self._call)

    @property
    def source(self) -> str:
        """The generated code the last call ran; before any call, what ``sct dump`` prints: the variant
        for Python floats where parameters are annotated ``float``, else the generic one."""
        return _shown(self.source_request())

    def source_request(self) -> tuple:
        """What :attr:`source` shows, as :func:`source_request` gives it (:mod:`sct.explain` rebuilds it)."""
        key = self._last_signature()
        shown = {k: v for k, v in self.options.items() if k != "backend"}  # the code, whichever runs it
        if key is not None:
            sig, facts = _split(key)
            options = {**shown, "unit_seed": True, "grads_only": self._grads_only}
            if _specialises(sig):  # the variant with these facts (sct.pipeline finds the one that ran)
                options["facts"] = facts
            return self.fn, self.positions, sig, options, False
        receiver = None if self._receiver is _NO_RECEIVER else self._receiver
        return _listing_request(self.fn, self.positions, receiver, shown, grads_only=self._grads_only)

    def _repr_html_(self) -> str:
        """The notebook's view of a gradient object: its generated source (see :mod:`sct.display`)."""
        return _display().html_or_error(lambda: self.source)

    def _repr_markdown_(self) -> str:
        return _display().markdown_or_error(lambda: self.source)

    def __repr__(self):
        return f"<{type(self).__name__} of {self.fn.__qualname__}>"

    def __reduce__(self):
        """Pickled as the function and the options: compiled code is rebuilt where it is unpickled
        (from the persistent cache, :mod:`sct.backend.cache`, where it has the entry)."""
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


class Facts(tuple):
    """The key of a variant that relies on facts about its arguments' dimensions: ``(signature, facts)``."""

    __slots__ = ()


def _key(sig, variant):
    """The key a variant compiled for ``sig`` is kept under: ``sig``, or a :class:`Facts` where it relies on some."""
    return Facts((sig, variant.facts)) if variant.facts else sig


def _split(key) -> tuple:
    """``(signature, facts)`` of a variant's key."""
    return (key[0], key[1]) if type(key) is Facts else (key, ())


def _specialises(sig) -> bool:
    """Whether variants for ``sig`` are compiled for the call's dimensions: some argument is a NumPy array."""
    return any(isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], int) and s[0] > 0 for s in sig)


def _positional_names(fn) -> list | None:
    """The names ``fn`` takes its positional parameters by (keywords bind to them), or None if unknown."""
    try:
        params = inspect.signature(inspect.unwrap(fn, stop=frontend.is_plain_wrapper)).parameters.values()
    except (TypeError, ValueError):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


_DISPATCHED = 4  # variants the fast path of one gradient object tests for, the latest first
_MANY = object()  # a gradient object's calls ran variants of more than one signature
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
        if self.has_aux:  # Python floats out: the value as sct.jvp gives it (the aux as the function gives it)
            return (runtime.primal_like(value[0]), value[1]), grads
        return runtime.primal_like(value), grads


def _unpickled(with_value: bool, fn, wrt, has_aux, extra=None):
    """A gradient object made again from what ``_Differentiated.__reduce__`` pickled."""
    return (ValueAndGrad if with_value else Grad)(fn, wrt, has_aux, **(extra or {}))


def _display():
    """:mod:`sct.display`, which the package loads on first use (its ``__getattr__``): what shows generated
    source (``sct.source``, a notebook's view of a gradient), not needed to compute one."""
    return sys.modules[__package__].display


def _extra_options(backend, checkpoint) -> dict:
    """``backend=`` and ``checkpoint=``, checked; only those not left to their defaults."""
    extra = {}
    if backend is not None:
        if backend != "numba":
            raise SctError(f"backend={backend!r}: the backends are None (Python, the default) and 'numba'")
        extra["backend"] = backend
    if checkpoint is not None and checkpoint is not False:
        extra["checkpoint"] = checkpoints.check_option(checkpoint)
    return extra


def _numpy_floats(fn, args) -> tuple | None:
    """``args`` with each Python float a NumPy float, for a gradient whose code raised an ``ArithmeticError``.

    Python's ``1.0 / 0.0`` raises where NumPy's gives inf (with its warning). Where ``fn``
    itself raises on ``args`` (its own ``1.0 / s``), the generated code's error is the one
    Python gives: None. Where it does not, the error came from the gradient's arithmetic on
    Python floats (``delta_out / s`` in the adjoint of ``np.sum(X) / s``), and the gradient is
    the one NumPy's arithmetic gives: the forward values are the same (``np.float64`` rounds
    ``+ - * /`` as ``float`` does, and is one), so this only changes what raises.
    None too where no argument is a Python float.
    """
    if not any(type(a) is float for a in args):
        return None
    try:
        fn(*args)
    except Exception:
        return None
    return tuple(np.float64(a) if type(a) is float else a for a in args)


def grad(fn=None, wrt=0, has_aux=False, *, backend=None, checkpoint=None):
    """The gradient of a scalar function: ``sct.grad(f)(x)`` or ``@sct.grad(wrt=(0, 1))``.

    ``backend="numba"``: the generated code compiled with ``numba.njit`` (:mod:`sct.backend.native`).
    ``checkpoint=k``: loops store every k-th state and recompute the rest (:mod:`sct.passes.checkpoint`);
    ``checkpoint=True``: ``k = sqrt(trips)``; ``"log"``: ``log2(trips)`` states; ``("revolve", s)``: at most ``s``
    states, placed by Griewank's binomial schedule so that the fewest trips run again.
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
    for i, primal in enumerate(primals):
        values.check_argument(getattr(fn, "__name__", repr(fn)), i, primal, integers_ok=True)
    integers = {i for i, p in enumerate(primals) if variants.integer_kind(_describe(p))}  # no gradient: zeros
    positions = [i for i in range(len(primals)) if i not in integers]
    if integers and not positions:
        raise SctError(f"sct.vjp of {getattr(fn, '__name__', fn)!r}: every primal is an integer; gradients need floats")
    receiver, fn, _ = _unbound(fn, 0)  # obj.m: compiled for self's class, by the primals after self
    args = primals if receiver is _NO_RECEIVER else (receiver, *primals)
    shift = len(args) - len(primals)
    args = completed(fn, args)  # the generated code takes every parameter: defaults fill in the rest
    at = [i + shift for i in positions]
    options = {"split": True, "has_aux": has_aux, "many": True}
    variant = compiled(fn, at, signature(args), **options)
    variant = validated(fn, variant, at, signature(args), **options)
    value, backward = variant.function(*args)
    values.check_output(getattr(fn, "__name__", repr(fn)), value[0] if has_aux else value, "sct.vjp")
    value = (runtime.primal_like(value[0]), value[1]) if has_aux else runtime.primal_like(value)  # floats out

    unused = [backward]  # the backward sweep pops the records the forward sweep pushed: it runs once

    def vjp_fn(cotangent):
        try:
            backward = unused.pop()  # atomic: two threads never share one
        except IndexError:  # a later call: a fresh forward sweep (its value is the same) and its backward
            backward = variant.function(*args)[1]
        grads = backward(cotangent)
        if not integers:
            return grads
        found = iter(grads)  # as JAX does: an integer primal's gradient is zero (a float zero here, JAX's float0)
        return tuple(np.zeros(np.shape(p)) if i in integers else next(found) for i, p in enumerate(primals))

    if integers or shift:  # its generated form (higher.generated_vjp) is for every primal of a plain function
        return (value[0], vjp_fn, value[1]) if has_aux else (value, vjp_fn)
    vjp_fn.__sct_generated__ = higher.generated_vjp(fn, primals, has_aux)  # so vjp_fn is differentiable too
    if has_aux:
        return value[0], vjp_fn, value[1]
    return value, vjp_fn


def source(fn, wrt=0, mode="reverse", optimize=True, *, args=None, generic=False) -> str:
    """The generated source, as ``sct dump`` prints it.

    By default the code ``sct.grad(fn, wrt)`` runs on Python floats where parameters are
    annotated ``float``, else the generic variant. ``args``: the code it runs for these
    arguments (a tuple, one per positional parameter; defaults fill in the rest).
    ``generic=True``: the generic variant, ``grad_f(..., delta_out=1.0) -> (value, gradients)``
    for arrays and numbers of any shape (``sct export`` writes one that takes containers too).
    The result is a ``str`` that also displays itself in a notebook (:mod:`sct.display`):
    highlighted, each backward block folded under the user's line it reverses.
    """
    return _shown(source_request(fn, wrt, mode, optimize, args=args, generic=generic))


def source_request(fn, wrt=0, mode="reverse", optimize=True, *, args=None, generic=False) -> tuple:
    """``(function, positions, signature, options, generic)``: what :func:`source` compiles and shows."""
    if isinstance(fn, _Differentiated):  # its function (obj.f: bound again), by the wrt asked for here
        fn = fn.__wrapped__ if fn._receiver is _NO_RECEIVER else types.MethodType(fn.__wrapped__, fn._receiver)
    receiver, fn, wrt = _unbound(fn, wrt)  # obj.m: by x, not by self
    if mode not in ("reverse", "forward"):
        raise SctError(f"mode={mode!r}: use 'reverse' or 'forward'")
    if args is not None and generic:
        raise SctError("sct.source: give args=(...) or generic=True, not both")
    positions, many = resolve_wrt(fn, wrt)
    receiver = None if receiver is _NO_RECEIVER else receiver
    options = {"optimize": optimize, "many": many} if mode == "reverse" else {"optimize": optimize, "mode": mode}
    if args is None:
        return _listing_request(fn, positions, receiver, options, grads_only=True, generic=generic)
    if not isinstance(args, tuple | list):
        raise SctError(f"sct.source: args must be a tuple of arguments, got {type(args).__name__}")
    given = (receiver, *args) if receiver is not None else tuple(args)
    sig = call_signature(fn, positions, given)
    if _specialises(sig) and options.get("mode", "reverse") == "reverse":  # what a call with these runs
        options = {**options, "shapes": pattern_of(given + (None,) * (len(sig) - len(given)))}
    return _variant_request(fn, positions, sig, options, grads_only=True)


def call_signature(fn, positions, args: tuple) -> tuple:
    """The signature of the variant ``sct.grad(fn)(*args)`` runs, as its general path finds it."""
    if any(is_object(args[i]) for i in positions if i < len(args)):  # by an object: by its attributes
        args = tuple(variants.Attributes.of(a) if i in positions and is_object(a) else a for i, a in enumerate(args))
    if positions and max(positions) < len(args):  # the rest take their defaults
        args = args + _defaults_after(inspect.unwrap(fn, stop=frontend.is_plain_wrapper), len(args))
    _check_wrt_args(fn, positions, args)
    _check_arity(fn, args)
    return signature(args)


def _listing_request(fn, positions, receiver, options, *, grads_only, generic=False) -> tuple:
    """The listing before any call: the variant for Python floats where parameters are annotated
    ``float`` (unless ``generic``), else the generic variant."""
    floats = None if generic else float_signature(fn)
    sig = _annotated_signature(fn) if floats is None else floats
    if receiver is not None:  # self's class: its attributes and methods, in either mode
        sig = (_describe(receiver), *sig[1:])
    if floats is not None:
        return _variant_request(fn, positions, sig, options, grads_only=grads_only)
    return fn, positions, sig, {**options, "grads_only": False}, True


def _variant_request(fn, positions, sig, options, *, grads_only) -> tuple:
    """The code a gradient object runs for ``sig`` (with ``optimize=False``, the code before the clean-up
    passes: seeded by ``delta_out`` and returning the value, as nothing runs it)."""
    if options.get("mode", "reverse") == "reverse" and options.get("optimize", True):
        options = {**options, "unit_seed": True, "grads_only": grads_only}
    return fn, positions, sig, options, False


def _shown(request) -> str:
    """The listing for a request: the variant's source under the line that says which variant it is."""
    fn, positions, sig, options, generic = request
    variant = compiled(fn, positions, sig, **options)
    text = with_header(variant.source, header(variant.params, sig, generic=generic, facts=variant.facts))
    return _display().GeneratedSource(text, request)


nested.provide(
    makers={grad: "grad", value_and_grad: "value_and_grad"},
    direct={vjp: "vjp"},
    gradient_types=(Grad, ValueAndGrad),
    grad=grad,
    vjp=vjp,
    source_request=source_request,
)
