"""The Alloy tokenizer: the same tokens, terminators and lexical errors as Alloy's `syntax/scanner`.

Behaviour follows Alloy's scanner rule by rule (written from its documented behaviour and tests, not copied):
a newline after an identifier, literal, `)`, `]` or `}` becomes a TERMINATOR token (Go-style semicolon
insertion, also at EOF and before a comment that runs to the end of the line); comments are returned as COMMENT
tokens; NUL, invalid UTF-8 and a byte order mark other than the very first character are reported wherever they
occur. Plain cases (ASCII identifiers, simple numbers and strings, operators) go through one regular expression
for speed; everything else takes a character-by-character path that mirrors Alloy's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fleetui.alloy.syntax import tokens as t

ErrorHandler = Callable[[int, str], None]

_WS = re.compile(r"[ \t\r]*")
_WS_NL = re.compile(r"[ \t\r\n]*")
_DIGITS = re.compile(r"[0-9]*")
_DQ_RUN = re.compile(r'[^"\\\n]*')
_SQ_RUN = re.compile(r"[^'\\\n]*")
_BAD = re.compile("[\x00\ufeff\udc80-\udcff]")
_FAST = re.compile(
    r"""(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<str>"[^"\\\n]*")
      | (?P<op>\|\||&&|==|!=|<=|>=|[=<>!+\-*%^{}()\[\],.])""",
    re.X,
)
_TERM_AFTER = frozenset("})]")


def _end(rx: re.Pattern[str], text: str, i: int) -> int:
    """End of the (always matching, possibly empty) run of `rx` at `i`."""
    m = rx.match(text, i)
    return m.end() if m is not None else i


def fmt_rune(ch: str) -> str:
    """Go's `%#U`: `U+0023 '#'` (the character only when printable). Bad UTF-8 bytes show as U+FFFD."""
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a surrogate-escaped invalid byte: Go decodes it as utf8.RuneError
        ch, code = "\ufffd", 0xFFFD
    return f"U+{code:04X} '{ch}'" if ch.isprintable() else f"U+{code:04X}"


