"""Pilot tests of the fleet filter box as a person uses it: open, type, paste, Esc, reopen.

The fleet is a fixed domain value (fleet_fixture); the box and the keys are the real ones. Paste is the
event a terminal's bracketed paste produces (events.Paste), posted to the app as the driver does.
"""

from __future__ import annotations

import dataclasses

import msgspec
from console import assert_nothing_raw, keys_in_one_read, screen_lines
from fleet_fixture import fleet, make_app
from textual import events
from textual.widgets import Input

from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.source import FixedSource

TOTAL = len(fleet().hosts)
STAGING = sum(1 for h in fleet().hosts if h.labels.get("environment") == "staging")


async def _screen(app) -> tuple[FleetScreen, Input]:  # type: ignore[no-untyped-def]
    await app.workers.wait_for_complete()
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    return screen, screen.query_one("#filter", Input)


async def test_type_escape_reopen_starts_empty_and_types_at_the_end() -> None:
    """The reported sequence: `/`, `web`, Esc, `/` reopened stale text with the filter applied and typed at 0."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen, box = await _screen(app)
        await pilot.press("slash", *"web-0")
        assert box.has_focus and box.value == "web-0" and box.cursor_position == 5
        assert 0 < len(screen.table.view) < TOTAL  # web-02 … web-09, not web-10 …
        await pilot.press("escape")
        assert not box.display and box.value == "" and len(screen.table.view) == TOTAL
        await pilot.press("slash")
        assert box.display and box.has_focus and box.value == "" and box.cursor_position == 0
        assert len(screen.table.view) == TOTAL and screen.filter_text == ""
        await pilot.press(*"xy")
        assert box.value == "xy" and box.cursor_position == 2


async def test_reopening_shows_the_current_filter_with_the_cursor_at_the_end() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen, box = await _screen(app)
        await pilot.press("slash", *"environment=staging", "enter")
        assert screen.table.has_focus and len(screen.table.view) == STAGING
        await pilot.press("down", "slash")
        assert box.has_focus and box.value == "environment=staging"
        assert box.cursor_position == len("environment=staging")
        await pilot.press("backspace", "backspace", "backspace", *"ing", "enter")  # edit at the end, as in any text box
        assert box.value == "environment=staging" and len(screen.table.view) == STAGING
        await pilot.press("escape")
        assert not box.display and len(screen.table.view) == TOTAL


def _burst(app, text: str) -> None:  # type: ignore[no-untyped-def]
    """Keys as a terminal delivers fast typing: all queued before the first is handled (pilot.press waits)."""
    for ch in text:
        key = events.Key(ch, ch)
        key.set_sender(app)
        app.post_message(key)


async def test_fast_typing_is_never_rewritten_by_older_changes() -> None:
    """Keys arrive before the box has reported the previous ones. The box used to be written back from those
    older reports: the cursor jumped back, and after Esc and `/` old text came back with the cursor at 0."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen, box = await _screen(app)
        await pilot.press("slash")
        text = "hostname=~web-0[2-4]"
        _burst(app, text)
        await pilot.pause()
        assert box.value == text and box.cursor_position == len(text)
        assert sorted(h.labels["hostname"] for h in screen.table.view) == ["web-02", "web-03", "web-04"]
        await pilot.press("escape", "slash")
        _burst(app, "environment")
        await pilot.pause()
        assert box.value == "environment" and box.cursor_position == len("environment")


async def test_paste_inserts_at_the_cursor_and_applies_the_filter() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen, box = await _screen(app)
        await pilot.press("slash", *"environment=")
        app.post_message(events.Paste("staging"))
        await pilot.pause()
        assert box.value == "environment=staging" and box.cursor_position == len(box.value)
        assert len(screen.table.view) == STAGING
        await pilot.press("home")
        app.post_message(events.Paste("web "))  # inserted where the cursor is, not at the end
        await pilot.pause()
        assert box.value == "web environment=staging" and box.cursor_position == 4
        await pilot.press("escape", "slash")
        assert box.value == "" and len(screen.table.view) == TOTAL
        app.post_message(events.Paste("environment=dev\nsecond line ignored"))  # first line, as Input takes it
        await pilot.pause()
        assert box.value == "environment=dev"
        assert {h.labels.get("environment") for h in screen.table.view} == {"dev"}


