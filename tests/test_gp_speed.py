"""Issue 19 on the Gaussian process: what the gradient of a GP likelihood no longer computes.

- A module global holding a Python number (``LOG_2PI``) is a scalar to the analysis, under a guard on its
  type, so a gradient whose value is then proved a scalar computes no value it does not need: the
  forward's ``np.linalg.slogdet(K)`` (an LU factorisation) goes where only the value read it.
- ``y @ alpha`` of two vectors has rank 0 (it had -1).
- ``np.sum(delta_q * p)`` with ``p = np.eye(n)`` and ``q = m * p`` is ``np.trace(delta_q)``.
- ``np.sum(-g * a / b)`` is ``-np.sum(g * a / b)``: the same number to the bit.

Gradients against central differences, on symmetric and non-symmetric matrices and on stacks.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sct
from benchmarks import workloads
from sct.analysis import activity
from sct.rules.operators import _matmul_rank
from sct.testing import check_grads
from tests import programs as P

LOG_2PI = math.log(2.0 * math.pi)


gp = workloads.gp  # the benchmark's GP: its LOG_2PI is a module global there too


def nonsymmetric(log_s, A, y):
    K = A + np.exp(log_s) * np.eye(A.shape[0])
    alpha = np.linalg.solve(K, y)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ alpha) + 0.5 * logdet + LOG_2PI


def stacked(log_s, A, y):
    K = A + np.exp(log_s) * np.eye(A.shape[-1])
    sign, logdet = np.linalg.slogdet(K)
    return np.sum(logdet) + np.sum(np.linalg.solve(K, y)) + LOG_2PI


def _gp_args(points=12):
    return workloads.gp_args(points=points)


def _source(g, *args):
    """The code of the variant the call ran, without its comments (which quote the forward statements)."""
    g(*args)
    return "\n".join(line for line in g.source.splitlines() if not line.strip().startswith("#"))


def test_gp_gradient_against_finite_differences():
    check_grads(gp, _gp_args(), wrt=(0, 1, 2), modes=("rev",), order=1)


def test_gp_gradient_computes_no_value_and_one_fewer_factorisation():
    g = sct.grad(gp, wrt=(0, 1, 2))
    source = _source(g, *_gp_args())
    assert "slogdet" not in source  # the value is not computed: no slogdet in the forward
    assert source.count("np.linalg.inv(") == 1 and source.count("np.linalg.solve(") == 1
    assert "np.trace(delta_K_1)" in source and "np.eye" in source
    value, grads = sct.value_and_grad(gp, wrt=(0, 1, 2))(*_gp_args())
    assert value == gp(*_gp_args())  # value_and_grad still computes it, as Python does
    np.testing.assert_allclose(grads, g(*_gp_args()), rtol=1e-12)


@pytest.mark.parametrize("symmetric", [True, False])
def test_nonsymmetric_and_symmetric_matrices(symmetric):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6))
    A = A @ A.T if symmetric else A
    A = A + 6.0 * np.eye(6)
    check_grads(nonsymmetric, (0.3, A, rng.standard_normal(6)), wrt=(0, 1, 2), modes=("rev",), order=1)


def test_stack_of_matrices():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((3, 5, 5)) + 5.0 * np.eye(5)
    check_grads(stacked, (0.2, A, rng.standard_normal((3, 5, 2))), wrt=(0, 1, 2), modes=("rev",), order=1)
    g = sct.grad(stacked, wrt=(0, 1))
    source = _source(g, 0.2, A, rng.standard_normal((3, 5, 2)))
    assert "np.trace(delta_e)" in source  # e = a * np.eye(5) is one matrix, added to each of the stack
    scales = np.array([0.1, 0.2, 0.3]).reshape(3, 1, 1)  # one scale per matrix: e is a stack
    check_grads(stacked, (scales, A, rng.standard_normal((3, 5, 2))), wrt=(0, 1, 2), modes=("rev",), order=1)
    assert "np.trace" not in _source(g, scales, A, rng.standard_normal((3, 5, 2)))


def test_global_number_rebound_to_an_array_is_noticed():
    module = P.load(
        "import numpy as np\n\nC = 2.0\n\n\ndef f(x):\n    return np.sum(np.sin(x)) + C\n",
        name=None,
    )
    g = sct.grad(module.f)
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(g(x), np.cos(x))
    assert "C" not in _source(g, x)  # a proved scalar: the value is not computed
    module.C = 3.0  # another float: the same variant, read live
    np.testing.assert_allclose(g(x), np.cos(x))
    module.C = np.array([1.0, 2.0])  # the value is no scalar now: the type guard sends it to a new variant
    with pytest.raises(sct.SctError):
        g(x)
    module.C = 4  # an int: a scalar again
    np.testing.assert_allclose(g(x), np.cos(x))


def test_inner_product_has_rank_zero():
    assert _matmul_rank([1, 1], None, None) == 0
    assert _matmul_rank([2, 1], None, None) == 1
    assert _matmul_rank([1, 3], None, None) == 2
    assert _matmul_rank([3, 2], None, None) == 3
    assert activity  # the analysis that reads it


def test_trace_only_for_an_identity_times_a_scalar():
    def f(m, A):
        return np.sum(np.sin(A + m * np.eye(A.shape[0])))

    def g_(m, A):
        return np.sum(np.sin(A + m * np.ones((A.shape[0], A.shape[0]))))

    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    check_grads(f, (0.3, A), wrt=(0, 1), modes=("rev",), order=1)
    assert "np.trace(" in _source(sct.grad(f, wrt=(0, 1)), 0.3, A)
    assert "np.trace(" not in _source(sct.grad(g_, wrt=(0, 1)), 0.3, A)


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e200, 1e200)),
    st.floats(-1e3, 1e3).filter(lambda s: s != 0.0),
)
def test_negation_out_of_a_sum_is_bit_identical(a, s):
    b = a[::-1].copy()
    with np.errstate(all="ignore"):
        before, after = np.sum(-a * b / s), -np.sum(a * b / s)
    assert before == after or (np.isnan(before) and np.isnan(after))


def test_scale_divided_out_gradient():
    def f(log_s, X):
        return np.sum(np.exp(-X / np.exp(log_s)))

    X = np.random.default_rng(4).standard_normal((3, 4))
    check_grads(f, (0.2, X), wrt=(0, 1), modes=("rev",), order=1)
    assert "-np.sum(" in _source(sct.grad(f, wrt=(0, 1)), 0.2, X)


def test_array_api_arrays_keep_the_sum_the_standard_has():
    xps = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")

    def f(A, m):
        return np.sum(np.sin(A + m * np.eye(A.shape[0])))

    rng = np.random.default_rng(6)
    A, m = rng.standard_normal((4, 4)), np.asarray(0.3)
    g = sct.grad(f, wrt=(0, 1))
    expected = g(A, m)
    assert "np.trace(" in _source(g, A, m)
    got = g(xps.asarray(A), xps.asarray(m))  # np.trace has no array API form: the product's sum stays
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12)


def test_export_generic_in_xp_keeps_the_sum_the_standard_has():
    from sct.export import export_source

    module = P.load("import numpy as np\n\n\ndef f(A, m):\n    return np.sum(np.sin(A + m * np.eye(A.shape[0])))\n")
    args = (np.ones((3, 3)), 0.5)
    plain = export_source(module, wrt=(0, 1), args=args)
    generic = export_source(module, wrt=(0, 1), args=args, xp=True)
    assert "np.trace(" in plain and "trace(" not in generic and "xp.sum(delta_" in generic


def test_global_number_read_by_an_inlined_function_is_guarded_too():
    module = P.load(
        "import numpy as np\n\nC = 2.0\n\n\ndef shift(v):\n    return v + C\n\n\n"
        "def f(x):\n    return shift(np.sum(np.sin(x)))\n",
        name=None,
    )
    g = sct.grad(module.f)
    x = np.array([0.1, 0.2])
    for _ in range(3):  # the general path, then the dispatcher
        np.testing.assert_allclose(g(x), np.cos(x))
    module.C = np.array([1.0, 2.0])  # f's value is no scalar now: grad must say so, not return a gradient
    with pytest.raises(sct.SctError):
        g(x)
