"""String literal helpers with Go's semantics, which Alloy inherits.

`unquote` turns a scanned literal into its value (like Go's `strconv.Unquote`); `go_quote` renders a value as Go's
`%q` does, which is how Alloy quotes labels in messages and how `alloy fmt` writes labels and object keys.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\udc80-\udcff]")
_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39}
_QUOTE_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def unquote(lit: str) -> str:
    """The value of a string literal (double-quoted with escapes, or raw backtick). Never raises.

    `\\xHH` and `\\NNN` produce single bytes, as in Go; byte sequences that are not valid UTF-8 become U+FFFD.
    Raw strings lose carriage returns, as Go's `strconv.Unquote` does.
    """
    if not lit:
        return ""
    quote = lit[0]
    body = lit[1:-1] if len(lit) >= 2 and lit[-1] == quote else lit[1:]
    if quote == "`":
        body = body.replace("\r", "")
        return _fix_bytes(body) if _SURROGATE.search(body) else body
    if "\\" not in body:
        return _fix_bytes(body) if _SURROGATE.search(body) else body
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\" or i + 1 >= n:
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        e = body[i + 1]
        if e in _SIMPLE:
            out.append(_SIMPLE[e])
            i += 2
            continue
        width, base = {"x": (2, 16), "u": (4, 16), "U": (8, 16)}.get(e, (3, 8) if "0" <= e <= "7" else (0, 0))
        start = i + 2 if base == 16 else i + 1
        digits = body[start : start + width]
        try:
            value = int(digits, base) if width and len(digits) == width else -1
        except ValueError:
            value = -1
        if value < 0:  # invalid escape (already reported by the scanner): keep the text
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if e in "uU":
            out += (chr(value) if value <= 0x10FFFF and not 0xD800 <= value < 0xE000 else "\ufffd").encode()
        else:
            out.append(value & 0xFF)
        i = start + width
    return out.decode("utf-8", "replace")


def _fix_bytes(s: str) -> str:
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def go_quote(s: str) -> str:
    """Go's `strconv.Quote` / `%q`: double quotes, printable characters kept, the rest escaped."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0xDC80 <= c <= 0xDCFF:  # an invalid UTF-8 byte kept by surrogateescape
            out.append(f"\\x{c - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif ch in _QUOTE_ESC:
            out.append(_QUOTE_ESC[ch])
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\x{c:02x}")
        elif c < 0x10000:
            out.append(f"\\u{c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    out.append('"')
    return "".join(out)
