"""Shared test helpers: central finite differences and a seeded RNG."""

import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import sct

# Hypothesis profiles: "ci" (the default) keeps the fuzz suite to a few hundred programs in
# all; "long" is the 10,000-program run of docs/reliability.md (--hypothesis-profile=long).
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True
)
settings.load_profile("ci")

# The persistent cache (sct.cache) is off in the suite, and points at a temporary directory, so a
# test never reads or writes the user's own; tests/test_persistent_cache.py turns it on where it tests it.
# SCT_TEST_CACHE=DIR runs the whole suite with the cache on in DIR (twice: the second run's code comes from it).
os.environ["SCT_CACHE"] = "1" if os.environ.get("SCT_TEST_CACHE") else "0"
os.environ["SCT_CACHE_DIR"] = os.environ.get("SCT_TEST_CACHE") or tempfile.mkdtemp(prefix="sct-test-cache-")
if not os.environ.get("SCT_TEST_CACHE"):
    atexit.register(shutil.rmtree, os.environ["SCT_CACHE_DIR"], True)


def numeric_grad(f, args, i, eps=1e-6):
    """Central-difference gradient of scalar ``f`` with respect to ``args[i]``."""
    args = list(args)
    x = args[i]
    if isinstance(x, float):
        hi, lo = list(args), list(args)
        hi[i], lo[i] = x + eps, x - eps
        return (f(*hi) - f(*lo)) / (2 * eps)
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        g[idx] = (f(*args[:i], hi, *args[i + 1 :]) - f(*args[:i], lo, *args[i + 1 :])) / (2 * eps)
    return g


def assert_grads_match(f, args, grads, rtol=1e-5, atol=1e-6):
    """``grads`` (one per argument of ``f``) agree with central differences."""
    for i, g in enumerate(grads):
        expected = numeric_grad(f, args, i)
        np.testing.assert_allclose(g, expected, rtol=rtol, atol=atol, err_msg=f"argument {i}")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# Translation validation (sct.validate) for the whole suite: every generated call also runs the
# original function on copies of its arguments and must compute the same value, bit for bit, and
# leave its arguments alone. A test that must run without it says why (see ``no_validation``).
sct.validation(True)


@pytest.fixture
def no_validation():
    """Run one test with translation validation off (name the reproducer of the bug it hides)."""
    previous = sct.validation(False)
    yield
    sct.validation(previous)
