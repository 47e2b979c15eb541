"""`format_file`: print a parsed file the way `alloy fmt` does, comments included.

Same model as Alloy's printer (reimplemented, not copied): a walker emits tokens, whitespace codes and source
positions; the printer keeps whitespace pending so comments can be slotted in before the next token at the place
they had in the source; the result goes through elastic tabstops (`tabwriter.py`) so `=` signs and trailing
comments line up in runs of consecutive lines, then blanks at line ends are trimmed. Layout decisions (one line
or several, blank lines between statements) follow the source lines, as in Alloy.

Known differences, both where Alloy's output would change a value:
- a quoted object key is written from its value (`go_quote(key)`); Alloy re-quotes the raw text and so doubles
  escapes in keys such as `"a\\"b"`;
- tab characters inside string literals, and blanks at the end of lines inside raw strings, are kept; Alloy's
  printer lets its tabwriter expand or trim them.
"""

from __future__ import annotations

import re

from fleetui.alloy.syntax import ast
from fleetui.alloy.syntax import tokens as t
from fleetui.alloy.syntax.strings import go_quote
from fleetui.alloy.syntax.tabwriter import ESC, tabwrite, trim

# whitespace codes
_IGNORE, _BLANK, _VTAB, _NEWLINE, _FORMFEED, _INDENT, _UNINDENT = "", " ", "\v", "\n", "\f", ">", "<"
_BIG = (1 << 62, 1 << 62)
_LITERAL = "LITERAL"  # last token was whitespace


_NEEDS_PROTECTION = re.compile(r"[\t\v\f]|[ \t]\n")


def _protect(segment: str) -> str:
    """Make one line of a string literal opaque to the tabwriter and trimmer when they would alter it."""
    return ESC + segment + ESC if _NEEDS_PROTECTION.search(segment + "\n") else segment


