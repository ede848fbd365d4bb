"""Show what runs: ``.source`` is the variant of the last call; ``sct.source(args=, generic=)``,
``sct dump --args/--generic`` and ``sct export --args`` choose one; each listing says which it is."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import api, pipeline
from sct.backend import codegen, dispatch
from sct.cli import commands as cli

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "examples" / "seed.py")


def plain(x, y):
    return np.sum(np.sin(x) * y + x**2)


def annotated(x: float, y: float):
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)


def half_annotated(x: float, w):
    return np.sum(np.tanh(w * x))


def run_listing(text, fn, variant, *args):
    """Compile a listing as the generated code is compiled (np, helpers, the user's globals) and call it."""
    name = text.split("(", 1)[0][len("def ") :]
    scope = {**fn.__globals__, **codegen.namespace(fn.__globals__, variant.helpers)}
    exec(compile(text, "<listing>", "exec"), scope)
    return scope[name](*args)


def central(fn, args, i, eps=1e-6):
    """d fn / d args[i] by central differences (float or array argument)."""
    x = np.asarray(args[i], dtype=float)
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[k] = eps
        lo, hi = list(args), list(args)
        lo[i], hi[i] = (x - step, x + step) if x.ndim else (float(x - step), float(x + step))
        out[k] = (fn(*hi) - fn(*lo)) / (2 * eps)
    return out if x.ndim else float(out)


# ---- .source --------------------------------------------------------------------------------
def test_after_a_float_call_source_is_the_float_variant_and_it_computes_the_gradient():
    g = sct.grad(plain, wrt=(0, 1))
    before = g.source
    grads = g(0.3, 1.7)
    ran = g._variants[api.signature((0.3, 1.7))]  # the code the call ran
    text = g.source
    assert text != before
    assert text.splitlines()[1] == "    # variant for x: float, y: float"
    assert text.split("\n", 2)[2] == ran.source.split("\n", 1)[1]  # the same code, under its header
    assert text == sct.source(plain, wrt=(0, 1), args=(0.3, 1.7))
    assert run_listing(text, plain, ran, 0.3, 1.7) == grads  # the listing compiles and gives the gradient
    assert grads == pytest.approx((central(plain, (0.3, 1.7), 0), central(plain, (0.3, 1.7), 1)), rel=1e-6)


def test_source_follows_the_last_call_through_the_dispatcher():
    g = sct.grad(plain)
    calls = [
        ((0.5, 2.0), "x: float, y: float"),
        ((np.ones(3), 2.0), "x: 1-d float array, y: float"),
        ((np.ones((2, 2)), np.ones(2)), "x: 2-d float array, y: 1-d float array; where x.shape[1] == y.shape[0]"),
        ((np.float64(0.5), 2.0), "x: NumPy float or 0-d array, y: float"),
    ]
    for _ in range(3):  # the general path first, then the dispatcher's branches
        for args, kinds in calls + calls[::-1]:
            g(*args)
            assert g.source.splitlines()[1] == f"    # variant for {kinds}"
    assert dispatch.ran_cell(g._call) is not None


def test_while_calls_share_one_signature_the_dispatcher_records_nothing():
    g = sct.grad(plain)
    for _ in range(3):
        g(np.ones(2), 0.5)
    assert g._call != g._general and dispatch.ran_cell(g._call) is None  # the fast path as it was
    assert "variant for x: 1-d float array, y: float" in g.source
    g(0.5, 0.5)  # another signature: from now on each branch says it ran
    g(np.ones(2), 0.5)
    assert dispatch.ran_cell(g._call) is not None
    assert "variant for x: 1-d float array, y: float" in g.source


def test_annotations_select_the_float_variant_before_any_call():
    g = sct.grad(annotated, wrt=(0, 1))
    before = g.source
    assert before.splitlines()[1] == "    # variant for x: float, y: float"
    assert before == sct.source(annotated, wrt=(0, 1))  # what sct dump prints
    grads = g(1.5, 2.0)
    assert g.source == before  # the call ran the code shown
    ran = g._variants[api.signature((1.5, 2.0))]
    assert run_listing(before, annotated, ran, 1.5, 2.0) == grads
    expected = (central(annotated, (1.5, 2.0), 0), central(annotated, (1.5, 2.0), 1))
    assert grads == pytest.approx(expected, rel=1e-6)


def test_partly_annotated_before_a_call_is_float_for_the_annotated_only():
    head = sct.grad(half_annotated, wrt=1).source.splitlines()[1]
    assert head == "    # variant for x: float, w: any array or number"


def test_generic_is_the_generic_variant():
    generic = sct.source(annotated, wrt=(0, 1), generic=True)
    assert generic != sct.source(annotated, wrt=(0, 1))
    assert generic.splitlines()[1] == "    # generic variant, for x: any scalar, y: any scalar"
    assert "delta_out" in generic.split("# backward")[1]  # seeded by delta_out
    assert generic.endswith("return (out, (delta_x, delta_y))")  # the value and the gradients
    # unannotated: before any call, .source is the generic variant
    assert sct.grad(plain, wrt=(0, 1)).source == sct.source(plain, wrt=(0, 1), generic=True)
    head = sct.source(plain, generic=True).splitlines()[1]
    assert head == "    # generic variant, for arrays and numbers of any shape"
    # the generic variant is right for any shape: run it on arrays and on floats
    variant = pipeline.compiled(plain, [0], api._annotated_signature(plain), many=False)
    for args in [(np.array([0.2, -1.0]), 0.5), (0.2, np.array([0.5, 2.0]))]:
        value, grad = run_listing(sct.source(plain, generic=True), plain, variant, *args)
        assert value == pytest.approx(plain(*args))
        assert np.allclose(grad, central(plain, args, 0), rtol=1e-6)


def test_value_and_grad_source_returns_the_value():
    vg = sct.value_and_grad(plain)
    value, grad = vg(0.4, 2.0)
    text = vg.source
    assert text.splitlines()[1] == "    # variant for x: float, y: float"
    ran = vg._variants[api.signature((0.4, 2.0))]
    assert run_listing(text, plain, ran, 0.4, 2.0) == (value, grad)


def test_source_args_fills_defaults_and_refuses_what_a_call_refuses():
    def scaled(x, k=2.0):
        return np.sum(x * k)

    assert sct.source(scaled, args=(np.ones(2),)) == sct.source(scaled, args=(np.ones(2), 2.0))
    with pytest.raises(sct.SctError, match="integer"):
        sct.source(plain, args=(1, 2.0))
    with pytest.raises(sct.SctError, match="not both"):
        sct.source(plain, args=(1.0, 2.0), generic=True)
    with pytest.raises(sct.SctError, match="tuple"):
        sct.source(plain, args=1.0)


def test_forward_mode_has_variants_too():
    args = (np.array([0.3, -0.2]), 1.5)
    text = sct.source(plain, mode="forward", args=args)
    assert text.splitlines()[1] == "    # variant for x: 1-d float array, y: float"
    assert "unbroadcast" not in text
    assert sct.source(annotated, mode="forward").splitlines()[1] == "    # variant for x: float, y: float"
    forward = sct.source(plain, mode="forward", generic=True)
    assert forward.splitlines()[1] == "    # generic variant, for arrays and numbers of any shape"
    variant = pipeline.compiled(plain, [0], api.signature(args), mode="forward")
    tangent = np.array([1.0, -2.0])
    out, dot = run_listing(text, plain, variant, *args, tangent)
    assert (out, dot) == sct.jvp(plain, args, (tangent, 0.0))
    assert dot == pytest.approx(np.dot(central(plain, args, 0), tangent), rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([0, 1, 2]), st.sampled_from([0, 1]), st.integers(1, 3))
def test_any_call_shows_the_code_it_ran(rank_x, rank_y, n):
    x = 0.7 if rank_x == 0 else np.linspace(-1.0, 1.0, n**rank_x).reshape((n,) * rank_x)
    y = 1.3 if rank_y == 0 else np.linspace(0.5, 1.5, n)
    g = sct.grad(plain, wrt=(0, 1))
    grads = g(x, y)
    ran = g.variant_for((x, y))  # the variant for their signature whose facts hold
    shown = run_listing(g.source, plain, ran, x, y)
    assert all(np.array_equal(a, b) and type(a) is type(b) for a, b in zip(shown, grads, strict=True))


# ---- sct dump --args / --generic ---------------------------------------------------------------
def dump(capsys, *argv):
    code = cli.main(["dump", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dump_args_and_generic(capsys):
    f = cli.load(SEED + ":f")
    code, out, err = dump(capsys, SEED + ":f", "--wrt", "x,y", "--args", "np.ones(3), 2.0")
    assert code == 0 and err == ""
    assert out == sct.source(f, wrt=("x", "y"), args=(np.ones(3), 2.0)) + "\n"
    assert out.splitlines()[1] == "    # variant for x: 1-d float array, y: float"
    code, out, _ = dump(capsys, SEED + ":f", "--generic")
    assert code == 0 and out == sct.source(f, generic=True) + "\n"
    assert "# generic variant" in out
    code, out, _ = dump(capsys, SEED + ":f", "--args", "1.5, 2.0")
    default = dump(capsys, SEED + ":f")[1]
    assert code == 0 and out == default == sct.grad(f).source + "\n"  # annotated: the float variant


def test_dump_args_forward(capsys):
    code, out, _ = dump(capsys, SEED + ":f", "--mode", "forward", "--args", "[1.0, 2.0], 3.0")
    assert code == 0 and "# variant for x: 1-d float array, y: float" in out and "def jvp_f(" in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--args", "1, 2.0"], "integer"),
        (["--args", "[1.0"], "never closed"),
        (["--args", "1.0"], "no value for parameter 'y'"),
    ],
)
def test_dump_bad_args(capsys, argv, fragment):
    code, out, err = dump(capsys, SEED + ":f", *argv)
    assert code == 2 and out == "" and err.startswith("sct: ") and fragment in err and "Traceback" not in err


def test_dump_args_and_generic_exclude_each_other(capsys):
    code, _, err = dump(capsys, SEED + ":f", "--args", "1.0, 2.0", "--generic")
    assert code == 2 and "not allowed" in err


# ---- sct export --args -------------------------------------------------------------------------
CALL = """\
import importlib.util, json, sys
sys.modules["sct"] = None  # `import sct` now fails
import numpy as np
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
args = [np.asarray(a) if isinstance(a, list) else a for a in json.loads(sys.argv[2])]
grads = module.gradient(*args)
try:
    module.gradient(*[np.ones(4) for a in args])
    refused = ""
except TypeError as exc:
    refused = str(exc)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sct", "gast") and sys.modules[m] is not None)
as_list = lambda g: [np.asarray(x).tolist() for x in g] if isinstance(g, tuple) else np.asarray(g).tolist()
print(json.dumps({"grads": as_list(grads), "loaded": loaded, "refused": refused}))
"""


def call_exported(path, args, tmp_path):
    script = tmp_path / "call.py"
    script.write_text(CALL)
    payload = json.dumps([np.asarray(a).tolist() if isinstance(a, np.ndarray) else a for a in args])
    done = subprocess.run(
        [sys.executable, "-I", str(script), str(path), payload], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


MODEL = """\
import numpy as np


def loss(w, x, y: float):
    return np.sum((np.tanh(x @ w) - y) ** 2) + 0.5 * y ** 2
"""


def test_export_args_writes_the_specialised_variant(capsys, tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    out = tmp_path / "loss_grad.py"
    argv = ["export", f"{tmp_path / 'model.py'}:loss", "--wrt", "w,y", "-o", str(out)]
    argv += ["--args", "np.array([0.5, -0.3]), np.array([[1.0, 2.0], [0.5, -1.0], [0.1, 0.2]]), 0.7"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    text = out.read_text()
    assert "This is the variant for w: 1-d float array, x: 2-d float array, y: float" in text
    assert "# variant for w: 1-d float array, x: 2-d float array, y: float" in text
    assert "unbroadcast" not in text  # the shapes are known
    imports = sorted(line for line in text.splitlines() if line.startswith(("import ", "from ")))
    assert set(imports) <= {"import numpy as np", "import math"}
    w, x, y = np.array([0.5, -0.3]), np.array([[1.0, 2.0], [0.5, -1.0], [0.1, 0.2]]), 0.7
    result = call_exported(out, [w, x, y], tmp_path)
    assert result["loaded"] == []
    assert result["refused"].startswith("grad_loss was made for w: 1-d float array")
    model = cli.load_module(str(tmp_path / "model.py"))
    dw, dy = result["grads"]
    assert np.allclose(dw, central(model.loss, (w, x, y), 0), rtol=1e-6)
    assert dy == pytest.approx(central(model.loss, (w, x, y), 2), rel=1e-6)


def test_export_without_args_is_the_generic_variant(capsys):
    code = cli.main(["export", SEED + ":f", "-o", "-"])
    out = capsys.readouterr().out
    assert code == 0 and "This is the generic variant" in out and "# generic variant" in out
    assert "raise TypeError" not in out


def test_export_args_refuses_containers(capsys, tmp_path):
    path = tmp_path / "listy.py"
    path.write_text(
        textwrap.dedent("""\
        def total(xs):
            return xs[0] * xs[1]
        """)
    )
    code = cli.main(["export", f"{path}:total", "--args", "[1.0, 2.0], ", "-o", "-"])
    assert code == 0  # a list of floats is read as an array
    capsys.readouterr()
    code = cli.main(["export", f"{path}:total", "--args", "(1.0, 2.0)", "-o", "-"])
    err = capsys.readouterr().err
    assert code == 2 and "export without --args" in err and "Traceback" not in err


class Model:
    def __init__(self, w):
        self.w = w

    @sct.grad
    def loss(self, x):
        return np.sum(self.w * x**2 + np.sin(x))


def test_a_method_shows_its_last_call():
    m = Model(2.0)
    assert "generic variant" in m.loss.source
    assert m.loss(0.5) == pytest.approx(2.0 + np.cos(0.5))
    assert m.loss.source.splitlines()[1] == "    # variant for self: Model object, x: float"  # obj.loss: a new object
    g = m.loss
    g(np.ones(2))
    g(np.ones(2))
    assert g.source.splitlines()[1] == "    # variant for self: Model object, x: 1-d float array"


def test_the_header_is_one_comment_line_whatever_a_class_is_called():
    Crafted = type("Crafted\nimport os; os.system('x')", (), {"w": 2.0})

    def scaled(obj, x):
        return obj.w * x

    text = sct.source(scaled, wrt=1, args=(Crafted(), 1.5))
    head = text.splitlines()[1]
    assert head.startswith("    # variant for obj: Crafted import os") and "\nimport os" not in text
