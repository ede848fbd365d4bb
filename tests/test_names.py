"""Names mean what Python says they mean (issue 12, section 4).

* Generated code calls builtins the user never wrote (``range(len(xs))`` for
  ``for v in xs``, ``float(...)``, ``zip``, ``reversed``, ``min``): they mean the
  builtins whatever the user's module or function binds to those names, and the
  user's own uses of such names still mean the user's objects.
* A function wrapped by a ``functools.wraps`` decorator is refused, not silently
  differentiated as its undecorated body.
* A compiled variant never runs stale code: changed ``__defaults__`` /
  ``__kwdefaults__`` recompile; a source file edited after import is refused.

Every function is written to a real file (tests/programs.load) and its value is
compared with what Python computes, its gradient with central differences.
"""

import linecache
import os
from pathlib import Path

import numpy as np
import programs as P
import pytest
from conftest import numeric_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct.cli import commands as cli
from sct.export import export_source

XS = [1.0, 2.0, 3.0]

# (module source defining f, arguments); f's first argument is differentiated by.
SHADOWED = {
    "global len lambda": (
        "len = lambda v: 1\n\ndef f(xs):\n    s = 0.0\n    for v in xs:\n        s = s + v * v\n    return s\n",
        (XS,),
    ),
    "global range function": (
        "def range(*a):\n    return [0]\n\n\ndef f(xs):\n    s = 0.0\n    for v in xs:\n        s = s + v * v\n"
        "    return s\n",
        (np.array(XS),),
    ),
    "global float = np.float32": (
        "import numpy as np\n\nfloat = np.float32\n\n\ndef f(x, xs):\n    s = x * x\n    for v in xs:\n"
        "        s = s + np.sin(v) * x\n    return s / 3.0\n",
        (1.1, XS),
    ),
    "global min (zip loops take the shorter length)": (
        "min = lambda *a: 1\n\n\ndef f(x, ys):\n    s = 0.0\n    for a, b in zip(x, ys):\n        s = s + a * b\n"
        "    return s\n",
        (XS, [1.0, 2.0, 3.0]),
    ),
    "global zip and reversed (the reverse sweep's loops)": (
        "import numpy as np\n\nzip = lambda *a: []\nreversed = lambda v: v[:1]\n\n\ndef f(x):\n    s = x\n    t = x\n"
        "    for k in [1.0, 2.0, 3.0]:\n        s = np.sin(s) * t\n        t = t * s\n    return s + t\n",
        (0.9,),
    ),
    "local len after a loop": (
        "def f(xs):\n    s = 0.0\n    for v in xs:\n        s = s + v * v\n    len = 2.0\n    return s * len\n",
        (XS,),
    ),
    "parameter named len": (
        "def f(xs, len):\n    s = 0.0\n    for v in xs:\n        s = s + v * v\n    return s * len\n",
        (XS, 2.0),
    ),
    "parameter named float": (
        "import numpy as np\n\n\ndef f(float, xs):\n    s = float * float\n    for v in xs:\n"
        "        s = s + np.cos(v) * float\n    return s\n",
        (0.7, XS),
    ),
    "user calls their own len": (
        "def len(v):\n    return 2.0\n\n\ndef f(xs):\n    s = 0.0\n    for v in xs:\n        s = s + v * v\n"
        "    return s * len(xs)\n",
        (XS,),
    ),
    "user calls their own lambda min": (
        "min = lambda a, b: a * b\n\n\ndef f(x, ys):\n    s = 0.0\n    for a, b in zip(x, ys):\n"
        "        s = s + min(a, b)\n    return s\n",
        (XS, [4.0, 5.0]),
    ),
    "local named like a helper": (
        "import numpy as np\n\n\ndef f(x):\n    unbroadcast = x * 2.0\n    zeros_like = np.sum(unbroadcast * x)\n"
        "    return zeros_like\n",
        (np.array(XS),),
    ),
    "local named np": (
        "import numpy\n\n\ndef f(x):\n    np = 3.0\n    y = numpy.sin(x) * np\n    return numpy.sum(y * x)\n",
        (np.array(XS),),
    ),
}


def _python_value(f, args):
    return f(*[list(a) if isinstance(a, list) else a for a in args])


