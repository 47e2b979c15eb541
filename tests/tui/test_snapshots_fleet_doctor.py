"""Snapshots of the fleet doctor's tally (where the trouble starts: per first failing check, how many hosts
and which) and of marked hosts in the fleet table, at 80×24 and 160×48.

The reports are built by the real judgments from evidence in real formats (doctor_fixture), the fleet is the
fixed snapshot of fleet_fixture. Update only after looking at the report:
`pytest tests/tui/test_snapshots_fleet_doctor.py --snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest
from doctor_fixture import fleet_tally_reports
from fleet_fixture import make_app
from textual.pilot import Pilot

from fleetui.tui.screens.doctor import DoctorScreen, FixedDoctor

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.mark.parametrize("size", SIZES)
def test_fleet_doctor_tally(snap_compare: Any, size: tuple[int, int]) -> None:
    """Seven hosts: the tally lists each first failing check with its count and hosts; the unfinished host
    counts as "doctor stopped", never as healthy."""

    async def run_before(pilot: Pilot[Any]) -> None:
        reports = fleet_tally_reports()
        await pilot.app.workers.wait_for_complete()
        pilot.app.push_screen(DoctorScreen(FixedDoctor(reports), [], reports=reports))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_fleet_marked_hosts(snap_compare: Any, size: tuple[int, int]) -> None:
    """Two hosts marked with space: the mark gutter, and "2 marked" in the summary."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("space", "down", "space")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)
