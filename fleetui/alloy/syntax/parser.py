"""The Alloy parser: recursive descent with the grammar, messages and error recovery of Alloy's parser.

Like Alloy's `syntax/parser`, it keeps going after an error so that one run reports as many problems as it can:
parser errors on a line that already has one are dropped, a broken statement is skipped to its terminator, and a
broken block name skips to the next identifier. Lexical errors from the scanner are always kept. When anything was
reported the tree is discarded and `AlloySyntaxError` carries the diagnostics in the order they were found.

One addition: nesting (blocks, arrays, objects, calls, parentheses, unary operators) deeper than `MAX_DEPTH` stops
the parse with an error, where Alloy would recurse on; Python's stack is smaller than Go's.
"""

from __future__ import annotations

import sys

from fleetui.alloy.syntax import ast
from fleetui.alloy.syntax import tokens as t
from fleetui.alloy.syntax.diagnostics import AlloySyntaxError, Diagnostic
from fleetui.alloy.syntax.scanner import Scanner, is_valid_identifier
from fleetui.alloy.syntax.source import Source, decode
from fleetui.alloy.syntax.strings import go_quote, unquote

MAX_DEPTH = 100
_RECURSION_LIMIT = 4000

_STATEMENT_END = frozenset((t.TERMINATOR, t.RPAREN, t.RCURLY, t.RBRACK, t.COMMA))
_PREC = t.PRECEDENCE


class _TooDeep(Exception):
    """Raised to abandon a parse that nests deeper than MAX_DEPTH."""


class _BlockName:
    __slots__ = ("fragments", "label", "label_off", "start")

    def __init__(self, first: str, start: int) -> None:
        self.fragments = [first]
        self.label: str | None = None
        self.label_off = -1
        self.start = start


