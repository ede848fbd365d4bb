"""What a stage needs to compile *another* function while it compiles this one.

Lowering meets calls that need a gradient of their own: a recursive call (the
callee's generated pullback), ``sct.grad(g)`` or ``sct.jacobian(g)`` inside the
function being differentiated (the generated source of ``g``'s derivative,
inlined). That is real recursion into the pipeline, and the layers that answer
it (:mod:`sct.pipeline`, and the transforms of :mod:`sct.api`,
:mod:`sct.transforms` and :mod:`sct.higher` above it) import the stages. So the
stages do not import them: they read this table, which each of those modules
fills in with what it provides when it is imported (``import sct`` imports them
all before anything can be compiled). The import graph stays a hierarchy, with
no cycle (tests/test_layout.py checks it).

It takes nothing and gives, once filled in:

* ``compiled(fn, positions, sig, **options)``, ``validated(...)``, ``signature(args)``:
  the pipeline's cached compile (:mod:`sct.pipeline`);
* ``makers``: the transforms that make a function (``sct.grad`` -> ``"grad"``), and
  ``direct``: those called with the arguments (``sct.jvp`` -> ``"jvp"``);
* ``gradient_types``: the classes of the objects ``sct.grad`` returns; ``grad``, ``vjp``, ``jvp``,
  ``jacobian``, ``source_request``: the transforms themselves (the ODE adjoint calls ``vjp`` and ``jvp``
  on the user's right-hand side while it runs);
* ``for_call``, ``jacobian_of``, ``hessian_of``, ``differentiable``, ``NotGenerated``:
  generated source for a transform called inside differentiated code (:mod:`sct.higher`).
"""

from __future__ import annotations

from types import SimpleNamespace

COMPILER = SimpleNamespace(makers={}, direct={}, gradient_types=())


def provide(**parts) -> None:
    """Fill in parts of the table (each module above the stages calls this once, at import)."""
    for name, value in parts.items():
        if isinstance(value, dict):
            getattr(COMPILER, name).update(value)
        else:
            setattr(COMPILER, name, value)
