"""Issue 18: every piece of generated code sct compiles has a linecache name of its own.

A traceback through generated code (the variant, the dispatcher that holds or calls it, the
unconverted fallback of the float pass, the guards) must show the line of the code that ran:
each frame's file, read at the frame's function's first line, defines that function.
"""

import linecache
import re
import sys

import numpy as np
import pytest

import sct
from sct.backend import codegen


def reciprocal(x):
    return np.exp(x) / (x - 1.0)


def pole(x):
    return np.exp(x) * (1.0 / (x - 1.0))  # Python's 1.0 / 0.0 at x = 1.0: a ZeroDivisionError of its own


def failing(x, k):
    return np.sum(x[k] * x)  # an IndexError for a k out of range


def _generated_frames(exc):
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith("<sct"):
            frames.append((code, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _assert_own_lines(exc):
    """Each generated frame's file holds that frame's own function, and the line it stopped at."""
    chain, seen = [], exc
    while seen is not None:
        chain.append(seen)
        seen = seen.__context__
    frames = [f for e in chain for f in _generated_frames(e)]
    assert frames, "no frame in generated code"
    for code, lineno in frames:
        first = linecache.getline(code.co_filename, code.co_firstlineno)
        assert re.match(rf"\s*def {re.escape(code.co_name)}\(", first), (code.co_filename, first)
        assert linecache.getline(code.co_filename, lineno).strip(), (code.co_filename, lineno)
    return frames


def test_names_are_unique_whatever_the_label():
    names = {codegen.register("x = 1\n", "grad_f") for _ in range(3)} | {codegen.register("x = 1\n", "dispatch")}
    assert len(names) == 4
    numbers = [int(re.search(r"#(\d+)>", n).group(1)) for n in names]
    assert len(set(numbers)) == 4  # one counter for every label


@pytest.mark.generated_code_may_warn("at the pole the derivative line divides by zero as the function does")
def test_a_traceback_through_the_dispatcher_and_the_fallback_shows_their_own_lines(no_validation):
    g = sct.grad(pole)
    for _ in range(2):
        g(2.0)  # the second call makes the dispatcher, which holds the variant's code
    with pytest.raises(ZeroDivisionError) as info:
        g(1.0)
    frames = _assert_own_lines(info.value)
    files = {code.co_filename for code, _ in frames}
    names = {code.co_name for code, _ in frames}
    assert len(files) == len({code for code, _ in frames}) >= 2 and {"__sct_call", "grad_pole"} <= names
    variant = next(iter(g._variants.values())).function.__code__.co_filename
    assert variant not in files  # the dispatcher's copy of the variant's code ran, under its own name


def test_a_traceback_through_a_dispatcher_that_calls_the_variant(no_validation):
    g = sct.grad(failing)
    x = np.ones(3)
    for _ in range(2):
        g(x, 1)
    g(x, 2)
    with pytest.raises(IndexError) as info:
        g(x, 5)
    _assert_own_lines(info.value)


def test_every_generated_file_is_registered():
    g = sct.value_and_grad(reciprocal)
    for _ in range(3):
        g(2.0)
    code = type(g).__call__.__code__  # the dispatcher: it calls the variant, it is not the variant
    assert code.co_filename.startswith("<sct dispatch #")
    assert linecache.getline(code.co_filename, code.co_firstlineno).lstrip().startswith("def __sct_call(")
    variant = next(iter(g._variants.values()))
    fresh = variant.fresh.__code__
    assert fresh.co_filename.startswith("<sct guard #") and fresh.co_filename != code.co_filename
    assert linecache.getline(fresh.co_filename, fresh.co_firstlineno).startswith("def fresh(")
    assert sys.modules["sct.backend.codegen"] is codegen