def _blen(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogateescape"))


def _end_of_text(pos: ast.Pos, text: str) -> tuple[int, int]:
    """Position of the last character of `text` written at `pos` (multi-line raw strings and comments)."""
    nl = text.count("\n")
    if nl == 0:
        return pos.line, pos.col + _blen(text) - 1
    return pos.line + nl, _blen(text[text.rindex("\n") + 1 :])


def start_line(n: ast.Stmt | ast.Expr) -> int:
    while True:
        if isinstance(n, ast.Access | ast.Index):
            n = n.value
        elif isinstance(n, ast.Call):
            n = n.func
        elif isinstance(n, ast.Binary):
            n = n.left
        else:
            return n.pos.line


def end_line(n: ast.Stmt | ast.Expr) -> int:
    while True:
        if isinstance(n, ast.Attribute | ast.Unary):
            n = n.value
        elif isinstance(n, ast.Binary):
            n = n.right
        elif isinstance(n, ast.Block | ast.Array | ast.Object | ast.Index | ast.Call | ast.Paren):
            return (n.end or n.pos).line
        elif isinstance(n, ast.Literal):
            return n.pos.line + n.raw.count("\n")
        else:  # Ident, Access
            return n.pos.line


class _Printer:
    def __init__(self, comments: tuple[ast.Comment, ...]) -> None:
        self.out: list[str] = []
        self.out_len = 0
        self.indent = 0
        self.last_tok = t.EOF
        self.ws: list[str] = []
        self.comments = comments
        self.ci = 0
        self.pos = [1, 1]  # source position of what is being written
        self.last = [0, 0]  # source position after the last thing written
        self.out_line_col1 = True  # output is at column 1

    # --- public write primitives ------------------------------------------------------------------------

    def white(self, *codes: str) -> None:
        for code in codes:
            if len(self.ws) == 16:
                self._write_ws(16)
            self.ws.append(code)
            self.last_tok = _LITERAL

    def at(self, pos: ast.Pos | None) -> None:
        if pos is not None:
            self.pos = [pos.line, pos.col]

    def token(self, tok: str) -> None:
        if (self.last_tok == t.NUMBER and tok[0] == ".") or (self.last_tok == t.DIV and tok[0] == "*"):
            self.ws = [_BLANK]
        self._emit(tok, tok)

    def text(self, data: str, kind: str) -> None:
        if kind == t.STRING and _NEEDS_PROTECTION.search(data):
            self._emit(data, kind, "\n".join(_protect(seg) for seg in data.split("\n")))
        else:
            self._emit(data, kind)

    # --- machinery -------------------------------------------------------------------------------------

    def _emit(self, data: str, kind: str, shown: str | None = None) -> None:
        self.last_tok = kind
        nxt = (self.pos[0], self.pos[1])
        self.flush(nxt, kind)
        self._write_string(nxt, data, False, shown)

    def _comment_before(self, nxt: tuple[int, int]) -> bool:
        if self.ci >= len(self.comments):
            return False
        c = self.comments[self.ci].pos
        return (c.line, c.col) <= nxt

    def flush(self, nxt: tuple[int, int], tok: str) -> None:
        if self._comment_before(nxt):
            last: ast.Comment | None = None
            while self._comment_before(nxt):
                c = self.comments[self.ci]
                self._comment_prefix(nxt, c)
                self._write_string((c.pos.line, c.pos.col), c.text, True)
                last = c
                self.ci += 1
            if last is not None:
                self._comment_suffix(nxt, tok, last)
        elif tok != t.EOF:
            self._write_ws(len(self.ws))

    def _comment_prefix(self, nxt: tuple[int, int], c: ast.Comment) -> None:
        if not self.out_len:
            return
        if c.pos.line == self.last[0]:
            self._write_byte(" " if c.pos.line == nxt[0] else "\t", 1)
            return
        count = 0
        for i, code in enumerate(self.ws):
            if code in (_INDENT, _UNINDENT):
                continue
            self.ws[i] = _IGNORE
            count = i
            break
        self._write_ws(count)
        newlines = c.pos.line - self.last[0] if self.last[0] > 0 else 0
        if newlines > 0:
            self._write_byte("\f", min(newlines, 2))

    def _comment_suffix(self, nxt: tuple[int, int], tok: str, last: ast.Comment) -> None:
        if tok == t.EOF:
            return
        if last.text[1] == "*" and nxt[0] == _end_of_text(last.pos, last.text)[0]:
            self._write_byte(" ", 1)
        newlines = nxt[0] - self.last[0]
        dropped_ff = False
        for i, code in enumerate(self.ws):
            if code in (_INDENT, _UNINDENT):
                continue
            if code == _FORMFEED:
                dropped_ff = True
            self.ws[i] = _IGNORE
        self._write_ws(len(self.ws))
        if newlines > 0:
            self._write_byte("\f" if dropped_ff else "\n", min(newlines, 2))

    def _write_indent(self) -> None:
        self.out.append("\t" * self.indent)
        self.out_len += self.indent
        self.pos[1] += self.indent
        self.out_line_col1 = self.indent == 0

    def _write_string(self, pos: tuple[int, int], s: str, is_lit: bool, shown: str | None = None) -> None:
        """Write `s` (or its protected form `shown`); comments (`is_lit`) are opaque to the tabwriter."""
        if self.out_line_col1:
            self._write_indent()
        self.pos = [pos[0], pos[1]]
        if is_lit:
            self.out.append(ESC + s + ESC)
        else:
            self.out.append(s if shown is None else shown)
        self.out_len += len(s)
        newlines = s.count("\n") + s.count("\f")
        if newlines:
            last_nl = max(s.rfind("\n"), s.rfind("\f"))
            self.pos[0] += newlines
            self.pos[1] = _blen(s[last_nl:])
            self.out_line_col1 = len(s) - last_nl == 1
        else:
            self.pos[1] += _blen(s)
            self.out_line_col1 = self.out_line_col1 and not s
        self.last = list(self.pos)

    def _write_byte(self, ch: str, n: int) -> None:
        if self.out_line_col1:
            self._write_indent()
        self.out.append(ch * n)
        self.out_len += n
        if ch in "\n\f":
            self.pos = [self.pos[0] + n, 1]
            self.out_line_col1 = True
        else:
            self.pos[1] += n
            self.out_line_col1 = False

    def _write_ws(self, n: int) -> None:
        for code in self.ws[:n]:
            if code == _INDENT:
                self.indent += 1
            elif code == _UNINDENT:
                self.indent = max(0, self.indent - 1)
            elif code:
                self._write_byte(code, 1)
        del self.ws[:n]

    def result(self) -> str:
        self.flush(_BIG, t.EOF)
        return trim(tabwrite("".join(self.out)))


class _Walker:
    def __init__(self, p: _Printer) -> None:
        self.p = p

    def stmts(self, stmts: tuple[ast.Stmt, ...]) -> None:
        p = self.p
        for i, s in enumerate(stmts):
            # A block always follows a blank line; other statements keep the author's blank line.
            if i > 0 and (isinstance(s, ast.Block) or start_line(s) - end_line(stmts[i - 1]) > 1):
                p.white(_FORMFEED)
            self.stmt(s)
            p.white(_FORMFEED if end_line(s) > start_line(s) else _NEWLINE)

    def stmt(self, s: ast.Stmt) -> None:
        p = self.p
        if isinstance(s, ast.Attribute):
            p.at(s.pos)
            p.text(s.name, t.IDENT)
            p.white(_VTAB)
            p.token(t.ASSIGN)
            p.white(_BLANK)
            self.expr(s.value)
            return
        p.at(s.pos)
        p.text(".".join(s.name), t.IDENT)
        if s.label:
            p.white(_BLANK)
            p.text(go_quote(s.label), t.STRING)
        p.white(_BLANK)
        p.token(t.LCURLY)
        p.white(_INDENT)
        if s.body:
            p.white(_FORMFEED)
            self.stmts(s.body)
        else:
            p.white(_BLANK)
        p.white(_UNINDENT)
        p.at(s.end)
        p.token(t.RCURLY)

    def expr(self, e: ast.Expr) -> None:
        p = self.p
        if isinstance(e, ast.Literal):
            p.at(e.pos)
            kind = {bool: t.BOOL, int: t.NUMBER, float: t.FLOAT, str: t.STRING}.get(type(e.value), t.NULL)
            p.text(e.raw, kind)
        elif isinstance(e, ast.Ident):
            p.at(e.pos)
            p.text(e.name, t.IDENT)
        elif isinstance(e, ast.Array):
            self.array(e)
        elif isinstance(e, ast.Object):
            self.object(e)
        elif isinstance(e, ast.Access):
            self.expr(e.value)
            p.token(t.DOT)
            p.at(e.pos)  # the name's own place, so a comment between the dot and the name stays before it
            p.text(e.name, t.IDENT)
        elif isinstance(e, ast.Index):
            self.expr(e.value)
            p.at(e.pos)
            p.token(t.LBRACK)
            self.expr(e.index)
            p.at(e.end)
            p.token(t.RBRACK)
        elif isinstance(e, ast.Call):
            self.call(e)
        elif isinstance(e, ast.Unary):
            p.at(e.pos)
            p.token(e.op)
            self.expr(e.value)
        elif isinstance(e, ast.Binary):
            self.expr(e.left)
            p.white(_BLANK)
            p.at(e.pos)
            p.token(e.op)
            p.white(_BLANK)
            self.expr(e.right)
        elif isinstance(e, ast.Paren):
            p.token(t.LPAREN)
            self.expr(e.inner)
            p.token(t.RPAREN)

    def array(self, e: ast.Array) -> None:
        p = self.p
        p.at(e.pos)
        p.token(t.LBRACK)
        prev = e.pos.line
        n = len(e.elements)
        for i, el in enumerate(e.elements):
            newline = prev != start_line(el)
            if newline:
                p.white(_INDENT, _FORMFEED)
            elif i > 0:
                p.white(_BLANK)
            prev = end_line(el)
            self.expr(el)
            if i + 1 < n:
                p.token(t.COMMA)
            if newline:
                p.white(_UNINDENT)
        end = e.end or e.pos
        if n and prev != end.line:
            p.token(t.COMMA)
            p.white(_INDENT, _FORMFEED, _UNINDENT)
        p.at(e.end)
        p.token(t.RBRACK)

    def object(self, e: ast.Object) -> None:
        p = self.p
        p.at(e.pos)
        p.token(t.LCURLY)
        p.white(_INDENT)
        prev = e.pos.line
        n = len(e.fields)
        for i, f in enumerate(e.fields):
            if prev != f.pos.line:
                if i > 0 and end_line(e.fields[i - 1].value) == start_line(e.fields[i - 1].value):
                    p.white(_NEWLINE)
                else:
                    p.white(_FORMFEED)
            elif i > 0:
                p.white(_BLANK)
            prev = f.pos.line
            p.at(f.pos)
            if f.quoted:
                p.text(go_quote(f.key), t.STRING)
            else:
                p.text(f.key, t.IDENT)
            p.white(_VTAB)
            p.token(t.ASSIGN)
            p.white(_BLANK)
            self.expr(f.value)
            if i + 1 < n:
                p.token(t.COMMA)
        end = e.end or e.pos
        if n and prev != end.line:
            p.token(t.COMMA)
            p.white(_FORMFEED)
        p.white(_UNINDENT)
        p.at(e.end)
        p.token(t.RCURLY)

    def call(self, e: ast.Call) -> None:
        p = self.p
        self.expr(e.func)
        p.token(t.LPAREN)
        prev = e.pos.line
        n = len(e.args)
        for i, arg in enumerate(e.args):
            newline = prev != start_line(arg)
            if newline:
                p.white(_FORMFEED, _INDENT)
            self.expr(arg)
            prev = end_line(arg)
            if i + 1 < n:
                p.token(t.COMMA)
                p.white(_BLANK)
            if newline:
                p.white(_UNINDENT)
        if prev != (e.end or e.pos).line:
            p.token(t.COMMA)
            p.white(_FORMFEED)
        p.token(t.RPAREN)


def format_file(f: ast.File) -> str:
    """The file as `alloy fmt` prints it: tab indents, aligned `=`, comments kept, one newline at the end."""
    p = _Printer(f.comments)
    w = _Walker(p)
    w.stmts(f.body)
    return p.result() + "\n"
