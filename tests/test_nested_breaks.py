"""A loop's own ``break``/``continue`` end a trip of that loop, not the block around it.

The lowering guards the statements after anything that may jump out of the current block
(``if not skip:``). An inner loop's ``break`` was taken for a jump out of the outer loop's
body: with no ``break`` or ``continue`` of the outer loop's own there was no flag to test,
and the compile failed with a TypeError (``if not None:``) instead of differentiating.
"""

import numpy as np
import programs as P
import pytest

import sct

BODIES = [
    # the inner loop breaks, the outer one never does
    "s = x\n    for i in range(3):\n        for j in range(2):\n            if j > 0:\n                break\n"
    "            s = s * x\n        s = np.tanh(s)\n    return np.sum(s)",
    # the inner loop continues, the outer one never jumps
    "s = x\n    for i in range(3):\n        for j in range(3):\n            if j == 1:\n                continue\n"
    "            s = s * 0.9 + x\n        s = np.sin(s)\n    return np.sum(s)",
    # both loops break
    "s = x\n    for i in range(4):\n        for j in range(3):\n            if j > 1:\n                break\n"
    "            s = s * 0.9 + x\n        if np.sum(s) > 5.0:\n            break\n        s = np.sin(s)\n"
    "    return np.sum(s)",
    # a while loop that breaks, inside a for loop
    "s = x\n    for i in range(2):\n        k = 0\n        while k < 5:\n            s = s * 0.8 + x\n"
    "            if k >= 2:\n                break\n            k = k + 1\n        s = s * s\n    return np.sum(s)",
]


def _central(f, x, eps=1e-6):
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])


@pytest.mark.parametrize("body", BODIES)
def test_an_inner_loops_jumps_stay_in_it(body):
    f = P.load(f"import numpy as np\n\n\ndef f(x):\n    {body}\n")
    x = np.array([0.3, 0.5, -0.7])
    np.testing.assert_allclose(sct.grad(f)(x), _central(f, x), rtol=1e-6, atol=1e-8)
    value, grads = sct.value_and_grad(f)(x)
    assert value == pytest.approx(f(x))
