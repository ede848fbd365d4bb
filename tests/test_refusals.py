"""What sct does not model is refused with a typed SctError, never a zero gradient (issue 12, section 5).

Values that are no real numbers (None, a str, an object, a complex number) as
results or as what is differentiated by, through every entry point; and a
size-1 array returned from a scalar function, which must work.
"""

import warnings

import numpy as np
import programs as P
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sct
from sct.cli import commands as cli

SOURCE = """
import numpy as np

class Thing:
    pass

def r_str(x):
    return "abc"

def r_none(x):
    return None

def r_obj(x):
    return Thing()

def r_pair_none(x):
    return (x * 2.0, None)

def r_list_str(x):
    return [x, "abc"]

def by_second(x, y):
    return x * 2.0

def by_list(p):
    return p[0] * 2.0

def square(x):
    return x * x

def size1(x):
    return np.array([x * 2.0])

def size1x1(x):
    return np.array([[x * 3.0]])

def zero_d(x):
    return np.array(x * 2.0)

def summed(x):
    return np.array([np.sum(x ** 2)])

def reshaped(x):
    return np.reshape(x * 3.0, (1, 1))
"""
M = P.load(SOURCE, name=None)


def _entry_points(fn, args):
    """Each transform applied to ``fn`` at ``args``, differentiating by the last argument."""
    wrt = len(args) - 1
    ones = tuple(1.0 if isinstance(a, float) else a for a in args)
    return {
        "grad": lambda: sct.grad(fn, wrt=wrt)(*args),
        "value_and_grad": lambda: sct.value_and_grad(fn, wrt=wrt)(*args),
        "vjp": lambda: sct.vjp(fn, *args)[1](1.0),
        "jvp": lambda: sct.jvp(fn, args, ones),
        "jacobian rev": lambda: sct.jacobian(fn, wrt=wrt)(*args),
        "jacobian fwd": lambda: sct.jacobian(fn, wrt=wrt, mode="fwd")(*args),
        "hessian": lambda: sct.hessian(fn, wrt=wrt)(*args),
        "hvp": lambda: sct.hvp(fn, args, ones),
    }


@pytest.mark.parametrize("name", ["r_str", "r_none", "r_obj"])
def test_a_result_that_is_no_number_is_refused_everywhere(name):
    fn = getattr(M, name)
    for entry, call in _entry_points(fn, (1.5,)).items():
        for _ in range(3):  # the general path, then the dispatcher
            with pytest.raises(sct.SctError, match="return numbers|real scalar|return a scalar") as info:
                call()
            assert "needs" in str(info.value), entry


@pytest.mark.parametrize("name", ["r_pair_none", "r_list_str"])
def test_a_container_result_with_a_leaf_that_is_no_number_is_refused(name):
    fn = getattr(M, name)
    with pytest.raises(sct.SctError, match=r"at \[1\]"):
        sct.vjp(fn, 1.5)
    with pytest.raises(sct.SctError, match=r"at \[1\]"):
        sct.jvp(fn, (1.5,), (1.0,))
    for make in (sct.grad, sct.value_and_grad):
        with pytest.raises(sct.SctError):
            make(fn)(1.5)


class _Thing:
    pass


BAD_ARGUMENTS = {
    "None": (None, "is None"),
    "str": ("s", "is a str"),
    "object": (_Thing(), "is a _Thing"),
    # complex arguments themselves are differentiated (issue 14, tests/test_complex.py); not yet in containers
    "complex in a list": ([1.5 + 2j], "complex"),
    "complex array in a tuple": ((np.array([1.0 + 1j, 2.0]),), "complex"),
    "object array": (np.array([1.0, "a"], dtype=object), "dtype object"),
}


@pytest.mark.parametrize("kind", BAD_ARGUMENTS)
def test_differentiating_by_a_value_that_is_no_float_is_refused_everywhere(kind):
    bad, words = BAD_ARGUMENTS[kind]
    fn = M.by_second
    for entry, call in _entry_points(fn, (1.5, bad)).items():
        with pytest.raises(sct.SctError, match="argument 1") as info:
            call()
        assert words in str(info.value), (entry, str(info.value))


def test_a_bad_argument_is_refused_after_a_good_one_compiled_the_same_signature():
    # [1.5, 2.5] and [1.5, None] have different container keys, but [None] and ["a"] share one
    g = sct.grad(M.by_list)
    assert g([1.5, 2.5]) == [2.0, 0.0]
    for bad in ([1.5, None], [1.5, "a"], (1.5, _Thing()), [1.5, 1j]):
        for _ in range(3):
            with pytest.raises(sct.SctError, match=r"argument 0\[1\]"):
                g(bad)
    with pytest.raises(sct.SctError, match="is None"):
        sct.grad(M.by_second, wrt=1)(1.5, None)
    with pytest.raises(sct.SctError, match="is a str"):
        sct.grad(M.by_second, wrt=1)(1.5, "a")  # None and "a" have the same signature


def test_integer_leaves_of_a_container_are_still_allowed():
    # an int beside the floats is a constant, as before; only a whole integer argument is refused
    assert sct.grad(M.by_list)([1.5, 2]) == [2.0, 0.0]
    with pytest.raises(sct.SctError, match="integer"):
        sct.grad(M.square)(3)


