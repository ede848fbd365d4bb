"""sct against autograd and JAX on the shared corpus (skipped when those are not installed)."""

import importlib.util

import functions as F
import numpy as np
import pytest

import sct

PEERS_WANTED = [
    (F.seed, lambda r: (1.5, 2.0)),
    (F.scalar_math, lambda r: (0.7, 0.3)),
    (F.seed_sum, lambda r: (r.normal(size=(2, 3)), r.normal(size=3) + 3.0)),
    (F.mlp, lambda r: (r.normal(size=(3, 4)), r.normal(size=4), r.normal(size=(4, 2)), r.normal(size=(5, 3)))),
    (F.loop_with_branch, lambda r: (0.8,)),
    (F.rnn, lambda r: (r.normal(size=(4, 3)), r.normal(size=(4, 4)) * 0.5, r.normal(size=4), r.normal(size=(6, 3)))),
]


def _ported(fn, numpy_module, math_module=None):
    """``fn`` with its globals ``np`` (and ``math``) replaced by a peer's NumPy."""
    import types

    scope = dict(fn.__globals__, np=numpy_module)
    if math_module is not None:
        scope["math"] = math_module
    return types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)


@pytest.mark.skipif(importlib.util.find_spec("autograd") is None, reason="autograd is not installed")
@pytest.mark.parametrize("fn, make", PEERS_WANTED, ids=lambda v: getattr(v, "__name__", ""))
def test_against_autograd(fn, make, rng):
    import autograd
    import autograd.numpy as anp

    args = make(rng)
    positions = tuple(range(len(args)))
    ours = sct.grad(fn, wrt=positions)(*args)
    theirs = autograd.grad(_ported(fn, anp, anp), positions)(*args)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
@pytest.mark.parametrize("fn, make", PEERS_WANTED, ids=lambda v: getattr(v, "__name__", ""))
def test_against_jax(fn, make, rng):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    args = make(rng)
    positions = tuple(range(len(args)))
    ours = sct.grad(fn, wrt=positions)(*args)
    if fn in (F.loop_with_branch,):  # Python branches on traced values need the concrete (non-jit) path
        pytest.skip("data-dependent Python `if` does not trace under jax.grad")
    theirs = jax.grad(_ported(fn, jnp, jnp), positions)(*args)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-10, atol=1e-12)
