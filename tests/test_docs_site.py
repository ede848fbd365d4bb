"""The docs site: ``mkdocs build --strict`` passes, and the report the tutorial embeds is current.

A page under docs/ made by ``sct dump ... --html docs/reports/NAME.html`` follows a
``<!-- sct-report: COMMAND -->`` marker; like the doc listings (tests/test_readme.py)
it must be what the command writes today. After a deliberate change to the generated
code, refresh them with ``python tests/test_docs_site.py --update``.
"""

import html
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sct.cli import main

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- sct-report: (sct dump .*?) -->\n(.*?)$", re.M)
PAGES = sorted((ROOT / "docs").glob("*.md"))
REPORTS = [(page, m[1], m[2]) for page in PAGES for m in MARKER.finditer(page.read_text())]


def _output(command: str) -> str:
    args = shlex.split(command)
    return args[args.index("--html") + 1]


def test_the_tutorial_embeds_a_report():
    assert any(page.name == "tutorial.md" for page, _, _ in REPORTS)
    for page, command, embed in REPORTS:
        target = ROOT / _output(command)
        assert target.is_file(), f"{page.name}: {target} is missing; run python tests/test_docs_site.py --update"
        assert target.parent.resolve().is_relative_to((ROOT / "docs").resolve())  # the site carries it
        src = re.search(r'<iframe src="([^"]+)"', embed)
        assert src, f"{page.name}: the line after the marker must embed the report (an <iframe>)"
        # the site serves each page as a folder (tutorial/index.html): one level further down
        assert (page.parent / Path(src[1]).relative_to("..")).resolve() == target.resolve()


def _unhighlighted(page: str) -> str:
    """The page without Pygments' colours (its inline-styled spans) and with entities spelled out: what
    the page says and links, whichever Pygments version coloured it (they escape quotes differently)."""
    page = re.sub(r'<span style="[^"]*">|</span>', "", page)
    return html.unescape(page)


@pytest.mark.parametrize("page, command, embed", REPORTS, ids=[f"{p.name}:{_output(c)}" for p, c, _ in REPORTS])
def test_embedded_reports_are_up_to_date(page, command, embed, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the example by its path from the root, as the command gives it
    args = shlex.split(command)[1:]
    fresh = tmp_path / "fresh.html"
    args[args.index("--html") + 1] = str(fresh)
    assert main(args) == 0
    checked_in = (ROOT / _output(command)).read_text(encoding="utf-8")
    assert _unhighlighted(fresh.read_text(encoding="utf-8")) == _unhighlighted(checked_in), (
        f"{page.name}: {_output(command)} is out of date; refresh it with `python tests/test_docs_site.py --update`"
    )


def test_readme_gives_the_command_that_writes_a_report():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"`sct dump \S+:\S+ --html \S+\.html`", readme)


def test_mkdocs_build_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module)
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    for name in ("sct.grad", "sct.source", "sct.report", "sct.check_grads"):
        assert name in re.sub(r"<[^>]+>|\s", "", reference), name
    assert (site / "reports" / "rnn.html").is_file()
    assert (site / "examples" / "rnn.py").is_file()  # the tutorial links to the examples
    assert 'src="../reports/rnn.html"' in (site / "tutorial" / "index.html").read_text(encoding="utf-8")


def update():
    """Run each marked command from the repository root, writing the reports again."""
    for page, command, _ in REPORTS:
        done = subprocess.run([sys.executable, "-m", "sct", *shlex.split(command)[1:]], cwd=ROOT, env=os.environ)
        if done.returncode:
            sys.exit(f"{page.name}: `{command}` failed")
        print(f"updated {_output(command)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        print(__doc__)
