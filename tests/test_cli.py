"""The command line: sct dump, sct check, sct export; their output, exit status and errors."""

import json
import linecache
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sct
from sct.cli import commands as cli
from sct.cli.check import parse_arguments
from sct.export import export_source
from sct.rules.table import defvjp

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "examples" / "seed.py")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
f = cli.load_module(SEED).f  # the README's example function


def run(*argv, cwd=None, env=None):
    """``python -m sct ARGV`` in a subprocess: (exit status, stdout, stderr)."""
    env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "sct", *argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def main(capsys, *argv):
    """``cli.main(argv)`` in this process: (exit status, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, text, name="user.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def assert_user_error(code, err, *fragments):
    assert code == 2
    assert err.startswith("sct: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err.splitlines()[0], err


# ---- sct dump ------------------------------------------------------------------------
def test_dump_prints_the_generated_source(capsys):
    code, out, err = main(capsys, "dump", SEED + ":f", "--wrt", "x,y")
    assert code == 0 and err == ""
    assert out == sct.source(f, wrt=("x", "y")) + "\n"
    assert ANSI.search(out) is None


def test_dump_wrt_by_position_and_default(capsys):
    assert main(capsys, "dump", SEED + ":f", "--wrt", "1")[1] == sct.source(f, wrt=1) + "\n"
    assert main(capsys, "dump", SEED + ":f")[1] == sct.source(f, wrt=0) + "\n"


def test_dump_no_optimize_shows_the_unoptimised_code(capsys):
    code, out, _ = main(capsys, "dump", SEED + ":f", "--no-optimize")
    assert code == 0
    assert out == sct.source(f, optimize=False) + "\n"


def test_dump_forward_mode(capsys):
    code, out, err = main(capsys, "dump", SEED + ":f", "--mode", "forward", "--wrt", "y")
    assert code == 0, err
    assert out == sct.source(f, wrt="y", mode="forward") + "\n"


def test_dump_colour_only_on_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    plain = main(capsys, "dump", SEED + ":f")[1]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    coloured = main(capsys, "dump", SEED + ":f")[1]
    assert ANSI.search(coloured) and ANSI.sub("", coloured) == plain
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(capsys, "dump", SEED + ":f")[1] == plain
    assert ANSI.search(main(capsys, "dump", SEED + ":f", "--color", "always")[1])


def test_dump_piped_has_no_colour():
    code, out, _ = run("dump", SEED + ":f", "--wrt", "x,y", env={"TERM": "xterm-256color"})
    assert code == 0 and "def grad_f" in out and "\x1b" not in out


@pytest.mark.parametrize(
    "text",
    [
        'def f(x, y=1.0):\n    """doc\n    string"""\n    # comment\n    return x ** 2e-3 + y  # tail\n',
        "a = [1,\n     2]  # continued\nb = 'it''s'\n",
        "x = (\n",  # does not tokenize: returned unchanged
    ],
)
def test_highlight_only_adds_colour(text):
    assert ANSI.sub("", cli.highlight(text)) == text


def test_highlight_marks_keywords_numbers_comments_and_deltas():
    text = cli.highlight("def g(x):\n    delta_x = 2.0  # c\n    return delta_x\n")
    assert "\x1b[1;35mdef\x1b[0m" in text and "\x1b[1;34mg\x1b[0m" in text
    assert "\x1b[36m2.0\x1b[0m" in text and "\x1b[90m# c\x1b[0m" in text
    assert "\x1b[33mdelta_x\x1b[0m" in text and "\x1b[1;35mreturn\x1b[0m" in text


# ---- errors: one line, exit status 2, no traceback -------------------------------------
BAD = """\
import cmath

import numpy as np


def two_problems(x):
    try:
        y = x
    except ValueError:
        y = 0.0
    del x
    return y


def no_rule(x):
    return cmath.phase(x) + x


def boom(x):
    return x / 0.0


def vector(x):
    return x * 2.0