async def test_pasted_control_characters_are_shown_not_sent_to_the_terminal() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        _, box = await _screen(app)
        await pilot.press("slash")
        app.post_message(events.Paste("\x1b[2Jweb\u202e"))
        await pilot.pause()
        assert box.value == "\\x1b[2Jweb\\u202e"


async def test_bad_expression_is_flagged_literally_and_keeps_the_previous_filter() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen, box = await _screen(app)
        await pilot.press("slash", *"environment=staging")
        app.post_message(events.Paste(" hostname=~[/nope]("))  # markup in the error must not be parsed
        await pilot.pause()
        assert box.has_class("-invalid") and "[/nope](" in str(box.border_subtitle)
        assert len(screen.table.view) == STAGING
        await pilot.press("escape")
        assert not box.has_class("-invalid") and len(screen.table.view) == TOTAL


async def _summary(app, pilot) -> list[str]:  # type: ignore[no-untyped-def]
    """The summary line and, when shown, the note line under it, as they are on screen."""
    await pilot.pause()
    lines, screen = screen_lines(app), app.screen
    out = [lines[screen.query_one("#summary").region.y].strip()]
    note = screen.query_one("#summary-note")
    if note.display:
        out.append(lines[note.region.y].strip())
    return out


async def test_a_label_no_host_has_is_named_under_the_summary() -> None:
    """`env=prod` on a fleet labelled `environment`: the table empties, and a line under the summary says why
    instead of a bare `0/N shown`. A real label name takes the line away again."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen, box = await _screen(app)
        assert len(await _summary(app, pilot)) == 1
        await pilot.press("slash")
        _burst(app, "env=prod")
        first, note = await _summary(app, pilot)
        assert box.has_focus and box.value == "env=prod" and len(screen.table.view) == 0
        assert first.endswith(f"0/{TOTAL} shown · filtered")
        assert note == "no host has a label `env` — did you mean `environment`?"  # whole, at 80 columns
        _burst(app, " tier!=x")
        assert (await _summary(app, pilot))[1] == "no host has a label `env` or `tier` — did you mean `environment`?"
        await pilot.press("escape", "slash")
        _burst(app, "mode=pull")  # the row's own fields are never unknown
        assert len(await _summary(app, pilot)) == 1
        assert box.value == "mode=pull" and len(screen.table.view) > 0
        _burst(app, " environment=staging")
        assert len(await _summary(app, pilot)) == 1
        assert box.value == "mode=pull environment=staging" and len(screen.table.view) > 0


async def test_the_suggested_label_name_is_shown_as_plain_text() -> None:
    """Label names come from Prometheus (remote_write lets a pusher choose them; Prometheus 3 accepts any
    UTF-8): a suggested name is shown as typed, never parsed as markup or sent as an escape. A fixed snapshot
    because the lab's Prometheus runs with the classic name rules and cannot store such a name."""
    hostile_name = "env[/x]\x1b"  # shorter than `environment`: the one suggested
    base = fleet()
    hosts = (
        msgspec.structs.replace(base.hosts[0], labels={**base.hosts[0].labels, hostile_name: "x"}),
        *base.hosts[1:],
    )
    app = make_app(FixedSource(dataclasses.replace(base, hosts=hosts)))
    async with app.run_test(size=(120, 40)) as pilot:
        await _screen(app)
        await pilot.press("slash", *"env=prod")
        assert (await _summary(app, pilot))[1] == "no host has a label `env` — did you mean `env[/x]\\x1b`?"
        assert_nothing_raw(app)


async def test_keys_typed_right_after_the_slash_go_into_the_box() -> None:
    """`/web` arriving in one read (a fast typist, a laggy SSH link, tmux send-keys): every key is queued
    before the first is handled. The box must have the focus as soon as `/` is handled, so `w`, `e`, `b` are
    typed into it, not taken as the fleet screen's keys (`e` opened the enroll wizard)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen, box = await _screen(app)
        await keys_in_one_read(app, pilot, ("slash", "/"), ("w", "w"), ("e", "e"), ("b", "b"))
        assert app.screen is screen
        assert box.has_focus and box.value == "web"
        await pilot.press("slash", *"x")  # in the open box, `/` is a character like any other
        assert box.value == "web/x" and box.has_focus
