"""Parser tests: each statement and expression form of the Alloy syntax, valid and invalid.

Expected messages, lines and columns are the ones Alloy's own parser reports (grafana/alloy syntax/parser).
"""

from __future__ import annotations

import pytest

from fleetui.alloy.syntax import AlloySyntaxError, Diagnostic, ast, check, parse


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
