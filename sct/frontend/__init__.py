"""Frontend: the user's function -> the IR.

Takes a Python function (its source, globals and closure); gives a :class:`sct.ir.FunctionIR` of one
operation per line (:func:`sct.frontend.lower.lower`), or every problem at once, each with
file:line:col (:mod:`sct.errors`).
"""
