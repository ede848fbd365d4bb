"""Checks the benchmark baselines; needs only NumPy (peers and sct are optional).

- every hand-written gradient agrees with central finite differences;
- every installed peer port (autograd, JAX, PyTorch) agrees with the hand-written gradient;
- sct, when importable, agrees with the hand-written gradient.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
from workloads import WORKLOADS

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-9


def _shifted(args, index, delta):
    args = list(args)
    args[index] = args[index] + delta
    return args


def _central_difference(f, args, index, direction):
    plus = f(*_shifted(args, index, STEP * direction))
    minus = f(*_shifted(args, index, -STEP * direction))
    return (plus - minus) / (2.0 * STEP)


def _directions(arg, rng, count=3):
    """Unit directions to probe: the argument itself if scalar, random ones otherwise."""
    if np.ndim(arg) == 0:
        return [1.0]
    return [d / np.linalg.norm(d) for d in rng.standard_normal((count, *np.shape(arg)))]


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_hand_grad_matches_finite_differences(workload):
    args = workload.make_args()
    grads = workload.hand_grad(*args)
    assert len(grads) == len(workload.wrt)
    rng = np.random.default_rng(1)
    for index, grad in zip(workload.wrt, grads):
        assert np.shape(grad) == np.shape(args[index])
        for direction in _directions(args[index], rng):
            analytic = np.sum(grad * direction)
            numeric = _central_difference(workload.f, args, index, direction)
            scale = max(1.0, abs(numeric))
            assert abs(analytic - numeric) <= 1e-6 * scale, (
                f"{workload.name}: d/d arg{index}: hand {analytic!r} vs finite differences {numeric!r}"
            )


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_hand_grad_does_not_mutate_inputs(workload):
    args = workload.make_args()
    copies = [np.copy(a) for a in args]
    workload.hand_grad(*args)
    for before, after in zip(copies, args):
        np.testing.assert_array_equal(before, after)


def assert_grads_close(got, expected, label):
    assert len(got) == len(expected), label
    for i, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg=f"{label}, gradient {i}")


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
@pytest.mark.parametrize("peer", peers.PEERS, ids=lambda p: p.name)
def test_peer_matches_hand(peer, workload):
    if not peer.available():
        pytest.skip(f"{peer.module} is not installed")
    args = workload.make_args()
    runner = peer.build(workload, args)
    assert_grads_close(runner.to_numpy(runner.call()), workload.hand_grad(*args), peer.name)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_sct_matches_hand(workload):
    sct = pytest.importorskip("sct")
    if not hasattr(sct, "grad"):
        pytest.skip("sct.grad does not exist yet")
    args = workload.make_args()
    got = sct.grad(workload.f, wrt=workload.wrt)(*args)
    assert_grads_close(got, workload.hand_grad(*args), "sct")
