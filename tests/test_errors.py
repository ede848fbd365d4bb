"""Bad input: every problem is a typed sct.SctError pointing at file:line:col, all listed at once.

Functions under test are written to real files (tests/programs.load) so that the
expected line and column are known exactly. The last tests fuzz the compiler
with mutated random programs: only SctError (or a correct run) may come out.
"""

import math
import re

import numpy as np
import programs as P
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct.errors import UnsupportedSyntaxError


def _error(source, name="f", args=(1.5,), wrt=0, outer=False, kind=sct.SctError):
    """Load ``source``, differentiate ``name`` and return (the error raised, the function)."""
    fn = P.load(source, name)
    if outer:  # the function is made by calling `name`
        fn = fn()
    with pytest.raises(kind) as info:
        sct.grad(fn, wrt=wrt)(*args)
    return info.value, fn


def _assert_at(err, fn, lineno, col, line_text):
    """``err`` points at 1-based ``lineno`` and 0-based ``col`` of ``fn``'s file."""
    assert err.filename == fn.__code__.co_filename
    assert (err.lineno, err.col_offset) == (lineno, col), str(err)
    assert err.source_line.strip() == line_text
    assert f"{err.filename}:{lineno}:{col + 1}" in str(err)
    assert line_text in str(err)


# ---- unsupported constructs: (source, line, col, source line, words in the message) --------
UNSUPPORTED = {
    "generator": ("def f(x):\n    y = x * 2.0\n    yield y\n", 3, 4, "yield y", "Yield"),
    "yield_from": ("def f(x):\n    yield from [x]\n    return x\n", 2, 4, "yield from [x]", "YieldFrom"),
    "global": ("G = 1.0\n\n\ndef f(x):\n    global G\n    return x * G\n", 5, 4, "global G", "Global"),
    "try": (
        "def f(x):\n    try:\n        y = x * x\n    except ValueError:\n        y = x\n    return y\n",
        2,
        4,
        "try:",
        "Try",
    ),
    "with": (
        "def f(x):\n    with open('x') as h:\n        y = x\n    return y\n",
        2,
        4,
        "with open('x') as h:",
        "With",
    ),
    "class": ("def f(x):\n    class A:\n        pass\n    return x\n", 2, 4, "class A:", "ClassDef"),
    "async_def": (
        "def f(x):\n    async def g():\n        pass\n    return x\n",
        2,
        4,
        "async def g():",
        "AsyncFunctionDef",
    ),
    "del": ("def f(x):\n    y = x * x\n    del y\n    return x\n", 3, 4, "del y", "Delete"),
    "star_call": (
        "import numpy as np\n\n\ndef f(x):\n    return np.add(*(x, x))\n",
        5,
        11,
        "return np.add(*(x, x))",
        "*args",
    ),
    # *args/**kwargs parameters are supported now (issue 13): tests/test_signatures.py
}


@pytest.mark.parametrize("case", UNSUPPORTED)
def test_unsupported_construct_is_located(case):
    source, lineno, col, line_text, words = UNSUPPORTED[case]
    err, fn = _error(source, kind=UnsupportedSyntaxError)
    _assert_at(err, fn, lineno, col, line_text)
    assert words in str(err)
    assert ";" in err.problems[0].message  # says what to do instead


def test_nonlocal_in_a_nested_function_is_located():
    source = "def outer():\n    y = 1.0\n\n    def f(x):\n        nonlocal y\n        return x * y\n\n    return f\n"
    err, fn = _error(source, name="outer", outer=True, kind=UnsupportedSyntaxError)
    _assert_at(err, fn, 5, 8, "nonlocal y")
    assert "Nonlocal" in str(err)


def test_async_function_itself_is_unsupported_syntax():
    err, fn = _error("async def f(x):\n    return x * x\n", kind=UnsupportedSyntaxError)
    _assert_at(err, fn, 1, 0, "async def f(x):")
    assert "async" in str(err)


