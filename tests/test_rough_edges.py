"""Issue 18: the rough edges a new user hits (false refusals, hangs, noise, misleading messages).

CLI items are checked through the CLI's exit status and stderr, as a user sees them.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import programs as P
import pytest

import sct
from sct.errors import UnsupportedSyntaxError


def _load(body, params="x"):
    body = textwrap.dedent(body).strip().replace("\n", "\n    ")
    return P.load(f"import numpy as np\n\n\ndef f({params}):\n    {body}\n")


def run(*argv, cwd=None, timeout=60):
    """``python -m sct ARGV`` in a subprocess: (exit status, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "sct", *argv], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=os.environ
    )
    return done.returncode, done.stdout, done.stderr


def write(tmp_path, text, name="user.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def assert_user_error(code, err, *fragments):
    assert code == 2, err
    assert err.startswith("sct: ") and err.count("\n") == 1, err  # one line
    assert "Traceback" not in err and "internal error" not in err, err
    for fragment in fragments:
        assert fragment in err, err


# ---- false refusals ---------------------------------------------------------------------
def test_an_element_of_a_vector_is_a_copy_so_a_later_write_is_fine():
    fn = _load(
        """
        a = x[0]
        x[0] = 2.0
        return a * x[1] + np.sum(x)
        """
    )
    x = np.array([1.5, 2.5, 3.5])
    assert sct.grad(fn)(x) == pytest.approx([2.5 + 0.0, 1.5 + 1.0, 1.0])
    sct.check_grads(fn, (x,), modes=("fwd", "rev"), order=1)
    assert x.tolist() == [1.5, 2.5, 3.5]  # never mutates the user's argument


def test_a_row_of_a_matrix_is_a_view_so_a_later_write_is_still_refused():
    fn = _load("a = x[0]\nx[0, 0] = 2.0\nreturn np.sum(a * x)")
    with pytest.raises(UnsupportedSyntaxError, match="writes into the array `x`, and `a`"):
        sct.grad(fn)(np.ones((2, 2)))


def test_a_name_bound_again_no_longer_holds_the_array():
    fn = _load("y = x\ny = y * 2.0\nx[0] = 3.0\nreturn np.sum(y) + np.sum(x * x)")
    x = np.array([1.0, 2.0, 4.0])
    assert sct.grad(fn)(x) == pytest.approx([2.0, 2.0 + 4.0, 2.0 + 8.0])
    sct.check_grads(fn, (x,), modes=("fwd", "rev"), order=1)


@pytest.mark.parametrize(
    "body",
    [
        "y = x\nz = y\ny = y * 2.0\nx[0] = 3.0\nreturn np.sum(z)",  # z still holds x's array
        "y = x\ny = y[1:]\nx[1] = 3.0\nreturn np.sum(y)",  # a view of a view
        "z = x\nx = x * 1.0\nw = z\nz[0] = 3.0\nreturn np.sum(w)",
    ],
)
def test_following_bindings_still_finds_every_shared_array(body):
    with pytest.raises(UnsupportedSyntaxError, match="holds the same array"):
        sct.grad(_load(body))(np.ones(3))


def test_an_assigned_lambda_with_a_default_can_be_called_without_it():
    fn = _load("h = lambda t, k=2.0: t * k\nreturn h(x) + h(x, 3.0) + (lambda u, v=x: u * v)(x)")
    assert sct.grad(fn)(1.5) == pytest.approx(2.0 + 3.0 + 2 * 1.5)
    sct.check_grads(fn, (1.5,), modes=("fwd", "rev"), order=2)


def test_a_lambda_default_is_evaluated_where_the_lambda_is_made():
    fn = _load("c = 2.0\nh = lambda t, k=c: t * k\nc = 5.0\nreturn h(x) * c")
    assert sct.grad(fn)(1.0) == pytest.approx(10.0)