not_a_function = 3
"""


@pytest.fixture
def bad(tmp_path):
    return write(tmp_path, BAD, "bad_module.py")


def test_error_missing_file(capsys, tmp_path):
    code, out, err = main(capsys, "dump", str(tmp_path / "nope.py") + ":f")
    assert_user_error(code, err, "nope.py: no such file")
    assert out == ""


def test_error_missing_function(capsys, bad):
    code, _, err = main(capsys, "dump", bad + ":g")
    assert_user_error(code, err, "has no function 'g'", "boom, no_rule")


def test_error_not_a_function(capsys, bad):
    assert_user_error(*main(capsys, "dump", bad + ":not_a_function")[::2], "is an int, not a function")


def test_error_bad_target(capsys, bad):
    assert_user_error(*main(capsys, "dump", bad)[::2], "expected FILE.py:FUNC")


def test_error_syntax_error_in_the_users_file(capsys, tmp_path):
    path = write(tmp_path, "def f(x):\n    return x +\n", "broken.py")
    code, _, err = main(capsys, "dump", path + ":f")
    assert_user_error(code, err, f"{path}:2:", "syntax error")


def test_error_raised_while_importing_the_users_file(capsys, tmp_path):
    path = write(tmp_path, "import numpy\n\nvalue = 1 / 0\n", "raises.py")
    assert_user_error(*main(capsys, "dump", path + ":f")[::2], f"{path}:3:", "ZeroDivisionError")


def test_error_unsupported_construct_lists_every_problem_with_its_place(capsys, bad):
    code, _, err = main(capsys, "dump", bad + ":two_problems")
    assert_user_error(code, err, "2 problems")
    lines = err.splitlines()
    assert lines[1].startswith(f"  {bad}:7:5: `Try` is not supported")
    assert lines[2].startswith(f"  {bad}:11:5: `Delete` is not supported")


def test_error_non_differentiable_call(capsys, bad):
    code, _, err = main(capsys, "dump", bad + ":no_rule")
    assert_user_error(code, err, f"{bad}:16:12:", "no derivative rule", "cmath.phase")


def test_error_bad_wrt(capsys, bad):
    assert_user_error(*main(capsys, "dump", bad + ":boom", "--wrt", "q")[::2], "no parameter 'q'")


def test_usage_errors_exit_2(capsys):
    code, _, err = main(capsys, "dump")
    assert code == 2 and "usage:" in err
    code, _, err = main(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err
    code, _, err = main(capsys, "dump", SEED + ":f", "--mode", "sideways")
    assert code == 2 and "invalid choice" in err


def test_errors_from_a_subprocess_have_no_traceback(bad):
    code, out, err = run("dump", bad + ":two_problems")
    assert_user_error(code, err, "2 problems")
    assert out == ""


def test_internal_errors_are_one_line_too(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("oops")

    monkeypatch.setattr(cli.api, "source", broken)
    code, _, err = main(capsys, "dump", SEED + ":f")
    assert code == 2 and err.startswith("sct: internal error: RuntimeError: oops") and "Traceback" not in err


# ---- help and python -m sct ---------------------------------------------------------------
def test_help_shows_examples(capsys):
    code, out, _ = main(capsys, "--help")
    assert code == 0 and "examples:" in out and "sct dump examples/seed.py:f --wrt x,y" in out
    for command in ("dump", "check", "export"):
        code, out, _ = main(capsys, command, "--help")
        assert code == 0 and "examples:" in out and f"sct {command} " in out


def test_python_dash_m_sct_is_the_sct_command(capsys):
    code, out, err = run("dump", SEED + ":f", "--wrt", "x,y")
    assert (code, err) == (0, "")
    assert (code, out, err) == main(capsys, "dump", SEED + ":f", "--wrt", "x,y")
    assert run("--version")[1].strip() == f"sct {sct.__version__}"


# ---- sct check ------------------------------------------------------------------------------
def table_rows(out):
    """{"argument [element]": [analytic, numeric]} from the table ``sct check`` prints."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("argument"))
    rows = {}
    for line in lines[start + 1 : -1]:
        cells = re.split(r"\s{2,}", line.strip())
        label, rest = cells[0], cells[1:]
        if rest[0].startswith("..."):
            continue
        if rest[0].startswith("["):
            label, rest = f"{label} {rest[0]}", rest[1:]
        rows[label] = [float(rest[0]), float(rest[1])]
    return rows


def test_check_passes_on_the_seed(capsys):
    code, out, err = main(capsys, "check", SEED + ":f", "--args", "1.5, 2.0")
    assert (code, err) == (0, "")
    dx, dy = sct.grad(f, wrt=(0, 1))(1.5, 2.0)
    rows = table_rows(out)
    assert rows["x"][0] == pytest.approx(dx, rel=1e-9) and rows["y"][0] == pytest.approx(dy, rel=1e-9)
    assert rows["x"][1] == pytest.approx(dx, rel=1e-6) and rows["y"][1] == pytest.approx(dy, rel=1e-6)
    assert out.splitlines()[0] == f"f(x, y) = {f(1.5, 2.0):.10g}"
    assert "ok: 2 derivatives agree" in out


