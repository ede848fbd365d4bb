"""sct.frontend.blocks finds where a ``def`` ends as ``inspect.getblock`` does, without tokenize."""

import inspect
from pathlib import Path

import pytest

from sct.frontend import blocks, parse
from sct.frontend.parse import _DEF

ROOT = Path(__file__).resolve().parent.parent

TRICKY = [
    "def f(x):\n    return x\n",
    "def f(x):\n    return x",  # no newline at the end
    "def f(x):\n    y = x  # c\n    return y\n    # indented trailing\n# col0 trailing\n\n  # weird\ny = 1\n",
    "def f(x):\n    return x\n# col0\n    # indented again\n\ndef g(): pass\n",
    'def g(x):\n    s = """\nnot code\n"""\n    return x\n# after g\nx = 1\n',
    "def f(x): return x\ny = 2\n",
    "def f(x): return x  # a comment:\n# more\n    # indented\nz = 3\n",
    "@dec\n@dec2(1,\n      2)\ndef f(x):\n    return x\n",
    "@dec\n# between\ndef f(x):\n    return x\n",
    "def f(x,\n      y):\n    return (x +\n# inside brackets\n  y)\nq = 1\n",
    "def f(x):\n    a = 'it''s'  \\\n        + \"x\"\n    return a\nw = 1\n",
    "def f(x):\n    s = 'a\\\nb'\n    return s\n",
    "def f(x):\n    d = {'a': 1,\n         'b': [2, 3]}\n    if x:\n        return d\n"
    "    else:\n        return x\n\n\n\nclass A: pass\n",
    "    def method(self):\n        return 1\n\n    def other(self):\n        pass\n",
    "    def method(self):\n        if self:\n            return 1\n        return 2\n  # odd\nx = 1\n",
    "def f(x):\n    s = '''one ''' '''two\n  three'''\n    return f'{x!r}:{s}'\n",
    "def f(x):\n    return x\n    \n\n  \n",
    "async def f(x):\n    return x\n",
    "def f(x) -> 'a:':\n    return x\n",
    'def f(x):\n    return r\'\\\' + "\\""\n',
    "def f(x):\n    pass\n  y = 1\n",  # an unindent to no outer level
    "def f(x):\n    if x:\n            y = 1\n      z = 2\n",  # likewise, nested
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_blocks_end_where_inspect_says(text):
    lines = text.splitlines(keepends=True)
    found = blocks.block_length(lines)
    if found is not None:
        assert found == len(inspect.getblock(lines)), text


def test_what_it_does_not_model_it_leaves_to_inspect():
    assert blocks.block_length(["f = lambda x: x\n"]) is None
    assert blocks.block_length(["def f(x):\n", "\treturn x\n"]) is None  # a tab
    assert blocks.block_length(["def f(x):\n", "    return (x\n"]) is None  # ends inside brackets


def test_most_tricky_blocks_are_answered_without_inspect():
    answered = [t for t in TRICKY if blocks.block_length(t.splitlines(keepends=True)) is not None]
    assert len(answered) >= len(TRICKY) - 3


def test_every_def_of_this_repository_ends_where_inspect_says():
    checked = 0
    for path in sorted(ROOT.glob("*/**/*.py")):
        if ".venv" in path.parts or "site" in path.parts:
            continue
        lines = path.read_text().splitlines(keepends=True)
        for k, line in enumerate(lines):
            if not _DEF.match(line):
                continue
            found = blocks.block_length(lines[k:])
            if found is not None:
                assert found == len(inspect.getblock(lines[k:])), f"{path}:{k + 1}"
                checked += 1
    assert checked > 1000


@pytest.mark.skipif(not blocks.USED, reason="Python 3.12 on: inspect's own tokenizer is fast")
def test_a_function_is_read_without_tokenize(monkeypatch, tmp_path):
    source = "import numpy as np\n\n\ndef seed(x, y):\n    return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)\n"
    path = tmp_path / "blocks_seed.py"
    path.write_text(source)
    namespace = {}
    exec(compile(source, str(path), "exec"), namespace)

    def refuse(lines):
        raise AssertionError("inspect.getblock was called")

    monkeypatch.setattr(parse.inspect, "getblock", refuse)
    parsed = parse.parse(namespace["seed"])
    assert parsed.lines == source.splitlines()[3:]
    assert parsed.first_lineno == 4
