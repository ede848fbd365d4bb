"""sct.passes.inverses: the backward sweep inverts a matrix once where slogdet's and solve's adjoints both need it.

The gradients are checked against central differences on symmetric and non-symmetric
matrices; the forward sweep keeps its own ``solve`` and ``slogdet`` (its values are Python's).
"""

import doctest

import numpy as np
import pytest

import sct
import sct.passes.inverses
from sct.testing import check_grads


def gp_like(log_s, A, y):
    K = A + np.exp(log_s) * np.eye(A.shape[0])
    alpha = np.linalg.solve(K, y)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ alpha) + 0.5 * logdet


def two_solves(A, y, z):
    sign, logdet = np.linalg.slogdet(A)
    return logdet + np.sum(np.linalg.solve(A, y) * z) + z @ np.linalg.solve(A, z)


def matrix_rhs(A, B):
    sign, logdet = np.linalg.slogdet(A)
    return logdet + np.sum(np.linalg.solve(A, B) ** 2)


def stacked(A, y):
    sign, logdet = np.linalg.slogdet(A)
    return np.sum(logdet) + np.sum(np.linalg.solve(A, y))


def reassigned(A, y):
    sign, logdet = np.linalg.slogdet(A)
    A = A * 2.0
    return logdet + np.sum(np.linalg.solve(A, y))


def only_solve(A, y):
    return np.sum(np.linalg.solve(A, y))


def _matrix(rng, n, symmetric):
    M = rng.standard_normal((n, n))
    M = M @ M.T if symmetric else M
    return M + n * np.eye(n)


def _inverses(source):
    return source.count("np.linalg.inv(")


def _backward(source):
    """The backward sweep's code, without its comments (which quote the forward statements)."""
    lines = source.split("# backward", 1)[1].splitlines()
    return "\n".join(line for line in lines if not line.strip().startswith("#"))


@pytest.mark.parametrize("symmetric", [True, False])
def test_gp_like_gradients_against_finite_differences(symmetric):
    rng = np.random.default_rng(1)
    A, y = _matrix(rng, 6, symmetric), rng.standard_normal(6)
    check_grads(gp_like, (0.3, A, y), modes=("rev",), order=1)
    g = sct.grad(gp_like, wrt=(0, 1, 2))
    g(0.3, A, y)
    source = g.source
    assert _inverses(source) == 1 and "np.linalg.solve(K.T" not in _backward(source)
    assert "inv_K.T @ delta_alpha" in source
    assert "alpha = np.linalg.solve(K, y)" in source.split("# backward")[0]  # the forward keeps its solve


@pytest.mark.parametrize("symmetric", [True, False])
def test_two_solves_and_a_matrix_of_columns(symmetric):
    rng = np.random.default_rng(2)
    A = _matrix(rng, 5, symmetric)
    y, z, B = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal((5, 3))
    check_grads(two_solves, (A, y, z), modes=("rev",), order=1)
    check_grads(matrix_rhs, (A, B), modes=("rev",), order=1)
    for fn, args in ((two_solves, (A, y, z)), (matrix_rhs, (A, B))):
        g = sct.grad(fn, wrt=tuple(range(len(args))))
        g(*args)
        back = _backward(g.source)
        assert _inverses(back) == 1 and "np.linalg.solve(" not in back, g.source


