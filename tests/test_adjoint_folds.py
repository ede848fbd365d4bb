"""sct.passes.fuse.fold_adjoints on arrays: what may move, and what must keep its line.

The adjoint of a temporary the lowering named (``delta_k`` for ``k = np.exp(j)``), assigned once and
read once, moves into its use when that computes the same numbers: nothing between changes an array in
place or calls what might, and the line it makes stays short. The gradients with and without the pass
are the same to the bit (tests/test_scalar_folds.py, on random programs); here the pass's conditions,
one by one, on code written for it, and the LSTM's adjoint as a user sees it.
"""

import textwrap

import gast
import numpy as np

import sct
from benchmarks import workloads
from sct.backend import codegen
from sct.backend.helpers import HELPERS
from sct.passes import fuse

RESOLVE = codegen.namespace({}, HELPERS).get


def _fold(source: str, temporaries=("delta_a",)) -> str:
    fn = gast.parse(textwrap.dedent(source)).body[0]
    fuse.fold_adjoints(fn, set(), set(temporaries), RESOLVE)
    return codegen.unparse(fn)


def test_a_temporarys_adjoint_moves_into_its_one_use():
    text = _fold(
        """
        def g(w, x):
            delta_a = w * 2.0
            delta_c = np.sum(delta_a * x)
            return delta_c
        """
    )
    assert "delta_c = np.sum(w * 2.0 * x)" in text and "delta_a" not in text


def test_a_users_adjoint_keeps_its_line():
    source = """
        def g(w, x):
            delta_a = w * 2.0
            delta_c = delta_a * x
            return delta_c
        """
    assert "delta_a = w * 2.0" in _fold(source, temporaries=())


def test_no_move_past_an_array_changed_in_place():
    for between in ("v[0] = 5.0", "v += 1.0", "np.add.at(v, [0], 1.0)", "user(w)", "v.fill(0.0)"):
        text = _fold(
            f"""
            def g(w, v, x):
                delta_a = w * 2.0
                {between}
                delta_c = delta_a * x
                return delta_c
            """
        )
        assert "delta_a = w * 2.0" in text, between  # v may be w: the product must be taken before


def test_moves_past_pure_lines_and_record_pops():
    text = _fold(
        """
        def g(w, x, x_stack):
            delta_a = w * 2.0
            x = x_stack.pop()
            y = np.exp(w) + np.outer(w, w).sum(axis=0)
            delta_c = delta_a * x * y
            return delta_c
        """
    )
    assert "delta_c = w * 2.0 * x * y" in text


def test_no_move_past_a_reassignment_of_what_it_reads():
    text = _fold(
        """
        def g(w, x, w_stack):
            delta_a = w * 2.0
            w = w_stack.pop()
            delta_c = delta_a * x
            return delta_c
        """
    )
    assert "delta_a = w * 2.0" in text


def test_only_pure_values_move():
    for value in ("user(w)", "w_stack.pop()", "np.random.normal(w)", "w.fill(0.0)"):
        text = _fold(
            f"""
            def g(w, x):
                delta_a = {value}
                delta_c = delta_a * x
                return delta_c
            """
        )
        assert f"delta_a = {value}" in text, value


def test_no_move_into_a_loop_or_a_branch():
    for use in ("for t in range(3):\n        delta_c = delta_a * x", "if x > 0:\n        delta_c = delta_a * x"):
        text = _fold(f"def g(w, x):\n    delta_a = w * 2.0\n    {use}\n    return delta_c\n")
        assert "delta_a = w * 2.0" in text, use


def test_a_line_too_long_keeps_the_name():
    long = " + ".join(f"w{i} * w{i}" for i in range(12))
    text = _fold(
        f"""
        def g(w, x):
            delta_a = {long}
            delta_c = np.sum(delta_a * x)
            return delta_c
        """
    )
    assert f"delta_a = {long}" in text


