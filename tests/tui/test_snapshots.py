"""Snapshots of the console over a fixed fleet and a frozen clock, at 80×24 and 160×48.

Update only after looking at the report: `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from fleet_fixture import FixedThenPrometheus, make_app
from textual.pilot import Pilot
from textual.worker import WorkerFailed

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def _loaded(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_fleet(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_fleet_filtered(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("slash", *"environment=~prod|dev", "enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_host_detail(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("enter")  # first row: the down host with two label problems
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_fleet_stale_banner(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("r")  # the real adapter now meets a refused connection
        with contextlib.suppress(WorkerFailed):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(FixedThenPrometheus()), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_host_detail_hostile_labels(snap_compare: Any, size: tuple[int, int]) -> None:
    """The pushed host whose instance and labels hold markup, an ANSI escape and a bidi override."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("down", "down", "enter")  # the third down host: aa-bad[/nope]:9100
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)
