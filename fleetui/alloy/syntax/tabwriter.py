"""Elastic tabstops, as Go's `text/tabwriter` does them with the flags `alloy fmt` uses.

`alloy fmt` aligns `=` signs and trailing comments by writing cells separated by `\\v` (align) or `\\t` (indent)
through a tabwriter (min width 0, tab width 8, padding 1, pad with spaces, DiscardEmptyColumns, TabIndent), then
trims trailing blanks. This module reimplements that behaviour so `format_file` lays text out identically:
a column block is a run of consecutive lines that all have a cell in that column; its width is the widest cell
plus one. `\\f` ends a line and closes every open column block. Text between two ESC characters is opaque.
"""

from __future__ import annotations

ESC = "\x00"  # cannot occur in a source that parsed (NUL is illegal), so it is a safe escape marker
_TABWIDTH = 8


class _Cell:
    __slots__ = ("htab", "text", "width")

    def __init__(self, text: str, width: int, htab: bool) -> None:
        self.text = text
        self.width = width
        self.htab = htab


def tabwrite(data: str) -> str:
    """Lay out `data` (cells ended by \\t or \\v, lines by \\n or \\f) with aligned columns."""
    out: list[str] = []
    lines: list[list[_Cell]] = [[]]
    buf: list[str] = []
    width = 0
    escaped = False

    def end_cell(htab: bool) -> int:
        nonlocal width
        lines[-1].append(_Cell("".join(buf), width, htab))
        buf.clear()
        width = 0
        return len(lines[-1])

    for ch in data:
        if escaped:
            buf.append(ch)
            if ch == ESC:
                escaped = False
            else:
                width += 1
            continue
        if ch == ESC:
            buf.append(ch)
            escaped = True
        elif ch in "\t\v\n\f":
            ncells = end_cell(ch == "\t")
            if ch in "\n\f":
                lines.append([])
                if ch == "\f" or ncells == 1:
                    _format(out, lines)
                    lines = [[]]
        else:
            buf.append(ch)
            width += 1
    if buf:
        end_cell(False)
    _format(out, lines)
    return "".join(out)


def _format(out: list[str], lines: list[list[_Cell]]) -> None:
    """Write every buffered line; the last one (still open) gets no newline."""
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            use_tabs = True
            for j, c in enumerate(lines[i]):
                if c.text:
                    use_tabs = False
                    out.append(c.text)
                    if j < len(widths):
                        _pad(out, c.width, widths[j], False)
                elif j < len(widths):
                    _pad(out, c.width, widths[j], use_tabs)
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = 0
            discardable = True
            while this < line1:
                line = lines[this]
                if column >= len(line) - 1:
                    break
                c = line[column]
                width = max(width, c.width + 1)
                if c.width > 0 or c.htab:
                    discardable = False
                this += 1
            widths.append(0 if discardable else width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))


def _pad(out: list[str], textw: int, cellw: int, use_tabs: bool) -> None:
    if use_tabs:
        cellw = (cellw + _TABWIDTH - 1) // _TABWIDTH * _TABWIDTH
        out.append("\t" * ((cellw - textw + _TABWIDTH - 1) // _TABWIDTH))
    else:
        out.append(" " * (cellw - textw))


def trim(data: str) -> str:
    """Drop blanks at line ends and the ESC markers; \\v becomes \\t and \\f becomes \\n (Alloy's trimmer)."""
    out: list[str] = []
    space: list[str] = []
    state = 0  # 0 reading blanks, 1 text, 2 escaped text
    start = 0
    for off, ch in enumerate(data):
        b = "\t" if ch == "\v" else ch
        if state == 0:
            if b in "\t ":
                space.append(b)
            elif b in "\n\f":
                space.clear()
                out.append("\n")
            elif b == ESC:
                out.extend(space)
                state, start = 2, off + 1
            else:
                out.extend(space)
                state, start = 1, off
        elif state == 1:
            if b in "\t ":
                out.append(data[start:off])
                space.clear()
                space.append(b)
                state = 0
            elif b in "\n\f":
                out.append(data[start:off])
                space.clear()
                state = 0
                out.append("\n")
            elif b == ESC:
                out.append(data[start:off])
                state, start = 2, off + 1
        elif b == ESC:
            out.append(data[start:off])
            space.clear()
            state = 0
    if state in (1, 2):
        out.append(data[start:])
    return "".join(out)