class Parser:
    def __init__(self, src: str | bytes, filename: str) -> None:
        self.filename = filename
        self.source = Source(decode(src))
        self.diags: list[Diagnostic] = []
        self.comments: list[ast.Comment] = []
        self.last_error_line = 0
        self.depth = 0
        self.scanner = Scanner(self.source.text, self._scan_error)
        self.off = 0
        self.tok = t.EOF
        self.lit = ""
        self.next()

    # --- plumbing --------------------------------------------------------------------------------------

    def _scan_error(self, off: int, msg: str) -> None:
        p = self.source.pos(off)
        self.diags.append(Diagnostic(self.filename, p.line, p.col, msg))

    def _add(self, off: int, msg: str) -> None:
        """An error that is always reported (Alloy adds these directly, bypassing the one-per-line rule)."""
        p = self.source.pos(off)
        self.diags.append(Diagnostic(self.filename, p.line, p.col, msg))

    def error(self, msg: str) -> None:
        """A parser error at the current token; a second one on the same line is dropped, as in Alloy."""
        p = self.source.pos(self.off)
        if p.line == self.last_error_line:
            return
        self.last_error_line = p.line
        self.diags.append(Diagnostic(self.filename, p.line, p.col, msg))

    def pos(self, off: int) -> ast.Pos:
        return self.source.pos(off)

    def next(self) -> None:
        scan = self.scanner.scan
        self.off, self.tok, self.lit = scan()
        while self.tok == t.COMMENT:
            self.comments.append(ast.Comment(self.lit, self.source.pos(self.off)))
            self.off, self.tok, self.lit = scan()

    def expect(self, tok: str) -> tuple[int, str, str]:
        got = (self.off, self.tok, self.lit)
        if self.tok != tok:
            self.error(f"expected {tok}, got {self.tok}")
        self.next()
        return got

    def advance(self, to: str) -> None:
        while self.tok != t.EOF and self.tok != to:
            self.next()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._add(self.off, f"nesting too deep (more than {MAX_DEPTH} levels)")
            raise _TooDeep

    # --- statements ------------------------------------------------------------------------------------

    def parse_file(self) -> ast.File:
        try:
            body = self.parse_body(t.EOF)
        except _TooDeep:
            body = ()
        except RecursionError:  # only if the caller's own stack was already deep
            self._add(self.off, f"nesting too deep (more than {MAX_DEPTH} levels)")
            body = ()
        return ast.File(self.filename, body, tuple(self.comments))

    def parse_body(self, until: str) -> tuple[ast.Stmt, ...]:
        body: list[ast.Stmt] = []
        while self.tok != until and self.tok != t.EOF:
            stmt = self.parse_statement()
            if stmt is not None:
                body.append(stmt)
            if self.tok == until:
                break
            if self.tok != t.TERMINATOR:
                self.error(f"expected {t.TERMINATOR}, got {self.tok}")
                self.consume_statement()
            self.next()
        return tuple(body)

    def consume_statement(self) -> None:
        curly = brack = paren = 0
        while self.tok != t.EOF:
            tok = self.tok
            if tok == t.LCURLY:
                curly += 1
            elif tok == t.RCURLY:
                curly -= 1
            elif tok == t.LBRACK:
                brack += 1
            elif tok == t.RBRACK:
                brack -= 1
            elif tok == t.LPAREN:
                paren += 1
            elif tok == t.RPAREN:
                paren -= 1
            elif tok == t.TERMINATOR and curly <= 0 and brack <= 0 and paren <= 0:
                return
            self.next()

    def parse_statement(self) -> ast.Stmt | None:
        name = self.parse_block_name()
        if name is None:
            self.advance(t.IDENT)
            return None
        if self.tok == t.ASSIGN:
            self.next()
            if len(name.fragments) != 1:
                self._add(name.start, 'attribute names may only consist of a single identifier with no "."')
            elif name.label_off >= 0:
                self._add(name.label_off, "attribute names may not have labels")
            return ast.Attribute(name.fragments[0], self.parse_expression(), self.pos(name.start))
        if self.tok == t.LCURLY:
            self.enter()
            self.expect(t.LCURLY)
            body = self.parse_body(t.RCURLY)
            end_off = self.off
            self.expect(t.RCURLY)
            self.depth -= 1
            return ast.Block(
                tuple(name.fragments), name.label or None, body, self.pos(name.start), end=self.pos(end_off)
            )
        if len(name.fragments) == 1 and not name.label:
            self.error(f"expected attribute assignment or block body, got {self.tok}")
        else:
            self.error(f"expected block body, got {self.tok}")
        self.advance(t.IDENT)
        return None

    def parse_block_name(self) -> _BlockName | None:
        if self.tok != t.IDENT:
            self.error(f"expected identifier, got {self.tok}")
            return None
        name = _BlockName(self.lit, self.off)
        self.next()
        while self.tok == t.DOT:
            self.next()
            if self.tok != t.IDENT:
                self.error(f"expected identifier, got {self.tok}")
            name.fragments.append(self.lit)
            self.next()
        if self.tok != t.ASSIGN and self.tok != t.LCURLY:
            if self.tok == t.STRING:
                lit = self.lit
                if lit[0] != '"':
                    self.error(f"expected block label to be a double quoted string, but got {go_quote(lit)}")
                if len(lit) > 2:
                    name.label = lit[1:-1]
                    if not is_valid_identifier(name.label):
                        self.error(f"expected block label to be a valid identifier, but got {go_quote(name.label)}")
                name.label_off = self.off
            else:
                self.error(f"expected block label, got {self.tok}")
            self.next()
        return name

    # --- expressions -----------------------------------------------------------------------------------

    def parse_expression(self) -> ast.Expr:
        return self.parse_binop(1)

    def parse_binop(self, in_prec: int) -> ast.Expr:
        lhs = self.parse_pow()
        while True:
            op = self.tok
            prec = _PREC.get(op, 0)
            if prec < in_prec:
                return lhs
            op_off = self.off
            self.next()
            rhs = self.parse_binop(prec + 1)
            lhs = ast.Binary(op, lhs, rhs, self.pos(op_off))

    def parse_pow(self) -> ast.Expr:
        lhs = self.parse_unary()
        if self.tok == t.POW:
            op_off = self.off
            self.next()
            self.enter()
            rhs = self.parse_pow()
            self.depth -= 1
            return ast.Binary(t.POW, lhs, rhs, self.pos(op_off))
        return lhs

    def parse_unary(self) -> ast.Expr:
        if self.tok == t.NOT or self.tok == t.SUB:
            op, op_off = self.tok, self.off
            self.next()
            self.enter()
            value = self.parse_unary()
            self.depth -= 1
            return ast.Unary(op, value, self.pos(op_off))

        start_off = self.off
        primary = self.parse_primary()
        while True:
            tok = self.tok
            if tok == t.DOT:
                self.next()
                name_off, _, name = self.expect(t.IDENT)
                primary = ast.Access(primary, name, self.pos(name_off))
            elif tok == t.LBRACK:
                off = self.off
                self.enter()
                self.next()
                index = self.parse_expression()
                end_off = self.off
                self.expect(t.RBRACK)
                self.depth -= 1
                primary = ast.Index(primary, index, self.pos(off), end=self.pos(end_off))
            elif tok == t.LPAREN:
                off = self.off
                self.enter()
                self.next()
                args: tuple[ast.Expr, ...] = ()
                if self.tok != t.RPAREN:
                    args = self.parse_expression_list(t.RPAREN)
                end_off = self.off
                self.expect(t.RPAREN)
                self.depth -= 1
                primary = ast.Call(primary, args, self.pos(off), end=self.pos(end_off))
            elif tok == t.STRING or tok == t.LCURLY:
                # Probably a block assigned to an attribute (`x = a.b "l" { ... }`): parse it as one to say so.
                if tok == t.STRING:
                    self.next()
                if self.expect(t.LCURLY)[1] != t.LCURLY:
                    self.consume_statement()
                    return primary
                self.enter()
                self.parse_body(t.RCURLY)
                self.depth -= 1
                if self.expect(t.RCURLY)[1] != t.RCURLY:
                    self.consume_statement()
                    return primary
                self._add(start_off, "cannot use a block as an expression")
            else:
                return primary

    def parse_primary(self) -> ast.Expr:
        tok = self.tok
        off = self.off
        if tok == t.IDENT:
            expr: ast.Expr = ast.Ident(self.lit, self.pos(off))
            self.next()
            return expr
        if tok == t.STRING or tok == t.NUMBER or tok == t.FLOAT or tok == t.BOOL or tok == t.NULL:
            expr = ast.Literal(_literal_value(tok, self.lit), self.lit, self.pos(off))
            self.next()
            return expr
        if tok == t.LPAREN:
            self.enter()
            self.next()
            inner = self.parse_expression()
            end_off = self.off
            self.expect(t.RPAREN)
            self.depth -= 1
            return ast.Paren(inner, self.pos(off), end=self.pos(end_off))
        if tok == t.LBRACK:
            self.enter()
            self.next()
            elements: tuple[ast.Expr, ...] = ()
            if self.tok != t.RBRACK:
                elements = self.parse_expression_list(t.RBRACK)
            end_off = self.off
            self.expect(t.RBRACK)
            self.depth -= 1
            return ast.Array(elements, self.pos(off), end=self.pos(end_off))
        if tok == t.LCURLY:
            self.enter()
            self.next()
            fields: tuple[ast.ObjectField, ...] = ()
            if self.tok != t.RBRACK:  # sic: Alloy compares with `]` here, so `{}` goes through the field list
                fields = self.parse_field_list(t.RCURLY)
            end_off = self.off
            self.expect(t.RCURLY)
            self.depth -= 1
            return ast.Object(fields, self.pos(off), end=self.pos(end_off))
        self.error(f"expected expression, got {tok}")
        expr = ast.Literal(None, "null", self.pos(off))
        while self.tok != t.EOF and self.tok not in _STATEMENT_END:
            self.next()
        return expr

    def parse_expression_list(self, until: str) -> tuple[ast.Expr, ...]:
        exprs: list[ast.Expr] = []
        while self.tok != until and self.tok != t.EOF:
            exprs.append(self.parse_expression())
            if self.tok == until:
                break
            if self.tok != t.COMMA:
                self.error("missing ',' in expression list")
            self.next()
        return tuple(exprs)

    def parse_field_list(self, until: str) -> tuple[ast.ObjectField, ...]:
        fields: list[ast.ObjectField] = []
        while self.tok != until and self.tok != t.EOF:
            fields.append(self.parse_field())
            if self.tok == until:
                break
            if self.tok != t.COMMA:
                self.error("missing ',' in field list")
            self.next()
        return tuple(fields)

    def parse_field(self) -> ast.ObjectField:
        off = self.off
        key, quoted = "", False
        if self.tok == t.IDENT:
            key = self.lit
            self.next()
        elif self.tok == t.STRING:
            key, quoted = str(_literal_value(t.STRING, self.lit)), True
            self.next()
        else:
            self.error(f"expected field name (string or identifier), got {self.tok}")
            self.advance(t.ASSIGN)
        self.expect(t.ASSIGN)
        return ast.ObjectField(key, quoted, self.parse_expression(), self.pos(off))


def _literal_value(tok: str, lit: str) -> int | float | str | bool | None:
    if tok == t.NUMBER:
        return int(lit)
    if tok == t.FLOAT:
        try:
            return float(lit)
        except ValueError:  # `1e` (already reported by the scanner)
            return 0.0
    if tok == t.BOOL:
        return lit == "true"
    if tok == t.NULL:
        return None
    return unquote(lit)


def parse(src: str | bytes, filename: str = "<input>") -> ast.File:
    """Parse a whole Alloy file, or raise AlloySyntaxError with every diagnostic."""
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        # MAX_DEPTH levels take ~7 frames each. Raised once and never lowered again, so concurrent parses in
        # other threads cannot have the limit pulled from under them.
        sys.setrecursionlimit(_RECURSION_LIMIT)
    p = Parser(src, filename)
    f = p.parse_file()
    if p.diags:
        raise AlloySyntaxError(p.diags)
    return f


def check(src: str | bytes, filename: str = "<input>") -> list[Diagnostic]:
    """The diagnostics for `src`; empty when it parses."""
    try:
        parse(src, filename)
    except AlloySyntaxError as e:
        return e.diagnostics
    return []
