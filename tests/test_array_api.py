"""Gradients on arrays of array API libraries (array_api_strict; PyTorch CPU where installed).

The generated code is NumPy's, written against the arguments' namespace; where it needs a
function outside the standard, compiling raises a BackendError naming it and the namespace.
"""

import numpy as np
import pytest
from conftest import numeric_grad

import sct
from sct.backend.namespaces import BackendError

xps = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")


def mlp(W1, b1, W2, b2, x, y):
    h1 = np.tanh(x @ W1 + b1)
    h2 = 1.0 / (1.0 + np.exp(-(h1 @ W2 + b2)))
    return np.mean((h2 - y) ** 2)


def rnn(Wx, Wh, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t, ...] @ Wx + h @ Wh + b)
    return np.sum(h**2)


def mixed(x, a):
    """Reductions by axis, a Python float, maximum, sqrt, log1p, transpose and broadcasting."""
    s = np.sum(x * a, axis=0) + np.mean(x, axis=1)[0]
    return np.mean(np.sqrt(np.maximum(s, 0.0) + 1.0) + np.log1p(x.T @ x)) * a


def mlp_args(rng):
    return (
        rng.standard_normal((4, 5)),
        rng.standard_normal(5),
        rng.standard_normal((5, 3)),
        rng.standard_normal(3),
        rng.standard_normal((6, 4)),
        rng.standard_normal((6, 3)),
    )


def rnn_args(rng):
    return (
        rng.standard_normal((3, 5)),
        rng.standard_normal((5, 5)) / 3,
        rng.standard_normal(5),
        np.zeros((2, 5)),
        rng.standard_normal((4, 2, 3)),
    )


def _libraries():
    found = [pytest.param(xps.asarray, id="array_api_strict")]
    try:
        import torch

        found.append(pytest.param(torch.asarray, id="torch"))
    except ImportError:
        pass
    return found


LIBRARIES = _libraries()


def as_numpy(value):
    return np.from_dlpack(value)


