"""The plain-text rule (fleetui.tui.safe) on the hostile corpus, one function at a time.

These are unit tests of pure functions, with no Prometheus: the same corpus goes through the real
Prometheus and the console in test_hostile_lab.py. The non-UTF-8 entry is only here, on purpose: Prometheus
rejects invalid UTF-8 in labels, so no real part can send it to the console as a label; it will arrive as a
log line, and this is the function that line goes through.
"""

from __future__ import annotations

import pytest
from hostile import CORPUS, LONG, Hostile
from rich.cells import cell_len
from textual.content import Content

from fleetui.tui import safe

IDS = [h.id for h in CORPUS]
# what a terminal would interpret: C0/C1 controls, DEL, bidi controls, line separators
RAW = set(map(chr, [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def _no_raw(s: str) -> bool:
    return not (set(s) & RAW)


@pytest.mark.parametrize("h", CORPUS, ids=IDS)
def test_visible_spells_every_value_as_the_corpus_says(h: Hostile) -> None:
    assert safe.visible(h.value) == h.shown
    assert _no_raw(safe.visible(h.value))


@pytest.mark.parametrize("h", CORPUS, ids=IDS)
def test_text_and_content_hold_the_visible_form_and_no_markup(h: Hostile) -> None:
    assert safe.text(h.value).plain == h.shown
    assert safe.content(h.value, limit=None).plain == h.shown
    assert not safe.text(h.value).spans or all(s.style == safe.ESCAPE_STYLE for s in safe.text(h.value).spans)


@pytest.mark.parametrize("h", CORPUS, ids=IDS)
def test_markup_round_trips_through_textual_markup(h: Hostile) -> None:
    """For the APIs that parse markup: what Textual parses back is exactly the visible form."""
    assert Content.from_markup(safe.markup(h.value, None)).plain == h.shown


@pytest.mark.parametrize(
    "value", ["[A]b[/A]", "a\\[b]", "x\\", "\\\\[b]", "[b]\\[/b]", "[[", "][", "\\", "[$var]", "[#f00]r"]
)
def test_markup_escapes_what_textuals_own_escape_lets_through(value: str) -> None:
    assert Content.from_markup(safe.markup(value, None)).plain == value


def test_escapes_are_styled_apart_from_a_typed_backslash() -> None:
    """`\\x1b` typed by someone and an ESC byte read the same; only the ESC's escape is styled."""
    text = safe.text("\\x1b \x1b")
    assert text.plain == "\\x1b \\x1b"
    assert [(s.start, s.end) for s in text.spans] == [(5, 9)]


def test_long_values_are_cut_to_the_limit_in_cells() -> None:
    assert len(LONG) > 10_000
    for limit in (1, 2, 40, safe.LINE_LIMIT):
        clipped = safe.clip(LONG, limit)
        assert cell_len(clipped) == limit and clipped.endswith(safe.ELLIPSIS)
        assert safe.text(LONG, limit=limit).cell_len == limit
        assert safe.content(LONG, limit=limit).cell_length == limit
    assert safe.clip(LONG, None) == LONG
    wide = "宽" * 50
    assert cell_len(safe.clip(wide, 11)) <= 11 and safe.clip(wide, 11).endswith(safe.ELLIPSIS)
    assert safe.clip("short", 80) == "short"


def test_surrogate_escaped_str_shows_the_original_bytes() -> None:
    """A log reader that decoded with surrogateescape hands over a str; the bytes still show as \\xNN."""
    line = b"\xff ok".decode("utf-8", "surrogateescape")
    assert safe.visible(line) == "\\xff ok"
    assert safe.visible("\ud800") == "\\ud800"  # a broken str (lone surrogate) cannot reach the terminal either


def test_ordinary_text_is_untouched() -> None:
    for s in ("web-01:9100", "prod", "ops team", "müller", "🔥", "a\u200db", "\ue0a0 branch", "e\u0301", "x\u00a0y"):
        assert safe.visible(s) == s
