"""``backend="numba"`` (sct.backend.native) and ``sct export --numba``.

The numba gradient equals the Python one bit for bit (the same operations, the
same libm: powers through libm's pow, and NumPy functions numba computes otherwise
refused), and central differences; what numba cannot compile is refused with
the generated line and the user's line; where machine code and Python differ
(Python raises, machine code gives inf or nan) the Python variant answers.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from benchmarks import workloads
from sct import NumbaUnsupportedError
from sct.backend.native import numba_source
from tests.conftest import assert_grads_match
from tests.programs import load
from tests.test_checkpoint import loop_programs

numba = pytest.importorskip("numba")


def long_loop(x, a, n):
    s = 0.0
    for i in range(n):
        if x > 0.0:
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
        s = s + x * 0.001 * i
    return x * x + s


def stepped(x, n):
    for i in range(3, n, 2):
        x = math.tanh(x * 1.3) + 0.01 * i
    return x


def nested(x, n):
    s = 0.0
    for i in range(n):
        for j in range(4):
            s = s + math.sin(x * j + s * 0.1)
    return s


def early(x):
    while x < 50.0:
        x = x * x + 0.5
        if x > 30.0:
            break
    return x


def _close(a, b):
    """Bit for bit: the numba backend computes Python's values."""
    assert a == b if not isinstance(a, np.ndarray) else np.array_equal(a, b), (a, b)


@pytest.mark.parametrize("name", ["loop", "chain"])
def test_workloads_equal_python(name):
    w = workloads.BY_NAME[name]
    args = w.make_args()
    fast = sct.grad(w.f, wrt=w.wrt, backend="numba")
    _close(fast(*args), sct.grad(w.f, wrt=w.wrt)(*args))
    np.testing.assert_allclose(fast(*args), w.hand_grad(*args), rtol=1e-12)
    value, grads = sct.value_and_grad(w.f, wrt=w.wrt, backend="numba")(*args)
    assert value == w.f(*args)
    _close(grads, fast(*args))


