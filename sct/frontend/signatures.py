"""The differentiated function's own ``*args``, keyword-only parameters and ``**kwargs``.

A gradient object for ``def f(x, *rest, k=1.0, **opts)`` differentiates
:class:`Flat` ``f``: the same body, every parameter taken by position
(``flat(x, rest, k, opts)``, ``rest`` a tuple and ``opts`` a dict, containers
sct already differentiates). A call is bound as ``f`` binds it and passed on
flattened; the gradient by ``rest`` is a tuple, by ``opts`` a dict.
"""

from __future__ import annotations

import inspect
import weakref

from ..errors import SctError

_KINDS = inspect.Parameter


def needs_flattening(fn) -> bool:
    """Whether ``fn`` (a plain function) takes ``*args``, ``**kwargs``, keyword-only or positional-only parameters."""
    code = getattr(fn, "__code__", None)
    if not inspect.isfunction(fn) or code is None:
        return False
    flags = code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
    return bool(flags or code.co_kwonlyargcount or code.co_posonlyargcount)


class Flat:
    """``fn`` with every parameter positional; calling it calls ``fn`` with the arguments put back."""

    def __init__(self, fn):
        self.fn = self.__wrapped__ = fn  # sct reads fn's source (see parse.unwrap); build flattens it
        self.__name__, self.__qualname__ = fn.__name__, fn.__qualname__
        self.own = inspect.signature(fn)
        self.names = list(self.own.parameters)
        positional = (_KINDS.POSITIONAL_ONLY, _KINDS.POSITIONAL_OR_KEYWORD)
        self.positional = [p.name for p in self.own.parameters.values() if p.kind in positional]
        self.__signature__ = inspect.Signature([_KINDS(n, _KINDS.POSITIONAL_OR_KEYWORD) for n in self.names])

    def __call__(self, *values):
        args, kwargs = [], {}
        for param, value in zip(self.own.parameters.values(), values):
            if param.kind is _KINDS.VAR_POSITIONAL:
                args.extend(value)
            elif param.kind is _KINDS.KEYWORD_ONLY:
                kwargs[param.name] = value
            elif param.kind is _KINDS.VAR_KEYWORD:
                kwargs.update(value)
            else:
                args.append(value)
        return self.fn(*args, **kwargs)

    def flatten(self, args: tuple, kwargs: dict, required: list[str]) -> tuple:
        """``fn(*args, **kwargs)``'s arguments, one per parameter (defaults filled in).

        ``required``: the parameters differentiated by, which must be given (as
        in a positional call); ``*args`` and ``**kwargs`` are always given, empty or not.
        """
        try:
            bound = self.own.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.__name__}() {exc}") from None
        packed = {p.name for p in self.own.parameters.values() if p.kind in (_KINDS.VAR_POSITIONAL, _KINDS.VAR_KEYWORD)}
        missing = [n for n in required if n not in bound.arguments and n not in packed]
        if missing:
            raise SctError(f"{self.__name__} was called without {missing[0]!r}, which wrt asks for")
        bound.apply_defaults()
        return tuple(bound.arguments[n] for n in self.names)

    def __reduce__(self):
        return flat, (self.fn,)

    def __repr__(self):
        return f"<sct.frontend.signatures.Flat of {self.__qualname__}>"


_MADE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def flat(fn) -> Flat:
    """The one :class:`Flat` of ``fn`` (so its compiled variants are cached and shared)."""
    found = _MADE.get(fn)
    if found is None:
        found = _MADE[fn] = Flat(fn)
    return found


def flatten_parameters(node) -> None:
    """``def f(x, /, y, *rest, k, **opts)`` -> ``def f(x, y, rest, k, opts)`` (a gast FunctionDef, in place)."""
    args = node.args
    packed = [a for a in (args.vararg,) if a is not None]
    args.args = [*args.posonlyargs, *args.args, *packed, *args.kwonlyargs, *([args.kwarg] if args.kwarg else [])]
    args.posonlyargs, args.kwonlyargs, args.kw_defaults, args.defaults = [], [], [], []
    args.vararg = args.kwarg = None


def check_wrt(fn: Flat, wrt) -> None:
    """A number in ``wrt`` counts the named positional parameters only; ``*args`` and the others are named."""
    for item in wrt if isinstance(wrt, tuple | list) else (wrt,):
        if isinstance(item, int) and not isinstance(item, bool) and not 0 <= item < len(fn.positional):
            others = [n for n in fn.names if n not in fn.positional]
            raise SctError(
                f"wrt={item!r}: {fn.__name__} has {len(fn.positional)} positional parameters {fn.positional}; "
                f"name any other by its name, e.g. wrt={others[0]!r}"
            )