KINK = """\
import numpy as np

from sct.rules.table import defvjp


def relu(x):
    return x * (x > 0.0)


def cube(x):
    return x ** 3


defvjp(cube, lambda g, ans, x: g * 2.0 * x ** 2)  # wrong on purpose: 2 instead of 3


def uses_cube(x, scale):
    return np.sum(cube(x) * scale)


def matrix(W, v, k):
    return np.sum(np.tanh(W @ v)) * k
"""


@pytest.fixture
def kink(tmp_path):
    return write(tmp_path, KINK, "kink_module.py")


def test_check_fails_with_exit_1_at_a_kink(capsys, kink):
    code, out, _ = main(capsys, "check", kink + ":relu", "--args", "1e-9")
    assert code == 1
    assert "MISMATCH" in out and out.splitlines()[-1].startswith("FAILED: 1 of 1")
    assert table_rows(out)["x"] == pytest.approx([1.0, 0.5], rel=1e-3)
    assert main(capsys, "check", kink + ":relu", "--args", "0.5")[0] == 0


def test_check_catches_a_wrong_custom_rule(capsys, kink):
    code, out, _ = main(capsys, "check", kink + ":uses_cube", "--args", "[1.0, 2.0, -1.5], 0.5")
    assert code == 1
    rows = table_rows(out)
    assert rows["x [1]"] == pytest.approx([2.0 * 4 * 0.5, 3.0 * 4 * 0.5], rel=1e-6)
    assert rows["scale"][0] == pytest.approx(1 + 8 - 1.5**3)
    assert "FAILED: 3 of 4" in out


def test_check_arrays_and_named_arguments(capsys, kink):
    code, out, err = main(capsys, "check", kink + ":matrix", "--args", "np.eye(2) * 0.5, v=[1.0, -2.0], k=3")
    assert code == 0, out + err
    rows = table_rows(out)
    assert set(rows) == {"W [0, 0]", "W [0, 1]", "W [1, 0]", "W [1, 1]", "v [0]", "v [1]"}  # k is an int
    code, out, _ = main(capsys, "check", kink + ":matrix", "--args", "np.eye(2), [1.0, -2.0], 3", "--wrt", "k")
    assert code == 0 and set(table_rows(out)) == {"k"}


def test_check_args_file(capsys, kink, tmp_path):
    rng = np.random.default_rng(0)
    W, v = rng.standard_normal((3, 2)), rng.standard_normal(2)
    np.savez(tmp_path / "positional.npz", W, v, 2.0)
    np.savez(tmp_path / "named.npz", W=W, v=v, k=2.0)
    slope = 2.0 * (1.0 - np.tanh(W @ v) ** 2)  # d/dW and d/dv of sum(tanh(W @ v)) * 2, by hand
    expected = np.outer(slope, v), W.T @ slope
    for name in ("positional.npz", "named.npz"):
        code, out, err = main(capsys, "check", kink + ":matrix", "--args-file", str(tmp_path / name))
        assert code == 0, err
        rows = table_rows(out)
        assert rows["W [2, 1]"][0] == pytest.approx(expected[0][2, 1], rel=1e-9)
        assert rows["v [0]"][0] == pytest.approx(expected[1][0], rel=1e-9)
        assert rows["k"][0] == pytest.approx(np.sum(np.tanh(W @ v)), rel=1e-9)


def test_check_shows_the_largest_errors_of_big_arrays(capsys, kink):
    code, out, _ = main(
        capsys, "check", kink + ":uses_cube", "--args", "np.linspace(0.5, 2.0, 12), 1.0", "--max-rows", "3"
    )
    assert code == 1
    assert "... 9 more of shape (12,)" in out
    assert sum(line.startswith("x ") and "[" in line for line in out.splitlines()) == 3


def test_check_tolerances(capsys, kink):
    args = ("check", kink + ":relu", "--args", "1e-9")
    assert main(capsys, *args, "--atol", "0.6")[0] == 0
    assert main(capsys, *args, "--rtol", "1.0")[0] == 0
    assert main(capsys, *args, "--rtol", "0.1")[0] == 1