def test_all_problems_are_listed_at_once():
    source = (
        "import numpy as np\n"  # 1
        "\n"
        "\n"
        "def f(x):\n"  # 4
        "    global G\n"  # 5
        "    y = x * x\n"
        "    try:\n"  # 7
        "        y = y + 1.0\n"
        "    finally:\n"
        "        pass\n"
        "    del y\n"  # 11
        "    with open('x'):\n"  # 12
        "        pass\n"
        "    return np.add(*(x, x))\n"  # 14
    )
    err, fn = _error(source, kind=UnsupportedSyntaxError)
    where = [(p.location.lineno, p.location.col_offset) for p in err.problems]
    assert where == [(5, 4), (7, 4), (11, 4), (12, 4), (14, 11)]
    text = str(err)
    assert text.startswith("5 problems:")
    for i, lineno in enumerate([5, 7, 11, 12, 14], 1):
        assert f"[{i}] {fn.__code__.co_filename}:{lineno}:" in text


def test_problems_of_different_stages_in_one_function_each_point_at_their_line():
    source = "def f(x):\n    y = undefined_name * x\n    return y\n"
    err, fn = _error(source)
    _assert_at(err, fn, 2, 8, "y = undefined_name * x")
    assert "undefined_name" in str(err)


# ---- calls ------------------------------------------------------------------------------
def test_unknown_function_is_named_with_its_location():
    err, fn = _error("def f(x):\n    return no_such_function(x)\n")
    _assert_at(err, fn, 2, 11, "return no_such_function(x)")
    assert "no_such_function" in str(err)


def test_unknown_attribute_of_a_module_is_named():
    err, fn = _error("import numpy as np\n\n\ndef f(x):\n    return np.no_such_thing(x)\n")
    assert "np.no_such_thing" in str(err)
    _assert_at(err, fn, 5, 11, "return np.no_such_thing(x)")


def test_non_differentiable_call_names_the_function_and_shows_defvjp():
    source = "import cmath\n\n\ndef f(x):\n    y = x * 2.0\n    return cmath.phase(y)\n"
    err, fn = _error(source, kind=sct.NonDifferentiableError)
    _assert_at(err, fn, 6, 11, "return cmath.phase(y)")
    assert "phase" in str(err)
    assert "sct.defvjp" in str(err)


def test_several_non_differentiable_calls_are_listed_at_once():
    source = "import cmath\n\n\ndef f(x):\n    y = cmath.phase(x)\n    return cmath.phase(y) * y\n"
    err, fn = _error(source, kind=sct.NonDifferentiableError)
    assert [p.location.lineno for p in err.problems] == [5, 6]


# ---- no source --------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [len, abs, math.sin, np.add, np.sin], ids=lambda f: f.__name__)
def test_builtins_and_c_functions_have_no_source(fn):
    with pytest.raises(sct.SourceUnavailableError) as info:
        sct.grad(fn)(1.5)
    assert "sct.defvjp" in str(info.value)


def test_function_made_by_exec_has_no_source():
    namespace = {}
    exec("def g(x):\n    return x * x\n", namespace)
    with pytest.raises(sct.SourceUnavailableError) as info:
        sct.grad(namespace["g"])(1.5)
    assert "exec" in str(info.value)


def test_lambda_made_by_eval_has_no_source():
    with pytest.raises(sct.SourceUnavailableError):
        sct.grad(eval("lambda x: x * x"))(1.5)


def test_not_a_function():
    with pytest.raises(sct.SctError):
        sct.grad(3.0)


# ---- calling with bad arguments -----------------------------------------------------------
def test_non_scalar_output_suggests_vjp():
    fn = P.load("def f(x):\n    return x * 2.0\n")
    with pytest.raises(sct.SctError) as info:
        sct.grad(fn)(np.ones(3))
    assert "sct.vjp" in str(info.value)
    assert "(3,)" in str(info.value)


