"""Writes through an index follow NumPy exactly (issue 12, section 3).

With an integer index array that repeats a position, ``y[idx] = v`` and
``y[idx] += v`` keep ONE write per position (they are not ``np.add.at``); the
adjoint must give the gradient of what NumPy did. Each program here is written
out as source (sct reads source text), run by plain Python for its value, and
differentiated by sct in both modes, against central differences.
"""

import json
import subprocess
import sys

import numpy as np
import programs as P
import pytest
from conftest import numeric_grad
from hypothesis import assume, given
from hypothesis import strategies as st

import sct
from sct.export import export_source

X = np.array([1.0, 2.0, 3.0])


def reproducer_add(x):
    y = x * 1.0
    y[np.array([0, 0])] += x[1]
    return np.sum(y * y)


def reproducer_set(x):
    y = x * 1.0
    y[np.array([0, 0])] = x[1:3]
    return np.sum(y * y)


def _assert_exact(f, args, wrt, second_may_refuse=False):
    """Value is Python's, arguments untouched, each gradient matches central differences, both modes agree.

    Second derivatives (the generated code differentiated again) too; with
    ``second_may_refuse`` sct may refuse those with an SctError, never be wrong.
    """
    before = P.snapshot(args)
    value, grads = sct.value_and_grad(f, wrt=wrt)(*args)
    P.assert_unchanged(before, args)
    np.testing.assert_array_equal(value, f(*P.snapshot(args)))
    grads = grads if isinstance(wrt, tuple) else (grads,)
    for i, g in zip(wrt if isinstance(wrt, tuple) else (wrt,), grads):
        np.testing.assert_allclose(g, numeric_grad(f, P.snapshot(args), i), rtol=1e-6, atol=1e-6, err_msg=f"arg {i}")
    sct.check_grads(f, args, modes=("fwd", "rev"), order=1, wrt=wrt)
    for mode in ("fwd", "rev"):
        try:
            sct.check_grads(f, args, modes=(mode,), order=2, wrt=wrt)
        except sct.SctError:
            if not second_may_refuse:
                raise
    P.assert_unchanged(before, args)
    return grads


# ---- the reproducers of the issue ------------------------------------------------------
def test_repeated_index_add_keeps_one_write():
    (g,) = _assert_exact(reproducer_add, (X,), 0)
    # y = [x0 + x1, x1, x2]: one write of y[0] + x[1] kept, not two
    np.testing.assert_allclose(g, [2 * (X[0] + X[1]), 2 * (X[0] + X[1]) + 2 * X[1], 2 * X[2]])


def test_repeated_index_set_keeps_one_write():
    (g,) = _assert_exact(reproducer_set, (X,), 0)
    # NumPy keeps the last write: y = [x2, x1, x2]
    np.testing.assert_allclose(g, [0.0, 2 * X[1], 4 * X[2]])


def test_forward_mode_agrees_on_the_reproducers():
    v = np.array([0.3, -0.7, 1.1])
    for f in (reproducer_add, reproducer_set):
        _, dot = sct.jvp(f, (X,), (v,))
        np.testing.assert_allclose(dot, np.dot(sct.grad(f)(X), v), rtol=1e-12)


def test_hessian_of_a_repeated_fancy_read():
    """The adjoint's scatter (add_at) must be seen when the adjoint is differentiated again."""

    def f(x):
        return np.sum(x[np.array([0, 0, 2])] ** 3)

    expected = np.diag([2 * 6 * X[0], 0.0, 6 * X[2]])
    np.testing.assert_allclose(sct.hessian(f)(X), expected)
    np.testing.assert_allclose(sct.jacobian(sct.grad(f), mode="fwd")(X), expected)
    sct.check_grads(f, (X,), modes=("fwd", "rev"), order=2)


def test_readable_code_where_an_index_cannot_repeat():
    """Ints, slices and boolean masks write each position once: plain ``delta_y[index]``, no helper."""

    def basic(x):
        y = x * 1.0
        y[1:] = x[0]
        y[0] += x[2]
        return np.sum(y * y)

    def mask(x):
        y = x * 1.0
        y[x > 1.5] = x[0]
        return np.sum(y * y)

    def repeating(x):
        y = x * 1.0
        y[np.array([0, 0])] = x[1]
        return np.sum(y * y)

    assert "kept_writes" not in sct.source(basic) and "kept_writes" not in sct.source(mask)
    assert "kept_writes(delta_y, a)" in sct.source(repeating)
    for f in (basic, mask, repeating):
        _assert_exact(f, (X,), 0)


