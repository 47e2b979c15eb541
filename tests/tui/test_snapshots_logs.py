"""Snapshots of the log pane and the doctor screen at 80×24 and 160×48.

The pane is fed a fixed list of Alloy lines (log_fixture: a domain value, not a mock of Alloy) and the doctor
fixed reports built by the real judgments (doctor_fixture). Update only after looking at the report:
`pytest tests/tui/test_snapshots_logs.py --snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest
from doctor_fixture import fleet_reports, healthy_pull_host
from fleet_fixture import make_app
from log_fixture import alloy_lines, merged_lines
from textual.pilot import Pilot

from fleetui.tui.log_source import FixedLogFeed
from fleetui.tui.screens.doctor import DoctorScreen, FixedDoctor
from fleetui.tui.screens.logs import LogScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def _open(pilot: Pilot[Any], screen: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    pilot.app.push_screen(screen)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    if isinstance(screen, LogScreen):
        screen.flush()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_log_pane_following(snap_compare: Any, size: tuple[int, int]) -> None:
    """One host, following: levels coloured, control characters visible, markup left as text."""

    async def run_before(pilot: Pilot[Any]) -> None:
        feed = FixedLogFeed(alloy_lines("web-01", repeat=3), "web-01", status="reading the journal of alloy.service")
        await _open(pilot, LogScreen(feed))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_log_pane_merged_filtered_paused(snap_compare: Any, size: tuple[int, int]) -> None:
    """Two hosts merged (host prefix), the reconnect notes, a dimming filter, timestamps, scrolled up (paused)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await _open(pilot, LogScreen(FixedLogFeed(merged_lines(), "2 hosts"), show_host=True))
        await pilot.press("slash", *"remote_write", "enter", "t", "home")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_doctor_host(snap_compare: Any, size: tuple[int, int]) -> None:
    """One host's checklist: the first failure marked and selected, its evidence and fix below."""

    async def run_before(pilot: Pilot[Any]) -> None:
        report = fleet_reports()[1]
        await _open(pilot, DoctorScreen(FixedDoctor([report]), [], reports=[report]))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_doctor_fleet(snap_compare: Any, size: tuple[int, int]) -> None:
    """Several hosts: first failure per host and the tally of where the trouble starts."""

    async def run_before(pilot: Pilot[Any]) -> None:
        reports = fleet_reports()
        await _open(pilot, DoctorScreen(FixedDoctor(reports), [], reports=reports))
        await pilot.press("down")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


def test_doctor_healthy_has_no_failure_marker() -> None:
    assert healthy_pull_host().first_failure is None
