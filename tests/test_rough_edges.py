"""Issue 18: the rough edges a new user hits (false refusals, hangs, noise, misleading messages).

CLI items are checked through the CLI's exit status and stderr, as a user sees them.
"""

import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

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


# ---- hangs and crashes on user input ------------------------------------------------------
USER = """\
import numpy as np
import functools

WRITTEN = []


def f(x, y):
    return x * y + np.sin(x)


def writes(x):
    x[0] = 3.0
    return np.sum(x * x)


class Model:
    def loss(self, x):
        return x * 2.0


model = Model()
part = functools.partial(f, y=1.0)
"""


def main(capsys, *argv):
    """``cli.main(argv)`` in this process: (exit status, stdout, stderr)."""
    from sct.cli import commands as cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def user(tmp_path):
    return write(tmp_path, USER)


def test_a_huge_power_in_args_is_refused_at_once(user):
    code, _, err = run("check", user + ":f", "--args", "9**9**9, 1.0", timeout=30)
    assert_user_error(code, err, "9 ** 9 ** 9", "too large")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ("1/0, 1.0", ["`1 / 0`", "ZeroDivisionError"]),
        ("np.ones(10**10), 1.0", ["np.ones(10 ** 10)", "too large"]),
        ("np.ones((10**6, 1)) * np.ones(10**6), 1.0", ["too large"]),
        ("np.random.randn(10**5, 10**5), 1.0", ["too large"]),
        ("np.linspace(0, 1, 10**9), 1.0", ["too large"]),
        ("np.arange(1e12), 1.0", ["too large"]),
        ("(1.0,) * 10**9, 1.0", ["only for numbers and arrays"]),
        ("'ab' * 10**10, 1.0", ["only for numbers and arrays"]),
        ("10**400 * 1.0, 1.0", ["OverflowError"]),
        ("np.ones(-1), 1.0", ["negative dimensions"]),
        ("[1.0, 2.0", ["`[` at column 1 is never closed"]),
        ("1.0, 2.0)", ["`)` at column 9 closes no bracket"]),
    ],
)
def test_bad_args_are_the_users_error(capsys, user, args, fragments):
    assert_user_error(*main(capsys, "check", user + ":f", "--args", args)[::2], *fragments)


def test_args_evaluation_has_a_time_limit():
    import time

    from sct.cli.check import _time_limit
    from sct.errors import UserError

    start = time.monotonic()
    with pytest.raises(UserError, match="too slow"), _time_limit(0.2, "too slow"):
        time.sleep(5)
    assert time.monotonic() - start < 2


def test_the_mean_of_an_empty_array_behaves_as_numpy_does():
    for body in ("return np.mean(x)", "return np.sum(np.mean(x, axis=0))", "return np.sum(np.var(x, axis=1))"):
        fn = _load(body)
        for shape in [(0,), (0, 3), (3, 0)][1 if "axis=1" in body else 0 :]:
            x = np.zeros(shape)
            with warnings.catch_warnings(record=True) as theirs:
                warnings.simplefilter("always")
                expected = fn(x)
            with warnings.catch_warnings(record=True) as ours:  # NumPy's "mean of empty slice" where fn gives it
                warnings.simplefilter("always")
                value, grad = sct.value_and_grad(fn)(x)
            assert np.isnan(value) == np.isnan(expected) and grad.shape == shape
            if "var" not in body:  # (var's rule takes a mean of each group: NumPy warns once more for empty ones)
                assert {str(w.message) for w in ours} == {str(w.message) for w in theirs}


@pytest.mark.parametrize("func", ["np.save", "np.sin", "functools.partial", "Model", "model", "part"])
def test_func_must_be_defined_in_the_file_and_nothing_is_called_before(capsys, user, tmp_path, func):
    target = tmp_path / "written"
    code, _, err = main(capsys, "check", f"{user}:{func}", "--args", f"{str(target)!r}, 1.0")
    assert_user_error(code, err, "FUNC must be a function defined in")
    assert not list(tmp_path.glob("written*"))