@pytest.mark.parametrize("arg", [3, np.arange(3), np.int32(2), True], ids=repr)
def test_integer_inputs_are_refused(arg):
    fn = P.load("import numpy as np\n\n\ndef f(x):\n    return np.sum(x * x)\n")
    with pytest.raises(sct.SctError) as info:
        sct.grad(fn)(arg)
    assert "integer" in str(info.value) or "float" in str(info.value)


def test_integer_input_that_is_not_differentiated_is_fine():
    fn = P.load("def f(x, n):\n    return x ** n\n")
    assert sct.grad(fn)(2.0, 3) == pytest.approx(12.0)


def test_too_few_arguments_for_wrt():
    fn = P.load("def f(x, y=2.0):\n    return x * y\n")
    with pytest.raises(sct.SctError):
        sct.grad(fn, wrt=1)(1.5)


WRONG_WRT = {
    "out_of_range": (2, "out of range"),
    "negative_out_of_range": (-3, "out of range"),
    "unknown_name": ("z", "no parameter 'z'"),
    "duplicated": ((0, 0), "twice"),
    "duplicated_by_name_and_position": (("x", 0), "twice"),
    "empty_tuple": ((), "no parameter"),
    "bool": (True, "wrt must be an int, a parameter name, or a tuple of them"),
    "float": (1.0, "wrt must be an int, a parameter name, or a tuple of them"),
    "array": (np.ones(2), "wrt must be an int, a parameter name, or a tuple of them"),
    "list_in_a_tuple": ((0, [1]), "wrt must be an int, a parameter name, or a tuple of them"),
}


@pytest.mark.parametrize("case", WRONG_WRT)
def test_wrong_wrt_is_refused_when_grad_is_made(case):
    wrt, words = WRONG_WRT[case]
    fn = P.load("def f(x, y):\n    return x * y\n")
    with pytest.raises(sct.SctError) as info:
        sct.grad(fn, wrt=wrt)
    assert words in str(info.value)


def test_negative_wrt_counts_from_the_end():
    fn = P.load("def f(x, y):\n    return x * y * y\n")
    assert sct.grad(fn, wrt=-1)(2.0, 3.0) == pytest.approx(12.0)


# ---- NaN and inf: propagated like JAX does, never an error ----------------------------------
def test_nan_input_gives_nan_gradient_where_it_flows():
    fn = P.load("import numpy as np\n\n\ndef f(x, y):\n    return np.sum(x * x) + y * y\n")
    x = np.array([1.0, np.nan, 2.0])
    gx, gy = sct.grad(fn, wrt=(0, 1))(x, 3.0)
    np.testing.assert_array_equal(gx, [2.0, np.nan, 4.0])
    assert gy == 6.0


def test_nan_and_inf_scalars_do_not_raise():
    fn = P.load("import numpy as np\n\n\ndef f(x):\n    return np.tanh(x) * 2.0\n")
    assert math.isnan(sct.grad(fn)(math.nan))
    with np.errstate(all="ignore"):
        assert sct.grad(fn)(math.inf) == 0.0
    square = sct.grad(P.load("def f(x):\n    return x * x\n"))
    assert square(math.inf) == math.inf
    assert square(-math.inf) == -math.inf


# ---- the error classes --------------------------------------------------------------------
def test_every_error_class_is_an_sct_error():
    for cls in (sct.UnsupportedSyntaxError, sct.NonDifferentiableError, sct.SourceUnavailableError):
        assert issubclass(cls, sct.SctError)


# ---- regressions found by the fuzzers ---------------------------------------------------------
def test_bitwise_operators_are_unsupported_syntax():
    # was: KeyError(<class 'gast.gast.LShift'>) escaping from the lowering
    source = "def f(x):\n    y = x << 1\n    z = ~x\n    z ^= 2\n    return y\n"
    err, fn = _error(source, kind=UnsupportedSyntaxError)
    assert [(p.location.lineno, p.location.col_offset) for p in err.problems] == [(2, 8), (3, 8), (4, 4)]
    assert "`<<`" in str(err) and "`~`" in str(err) and "`^`" in str(err)


