"""Scanner tests: tokens, automatic terminators and lexical errors, with Alloy's messages and byte columns."""

from __future__ import annotations

import pytest

from fleetui.alloy.syntax import check
from fleetui.alloy.syntax import tokens as t
from fleetui.alloy.syntax.scanner import Scanner, is_valid_identifier
from fleetui.alloy.syntax.source import Source, decode


def scan(src: str | bytes) -> tuple[list[tuple[str, str]], list[tuple[int, int, str]]]:
    """All tokens (kind, literal) up to EOF and the lexical errors as (line, col, message)."""
    text = decode(src)
    source = Source(text)
    errors: list[tuple[int, int, str]] = []

    def on_error(off: int, msg: str) -> None:
        p = source.pos(off)
        errors.append((p.line, p.col, msg))

    s = Scanner(text, on_error)
    toks = []
    while True:
        _, tok, lit = s.scan()
        if tok == t.EOF:
            return toks, errors
        toks.append((tok, lit))


def kinds(src: str) -> list[str]:
    return [k for k, _ in scan(src)[0]]


def errs(src: str | bytes) -> list[tuple[int, int, str]]:
    return [(d.line, d.col, d.message) for d in check(src, "t")]


# --- identifiers and keywords ---------------------------------------------------------------------------


@pytest.mark.parametrize("ident", ["a", "_", "foo_bar9", "Ünïcödé", "名前", "x١٢"])
def test_identifiers_include_unicode_letters_and_digits(ident: str) -> None:
    assert scan(ident)[0][0] == (t.IDENT, ident)
    assert is_valid_identifier(ident)


@pytest.mark.parametrize("word,kind", [("true", t.BOOL), ("false", t.BOOL), ("null", t.NULL), ("nulls", t.IDENT)])
def test_keywords(word: str, kind: str) -> None:
    assert scan(word)[0][0] == (kind, word)


@pytest.mark.parametrize("label", ["web-01", "with space", "1abc", "", "true", "a.b", "x²"])
def test_invalid_identifiers(label: str) -> None:
    assert not is_valid_identifier(label)


# --- numbers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src,kind", [("1", t.NUMBER), ("1234", t.NUMBER), ("1.5", t.FLOAT), (".5", t.FLOAT), ("1.", t.FLOAT),
                 ("1e3", t.FLOAT), ("2E-3", t.FLOAT), ("1.5e+10", t.FLOAT)]
)  # fmt: skip
def test_number_forms(src: str, kind: str) -> None:
    assert scan(src) == ([(kind, src), (t.TERMINATOR, "\n")], [])


def test_exponent_without_digits_is_reported_at_the_number() -> None:
    assert scan("x = 12e+")[1] == [(1, 5, "exponent has no digits")]


def test_hex_is_not_a_number_form() -> None:
    # `0x1F` scans as the number 0 followed by the identifier x1F, which the parser then rejects.
    assert scan("0x1F")[0][:2] == [(t.NUMBER, "0"), (t.IDENT, "x1F")]
    assert errs("a = 0x1F\n") == [(1, 6, "expected TERMINATOR, got IDENT")]


# --- strings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lit", [r'"\a\b\f\n\r\t\v\\\""', r'"\101\000\377"', r'"\x41\xfF"', r'"\u00e9"', r'"\U0001F600"', '"é ☃"']
)
def test_valid_escapes(lit: str) -> None:
    assert scan(lit) == ([(t.STRING, lit), (t.TERMINATOR, "\n")], [])


@pytest.mark.parametrize(
    "src,error",
    [
        (r'x = "a\'b"', (1, 8, "unknown escape sequence")),
        (r'x = "\q"', (1, 7, "unknown escape sequence")),
        (r'x = "\x4g"', (1, 7, "illegal character U+0067 'g' in escape sequence")),
        (r'x = "\400"', (1, 7, "escape sequence is invalid Unicode code point")),
        (r'x = "\uD800"', (1, 7, "escape sequence is invalid Unicode code point")),
        (r'x = "\U00110000"', (1, 7, "escape sequence is invalid Unicode code point")),
        ('x = "abc', (1, 5, "string literal not terminated")),
        ('x = "abc\ny = 1', (1, 5, "string literal not terminated")),
        ("x = `abc", (1, 5, "string literal not terminated")),
    ],
)
def test_string_errors(src: str, error: tuple[int, int, str]) -> None:
    assert scan(src)[1][0] == error