@pytest.mark.parametrize(
    ("func", "fragment"),
    [
        ("Model", "is a class (name one of its methods, for example Model.loss)"),
        ("model", "is an instance of Model (name one of its methods, for example model.loss)"),
        ("part", "is a functools.partial"),
        ("np.save", "save`, a function defined elsewhere"),
    ],
)
def test_what_func_is_is_said(capsys, user, func, fragment):
    assert_user_error(*main(capsys, "dump", f"{user}:{func}")[::2], fragment)


def test_a_method_of_a_class_in_the_file_is_fine(capsys, user):
    code, out, err = main(capsys, "dump", user + ":Model.loss", "--wrt", "x")
    assert code == 0 and "def grad_loss" in out, err


def test_sct_check_never_writes_into_the_users_values(capsys, user):
    code, out, err = main(capsys, "check", user + ":writes", "--args", "[1.0, 2.0]")
    assert code == 0, out + err
    assert "writes(x) = 13" in out  # 3**2 + 2**2, at the given point, not at one the first call changed


# ---- command-line input that makes no sense --------------------------------------------
def test_a_directory_is_said_to_be_one(capsys, user, tmp_path):
    assert_user_error(*main(capsys, "dump", str(tmp_path) + ":f")[::2], "is a directory")
    (tmp_path / "out").mkdir()
    code, _, err = main(capsys, "export", user + ":f", "-o", str(tmp_path / "out"), "--force")
    assert_user_error(code, err, "is a directory")


@pytest.mark.parametrize(
    ("option", "value"), [("--max-rows", "-5"), ("--max-rows", "0"), ("--rtol", "-1"), ("--atol", "nan")]
)
def test_nonsense_options_are_refused_with_a_reason(capsys, user, option, value):
    code, _, err = main(capsys, "check", user + ":f", "--args", "1.0, 2.0", option, value)
    assert_user_error(code, err, f"{option} {value}")


def test_grammar_an_int(capsys, tmp_path):
    path = write(tmp_path, "COUNTER = 3\n")
    assert_user_error(*main(capsys, "dump", path + ":COUNTER")[::2], "COUNTER is an int, not a function")


# ---- noise -----------------------------------------------------------------------------------
def test_generated_code_never_repeats_a_syntax_warning():
    fn = _load("y = 1.0\nreturn x * y[0]")  # a TypeError when it runs, as in Python
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="not subscriptable"):
            sct.grad(fn)(2.0)


@pytest.mark.parametrize(
    ("body", "at", "expected"),
    [
        ("return x * (x is 1.0)", 2.0, 0.0),
        ("return x * (x is not None)", 2.0, 1.0),
        ("return x * (x in (1.0, 2.0))", 2.0, 1.0),
        ("return x * (x not in (1.0, 2.0))", 2.0, 0.0),
        ("return x * (x in (1.0, 2.0))", 3.0, 0.0),
    ],
)
def test_is_and_in_are_bools_with_no_derivative(body, at, expected):
    # these were differentiated as if `x is 1.0` were `x`: a wrong number without an error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # `is` with a literal: Python's warning, not sct's
        fn = _load(body)
    assert sct.grad(fn)(at) == expected
    assert sct.jvp(fn, (at,), (1.0,))[1] == expected


def test_sct_check_at_inf_says_the_function_is_not_finite(user):
    code, _, err = run("check", user + ":f", "--args", "inf, 1.0")
    assert_user_error(code, err, "f(x, y) = nan: the function is not finite here")
    assert "Warning" not in err


def test_sct_check_where_the_derivative_is_infinite_shows_it_without_warnings(tmp_path):
    path = write(tmp_path, "import numpy as np\n\n\ndef f(x):\n    return np.sqrt(x)\n")
    code, out, err = run("check", path + ":f", "--args", "0.0")
    assert code == 1 and err == "" and "inf" in out


def test_gradients_of_python_floats_are_python_floats_in_containers_too():
    fn = _load("return p['a'] * np.sin(p['b'][0]) + p['b'][1]", params="p")
    grads = sct.grad(fn)({"a": 1.0, "b": [2.0, 3.0]})
    assert type(grads["a"]) is float and [type(g) for g in grads["b"]] == [float, float]
    out, tangent = sct.jvp(fn, ({"a": 1.0, "b": [2.0, 3.0]},), ({"a": 1.0, "b": [0.0, 0.0]},))
    assert type(tangent) is float