def test_ufunc_passed_to_grad_is_source_unavailable():
    # was: TypeError "cannot create weak reference to 'numpy.ufunc' object" from the cache
    with pytest.raises(sct.SourceUnavailableError):
        sct.grad(np.multiply, wrt=(0, 1))(1.0, 2.0)


def test_star_parameters_are_reported_when_grad_is_made():
    # was: a bare "wrt=0 is out of range: f takes 0 positional parameters"
    # *rest is supported now (issue 13); a number in wrt counts the named positional parameters only
    fn = P.load("def f(x, *rest):\n    return x\n")
    with pytest.raises(sct.SctError, match="1 positional parameters .*wrt='rest'"):
        sct.grad(fn, wrt=1)


@pytest.mark.parametrize("ret", ["x, x", "[x, x]", "{'a': x}", "(x, 2.0 * x)"])
def test_container_output_to_grad_suggests_vjp(ret):
    # was: TypeError "'float' object is not subscriptable" from the generated backward pass
    fn = P.load(f"def f(x):\n    return {ret}\n")
    for make in (sct.grad, sct.value_and_grad):
        with pytest.raises(sct.SctError) as info:
            make(fn)(1.5)
        assert "sct.vjp" in str(info.value)


def test_complex_value_to_grad_says_it_needs_a_real_scalar():
    # was (long mutation fuzz): TypeError "float() argument must be ... not 'complex'" from the generated code
    fn = P.load("def f(x0):\n    return 0.5 / (x0 ** 2.5 + 1.0)\n")  # (-2.0) ** 2.5 is complex in Python
    assert isinstance(fn(-2.0), complex)
    for make in (sct.grad, sct.value_and_grad):
        g = make(fn)
        assert np.isfinite(g(2.0) if make is sct.grad else g(2.0)[1])
        for _ in range(3):  # the general path, then the dispatcher
            with pytest.raises(sct.SctError, match="real scalar"):
                g(-2.0)


def test_possibly_unassigned_variable_fails_like_python():
    # the forward sweep starts a recorded variable at None; the user's own error is the one raised
    source = "def f(x, y):\n    if x > 0.0:\n        t = y * 2.0\n    return t * y\n"
    fn = P.load(source)
    with pytest.raises(UnboundLocalError):
        fn(-1.0, 2.0)
    with pytest.raises((UnboundLocalError, sct.SctError)):
        sct.grad(fn, wrt=(0, 1))(-1.0, 2.0)
    source = (
        "def f(x, y):\n    if x > 5.0:\n        t = x\n    if x > 0.0:\n        pass\n"
        "    else:\n        t = y\n    return t * y\n"
    )
    fn = P.load(source)
    with pytest.raises((UnboundLocalError, sct.SctError)):
        sct.grad(fn, wrt=(0, 1))(1.0, 2.0)


def test_subscript_assignment_into_a_float_fails_like_python():
    # regression: copy-on-write used np.copy, turning a float into a 0-d array (IndexError)
    fn = P.load("def f(x, y):\n    x[0] = 1.0\n    return y * 2.0\n")
    with pytest.raises(TypeError):
        fn(1.0, 2.0)
    with pytest.raises((TypeError, sct.SctError)):
        sct.grad(fn, wrt=(0, 1))(1.0, 2.0)


