"""More compile-stage shortcuts (issue 15, a fourth round) give what the work they replace gives.

The seed's one walk (``pipeline._seed_reads``) against ``passes.bind_constant`` and a look for ``delta_out[...]``;
the inverses' pre-check against the two passes it skips; the complex-value scan's prim table and walk against
``gast.walk``.
"""

import copy
import inspect

import functions as F
import gast
import numpy as np
import programs as P
import pytest
from test_compile_stages import CASES, _compile_all

import sct
from sct import pipeline
from sct.analysis import complex_values
from sct.backend import codegen
from sct.ir import Assign, walk
from sct.passes import inverses, unbox
from sct.passes import optimize as passes

_PLAN = unbox.plan
CORPUS = [f for _, f in inspect.getmembers(F, inspect.isfunction) if f.__module__ == F.__name__]
CORPUS_CASES = [(fn, [0.7 + 0.1 * k for k in range(len(inspect.signature(fn).parameters))]) for fn in CORPUS]


def _reference_unit_seed(fn, output, rank) -> None:
    """``_unit_seed`` as it was: a walk for ``seed[...]``, then ``passes.bind_constant``'s walk."""
    seed = fn.args.args[-1].id
    indexed = any(
        isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == seed
        for node in gast.walk(fn)
    )
    if rank == 0 or rank is None and not indexed:
        passes.bind_constant(fn, seed, 1.0)
        return
    at = next(i for i, s in enumerate(fn.body) if codegen.is_comment(s) and s.value.args[0].value == "backward")
    fn.body.insert(at + 1, gast.parse(f"{seed} = np.ones_like({output})").body[0])


def test_the_seed_is_bound_as_bind_constant_binds_it(monkeypatch):
    compared, unit_seed = [], pipeline._unit_seed

    def checked(fn, output, rank):
        before = copy.deepcopy(fn)
        unit_seed(fn, output, rank)
        _reference_unit_seed(before, output, rank)
        assert codegen.unparse(fn) == codegen.unparse(before)
        compared.append(rank)

    monkeypatch.setattr(pipeline, "_unit_seed", checked)
    _compile_all(monkeypatch, CASES + CORPUS_CASES)
    assert len(compared) > 50 and None in compared and 0 in compared


@pytest.mark.parametrize("rank", [0, None, 1])
def test_the_seed_walk_finds_every_read_and_an_index(rank):
    text = (
        f"def grad_f(x, delta_out=1.0):\n    y = x\n    {codegen._COMMENT}('backward')\n"
        "    a = delta_out * [delta_out, (delta_out, 2)][0]\n    b = f(k=delta_out)\n"
        "    c = delta_out[0] if rank else delta_out\n    return (y, a + b + c)\n"
    )
    fn, reference = gast.parse(text).body[0], gast.parse(text).body[0]
    for tree in (fn, reference):  # an annotation reading the seed (gast keeps a parameter's on its Name)
        tree.args.args[0].annotation = gast.Name(id="delta_out", ctx=gast.Load(), annotation=None, type_comment=None)
    reads, indexed = pipeline._seed_reads(fn, "delta_out")
    assert indexed and len(reads) == 7  # the annotation's read; the parameter itself is no read
    pipeline._unit_seed(fn, "y", rank)
    _reference_unit_seed(reference, "y", rank)
    assert codegen.unparse(fn) == codegen.unparse(reference)


# ---- sct.passes.inverses: skipped where the backward sweep names neither call ---------------------------
def test_inverses_are_skipped_only_where_the_passes_change_nothing(monkeypatch):
    seen, share = [], inverses.share

    def checked(fn):
        reference = copy.deepcopy(fn)
        reference_changed = inverses._share_inverses(reference)
        reference_changed = inverses.share_solves(reference) or reference_changed
        mentions = inverses._mentions_inverses(fn)
        changed = share(fn)
        assert changed == reference_changed and codegen.unparse(fn) == codegen.unparse(reference)
        assert mentions or not reference_changed
        seen.append((mentions, changed))
        return changed

    monkeypatch.setattr(inverses, "share", checked)
    monkeypatch.setattr(pipeline.inverses, "share", checked)
    rng = np.random.default_rng(0)
    k = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    cases = [(fn, args) for fn, args in CASES + CORPUS_CASES]
    cases.append((P.load(_GP), [k, rng.normal(size=3)]))
    _compile_all(monkeypatch, cases)
    assert (True, True) in seen and (False, False) in seen


_GP = (
    "import numpy as np\n\n\ndef f(K, y):\n    alpha = np.linalg.solve(K, y)\n"
    "    return 0.5 * y @ alpha + 0.5 * np.linalg.slogdet(K)[1]\n"
)


