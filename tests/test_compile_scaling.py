"""Compile time grows linearly with the size of the function (issue 15, item 1).

Not timed (a slow machine must not make these fail): they count work instead,
the Python function calls a first call makes and how often each analysis and
the reverse emitter visit a statement, at two sizes ten times apart. Linear
work grows tenfold; the quadratic analyses this replaced grew a hundredfold,
and nested loops were reversed 2**depth times.
"""

import importlib.util
import sys

import numpy as np
import pytest

import sct
from sct import validate
from sct.analysis import activity as analysis
from sct.passes import containers
from sct.reverse import adjoint as reverse


def _straight(n: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x"]
    lines += [f"    v{i} = np.sin(v{i - 1}) + v{i // 2}" for i in range(1, n + 1)]
    return "\n".join(lines + [f"    return np.sum(v{n})"]) + "\n"


def _nested(depth: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x):", "    s = x"]
    lines += ["    " * (d + 1) + f"for i{d} in range(2):" for d in range(depth)]
    lines += ["    " * (depth + 1) + "s = np.sin(s) * 0.5 + x", "    return np.sum(s)"]
    return "\n".join(lines) + "\n"


def _load(tmp_path, source: str, tag: str):
    path = tmp_path / f"scaling_{tag}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


class _Counter:
    """Counts calls of some functions (patched) and, optionally, of every Python function."""

    def __init__(self, monkeypatch, targets):
        self.counts = {label: 0 for label, _, _ in targets}
        self.calls = 0
        for label, owner, attr in targets:
            monkeypatch.setattr(owner, attr, self._counted(label, getattr(owner, attr)))

    def _counted(self, label, fn):
        def counted(*args, **kwargs):
            self.counts[label] += 1
            return fn(*args, **kwargs)

        return counted

    def _profile(self, frame, event, arg):
        if event == "call":
            self.calls += 1

    def first_call(self, f, x, every_call=False):
        grad = sct.grad(f)
        if every_call:
            sys.setprofile(self._profile)
        try:
            value = grad(x)
        finally:
            sys.setprofile(None)
        return value


TARGETS = [
    ("ranks", analysis, "_rank"),
    ("structures", containers, "_structure"),
    ("operands", analysis, "differentiable_operands"),
    ("reversed", reverse._Reverse, "reverse_assign"),
]


def _work(monkeypatch, tmp_path, source, tag, every_call=False):
    monkeypatch.setattr(validate, "ENABLED", False)  # one compile, not two (the validating variant too)
    counter = _Counter(monkeypatch, TARGETS)
    f = _load(tmp_path, source, tag)
    x = np.linspace(0.1, 0.9, 3)
    grad = counter.first_call(f, x, every_call)
    assert np.all(np.isfinite(grad))
    monkeypatch.undo()
    return counter


def test_straight_line_code_costs_linear_work(monkeypatch, tmp_path):
    small = _work(monkeypatch, tmp_path, _straight(40), "small", every_call=True)
    large = _work(monkeypatch, tmp_path, _straight(400), "large", every_call=True)
    for label, n in small.counts.items():  # each analysis visits each statement a bounded number of times
        assert large.counts[label] <= 11 * n, (label, n, large.counts[label])
    assert large.calls <= 11 * small.calls, (small.calls, large.calls)  # and so does everything else


def _inlined(n: int) -> str:  # calls of a helper, inlined, and conditional expressions: copies in the IR
    lines = ["import numpy as np", "", "", "def g(a):", "    return np.sin(a)", "", "", "def f(x):", "    v0 = x"]
    lines += [f"    v{i} = g(v{i - 1}) if {i} > 0 else v{i - 1}" for i in range(1, n + 1)]
    return "\n".join(lines + [f"    return np.sum(v{n})"]) + "\n"


def _branches(n: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x"]
    for i in range(1, n + 1):
        lines += [f"    if v{i - 1}[0] > 0.5:", f"        v{i} = np.sin(v{i - 1})", "    else:"]
        lines += [f"        v{i} = np.cos(v{i - 1}) + v{i // 2}"]
    return "\n".join(lines + [f"    return np.sum(v{n})"]) + "\n"


def _loop_body(n: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x):", "    s = x", "    for k in range(3):"]
    lines += ["        s = np.sin(s) * 0.5 + x" for _ in range(n)]
    return "\n".join(lines + ["    return np.sum(s)"]) + "\n"


def _dead_chain(n: int) -> str:  # what the output does not read: dropped in one clean-up, not one line a round
    lines = ["import numpy as np", "", "", "def f(x):", "    v0 = x"]
    lines += [f"    v{i} = np.sin(v{i - 1})" for i in range(1, n + 1)]
    return "\n".join(lines + ["    return np.sum(x * x)"]) + "\n"


def _loops_one_after_another(n: int) -> str:  # each with an ``if`` whose condition the branches change
    lines = ["import numpy as np", "", "", "def f(x):", "    y = x[0]"]
    for i in range(n):
        lines += ["    for k in range(3):", f"        if y > {i * 0.01}:"]
        lines += ["            y = y * 0.9 - 0.3 * np.sin(y)", "        else:", "            y = y * 1.01 + 0.2"]
    return "\n".join(lines + ["    return y * y"]) + "\n"


@pytest.mark.parametrize("shape", [_inlined, _branches, _loop_body, _dead_chain, _loops_one_after_another])
def test_other_shapes_of_code_cost_linear_work(monkeypatch, tmp_path, shape):
    small = _work(monkeypatch, tmp_path, shape(20), "small", every_call=True)
    large = _work(monkeypatch, tmp_path, shape(200), "large", every_call=True)
    assert large.calls <= 11 * small.calls, (small.calls, large.calls)


def test_each_statement_is_ranked_and_reversed_a_bounded_number_of_times(monkeypatch, tmp_path):
    counter = _work(monkeypatch, tmp_path, _straight(300), "bounded")
    assert counter.counts["ranks"] <= 3 * 600  # two primitives a line; a rank changes at most twice
    assert counter.counts["reversed"] <= 600 + 10


def test_nested_loops_are_reversed_once_per_state(monkeypatch, tmp_path):
    shallow = _work(monkeypatch, tmp_path, _nested(6), "nested6")
    deep = _work(monkeypatch, tmp_path, _nested(12), "nested12")
    # the innermost statements are reversed a few times per loop around them at most, not 2**depth times
    assert deep.counts["reversed"] <= 2 * shallow.counts["reversed"] <= 2 * 3 * 4 * 6, (shallow.counts, deep.counts)


def test_nested_loop_gradients_are_right():
    def f(x):
        s = x
        for i in range(2):
            for j in range(3):
                for k in range(2):
                    s = np.sin(s) * 0.5 + x * (i + j - k)
        return np.sum(s)

    sct.check_grads(f, (np.linspace(0.1, 0.9, 3),), modes=("rev",), order=1)


def test_nested_while_loops_with_branches_are_right():
    def f(x):  # nested loops entered in several states, each with a branch and counted trips
        s = x
        i = 0
        while i < 2:
            j = 0
            while j < 3:
                if s[0] > 0.5:
                    s = np.sin(s) * 0.9 + x
                else:
                    s = s * 1.1
                j = j + 1
            i = i + 1
        return np.sum(s * s)

    for x in (np.linspace(0.1, 0.9, 3), np.linspace(0.6, 0.9, 3)):
        sct.check_grads(f, (x,), modes=("fwd", "rev"), order=1)
