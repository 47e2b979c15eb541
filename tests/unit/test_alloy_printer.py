"""format_file: `alloy fmt` layout (tabs, aligned `=`, comments kept, blank lines) and parse/format round trips.

Expected outputs follow the formatting rules of Alloy's printer (grafana/alloy syntax/printer), written as our own
cases.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fleetui.alloy.syntax import format_file, parse


def fmt(src: str) -> str:
    return format_file(parse(src))


def strip_positions(node: Any) -> Any:
    """The tree with every position removed, to compare trees parsed from differently laid out text."""
    if isinstance(node, tuple):
        return tuple(strip_positions(n) for n in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        kept = [f.name for f in dataclasses.fields(node) if f.name not in ("pos", "end", "comments", "raw")]
        return (type(node).__name__, *((name, strip_positions(getattr(node, name))) for name in kept))
    return node


def test_spacing_and_indentation() -> None:
    src = 'attr_1=15\nattr_2=30*2+5\nb{\nx=-1\nc "l"{\ny=[1,2]\n}\n}\n'
    assert fmt(src) == 'attr_1 = 15\nattr_2 = 30 * 2 + 5\n\nb {\n\tx = -1\n\n\tc "l" {\n\t\ty = [1, 2]\n\t}\n}\n'


def test_equals_aligned_in_runs_of_attributes() -> None:
    src = "short = true\nreally_long_name = true\n\nlonger_than_before = 1\n"
    assert fmt(src) == "short            = true\nreally_long_name = true\n\nlonger_than_before = 1\n"


def test_trailing_comments_aligned() -> None:
    src = 'a = "x" // one\nbbbb = "yyyy" // two\n'
    assert fmt(src) == 'a    = "x"    // one\nbbbb = "yyyy" // two\n'


def test_object_fields_aligned_and_indented() -> None:
    src = "o = {\na = 1,\nlong_key = {\nk = true,\n},\nz = [0],\n}\n"
    assert fmt(src) == "o = {\n\ta        = 1,\n\tlong_key = {\n\t\tk = true,\n\t},\n\tz = [0],\n}\n"


def test_empty_blocks_collapse() -> None:
    assert fmt('a {\n\n}\nb "l" {}\n') == 'a { }\n\nb "l" { }\n'


def test_comments_kept_in_place() -> None:
    src = "// head\n\nb { // on header\n// inside\nx = 1\n// after\n}\n// tail\n"
    assert fmt(src) == "// head\n\nb { // on header\n\t// inside\n\tx = 1\n\t// after\n}\n// tail\n"


def test_a_comment_between_a_dot_and_its_name() -> None:
    """A `//` comment between a dot and the name after it on the next line (found by the fuzz tests): the
    name is printed at its own place, after the comment's line, not behind the comment where it would be
    commented out; trailing comments of consecutive lines line up as usual."""
    src = "targets = prometheus.// note\n\tf // rest\n"
    out = fmt(src)
    assert out == "targets = prometheus. // note\nf       // rest\n" and fmt(out) == out
    assert strip_positions(parse(out)) == strip_positions(parse(src))


def test_multiline_call_and_array_get_trailing_comma_layout() -> None:
    src = "x = f(\n1,\n2,\n)\ny = [\n1,\n2,\n]\n"
    assert fmt(src) == "x = f(\n\t1,\n\t2,\n)\ny = [\n\t1,\n\t2,\n]\n"


def test_raw_strings_and_literals_kept_verbatim() -> None:
    src = 'a = `x\n  y`\nb = "\\x41\\t"\nc = .5e3\n'
    assert fmt(src) == src


def test_formatting_is_idempotent() -> None:
    src = (
        'prometheus.scrape "s" {\ntargets = [{"__address__" = "h:9100", job = "node"}]\n'
        "forward_to = [x.y.receiver]\n}\n"
    )
    once = fmt(src)
    assert fmt(once) == once


ROUND_TRIP = [
    'logging {\n\tlevel = "info"\n}\n',
    'prometheus.exporter.unix "default" {\n\tset_collectors = ["cpu", "meminfo"]\n}\n',
    "x = -(1 + 2) * 3 ^ 2 ^ 1 % 4 / 5 - !true || a && b == c != d < e <= f > g >= h\n",
    'x = {a = 1, "b c" = [1, 2], "q\\"k" = null}\n',
    'x = sys.env("HOME")[0].foo(1,\n2)\n',
    "x = `raw\nstring`\n",
    'a "l" { // c\n\t/* block */ y = 1\n}\n',
]


@pytest.mark.parametrize("src", ROUND_TRIP)
def test_round_trip_gives_an_equal_tree(src: str) -> None:
    first = parse(src)
    again = parse(format_file(first))
    assert strip_positions(again) == strip_positions(first)
    assert [c.text for c in again.comments] == [c.text for c in first.comments]
