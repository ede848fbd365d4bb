"""Shortcuts that make the compile stages cheaper give what the full work gives (issue 15).

Each shortcut is compared with the work it skips or summarises, on the shared corpus and on
random programs: a shortcut that missed a case would show here as a different answer, not as a
wrong gradient somewhere later.
"""

import copy
import inspect
import types

import functions as F
import gast
import numpy as np
import programs as P
import pytest
from hypothesis import HealthCheck, given, settings

import sct
from sct import pipeline, validate
from sct.backend import codegen
from sct.errors import Problem
from sct.frontend import aliases
from sct.frontend import parse as frontend
from sct.passes import liveness

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


# ---- liveness: one walk of each statement (liveness._Walks) ----------------------------------
def _fresh(fn):
    """A new function object of ``fn``'s code: compiled again (the variants are cached per function object)."""
    return types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


def _compile_all(monkeypatch, cases) -> None:
    monkeypatch.setenv("SCT_CACHE", "0")  # built, not read from the persistent cache (SCT_TEST_CACHE runs)
    for fn, args in cases:
        with np.errstate(all="ignore"):
            try:
                sct.grad(_fresh(fn), wrt=tuple(range(len(args))))(*args)
                sct.vjp(_fresh(fn), *args)
            except validate.ValidationError:  # f itself fails (recursing without end on a float, say)
                continue
            except AssertionError:
                raise
            except Exception:  # refused, or f itself fails on these arguments (a float where it wants a list)
                continue


def _released_trees(monkeypatch, cases) -> list:
    """The generated functions the liveness pass is given (copies, before it changes them)."""
    trees, release = [], liveness.release

    def kept(fn, *args, **kwargs):
        trees.append((copy.deepcopy(fn), args))
        return release(fn, *args, **kwargs)

    monkeypatch.setattr(pipeline.liveness, "release", kept)
    _compile_all(monkeypatch, cases)
    return trees


def _statements(stmts):
    for stmt in stmts:
        yield stmt
        for field in ("body", "orelse"):
            yield from _statements(getattr(stmt, field, None) or [])


def _assert_summaries_agree(fn, walks):
    for stmt in _statements(fn.body):
        assert walks.loads(stmt) == liveness._loads(stmt), codegen.unparse(stmt)
        assert walks.sure_loads(stmt) == liveness._sure_loads(stmt), codegen.unparse(stmt)
        assert walks.stores(stmt) == liveness._stores(stmt), codegen.unparse(stmt)


CASES = [(fn, list(args)) for fn, args in F.SCALAR_CONTROL_CASES] + [
    (fn, [np.random.default_rng(0).normal(size=s) if s else 0.5 for s in shapes]) for fn, shapes in F.ARRAY_CASES
]


def test_statement_summaries_give_what_walking_the_statements_gives(monkeypatch):
    trees = _released_trees(monkeypatch, CASES)
    assert len(trees) > len(CASES)
    plain = 0
    for fn, _ in trees:
        walks = liveness._Walks()
        _assert_summaries_agree(fn, walks)
        facts = liveness._Facts(fn, walks)
        assert facts.locals == liveness._locals(fn.body)
        assert facts.captured == liveness._captured(fn.body)
        assert facts.small == liveness._small(fn.body)
        plain += sum(s.plain for s in walks.found.values())
    assert plain > 100  # the summaries were used, not only the walks they stand for


def test_a_statement_the_pass_rewrites_is_walked_again(monkeypatch):
    """``record_shapes`` rewrites ``unbroadcast(g, a)`` into ``unbroadcast(g, a_shape)``: a summary kept from
    before would still say the statement reads ``a``, and ``a`` would be released too late or too early."""
    text = "def f(x, w, g):\n    a = x * w\n    b = np.sin(a)\n    c = unbroadcast(g, a) * b\n    return c\n"
    fn = gast.parse(text).body[0]
    walks = liveness._Walks()
    facts = liveness._Facts(fn, walks)
    before = walks.loads(fn.body[2])
    assert before == {"unbroadcast", "g", "a", "b"}
    assert liveness.record_shapes(fn, {"a", "b"}, facts) == {"a_shape"}
    rewritten = next(s for s in fn.body if "unbroadcast" in codegen.unparse(s))
    assert walks.loads(rewritten) == {"unbroadcast", "g", "a_shape", "b"}
    _assert_summaries_agree(fn, walks)


def test_a_statement_with_a_nested_scope_or_condition_is_not_plain():
    for text, plain in [
        ("a = b + c", True),
        ("del a, b", True),
        ("a = b if c else d", False),
        ("a = b and c", False),
        ("a = lambda: b", False),
        ("a = [b for b in c]", False),
        ("a = (b := c)", False),
        ("if a:\n    b = c", False),
    ]:
        summary = liveness._Summary(gast.parse(text).body[0])
        assert summary.plain is plain, text
    assert liveness._Summary(gast.parse("a = (b := c)").body[0]).walrus
    with pytest.raises(liveness._GiveUp):
        liveness._check(gast.parse("a = (b := c)").body, in_loop=False, walks=liveness._Walks())


