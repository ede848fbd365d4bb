"""Backend: emit, compile, run, dispatch and cache generated code.

Takes generated gast functions; gives compiled variants (:class:`sct.backend.variants.Compiled`), the per-call
dispatcher, the runtime helpers generated code calls and the on-disk cache. (Standalone modules, which
compile through the pipeline, are :mod:`sct.export`, above it.)
"""
