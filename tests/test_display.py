"""Generated code in a notebook: ``sct.source(...)`` and gradient objects display themselves.

``sct.source`` still returns a ``str`` (equal to the text, printable, picklable as
a plain string); its ``_repr_html_`` shows the code, highlighted where Pygments
is installed and as an escaped ``<pre>`` where it is not, each backward block
folded (``<details>``) under its forward statement and the user's ``file:line``.
"""

import html
import inspect
import os
import pickle
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import sct
from sct.display import GeneratedSource, to_html


def f(x, y):
    u = np.sin(x) * y
    v = u + x * x
    return np.exp(-v) / (1.0 + u)


def looped(x, n):
    s = 0.0
    for i in range(3):
        if x < 1.0 + i:
            s = s + x * x
        else:
            s = s - np.cos(x)
    return s * s


FIRST = inspect.getsourcelines(f)[1]
HERE = f.__code__.co_filename


class Shown(HTMLParser):
    """The text of each ``<pre>`` and ``<summary>`` in order, and the tags met."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.parts, self.tags, self.where = [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("pre", "summary"):
            self.where = tag
            self.parts.append([tag, ""])

    def handle_endtag(self, tag):
        if tag in ("pre", "summary"):
            self.where = None

    def handle_data(self, data):
        if self.where is not None:
            self.parts[-1][1] += data


def test_source_is_still_a_str():
    text = sct.source(f, wrt=(0, 1))
    assert isinstance(text, str) and isinstance(text, GeneratedSource)
    assert text == str(text) and hash(text) == hash(str(text))
    assert text.startswith("def grad_f(") and text + "" == str(text)
    assert type(pickle.loads(pickle.dumps(text))) is str
    assert pickle.loads(pickle.dumps(text)) == text
    grad = sct.grad(f)
    assert isinstance(grad.source, str) and grad.source == sct.source(f)


def test_print_shows_the_plain_text(capsys):
    print(sct.source(f))
    assert capsys.readouterr().out == str(sct.source(f)) + "\n"


def _backward_comments(text):
    lines = text.splitlines()
    start = [line.strip() for line in lines].index("# backward")
    return [line.strip()[1:].strip() for line in lines[start + 1 :] if line.strip().startswith("#")]


@pytest.mark.parametrize("fn,wrt", [(f, (0, 1)), (looped, 0)])
def test_html_folds_each_backward_block_under_its_statement_and_user_line(fn, wrt):
    text = sct.source(fn, wrt=wrt)
    shown = Shown(text._repr_html_())
    summaries = [body for tag, body in shown.parts if tag == "summary"]
    comments = _backward_comments(text)
    assert len(summaries) == len(comments) > 0
    assert sum(tag == "details" for tag, _ in shown.tags) == len(comments)
    first = inspect.getsourcelines(fn)[1]
    last = first + len(inspect.getsourcelines(fn)[0]) - 1
    for summary, comment in zip(summaries, comments):
        assert summary.startswith(comment)
        label = summary[len(comment) :].strip()
        assert label.startswith(f"({HERE}:") and label.endswith(")")
        assert first < int(label[:-1].rsplit(":", 1)[1]) <= last
    # nothing lost: the code lines, in order (the comments are the summaries)
    kept = ("# forward", "# generic variant", "# variant for")  # the header says which variant: a code line here
    code = [line for line in text.splitlines() if not line.strip().startswith("#") or line.strip().startswith(kept)]
    pres = "\n".join(body for tag, body in shown.parts if tag == "pre").splitlines()
    assert [line for line in pres if line.strip() != "# backward"] == code


def test_the_line_of_each_block_is_the_users():
    text = sct.source(f, wrt=(0, 1))
    summaries = [body for tag, body in Shown(text._repr_html_()).parts if tag == "summary"]
    by_target = {s.split(" = ")[0]: s for s in summaries}
    assert by_target["u"].endswith(f"{HERE}:{FIRST + 1})")
    assert by_target["v"].endswith(f"{HERE}:{FIRST + 2})")


def test_without_pygments_the_html_is_an_escaped_pre(monkeypatch):
    text = sct.source(looped)
    assert "<" in text  # x < 1.0 + i: it must come out escaped, and read back as it was
    monkeypatch.setitem(sys.modules, "pygments", None)  # import pygments now raises ImportError
    shown = text._repr_html_()
    assert '<span style="color' not in shown  # no highlighting
    assert "&lt;" in shown and "<pre" in shown
    pres = "\n".join(body for tag, body in Shown(shown).parts if tag == "pre")
    assert [line for line in text.splitlines() if "<" in line] == [line for line in pres.splitlines() if "<" in line]


def test_with_pygments_the_html_is_highlighted():
    pytest.importorskip("pygments")
    assert '<span style="color' in sct.source(f)._repr_html_()


def test_markdown_is_a_fenced_block_with_the_user_lines():
    text = sct.source(f, wrt=(0, 1))
    md = text._repr_markdown_()
    assert md.startswith("```python\n") and md.rstrip().endswith("```")
    body = md.split("\n", 1)[1].rsplit("```", 1)[0]
    assert [line.split("  (")[0] for line in body.splitlines()] == text.splitlines()
    assert "# u = " in body and f"({HERE}:{FIRST + 1})" in body


def test_a_gradient_object_displays_its_source():
    grad = sct.grad(f, wrt=(0, 1))
    assert grad._repr_html_() == grad.source._repr_html_()
    assert grad._repr_markdown_() == grad.source._repr_markdown_()
    assert "grad_f" in grad._repr_html_()
    assert "grad_f" in sct.value_and_grad(f)._repr_html_()


def refused(x):
    try:
        return x * 2.0
    except ValueError:
        return x


def test_a_gradient_that_cannot_be_made_displays_the_error():
    grad = sct.grad(refused)
    shown = grad._repr_html_()
    assert shown.startswith("<pre") and "sct: " in html.unescape(shown)
    assert "sct: " in grad._repr_markdown_()


def test_forward_mode_has_no_blocks_to_fold():
    text = sct.source(f, mode="forward")
    shown = Shown(text._repr_html_())
    assert not any(tag == "details" for tag, _ in shown.tags)
    assert "\n".join(body for tag, body in shown.parts if tag == "pre") == str(text)


def test_plain_text_displays_without_a_line_map():
    shown = Shown(to_html("def g(x):\n    # backward\n    # y = x\n    delta_x = 1.0\n    return delta_x"))
    assert [body for tag, body in shown.parts if tag == "summary"] == ["y = x"]


# ---- IPython -------------------------------------------------------------------------------------
def test_ipython_formatters_pick_up_the_html_and_markdown():
    formatters = pytest.importorskip("IPython.core.formatters")
    display = formatters.DisplayFormatter()
    for shown in (sct.source(f), sct.grad(f)):
        data, _ = display.format(shown)
        assert "text/html" in data and "text/markdown" in data
        assert "<details" in data["text/html"] and "grad_f" in data["text/html"]
    data, _ = display.format(sct.report(f))
    assert data["text/html"].startswith("<iframe srcdoc=")


class Model:
    def __init__(self):
        self.w = 2.0

    def loss(self, x):
        return np.sin(self.w * x)


def test_a_bound_method_gradient_displays_its_code():
    """``grad.source`` of ``sct.grad(obj.method)`` describes ``obj`` (it used to refuse ``self.w``)."""
    model = Model()
    grad = sct.grad(model.loss)
    assert grad.source == sct.source(model.loss) == sct.source(grad)
    assert "<details" in grad._repr_html_()
    assert grad(1.0) == pytest.approx(2.0 * np.cos(2.0))


CELL = """import numpy as np, sct
def f(x, y):
    u = np.sin(x) * y
    return np.exp(-u) / (1.0 + x * x)