# ---- codegen.statements: the statements of a tree without walking its expressions ---------------
KINDS_OF_STATEMENTS = """
def f(x, xs):
    a = x + 1
    if a:
        for i in range(3):
            while x:
                x -= 1
                break
            else:
                pass
        else:
            continue
    elif x:
        b = [y for y in xs]
    else:
        g = lambda v: v + 1
    try:
        del a
    except ValueError as e:
        raise
    except TypeError:
        return 1
    else:
        a = 2
    finally:
        x = 3
    with open(x) as h:
        async_ = h
    match x:
        case 1:
            x = 2
        case _:
            pass
    class C:
        y = 1
        def m(self):
            return self.y
    def inner(z=(lambda: 0)):
        nonlocal a
        global q
        return z
    return a
"""


def test_statements_are_the_statement_nodes_of_a_walk():
    trees = [gast.parse(KINDS_OF_STATEMENTS).body]
    trees += [frontend.parse(fn).node.body for fn in CORPUS]
    for stmts in trees:
        found = list(codegen.statements(stmts))
        walked = [n for s in stmts for n in codegen.nodes(s) if isinstance(n, gast.stmt)]
        assert len(found) == len(walked) and {id(n) for n in found} == {id(n) for n in walked}
    assert len(list(codegen.statements(trees[0]))) > 30


# ---- parse.check_supported: each node checked once ------------------------------------------------
BAD = """
import numpy as np


def f(x, xs):
    y = x << 1
    try:
        z = ~x
    except ValueError:
        pass
    with open("f") as h:
        del xs[0]
    w = np.add(*xs) + (x if x > 0 else {v for v in xs})
    for i in range(3):
        while x:
            global q
            x = x ^ 2
    return lambda: (yield)
"""


def _reference_unsupported(parsed):
    """The unsupported nodes in the order of the walk before it checked each node once (gast.iter_child_nodes)."""
    stack, found = list(reversed(parsed.node.body)), []
    while stack:
        node = stack.pop()
        if not frontend._allowed(parsed, node, frontend._SUPPORTED):
            found.append(node)
        if isinstance(node, gast.Call) and frontend._transposing_zip(node):
            stack.extend([node.args[0].value, node.func])
        elif frontend._allowed(parsed, node, frontend._SUPPORTED):
            stack.extend(reversed(list(gast.iter_child_nodes(node))))
    return found


def test_check_supported_reports_what_the_full_walk_reports_in_its_order():
    parsed = frontend.parse(P.load(BAD))
    found = _reference_unsupported(parsed)
    expected = [Problem(frontend._unsupported_message(n), parsed.location(n)) for n in found]
    with pytest.raises(sct.UnsupportedSyntaxError) as info:
        frontend.check_supported(parsed)
    assert len(found) >= 8
    assert info.value.problems == sct.UnsupportedSyntaxError(expected).problems


# ---- the reverse sweep skips the searches that can find nothing -------------------------------------
def test_the_emitter_counts_every_record_pop_it_tags(monkeypatch):
    """``dead_pops`` is skipped where the emitter tagged no pop (``tagged == 0``): no statement of the
    generated function may then carry a tag. Loops with records must be counted."""
    from sct.reverse import adjoint as reverse

    seen, build = [], reverse._Reverse.build

    def checked(self, *args, **kwargs):
        src = build(self, *args, **kwargs)
        tags = [n for n in codegen.nodes(src.fn) if getattr(n, "sct_record", None) is not None]
        seen.append((self.tagged, len(tags)))
        assert self.tagged or not tags
        return src

    monkeypatch.setattr(reverse._Reverse, "build", checked)
    _compile_all(monkeypatch, CASES)
    assert any(tagged for tagged, _ in seen) and any(not tagged for tagged, _ in seen)
    assert any(tags for _, tags in seen)  # some pops survive: the comparison compares something


# ---- unbox.convert: a targeted rewrite, as the NodeTransformer it replaced rewrote ---------------------
def _reference_convert(fn, wraps, drops):
    wraps, drops = {id(n) for n in wraps}, {id(n) for n in drops}

    class Rewrite(gast.NodeTransformer):
        def visit_Call(self, node):
            dropped = id(node) in drops
            self.generic_visit(node)
            if id(node) in wraps:
                return gast.Call(func=codegen.name("float"), args=[node], keywords=[])
            return node.args[0] if dropped else node

    Rewrite().visit(fn)


