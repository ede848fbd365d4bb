"""Shortcuts that make the compile stages cheaper give what the full work gives (issue 15).

Each shortcut is compared with the work it skips or summarises, on the shared corpus and on
random programs: a shortcut that missed a case would show here as a different answer, not as a
wrong gradient somewhere later.
"""

import inspect

import functions as F
import gast
import programs as P
from hypothesis import HealthCheck, given, settings

from sct.frontend import aliases
from sct.frontend import parse as frontend

CORPUS = [f for _, f in inspect.getmembers(F, inspect.isfunction) if f.__module__ == F.__name__]
UPDATES = [  # each form the alias scan takes for an update, and some that are none
    "y = x\n    x += 1.0\n    return np.sum(x * y)",
    "y = x\n    x[0] = 2.0\n    return np.sum(y)",
    "y = x\n    x[0] += 2.0\n    return np.sum(y)",
    "y = x\n    x.a[0] = 2.0\n    return np.sum(y)",
    "xs = [x]\n    ys = xs\n    xs.append(x)\n    return np.sum(ys[0])",
    "xs = [x]\n    ys = xs\n    xs.extend([x])\n    return np.sum(ys[0])",
    "xs = [x]\n    ys = xs\n    xs.insert(0, x)\n    return np.sum(ys[0])",
    "y = x\n    for i in range(2):\n        if i:\n            x += 1.0\n    return np.sum(y)",
    "y: float = x\n    y = y + 1.0\n    return np.sum(y)",
    "y = np.sin(x)\n    z = y * 2.0\n    return np.sum(z)",
]


def _both(fn):
    node = frontend.parse(fn).node
    return aliases.shared_updates(node), aliases._scanned_updates(node)


def test_the_alias_scan_is_skipped_only_where_it_finds_nothing():
    for fn in CORPUS:
        fast, full = _both(fn)
        assert fast == full, fn.__name__
    found = 0
    for body in UPDATES:
        fast, full = _both(P.load(f"import numpy as np\n\n\ndef f(x):\n    {body}\n"))
        assert fast == full, body
        found += bool(full)
    assert found >= 7  # the comparison compares something


def test_a_function_without_updates_skips_the_scan():
    source = "import numpy as np\n\n\ndef f(x):\n    y = x\n    z = np.sin(y)\n    return np.sum(z)\n"
    assert not aliases._may_update(gast.parse(source).body[1])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(P.programs(control=True, shared=True, max_statements=6))
def test_random_programs_give_the_same_updates_with_the_shortcut(program):
    fast, full = _both(P.load(program))
    assert fast == full