@pytest.mark.parametrize(
    "args, fragment",
    [
        ("1.0, 2.0, 3.0", "takes 2 arguments"),
        ("1.0", "no value for parameter 'scale'"),
        ("1.0, 2.0, z=1.0", "not parameters of"),
        ("1.0, 2.0, x=2.0", "given twice"),
        ("__import__('os')", "is not allowed"),
        ("1.0, open('f')", "is not allowed"),
        ("[1.0, [2.0]], 1.0", "not a rectangular list"),
        ("1.0,, 2.0", "not valid Python syntax"),
        ("1) + (2", "expected comma-separated values"),
        ("1, 2", "no float argument"),
    ],
)
def test_check_bad_arguments(capsys, kink, args, fragment):
    assert_user_error(*main(capsys, "check", kink + ":uses_cube", "--args", args)[::2], fragment)


def test_check_bad_input(capsys, bad, tmp_path):
    assert_user_error(*main(capsys, "check", bad + ":vector", "--args", "[1.0, 2.0]")[::2], "scalar output")
    assert_user_error(*main(capsys, "check", bad + ":boom", "--args", "1.0")[::2], ":20:", "ZeroDivisionError")
    assert_user_error(*main(capsys, "check", bad + ":two_problems", "--args", "1.0")[::2], "2 problems")
    (tmp_path / "junk.npz").write_text("not numpy")
    assert_user_error(*main(capsys, "check", bad + ":boom", "--args-file", str(tmp_path / "junk.npz"))[::2], "junk.npz")
    assert main(capsys, "check", bad + ":boom")[0] == 2  # neither --args nor --args-file


def test_parse_arguments_is_a_small_safe_language():
    positional, named = parse_arguments("1, -2.5, (3.0, [1, 2]), {'a': [[1.0]]}, s=np.pi, r=np.random.randn(2)")
    assert positional[:2] == [1, -2.5]
    assert isinstance(positional[2], tuple) and positional[2][1].dtype == float
    assert positional[3]["a"].shape == (1, 1) and named["s"] == np.pi
    assert np.array_equal(named["r"], parse_arguments("np.random.randn(2)")[0][0])  # seeded


# ---- sct export ------------------------------------------------------------------------------
IMPORT_EXPORTED = """\
import importlib.util, json, sys
sys.modules["sct"] = None  # `import sct` now fails
import numpy as np
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
args = [np.asarray(a) if isinstance(a, list) else a for a in json.loads(sys.argv[2])]
value, grads = getattr(module, sys.argv[3])(*args)
only = module.gradient(*args)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sct", "gast") and sys.modules[m] is not None)
as_list = lambda g: [np.asarray(x).tolist() for x in g] if isinstance(g, tuple) else np.asarray(g).tolist()
print(json.dumps({"value": float(value), "grads": as_list(grads), "only": as_list(only), "loaded": loaded}))
"""


