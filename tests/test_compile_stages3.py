"""Compile-stage shortcuts of a fifth round (issue 15) give what the work they replace gives.

The writer of generated functions (``codegen._text``, ``codegen.statements_text``) against ``ast.unparse``
of the ``ast`` tree ``codegen.to_ast`` makes, byte for byte: on the corpus's generated code (reverse and
forward) and on hand-made trees holding what the writer must leave to ``ast.unparse`` or write with care.
"""

import ast

import gast
import numpy as np
import pytest
from test_compile_stages import CASES, _compile_all

import sct
from sct.backend import codegen


def _reference(tree) -> str:
    return codegen.written(codegen.to_ast(tree))


def test_the_writer_writes_what_ast_unparse_writes_on_generated_code(monkeypatch):
    written = []
    text = codegen._text

    def checked(fn):
        mine = text(fn)
        assert mine == ast.unparse(codegen.to_ast(fn))
        written.append(fn)
        return mine

    monkeypatch.setattr(codegen, "_text", checked)
    _compile_all(monkeypatch, CASES)
    for fn, args in CASES[:20]:
        try:
            sct.jvp(fn, tuple(args), tuple(np.ones_like(np.asarray(a, dtype=float)) for a in args))
        except Exception:  # refused in forward mode: the reverse ones above are what counts
            continue
    assert len(written) > len(CASES)


def _fn(body: str, params: str = "x, y") -> gast.FunctionDef:
    return gast.parse(f"def f({params}):\n" + "".join(f"    {line}\n" for line in body.split("\n"))).body[0]


_BODIES = [
    "a = x + y\nb = np.sin(a) * y\nreturn b",
    "a = x ** 2\nb = -a\nc = -(x + y)\nd = not x\ne = (x + y) * 2\nreturn (a, b)",
    "a = x[0]\nb = x[1:2, ::3]\nc = x[y, 0]\nd = x.T[0].shape\ne = (1).real\nf = 1.5.real",
    "a = f(*x, **y)\nb = f(x, k=y, z=[1, 2])\nc = f(x for x in y)\nd = g()(x)\ne = (x + y)(1)",
    "a = 'it''s'\nb = \"q\"\nc = None\nd = True\ne = ...\nf = 1e309\ng = x if y else 0\nh = lambda t: t",
    "if x:\n    a = 1\nelif y:\n    a = 2\nelif x > y:\n    a = 3\nelse:\n    a = 4\nreturn a",
    "if x:\n    a = 1\nelse:\n    if y:\n        a = 2\n    a = 3",
    "for i in range(3):\n    x = x + i\nelse:\n    y = 1\nwhile x < 3:\n    x += 1\n    break\nelse:\n    continue",
    "for i, j in z:\n    pass",
    "del a, b[0], c.d\nglobal q\nx: int = 3\nx += 1\nassert x, 'no'\nraise ValueError('e')",
    "a = b = x\na, b = x, y\n[a, b] = x\nx[0] = 1\nx.y = 2",
    "def g(a, b=1.0, *c, d, **e):\n    return a\nreturn g",
    "'''a docstring'''\nreturn x",
    "x = 1\n'not a docstring'\nreturn x",
    "try:\n    a = 1\nexcept E as e:\n    a = 2",
    "with x as y:\n    a = 1",
    "a = {1: 2, **x}\nb = {1, 2}\nc = [t for t in x if t]\nd = f'{x!r:>3} y'\ne = x < y < 3\nf = x and y or 2",
    "a = ''\nb = 'é ü'\nc = u'u'\nd = 'tab\\there'\ne = 'end\"'\nf = \"it's\"\ng = 'a\\\\b'\nh = f('x', y='z')",
    "x += 1\nx[0] -= y * 2\nx.a *= -y\nx **= 2\nx //= f(y)\nx @= y + 1",
    "a = x @ y // 2 % 3 << 1 >> 2 | 3 ^ 4 & 5\nb = ~x\nc = +x\nd = await x\ne = (yield x)",
]