def test_same_numbers_as_without_the_pass_up_to_rounding():
    rng = np.random.default_rng(3)
    A, y = _matrix(rng, 8, False), rng.standard_normal(8)
    shared = sct.grad(gp_like, wrt=(0, 1, 2))(0.1, A, y)
    K = A + np.exp(0.1) * np.eye(8)
    K_inv = np.linalg.inv(K)
    alpha = np.linalg.solve(K, y)
    d_K = 0.5 * K_inv.T - 0.5 * np.outer(np.linalg.solve(K.T, y), alpha)  # the rules' own forms, unshared
    np.testing.assert_allclose(shared[1], d_K, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(shared[0], np.exp(0.1) * np.trace(d_K), rtol=1e-12)
    np.testing.assert_allclose(shared[2], 0.5 * y @ K_inv + 0.5 * alpha, rtol=1e-12)


def test_left_alone_where_it_does_not_apply():
    rng = np.random.default_rng(4)
    A, y = _matrix(rng, 4, False), rng.standard_normal(4)
    stack = np.stack([A, A + np.eye(4)])
    ys = rng.standard_normal((2, 4, 1))
    for fn, args in ((stacked, (stack, ys)), (reassigned, (A, y)), (only_solve, (A, y))):
        check_grads(fn, args, modes=("rev",), order=1)
        g = sct.grad(fn)
        g(*args)
        assert "inv_" not in g.source, g.source


def test_the_module_example(monkeypatch):
    import builtins

    monkeypatch.setattr(builtins, "_", None, raising=False)  # doctest sets builtins._: undone after the test
    assert doctest.testmod(sct.passes.inverses).failed == 0


def inverse_first(A, y):
    x = np.linalg.solve(A, y)
    sign, logdet = np.linalg.slogdet(A)
    return logdet + np.sum(x)


def test_solve_with_both_operands_solves_once():
    rng = np.random.default_rng(5)
    A, y = _matrix(rng, 5, False), rng.standard_normal(5)
    check_grads(only_solve, (A, y), modes=("rev",), order=1)
    g = sct.grad(only_solve, wrt=(0, 1))
    got = g(A, y)
    back = _backward(g.source)
    assert back.count("np.linalg.solve(") == 1, g.source
    x = np.linalg.solve(A, y)
    solved = np.linalg.solve(A.T, np.ones(5))
    np.testing.assert_array_equal(got[1], solved)  # the same call on the same values: the same bits
    np.testing.assert_array_equal(got[0], -np.outer(solved, x))


def test_a_name_holding_the_inverse_is_not_updated_in_place_under_a_later_use():
    """``delta_A = inv_A.T`` then ``delta_A -= ...`` would change the inverse a later line reads."""
    rng = np.random.default_rng(6)
    A, y = _matrix(rng, 5, False), rng.standard_normal(5)
    check_grads(inverse_first, (A, y), modes=("rev",), order=1)
    g = sct.grad(inverse_first, wrt=(0, 1))
    dA, dy = g(A, y)
    K_inv = np.linalg.inv(A)
    x = np.linalg.solve(A, y)
    np.testing.assert_allclose(dy, K_inv.T @ np.ones(5), rtol=1e-12)
    np.testing.assert_allclose(dA, K_inv.T - np.outer(K_inv.T @ np.ones(5), x), rtol=1e-12, atol=1e-14)


def test_the_inverse_itself_given_to_a_name_is_not_shared_before_another_use():
    text = sct.passes.inverses.demo(
        "def f(A, g, x, delta_out=1.0):\n"
        "    # backward\n"
        "    delta_A = np.linalg.inv(A).T\n"
        "    delta_A -= np.outer(np.linalg.solve(A.T, g), x)\n"
        "    delta_y = np.linalg.solve(A.T, g)\n"
        "    return (delta_A, delta_y)\n"
    )
    assert "inv_A" not in text and "delta_A = np.linalg.inv(A).T" in text, text
    assert text.count("np.linalg.solve(") == 1 and "delta_y = solved" in text, text  # the solve once


def test_a_solve_whose_operand_changes_in_between_is_computed_again():
    text = sct.passes.inverses.demo(
        "def f(A, g, x, delta_out=1.0):\n"
        "    # backward\n"
        "    delta_A = -np.outer(np.linalg.solve(A.T, g), x)\n"
        "    g += x\n"
        "    delta_y = np.linalg.solve(A.T, g)\n"
        "    return (delta_A, delta_y)\n"
    )
    assert text.count("np.linalg.solve(") == 2, text
