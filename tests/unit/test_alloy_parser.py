"""Parser tests: each statement and expression form of the Alloy syntax, valid and invalid.

Expected messages, lines and columns are the ones Alloy's own parser reports (grafana/alloy syntax/parser).
"""

from __future__ import annotations

import pytest

from fleetui.alloy.syntax import MAX_DEPTH, AlloySyntaxError, Diagnostic, ast, check, parse


def errs(src: str | bytes) -> list[tuple[int, int, str]]:
    return [(d.line, d.col, d.message) for d in check(src, "t.alloy")]


def value(expr_src: str) -> ast.Expr:
    f = parse(f"x = {expr_src}\n")
    stmt = f.body[0]
    assert isinstance(stmt, ast.Attribute)
    return stmt.value


def test_parse_error_carries_diagnostics_in_alloy_fmt_format() -> None:
    with pytest.raises(AlloySyntaxError) as info:
        parse("# comment\n", "/etc/alloy/config.alloy")
    assert info.value.diagnostics == [
        Diagnostic("/etc/alloy/config.alloy", 1, 1, "illegal character U+0023 '#'"),
        Diagnostic("/etc/alloy/config.alloy", 1, 1, "expected identifier, got ILLEGAL"),
    ]
    assert str(info.value) == (
        "/etc/alloy/config.alloy:1:1: illegal character U+0023 '#'\n"
        "/etc/alloy/config.alloy:1:1: expected identifier, got ILLEGAL"
    )


def test_valid_component_block() -> None:
    f = parse('prometheus.exporter.unix "default" {\n\tset_collectors = ["cpu"]\n}\n', "c.alloy")
    assert f.name == "c.alloy"
    (block,) = f.body
    assert isinstance(block, ast.Block)
    assert block.name == ("prometheus", "exporter", "unix")
    assert block.full_name == "prometheus.exporter.unix"
    assert block.label == "default"
    assert block.pos == ast.Pos(1, 1)
    (attr,) = block.body
    assert isinstance(attr, ast.Attribute)
    assert attr.name == "set_collectors"
    assert attr.pos == ast.Pos(2, 2)


def test_invalid_label_is_reported_at_the_label() -> None:
    assert errs('prometheus.exporter.unix "web-01" {\n}\n') == [
        (1, 26, 'expected block label to be a valid identifier, but got "web-01"')
    ]


def test_two_attributes_on_one_line() -> None:
    assert errs("a = 1 b = 2\n") == [(1, 7, "expected TERMINATOR, got IDENT")]


def test_unclosed_block() -> None:
    assert errs("b {\n\tx = 1\n") == [(3, 1, "expected }, got EOF")]


# --- blocks and labels ----------------------------------------------------------------------------------


def test_one_line_block_and_empty_block() -> None:
    f = parse('logging { level = "info" }\nempty {}\n')
    assert [s.full_name for s in f.body if isinstance(s, ast.Block)] == ["logging", "empty"]


def test_empty_label_counts_as_no_label() -> None:
    (block,) = parse('a "" {}\n').body
    assert isinstance(block, ast.Block)
    assert block.label is None


def test_unquoted_label() -> None:
    assert errs("invalid_block bad_label {\n}\n") == [(1, 15, "expected block label, got IDENT")]


def test_raw_string_label() -> None:
    assert errs("a `lbl` {\n}\n") == [(1, 3, 'expected block label to be a double quoted string, but got "`lbl`"')]


def test_label_with_unicode_is_quoted_like_go() -> None:
    assert errs('a "é-1" {\n}\n') == [(1, 3, 'expected block label to be a valid identifier, but got "é-1"')]


def test_dotted_name_missing_part() -> None:
    # Alloy consumes the `{` as the missing name part, then wants a label on the next line.
    assert errs("a. {\n}\n") == [(1, 4, "expected identifier, got {"), (2, 1, "expected block label, got }")]