def test_a_solve_alone_is_still_looked_at():
    text = (
        f"def grad_f(A, g, delta_out=1.0):\n    y = A\n    {codegen._COMMENT}('backward')\n"
        "    a = 3.0 * np.linalg.solve(A.T, g)\n    b = np.linalg.solve(A.T, g) * 2.0\n    return (y, a + b)\n"
    )
    fn = gast.parse(text).body[0]
    assert inverses._mentions_inverses(fn) and inverses.share(fn)
    assert "solved = np.linalg.solve(A.T, g)" in codegen.unparse(fn)


# ---- sct.analysis.complex_values.may_be_complex ------------------------------------------------------------
def _reference_may_be_complex(ir, sig) -> bool:
    if any(s and len(s) > 1 and s[1] == "c" for s in sig):
        return True
    if any(complex_values._complex_value(v) for v in ir.namespace.values()):
        return True
    for stmt in walk(ir.body):
        if not isinstance(stmt, Assign):
            continue
        if complex_values._makes_complex(stmt.prim):
            return True
        for node in gast.walk(stmt.value):
            if isinstance(node, gast.Constant) and complex_values._complex_value(node.value):
                return True
    return False


def test_the_complex_scan_answers_as_the_full_walk(monkeypatch):
    answers, may_be_complex = [], complex_values.may_be_complex

    def checked(ir, sig):
        found = may_be_complex(ir, sig)
        assert found == _reference_may_be_complex(ir, sig)
        answers.append(found)
        return found

    monkeypatch.setattr(pipeline.complex_values, "may_be_complex", checked)
    complexes = [
        ("y = np.sin(x) * 2.0\n    z = y * 1j\n    return np.real(np.sum(z * np.conj(z)))", [np.ones(3)]),
        ("y = np.sin(x)\n    z = np.fft.fft(y)\n    return np.real(np.sum(z))", [np.ones(4)]),
        ("y = [np.sin(x), 2.0]\n    return np.sum(y[0] * (1 + 0j).real)", [np.ones(3)]),
    ]
    cases = [(P.load("import numpy as np\n\n\ndef f(x):\n    " + body + "\n"), args) for body, args in complexes]
    _compile_all(monkeypatch, CASES + CORPUS_CASES + cases)
    assert True in answers and False in answers


def test_a_complex_maker_after_many_plain_prims_is_found():
    """The prim table is per call and keyed by the prim object: ``np.sin`` a hundred times, then ``np.fft.fft``."""
    body = "".join(f"    x{i + 1} = np.sin(x{i})\n" for i in range(100))
    f = P.load(f"import numpy as np\n\n\ndef f(x0):\n{body}    z = np.fft.fft(x100)\n    return np.real(np.sum(z))\n")
    g = P.load(f"import numpy as np\n\n\ndef f(x0):\n{body}    return np.sum(x100 * 2.0)\n")
    from sct.frontend import lower, parse

    for fn, expected in ((f, True), (g, False)):
        ir, _ = lower.lower(parse.parse(fn))
        assert complex_values.may_be_complex(ir, [(1, "f")]) is expected


# ---- sct.passes.unbox.plan: one sweep where it is the fixed point --------------------------------------------
def _tree_copy(node):
    """A copy of a gast tree, its fields only (the passes may hang what they found on the nodes)."""
    if isinstance(node, list):
        return [_tree_copy(item) for item in node]
    if not isinstance(node, gast.AST):
        return node
    return type(node)(**{attr: _tree_copy(getattr(node, attr, None)) for attr in node._fields})


def _planned(fn, args, one_sweep=True):
    """The code ``unbox.plan`` and ``unbox.convert`` make of a copy of ``fn``, and the plan's types."""
    fn = _tree_copy(fn)
    if one_sweep:
        types = _PLAN(fn, *args)
    else:
        sweep, unbox._one_sweep = unbox._one_sweep, lambda types, fn: False
        try:
            types = _PLAN(fn, *args)
        finally:
            unbox._one_sweep = sweep
    if types is None:
        return None, None
    unbox.convert(fn, types)
    return codegen.unparse(fn), dict(types.env)