def test_unbox_converts_as_a_node_transformer_would(monkeypatch):
    from sct.passes import unbox

    compared, convert = [], unbox.convert

    def checked(fn, types):
        twin, wraps, drops = copy.deepcopy((fn, types.wraps, types.drops))  # one copy: the same nodes in each
        _reference_convert(twin, wraps, drops)
        convert(fn, types)
        assert codegen.unparse(fn) == codegen.unparse(twin)
        compared.append((len(wraps), len(drops)))

    monkeypatch.setattr(pipeline.unbox, "convert", checked)
    cases = [(fn, [0.7 + 0.1 * k for k in range(len(inspect.signature(fn).parameters))]) for fn in CORPUS]
    _compile_all(monkeypatch, cases)
    assert sum(w for w, _ in compared) >= 10 and sum(d for _, d in compared) >= 20


@pytest.mark.parametrize(
    "text, wrapped, dropped",
    [
        ("y = float(np.exp(x))", ["np.exp"], ["float"]),  # a wrap inside a drop: rewritten first
        ("y = float(float(x)) + np.sin(x)", ["np.sin"], ["float"]),  # drops inside drops
        ("y = np.exp(np.sin(float(x)))", ["np.exp", "np.sin"], ["float"]),
        ("y = [float(v) for v in np.cos(xs)]", ["np.cos"], ["float"]),
    ],
)
def test_unbox_rewrites_nested_calls_inside_out(text, wrapped, dropped):
    from types import SimpleNamespace

    from sct.passes import unbox

    def planned(fn):
        calls = [n for n in gast.walk(fn) if isinstance(n, gast.Call)]
        wraps = [c for c in calls if codegen.unparse(c.func) in wrapped]
        return SimpleNamespace(wraps=wraps, drops=[c for c in calls if codegen.unparse(c.func) in dropped])

    fn = gast.parse(f"def f(x, xs):\n    {text}\n    return y\n").body[0]
    twin = copy.deepcopy(fn)
    unbox.convert(fn, planned(fn))
    twin_plan = planned(twin)
    _reference_convert(twin, twin_plan.wraps, twin_plan.drops)
    assert codegen.unparse(fn) == codegen.unparse(twin)


# ---- lowering: one walk for the names it needs to know ------------------------------------------------
def test_one_walk_gives_the_name_facts_of_five(monkeypatch):
    from sct.frontend import lower

    trees = [frontend.parse(fn).node for fn in CORPUS] + [gast.parse(KINDS_OF_STATEMENTS).body[0]]
    trees.append(
        gast.parse(
            "def f(x, xs):\n    for i in range(2):\n        if x:\n            xs.append(x)\n"
            "            y = xs.pop()\n            x[i] = y\n    z = np.append(x, 1)\n    return z\n"
        ).body[0]
    )
    for node in trees:
        facts = lower._NameFacts(node)
        assert facts.used == {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}
        assert facts.stored == lower._assigned_names(node)
        assert facts.nested == lower._nested_assignments(node)
        assert facts.bindings == lower._binding_counts(node)
        assert facts.written == lower._written_names(node)
    assert {"xs", "y", "i"} <= facts.nested and "x" in facts.written and "z" not in facts.nested


def test_comments_written_together_are_those_written_one_by_one(monkeypatch):
    from sct.reverse import adjoint as reverse
    from sct.reverse.sweep import ForwardSweep

    compared, render = [], reverse._Reverse.render_comments

    def checked(self, body):
        render(self, body)
        for stmt in body:
            if id(stmt) in self.comments:
                assert self.comments[id(stmt)] == self.src.unparse(ForwardSweep.statement(stmt))
                compared.append(stmt)

    monkeypatch.setattr(reverse._Reverse, "render_comments", checked)
    text = "import numpy as np\n\n\ndef f(x, s):\n    y = x * 2.0\n    z = {'a': y, 'b\\n': -1.5}\n"
    text += "    w = np.sum(y[1:, ...] ** -0.5) + z['a'][0] - (lambda: 1.0)()\n    return w * s\n"
    _compile_all(monkeypatch, CASES + [(P.load(text), [np.ones((2, 3)), 0.5])])
    assert len(compared) > 100


# ---- codegen.compile_source binds only the names the code may read -----------------------------------
def _global_reads(code) -> set:
    import dis

    found = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _global_reads(const)
    return found


def test_every_name_of_the_namespace_the_code_reads_is_bound(monkeypatch):
    """A name of sct's namespace (``np``, ``unbroadcast``, a rule...) read as a global would read the user's module:
    each one the code reads must be in the closure."""
    made, compile_source = [], codegen.compile_source

    def checked(text, fn_name, user_globals, helpers, label, code=None, bound=None):
        function = compile_source(text, fn_name, user_globals, helpers, label, code=code, bound=bound)
        names = codegen.namespace(user_globals, helpers) if bound is None else bound
        assert not _global_reads(function.__code__) & set(names), text
        made.append(set(function.__code__.co_freevars))
        return function

    monkeypatch.setattr(codegen, "compile_source", checked)
    cases = [(fn, [0.7 + 0.1 * k for k in range(len(inspect.signature(fn).parameters))]) for fn in CORPUS]
    _compile_all(monkeypatch, CASES + cases)
    assert len(made) > 50 and any("unbroadcast" in names for names in made) and any("np" in names for names in made)