# ---- messages that mislead ---------------------------------------------------------------------
def _message(fn, *args, **options):
    with pytest.raises(sct.SctError) as info:
        sct.grad(fn, **options)(*args)
    return str(info.value)


def test_builtins_sum_zip_enumerate_are_supported():
    fn = _load("t = sum(x)\nfor i, (a, b) in enumerate(zip(x, x)):\n    t = t + a * b * i\nreturn t")
    sct.check_grads(fn, ([1.0, 2.0, 3.0],), modes=("rev",), order=1)


def test_a_global_list_changed_in_place_is_said_to_be_one():
    fn = P.load("CALLS = []\n\n\ndef f(x):\n    CALLS.append(1)\n    return x * 2.0\n")
    text = _message(fn, 1.0)
    assert "`CALLS` is a global" in text and "used before it is assigned" not in text


def test_a_complex_literal_gets_no_hint_about_powers():
    text = _message(_load("return x * (1 + 2j)"), 1.0)
    assert "fractional power" not in text and "real part" in text
    assert "fractional power" in _message(_load("return (x - 3.0) ** 0.5"), 1.0)


def test_a_nested_write_says_what_to_write():
    text = _message(_load("ys[0][0] = v\nreturn np.sum(ys[0])", params="ys, v"), [np.ones(2)], 2.0)
    assert "ys = ys.copy()" not in text and "item = ys[0].copy()" in text and "a[i, j] = v" in text
    fixed = _load("item = ys[0].copy()\nitem[0] = v\nys[0] = item\nreturn np.sum(ys[0] * ys[1])", params="ys, v")
    sct.check_grads(fixed, ([np.ones(2), np.arange(2.0)], 2.0), modes=("rev",), order=1)


@pytest.mark.parametrize("wrt", [1.0, True, (0, 1.5)])
def test_wrt_of_the_wrong_type_says_what_wrt_must_be(wrt):
    text = _message(_load("return x * y", params="x, y"), 1.0, 2.0, wrt=wrt)
    assert "wrt must be an int, a parameter name, or a tuple of them" in text and "out of range" not in text


def test_a_method_without_its_instance_gets_a_hint(tmp_path):
    from sct.cli import commands as cli

    path = write(tmp_path, "class M:\n    k = 2.0\n\n    def m(self, x):\n        return x * self.k\n", "meth.py")
    module = cli.load_module(path)
    text = _message(module.M.m, 2.0)
    assert "sct.grad(obj.m)" in text and "sct.grad(M.m, wrt=1)(obj, x)" in text
    assert sct.grad(module.M.m, wrt=1)(module.M(), 2.0) == 2.0
    assert sct.grad(module.M().m)(2.0) == 2.0  # self.k in a method (the lead's item): still fine


def test_messages_use_an_before_vowels():
    from sct.errors import article

    assert article("int") == "an int" and article("float") == "a float" and article("ndarray") == "an ndarray"


# ---- docs ------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_says_sct_reads_source_from_a_file_and_shows_notebooks():
    readme = (ROOT / "README.md").read_text()
    first_python = readme.index("```python")
    assert "in a file" in readme[:first_python] and "python f.py" in readme[first_python:][:200]
    assert "IPython and Jupyter keep each cell's source" in readme and "ipython -c" in readme


def test_the_readme_notebook_one_liner_runs_in_ipython():
    pytest.importorskip("IPython")
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in readme.split("```bash\n")[1:] if b.startswith("ipython -c"))
    code = block.split("```")[0].strip()[len("ipython -c '") : -1]
    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        f"result = InteractiveShell.instance().run_cell({code!r})\n"
        "assert result.success, result.error_in_exec\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) == pytest.approx(np.sin(1.0) + np.cos(1.0))