@pytest.mark.parametrize("body", _BODIES)
def test_the_writer_on_hand_made_functions(body):
    fn = _fn(body)
    assert codegen.unparse(fn) == _reference(fn)
    assert codegen.statements_text(fn.body) == codegen.written(
        ast.Module(body=[codegen.to_ast(s) for s in fn.body], type_ignores=[])
    )


@pytest.mark.parametrize("value", [-0.5, -0.0, -1, -3, float("inf"), float("-inf"), float("nan"), 2.5, 0, 7, 0.0])
def test_the_writer_writes_constants_as_the_conversion_does(value):
    """A negative constant becomes ``-(c)``, written in parentheses where an operand; the writer leaves those
    (and the constants ``ast.unparse`` spells its own way) to ``ast.unparse``."""
    c = gast.Constant(value=value, kind=None)
    for body in ["a = C", "a = x ** C", "a = C ** x", "a = C * x", "a = f(C)", "a = -C", "a = C.real", "return C"]:
        fn = _fn(body)
        for node in gast.walk(fn):
            for field in ("value", "left", "right", "operand"):
                if isinstance(getattr(node, field, None), gast.Name) and getattr(node, field).id == "C":
                    setattr(node, field, c)
            if isinstance(node, gast.Call):
                node.args = [c if isinstance(a, gast.Name) and a.id == "C" else a for a in node.args]
        assert codegen.unparse(fn) == _reference(fn), body


def test_the_writer_writes_comment_and_release_markers():
    fn = _fn("a = x\nb = y")
    fn.body.insert(1, codegen.comment("a = np.sin(x)"))
    fn.body.insert(2, codegen.comment('it\'s "quoted" \\ here'))
    fn.body.append(gast.Delete(targets=[codegen.name(n, store=False) for n in ("a", codegen.RELEASED)]))
    text = codegen.unparse(fn)
    assert text == _reference(fn)
    assert "    # a = np.sin(x)" in text and "del a  # not read again" in text


def test_a_nested_function_gets_its_empty_line():
    fn = _fn("a = x\ndef g(t):\n    return t\nreturn g")
    text = codegen.unparse(fn)
    assert text == _reference(fn)
    assert "\n\n    def g(t):" in text


def test_a_wrong_writer_fails_the_comparison(monkeypatch):
    """The comparison can fail: a writer that drops the spaces around ``*`` differs from ``ast.unparse``."""
    monkeypatch.setitem(codegen._BINOPS, gast.Mult, "*")
    fn = _fn("a = x * y")
    assert codegen.unparse(fn) == _reference(fn)
    monkeypatch.setattr(codegen, "_BINOPS", {**codegen._BINOPS, gast.Mult: "* "})
    assert codegen.unparse(fn) != _reference(fn)


def _reference_global_numbers(ir, parsed) -> dict:
    """``pipeline._global_numbers`` as it was: a walk whatever the module holds."""
    from sct.backend import variants
    from sct.ir import Assign, For, names_in, walk

    assigned = {s.target for s in walk(ir.body) if isinstance(s, Assign | For)} | set(ir.params)
    found = {}
    for stmt in walk(ir.body):
        if not isinstance(stmt, Assign):
            continue
        for name in names_in(stmt.value):
            if name in found or name in assigned or name in parsed.closure:
                continue
            value = parsed.globals.get(name)
            if type(value) in variants.NUMBERS and ir.namespace.get(name, value) is value:
                found[name] = 0
    return found


_NUMBERS_MODULE = """import numpy as np

LOG_2PI = 1.8378770664093453
N = 3
FLAG = True
NAME = "x"


def f(x):
    y = np.sin(x) * LOG_2PI + N
    z = y * FLAG
    return np.sum(z) + len(NAME)
"""


