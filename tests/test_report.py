"""The HTML report (``sct.report``, ``sct dump --html``) and the explanation (``sct dump --explain``).

The pages are parsed with ``html.parser``: every user line that produced code
maps to generated lines and back, the page loads nothing from outside, and the
variables table agrees with what the generated code does. Nothing here depends
on the exact generated text: what is checked is computed from it.
"""

import ast
import html
import inspect
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import functions as F
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sct
from sct.cli.commands import load, main
from sct.explain import explain

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples by their paths from the root, as the docs show them


CASES = [
    ("examples/seed.py:f", (0, 1)),
    ("examples/rnn.py:loss", (0, 1, 2, 3)),
    ("examples/mlp.py:loss", 0),
    ("examples/relu_net.py:loss", 0),
    ("examples/scalar.py:f", 0),
]
CORPUS = [F.polynomial, F.mlp, F.reductions, F.branch, F.affine_loop, F.loop_with_branch, F.while_loop, F.rnn]


class Page(HTMLParser):
    """The lines of both panes (``(pane, number, key, text)``), every tag's attributes, the style and script text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.lines, self.tags, self.pane, self.current, self.depth = [], [], None, None, 0
        self.style, self.script, self.in_tag = [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "div" and attrs.get("id") in ("user", "generated"):
            self.pane = attrs["id"]
        if tag in ("style", "script"):
            self.in_tag = tag
        if tag == "div" and attrs.get("class") == "line":
            self.current = [self.pane, None, attrs.get("data-k"), ""]
            self.depth = 0
        elif self.current is not None and tag == "span":
            self.depth += 1
            if attrs.get("class") == "ln":
                self.current[1] = "number"
            elif attrs.get("class") == "from":
                self.current[1] = ("from", self.current[1])

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.in_tag = None
        if self.current is None:
            return
        if tag == "span":
            self.depth -= 1
            if isinstance(self.current[1], tuple):
                self.current[1] = self.current[1][1]
        if tag == "div":
            self.lines.append(tuple(self.current))
            self.current = None

    def handle_data(self, data):
        if self.in_tag == "style":
            self.style.append(data)
        elif self.in_tag == "script":
            self.script.append(data)
        if self.current is None:
            return
        if self.current[1] == "number":
            self.current[1] = int(data)
        elif not isinstance(self.current[1], tuple):
            self.current[3] += data


def user_statement_lines(fn) -> set:
    """The lines of ``fn``'s source that hold a statement computing something (not the def, docstrings, pass)."""
    lines, first = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    found = set()
    for node in ast.walk(tree.body[0]):
        if not isinstance(node, ast.stmt) or isinstance(node, ast.FunctionDef | ast.Pass):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        found.add(node.lineno + first - 1)
    return found


def _report(spec_or_fn, wrt):
    fn = load(spec_or_fn) if isinstance(spec_or_fn, str) else spec_or_fn
    return fn, sct.report(fn, wrt=wrt)


@pytest.mark.parametrize("spec,wrt", CASES + [(fn, 0) for fn in CORPUS], ids=lambda c: getattr(c, "__name__", str(c)))
def test_every_user_line_maps_to_generated_lines_and_back(spec, wrt):
    fn, page = _report(spec, wrt)
    parsed = Page(page)
    user = [line for line in parsed.lines if line[0] == "user"]
    generated = [line for line in parsed.lines if line[0] == "generated"]
    text = sct.source(fn, wrt=wrt)
    assert [g[3] for g in generated] == text.splitlines()  # the code, whole and in order
    user_keys = {k for _, _, k, _ in user if k}
    generated_keys = {k for _, _, k, _ in generated if k}
    assert generated_keys == user_keys  # each linked line has partners on the other side
    by_number = {number: key for _, number, key, _ in user}
    for number in user_statement_lines(fn):
        assert by_number.get(number), f"line {number} of {fn.__name__} maps to no generated line"
    first = inspect.getsourcelines(fn)[1]
    own = [(n, k) for _, n, k, _ in user if k and n >= first]
    labels = {}
    for _, _, key, _ in generated:
        if key:
            labels[key] = labels.get(key, 0) + 1
    for number, key in own:  # one user line per key, and generated lines for it
        assert [n for _, n, k, _ in user if k == key] == [number]
        assert labels[key] >= 1