def _like(arg, values):
    """``values`` in the structure of ``arg``: a float, a list of floats or an array."""
    if isinstance(arg, float):
        return float(values[0])
    return [float(v) for v in values] if isinstance(arg, list) else np.asarray(values)


def _check_gradient(f, args, grad):
    """``grad`` (by the first argument) against central differences and forward mode."""
    expected = numeric_grad(lambda *a: _python_value(f, a), args, 0)
    np.testing.assert_allclose(np.asarray(grad, dtype=float), expected, rtol=1e-6, atol=1e-8)
    tangent = np.linspace(0.5, 1.5, np.size(args[0]))
    tangents = [_like(a, tangent) for a in args[:1]] + [_like(a, 0.0 * np.ones(np.size(a))) for a in args[1:]]
    _, dot = sct.jvp(f, args, tuple(tangents))
    assert dot == pytest.approx(float(np.dot(np.ravel(grad), tangent)), rel=1e-9)


@pytest.mark.parametrize("case", sorted(SHADOWED))
def test_shadowed_builtins_value_and_gradient(case):
    source, args = SHADOWED[case]
    f = P.load(source)
    expected = _python_value(f, args)
    value, grad = sct.value_and_grad(f)(*args)
    assert value == pytest.approx(expected, rel=1e-12)
    _check_gradient(f, args, grad)
    assert sct.grad(f)(*args) == pytest.approx(grad)
    out, vjp_fn = sct.vjp(f, *args)
    assert out == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(np.asarray(vjp_fn(1.0)[0], dtype=float), np.asarray(grad, dtype=float))


@pytest.mark.parametrize("case", sorted(SHADOWED))
def test_shadowed_builtins_exported(case):
    """The exported module (run in a namespace of its own) gives what sct.grad gives."""
    source, args = SHADOWED[case]
    f = P.load(source)
    text = export_source(f, 0)
    module = {"__name__": "exported"}
    exec(compile(text, "<exported>", "exec"), module)
    value, grad = module["grad_f"](*args)
    assert value == pytest.approx(_python_value(f, args), rel=1e-12)
    np.testing.assert_allclose(np.asarray(grad, dtype=float), np.asarray(sct.grad(f)(*args), dtype=float))


def test_unshadowed_code_keeps_plain_builtin_names():
    f = P.load("def f(xs):\n    s = 0.0\n    for v in xs:\n        s = s + v * v\n    return s\n")
    g = sct.grad(f)
    g(XS)
    assert "range(len(xs))" in g.source


def test_shadowing_global_rebound_after_the_first_call_is_seen():
    """A global renamed by sct is bound into the generated code: rebinding it must recompile."""
    module = P.load("scale = 2.0\nmin = 3.0\n\n\ndef f(x):\n    return x * min\n", name=None)
    g = sct.grad(module.f)
    assert g(1.0) == 3.0
    module.min = 5.0
    assert module.f(1.0) == 5.0
    assert g(1.0) == 5.0


# ---- functools.wraps decorators -------------------------------------------------------------
DECORATED = """import functools

import numpy as np


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 2.0 * fn(*args, **kwargs)

    return wrapper


def squashed(fn):
    @functools.wraps(fn)
    def wrapper(x, y):
        return np.tanh(fn(2.0 * x, y))

    return wrapper


@doubled
def f(x):
    return x * x


def calls_f(x):
    return f(x) + 1.0


@squashed
def h(x, y):
    return x * y + x * x


def calls_h(x, y):
    return h(x, y) * 3.0


@functools.lru_cache
def cached(x):
    return x * x * x
"""


@pytest.mark.parametrize("name", ["f", "calls_f"])
def test_wrapper_with_star_args_is_refused_naming_the_decorator(name):
    module = P.load(DECORATED, name=None)
    with pytest.raises(sct.UnsupportedSyntaxError) as info:
        sct.grad(getattr(module, name))(1.5)
    err = info.value
    assert "`doubled`" in str(err) and "f.__wrapped__" in str(err)
    assert err.lineno == 22 and err.source_line.strip() == "@doubled"


def test_the_undecorated_function_can_be_differentiated():
    module = P.load(DECORATED, name=None)
    assert sct.grad(module.f.__wrapped__)(1.5) == pytest.approx(3.0)


