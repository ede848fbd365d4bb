"""The ``indexing`` idiom family (tests/programs.py) under the properties of tests/test_fuzz.py.

tests/test_fuzz_idioms.py already checks each family against central differences and forward
mode; here the indexing programs also go through ``sct export`` (the module gives the very numbers
of the generic variant, which agree with ``sct.grad``'s) and ``checkpoint=True`` (the same value
and gradients as without, or a ``CheckpointError``). Both found silent errors: the generic variant
gave a position repeated through a negative index its adjoint twice, and checkpointing dropped
``y[i] = v`` before the loop.
"""

import numpy as np
import programs as P
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sct
from sct import pipeline
from sct.backend import variants
from sct.backend.variants import ANY
from sct.export import export_source

seeds = st.integers(0, 2**32 - 1)


def _reference(program, seed):
    """(f, args with the defaults filled in, wrt, value, grads), or the example is discarded."""
    f, args, _, _ = P.sample(program, seed)
    wrt = tuple(range(len(args)))
    try:
        with np.errstate(all="ignore"):
            value, grads = sct.value_and_grad(f, wrt=wrt)(*P.snapshot(args))
    except sct.SctError:
        assume(False)
    return f, list(pipeline.completed(f, tuple(args))), wrt, value, grads


@settings(suppress_health_check=list(HealthCheck))
@given(P.idioms("indexing"), seeds)
def test_exported_indexing_programs_give_sct_grads_numbers(program, seed):
    f, args, wrt, value, grads = _reference(program, seed)
    module = P.load(export_source(f, wrt=wrt), name=None)
    signature = tuple(ANY if s is None else s for s in variants._annotated_signature(f))
    generic = pipeline.compiled(f, list(wrt), signature, many=True)
    before = P.snapshot(args)
    with np.errstate(all="ignore"):
        exported_value, exported_grads = getattr(module, generic.function.__name__)(*P.snapshot(args))
        generic_value, generic_grads = generic.function(*args)
    P.assert_unchanged(before, args)
    np.testing.assert_array_equal(exported_value, generic_value)
    np.testing.assert_allclose(generic_value, value, rtol=1e-12, atol=1e-12)
    for e, g, r in zip(exported_grads, generic_grads, grads, strict=True):
        np.testing.assert_array_equal(e, g)
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)


@settings(suppress_health_check=list(HealthCheck))
@given(P.idioms("indexing"), seeds)
def test_checkpointed_indexing_programs_give_the_same_numbers(program, seed):
    f, args, wrt, value, grads = _reference(program, seed)
    try:
        with np.errstate(all="ignore"):
            checked_value, checked_grads = sct.value_and_grad(f, wrt=wrt, checkpoint=True)(*P.snapshot(args))
    except sct.CheckpointError:
        return
    np.testing.assert_allclose(checked_value, value, rtol=1e-12, atol=1e-12)
    for c, g in zip(checked_grads, grads, strict=True):
        np.testing.assert_allclose(c, g, rtol=1e-9, atol=1e-12)