def test_an_index_is_a_mask_only_where_every_value_it_holds_is_one():
    """``m`` is an index array on the first trip and a mask after: its writes may repeat."""

    def f(x, m):
        y = x * 1.0
        for k in range(2):
            y[m] = x[1:] * y[0]
            m = x > 0.0
        return np.sum(np.sin(y) * y)

    assert "kept_writes(delta_y, m)" in sct.source(f, wrt=0)
    _assert_exact(f, (np.array([0.3, 1.2, -0.8]), np.array([0, 0])), 0, second_may_refuse=True)


def test_an_adjoint_updated_in_place_is_not_an_alias():
    """``delta_v = delta_w * 1.0`` stays a new array when ``delta_v[0] += ...`` follows (delta_w is delta_u too)."""

    def f(x, u):
        v = x * 2.0
        a = v[0]
        w = v * 1.0
        z = w + u
        return np.sum(z * z) + a * 3.0

    _assert_exact(f, (np.array([1.0, 2.0]), np.array([0.5, -1.0])), (0, 1))


# ---- random writes ----------------------------------------------------------------------
OPS = ["=", "+=", "-=", "*="]


def _literal(a) -> str:
    return f"np.array({np.asarray(a).tolist()!r})"


@st.composite
def repeating(draw, n, size=None):
    """Integer indices into an axis of length ``n`` with at least one position twice (maybe negative)."""
    items = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4))
    twin = draw(st.sampled_from(items))
    twin = draw(st.sampled_from([twin, twin - n if twin >= 0 else twin + n]))  # the same position
    items.insert(draw(st.integers(0, len(items))), twin)
    return items if size is None else (items * size)[:size]


@st.composite
def writes(draw):
    """(index source, shape of y, shape of the block written, whether the block's size depends on x)."""
    shape = draw(st.sampled_from([(3,), (4,), (2, 3), (3, 2)]))
    if len(shape) == 1:
        n = shape[0]
        rows = draw(repeating(n))
        kind = draw(st.sampled_from(["array", "list", "2d", "mask", "compare", "argument"]))
        if kind == "array":
            return _literal(rows), shape, (len(rows),), False
        if kind == "list":
            return repr(rows), shape, (len(rows),), False
        if kind == "2d":
            rows = draw(repeating(n, size=4))
            return _literal(np.reshape(rows, (2, 2))), shape, (2, 2), False
        if kind == "argument":
            return "idx", shape, (len(rows),), np.array(rows)
        mask = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        if kind == "mask":
            return _literal(mask), shape, (sum(mask),), False
        return "x > 0.2", shape, None, False
    m, n = shape
    rows, cols = draw(repeating(m)), draw(repeating(n))
    kind = draw(st.sampled_from(["rows", "rows, slice", "slice, cols", "pairs", "rows, int", "mask"]))
    if kind == "rows":
        return _literal(rows), shape, (len(rows), n), False
    if kind == "rows, slice":
        return f"{_literal(rows)}, 1:", shape, (len(rows), n - 1), False
    if kind == "slice, cols":
        return f":, {_literal(cols)}", shape, (m, len(cols)), False
    if kind == "rows, int":
        return f"{_literal(rows)}, -1", shape, (len(rows),), False
    if kind == "pairs":  # two index arrays broadcast together: a repeated (row, column) pair
        k = min(len(rows), len(cols))
        rows, cols = rows[:k], cols[:k]
        rows.append(rows[0])
        cols.append(cols[0] - n if cols[0] >= 0 else cols[0] + n)
        return f"{_literal(rows)}, {_literal(cols)}", shape, (len(rows),), False
    return "x > 0.2", shape, None, False


@st.composite
def value_shapes(draw, block):
    """The shape of the value written: the block's, one that broadcasts into it, or a Python float (None)."""
    if block is None:  # a mask from x: its size changes with x, only a scalar fits
        return None
    choices = [None, block]
    if len(block) > 1:
        choices.append(block[1:])
        choices.append((1,) + block[1:])
    if len(block) >= 1:
        choices.append((1,))
    return draw(st.sampled_from(choices))


def _program(index, op, base, loop):
    write = f"y[{index}] {op} v"
    body = ["    y = x * 1.0" if base == "x" else "    y = np.zeros_like(x) + 0.5"]
    if loop:
        body += ["    for k in range(2):", f"        {write}", "        y = np.sin(y) + x * 0.25"]
    else:
        body += [f"    {write}"]
    body += ["    return np.sum(np.sin(y) * y) + np.sum(x * x) * 0.1"]
    params = "x, v, idx" if index == "idx" else "x, v"
    return "import numpy as np\n\n\ndef f(" + params + "):\n" + "\n".join(body) + "\n"