@pytest.mark.parametrize("name", ["h", "calls_h"])
def test_wrapper_with_plain_parameters_is_what_is_differentiated(name):
    fn = getattr(P.load(DECORATED, name=None), name)
    value, (gx, gy) = sct.value_and_grad(fn, wrt=(0, 1))(0.3, 0.4)
    assert value == pytest.approx(fn(0.3, 0.4), rel=1e-12)
    sct.check_grads(fn, (0.3, 0.4), modes=("fwd", "rev"), order=2)
    assert sct.grad(fn, wrt="y")(0.3, 0.4) == pytest.approx(gy)
    _check_gradient(fn, (0.3, 0.4), gx)


def test_functools_cache_is_seen_through():
    fn = P.load(DECORATED, name="cached")
    assert sct.grad(fn)(1.5) == pytest.approx(3 * 1.5**2)


# ---- stale code ------------------------------------------------------------------------------
HELPER_WITH_DEFAULT = (
    "import numpy as np\n\n\ndef h(x, k=2.0):\n    return np.sin(x) * k\n\n\ndef f(x):\n    return h(x) * x\n"
)


@pytest.mark.parametrize("calls", [1, 5])  # 5: the gradient object has built its dispatcher
def test_changed_defaults_of_a_helper_recompile(calls):
    module = P.load(HELPER_WITH_DEFAULT, name=None)
    g, vg = sct.grad(module.f), sct.value_and_grad(module.f)
    for _ in range(calls):
        g(1.5), vg(1.5)
    module.h.__defaults__ = (5.0,)
    value, grad = vg(1.5)
    assert value == pytest.approx(module.f(1.5), rel=1e-12)
    assert g(1.5) == pytest.approx(grad)
    _check_gradient(module.f, (1.5,), grad)


def test_changed_defaults_of_the_differentiated_function_are_used():
    f = P.load("def f(x, k=2.0):\n    return x * x * k\n")
    g = sct.grad(f)
    assert g(1.5) == pytest.approx(6.0)
    f.__defaults__ = (3.0,)
    assert g(1.5) == pytest.approx(9.0)


@pytest.mark.parametrize(
    "before, after",
    [
        ("def f(x):\n    return x * x * 2.0\n", "def f(x):\n    return x * x * 3.0\n"),
        (
            "import numpy as np\n\n\ndef f(x):\n    return np.sin(x)\n",
            "import numpy as np\n\n\ndef f(x):\n    return np.tan(x)\n",
        ),
        ("f = lambda x: x * 2.0\n", "f = lambda x: x * 4.0\n"),
        (  # the same names and numbers, one line more
            "def f(x):\n    y = x * 2.0\n    return y * x\n",
            "def f(x):\n    y = x * 2.0\n    y = y * x\n    return y * x\n",
        ),
    ],
)
def test_file_edited_after_import_is_refused(before, after):
    f = P.load(before)
    path = Path(f.__code__.co_filename)
    path.write_text(after)
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))  # linecache sees the change
    with pytest.raises(sct.SourceUnavailableError, match="changed after it was imported"):
        sct.grad(f)(1.5)


def test_file_edited_elsewhere_after_import_is_fine():
    """Lines added after the function: its own lines are still the code Python runs."""
    f = P.load("def f(x):\n    return x * x\n")
    path = Path(f.__code__.co_filename)
    path.write_text(path.read_text() + "\n\ndef g(y):\n    return y\n")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
    assert sct.grad(f)(1.5) == pytest.approx(3.0)


def test_source_held_in_linecache_as_notebooks_do():
    """IPython registers each cell's text in linecache under a made-up file name."""
    text = "import numpy as np\n\n\ndef f(x):\n    return np.sin(x) * x\n"
    filename = "<ipython-input-sct-names-1>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace = {}
    exec(compile(text, filename, "exec"), namespace)
    f = namespace["f"]
    assert sct.grad(f)(0.5) == pytest.approx(np.cos(0.5) * 0.5 + np.sin(0.5))


