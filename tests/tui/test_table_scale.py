"""The fleet table at scale keeps the UI's loop free: a load or refresh that brings many new rows measures
their column widths over several turns of the loop, and still ends up as wide as measuring them all at once.
The rows are domain values generated here (the table's own logic; no Prometheus involved)."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from fleetui.domain.fleet import HostState, HostStatus, Mode
from fleetui.tui.columns import fleet_columns
from fleetui.tui.widgets import fleet_table
from fleetui.tui.widgets.fleet_table import FleetTable

NOW = 1_700_000_000.0


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FleetTable(fleet_columns(("environment", "maintainers")), lambda: NOW)


async def _measured(pilot: Pilot[None], table: FleetTable) -> None:
    """Until the table has measured every row (a step after each frame; bounded, so a stall fails)."""
    for _ in range(500):
        if not table._unmeasured:
            return
        await pilot.pause(0.01)
    raise AssertionError(f"{len(table._unmeasured)} rows still not measured after 5 s")


def _host(i: int, hostname: str = "") -> HostStatus:
    labels = {"job": "node", "environment": "prod", **({"hostname": hostname} if hostname else {})}
    return HostStatus(f"h-{i:04d}", HostState.UP, Mode.PULL, NOW, labels)


async def test_many_new_rows_are_measured_over_several_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet_table, "_MEASURE_STEP", 50)  # the same path as 2,000 of 50,000 rows, cheaper
    app = _TableApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(FleetTable)
        table.load([_host(i) for i in range(300)] + [_host(300, "a-rather-long-hostname-01")])
        narrow = table._natural["hostname"]
        assert table._unmeasured and narrow < len("a-rather-long-hostname-01")  # the tail waits for later turns
        await _measured(pilot, table)
        assert not table._unmeasured and table._natural["hostname"] == len("a-rather-long-hostname-01")
        # a refresh adding many rows: rows first, widths within the next turns; the cursor stays on its host
        table.move_cursor_to("h-0007")
        table.apply([_host(i, "x" * 12) for i in range(400, 700)] + [_host(700, "b" * 30)], [])
        assert len(table.view) == 602 and table.cursor_host is not None and table.cursor_host.instance == "h-0007"
        await _measured(pilot, table)
        assert table._natural["hostname"] == 30
        table.toggle_mark("h-0007")  # marks work on the applied table
        assert table.marked == {"h-0007"} and [h.instance for h in table.marked_hosts] == ["h-0007"]


async def test_other_work_runs_between_the_measuring_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a first load's rows are measured, the loop runs other tasks (keys, the frame with the rows)
    between steps: another task sees the measuring part done, not only before and after all of it."""
    monkeypatch.setattr(fleet_table, "_MEASURE_STEP", 50)
    app = _TableApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(FleetTable)
        table.load([_host(i) for i in range(1000)])
        waiting = len(table._unmeasured)
        seen = []
        for _ in range(2000):
            seen.append(len(table._unmeasured))
            if not seen[-1]:
                break
            await asyncio.sleep(0.001)
        assert any(0 < n < waiting for n in seen), seen
        await _measured(pilot, table)


async def test_rows_replacing_rows_on_screen_are_measured_after_the_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole fleet replacing a first look (a load over rows on screen, given by instance as a snapshot's
    by_instance() gives them): the columns keep their widths until the new rows are measured, in later turns,
    and end as wide as the widest new row; the cursor stays on its host."""
    monkeypatch.setattr(fleet_table, "_MEASURE_STEP", 50)
    app = _TableApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(FleetTable)
        table.load([_host(i, "short") for i in range(100)])
        await _measured(pilot, table)
        narrow = table._natural["hostname"]
        table.move_cursor_to("h-0042")
        whole = [_host(i, "a-much-longer-hostname") for i in range(300)]
        table.load({h.instance: h for h in whole})
        assert table._natural["hostname"] == narrow < len("a-much-longer-hostname")  # not measured before the frame
        assert len(table._unmeasured) == 300 and len(table.view) == 300
        assert table.cursor_host is not None and table.cursor_host.instance == "h-0042"
        await _measured(pilot, table)
        assert table._natural["hostname"] == len("a-much-longer-hostname")
        assert table.hosts["h-0042"] is whole[42]