def test_a_user_variables_lines_map_to_its_line(tmp_path):
    """Each user line assigns one variable: the forward line that assigns it and its backward block name that line."""
    path = tmp_path / "straight.py"
    path.write_text(
        "import numpy as np\n\n\ndef f(x, y):\n    u = np.sin(x) * y\n    v = u + x * x\n"
        "    w = np.exp(-v) / (1.0 + u)\n    return w * v\n"
    )
    fn = load(f"{path}:f")
    found = explain(fn, wrt=(0, 1))
    lines = found.text.splitlines()
    expected = {"u": 5, "v": 6, "w": 7}
    for number, (line, origin) in enumerate(zip(lines, found.origins), 1):
        stripped = line.strip()
        for var, user_line in expected.items():
            if stripped.startswith(f"{var} = ") or stripped.startswith(f"# {var} = "):
                assert origin is not None and origin.lineno == user_line, (number, line, origin)
    assert all(o is None or o.filename == str(path) for o in found.origins)


OPS = ["+", "-", "*"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(OPS), st.integers(0, 20), st.integers(0, 20), st.booleans()), min_size=1, max_size=8
    )
)
def test_random_straight_line_programs_map_each_assignment_to_its_line(tmp_path_factory, program):
    """``vK = vI op vJ`` (or ``np.sin(vI) op vJ``), one per line: every ``vK = ...`` line maps to vK's line."""
    body, names = [], ["x", "y"]
    for k, (op, i, j, wrap) in enumerate(program):
        left = f"np.sin({names[i % len(names)]})" if wrap else names[i % len(names)]
        body.append(f"    v{k} = {left} {op} {names[j % len(names)]}")
        names.append(f"v{k}")
    source = "import numpy as np\n\n\ndef f(x, y):\n" + "\n".join(body) + f"\n    return {names[-1]} * x\n"
    path = tmp_path_factory.mktemp("prog") / "prog.py"
    path.write_text(source)
    fn = load(f"{path}:f")
    found = explain(fn, wrt=(0, 1))
    line_of = {f"v{k}": 5 + k for k in range(len(program))}
    for line, origin in zip(found.text.splitlines(), found.origins):
        match = re.match(r"\s*(?:# )?(v\d+) = ", line)
        if match and match[1] in line_of:
            assert origin is not None and origin.lineno == line_of[match[1]], (line, origin)


EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)


@pytest.mark.parametrize("spec,wrt", CASES)
def test_the_page_loads_nothing_from_outside(spec, wrt):
    _, page = _report(spec, wrt)
    parsed = Page(page)
    for tag, attrs in parsed.tags:
        assert tag not in ("link", "iframe", "img", "object", "embed")
        for name in ("src", "href", "data", "action", "srcset"):
            assert name not in attrs or not EXTERNAL.match(attrs[name] or ""), (tag, attrs)
    css = "".join(parsed.style)
    assert "@import" not in css and "url(" not in css
    assert "http" not in "".join(parsed.script)
    assert "<script src" not in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_the_page_is_the_same_each_time():
    fn = load("examples/rnn.py:loss")
    assert sct.report(fn, wrt=(0, 1)) == sct.report(fn, wrt=(0, 1))


def test_report_writes_a_path_and_returns_the_page(tmp_path):
    fn = load("examples/seed.py:f")
    out = tmp_path / "f.html"
    page = sct.report(fn, out, wrt="y")
    assert out.read_text(encoding="utf-8") == page
    assert isinstance(page, str) and "<iframe srcdoc=" in page._repr_html_()
    with pytest.raises(sct.SctError, match="is a directory"):
        sct.report(fn, tmp_path)


def _cells(page):
    rows, row, cell = [], None, None

    class Table(HTMLParser):
        def handle_starttag(self, tag, attrs):
            nonlocal row, cell
            if tag == "tr":
                row = []
            elif tag in ("td", "th") and row is not None:
                cell = ""

        def handle_endtag(self, tag):
            nonlocal row, cell
            if tag in ("td", "th") and row is not None:
                row.append(html.unescape(cell))
                cell = None
            elif tag == "tr":
                rows.append(row)
                row = None

        def handle_data(self, data):
            nonlocal cell
            if cell is not None:
                cell += data

    Table().feed(page)
    return rows