# ---- fuzz: mutated programs never let an internal exception escape -------------------------
# Lines that replace or join a statement of a valid program.
BAD_STATEMENTS = [
    "global G",
    "del x0",
    "try:\n    pass\nexcept Exception:\n    pass",
    "with open('nowhere') as h:\n    pass",
    "class A:\n    pass",
    "async def g():\n    pass",
    "def g(y):\n    return y * 2.0",
    "yield x0",
    "assert x0 is not None",
    "print(x0)",
    "import os",
    "raise ValueError('no')",
    "x0 = x0[0]",
    "x0[0] = 1.0",
    "x0.attr = 1.0",
    "a, *b = (x0, x0, x0)",
    "q = lambda v: v * x0",
    "q = [v * 2.0 for v in range(3)]",
    "q = {v: v for v in range(3)}",
    "q = (y := x0 * 2.0)",
    "q = x0 if 1.0 > 0.0 else -x0",
    "q = 0.0 < x0 < 1.0",
    "q = not x0",
    "q = x0 and x0",
    "q = f'{x0}'",
    "q = x0 @ x0",
    "q = x0 // 2.0",
    "q = x0 % 2.0",
    "q = {1.0, 2.0}",
    "q = ...",
    "return",
    "return x0, x0",
    "return None",
    "return 'text'",
    "pass",
    "x0 += 1",
    "for v in x0:\n    pass",
    "while False:\n    pass",
    "if x0:\n    pass",
    "for v in range(2):\n    break\nelse:\n    pass",
    "with_ = 1.0",
    "np = 1.0",
    "math = None",
    "unbroadcast = 2.0",
    "out = x0",
    "delta_out = x0 * 2.0",
    "a = 1.0\nb = a * x0",
    "x0 = 1",
    "x0 = None",
    "x0 = (x0, x0)",
    "q = x0.T.T",
    "q = x0.no_such_attribute",
    "q = x0.sum(axis=0)",
    "q = x0.no_such_method()",
    "q = np.frexp(x0)",
    "q = np.linalg.det(x0)",
    "q = sorted(x0)",
    "q = len(x0)",
    "q = float(x0)",
    "q = int(x0)",
    "q = complex(x0)",
    "q = undefined_thing * x0",
    "q = np.undefined_thing(x0)",
    "q = x0(1.0)",
    "q = (x0)(x0)",
    "q = x0[None]",
    "q = x0[...]",
    "q = x0[::-1]",
    "q = x0[x0 > 0.0]",
    "q = np.where(x0 > 0.0, x0, 0.0)",
    "q = 1e308 * 1e308",
    "q = float('nan') * x0",
    "q = 1j * x0",
    "q = True * x0",
    "q = None",
    "q = [] + [x0]",
    "q = (x0,) * 2",
    "q = x0 ** -1",
    "q = x0 ** x0",
    "q = 0.0 ** -1.0",
    "q = 1 / 0",
    "q = -(-(-x0))",
    "q = +x0",
    "q = ~x0",
    "q = x0 << 1",
    "q = x0 is x0",
    "q = x0 in [x0]",
    "q = *x0,",
    "q: float = x0",
    "q: float",
    "nonlocal q",
    "q = __import__('os')",
    "q = eval('x0')",
    "q = globals()",
    "q = super()",
    "q = np.sum(x0, axis=5)",
    "q = np.sum(x0, axis=x0)",
    "q = np.reshape(x0, (7, 11))",
    "q = np.mean(x0, keepdims=1)",
    "q = math.sin(np.ones(3))",
]

# Text replacements inside a valid program (applied once, where they match).
BAD_REPLACEMENTS = [
    ("np.sin(", "np.sinx("),
    ("np.exp(", "np.frexp("),
    ("np.sum(", "sum("),
    ("np.mean(", "len("),
    ("math.", "cmath."),
    ("math.", "np."),
    (" + ", " +\\\n "),
    (" * ", " @ "),
    (" - ", " // "),
    (" ** 2", " ** 2.5"),
    (" ** 2", " ** -2"),
    ("x0", "x9"),
    ("x0", "f"),
    ("x0", "np"),
    ("x0", "None"),
    ("(x0", "(*x0"),
    ("1.", "1e308"),
    ("1.", "-0.0"),
    ("0.5", "float('inf')"),
    ("    return ", "    return -"),
    ("    return ", "    yield "),
    ("    return ", "    return None and "),
    ("    return ", "    pass\n    return "),
    ("    return ", "    x0 = "),
    ("def f(", "def f(self, "),
    ("def f(", "async def f("),
    ("def f(x0", "def f(x0=1.0"),
    ("def f(x0", "def f(*, x0"),
    ("def f(x0", "def f(x0, /"),
    ("):\n", ") -> float:\n"),
]