def test_block_name_needs_body() -> None:
    assert errs("a.b 5\n") == [(1, 5, "expected block label, got NUMBER")]
    assert errs('a.b "l" 5\n') == [(1, 9, "expected block body, got NUMBER")]
    assert errs('a "" 5\n') == [(1, 6, "expected attribute assignment or block body, got NUMBER")]


def test_statement_must_start_with_identifier() -> None:
    # Recovery skips to the next identifier, which then lacks a terminator before it (as in Alloy).
    assert errs("= 5\nx = 1\n") == [(1, 1, "expected identifier, got ="), (2, 1, "expected TERMINATOR, got IDENT")]


# --- attributes --------------------------------------------------------------------------------------------


def test_attribute_name_rules() -> None:
    assert errs("a.b = 1\n") == [(1, 1, 'attribute names may only consist of a single identifier with no "."')]
    assert errs('a "lbl" = 1\n') == [(1, 3, "attribute names may not have labels")]


def test_errors_on_several_lines_are_all_reported() -> None:
    assert errs("a = 1 b\nc = ]\nd = (1\n") == [
        (1, 7, "expected TERMINATOR, got IDENT"),
        (2, 5, "expected expression, got ]"),
        (3, 7, "expected ), got TERMINATOR"),
    ]


def test_only_first_parser_error_per_line() -> None:
    assert errs("a = 1 + + 2 b c\n") == [(1, 9, "expected expression, got +")]


# --- literals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src,expected",
    [("1", 1), ("1.5", 1.5), (".5", 0.5), ("1e3", 1000.0), ("2E-3", 0.002), ("true", True), ("false", False),
     ("null", None), ('"a\\tb"', "a\tb"), ('"\\x41\\101\\u00e9\\U0001F600"', "AAé😀"), ("`r\\n`", "r\\n")],
)  # fmt: skip
def test_literal_values(src: str, expected: object) -> None:
    v = value(src)
    assert isinstance(v, ast.Literal)
    assert v.value == expected
    assert type(v.value) is type(expected)
    assert v.raw == src


# --- arrays and objects -----------------------------------------------------------------------------------


def test_arrays_with_trailing_commas() -> None:
    v = value("[1, 2,]")
    assert isinstance(v, ast.Array)
    assert len(v.elements) == 2
    assert isinstance(value("[\n\t1,\n\t2,\n]"), ast.Array)
    assert value("[]") == ast.Array((), ast.Pos(1, 5), end=ast.Pos(1, 6))


def test_missing_comma_before_newline() -> None:
    assert errs("x = [\n\t0,\n\t1\n]\n") == [(3, 3, "missing ',' in expression list")]
    assert errs("x = {\n\ta = 0,\n\tb = 1\n}\n") == [(3, 7, "missing ',' in field list")]
    assert errs("x = f(\n\t1\n)\n") == [(2, 3, "missing ',' in expression list")]


def test_object_keys() -> None:
    v = value('{ a = 1, "b c" = 2, "" = 3 }')
    assert isinstance(v, ast.Object)
    assert [(f.key, f.quoted) for f in v.fields] == [("a", False), ("b c", True), ("", True)]
    assert errs("x = {\n\t1337 = 1,\n}\n") == [(2, 2, "expected field name (string or identifier), got NUMBER")]


# --- operators ---------------------------------------------------------------------------------------------


def shape(e: ast.Expr) -> object:
    if isinstance(e, ast.Binary):
        return (shape(e.left), e.op, shape(e.right))
    if isinstance(e, ast.Unary):
        return (e.op, shape(e.value))
    if isinstance(e, ast.Paren):
        return shape(e.inner)
    if isinstance(e, ast.Literal):
        return e.raw
    if isinstance(e, ast.Ident):
        return e.name
    raise AssertionError(e)