def test_jvp_still_skips_integer_primals():
    out, dot = sct.jvp(lambda x, n: x * n, (1.5, 3), (1.0, 0))
    assert (out, dot) == (4.5, 3.0)


def test_the_command_line_check_refuses_them(capsys, tmp_path):
    path = tmp_path / "user.py"
    path.write_text(SOURCE)
    for func, args, words in [
        ("r_str", "1.5", "return numbers"),
        ("r_obj", "1.5", "return numbers"),
        ("square", "1.5 + 2j", "complex"),
    ]:
        code = cli.main(["check", f"{path}:{func}", "--args", args])
        out, err = capsys.readouterr()
        assert code == 2, (func, out, err)
        assert err.startswith("sct: ") and words in err, err
        assert "Traceback" not in err


# ---- a size-1 array from a scalar function ------------------------------------------------
SIZE1 = ["size1", "size1x1", "zero_d", "summed", "reshaped"]
INPUTS = [1.5, np.array([1.5]), np.array(1.5), np.array([[1.5]])]


def _numeric(fn, x, eps=1e-6):
    g = np.zeros(np.shape(x))
    for idx in np.ndindex(np.shape(x)):
        hi, lo = np.array(x, dtype=float), np.array(x, dtype=float)
        hi[idx] += eps
        lo[idx] -= eps
        g[idx] = (np.sum(fn(hi)) - np.sum(fn(lo))) / (2 * eps)
    return g


@pytest.mark.parametrize("name", SIZE1)
@pytest.mark.parametrize("k", range(len(INPUTS)))
def test_a_size_one_array_result_has_a_gradient(name, k):
    fn, x = getattr(M, name), INPUTS[k]
    expected_value = fn(x)
    assert np.size(expected_value) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)  # was: `1.0[0]` in the generated code
        g = sct.grad(fn)
        results = [g(x) for _ in range(3)]  # general path, then dispatcher
        value, g2 = sct.value_and_grad(fn)(x)
    expected = _numeric(fn, x)
    for r in [*results, g2]:
        np.testing.assert_allclose(r, expected, rtol=1e-6)
        assert np.shape(r) == np.shape(x)
        if isinstance(x, float):
            assert type(r) is float
    np.testing.assert_array_equal(value, expected_value)
    assert np.shape(value) == np.shape(expected_value)
    tangent = 1.0 if isinstance(x, float) else np.ones_like(x)
    out, dot = sct.jvp(fn, (x,), (tangent,))
    np.testing.assert_array_equal(out, expected_value)
    np.testing.assert_allclose(np.sum(dot), np.sum(expected), rtol=1e-6)
    _, back = sct.vjp(fn, x)
    np.testing.assert_allclose(back(np.ones_like(expected_value))[0], expected, rtol=1e-6)


@given(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from(SIZE1))
def test_size_one_results_for_all_floats(x, name):
    fn = getattr(M, name)
    np.testing.assert_allclose(sct.grad(fn)(x), _numeric(fn, x), rtol=1e-5, atol=1e-6)


# ---- a complex value from real arguments ----------------------------------------------------
COMPLEX_SOURCE = """
import math
import numpy as np

def through_numpy(x0, x1):
    return np.sum((np.log(math.sin(x1) ** 2.5 + 1.877) + (-(0.0 + x0))))

def power(x, y):
    return np.sum(x) * 0.0 + y ** 1.5
"""
C = P.load(COMPLEX_SOURCE, name=None)


@pytest.mark.parametrize(
    "fn, args, wrt",
    [
        # was (tests/test_errors.py mutation fuzz): a ComplexWarning and the imaginary part dropped
        (C.through_numpy, (np.array([0.95550434, -0.32175328]), -1.2873144858874435), (0, 1)),
        (C.power, (np.ones(2), -2.0), 0),  # the gradient by x is real; the value is not
    ],
)
def test_a_complex_value_from_real_arguments_is_refused(fn, args, wrt):
    assert np.iscomplexobj(fn(*args))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        for make in (sct.grad, sct.value_and_grad):
            g = make(fn, wrt=wrt)
            for _ in range(3):
                with pytest.raises(sct.SctError, match="real scalar"):
                    g(*args)


def test_a_fractional_power_of_a_positive_float_still_has_its_gradient():
    x, y = np.array([0.5, 1.0]), 2.0
    g = sct.grad(C.power, wrt=(0, 1))
    for _ in range(3):
        gx, gy = g(x, y)
        np.testing.assert_allclose(gx, 0.0)
        assert type(gy) is float and gy == pytest.approx(1.5 * y**0.5)
    value, _ = sct.value_and_grad(C.power, wrt=1)(x, y)
    assert value == C.power(x, y)


def test_an_exported_module_seeds_a_size_1_result_with_its_shape(tmp_path):
    # the exported grad_f indexed its default seed 1.0 (`delta_out[0]`): a TypeError
    from sct.export import export_source

    source = tmp_path / "size_one.py"
    source.write_text("import numpy as np\n\ndef f(x):\n    return np.array([x * 2.0])\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location("size_one", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    namespace = {}
    exec(compile(export_source(module.f), "<export>", "exec"), namespace)
    assert namespace["gradient"](1.5) == pytest.approx(2.0)
    value, grad = namespace["grad_f"](np.array([1.5]))
    np.testing.assert_allclose(grad, [2.0])