@st.composite
def write_programs(draw):
    index, shape, block, argument = draw(writes())
    op = draw(st.sampled_from(OPS))
    vshape = draw(value_shapes(block))
    source = _program(index, op, draw(st.sampled_from(["x", "zeros"])), draw(st.booleans()))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, size=shape)
    v = float(rng.uniform(-1.5, 1.5)) if vshape is None else rng.uniform(-1.5, 1.5, size=vshape)
    args = (x, v) if argument is False else (x, v, argument)
    return source, args


@given(write_programs())
def test_random_writes_match_numpy_and_central_differences(case):
    source, args = case
    f = P.load(source)
    assume(np.all(np.abs(args[0] - 0.2) > 1e-3))  # a mask from x must not flip under central differences
    try:
        # differentiating the adjoint again, sct may refuse (a refusal, never a wrong number): the alias
        # scan sees the adjoint's separate read ``c = y[b]`` of ``y[b] += v`` as a possible view of y
        _assert_exact(f, args, (0, 1), second_may_refuse=True)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nprogram:\n{source}\nargs: {args!r}") from exc


@given(writes(), st.integers(0, 2**32 - 1))
def test_kept_writes_and_put_kept_are_transposes(write, seed):
    """<kept_writes(g, i), G> == <g, put_kept(G, g, i)>: the rules of one are the other (second order)."""
    from sct.backend.runtime import kept_writes, put_kept

    index, shape, _, argument = write
    rng = np.random.default_rng(seed)
    y = rng.normal(size=shape)
    namespace = {"np": np, "x": y, "idx": argument}
    index = eval(f"np.index_exp[{index}]", namespace)
    g, block = rng.normal(size=shape), y[index]
    G = rng.normal(size=block.shape)
    kept = kept_writes(g, index)
    assert kept.shape == block.shape
    np.testing.assert_allclose(np.sum(kept * G), np.sum(g * put_kept(G, g, index)), rtol=1e-12, atol=1e-12)
    # each written position of y keeps exactly one write
    assert np.count_nonzero(kept_writes(np.ones(shape), index)) == np.count_nonzero(put_kept(1.0, y, index))


# ---- sct export --------------------------------------------------------------------------
RUN_EXPORTED = """\
import importlib.util, json, sys
sys.modules["sct"] = None  # `import sct` now fails
import numpy as np
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
x, v = np.array(json.loads(sys.argv[2])), np.array(json.loads(sys.argv[3]))
value, (gx, gv) = module.grad_f(x, v)
print(json.dumps({"value": float(value), "gx": gx.tolist(), "gv": gv.tolist()}))
"""


@pytest.mark.parametrize("op", OPS)
def test_export_of_a_repeated_write_runs_standalone_and_agrees(op, tmp_path):
    source = _program(f"{_literal([1, 0, -2])}, 1:", op, "x", loop=True)
    f = P.load(source)
    rng = np.random.default_rng(3)
    x, v = rng.uniform(-1.5, 1.5, size=(2, 3)), rng.uniform(-1.5, 1.5, size=(3, 2))
    module = tmp_path / "exported_write.py"
    module.write_text(export_source(f, wrt=(0, 1)))
    assert "def kept_writes(" in module.read_text()
    script = tmp_path / "run_exported.py"
    script.write_text(RUN_EXPORTED)
    done = subprocess.run(
        [sys.executable, "-I", str(script), str(module), json.dumps(x.tolist()), json.dumps(v.tolist())],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    value, (gx, gv) = sct.value_and_grad(f, wrt=(0, 1))(x, v)
    assert result["value"] == value == f(x, v)
    np.testing.assert_array_equal(result["gx"], gx)
    np.testing.assert_array_equal(result["gv"], gv)
    np.testing.assert_allclose(gv, numeric_grad(f, (x, v), 1), rtol=1e-6, atol=1e-6)


# ---- sct check -----------------------------------------------------------------------------
REPRODUCERS = """\
import numpy as np


def add(x):
    y = x * 1.0
    y[np.array([0, 0])] += x[1]
    return np.sum(y * y)


def put(x):
    y = x * 1.0
    y[np.array([0, 0])] = x[1:3]
    return np.sum(y * y)
"""


@pytest.mark.parametrize("name", ["add", "put"])
def test_sct_check_passes_on_the_reproducers(name, tmp_path, capsys):
    from sct.cli import commands as cli

    path = tmp_path / "reproducers.py"
    path.write_text(REPRODUCERS)
    code = cli.main(["check", f"{path}:{name}", "--args", "np.array([1.0, 2.0, 3.0])"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "ok:" in out
