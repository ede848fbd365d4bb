"""Where a ``def`` block ends in its file's lines: :func:`inspect.getblock`'s answer, without :mod:`tokenize`.

On Python 3.10 and 3.11 :mod:`tokenize` compiles its large regular expression the
first time a process uses it: 1.5 ms, most of what reading a function's source costs
in a new process, paid by every first ``sct.grad`` call. :func:`block_length` scans
the lines itself (strings, brackets, comments, indentation) and answers exactly as
``len(inspect.getblock(lines))`` does for a plain ``def`` block; for anything it
does not model (a lambda, a tab in the indentation, a line Python would not
tokenize...) it answers None and the caller asks :mod:`inspect`. Python
3.12's tokenizer is written in C and costs nothing to start: there it is not used.

>>> block_length(["def f(x):\\n", "    return x  # one\\n", "    # two\\n", "# three\\n", "y = f(1)\\n"])
3
"""

from __future__ import annotations

import sys

USED = sys.version_info < (3, 12)  # the versions whose tokenize is slow to start
_OPEN, _CLOSE = "([{", ")]}"
_QUOTES = "'\""


class _Unsure(Exception):
    """Something the scan does not model: ask inspect."""


def block_length(lines: list) -> int | None:
    """How many of ``lines`` (from a ``def`` or its first decorator) ``inspect.getblock`` returns, or None."""
    try:
        return _block_length(lines)
    except _Unsure:
        return None


def _block_length(lines: list) -> int:
    logical = _logical_lines(lines)  # read only as far as the block goes
    header_col = opens_block = None
    last = 0
    for row, col, first, ends_with_colon in logical:  # decorators, then the def line
        if first is None:  # a blank or comment line before the def: getblock skips it
            continue
        if first == "@":
            last = row
            continue
        if first != "def":
            raise _Unsure
        header_col, last, opens_block = col, row, ends_with_colon
        break
    if header_col is None:
        raise _Unsure
    if not opens_block:  # ``def f(x): return x``: one line, if what follows is not indented under it
        for _row, col, first, _ in logical:
            if first is not None:
                if col > header_col:
                    raise _Unsure
                break
        return last
    levels = [header_col]  # the indentation stack, relative to the def line as tokenize sees it
    body_col = None
    for row, col, first, _ in logical:
        if first is None:  # a comment line (col is its ``#``'s column) or a blank line (col None)
            if col is not None and body_col is not None and col >= body_col:
                last = row
            continue
        if col > levels[-1]:
            if body_col is None:
                body_col = col
            levels.append(col)
        else:
            while col < levels[-1]:
                if len(levels) == 1:  # below the def's level: the block has ended
                    return last
                levels.pop()
                if len(levels) == 1:  # back at the def's level: the block has ended
                    return last
            if col != levels[-1]:
                raise _Unsure  # an unindent to no outer level: tokenize raises
            if len(levels) == 1:  # a statement at the def's level, no body indented (cannot parse)
                return last
        last = row  # the logical line's NEWLINE; a comment at its end is on this row or before
    return last


def _logical_lines(lines: list):
    """``(last row, column, first token kind, ends with ':')`` per logical line; kind None for blank
    and comment lines (column: the comment's, or None), ``"@"``, ``"def"`` or ``"code"``."""
    depth, quote = 0, None  # open brackets; the quote of an open string
    start = None  # (column, kind) of the logical line being read, once it has a token
    last_char = ""
    for i, line in enumerate(lines):
        if "\t" in line or "\f" in line:
            raise _Unsure
        text = line.rstrip("\r\n")
        j, n = 0, len(text)
        comment_col = None
        continued = False
        while j < n:
            if quote is not None:  # inside a string
                c = text[j]
                if c == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    j += len(quote)
                    quote = None
                    last_char = '"'
                    continue
                j += 1
                continue
            c = text[j]
            if c == " ":
                j += 1
                continue
            if c == "#":
                if start is None:
                    comment_col = j
                break
            if c == "\\":
                if j != n - 1:
                    raise _Unsure
                continued = True
                break
            if start is None:
                start = (j, _kind(text, j))
            if c in _QUOTES:
                quote = text[j : j + 3] if text.startswith(c * 3, j) else c
                j += len(quote)
                continue
            if c in _OPEN:
                depth += 1
            elif c in _CLOSE:
                depth -= 1
                if depth < 0:
                    raise _Unsure
            last_char = c
            j += 1
        if quote is not None and len(quote) == 1 and not continued and not text.endswith("\\"):
            raise _Unsure  # an unterminated one-line string
        if start is None:
            if depth or quote is not None or continued:
                raise _Unsure  # a blank line inside brackets: the scan does not model it
            yield i + 1, comment_col, None, False
            continue
        if depth or quote is not None or continued:
            continue  # the logical line goes on
        yield i + 1, start[0], start[1], last_char == ":"
        start, last_char = None, ""
    if start is not None or quote is not None or depth:
        raise _Unsure  # the lines end inside a statement


def _kind(text: str, j: int) -> str:
    if text.startswith("@", j):
        return "@"
    word = text[j:].split(None, 2)
    if word and word[0] == "def" or word[:1] == ["async"] and word[1:2] and word[1].startswith("def"):
        return "def"
    return "code"