def call_exported(path, function, args, tmp_path):
    """Import the exported module in a fresh ``python -I`` where sct cannot be imported; call it."""
    script = tmp_path / "call_exported.py"
    script.write_text(IMPORT_EXPORTED)
    payload = json.dumps([np.asarray(a).tolist() if isinstance(a, np.ndarray) else a for a in args])
    done = subprocess.run(
        [sys.executable, "-I", str(script), str(path), payload, function],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_export_gives_the_numbers_sct_gives_without_sct(capsys, tmp_path):
    out = tmp_path / "f_grad.py"
    code, _, err = main(capsys, "export", SEED + ":f", "--wrt", "x,y", "-o", str(out))
    assert code == 0 and f"wrote {out}" in err
    text = out.read_text()
    assert "import sct" not in text and "from sct" not in text
    assert f"sct {sct.__version__}" in text and "seed.py:f" in text and "gradient(x, y)" in text
    result = call_exported(out, "grad_f", [1.5, 2.0], tmp_path)
    assert result["loaded"] == []
    assert result["value"] == f(1.5, 2.0)
    assert result["grads"] == list(sct.grad(f, wrt=(0, 1))(1.5, 2.0))
    assert result["only"] == result["grads"]


EXPORTED = """\
import math

import numpy as np

from sct.rules.table import defvjp

SCALE = 2.5
OFFSET = np.array([0.5, -1.0, 0.0])
HUGE = np.ones(5000)


def cube(x):
    return x ** 3


def cube_rule(g, ans, x):
    return g * 3.0 * x ** 2


defvjp(cube, cube_rule, symbolic=False)


def loss(W, b, X):
    h = np.tanh(X @ W + b + OFFSET)
    return SCALE * np.sum(cube(h)) + math.pi


def uses_huge(x):
    return np.sum(x * HUGE)
"""


def test_export_writes_helpers_constants_and_user_functions(capsys, tmp_path):
    path = write(tmp_path, EXPORTED, "exported_source.py")
    module = cli.load_module(path)
    out = tmp_path / "loss_grad.py"
    assert main(capsys, "export", path + ":loss", "--wrt", "W,b", "-o", str(out))[0] == 0
    text = out.read_text()
    for needed in (
        "def unbroadcast(",
        "def matmul_grad_right(",
        "SCALE = 2.5",
        "OFFSET = np.array(",
        "def cube(",
    ):
        assert needed in text
    assert "import math" in text and "HUGE" not in text and "defvjp" not in text
    rng = np.random.default_rng(1)
    W, b, X = rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal((4, 2))
    result = call_exported(out, "grad_loss", [W, b, X], tmp_path)
    dW, db = sct.grad(module.loss, wrt=(0, 1))(W, b, X)
    assert result["loaded"] == []
    np.testing.assert_allclose(result["grads"][0], dW, rtol=1e-12)
    np.testing.assert_allclose(result["grads"][1], db, rtol=1e-12)


def test_export_a_loop(capsys, tmp_path):
    rnn = cli.load_module(str(ROOT / "examples" / "rnn.py"))
    out = tmp_path / "rnn_grad.py"
    code, _, err = main(
        capsys, "export", str(ROOT / "examples" / "rnn.py") + ":loss", "--wrt", "0,1,2,3", "-o", str(out)
    )
    assert code == 0, err
    rng = np.random.default_rng(2)
    xs = rng.uniform(-0.5, 0.5, size=(4, 5))
    args = [
        rng.standard_normal(3),
        rng.standard_normal((3, 3)),
        rng.standard_normal(3),
        rng.standard_normal(3),
    ]
    args += [xs, xs.sum(axis=1)]
    result = call_exported(out, "grad_loss", args, tmp_path)
    expected = sct.grad(rnn.loss, wrt=(0, 1, 2, 3))(*args)
    assert result["loaded"] == []
    for got, want in zip(result["grads"], expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_export_refuses_what_it_cannot_write(capsys, tmp_path):
    path = write(tmp_path, EXPORTED, "refused_source.py")
    code, _, err = main(capsys, "export", path + ":uses_huge", "-o", str(tmp_path / "x.py"))
    assert_user_error(code, err, "'HUGE'", "5000 elements", "as an argument")
    assert not (tmp_path / "x.py").exists()


def test_export_refuses_a_helper_whose_file_changed_after_import(tmp_path):
    helper = tmp_path / "edited_helper.py"
    helper.write_text("def cube(x):\n    return x * x * x\n\n\ndef cube_rule(g, ans, x):\n    return g * 3.0 * x * x\n")
    module = cli.load_module(str(helper))
    defvjp(module.cube, module.cube_rule, symbolic=False)  # the export writes the rule's source
    user = write(tmp_path, "def f(x):\n    return cube(x) * 2.0\n", "edits.py")
    sys.path.insert(0, str(tmp_path))
    try:
        fn = cli.load_module(user).f
        fn.__globals__["cube"] = module.cube
        assert "def cube_rule(" in export_source(fn)
        helper.write_text("# a line added on top\n\n\n\ndef square(x):\n    return x * x\n")  # edited after the import
        linecache.checkcache(str(helper))
        with pytest.raises(sct.SctError, match="no longer matches the running function"):
            export_source(fn)
    finally:
        sys.path.remove(str(tmp_path))


def test_export_refuses_to_overwrite_without_force(capsys, tmp_path):
    out = tmp_path / "exists.py"
    out.write_text("keep me\n")
    code, _, err = main(capsys, "export", SEED + ":f", "-o", str(out))
    assert_user_error(code, err, "exists", "--force")
    assert out.read_text() == "keep me\n"
    assert main(capsys, "export", SEED + ":f", "-o", str(out), "--force")[0] == 0
    assert "def grad_f(" in out.read_text()


def test_export_to_stdout_is_the_same_module(capsys, tmp_path):
    out = tmp_path / "same.py"
    main(capsys, "export", SEED + ":f", "-o", str(out))
    code, text, _ = main(capsys, "export", SEED + ":f", "-o", "-")
    assert code == 0 and text.replace("-o -", f"-o {out}") == out.read_text()


def test_export_bad_input(capsys, bad, tmp_path):
    assert_user_error(*main(capsys, "export", bad + ":two_problems", "-o", str(tmp_path / "o.py"))[::2], "2 problems")
    assert main(capsys, "export", SEED + ":f")[0] == 2  # -o is required
