"""Forward mode: the IR -> the tangent (JVP) function, from the same rules table.

Takes an analysed IR; gives the tangent as a gast function (:func:`sct.forward.tangent.tangent`).
"""