@pytest.mark.parametrize("convert", LIBRARIES)
@pytest.mark.parametrize(("fn", "make", "n"), [(mlp, mlp_args, 4), (rnn, rnn_args, 3)], ids=["mlp", "rnn"])
def test_same_gradients_as_numpy_and_central_differences(convert, fn, make, n, rng):
    args = make(rng)
    wrt = tuple(range(n))
    expected = sct.grad(fn, wrt=wrt)(*args)
    got = sct.grad(fn, wrt=wrt)(*[convert(a) for a in args])
    namespace = type(convert(args[0]))
    for g, e, a in zip(got, expected, args):
        assert type(g) is namespace  # computed by the library, not converted to NumPy
        assert as_numpy(g).shape == np.shape(a)
        np.testing.assert_allclose(as_numpy(g), e, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(as_numpy(got[0]), numeric_grad(fn, args, 0), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("convert", LIBRARIES)
def test_reductions_floats_and_methods(convert, rng):
    x, a = rng.standard_normal((3, 3)), 0.7
    value, (gx, ga) = sct.value_and_grad(mixed, wrt=(0, 1))(convert(x), a)
    e_value, (e_x, e_a) = sct.value_and_grad(mixed, wrt=(0, 1))(x, a)
    assert float(value) == pytest.approx(e_value, rel=1e-12)
    np.testing.assert_allclose(as_numpy(gx), e_x, rtol=1e-12)
    assert float(ga) == pytest.approx(e_a, rel=1e-12)
    assert float(ga) == pytest.approx(numeric_grad(mixed, (x, a), 1), rel=1e-6)


def test_generated_source_is_written_against_xp(rng):
    from sct import api
    from sct.backend.variants import signature

    args = [xps.asarray(a) for a in mlp_args(rng)]
    source = api.compiled(mlp, [0, 1], signature(args), many=True).source
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert "xp.tanh(" in source and "xp.exp(" in source and not any("np." in line for line in code)
    assert "unbroadcast(" in source  # NumPy's helpers, bound to their xp versions
    numpy_source = api.compiled(mlp, [0, 1], signature(mlp_args(rng)), many=True).source
    comments = [line for line in numpy_source.splitlines() if line.strip().startswith("#")]
    assert comments == [line for line in source.splitlines() if line.strip().startswith("#")]  # statement by statement
    assert len(numpy_source.splitlines()) == len(source.splitlines())


def test_numpy_arguments_keep_their_variants_after_another_library(rng):
    args = mlp_args(rng)
    grad = sct.grad(mlp)
    first = grad(*args)
    grad(*[xps.asarray(a) for a in args])
    again = grad(*args)
    assert type(again) is np.ndarray
    np.testing.assert_array_equal(first, again)
    assert "xp." not in grad.source


def cumulative(x):
    return np.sum(np.cumprod(x))


def test_function_outside_the_standard_is_a_typed_error(rng):
    x = xps.asarray(rng.standard_normal(4))
    with pytest.raises(BackendError, match=r"(?s)array_api_strict.*np\.cumprod"):
        sct.grad(cumulative)(x)


def test_mixing_numpy_and_another_library_is_refused(rng):
    torch = pytest.importorskip("torch")
    x = torch.asarray(rng.standard_normal(3))
    with pytest.raises(BackendError, match="mix NumPy arrays"):
        sct.grad(lambda x, y: np.sum(x * y))(x, rng.standard_normal(3))


def test_integer_arrays_are_refused():
    with pytest.raises(sct.SctError, match="integer"):
        sct.grad(lambda x: np.sum(x * 2.0))(xps.asarray([1, 2, 3]))


def test_vector_valued_function_is_refused_without_converting(rng):
    with pytest.raises(sct.SctError, match="shape"):
        sct.value_and_grad(lambda x: x * 2.0)(xps.asarray(rng.standard_normal(3)))


def test_export_xp_writes_a_module_generic_in_xp(tmp_path, rng):
    import importlib.util

    import array_api_compat

    from sct.cli import main

    source = tmp_path / "model.py"
    source.write_text(
        "import numpy as np\n\n\ndef mlp(W1, b1, W2, b2, x, y):\n"
        "    h1 = np.tanh(x @ W1 + b1)\n"
        "    h2 = 1.0 / (1.0 + np.exp(-(h1 @ W2 + b2)))\n"
        "    return np.mean((h2 - y) ** 2)\n"
    )
    out = tmp_path / "mlp_grad.py"
    assert main(["export", f"{source}:mlp", "--wrt", "W1,b1", "--xp", "-o", str(out)]) == 0
    text = out.read_text()
    assert "xp.tanh(" in text and "import sct" not in text
    spec = importlib.util.spec_from_file_location("mlp_grad", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = mlp_args(rng)
    expected = sct.grad(mlp, wrt=(0, 1))(*args)
    for g, e in zip(module.gradient(*args), expected):  # xp is NumPy until set
        np.testing.assert_allclose(g, e, rtol=1e-12)
    converted = [xps.asarray(a) for a in args]
    module.xp = array_api_compat.array_namespace(converted[0])
    for g, e in zip(module.gradient(*converted), expected):
        assert type(g) is type(converted[0])
        np.testing.assert_allclose(np.from_dlpack(g), e, rtol=1e-12)


def test_export_xp_refuses_what_is_outside_the_standard():
    from sct.export import export_source

    with pytest.raises(BackendError, match=r"np\.cumprod"):
        export_source(cumulative, xp=True)


def test_docs_backends_array_api_example_runs(tmp_path):
    import re
    import runpy
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "backends.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "array_api_strict" in b)
    path = tmp_path / "backends_example.py"
    path.write_text(block)
    found = runpy.run_path(str(path))
    assert type(found["dW1"]) is type(found["args"][0]) and tuple(found["db1"].shape) == (5,)


def padded(x):
    z = np.zeros(2)
    return np.sum(np.concatenate([x, z]) * np.linspace(0.1, 0.7, 5))


def test_creation_functions_are_float64_as_in_numpy(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(3)
    got = sct.grad(padded)(torch.asarray(x))
    assert got.dtype == torch.float64  # torch's own default, float32, would round 0.1
    np.testing.assert_allclose(got.numpy(), sct.grad(padded)(x), rtol=1e-15)  # torch.linspace: within an ulp


def _corpus():
    from functions import ARRAY_CASES

    return [pytest.param(fn, shapes, id=f"{fn.__name__}-{k}") for k, (fn, shapes) in enumerate(ARRAY_CASES)]


@pytest.mark.parametrize("convert", LIBRARIES)
@pytest.mark.parametrize(("fn", "shapes"), _corpus())
def test_corpus_gives_numpys_numbers_or_a_backend_error(convert, fn, shapes, rng):
    """tests/functions.py's array cases: on another library, NumPy's gradients, or a BackendError; never others."""
    args = [rng.standard_normal(s) + (1.5 if fn.__name__ == "unary_chain" else 0.0) for s in shapes]
    wrt = tuple(range(len(args)))
    expected = sct.grad(fn, wrt=wrt)(*args)
    try:
        got = sct.grad(fn, wrt=wrt)(*[convert(a) for a in args])
    except BackendError:
        return
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.from_dlpack(g) if hasattr(g, "shape") else g, e, rtol=1e-12, atol=1e-14)


def _converted(args, convert):
    return [a if isinstance(a, float) else convert(a) for a in args]


@pytest.mark.parametrize("convert", LIBRARIES)
@pytest.mark.parametrize("control", [(), ("if", "for", "while")], ids=["straight", "control"])
def test_random_programs_give_numpys_numbers_or_a_backend_error(convert, control):
    """Random programs (tests/programs.py) on another library's arrays: NumPy's value and gradients, the
    arguments unchanged; or a BackendError. Never other numbers."""
    import programs as P
    from hypothesis import assume, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=25)
    @given(P.programs(control=control), st.integers(0, 2**32 - 1))
    def check(program, seed):
        f, args, value, _ = P.sample(program, seed)
        assume(any(not isinstance(a, float) for a in args))
        wrt = tuple(range(len(args)))
        with np.errstate(all="ignore"):
            expected_value, expected = sct.value_and_grad(f, wrt=wrt)(*args)
        assume(all(np.all(np.isfinite(g)) for g in expected))
        converted = _converted(args, convert)
        before = [np.from_dlpack(a).copy() if hasattr(a, "shape") else a for a in converted]
        try:
            got_value, got = sct.value_and_grad(f, wrt=wrt)(*converted)
        except BackendError:
            return
        for a, b in zip(converted, before):
            np.testing.assert_array_equal(np.from_dlpack(a) if hasattr(a, "shape") else a, b)
        np.testing.assert_allclose(
            np.from_dlpack(got_value) if hasattr(got_value, "shape") else got_value,
            expected_value,
            rtol=1e-10,
            atol=1e-12,
        )
        for g, e in zip(got, expected):
            g = np.from_dlpack(g) if hasattr(g, "shape") else g
            assert np.shape(g) == np.shape(e)
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11)

    check()


def tanh_energy(x):
    return np.sum(np.tanh(x) ** 2)


@pytest.mark.parametrize("convert", LIBRARIES)
def test_vjp_jvp_and_grad_of_grad(convert):
    x = np.array([0.3, -0.2, 0.5])
    v = convert(x)
    for op in (
        lambda a: sct.jvp(tanh_energy, (a,), (a,))[1],
        lambda a: sct.vjp(tanh_energy, a)[1](1.0)[0],
        lambda a: sct.grad(lambda y: np.sum(sct.grad(tanh_energy)(y) * y))(a),
    ):
        got, expected = op(v), op(x)
        np.testing.assert_allclose(np.from_dlpack(got), expected, rtol=1e-12)


def test_gpu_script_skips_without_a_gpu_and_checks_on_cpu():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, str(script), "--cpu", "--repeats", "1"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| mlp | torch (CPU) |" in done.stdout and "| rnn | torch (CPU) |" in done.stdout


def scaled(x, lam):
    return np.sum(x * x) * np.exp(lam)


def test_a_python_number_where_the_standard_wants_an_array_is_a_typed_error(rng):
    """NumPy's np.exp takes a Python float; array_api_strict's exp does not: a BackendError, not a traceback."""
    with pytest.raises(BackendError, match="array_api_strict"):
        sct.grad(scaled, wrt=(0, 1))(xps.asarray(rng.standard_normal(3)), 0.5)
