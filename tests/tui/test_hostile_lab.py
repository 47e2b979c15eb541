"""Hostile label values from the lab's real Prometheus, through every screen of the console.

Each corpus entry (tests/hostile.py) is a push host's instance, hostname, job and schema labels, written with
remote_write by the `hostile_fleet` fixture; the console reads them with the real adapter. With the cursor on
each such host, the test visits every screen that exists — fleet row, sort, filter, palette (listing and
search, then opening the host from it), help, plan an enrollment, host detail and its own palette and help —
and asserts that the console is still running, that the value is shown as typed (markup literal, control
characters and bidi controls as visible escapes, long values cut except in the detail), and that no
character the terminal would interpret is in any frame. A screen added later gets its visit added to
`visit_every_screen`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import MARK, PULL_SHOWN, HostileFleet
from console import assert_nothing_raw, palette_prompts, screen_lines
from hostile import LABEL_VALUES, Hostile
from rich.cells import cell_len, set_cell_size
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from fleetui.config import Settings
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.help import HelpScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.screens.plan import PlanScreen
from fleetui.tui.source import PrometheusSource

pytestmark = pytest.mark.lab

SIZE = (140, 45)
TITLE_LIMIT = 80  # palette titles and the header are cut to this many cells, with an ellipsis


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"timed out after {limit:g}s waiting for {what}"
        await asyncio.sleep(0.05)


def _cut(s: str, limit: int = TITLE_LIMIT) -> str:
    return s if cell_len(s) <= limit else set_cell_size(s, limit - 1) + "…"


def _fleet(app: FleetApp) -> FleetScreen:
    return next(s for s in app.screen_stack if isinstance(s, FleetScreen))


def _cursor_row(screen: FleetScreen) -> str:
    table = screen.table
    return table.render_line(table.cursor - int(table.scroll_offset.y) + 1).text


async def _open_console(app: FleetApp, pilot: Pilot[Any], instances: set[str]) -> FleetScreen:
    await _until(
        lambda: any(isinstance(s, FleetScreen) and s.snapshot for s in app.screen_stack), 30, "the first snapshot"
    )
    screen = _fleet(app)
    missing = instances - set(screen.table.hosts)
    assert not missing, f"the console did not list {sorted(map(repr, missing))}"
    await pilot.pause()
    return screen


async def _cursor_on(screen: FleetScreen, pilot: Pilot[Any], instance: str) -> None:
    assert screen.table.move_cursor_to(instance), f"{instance!r} is not in the table's view"
    await pilot.pause()


async def visit_every_screen(app: FleetApp, pilot: Pilot[Any], instance: str, shown: str) -> None:
    """Fleet row, sort, filter, palette, help and host detail, with the cursor on `instance`."""
    screen = _fleet(app)
    head = shown[:12]

    # fleet: the row under the cursor
    await _cursor_on(screen, pilot, instance)
    assert head in _cursor_row(screen)
    assert_nothing_raw(app)

    # sort: by instance, reversed: the cursor stays on the host
    await pilot.press("o", "O")
    assert screen.table.cursor_host is not None and screen.table.cursor_host.instance == instance
    assert head in _cursor_row(screen)
    assert_nothing_raw(app)

    # filter: one that keeps the host (pasted: typed, its prefixes would match nothing and move the cursor),
    # then the value itself pasted into the box
    await pilot.press("slash")
    app.post_message(events.Paste("=".join(next(iter(MARK.items())))))
    await pilot.pause()
    assert screen.table.cursor_host is not None and screen.table.cursor_host.instance == instance
    assert_nothing_raw(app)
    await pilot.press("escape", "slash")
    app.post_message(events.Paste(instance))
    await pilot.pause()
    box = screen.query_one("#filter", Input)
    # control characters are shown, not kept; a value with line breaks is taken up to the first, as Input does
    assert box.value == shown if len(instance.splitlines()) == 1 else shown.startswith(box.value)
    assert_nothing_raw(app)
    await pilot.press("escape")
    assert not box.display and box.value == ""
    await _cursor_on(screen, pilot, instance)

    # help over the fleet
    await pilot.press("question_mark")
    assert isinstance(app.screen, HelpScreen)
    assert_nothing_raw(app)
    await pilot.press("escape")

    # plan an enrollment (no host data on it, but opened with the cursor on the host like every screen)
    app.action_plan_enrollment()
    await pilot.pause()
    assert isinstance(app.screen, PlanScreen)
    assert_nothing_raw(app)
    await pilot.press("escape")
    assert app.screen is screen

    # palette: listed, found by search, and the host opened from it
    title = _cut(f"Open {shown}")
    assert title in [p.split("\n")[0] for p in await palette_prompts(app, pilot)]
    assert_nothing_raw(app)
    found = [p.split("\n")[0] for p in await palette_prompts(app, pilot, "Open ")]
    assert found[0] == title  # the only entry that matches
    await pilot.press("enter")

    # host detail: every value in full
    detail = app.screen
    assert isinstance(detail, HostScreen) and detail.host.instance == instance
    await pilot.pause()
    overview = str(detail.query_one("#host-overview").render())
    labels = str(detail.query_one("#host-labels").render())
    assert shown in overview and shown in labels  # the full value, however long
    lines = screen_lines(app)
    assert _cut(shown)[:40] in lines[0]  # the header names the host
    assert any(head in line for line in lines[1:])
    assert_nothing_raw(app)
    titles = [p.split("\n")[0] for p in await palette_prompts(app, pilot)]
    assert "Host: Refresh" in titles
    assert_nothing_raw(app)
    await pilot.press("escape", "question_mark")
    assert isinstance(app.screen, HelpScreen)
    assert_nothing_raw(app)
    await pilot.press("escape", "escape")
    assert app.screen is screen and screen.table.cursor_host is not None
    assert screen.table.cursor_host.instance == instance


@pytest.mark.parametrize("h", LABEL_VALUES, ids=[h.id for h in LABEL_VALUES])
async def test_every_screen_shows_the_hostile_host_as_typed(
    h: Hostile, hostile_fleet: HostileFleet, lab_settings: Settings
) -> None:
    settings = lab_settings.with_overrides({"refresh_interval": 3600})  # one refresh: the frames stay put
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=SIZE) as pilot:
        await _open_console(app, pilot, {h.text})
        await visit_every_screen(app, pilot, h.text, h.shown)
        assert app.is_running
    assert app.return_code in (None, 0)


async def test_hostile_scrape_error_and_missing_labels_from_prometheus(
    hostile_fleet: HostileFleet, lab_settings: Settings
) -> None:
    """A failing pull target with a hostile instance and metrics path: Prometheus' own scrape URL and error
    are shown as Prometheus wrote them; a host whose labels were pushed empty has them as missing."""
    app = FleetApp(lab_settings, PrometheusSource(lab_settings), config_file=None)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_console(app, pilot, {hostile_fleet.pull_instance, hostile_fleet.empty_instance})
        host = screen.table.hosts[hostile_fleet.pull_instance]
        assert host.last_error and host.scrape_url and "%5Bred%5D" in host.scrape_url
        await visit_every_screen(app, pilot, hostile_fleet.pull_instance, PULL_SHOWN)
        await _cursor_on(screen, pilot, hostile_fleet.pull_instance)
        await pilot.press("enter")
        overview = str(app.screen.query_one("#host-overview").render())
        assert host.last_error in overview and host.scrape_url in overview
        await pilot.press("escape")

        await _cursor_on(screen, pilot, hostile_fleet.empty_instance)
        await pilot.press("enter")
        problems = str(app.screen.query_one("#host-problems").render())
        assert "missing_required_label" in problems and "environment" in problems
        await pilot.press("escape")
        assert app.is_running