def test_global_numbers_are_those_the_walk_finds(monkeypatch):
    import programs as P

    from sct import pipeline

    function = pipeline._global_numbers
    seen = []

    def checked(ir, parsed):
        found = function(ir, parsed)
        assert found == _reference_global_numbers(ir, parsed)
        seen.append(found)
        return found

    monkeypatch.setattr(pipeline, "_global_numbers", checked)
    _compile_all(monkeypatch, CASES[:10] + [(P.load(_NUMBERS_MODULE), [np.linspace(0.1, 0.9, 4)])])
    assert {"LOG_2PI": 0, "N": 0, "FLAG": 0} in seen or {"LOG_2PI": 0, "N": 0} in seen
    assert {} in seen


def _reference_small(body) -> set:
    """``liveness._small`` as it was: the worklist over every singly bound name, its readers all indexed."""
    from sct.backend.codegen import nodes
    from sct.passes import liveness as L

    values, other, read = {}, set(), []
    for stmt in body:
        for node in nodes(stmt):
            if L._single(node):
                values.setdefault(node.targets[0].id, []).append(node.value)
                read.append((node.targets[0].id, [n for n in nodes(node.value) if isinstance(n, gast.Name)]))
            elif isinstance(node, gast.Assign | gast.AugAssign | gast.AnnAssign | gast.For):
                other |= L._stores(node)
    small = set(values) - other
    readers = {}
    for var, names in read:
        for node in names:
            readers.setdefault(node.id, set()).add(var)
    pending = list(small)
    while pending:
        var = pending.pop()
        if var in small and not all(L._small_value(e, small) for e in values[var]):
            small.discard(var)
            pending.extend(readers.get(var, ()))
    return small


def _reference_record_shapes(fn, arrays, facts) -> set:
    """``liveness.record_shapes`` as it was: every name of the function indexed."""
    from sct.passes import liveness as L

    body, walks = fn.body, facts.walks
    binds, reads, defined = {}, {}, {}
    for k, stmt in enumerate(body):
        summary = walks.of(stmt)
        for call in summary.calls:
            reads.setdefault(call.args[1].id, []).append((k, call, True))
        shape_args = {id(call.args[1]) for call in summary.calls}
        for node in summary.names:
            if id(node) in shape_args:
                continue
            if isinstance(node.ctx, gast.Load):
                reads.setdefault(node.id, []).append((k, node, False))
            else:
                binds[node.id] = binds.get(node.id, 0) + 1
                if isinstance(stmt, gast.Assign) and node in stmt.targets:
                    defined[node.id] = k
    taken = facts.locals | {a.id for a in fn.args.args} | set(reads)
    records, params = [], {a.id for a in fn.args.args}
    for var in sorted(set(arrays) & set(defined) - facts.captured - params - facts.small):
        if not L._makes_array(body[defined[var]].value):
            continue
        uses = reads.get(var, [])
        if binds[var] != 1 or not any(shape for _, _, shape in uses):
            continue
        last = max([defined[var]] + [k for k, _, shape in uses if not shape])
        if any(k <= last for k, _, shape in uses if shape):
            continue
        record = L._fresh(f"{var}_shape", taken)
        for k, call, shape in uses:
            if shape:
                call.args[1] = codegen.name(record)
                walks.forget(body[k])
        records.append((last, record, var))
    for last, record, var in sorted(records, reverse=True):
        shape = gast.Call(
            func=gast.Attribute(value=codegen.name("np"), attr="shape", ctx=gast.Load()),
            args=[codegen.name(var)],
            keywords=[],
        )
        body.insert(last + 1, gast.Assign(targets=[codegen.name(record, store=True)], value=shape, type_comment=None))
    return {record for _, record, _ in records}


_SHAPES = """import numpy as np


def f(x, b):
    a = np.sin(x)
    c = a + b
    d = a * 2.0
    n = 3
    m = n + 1
    k = m * x.shape[0]
    return np.sum(c * d) + k
"""


