"""Peer AD systems (autograd, JAX, PyTorch eager), each optional.

A port of a workload function is the *same code* run against the peer's array
library: the function is re-created with its globals ``np`` and ``math`` bound
to ``autograd.numpy``, ``jax.numpy`` or ``torch`` (all of which provide the
``exp``/``tanh``/``sin``/``sum``/``mean``... the workloads call).  So every
system differentiates exactly the computation sct does.  The one exception is
the scalar loop under ``jax.jit``, where a Python ``if`` on a traced value is
not allowed; it gets the idiomatic ``lax.fori_loop`` + ``lax.cond`` port below.

Inputs are converted to the peer's array type once, outside the timed call.
"""

import importlib
import importlib.metadata
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


def port(f, **namespace):
    """``f`` with some of its global names rebound (e.g. ``np=jax.numpy``)."""
    globals_ = {**f.__globals__, **namespace}
    return types.FunctionType(f.__code__, globals_, f.__name__, f.__defaults__, f.__closure__)


@dataclass(frozen=True)
class Runner:
    """``call()`` computes the gradients; ``to_numpy(call())`` gives a tuple of NumPy arrays."""

    call: Callable[[], Any]
    to_numpy: Callable[[Any], tuple]


def _numpy_tuple(grads):
    return tuple(np.asarray(g) for g in grads)


# autograd ---------------------------------------------------------------------


def build_autograd(workload, args):
    import autograd
    import autograd.numpy as anp

    grad = autograd.grad(port(workload.f, np=anp, math=anp), argnum=workload.wrt)
    return Runner(lambda: grad(*args), _numpy_tuple)


# JAX --------------------------------------------------------------------------


def _import_jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _jax_loop(x, a):
    """``workloads.loop`` in the form ``jax.jit`` accepts."""
    import jax.numpy as jnp
    from jax import lax

    def step(i, x):
        return lax.cond(
            x > 0.0,
            lambda x: x * a - 0.3 + 0.1 * jnp.sin(x),
            lambda x: x * 1.01 + 0.2,
            x,
        )

    x = lax.fori_loop(0, 200, step, x)
    return x * x


def _jax_ball(y0, v0, restitution):
    """``workloads.ball`` in the form ``jax.jit`` accepts: the trip count found first, the bounce a ``where``."""
    import jax.numpy as jnp
    from jax import lax

    trips, t = 0, 0.0
    while t < 2.0:  # the same float steps as the workload's ``while t < 2.0``
        trips, t = trips + 1, t + 0.01

    def step(i, state):
        y, v, energy = state
        v = v - 9.81 * 0.01
        y = y + v * 0.01
        hit = y < 0.0
        y, v = jnp.where(hit, -y, y), jnp.where(hit, -restitution * v, v)
        return y, v, energy + 0.5 * v * v * 0.01

    y, _, energy = lax.fori_loop(0, trips, step, (y0, v0, 0.0 * y0))
    return y + 0.1 * energy


JAX_JIT_PORTS = {"loop": _jax_loop, "ball": _jax_ball}


def _build_jax(workload, args, jit):
    jax = _import_jax()
    import jax.numpy as jnp

    fn = port(workload.f, np=jnp, math=jnp)
    if jit:
        fn = JAX_JIT_PORTS.get(workload.name, fn)
    grad = jax.grad(fn, argnums=workload.wrt)
    if jit:
        grad = jax.jit(grad)
    jax_args = tuple(jnp.asarray(a) for a in args)
    return Runner(lambda: jax.block_until_ready(grad(*jax_args)), _numpy_tuple)


def build_jax(workload, args):
    return _build_jax(workload, args, jit=False)


def build_jax_jit(workload, args):
    return _build_jax(workload, args, jit=True)


# PyTorch eager ----------------------------------------------------------------


def build_torch(workload, args):
    import torch

    fn = port(workload.f, np=torch, math=torch)
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=i in workload.wrt) for i, a in enumerate(args)]
    params = [tensors[i] for i in workload.wrt]

    def call():
        for p in params:
            p.grad = None
        fn(*tensors).backward()
        return tuple(p.grad for p in params)

    return Runner(call, lambda grads: tuple(g.numpy() for g in grads))


# registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    name: str
    module: str
    build: Callable[[Any, tuple], Runner]

    def available(self):
        try:
            importlib.import_module(self.module)
        except Exception:  # noqa: BLE001 - a broken install counts as absent
            return False
        return True

    def version(self):
        distributions = {"jax": ("jax", "jaxlib")}.get(self.module, (self.module,))
        return ", ".join(f"{d} {importlib.metadata.version(d)}" for d in distributions)


PEERS = (
    Peer("autograd", "autograd", build_autograd),
    Peer("jax", "jax", build_jax),
    Peer("jax-jit", "jax", build_jax_jit),
    Peer("torch", "torch", build_torch),
)