def is_letter(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z") or (ch >= "\x80" and ch.isalpha())


def _is_ident_char(ch: str) -> bool:
    if ch < "\x80":
        return ch == "_" or ch.isalnum()
    return ch.isalpha() or ch.isdecimal()


def _digit_val(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - 48
    if "a" <= ch <= "f" or "A" <= ch <= "F":
        return ord(ch.lower()) - 87
    return 16


def _bad_char_message(ch: str) -> str:
    if ch == "\x00":
        return "illegal character NUL"
    if ch == "\ufeff":
        return "illegal byte order mark"
    return "illegal UTF-8 encoding"


class Scanner:
    """Produces `(offset, token, literal)` triples on demand, reporting lexical errors through `on_error`.

    Offsets index the decoded text (see `source.py`). Errors are reported in the order Alloy's scanner reports
    them: errors about single characters (NUL, bad UTF-8, stray BOM) when the scanner first reads that character.
    """

    def __init__(self, text: str, on_error: ErrorHandler) -> None:
        self.text = text
        self.n = len(text)
        self.on_error = on_error
        self.insert_term = False
        self.i = 1 if text.startswith("\ufeff") else 0  # a BOM is allowed as the very first character
        self._bad = [(m.start(), _bad_char_message(m.group())) for m in _BAD.finditer(text, self.i)]
        self._bi = 0

    # --- errors ----------------------------------------------------------------------------------------

    def _flush(self, upto: int) -> None:
        """Report the single-character errors Alloy's scanner would have met by reading up to `upto`."""
        bad = self._bad
        while self._bi < len(bad) and bad[self._bi][0] <= upto:
            off, msg = bad[self._bi]
            self._bi += 1
            self.on_error(off, msg)

    def _error(self, off: int, msg: str, read_upto: int) -> None:
        if self._bi < len(self._bad):
            self._flush(read_upto)
        self.on_error(off, msg)

    # --- tokens ----------------------------------------------------------------------------------------

    def scan(self) -> tuple[int, str, str]:
        text = self.text
        n = self.n
        ws = (_WS if self.insert_term else _WS_NL).match(text, self.i)
        i = ws.end() if ws is not None else self.i
        self.i = i
        if self._bi < len(self._bad):
            self._flush(i)
        if i >= n:
            if self.insert_term:
                self.insert_term = False
                return i, t.TERMINATOR, "\n"
            return i, t.EOF, ""

        m = _FAST.match(text, i)
        if m is not None:
            kind = m.lastgroup
            j = m.end()
            nxt = text[j] if j < n else ""
            tok = ""
            if kind == "ident":
                if not nxt or nxt < "\x80":
                    lit = m.group()
                    tok = t.KEYWORDS.get(lit, t.IDENT) if len(lit) > 1 else t.IDENT
                    self.insert_term = True
            elif kind == "num":
                if nxt not in ("e", "E", "."):
                    lit = m.group()
                    tok = t.FLOAT if ("." in lit or "e" in lit or "E" in lit) else t.NUMBER
                    self.insert_term = True
            elif kind == "str":
                lit = m.group()
                tok = t.STRING
                self.insert_term = True
            else:
                lit = ""
                tok = m.group()
                self.insert_term = tok in _TERM_AFTER
            if tok:
                self.i = j
                if self._bi < len(self._bad):
                    self._flush(j)
                return i, tok, lit
        return self._scan_slow(i)

    def _scan_slow(self, i: int) -> tuple[int, str, str]:
        text = self.text
        n = self.n
        ch = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        insert_term = False
        lit = ""
        if is_letter(ch):
            j = i + 1
            while j < n and _is_ident_char(text[j]):
                j += 1
            lit = text[i:j]
            tok = t.KEYWORDS.get(lit, t.IDENT) if len(lit) > 1 else t.IDENT
            insert_term = True
        elif "0" <= ch <= "9" or (ch == "." and "0" <= nxt <= "9"):
            j = self._scan_number(i)
            lit = text[i:j]
            tok = t.FLOAT if ("." in lit or "e" in lit or "E" in lit) else t.NUMBER
            insert_term = True
        else:
            j = i + 1  # make progress, as Alloy does before looking at the character
            if self._bi < len(self._bad):
                self._flush(j)
            if ch == "\n":  # only reached when a terminator is due
                self.i = j
                self.insert_term = False
                return i, t.TERMINATOR, "\n"
            if ch == '"':
                j = self._scan_string(i, '"', escape=True, multiline=False)
                tok, lit, insert_term = t.STRING, text[i:j], True
            elif ch == "`":
                j = self._scan_string(i, "`", escape=False, multiline=True)
                tok, lit, insert_term = t.STRING, text[i:j], True
            elif ch == "'":
                self._error(i, "illegal single-quoted string; use double quotes", j)
                j = self._scan_string(i, "'", escape=True, multiline=False)
                tok, lit, insert_term = t.ILLEGAL, text[i:j], True
            elif ch == "/" and nxt in ("/", "*"):
                if self.insert_term and self._find_line_end(i):
                    # The comment runs to the end of the line: the terminator comes first, at the comment.
                    self.i = i
                    self.insert_term = False
                    return i, t.TERMINATOR, "\n"
                j, lit = self._scan_comment(i)
                tok = t.COMMENT
            elif ch == "|" or ch == "&":
                if nxt == ch:
                    j += 1
                else:
                    self._error(j, f"missing second {ch} in {ch}{ch}", j)
                tok = t.OR if ch == "|" else t.AND
            elif ch == "/":
                tok = t.DIV
            else:
                if ch != "\ufeff":  # a misplaced BOM was already reported when it was read
                    self._error(i, f"illegal character {fmt_rune(ch)}", j)
                insert_term = self.insert_term
                tok, lit = t.ILLEGAL, ch
        self.i = j
        self.insert_term = insert_term
        if self._bi < len(self._bad):
            self._flush(j)
        return i, tok, lit

    def _scan_number(self, i: int) -> int:
        text = self.text
        n = self.n
        j = i
        if text[j] != ".":
            j = _end(_DIGITS, text, j)
        if j < n and text[j] == ".":
            j = _end(_DIGITS, text, j + 1)
        if j < n and text[j] in "eE":
            j += 1
            if j < n and text[j] in "+-":
                j += 1
            k = _end(_DIGITS, text, j)
            if k == j:
                self._error(i, "exponent has no digits", j)
            j = k
        return j

    def _scan_string(self, start: int, quote: str, *, escape: bool, multiline: bool) -> int:
        """Scan from the opening quote at `start`; return the offset just past the string."""
        text = self.text
        n = self.n
        j = start + 1
        if quote == "`":
            k = text.find("`", j)
            if k == -1:
                self._error(start, "string literal not terminated", n)
                return n
            return k + 1
        run = _DQ_RUN if quote == '"' else _SQ_RUN
        while True:
            j = _end(run, text, j)
            if j >= n or (not multiline and text[j] == "\n"):
                self._error(start, "string literal not terminated", j)
                return j
            ch = text[j]
            j += 1
            if ch == quote:
                return j
            if escape and ch == "\\":
                j = self._scan_escape(j)

    def _scan_escape(self, j: int) -> int:
        """Check the escape whose first character is at `j`; stop at an offending character."""
        text = self.text
        n = self.n
        off = j
        ch = text[j] if j < n else ""
        if ch and ch in 'abfnrtv\\"':
            return j + 1
        if ch and ch in "01234567":
            count, base, limit = 3, 8, 255
        elif ch == "x":
            j += 1
            count, base, limit = 2, 16, 255
        elif ch == "u":
            j += 1
            count, base, limit = 4, 16, 0x10FFFF
        elif ch == "U":
            j += 1
            count, base, limit = 8, 16, 0x10FFFF
        else:
            self._error(off, "escape sequence not terminated" if not ch else "unknown escape sequence", j)
            return j
        value = 0
        while count > 0:
            c = text[j] if j < n else ""
            d = _digit_val(c) if c else 16
            if d >= base:
                msg = f"illegal character {fmt_rune(c)} in escape sequence" if c else "escape sequence not terminated"
                self._error(off, msg, j)
                return j
            value = value * base + d
            j += 1
            count -= 1
        if value > limit or 0xD800 <= value < 0xE000:
            self._error(off, "escape sequence is invalid Unicode code point", j)
        return j

    def _scan_comment(self, i: int) -> tuple[int, str]:
        text = self.text
        n = self.n
        if text[i + 1] == "/":
            j = text.find("\n", i + 2)
            if j == -1:
                j = n
        else:
            k = text.find("*/", i + 2)
            if k == -1:
                self._error(i, "block comment not terminated", n)
                j = n
            else:
                j = k + 2
        lit = text[i:j]
        if "\r" in lit:  # Windows line endings are not part of the comment text
            lit = lit.replace("\r", "")
        return j, lit

    def _find_line_end(self, i: int) -> bool:
        """True when the comment(s) starting at `i` run to the end of the line (then a terminator is due)."""
        text = self.text
        n = self.n
        j = i + 1  # the character after the first '/'
        while j < n and text[j] in "/*":
            if text[j] == "/":
                return True
            close = text.find("*/", j + 1)
            newline = text.find("\n", j + 1)
            if newline != -1 and (close == -1 or newline < close):
                return True
            if close == -1:
                return True  # unterminated: runs to EOF
            j = _end(_WS, text, close + 2)
            if j >= n or text[j] == "\n":
                return True
            if text[j] != "/":
                return False
            j += 1
        return False


def is_valid_identifier(s: str) -> bool:
    """True when `s` scans as exactly one identifier (keywords excluded), as Alloy requires of block labels."""
    if not s or not is_letter(s[0]):
        return False
    if not all(_is_ident_char(c) for c in s[1:]):
        return False
    return len(s) == 1 or s not in t.KEYWORDS