def test_small_names_and_shape_records_are_those_the_full_indexes_give(monkeypatch):
    """The small names (a worklist over the names that can be small) and the shape records (an index of the
    names that can get one) against the passes as they were, on the trees the liveness pass is given."""
    import copy

    import programs as P
    from test_compile_stages import _released_trees

    from sct.passes import liveness

    cases = CASES + [(P.load(_SHAPES), [np.linspace(0.1, 0.9, 4), np.ones((3, 1))])]
    trees = _released_trees(monkeypatch, cases)
    recorded = small = 0
    for fn, (_, arrays) in trees:
        found = liveness._small(fn.body)
        assert found == _reference_small(fn.body), codegen.unparse(fn)
        small += bool(found)
        mine, theirs = copy.deepcopy(fn), copy.deepcopy(fn)
        records = liveness.record_shapes(mine, arrays)
        assert records == _reference_record_shapes(theirs, arrays, liveness._Facts(theirs))
        assert codegen.unparse(mine) == codegen.unparse(theirs)
        recorded += bool(records)
    assert recorded and small


def _same_tree(a, b, path="tree") -> None:
    """The same types, the same attributes (fields and positions) with the same values, all the way down."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} against {type(b).__name__}"
    if isinstance(a, list):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            _same_tree(x, y, f"{path}[{k}]")
    elif isinstance(a, gast.AST):
        assert vars(a).keys() == vars(b).keys(), path
        for key in vars(a):
            _same_tree(getattr(a, key), getattr(b, key), f"{path}.{key}")
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} against {b!r}"


_SYNTAX = """
import a.b as c
from . import d
@dec(1)
class K(Base, metaclass=M):
    x: int = 1
    async def m(self, /, p, *args, q=2, **kw) -> None:
        async with a as b, c:
            async for i in y:
                await z
        try:
            pass
        except (E, F) as e:
            raise G from e
        except Exception:
            pass
        else:
            pass
        finally:
            del x
        match p:
            case [1, *rest] | {"k": v} if v:
                pass
            case Point(x=0) as q:
                pass
        return lambda t, *u: (yield t)
g = [x for x in y if x] + [{k: v for k, v in z}, {*s}, (w for w in s)]
h = f"{a!r:>{w}} {b=}" + b"bytes" + ... + 1j + -0.5 + x[1:2, ::3] + x[...]
global gg
nonlocal_ok = (n := 3) if a else b
"""


def test_the_parse_conversion_gives_gasts_tree():
    """``parse.to_gast`` of ``ast.parse`` against ``gast.parse``: sct's own source, and every kind of node."""
    from pathlib import Path

    from sct.frontend import parse

    if not parse._OWN_CONVERSION:
        pytest.skip("sct parses with gast.parse here (to_gast is used on Python 3.10/3.11 with gast 0.7.0 only)")
    root = Path(sct.__file__).parent
    sources = [_SYNTAX] + [path.read_text() for path in sorted(root.rglob("*.py"))]
    for source in sources:
        _same_tree(parse.to_gast(ast.parse(source)), gast.parse(source))
    moved = gast.parse(_SYNTAX)
    moved.body[0].lineno += 1
    with pytest.raises(AssertionError):  # the comparison sees a position
        _same_tree(parse.to_gast(ast.parse(_SYNTAX)), moved)


def test_the_releases_leave_the_summaries_they_read_unchanged(monkeypatch):
    """The liveness pass reads a plain statement's sets from its summary without copying them: after a release
    every summary still kept is what a new walk of its statement gives (one changed in place fails this)."""
    from test_compile_stages import _released_trees

    from sct.passes import liveness

    trees = _released_trees(monkeypatch, CASES)
    checked = 0
    for fn, (small, arrays) in trees:
        walks = liveness._Walks()
        liveness._check(fn.body, in_loop=False, walks=walks)
        facts = liveness._Facts(fn, walks)
        facts.locals |= liveness.record_shapes(fn, arrays, facts)
        liveness._Release(fn, small, facts).run()
        for summary in list(walks.found.values()):
            fresh = liveness._Summary(summary.stmt)
            if summary.plain:
                assert (summary.loads, summary.stores, summary.deleted) == (fresh.loads, fresh.stores, fresh.deleted)
                checked += 1
    assert checked > 100
