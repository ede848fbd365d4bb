"""Passes over generated code: optimisation, fusion, Python floats for NumPy scalars, containers.

Takes a generated gast function; gives it back rewritten, computing the same values.
"""
