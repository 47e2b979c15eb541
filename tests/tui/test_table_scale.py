"""The fleet table at scale keeps the UI's loop free: a load or refresh that brings many new rows measures
their column widths over several turns of the loop, and still ends up as wide as measuring them all at once.
The rows are domain values generated here (the table's own logic; no Prometheus involved)."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from fleetui.domain.fleet import HostState, HostStatus, Mode
from fleetui.tui.columns import Column, fleet_columns
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


def _small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """One step of 50 rows per turn: the same path as 500 of 50,000 rows, cheaper, and not hurried through in
    one turn by a fast machine."""
    monkeypatch.setattr(fleet_table, "_MEASURE_STEP", 50)
    monkeypatch.setattr(fleet_table, "_MEASURE_SLICE", 0.0)


def _host(i: int, hostname: str = "") -> HostStatus:
    labels = {"job": "node", "environment": "prod", **({"hostname": hostname} if hostname else {})}
    return HostStatus(f"h-{i:04d}", HostState.UP, Mode.PULL, labels)


async def test_many_new_rows_are_measured_over_several_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    _small_steps(monkeypatch)
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
    _small_steps(monkeypatch)
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
    _small_steps(monkeypatch)
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


async def test_a_key_waits_for_a_measuring_step_or_two_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key pressed while thousands of rows wait to be measured gets the frame with its moved cursor after a
    step or two at most: the steps come on a timer, not after each of the messages the key's handling
    dispatches (a longer gap than the console's, so a slow machine's key handling is not mistaken for steps
    run back to back)."""
    _small_steps(monkeypatch)
    monkeypatch.setattr(fleet_table, "_MEASURE_GAP", 0.03)
    app = _TableApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(FleetTable)
        table.focus()
        table.load([_host(i) for i in range(3000)])
        steps: list[int] = []
        framed: list[int] = []  # steps done when the frame with the moved cursor was painted
        measure, set_cursor = table._measure_rows, table._set_cursor

        def moved(index: int) -> None:
            set_cursor(index)
            table.call_after_refresh(lambda: framed.append(len(steps)))

        def slow_step(rows: list[HostStatus], static: list[Column]) -> None:
            """A step as slow as 500 rows of a busy console's (5 ms): the loop is held meanwhile."""
            steps.append(1)
            measure(rows, static)
            time.sleep(0.005)

        monkeypatch.setattr(table, "_measure_rows", slow_step)
        monkeypatch.setattr(table, "_set_cursor", moved)
        for n, key in enumerate(("down", "down", "up", "pagedown", "pageup"), 1):
            before = len(steps)
            app.post_message(events.Key(key, None))
            for _ in range(2000):
                if len(framed) == n:
                    break
                await asyncio.sleep(0.001)
            assert len(framed) == n and framed[-1] - before <= 2, (key, before, framed)
        assert table._unmeasured  # the keys came while rows were still waiting
        await _measured(pilot, table)
