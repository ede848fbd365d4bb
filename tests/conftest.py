"""Shared test helpers: central finite differences and a seeded RNG."""

import atexit
import linecache
import os
import re
import shutil
import tempfile
import warnings

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

# The persistent cache (sct.backend.cache) is off in the suite, and points at a temporary directory, so a
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


def assert_refused(fn, args, message, mode):
    """``fn`` at ``args`` is refused with an ``SctError`` matching ``message``: by ``sct.grad`` (``mode="rev"``)
    or by ``sct.jvp`` along ones (``"fwd"``)."""
    with pytest.raises(sct.SctError, match=message):
        if mode == "rev":
            sct.grad(fn)(*args)
        else:
            sct.jvp(fn, args, tuple(np.ones_like(np.asarray(a, dtype=float)) for a in args))


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


# Generated code never warns on its own (issue 18): a warning from a derivative line of generated
# code (``delta_x = ...`` in ``<sct grad_f #1>``) fails the test, unless the function's own lines
# gave the same warning (at a pole, 1 / x warns in the function and in its derivative alike). A
# filter cannot say this (a warning's module is the user's, whose globals generated code reads), so
# each test records its warnings and passes on the rest.
@pytest.fixture(autouse=True)
def _no_warnings_from_generated_code(request):
    if request.node.get_closest_marker("generated_code_may_warn"):
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        yield
    own = {(w.category, str(w.message)) for w in caught if not _from_a_derivative_line(w)}
    ours = [w for w in caught if _from_a_derivative_line(w) and (w.category, str(w.message)) not in own]
    for w in caught:
        if not _from_a_derivative_line(w):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if ours:
        w = ours[0]
        pytest.fail(f"generated code warned: {w.filename}:{w.lineno}: {w.category.__name__}: {w.message}")


def _from_a_derivative_line(w) -> bool:
    if not str(w.filename).startswith("<sct"):
        return False
    line = linecache.getline(w.filename, w.lineno)
    return re.search(r"\b(delta|dot)_\w+\s*=", line) is not None


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "generated_code_may_warn(reason): the function's own warning comes from a derivative line"
    )