@pytest.mark.parametrize(
    "fn, args, wrt",
    [
        (long_loop, (0.5, 0.8, 300), (0, 1)),
        (long_loop, (-0.4, 0.9, 0), (0, 1)),
        (stepped, (0.2, 40), (0,)),
        (nested, (0.3, 20), (0,)),
        (early, (1.1,), (0,)),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_loops_equal_python_and_central_differences(fn, args, wrt):
    fast = sct.grad(fn, wrt=wrt, backend="numba")(*args)
    _close(fast, sct.grad(fn, wrt=wrt)(*args))
    grads = fast if isinstance(fast, tuple) else (fast,)
    assert_grads_match(lambda *v: fn(*v, *args[len(wrt) :]), args[: len(wrt)], grads)


def test_long_loop_and_checkpoints():
    fast = sct.grad(long_loop, wrt=(0, 1), backend="numba")
    both = sct.grad(long_loop, wrt=(0, 1), backend="numba", checkpoint=True)
    _close(fast(0.5, 0.8, 100_000), sct.grad(long_loop, wrt=(0, 1))(0.5, 0.8, 100_000))
    assert both(0.5, 0.8, 100_000) == fast(0.5, 0.8, 100_000)


def test_the_code_numba_runs_has_no_reversed():
    text = numba_source(sct.grad(workloads.loop, wrt=(0, 1)).source)
    assert "reversed" not in text and "for _k in range(len(x_stack) - 1, -1, -1):" in text
    zipped = (
        "def g(r, g_stack):\n    y = []\n    for i, g in zip(reversed(range(2, r, 3)), reversed(g_stack)):\n"
        "        y.append((i, g))\n    return y"
    )
    ns = {}
    exec(numba_source(zipped), ns)  # the rewrite walks the same items as the original
    exec(zipped, ns_orig := {})
    for r in (0, 2, 3, 10, 11):
        stack = list(range(len(range(2, r, 3)) + 1))  # one longer: zip pairs them from their ends
        assert ns["g"](r, stack) == ns_orig["g"](r, stack)


def with_dict(x, d):
    return x * x


def seed_exp(x, y):
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)


def with_hypot(x):
    return math.hypot(x, 2.0) * x


def powers(x, n):
    s = 0.0
    for i in range(n):
        s = s + x**2 + x**3 + x**-1 + x**0.5 + (x * 0.1 + 1.0) ** 7
        x = x * 1.0001 + 0.001
    return s


def test_powers_as_python_computes_them():
    """numba's ``x ** 3`` multiplies out, and LLVM makes ``x ** 2.0`` ``x * x``: both round differently
    from Python's (libm's ``pow``) for some x. The numba backend calls libm's ``pow``: bit for bit."""
    fast, plain = sct.value_and_grad(powers, backend="numba"), sct.value_and_grad(powers)
    for x in np.random.default_rng(1).uniform(0.1, 4.0, 200):
        assert fast(float(x), 20) == plain(float(x), 20)
    assert "sct_pow(x, 2)" in numba_source(sct.grad(powers).source)


def with_clip(x):
    y = x * 2.0
    return np.clip(y, 0.0, 1.0) * x


@pytest.mark.parametrize(
    "fn, args, line, words",
    [
        (with_dict, (0.5, {"a": 2.0}), "def with_dict", "pyobject"),
        (with_clip, (0.3,), "return np.clip(y, 0.0, 1.0) * x", "calls np.clip"),
        (seed_exp, (0.7, 1.3), "return (x + 1.0 / (1.0 + np.exp(-y)))", "calls np.exp"),
        (with_hypot, (1.7,), "return math.hypot(x, 2.0) * x", "calls math.hypot"),
    ],
)
def test_unsupported_constructs_name_both_lines(fn, args, line, words):
    with pytest.raises(NumbaUnsupportedError) as err:
        sct.grad(fn, backend="numba")(*args)
    message = str(err.value)
    assert "line " in message and "of the generated code" in message and words in message
    assert err.value.filename.endswith("test_numba.py") and line in err.value.source_line
    assert isinstance(err.value, sct.UnsupportedSyntaxError)


def divide(x):
    return 1.0 / x


def overflow(x):
    return math.exp(x * x)


def test_where_machine_code_and_python_differ_python_answers():
    with pytest.raises(ZeroDivisionError):
        sct.grad(divide)(0.0)  # Python raises...
    with pytest.raises(ZeroDivisionError):
        sct.grad(divide, backend="numba")(0.0)  # ...and so does the numba backend (not inf)
    for backend in (None, "numba"):  # machine code gives inf; Python raises
        with pytest.raises(OverflowError):
            sct.grad(overflow, backend=backend)(30.0)


TRIPS = 2


def uses_global(x):
    for _ in range(TRIPS):
        x = math.sin(x) * 1.5
    return x


def test_a_changed_global_is_seen():
    """numba freezes the module's numbers when it compiles; sct checks them on each call."""
    global TRIPS
    g = sct.grad(uses_global, backend="numba")
    two = g(0.3)
    assert two == sct.grad(uses_global)(0.3)
    TRIPS = 5
    try:
        assert g(0.3) == sct.grad(uses_global)(0.3) != two
    finally:
        TRIPS = 2


def test_bad_backend():
    with pytest.raises(sct.SctError, match="backend='jax'"):
        sct.grad(long_loop, backend="jax")


def test_backend_variants_are_kept_apart():
    plain, fast = sct.grad(stepped), sct.grad(stepped, backend="numba")
    plain(0.2, 10), fast(0.2, 10), plain(0.2, 10), fast(0.2, 10)  # the dispatchers are made
    assert not isinstance(fast._variants[next(iter(fast._variants))].function, type(stepped))
    assert isinstance(plain._variants[next(iter(plain._variants))].function, type(stepped))


def test_pickles():
    import pickle

    g = pickle.loads(pickle.dumps(sct.grad(stepped, backend="numba")))
    assert g.options["backend"] == "numba" and g(0.2, 10) == sct.grad(stepped)(0.2, 10)


EXPORTED = """import math


def loop(x: float, a: float, n: int):
    for _ in range(n):
        if x > 0.0:
            x = x * a - 0.3 + 0.1 * math.sin(x)
        else:
            x = x * 1.01 + 0.2
    return x * x


def untyped(x):
    return math.sin(x) * x
"""


def test_export_numba(tmp_path):
    module = load(EXPORTED, name=None)
    source = tmp_path / "m.py"
    source.write_text(EXPORTED)
    out = tmp_path / "loop_grad.py"
    run = [sys.executable, "-m", "sct", "export", f"{source}:loop", "--wrt", "x,a", "--numba", "-o", str(out)]
    subprocess.run(run, check=True, capture_output=True)
    text = out.read_text()
    assert "@numba.njit" in text and "import numba" in text and "reversed" not in text and "import sct" not in text
    exported = load(text, name=None)
    assert isinstance(exported.grad_loop, numba.core.registry.CPUDispatcher)
    _close(exported.gradient(0.5, 0.8, 200), sct.grad(module.loop, wrt=(0, 1))(0.5, 0.8, 200))
    bad = subprocess.run(
        [sys.executable, "-m", "sct", "export", f"{source}:untyped", "--numba", "-o", "-"], capture_output=True
    )
    assert bad.returncode == 2 and b"numba cannot compile" in bad.stderr and b"annotate" in bad.stderr


@settings(max_examples=6)  # numba compiles each program: a second or so apiece
@given(loop_programs(), st.integers(0, 30), st.floats(-1.0, 1.0), st.floats(0.5, 1.2))
def test_random_loop_programs_equal_python(text, n, x, a):
    f = load(text)
    try:
        expected = sct.grad(f, wrt=(0, 1))(x, a, n)
    except (ZeroDivisionError, OverflowError, ValueError):
        return
    _close(sct.grad(f, wrt=(0, 1), backend="numba")(x, a, n), expected)


def test_source_of_a_numba_gradient():
    """``.source`` shows the code (shape-generic, which numba would refuse), without compiling it."""
    assert "def grad_with_clip" in sct.grad(with_clip, backend="numba").source


def test_a_numba_gradient_differentiated_again():
    """The outer gradient differentiates the inner one's code (numba only runs it). Under numba the
    second-order code's records are containers (``appended``), which numba cannot compile: refused."""
    inner = sct.grad(stepped, backend="numba")
    assert sct.grad(inner)(0.2, 12) == sct.grad(sct.grad(stepped))(0.2, 12)
    with pytest.raises(NumbaUnsupportedError, match="appended"):
        sct.grad(inner, backend="numba")(0.2, 12)