# ---- the command line and messages ------------------------------------------------------------
@pytest.mark.parametrize("case", ["global len lambda", "global float = np.float32", "user calls their own len"])
def test_sct_check_and_export_on_shadowed_builtins(case, tmp_path, capsys):
    source, args = SHADOWED[case]
    path = tmp_path / "user.py"
    path.write_text(source)
    literal = ", ".join(repr(a.tolist() if isinstance(a, np.ndarray) else a) for a in args)
    assert cli.main(["check", f"{path}:f", "--wrt", "0", "--args", literal]) == 0
    out = tmp_path / "exported.py"
    assert cli.main(["export", f"{path}:f", "-o", str(out)]) == 0
    capsys.readouterr()
    module = {"__name__": "exported"}
    exec(compile(out.read_text(), str(out), "exec"), module)
    f = P.load(source)
    np.testing.assert_allclose(
        np.asarray(module["gradient"](*args), dtype=float), np.asarray(sct.grad(f)(*args), dtype=float)
    )


def test_errors_name_a_renamed_local_as_the_user_wrote_it():
    f = P.load("import numpy as np\n\n\ndef f(x):\n    y = np.sin(x)\n    np = 3.0\n    return np * y\n")
    with pytest.raises(sct.UnsupportedSyntaxError, match="`np` is used before it is assigned"):
        sct.grad(f)(1.0)


def test_second_order_through_shadowed_builtins():
    """grad of grad re-reads generated code, whose closure binds the builtins the module shadows."""
    source = (
        "import numpy as np\n\nfloat = np.float32\nlen = lambda v: 1\nrange = None\n\n\n"
        "def f(x, xs):\n    s = x * x\n    for v in xs:\n        s = s + np.sin(v * x) * x\n    return s / 3.0\n"
    )
    f = P.load(source)
    xs = [1.0, 2.0]
    second = sct.grad(sct.grad(f))(0.7, xs)
    assert second == pytest.approx(sct.hessian(f)(0.7, xs))
    g = sct.grad(f)
    assert second == pytest.approx((g(0.7 + 1e-5, xs) - g(0.7 - 1e-5, xs)) / 2e-5, rel=1e-6)
    sct.check_grads(lambda x: f(x, xs), (0.7,), modes=("fwd", "rev"), order=2)


def test_object_wrapper_with_wrapped_is_refused():
    source = (
        "import functools\n\n\nclass Scaled:\n    def __init__(self, fn):\n        functools.update_wrapper(self, fn)\n"
        "        self.fn = fn\n\n    def __call__(self, x):\n        return 3.0 * self.fn(x)\n\n\n"
        "@Scaled\ndef f(x):\n    return x * x\n"
    )
    f = P.load(source)
    with pytest.raises(sct.UnsupportedSyntaxError, match="is not a plain function"):
        sct.grad(f)(1.5)


# ---- for every name the generated code may use, every way of shadowing it ----------------------
OWN_NAMES = [
    "len", "range", "min", "max", "zip", "reversed", "float", "slice", "type", "isinstance", "abs", "sum",
    "ArithmeticError", "np", "math", "unbroadcast", "zeros_like", "copied",
]  # fmt: skip
SHADOW_KINDS = {  # (module prelude, extra parameter, local statement, the user's use of the name)
    "global function": ("{n} = lambda v: 2.0\n", "", "", "{n}(s)"),
    "global number": ("{n} = 2.0\n", "", "", "{n}"),
    "local": ("", "", "    {n} = 2.0\n", "{n}"),
    "parameter": ("", ", {n}", "", "{n}"),
}


@settings(max_examples=40)
@given(
    st.sampled_from(OWN_NAMES),
    st.sampled_from(sorted(SHADOW_KINDS)),
    st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=4),
    st.floats(0.1, 2.0),
)
def test_any_own_name_shadowed_any_way(own, kind, xs, w):
    prelude, param, local, use = (part.format(n=own) for part in SHADOW_KINDS[kind])
    source = (
        f"import numpy\n\n{prelude}\n\ndef f(xs, w{param}):\n    s = 0.0\n    for v in xs:\n"
        f"        s = s + numpy.sin(v * w)\n{local}    return s * {use}\n"
    )
    f = P.load(source)
    args = (list(xs), w) + ((2.0,) if param else ())
    value, (gxs, gw) = sct.value_and_grad(f, wrt=(0, 1))(*args)
    assert value == pytest.approx(f(*args), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(gxs, numeric_grad(f, args, 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gw, numeric_grad(f, args, 1), rtol=1e-5, atol=1e-7)