def _reference_contains(stmt, kinds, loops=True) -> bool:
    stack = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, kinds):
            return True
        if node is not stmt and not loops and isinstance(node, gast.For | gast.While):
            continue
        if isinstance(node, gast.FunctionDef | gast.Lambda) and node is not stmt:
            continue
        stack.extend(gast.iter_child_nodes(node))
    return False


def test_a_simple_statement_holds_no_jump_but_itself():
    from sct.frontend import control

    trees = [gast.parse(KINDS_OF_STATEMENTS).body[0]] + [frontend.parse(fn).node for fn in CORPUS]
    found = 0
    for tree in trees:
        for stmt in codegen.statements(tree.body):
            for kinds, loops in [(gast.Return, True), ((gast.Break, gast.Continue), False)]:
                expected = _reference_contains(stmt, kinds, loops)
                assert control._contains(stmt, kinds, loops) == expected, codegen.unparse(stmt)
                found += expected
    assert found > 20


# ---- aliases: reaching bindings kept as layers on a shared base ---------------------------------------
def _updates_with(monkeypatch, node, flat: int) -> dict:
    monkeypatch.setattr(aliases, "_FLAT", flat)
    return aliases._scanned_updates(node)


def _same_updates_however_layered(monkeypatch, node) -> dict:
    plain = _updates_with(monkeypatch, node, -1)  # every Env a plain dict, as before the layers
    for flat in (0, 1, 2, 64):
        assert _updates_with(monkeypatch, node, flat) == plain
    return plain


def test_layered_bindings_find_what_plain_ones_find(monkeypatch):
    found = 0
    for body in UPDATES:
        fn = P.load(f"import numpy as np\n\n\ndef f(x):\n    {body}\n")
        found += bool(_same_updates_however_layered(monkeypatch, frontend.parse(fn).node))
    for fn in CORPUS:
        found += bool(_same_updates_however_layered(monkeypatch, frontend.parse(fn).node))
    assert found >= 7


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(P.programs(control=True, shared=True, max_statements=6))
def test_random_programs_find_the_same_updates_however_layered(program):
    node = frontend.parse(P.load(program)).node
    with pytest.MonkeyPatch.context() as monkeypatch:
        _same_updates_however_layered(monkeypatch, node)


# ---- reverse.loops: a probe of a loop body reads the cached reversal of a loop in it, uncopied -------------
NESTED = [
    "def f(x):\n    s = x\n    for i in range(2):\n        for j in range(3):\n            for k in range(2):\n"
    "                s = np.sin(s) * 0.5 + x\n    return np.sum(s)\n",
    "def f(x):\n    s = x\n    for i in range(2):\n        t = s * 2.0\n        for j in range(2):\n"
    "            if np.sum(t) > 0.0:\n                t = np.cos(t) + s\n            else:\n                t = t * s\n"
    "            k = 0\n            while k < 2:\n                t = t * 0.9 + x\n                k = k + 1\n"
    "        s = s + t\n    return np.sum(s)\n",
    "def f(x):\n    s = x\n    for i in range(3):\n        for j in range(2):\n            if j > 0:\n"
    "                break\n            s = s * x\n        s = np.tanh(s)\n    return np.sum(s)\n",
]


def _sources_of(monkeypatch, fns, shared: bool) -> list:
    from sct.reverse import loops

    monkeypatch.setattr(loops, "SHARED_IN_PROBES", shared)
    monkeypatch.setenv("SCT_CACHE", "0")
    found = []
    for fn in fns:
        try:
            found.append(sct.source(_fresh(fn)))
            found.append(sct.source(_fresh(fn), optimize=False))
        except sct.SctError as exc:
            found.append(str(exc))
    return found


def test_nested_loops_reverse_the_same_with_uncopied_probes(monkeypatch):
    fns = [P.load("import numpy as np\n\n\n" + text) for text in NESTED]
    fns += [fn for fn, _ in F.SCALAR_CONTROL_CASES]
    shared = _sources_of(monkeypatch, fns, True)
    assert shared == _sources_of(monkeypatch, fns, False)
    assert sum("for " in s for s in shared) > 10


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(P.programs(control=("for", "while", "if"), max_depth=4, max_statements=6))
def test_random_loops_reverse_the_same_with_uncopied_probes(program):
    fn = P.load(program)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _sources_of(monkeypatch, [fn], True) == _sources_of(monkeypatch, [fn], False)