def test_escape_at_end_of_input() -> None:
    assert scan('x = "\\')[1] == [(1, 7, "escape sequence not terminated"), (1, 5, "string literal not terminated")]


def test_raw_string_spans_lines_without_escapes() -> None:
    toks, errors = scan('`a\\n\n"b"`')
    assert toks[0] == (t.STRING, '`a\\n\n"b"`')
    assert errors == []


def test_single_quotes_are_rejected() -> None:
    toks, errors = scan("x = 'abc'")
    assert (t.ILLEGAL, "'abc'") in toks
    assert errors == [(1, 5, "illegal single-quoted string; use double quotes")]


# --- operators and punctuation -----------------------------------------------------------------------------


def test_operators() -> None:
    src = "|| && ! != = == < <= > >= + - * / % ^ { } ( ) [ ] , ."
    assert kinds(src) == src.split()


def test_lone_pipe_and_ampersand() -> None:
    assert scan("a | b")[1] == [(1, 4, "missing second | in ||")]
    assert scan("a & b")[1] == [(1, 4, "missing second & in &&")]


# --- terminators -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("last", ["a", "1", "1.5", '"s"', "true", "null", ")", "]", "}"])
def test_newline_after_value_tokens_is_a_terminator(last: str) -> None:
    assert kinds(f"{last}\n")[-1] == t.TERMINATOR


@pytest.mark.parametrize("last", ["+", ",", "(", "[", "{", "=", "."])
def test_newline_after_other_tokens_is_skipped(last: str) -> None:
    assert t.TERMINATOR not in kinds(f"{last}\n")


def test_terminator_comes_before_a_comment_that_ends_the_line() -> None:
    assert kinds("a // c\nb") == [t.IDENT, t.TERMINATOR, t.COMMENT, t.IDENT, t.TERMINATOR]
    assert kinds("a /* c */\nb") == [t.IDENT, t.TERMINATOR, t.COMMENT, t.IDENT, t.TERMINATOR]
    # a block comment followed by more code on the same line does not end the statement
    assert kinds("a /* c */ b") == [t.IDENT, t.COMMENT, t.IDENT, t.TERMINATOR]


# --- comments and illegal characters ---------------------------------------------------------------------


def test_comments() -> None:
    assert scan("// line\n/* block\nmore */") == ([(t.COMMENT, "// line"), (t.COMMENT, "/* block\nmore */")], [])


def test_block_comment_not_terminated() -> None:
    assert scan("a = 1\n  /* open")[1] == [(2, 3, "block comment not terminated")]


def test_hash_comment_is_illegal() -> None:
    assert errs("# comment\n") == [(1, 1, "illegal character U+0023 '#'"), (1, 1, "expected identifier, got ILLEGAL")]


def test_bom_only_allowed_first() -> None:
    assert errs("\ufeffa = 1\n") == []
    assert errs(b"\xef\xbb\xbfa = 1\n") == []
    assert errs("a = 1\n\ufeff") == [(2, 1, "illegal byte order mark"), (2, 1, "expected identifier, got ILLEGAL")]


def test_nul_is_illegal() -> None:
    assert errs('a = "x\x00y"\n') == [(1, 7, "illegal character NUL")]


def test_invalid_utf8_is_reported_at_its_byte() -> None:
    assert errs(b'a = "\xff"\n') == [(1, 6, "illegal UTF-8 encoding")]


def test_columns_count_bytes_and_tabs_count_one() -> None:
    # "é" is two bytes in UTF-8; Alloy's columns are byte offsets
    assert errs('x = "é" y\n') == [(1, 10, "expected TERMINATOR, got IDENT")]
    assert errs("\t\tx = 1 y\n") == [(1, 9, "expected TERMINATOR, got IDENT")]


def test_crlf_line_endings() -> None:
    assert errs("a = 1\r\nb {\r\n\tc = 2\r\n}\r\n") == []