def test_the_comment_over_a_moved_line_joins_the_comment_over_its_use():
    text = _fold(
        """
        def g(w, x, y):
            __sct_comment__('k = np.exp(j)')
            delta_a = w * 2.0
            __sct_comment__('p = q * r')
            delta_p = x * y
            __sct_comment__('j = g / i')
            delta_c = np.sum(delta_a * x)
            return delta_c
        """
    )
    assert "# k = np.exp(j); j = g / i\n    delta_c = np.sum(w * 2.0 * x)" in text
    assert "# p = q * r\n    delta_p = x * y" in text


def test_lstm_adjoint_reads_like_the_hand_written_one():
    w = workloads.BY_NAME["lstm"]
    args = w.make_args()
    g = sct.grad(w.f, wrt=w.wrt)
    ours, theirs = g(*args), w.hand_grad(*args)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    backward = g.source.split("# backward")[1]
    assert "delta_c += delta_h * o * (1.0 - ak * ak)" in backward  # the tanh's adjoint written into its one use
    assert "delta_ai" not in backward and "delta_aj" not in backward  # copies of delta_c, folded
    assert "delta_g * (1.0 - g * g)" in backward  # into the concatenation, as the hand-written code has it
    assert max(len(line.strip()) for line in backward.splitlines()) <= 100 + len("# ")


def test_no_move_into_a_line_that_calls_what_might_change_it_first():
    for use in ("delta_c = user(w) + delta_a", "delta_c = np.sum(w, out=v) + delta_a"):
        text = _fold(f"def g(w, v):\n    delta_a = w * 2.0\n    {use}\n    return delta_c\n")
        assert "delta_a = w * 2.0" in text, use


def test_no_value_that_writes_into_an_array_moves():
    text = _fold("def g(w, v, x):\n    delta_a = np.sum(w, out=v)\n    delta_c = delta_a * x\n    return delta_c\n")
    assert "delta_a = np.sum(w, out=v)" in text


# ---- fold_recomputations: a value the reversed trip makes again, into its one read ------------------------
def _fold_loop(source: str, temporaries=("a",)) -> str:
    fn = gast.parse(textwrap.dedent(source)).body[0]
    fuse.fold_recomputations(fn, set(temporaries), RESOLVE)
    return codegen.unparse(fn)


def test_a_recomputed_view_goes_into_its_one_read():
    text = _fold_loop(
        """
        def g(xs, w, h_stack):
            __sct_comment__('backward')
            for t in range(3):
                a = xs[t]
                h = h_stack.pop()
                delta_b += h * 2.0
                delta_w += a.T @ h
            return delta_w
        """
    )
    assert "delta_w += xs[t].T @ h" in text and "a = xs[t]" not in text


def test_a_recomputed_value_stays_where_it_is_read_again():
    cases = {
        "twice": "a = xs[t]\n        delta_w += a * a",
        "before, on the next trip": "delta_w += a\n        a = xs[t]\n        delta_v += a",
        "past a write into an array": "a = xs[t]\n        xs[0] = 1.0\n        delta_w += a",
        "past its operand bound again": "a = xs[t]\n        t = 0\n        delta_w += a",
        "made from itself": "a = a[0]\n        delta_w += a",
    }
    loop = "def g(xs):\n    __sct_comment__('backward')\n    for t in range(3):\n        {}\n    return {}\n"
    for why, body in cases.items():
        kept = "a = a[0]" if why == "made from itself" else "a = xs[t]"
        assert kept in _fold_loop(loop.format(body, 0)), why
    assert "a = xs[t]" in _fold_loop(loop.format("a = xs[t]\n        delta_w += a", "a"))  # the last trip's value
    forward = "def g(xs):\n    for t in range(3):\n        a = xs[t]\n        b = a * 2.0\n"
    forward += "    __sct_comment__('backward')\n    return b\n"
    assert "a = xs[t]" in _fold_loop(forward)  # the forward sweep keeps one operation a line


def test_rnn_adjoint_reads_xs_t_where_the_hand_written_one_does():
    w = workloads.BY_NAME["rnn"]
    args = w.make_args()
    g = sct.grad(w.f, wrt=w.wrt)
    for a, b in zip(g(*args), w.hand_grad(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    forward, backward = g.source.split("# backward")
    assert "delta_Wx += xs[t].T @ delta_i" in backward and "= xs[t]" in forward
