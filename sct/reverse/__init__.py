"""Reverse mode: the IR -> the adjoint function (forward sweep with records, then the reversed
``delta_*`` statements, each from a rule in :mod:`sct.rules`).

Takes an analysed IR; gives the adjoint as a gast function (:func:`sct.reverse.adjoint.adjoint`).
"""
