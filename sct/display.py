"""Generated code in a notebook: ``_repr_html_`` and ``_repr_markdown_``.

``sct.source(f)`` and ``df.source`` return a :class:`GeneratedSource`: a ``str``
(printing it, comparing it, writing it out work as before) that Jupyter and
IPython display as highlighted code (with Pygments when it is installed, an
escaped ``<pre>`` otherwise). Each backward block sits under a folded header
(``<details>``) naming the forward statement it reverses and the user's
``file:line`` it comes from; a gradient object displays the same way.

The line map comes from :func:`sct.explain.explain_request`, made once per
string, the first time it is displayed.
"""

from __future__ import annotations

import html

from .errors import SctError
from .explain import explain_request

_PRE = "margin:0;padding:0 0.5em;line-height:1.35;font-family:monospace;white-space:pre;overflow-x:auto"


class GeneratedSource(str):
    """The generated source: a ``str`` that also displays itself in a notebook.

    >>> text = GeneratedSource("def grad_f(x):\\n    return x")
    >>> text == "def grad_f(x):\\n    return x", isinstance(text, str)
    (True, True)
    """

    def __new__(cls, text: str, request: tuple | None = None):
        self = super().__new__(cls, text)
        self._request = request  # what sct.api.source_request gave: to rebuild the line map
        self._explained = None
        return self

    def __reduce__(self):  # pickled (and copied) as the plain text: the function need not pickle
        return str, (str(self),)

    def explanation(self):
        """The :class:`sct.explain.Explanation` of this code, or None where there is no request to explain."""
        if self._explained is None and self._request is not None:
            found = explain_request(self._request)
            self._explained = found if found.text == str(self) else False  # another text: no line map for it
        return self._explained or None

    def _repr_html_(self) -> str:
        return to_html(self, self.explanation())

    def _repr_markdown_(self) -> str:
        return to_markdown(self, self.explanation())


def html_or_error(get) -> str:
    """``get()``'s HTML view; where sct cannot make the code, the error as the view."""
    try:
        return get()._repr_html_()
    except SctError as exc:
        return f'<pre style="{_PRE}">sct: {html.escape(str(exc))}</pre>'


def markdown_or_error(get) -> str:
    try:
        return get()._repr_markdown_()
    except SctError as exc:
        return _fenced(f"sct: {exc}", "text")


# ---- highlighting ---------------------------------------------------------------------------
def highlighted_lines(text: str) -> list[str]:
    """``text``'s lines as HTML: coloured by Pygments with inline styles where it is installed, else escaped."""
    lines = text.splitlines()
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return [html.escape(line) for line in lines]
    out = highlight(text, PythonLexer(stripnl=False, ensurenl=True), HtmlFormatter(nowrap=True, noclasses=True))
    found = out.split("\n")  # the formatter closes its spans at each line's end
    return found[: len(lines)] if len(found) >= len(lines) else [html.escape(line) for line in lines]


def where(origin) -> str:
    """``file:line`` of a location, or ''."""
    return "" if origin is None else f"{origin.filename}:{origin.lineno}"


# ---- blocks ---------------------------------------------------------------------------------
def blocks(text: str, backward_from: int, origins=None) -> list[tuple[int, int, bool]]:
    """``(first, last, folded)`` line ranges (1-based) covering ``text``: each backward block
    (a ``# <forward statement>`` comment and the lines under it, to the next comment, compound
    statement or dedent; with ``origins``, only the lines mapped to the comment's user line)
    folded, the lines between them not."""
    lines = text.splitlines()
    origins = origins or [None] * len(lines)
    found, plain_from, number = [], 1, backward_from
    while number <= len(lines):
        line = lines[number - 1]
        stripped, indent = line.strip(), len(line) - len(line.lstrip())
        if not stripped.startswith("#"):
            number += 1
            continue
        end = number + 1
        mapped = origins[number - 1] is not None
        while end <= len(lines) and _in_block(lines[end - 1], indent):
            if mapped and origins[end - 1] is not origins[number - 1]:
                break
            end += 1
        if plain_from < number:
            found.append((plain_from, number - 1, False))
        found.append((number, end - 1, True))
        plain_from = number = end
    if plain_from <= len(lines):
        found.append((plain_from, len(lines), False))
    return found


def _in_block(line: str, indent: int) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or len(line) - len(line.lstrip()) != indent:
        return False
    return not stripped.endswith(":") and not stripped.startswith("return")


# ---- the views ------------------------------------------------------------------------------
def to_html(text: str, explanation=None) -> str:
    """The notebook view: highlighted code, each backward block folded under its forward statement and user line."""
    lines = text.splitlines()
    shown = highlighted_lines(text)
    origins = explanation.origins if explanation is not None else [None] * len(lines)
    backward_from = _backward_from(lines)
    shown = [  # hovering over a line says which line of the user's it comes from
        f'<span title="{html.escape(where(origin))}">{body}</span>' if origin is not None else body
        for body, origin in zip(shown, origins)
    ]
    parts = ['<div class="sct-source">']
    for first, last, folded in blocks(text, backward_from, origins):
        body = "\n".join(shown[first - 1 : last])
        if not folded:
            parts.append(f'<pre style="{_PRE}">{body}</pre>')
            continue
        comment = lines[first - 1]
        indent = len(comment) - len(comment.lstrip())
        label = where(origins[first - 1])
        label = f' <span style="opacity:0.65">({html.escape(label)})</span>' if label else ""
        inner = "\n".join(shown[first:last]) if last > first else ""
        summary = (
            f'<summary style="padding-left:{indent + 0.5}ch;font-family:monospace;cursor:pointer">'
            f"<code>{html.escape(comment.strip()[1:].strip())}</code>{label}</summary>"
        )
        parts.append(f'<details style="margin:0">{summary}<pre style="{_PRE}">{inner}</pre></details>')
    parts.append("</div>")
    return "\n".join(parts)


def to_markdown(text: str, explanation=None) -> str:
    """A fenced Python block; each backward block's comment ends with the user line it comes from."""
    lines = text.splitlines()
    if explanation is not None:
        backward_from = _backward_from(lines)
        for i, origin in enumerate(explanation.origins):
            stripped = lines[i].strip()
            if i + 1 >= backward_from and stripped.startswith("#") and origin is not None:
                lines[i] = f"{lines[i]}  ({where(origin)})"
    return _fenced("\n".join(lines), "python")


def _fenced(text: str, language: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text}\n{fence}\n"


def _backward_from(lines: list) -> int:
    stripped = [line.strip() for line in lines]
    return stripped.index("# backward") + 2 if "# backward" in stripped else len(lines) + 1
