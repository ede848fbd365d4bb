"""One self-contained HTML page that explains a generated gradient (``sct dump --html``, ``sct.report``).

The user's function on the left, the generated code on the right; hovering over
a line (or clicking it, to pin it) highlights the lines it produced or came
from, on both sides. Below: every variable of the lowered function, whether it
is active and whether the forward sweep records it, and why; and the sizes
(lines, records, stack pushes per loop trip). The page loads nothing: its CSS
and script are inline, and the highlighting (Pygments, where installed) is
written out as inline styles. The same input gives the same bytes.
"""

from __future__ import annotations

import html
from pathlib import Path

from .display import highlighted_lines, where
from .errors import UserError
from .explain import explain
from .version import __version__

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1a1a1a;background:#fff}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.2em 0 .4em}
.meta{color:#555;margin:0 0 .8em}.hint{color:#555;font-size:.9em}
.panes{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.4fr);gap:1em;align-items:start}
.code{border:1px solid #ddd;border-radius:4px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;
overflow:auto;max-height:80vh;background:#fafafa}
.line{display:flex;white-space:pre;line-height:1.45;cursor:default}
.line[data-k]{cursor:pointer}.line[data-k]:hover{background:#eef4ff}
.line.hl{background:#fff1a8}.line.pin{background:#ffe066}
.ln{color:#999;min-width:3.5em;text-align:right;padding-right:.8em;user-select:none;flex:none}
.src{flex:1}.from{color:#888;padding:0 .6em;font-size:.85em;flex:none}
.sub{color:#666;font-size:.85em;padding:.3em .6em;border-top:1px solid #eee;font-family:system-ui,sans-serif}
table{border-collapse:collapse;font-size:.9em}th,td{border-bottom:1px solid #e5e5e5;padding:.25em .7em;text-align:left;
vertical-align:top}th{background:#f3f3f3}td.yes{color:#0a6b2a;font-weight:600}td.no{color:#888}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
"""

_SCRIPT = """
(function () {
  var pinned = null;
  function lines(k) { return document.querySelectorAll('.line[data-k="' + k + '"]'); }
  function mark(k, cls, on) { lines(k).forEach(function (e) { e.classList.toggle(cls, on); }); }
  function reveal(k, side) {
    var first = document.querySelector('#' + side + ' .line[data-k="' + k + '"]');
    if (first) { first.scrollIntoView({block: 'nearest'}); }
  }
  document.querySelectorAll('.line[data-k]').forEach(function (e) {
    var k = e.getAttribute('data-k');
    e.addEventListener('mouseenter', function () { mark(k, 'hl', true); });
    e.addEventListener('mouseleave', function () { mark(k, 'hl', false); });
    e.addEventListener('click', function () {
      if (pinned !== null) { mark(pinned, 'pin', false); }
      pinned = pinned === k ? null : k;
      if (pinned !== null) {
        mark(k, 'pin', true);
        reveal(k, e.closest('#user') ? 'generated' : 'user');
      }
    });
  });
})();
"""


def report(fn, path=None, wrt=None, mode="reverse", optimize=True) -> str:
    """The HTML page explaining ``sct.source(fn, wrt, mode, optimize)``; also written to ``path`` if given.

    ``fn`` may be a gradient object (``sct.grad(f, wrt=1)``): without ``wrt``, the page
    explains its own code; for a function ``wrt`` defaults to 0. The page needs no
    network: open it in a browser, or display the returned string in a notebook (it
    shows itself in a frame).
    """
    page = Report(render(explain(fn, wrt=wrt, mode=mode, optimize=optimize)))
    if path is not None:
        write(page, path)
    return page


def write(page: str, path) -> None:
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{path} is a directory; give the path of the page to write ({target / 'report.html'})")
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write it: {exc.strerror or exc}") from None


class Report(str):
    """The page: a ``str``, which a notebook shows in a frame."""

    def __reduce__(self):
        return str, (str(self),)

    def _repr_html_(self) -> str:
        return f'<iframe srcdoc="{html.escape(self)}" style="width:100%;height:36em;border:1px solid #ddd"></iframe>'


# ---- the page -------------------------------------------------------------------------------------
def render(explanation) -> str:
    """The page for an :class:`sct.explain.Explanation`."""
    e = explanation
    keys = _keys(e)
    title = f"sct: {'gradient' if e.mode == 'reverse' else 'tangent'} of {e.name}"
    start = f"{e.filename}:{e.user_first_line}" if e.user_first_line else e.filename
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{e.mode} mode, by {html.escape(", ".join(e.wrt))}; {html.escape(start)}; '
        f"sct {html.escape(__version__)}</p>",
        '<p class="hint">Hover over a line to highlight the lines it produced (or came from); click to pin it.</p>',
        '<div class="panes">',
        _user_pane(e, keys),
        _generated_pane(e, keys),
        "</div>",
        "<h2>Variables</h2>",
        _variables(e),
        "<h2>Sizes</h2>",
        _table([("what", "how many")] + e.sizes()),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


def _keys(e) -> dict:
    """``(filename, line) -> "kN"``, in order of first appearance in the generated code."""
    keys = {}
    for origin in e.origins:
        if origin is not None:
            keys.setdefault((origin.filename, origin.lineno), f"k{len(keys)}")
    return keys


def _line(number, body: str, key: str | None, extra: str = "") -> str:
    attr = f' data-k="{key}"' if key else ""
    return f'<div class="line"{attr}><span class="ln">{number}</span><span class="src">{body}</span>{extra}</div>'


def _user_pane(e, keys: dict) -> str:
    rows = ['<section><h2>Your function</h2><div class="code" id="user">']
    shown = highlighted_lines("\n".join(e.user_lines)) if e.user_lines else []
    own = set()
    for i, body in enumerate(shown):
        number = e.user_first_line + i
        own.add((e.filename, number))
        rows.append(_line(number, body or " ", keys.get((e.filename, number))))
    elsewhere = [(k, v) for k, v in keys.items() if k not in own]
    if elsewhere:  # inlined from other functions: their lines, as the lowering recorded them
        rows.append('<div class="sub">inlined from elsewhere</div>')
        texts = {(o.filename, o.lineno): o.source_line for o in e.origins if o is not None}
        for (filename, number), key in sorted(elsewhere):
            body = highlighted_lines(texts[(filename, number)].strip() or " ")[0]
            label = f'<span class="from">{html.escape(filename)}</span>'
            rows.append(_line(number, body, key, label))
    if not shown and not elsewhere:
        rows.append('<div class="sub">(no source)</div>')
    rows.append("</div></section>")
    return "\n".join(rows)


def _generated_pane(e, keys: dict) -> str:
    rows = ['<section><h2>Generated code</h2><div class="code" id="generated">']
    for number, (body, origin) in enumerate(zip(highlighted_lines(e.text), e.origins), 1):
        key = keys.get((origin.filename, origin.lineno)) if origin is not None else None
        label = f'<span class="from">{html.escape(where(origin))}</span>' if origin is not None else ""
        rows.append(_line(number, body or " ", key, label))
    rows.append("</div></section>")
    return "\n".join(rows)


def _variables(e) -> str:
    rows = [("variable", "kind", "first assigned", "active", "why", "recorded", "why")]
    for v in e.variables:
        active = "yes" if v.active else "no"
        rows.append((v.name, v.kind, where(v.origin), active, v.why_active, v.record, v.why_record))
    return _table(rows, code_column=0, flag_column=3)


def _table(rows, code_column=None, flag_column=None) -> str:
    head, *body = rows
    out = ["<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr></thead><tbody>"]
    for row in body:
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(cell)
            if i == code_column:
                text = f"<code>{text}</code>"
            css = f' class="{cell}"' if i == flag_column else ""
            cells.append(f"<td{css}>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)