def _recorded(text: str) -> tuple[set, set]:
    """The names the code pushes on a record (``v_stack.append(v)``, a loop's ``tape.append((v, w))``),
    and those whose shape it pushes (``np.shape(v)``)."""
    values, shapes = set(), set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append":
            for item in node.args[0].elts if isinstance(node.args[0], ast.Tuple) else node.args:
                if isinstance(item, ast.Name):
                    values.add(item.id)
                elif isinstance(item, ast.Call) and ast.unparse(item.func) == "np.shape":
                    shapes.add(item.args[0].id)
    return values, shapes


def test_the_variables_table_agrees_with_the_generated_code():
    fn = load("examples/rnn.py:loss")
    wrt = (0, 1, 2, 3)
    page = sct.report(fn, wrt=wrt)
    text = sct.source(fn, wrt=wrt)
    rows = [r for r in _cells(page) if len(r) == 7]
    assert rows[0][0] == "variable"
    table = {r[0]: r for r in rows[1:]}
    assert {"Wx", "Wh", "b", "w_out", "xs", "targets", "h", "prediction"} <= set(table)
    for name in ("Wx", "Wh", "b", "w_out"):
        assert table[name][3] == "yes"
    for name in ("xs", "targets"):
        assert table[name][3] == "no"
    values, shapes = _recorded(text)
    for name, row in table.items():
        pushed, pushed_shape = name in values, name in shapes
        assert (row[5] == "recorded") == pushed, row
        assert (row[5] == "shape recorded") == (pushed_shape and not pushed), row
        if row[3] == "no":  # an inactive variable has no adjoint
            assert not re.search(rf"^\s*delta_{re.escape(name)} = ", text, re.M), row