@pytest.mark.parametrize(
    "src,expected",
    [
        ("1 + 2 * 3", ("1", "+", ("2", "*", "3"))),
        ("1 - 2 - 3", (("1", "-", "2"), "-", "3")),
        ("2 ^ 3 ^ 2", ("2", "^", ("3", "^", "2"))),
        ("-2 ^ 2", (("-", "2"), "^", "2")),
        ("a || b && c == d", ("a", "||", ("b", "&&", ("c", "==", "d")))),
        ("a < b != c >= d", ((("a", "<", "b"), "!=", "c"), ">=", "d")),
        ("!a && -b % c", (("!", "a"), "&&", (("-", "b"), "%", "c"))),
        ("(1 + 2) * 3", (("1", "+", "2"), "*", "3")),
        ("1 / 2 * 3 % 4", ((("1", "/", "2"), "*", "3"), "%", "4")),
    ],
)
def test_precedence_and_associativity(src: str, expected: object) -> None:
    assert shape(value(src)) == expected


def test_operator_cannot_start_a_line() -> None:
    assert errs("x = 1\n\t+ 2\n") == [(2, 2, "expected identifier, got +")]


def test_missing_operand() -> None:
    assert errs("attr = 1 + + 2\n") == [(1, 12, "expected expression, got +")]


# --- calls, access, indexing -------------------------------------------------------------------------------


def test_postfix_chain() -> None:
    v = value('sys.env("HOME")[0].x')
    assert isinstance(v, ast.Access) and v.name == "x"
    assert isinstance(v.value, ast.Index)
    call = v.value.value
    assert isinstance(call, ast.Call)
    assert isinstance(call.func, ast.Access) and call.func.name == "env"
    assert call.args == (ast.Literal("HOME", '"HOME"', ast.Pos(1, 13)),)


def test_access_needs_identifier() -> None:
    assert errs("x = a.true\n") == [(1, 7, "expected IDENT, got BOOL")]


def test_empty_call_argument() -> None:
    assert errs("x = a(())\n") == [(1, 8, "expected expression, got )")]


def test_block_as_expression() -> None:
    src = 'rw = prometheus.remote_write "default" {\n\turl = "x"\n}\nok = 1\n'
    assert errs(src) == [(1, 6, "cannot use a block as an expression")]
    assert errs('x = a.b "c" "d" 1\n') == [(1, 13, "expected {, got STRING")]


# --- comments ----------------------------------------------------------------------------------------------


def test_comments_are_kept_in_the_tree() -> None:
    f = parse("// head\na = 1 // tail\n/* block */\n")
    assert [(c.text, c.pos) for c in f.comments] == [
        ("// head", ast.Pos(1, 1)),
        ("// tail", ast.Pos(2, 7)),
        ("/* block */", ast.Pos(3, 1)),
    ]


def test_block_comment_between_tokens() -> None:
    assert errs("a = /* x */ 1\n") == []
    assert errs("a = 1 /* x */ b = 2\n") == [(1, 15, "expected TERMINATOR, got IDENT")]


# --- nesting and odd input ---------------------------------------------------------------------------------


def test_deep_nesting_within_limit() -> None:
    depth = MAX_DEPTH - 5
    assert check("x = " + "[" * depth + "]" * depth + "\n") == []
    assert check("a {\n" * depth + "}\n" * depth) == []


def test_nesting_beyond_limit_is_an_error_not_a_crash() -> None:
    depth = MAX_DEPTH + 50
    for src in ("x = " + "[" * depth + "]" * depth, "x = " + "-" * 5000 + "1", "a {\n" * depth):
        (diag,) = check(src)
        assert diag.message == f"nesting too deep (more than {MAX_DEPTH} levels)"


def test_empty_and_comment_only_files() -> None:
    assert parse("").body == ()
    assert parse("\n\n// only a comment\n").body == ()


def test_bytes_and_str_input_agree() -> None:
    src = 'a "x" {\n\tb = "é"\n}\n'
    assert parse(src) == parse(src.encode())
