"""The README and docs/ say what sct really does.

* The README's first code block: the second half of each command works, and
  ``sct dump examples/seed.py:f --wrt x,y`` prints exactly the README's ``def grad_f`` block.
* The README's Python block runs; a trailing ``# value`` comment on an expression is its
  expected value (``...`` matches anything, as in doctest); what it prints is the next block.
* In README.md and docs/*.md, a code block right after ``<!-- sct-output: sct ARGS -->`` is
  the output of ``sct ARGS`` (or ``python ARGS``), run from the repository root. After a
  deliberate change to the generated code, refresh them all with
  ``python tests/test_readme.py --update``.
"""

import doctest
import io
import linecache
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import sct

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
MARKED = re.compile(r"^<!-- sct-output(-pending)?: ((?:sct|python) .*?) -->\n```\w*\n(.*?)^```$", re.M | re.S)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(text):
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(text)]


def sct_output(command: str) -> str:
    """What ``sct ARGS`` (or ``python ARGS``) prints: stdout, then stderr."""
    return _run(command)[0]


def _run(command: str) -> tuple[str, bool]:
    sct_exe = shutil.which("sct")
    prefix = [sct_exe] if sct_exe else [sys.executable, "-m", "sct"]
    if command.startswith("python "):
        prefix = [sys.executable]
    done = subprocess.run(
        [*prefix, *shlex.split(command)[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=_env(),
    )
    return done.stdout + done.stderr, done.returncode == 0


def _env():
    return {**os.environ, "NO_COLOR": "1"}


# ---- the README's first lines --------------------------------------------------------
def first_commands():
    language, text = blocks(README)[0]
    assert language == "bash"
    return [line.split(" && ", 1)[1] for line in text.splitlines()]


def test_first_block_is_the_two_commands():
    lines = README.splitlines()
    assert lines[3] == "pip install -e . && sct dump examples/seed.py:f --wrt x,y"
    assert lines[4] == "pip install -e '.[test]' && python -m pytest"
    assert first_commands() == ["sct dump examples/seed.py:f --wrt x,y", "python -m pytest"]


def grad_f_block() -> str:
    found = [text for language, text in blocks(README) if text.startswith("def grad_f(")]
    assert len(found) == 1
    return found[0]


def test_readme_dump_command_prints_the_readme_block():
    assert sct_output(first_commands()[0]) == grad_f_block()


def test_readme_test_command_collects_the_suite():
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("python -m pytest")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "tests/test_readme.py" in done.stdout and "tests/test_cli.py" in done.stdout


# ---- the README's Python block ---------------------------------------------------------
EXPECTED = re.compile(r"^(?P<expr>\S.*?)\s+# (?P<want>.+)$")


def test_readme_python_block_runs_and_prints_the_next_block(tmp_path):
    python = [text for language, text in blocks(README) if language == "python"]
    script, checks = [], []
    for line in python[0].splitlines():
        match = EXPECTED.match(line)
        if match and _is_expression(match["expr"]):
            checks.append(match["want"])
            line = f"__checks__.append({match['expr']})"
        script.append(line)
    path = tmp_path / "readme_block.py"
    path.write_text("\n".join(script) + "\n")
    results = []
    out = io.StringIO()
    with redirect_stdout(out):
        runpy.run_path(str(path), init_globals={"__checks__": results})
    assert len(results) == len(checks) >= 1
    checker = doctest.OutputChecker()
    with np.printoptions(legacy="1.25"):  # np.float64(0.5) shows as 0.5, as a reader expects
        for value, want in zip(results, checks):
            assert checker.check_output(want + "\n", repr(value) + "\n", doctest.ELLIPSIS), (want, value)
    assert out.getvalue() == python[1] == grad_f_block()


def _is_expression(text: str) -> bool:
    try:
        compile(text, "<readme>", "eval")
    except SyntaxError:
        return False
    return True


# ---- docs/api.md: its examples are doctests ------------------------------------------------
def test_api_examples_run():
    """Each section's examples run in order (sharing names); sections that call a function
    sct does not have yet are skipped, and then the test is an expected failure."""
    path = ROOT / "docs" / "api.md"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs, missing, report = {}, set(), io.StringIO()
    text = re.sub(r"^```\w*$", "", path.read_text(), flags=re.M)  # a fence ends an example's output
    sections = re.split(r"^(?=##+ )", text, flags=re.M)
    for i, section in enumerate(sections):
        test = parser.get_doctest(section, globs, f"api.md section {i}", str(path), 0)
        code = "\n".join(example.source for example in test.examples)
        needs = {name for name in re.findall(r"\bsct\.(\w+)", code) if not hasattr(sct, name)}
        if "sct.grad(sct.grad(" in code and not _grad_of_grad_works():
            needs.add("grad of grad")
        if needs:
            missing |= needs
            continue
        _keep_source(test)
        runner.run(test, out=report.write, clear_globs=False)
        globs.update(test.globs)
    assert runner.failures == 0, report.getvalue()
    assert runner.tries >= 20
    if missing:
        pytest.xfail(f"docs/api.md shows functions sct does not have yet: {', '.join(sorted(missing))}")


def _keep_source(test):
    """Keep each example's source in linecache, so functions it defines stay readable by sct in
    later sections (doctest makes them readable only while their own section runs)."""
    for j, example in enumerate(test.examples):
        lines = example.source.splitlines(keepends=True)
        linecache.cache[f"<doctest {test.name}[{j}]>"] = (len(example.source), None, lines, test.name)


def _cube(x):
    return x**3


def _grad_of_grad_works() -> bool:
    try:
        return sct.grad(sct.grad(_cube))(2.0) == 12.0
    except Exception:
        return False


# ---- marked output blocks in README.md and docs/ ------------------------------------------
MARKS = [
    pytest.param(
        path,
        match[2],
        match[3],
        id=f"{path.name}:{match[2]}",
        marks=[pytest.mark.xfail(reason="waits for a feature sct does not have yet", strict=False)] if match[1] else [],
    )
    for path in DOCS
    for match in MARKED.finditer(path.read_text())
]


@pytest.mark.parametrize("path, command, shown", MARKS)
def test_docs_show_real_output(path, command, shown):
    assert sct_output(command) == shown, (
        f"{path.name}: the block after `{command}` is out of date; "
        "refresh it with `python tests/test_readme.py --update`"
    )


def test_docs_have_marked_blocks():
    assert len(MARKS) >= 5


def update():
    """Rewrite every marked block with the current output (after a deliberate change).

    A ``sct-output-pending`` block (output of a feature still to come) is filled in, and
    its marker made an ordinary ``sct-output``, once its command succeeds.
    """
    for path in DOCS:
        text = path.read_text()
        new = MARKED.sub(_refresh, text)
        if new != text:
            path.write_text(new)
            print(f"updated {path.relative_to(ROOT)}")


def _refresh(match) -> str:
    output, ok = _run(match[2])
    if match[1] and not ok:
        return match[0]
    head = match[0][: match.start(3) - match.start(0)].replace("sct-output-pending:", "sct-output:")
    return head + output + "```"


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        print(__doc__)
