"""The console's one rule for text from outside: shown as typed, never interpreted.

Every string the console did not write itself — label keys and values, instances, jobs, scrape errors and
URLs, problem messages built from labels, Prometheus error replies, file paths and YAML errors, later alert
annotations and log lines — is chosen by whoever runs a host or a file, and arrives over the network.
Textual parses a plain `str` as markup in most places (Static, notifications, palette entries, border titles),
so such a value could crash the console (`[/nope]` is a MarkupError) or restyle it (`[reverse]`, `[@click=…]`);
and a terminal interprets control characters (ANSI escapes) and bidi overrides (U+202E) written to it.

So outside text reaches a widget only through this module:

- `visible(s)`: control characters, bidi controls and other invisible format characters become readable
  escapes (`\\x1b`, `\\u202e`, `\\n`); invalid UTF-8 (bytes, or surrogate-escaped str) shows its bytes as `\\xNN`.
- `clip(s, limit)`: the same, cut to `limit` terminal cells with `…` (titles, palette, notifications, cells).
- `text(s)` / `content(s)`: a Rich `Text` / Textual `Content` holding the visible form, never parsed as
  markup, with the escapes styled apart so a typed backslash cannot pass for a control character.
- `markup(s)`: only for the few Textual APIs that insist on markup strings: the visible form, escaped.

Where a value is cut, the full value is shown (visible, unclipped) in the host detail.
`tests/tui/test_safe_rule.py` scans the console's code for outside values reaching markup sinks.
"""

from __future__ import annotations

import re
from typing import Final

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.content import Content

#: one-line places (palette titles, notifications, header, banner) show at most this many cells of a value
LINE_LIMIT: Final = 80
#: multi-line places (notifications, the stale banner, error texts) show at most this many cells
NOTIFY_LIMIT: Final = 400
#: style of the escapes that stand for invisible characters (an attribute, not a colour: themes stay in charge)
ESCAPE_STYLE: Final = "reverse"
ELLIPSIS: Final = "…"

# What is made visible (everything else, including emoji, ZWJ/ZWNJ and private-use glyphs, is shown as is):
#   C0 controls, DEL and C1 controls; the line and paragraph separators; bidi marks, embeddings, overrides and
#   isolates; zero-width and invisible format characters (ZWSP, word joiner, invisible operators, BOM,
#   interlinear annotations, Mongolian vowel separator); tag characters (which can carry hidden text);
#   lone surrogates (invalid UTF-8 decoded with surrogateescape, or a broken str).
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f"
    "\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000e0000-\U000e007f"
    "\ud800-\udfff]"
)
_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape_char(ch: str) -> str:
    short = _SHORT.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _decode(value: str | bytes) -> str:
    """bytes (a log line) as UTF-8, keeping any invalid byte as a surrogate so it shows as `\\xNN`."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def visible(value: str | bytes, *, tab_size: int | None = None) -> str:
    """`value` with every hidden or terminal-interpreted character replaced by a readable escape.

    `tab_size`: expand tabs to spaces instead (file contents and diffs, where a tab is layout, not data).
    """
    s = _decode(value)
    if tab_size is not None and "\t" in s:
        s = s.expandtabs(tab_size)
    if s.isprintable():  # the usual case, at C speed: nothing to replace
        return s
    return _HIDDEN.sub(lambda m: _escape_char(m.group()), s)


def _cut(s: str, limit: int | None) -> str:
    if limit is None or len(s) <= limit // 2 or cell_len(s) <= limit:
        return s
    return set_cell_size(s, max(0, limit - 1)) + ELLIPSIS if limit > 0 else ""


def clip(value: str | bytes, limit: int | None = LINE_LIMIT) -> str:
    """visible(value), cut to `limit` terminal cells (the last one an ellipsis); None: never cut."""
    return _cut(visible(value), limit)


def _pieces(value: str | bytes, tab_size: int | None = None) -> list[tuple[str, bool]]:
    """The visible form as (piece, is_escape) runs, so the escapes can be styled."""
    s = _decode(value)
    if tab_size is not None and "\t" in s:
        s = s.expandtabs(tab_size)
    if s.isprintable():
        return [(s, False)]
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _HIDDEN.finditer(s):
        if m.start() > pos:
            out.append((s[pos : m.start()], False))
        out.append((_escape_char(m.group()), True))
        pos = m.end()
    if pos < len(s):
        out.append((s[pos:], False))
    return out


def text(value: str | bytes, *, limit: int | None = None, style: str = "", tab_size: int | None = None) -> Text:
    """A Rich Text of the visible form (escapes in ESCAPE_STYLE), cut to `limit` cells; never markup."""
    out = Text(style=style)
    for piece, is_escape in _pieces(value, tab_size):
        out.append(piece, ESCAPE_STYLE if is_escape else None)
    if limit is not None and out.cell_len > limit:
        out.truncate(max(0, limit - 1))
        out.append(ELLIPSIS)
    return out


def content(value: str | bytes, *, limit: int | None = LINE_LIMIT, style: str = "") -> Content:
    """A Textual Content of the visible form (escapes in ESCAPE_STYLE), cut to `limit` cells; never markup."""
    parts = [(piece, ESCAPE_STYLE) if is_escape else piece for piece, is_escape in _pieces(value)]
    out = Content.assemble(*parts)
    if limit is not None and out.cell_length > limit:
        out = out.truncate(limit, ellipsis=True)
    return out.stylize_before(style) if style else out


def markup(value: str | bytes, limit: int | None = LINE_LIMIT) -> str:
    """For APIs that only take markup strings: the clipped visible form with every `[` escaped.

    Not `textual.markup.escape`: it only escapes tags that look valid, so `[$accent]`, `[A]` or a backslash
    before a tag still get through. In Textual markup `\\[` is always a literal `[` and a run of backslashes
    before it stays as typed, so escaping every `[` is exact (tests/tui/test_safe.py checks the round trip).
    """
    return clip(value, limit).replace("[", "\\[")