df = sct.grad(f, wrt=(0, 1))
data, _ = get_ipython().display_formatter.format(df)
"""


def test_a_function_defined_in_an_ipython_cell_displays_its_gradient(tmp_path):
    """In IPython a cell keeps its source: sct differentiates a function defined there, and the
    gradient object shows its code, each block under the cell's line (run in a fresh process: an
    IPython shell changes the builtins of the one it runs in)."""
    pytest.importorskip("IPython")
    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        f"result = shell.run_cell({CELL!r})\n"
        "assert result.success, result.error_in_exec\n"
        "print(shell.user_ns['data']['text/html'])\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "IPYTHONDIR": str(tmp_path), "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    shown = html.unescape(done.stdout)
    labels = re.findall(r"\((<ipython-input-[^()]*>):(\d+)\)", shown)
    assert labels and {int(line) for _, line in labels} <= {3, 4}  # u = ... and the return line
    assert "<details" in done.stdout and "grad_f" in shown


def test_sct_imported_in_a_cell_compiles_outside_cells(tmp_path):
    """IPython puts get_ipython in builtins only while a cell runs: sct imported in a cell must not
    remember it as a builtin and fail when a gradient is compiled outside one."""
    pytest.importorskip("IPython")
    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "result = shell.run_cell('import sct\\nimport numpy as np\\ndef f(x):\\n    return np.sin(x) * x\\n')\n"
        "assert result.success, result.error_in_exec\n"
        "import numpy as np\n"
        "print(sct_grad := shell.user_ns['sct'].grad(shell.user_ns['f'])(0.5))\n"
        "assert abs(sct_grad - (np.cos(0.5) * 0.5 + np.sin(0.5))) < 1e-12\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "IPYTHONDIR": str(tmp_path), "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
