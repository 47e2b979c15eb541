"""A first look at a large fleet (its scrape targets alone) on screen until the first refresh ends: what a person
sees of it, and that the keys work on it and keep their place when the whole fleet replaces it.

Update the snapshots only after looking at the report: `pytest tests/tui/test_first_look.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fleet_fixture import FirstLookThenFleet, make_app
from textual.pilot import Pilot

from fleetui.tui.screens.fleet import FIRST_LOOK_NOTE, FleetScreen
from fleetui.tui.widgets.fleet_table import NOT_YET
from fleetui.tui.widgets.summary import SummaryNote

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def _screen(pilot: Pilot[Any]) -> FleetScreen:
    return next(s for s in pilot.app.screen_stack if isinstance(s, FleetScreen))


async def _until(pilot: Pilot[Any], check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"no {what} after 2 s")


async def _looking(pilot: Pilot[Any]) -> None:
    screen = _screen(pilot)
    await _until(pilot, lambda: screen.snapshot is not None and screen.snapshot.targets_only, "first look")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_first_look(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(FirstLookThenFleet()), terminal_size=size, run_before=_looking)


async def test_keys_work_on_the_first_look_and_the_cursor_stays_on_its_host_when_the_whole_fleet_comes() -> None:
    source = FirstLookThenFleet()
    app = make_app(source)
    async with app.run_test(size=(160, 48)) as pilot:
        await _looking(pilot)
        screen = _screen(pilot)
        note = screen.query_one(SummaryNote)
        assert note.display and FIRST_LOOK_NOTE in str(note.render())
        assert len(screen.table.view) == len(source.look.hosts) < len(source.whole.hosts)
        first_row = screen.table.render_line(1).text
        assert NOT_YET in first_row  # its alerts and Alloy cells: not read yet, not "none"
        await pilot.press("down", "down", "down")
        chosen = screen.table.cursor_host
        assert chosen is not None and chosen.nodename is None
        source.release.set()
        await _until(pilot, lambda: screen.snapshot is source.whole, "whole fleet")
        await pilot.pause()
        assert len(screen.table.view) == len(source.whole.hosts)
        assert not note.display  # nothing left to say
        assert NOT_YET not in screen.table.render_line(1).text
        now = screen.table.cursor_host
        assert now is not None and now.instance == chosen.instance and now.nodename is not None
