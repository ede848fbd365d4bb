"""Backend: emit, compile, run, dispatch and cache generated code.

Takes generated gast functions; gives compiled variants (:class:`sct.backend.variants.Compiled`), the per-call
dispatcher, the runtime helpers generated code calls and the on-disk cache. (Standalone modules, which
compile through the pipeline, are :mod:`sct.export`, above it.)
"""

import importlib

_LAZY_MODULES = frozenset({"native"})  # numba's backend: loaded where backend="numba" is first asked for (PEP 562)


def __getattr__(name: str):
    if name not in _LAZY_MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(f".{name}", __name__)