def test_one_sweep_plans_what_the_sweeps_plan(monkeypatch):
    plans, outcomes, plan, one_sweep = [], [], unbox.plan, unbox._one_sweep

    def checked(fn, *args):
        assert _planned(fn, args) == _planned(fn, args, one_sweep=False)
        plans.append(_planned(fn, args)[0] is not None)
        return plan(fn, *args)

    def counted(types, fn):
        outcomes.append(one_sweep(types, fn))
        return outcomes[-1]

    monkeypatch.setattr(unbox, "plan", checked)
    monkeypatch.setattr(unbox, "_one_sweep", counted)
    scalar = [(fn, args) for fn, args in CASES if all(isinstance(a, float) for a in args)]
    _compile_all(monkeypatch, scalar + CORPUS_CASES)
    assert True in plans and False in plans and True in outcomes and False in outcomes


@pytest.mark.parametrize(
    "body, one",
    [
        ("    a = np.sin(x)\n    b = a * 2.0\n", True),
        ("    b = a\n    a = np.sin(x)\n", False),  # read before it is stored: a second sweep would see it
        ("    a = x\n    b = a * 2.0\n    a = np.sin(x)\n", False),  # a float, then maybe a NumPy float
        ("    h = []\n    h.append(x)\n    b = h.pop()\n", False),  # a record's element type grows
    ],
)
def test_a_type_that_changes_after_it_is_read_needs_the_sweeps(body, one):
    text = f"def grad_f(x, delta_out=1.0):\n{body}    return (x, x)\n"
    fn = gast.parse(text).body[0]
    args = ({"x"}, {"np": np}, {})
    types = unbox._Types(fn, *args)
    assert unbox._one_sweep(types, fn) is one
    assert _planned(fn, args) == _planned(fn, args, one_sweep=False)


# ---- sct.analysis.recording: no loop, nothing made each trip ------------------------------------------------
def test_a_function_without_loops_skips_the_trip_walks(monkeypatch):
    from sct.analysis import recording

    calls, read_sites = [], recording._read_sites

    def counted(ir):
        calls.append(ir)
        return read_sites(ir)

    monkeypatch.setattr(recording, "_read_sites", counted)
    monkeypatch.setenv("SCT_CACHE", "0")
    straight = P.load("import numpy as np\n\n\ndef f(x):\n    y = np.sin(x) * x\n    return np.sum(y * y)\n")
    looped = P.load(
        "import numpy as np\n\n\ndef f(x):\n    s = x\n    for i in range(3):\n"
        "        t = np.sin(s) * 0.5\n        s = t + x\n    return np.sum(s)\n"
    )
    x = np.linspace(0.1, 0.9, 3)
    g = sct.grad(straight)(x)
    assert not calls and np.allclose(g, 2 * np.sin(x) * x * (x * np.cos(x) + np.sin(x)))
    sct.grad(looped)(x)
    assert calls  # with a loop the walks run, and tests/test_loop_records.py checks what they find


# ---- sct.frontend.lower: the returns counted over statements ---------------------------------------------------
def test_returns_counted_over_statements_are_those_of_a_walk():
    from sct.frontend import parse

    counted = 0
    for fn in CORPUS:
        try:
            node = parse.parse(fn).node
        except Exception:  # no source to read
            continue
        walked = sum(isinstance(n, gast.Return) for n in gast.walk(node))
        assert sum(isinstance(n, gast.Return) for n in codegen.statements([node])) == walked
        counted += walked > 1
    assert counted > 3


# ---- sct.frontend: a lowering holds no cycle, freed as soon as it is done -----------------------------------
@pytest.mark.parametrize("text", [_GP, "import numpy as np\n\n\ndef f(x):\n    return np.sum(np.sin(x) * x)\n"])
def test_a_lowering_is_freed_without_the_cycle_collector(text):
    """(Not yet where a call is inlined: the inlined function's lowering is of a class made per call.)"""
    import gc

    from sct.frontend import lower, parse

    fn = P.load(text)
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        ir, _ = lower.lower(parse.parse(fn))
        alive = [
            o for o in gc.get_objects() if type(o) is lower._Lowering
        ]  # type(): no attribute lookups on foreign objects
    finally:
        if was:
            gc.enable()
    assert ir.body and not alive


# ---- sct.analysis.activity.static_value: a constant's value without literal_eval --------------------------
@pytest.mark.parametrize("text", ["1", "-1", "2.5", "1j", "True", "None", "'s'", "b'b'", "...", "(1, 2.0)", "-3", "x"])
def test_static_values_are_what_literal_eval_gives(text):
    from sct.analysis import activity
    from sct.rules import DYNAMIC

    node = gast.parse(text).body[0].value
    try:
        expected = gast.literal_eval(node) if text != "x" else DYNAMIC
    except ValueError:
        expected = DYNAMIC
    found = activity.static_value(node)
    assert found == expected and type(found) is type(expected)
