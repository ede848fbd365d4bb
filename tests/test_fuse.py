"""Single-use temporaries written into their use, in gradients of scalar code (sct/passes/fuse.py)."""

import gast
import numpy as np
import programs as P
import pytest

import sct
from sct import pipeline
from sct.backend import codegen
from sct.passes import fuse, unbox

CHAIN = (
    "import math\n\n\ndef f(x, y):\n    a = x * y\n    b = math.sin(a) + x\n    c = math.exp(-b * b)\n"
    "    d = c / (1.0 + y * y)\n    return math.cos(d) * a\n"
)


def _fused(text):
    fn = gast.parse(text).body[0]
    fuse.fuse(fn, unbox._resolver(codegen.BASE_NAMESPACE, {}))
    return codegen.unparse(fn)


def test_runtime_variants_of_scalar_code_fuse_and_give_the_same_numbers():
    f = P.load(CHAIN)
    g = sct.grad(f, wrt=(0, 1))
    grads = g(0.8, -0.6)
    runtime = g._variants[pipeline.signature((0.8, -0.6))].source
    assert "m = 1.0 + l" not in runtime and "1.0 + y * y" in runtime
    assert "e = math.sin(a)" in g.source  # what sct dump shows keeps every name
    assert grads == tuple(g(np.float64(0.8), np.float64(-0.6)))  # neither converted nor fused


def test_a_temporary_moves_into_its_one_use():
    text = "def g(x):\n    a = x * 2.0\n    b = math.sin(a)\n    return b + 1.0\n"
    assert _fused(text) == "def g(x):\n    return math.sin(x * 2.0) + 1.0"


@pytest.mark.parametrize(
    "body",
    [
        "a = x * 2.0\n    x = 1.0\n    return a + x",  # what it reads is assigned in between
        "a = x * 2.0\n    for i in range(3):\n        x = x + a\n    return x",  # used in a loop body
        "a = x * 2.0\n    while x < a:\n        x = x + 1.0\n    return x",  # a while test: read each trip
        "a = x * 2.0\n    return 1.0 if x > 0.0 else a",  # one side of if-else: may not be computed
        "a = x * 2.0\n    b = a + a\n    return b",  # read twice
        "a = s.pop()\n    b = s.pop()\n    return b - a",  # not pure: order matters
        "a = x * 2.0\n    if x > 0.0:\n        x = a\n    return x",  # used in a nested block
    ],
)
def test_what_would_change_more_than_when_it_is_computed_stays(body):
    text = f"def g(x, s):\n    {body}\n"
    assert "a = " in _fused(text)
