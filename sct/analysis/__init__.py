"""Analyses of the IR: ranks and activity, def-use and to-be-recorded, shape facts.

Takes a :class:`sct.ir.FunctionIR`; gives facts about it (nothing is changed).
"""