def test_sizes_count_the_pushes_of_each_loop_trip():
    fn = load("examples/rnn.py:loss")
    found = explain(fn, wrt=(0, 1, 2, 3))
    lines = found.text.splitlines()
    (loop,) = found.loops
    header = lines[loop.line - 1]
    indent = len(header) - len(header.lstrip())
    inside = []
    for line in lines[loop.line :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        inside.append(line)
    values, shapes = _recorded(textwrap.dedent("\n".join(inside)))  # v, and a tape's (v, np.shape(w))
    assert sorted(loop.pushes) == sorted([*values, *(f"shape of {v}" for v in shapes)]) and loop.pushes
    assert loop.origin is not None and loop.origin.lineno == inspect.getsourcelines(fn)[1] + 3  # the `for` line
    sizes = dict(found.sizes())
    assert (
        f"{len(loop.pushes)} values recorded per trip" in sizes[f"loop at {loop.origin.filename}:{loop.origin.lineno}"]
    )
    assert sizes["generated"].startswith(f"{len(lines)} lines")


def test_forward_mode_report_maps_tangent_lines_to_their_values():
    fn = load("examples/rnn.py:loss")
    found = explain(fn, wrt=0, mode="forward")
    for line, origin in zip(found.text.splitlines(), found.origins):
        if line.strip().startswith("dot_h = "):
            assert origin is not None and origin.lineno in (
                inspect.getsourcelines(fn)[1] + 2,
                inspect.getsourcelines(fn)[1] + 4,
            )
    assert all(v.record == "-" for v in found.variables)
    assert "<html" in sct.report(fn, wrt=0, mode="forward")


# ---- the command line -------------------------------------------------------------------------------
def test_dump_explain_prints_the_code_with_user_lines_and_the_table(capsys):
    assert main(["dump", "examples/seed.py:f", "--wrt", "x,y", "--explain", "--generic"]) == 0
    out = capsys.readouterr().out
    code = sct.source(load("examples/seed.py:f"), wrt=("x", "y"), generic=True).splitlines()
    shown = [line.split(" | ", 1)[1] for line in out.splitlines() if " | " in line][: len(code)]
    assert [s.rstrip() for s in shown] == [c.rstrip() for c in code]
    assert "examples/seed.py:13 |     # out = e / h" in out
    assert "\nvariables:\n" in out and "\nsizes:\n" in out
    assert re.search(r"^\s+x\s+parameter\s+yes\s", out, re.M)


def test_dump_html_writes_the_page(tmp_path, capsys):
    out = tmp_path / "seed.html"
    assert main(["dump", "examples/seed.py:f", "--html", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"wrote {out}" in captured.err
    assert out.read_text(encoding="utf-8") == sct.report(load("examples/seed.py:f"))


def test_dump_html_into_a_directory_is_a_usage_error(tmp_path, capsys):
    assert main(["dump", "examples/seed.py:f", "--html", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sct: ") and "is a directory" in err and "Traceback" not in err


def test_a_gradient_object_reports_its_own_code():
    fn = load("examples/seed.py:f")
    page = sct.report(sct.grad(fn, wrt=1))
    assert "reverse mode, by y;" in page
    assert page == sct.report(fn, wrt=1)
    assert "reverse mode, by x;" in sct.report(sct.grad(fn, wrt=1), wrt=0)


def _lines_that_set(fn) -> dict:
    """``{name: lines}``: where ``fn``'s source assigns each name (``=``, ``+=``, a ``for`` target, ``v.append``)."""
    lines, first = inspect.getsourcelines(fn)
    found = {}
    for node in ast.walk(ast.parse(textwrap.dedent("".join(lines)))):
        targets = {
            ast.Assign: lambda n: n.targets,
            ast.AugAssign: lambda n: [n.target],
            ast.AnnAssign: lambda n: [n.target],
            ast.For: lambda n: [n.target],
        }.get(type(node), lambda n: [])(node)
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
        ):
            targets = [node.value.func.value]  # xs.append(x): xs changes
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    found.setdefault(name.id, set()).add(node.lineno + first - 1)
    return found


CORPUS_ALL = [fn for name, fn in sorted(vars(F).items()) if inspect.isfunction(fn) and fn.__module__ == F.__name__]


@pytest.mark.parametrize("fn", CORPUS_ALL, ids=lambda fn: fn.__name__)
def test_lines_assigning_a_user_variable_map_to_a_line_that_sets_it(fn):
    """A forward line ``v = ...`` (or a backward ``# v = ...`` block) of a variable of the user's
    maps to a line of the user's that sets ``v``, never to another line."""
    try:
        found = explain(fn)
    except sct.SctError:  # needs arguments to compile (a function argument, say): not this test's business
        pytest.skip("sct needs the arguments to compile it")
    sets = _lines_that_set(fn)
    here = fn.__code__.co_filename
    for line, origin in zip(found.text.splitlines(), found.origins):
        match = re.match(r"\s*(?:# )?([A-Za-z_]\w*)(?:\[.*\])? = ", line)
        if match and match[1] in sets and origin is not None and origin.filename == here:
            assert origin.lineno in sets[match[1]], (line, origin.lineno, sorted(sets[match[1]]))


def test_del_lines_in_a_backward_block_keep_the_map():
    """A pass that drops values after their last use (``del b``) must not cut a block's lines off its line."""
    from sct import api, pipeline
    from sct.explain import line_origins

    fn = load("examples/rnn.py:loss")
    fn_, positions, sig, options, _ = api.source_request(fn, (0, 1, 2, 3))
    seen = {}
    text = pipeline.build(
        fn_, positions, sig, **options, counted=False, observe=lambda ir, wrt: seen.update(ir=ir)
    ).source
    plain = line_origins(text, seen["ir"])
    lines, with_del, keep = text.splitlines(), [], []
    for number, line in enumerate(lines):
        with_del.append(line)
        keep.append(number)
        if line.strip().startswith("# ") and number > lines.index("    # backward"):
            with_del.append(line[: len(line) - len(line.lstrip())] + "del unused")
            keep.append(None)
    mapped = line_origins("\n".join(with_del), seen["ir"])
    assert [o for o, k in zip(mapped, keep) if k is not None] == plain
    assert any(o is not None for o, k in zip(mapped, keep) if k is None)
