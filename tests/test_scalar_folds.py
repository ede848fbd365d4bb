"""sct.passes.fuse.fold_adjoints: a chain of single-use scalar adjoints as one line.

``delta_l = delta_m * m; delta_log_noise = delta_l * 2.0`` -> ``delta_log_noise = delta_m * m * 2.0``
in variants with arrays (the Python-float variants fuse every temporary already). The gradients
with and without the pass are the same to the bit, on random programs and the GP.
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sct
from sct.passes import fuse
from tests import programs as P


def _gradient(source, args, fold: bool, wrt=None):
    """The gradient of ``f`` in ``source`` (a fresh module: nothing cached), with or without the pass."""
    with pytest.MonkeyPatch.context() as m:
        if not fold:
            m.setattr(fuse, "fold_adjoints", lambda *a, **k: False)
        g = sct.grad(P.load(source), wrt=tuple(range(len(args))) if wrt is None else wrt)
        return g(*args), g.source


def _same_bits(a, b):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert type(x) is type(y)
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes() or (np.isnan(x).all() and np.isnan(y).all())


GP = """
import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


def f(log_ell, log_sf, log_noise, X, y):
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(2.0 * log_sf) * np.exp(-0.5 * d2 / np.exp(2.0 * log_ell))
    K = K + np.exp(2.0 * log_noise) * np.eye(X.shape[0])
    alpha = np.linalg.solve(K, y)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ alpha) + 0.5 * logdet + 0.5 * X.shape[0] * LOG_2PI
"""


def test_gp_chains_are_one_line_each_and_the_same_bits():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    args = (0.1, -0.2, -1.5, X, np.sin(X[:, 0]))
    folded, source = _gradient(GP, args, True, wrt=(0, 1, 2))
    plain, before = _gradient(GP, args, False, wrt=(0, 1, 2))
    _same_bits(folded, plain)
    backward = source.split("# backward")[1]
    # each hyperparameter's gradient one line under the joined comments of the temporaries it goes through
    assert re.search(r"# \w+ = \w+ \* \w+; \w+ = np\.exp\(\w+\); \w+ = 2\.0 \* log_noise\n", backward)
    assert re.search(r"\n *delta_log_noise = np\.trace\(delta_K_1\) \* \w+ \* 2\.0\n", backward)
    assert re.search(r"\n *delta_log_ell = -np\.sum\(delta_K_1 \* \w+ \* \w+ \* \w+ / \w+\) \* \w+ \* 2\.0\n", backward)
    assert re.search(r"\n *delta_log_sf = np\.sum\(delta_K_1 \* \w+\) \* \w+ \* 2\.0\n", backward)
    # the temporaries' adjoints are gone; the user's (alpha, K) keep their lines
    assert set(re.findall(r"(delta_\w+) = ", backward)) == {"delta_alpha", "delta_K_1", *(f"delta_{p}" for p in WRT)}


WRT = ("log_noise", "log_ell", "log_sf")


def test_the_users_arrays_keep_their_adjoints():
    source = "import numpy as np\n\n\ndef f(x, s):\n    a = np.sin(x) * s\n    return np.sum(a * a)\n"
    args = (np.array([0.1, 0.2, 0.3]), 0.5)
    folded, text = _gradient(source, args, True)
    plain, before = _gradient(source, args, False)
    _same_bits(folded, plain)
    assert "delta_a = 2.0 * a" in text  # a: the user's
    assert "delta_b = delta_a * s" in before and "delta_b" not in text  # b = np.sin(x): the lowering's
    assert "delta_x = delta_a * s * np.cos(x)" in text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(P.programs(control=True, max_statements=5), st.integers(0, 2**32 - 1))
def test_random_programs_same_bits(program, seed):
    f, args, _, _ = P.sample(program, seed)
    with np.errstate(all="ignore"):
        folded, _ = _gradient(program.source, args, True)
        plain, _ = _gradient(program.source, args, False)
    _same_bits(folded, plain)