def test_a_plain_python_prompt_says_why_it_cannot_work():
    code = "import sct\ndef f(x):\n    return x * x\nsct.grad(f)(1.0)\n"
    done = subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, env=os.environ)
    assert "SourceUnavailableError" in done.stderr
    assert "typed at a plain `python` prompt" in done.stderr and "IPython or Jupyter" in done.stderr


def test_the_tutorial_text_and_listing_agree_and_the_import_says_where():
    tutorial = (ROOT / "docs" / "tutorial.md").read_text()
    listing, text = tutorial.split("How to read it:", 1)
    assert "delta_x = delta_out * out / g * e + " in listing  # delta_g's minus cancels d = -x's (issue 19)
    assert "`delta_out * out / g * e`" in text.split("**Accumulation.**")[0]
    assert "`delta_x = delta_out * out / g * e + delta_b * 2 * x + ...`" in text  # one sum (issue 17)
    assert "`-delta_out * out / g`" in text.split("**Accumulation.**")[0]
    assert "from scalar import f  # examples/scalar.py: run this from examples/" in tutorial


def test_relu_net_prints_a_first_loss_that_matches_its_summary():
    done = subprocess.run(
        [sys.executable, "relu_net.py"], cwd=ROOT / "examples", capture_output=True, text=True, env=os.environ
    )
    first_step = re.search(r"step +0 +loss ([\d.]+)", done.stdout)[1]
    summary = re.search(r"loss ([\d.]+) -> ", done.stdout)[1]
    assert first_step == summary, done.stdout


def test_an_object_of_a_class_in_a_module_named_sct_something_is_an_object():
    # a user's module "sct_prog_1" was taken for part of sct: self.k was "not supported on arrays"
    module = P.load("class M:\n    k = 2.0\n\n    def m(self, x):\n        return x * self.k\n", name=None)
    assert module.__name__.startswith("sct_")
    assert sct.grad(module.M().m)(2.0) == 2.0
    assert sct.grad(module.M.m, wrt=1)(module.M(), 2.0) == 2.0


@pytest.mark.parametrize("body", ["return np.prod(x)", "return np.std(x)", "return np.sum(np.prod(x, axis=1))"])
@pytest.mark.parametrize("shape", [(0,), (0, 2), (2, 0)])
def test_products_and_std_of_empty_arrays_do_not_crash(body, shape):
    fn = _load(body)
    x = np.zeros(shape)
    if "axis=1" in body and len(shape) == 1:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own, for the std of nothing
        expected = fn(x)
        value, grad = sct.value_and_grad(fn)(x)
    assert grad.shape == shape and (value == expected or np.isnan(value) and np.isnan(expected))


def test_std_still_has_its_kink_rule_and_products_their_gradient():
    sct.check_grads(_load("return np.std(x)"), (np.array([1.0, 2.0, 4.0]),), modes=("fwd", "rev"), order=2)
    assert sct.grad(_load("return np.std(x)"))(np.full(3, 0.1)).tolist() == [0.0, 0.0, 0.0]
    sct.check_grads(_load("return np.prod(x)"), (np.array([1.0, 2.0, 4.0]),), modes=("fwd", "rev"), order=2)


def test_jvp_gives_python_floats_for_a_numpy_float64_value():
    fn = _load("return x * np.sin(x)")  # np.sin of a float is a NumPy float64
    out, tangent = sct.jvp(fn, (1.0,), (1.0,))
    assert (type(out), type(tangent)) == (float, float)
    out, tangent = sct.jvp(_load("return {'a': np.sin(x), 'b': [x * 2.0]}"), (1.0,), (1.0,))
    assert type(out["a"]) is float and type(tangent["a"]) is float and type(out["b"][0]) is float


def test_a_jvp_inside_a_differentiated_function_still_matches_python():
    outer = P.load(
        "import numpy as np\nimport sct\n\n\ndef g(x):\n    return x * np.sin(x)\n\n\n"
        "def f(x):\n    y, dy = sct.jvp(g, (x,), (1.0,))\n    return y * dy\n"
    )
    sct.check_grads(outer, (0.7,), modes=("fwd", "rev"), order=2)  # validation compares the value's type too
    assert type(sct.value_and_grad(outer)(0.7)[0]) is float