def _mutate(source: str, rng) -> str:
    lines = source.splitlines()
    body = [i for i, line in enumerate(lines) if line.startswith("    ")]
    choice = rng.integers(3)
    if choice == 0:  # insert a bad statement
        stmt = BAD_STATEMENTS[rng.integers(len(BAD_STATEMENTS))]
        at = body[rng.integers(len(body))] + int(rng.integers(2))
        lines[at:at] = ["    " + s for s in stmt.splitlines()]
    elif choice == 1:  # replace a statement
        stmt = BAD_STATEMENTS[rng.integers(len(BAD_STATEMENTS))]
        at = body[rng.integers(len(body))]
        lines[at : at + 1] = ["    " + s for s in stmt.splitlines()]
    else:
        old, new = BAD_REPLACEMENTS[rng.integers(len(BAD_REPLACEMENTS))]
        text = "\n".join(lines)
        hits = [m.start() for m in re.finditer(re.escape(old), text)]
        if hits:
            at = hits[rng.integers(len(hits))]
            text = text[:at] + new + text[at + len(old) :]
        lines = text.splitlines()
    return "\n".join(lines) + "\n"


def _outcome(call):
    try:
        with np.errstate(all="ignore"):
            return call(), None
    except Exception as exc:
        return None, exc


def check_mutant(source: str, args) -> None:
    """Only an SctError may escape sct, unless the function itself raises the same in Python."""
    try:
        fn = P.load(source)
    except SyntaxError:
        return  # Python refuses it: nothing to differentiate
    except Exception:
        return  # the module fails at import (a top-level `raise`, ...)
    if not callable(fn):
        return
    _, made = _outcome(lambda: sct.grad(fn, wrt=tuple(range(len(args)))) if args else None)
    if made is not None:
        assert isinstance(made, sct.SctError), f"{type(made).__name__}: {made}\n{source}"
        return
    before = P.snapshot(args)
    _, err = _outcome(lambda: sct.grad(fn, wrt=tuple(range(len(args))))(*args))
    if err is None or isinstance(err, sct.SctError):
        P.assert_unchanged(before, args)
        return
    _, own = _outcome(lambda: fn(*P.snapshot(args)))
    assert own is not None and type(own) is type(err), (
        f"internal {type(err).__name__} escaped sct: {err}\n"
        f"(the function itself {'raises ' + type(own).__name__ if own else 'runs'})\n{source}"
    )


def _mutants_per_program() -> int:
    # ci: ~60 programs x 25 mutants; long: 10,000 programs x 1
    return max(1, 1500 // settings.default.max_examples)


@settings(suppress_health_check=list(__import__("hypothesis").HealthCheck))
@given(P.programs(control=("if", "for")), st.integers(0, 2**32 - 1))  # a mutated `while` may never end
def test_mutated_programs_only_raise_sct_errors(program, seed):
    rng = np.random.default_rng(seed)
    args = P.make_args(program, rng)
    for _ in range(_mutants_per_program()):
        check_mutant(_mutate(program.source, rng), args)


def test_a_builtin_without_a_derivative_gets_a_rewrite_not_a_rule_to_register():
    f = P.load("def f(x):\n    return divmod(x, 0.3)[1] * x\n")
    for mode in ("rev", "fwd"):
        with pytest.raises(sct.NonDifferentiableError) as caught:
            if mode == "rev":
                sct.grad(f)(1.0)
            else:
                sct.jvp(f, (1.0,), (1.0,))
        message = str(caught.value)
        assert "the builtin `divmod`" in message and "rewrite" in message
        assert "defvjp" not in message and "defjvp" not in message
