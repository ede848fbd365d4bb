"""Backend: emit, compile, run, dispatch, cache and export generated code.

Takes generated gast functions; gives compiled variants (:class:`sct.backend.variants.Compiled`), the per-call
dispatcher, the runtime helpers generated code calls, the on-disk cache and standalone modules.
"""
