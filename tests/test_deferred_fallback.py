"""The NumPy-scalar fallback of a variant on Python floats is compiled where it first runs.

:func:`sct.pipeline._unbox` guards the converted code with ``except ArithmeticError:`` and
calls the unconverted code (NumPy scalars) there. That code is a
:class:`sct.backend.codegen.Deferred`: written and compiled on its first call, with the same
text and closure an immediate compile gave, so where it runs it answers exactly as before.
"""

import math
import weakref

import gast
import numpy as np
import programs as P
import pytest

import sct
from sct import api, pipeline
from sct.backend import cache, codegen

POLE = "import numpy as np\n\n\ndef f(x):\n    return x / np.sin(x)\n"
SEED = "import numpy as np\n\n\ndef f(x, y):\n    return (x + 1.0 / (1.0 + np.exp(-y))) / (x ** 2 + y)\n"


def _variant(g, *args):
    return g._variants[pipeline.signature(args)]


def _fallback(variant) -> codegen.Deferred:
    found = [v for v in variant.helpers.values() if isinstance(v, codegen.Deferred)]
    assert len(found) == 1, variant.helpers
    return found[0]


def test_the_fallback_is_not_compiled_until_python_floats_raise():
    g = sct.grad(P.load(POLE))
    assert g(0.5) == g(np.float64(0.5))
    fallback = _fallback(_variant(g, 0.5))
    assert fallback._function is None  # nothing raised: never written, never compiled
    with np.errstate(all="ignore"):
        assert np.isnan(g(0.0)) and np.isnan(g(np.float64(0.0)))  # 0 / sin(0): Python raises, NumPy gives nan
    assert fallback._function is not None
    assert fallback.function() is fallback._function  # compiled once


def test_the_fallback_is_the_unconverted_code_the_variant_names():
    g = sct.grad(P.load(SEED), wrt=(0, 1))
    g(0.7, 1.3)
    variant = _variant(g, 0.7, 1.3)
    fallback = _fallback(variant)
    name = next(k for k, v in variant.helpers.items() if v is fallback)
    assert f"return {name}(x, y, delta_out)" in variant.source
    text = fallback.text
    assert text.startswith(f"def {variant.source.split('(', 1)[0].removeprefix('def ')}(x, y")
    assert "float(np.exp" in variant.source and "float(np.exp" not in text  # NumPy scalars, unguarded
    assert "np.exp(-y)" in text and "ArithmeticError" not in text
    function = fallback.function()
    assert function.__sct_compiled__[0] == text
    got = function(0.7, 1.3)
    want = g(np.float64(0.7), np.float64(1.3))  # the variant for NumPy scalars: the same numbers
    assert [float(v) for v in got] == [float(v) for v in want]


def test_a_deferred_function_binds_what_an_immediate_compile_bound():
    fn = P.load("import numpy as np\n\n\ndef f(x):\n    return np.exp(x) * 2.0\n")
    node = gast.parse("def h(x):\n    return np.exp(x) + scale(x)\n").body[0]
    helpers = {"scale": lambda v: 3.0 * v}
    deferred = codegen.Deferred(node, "h", fn.__globals__, helpers, "h")
    helpers["scale"] = lambda v: 0.0  # changed after: the deferred code keeps what it was given
    node.body[0].value.op = gast.Sub()  # and the tree it was made from may change
    assert deferred.text == "def h(x):\n    return np.exp(x) + scale(x)"
    assert deferred(1.0) == math.exp(1.0) + 3.0


def test_the_persistent_cache_keeps_the_fallback_deferred(tmp_path, monkeypatch):
    monkeypatch.setenv("SCT_CACHE", "1")
    monkeypatch.setenv("SCT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())
    monkeypatch.setattr(api, "_VARIANTS", weakref.WeakKeyDictionary())
    monkeypatch.setattr(cache, "_user_rules", lambda: ())  # rules other tests registered: not in these keys
    f = P.load(POLE)
    stores = cache.STATS["stores"]
    first = sct.grad(f)
    assert first(0.5) == pytest.approx(1 / math.sin(0.5) - 0.5 * math.cos(0.5) / math.sin(0.5) ** 2)
    assert cache.STATS["stores"] > stores and list(tmp_path.iterdir())
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())  # as a new process: the entry on disk
    monkeypatch.setattr(api, "_VARIANTS", weakref.WeakKeyDictionary())
    hits = cache.STATS["hits"]
    again = sct.grad(f)
    assert again(0.5) == first(0.5)
    assert cache.STATS["hits"] > hits  # served from the disk (twice where validation compiles one to compare)
    fallback = _fallback(_variant(again, 0.5))
    assert fallback._function is None
    with np.errstate(all="ignore"):
        assert np.isnan(again(0.0))
    assert fallback._function is not None
