"""Snapshots of the retire dialog (a production host: typed confirmation) and the history screen, at 80×24
and 160×48. The targets directory is a fixed path with fixed file times, the operation log holds fixed
records, so each run draws the same screen.

Update only after looking at the report: `pytest tests/tui/test_snapshots_retire_history.py --snapshot-update`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from console import keys_in_one_read
from fleet_fixture import NOW, FixedSource, _host, fleet, make_app
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from fleetui.adapters import oplog
from fleetui.domain.fleet import FleetSnapshot, HostState
from fleetui.tui.messages import OpenHost

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
TARGETS = Path("/tmp/fleetui-snapshot-targets")  # a fixed path: the dialog names it


@pytest.fixture
def targets() -> Path:
    shutil.rmtree(TARGETS, ignore_errors=True)
    TARGETS.mkdir(parents=True)

    def write(name: str, instance: str, env: str, mtime: float) -> None:
        group = [{"targets": [instance], "labels": {"instance": instance, "environment": env, "maintainers": "ops"}}]
        path = TARGETS / name
        path.write_text(json.dumps(group))
        os.utime(path, (mtime, mtime))

    write("10.0.0.3.json", "10.0.0.3:9100", "production", NOW - 86400)
    write("10.0.0.4.json", "10.0.0.4:9100", "staging", NOW - 7200)
    write("10.0.0.2.json.deleted.20231114T080000Z", "10.0.0.2:9100", "production", NOW - 3 * 86400)
    log = oplog.OpLog(oplog.default_path())
    for i, (host, op, outcome, state) in enumerate(
        [
            ("10.0.0.4", "enroll", "ok", "changed"),
            ("10.0.0.2", "retire", "ok", "changed"),
            ("10.0.0.5", "enroll", "failed", "rolled back"),
        ]
    ):
        sha = "9f2c" + "0" * 60 if op == "enroll" and outcome == "ok" else None
        log.append(oplog.OpRecord(NOW - 3600 * (3 - i), "ops", host, op, outcome, state, None, sha))
    return TARGETS


def _production_fleet() -> FleetSnapshot:
    hosts = list(fleet().hosts)
    hosts[1] = _host(3, HostState.UP, environment="production")
    return replace(fleet(), hosts=tuple(hosts))  # the fleet's times kept


async def _loaded(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_retire_dialog(snap_compare: Any, size: tuple[int, int], targets: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        pilot.app.post_message(OpenHost("10.0.0.3:9100"))  # in production
        await pilot.pause()
        await pilot.press("R")
        await _loaded(pilot)
        await pilot.press(*"10.0.0.3")  # the typed confirmation (the box has focus), not complete yet
        await pilot.pause()

    app = make_app(FixedSource(_production_fleet()), **{"targets.dir": str(targets)})
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare: Any, size: tuple[int, int], targets: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        pilot.app.action_history()
        await _loaded(pilot)

    assert snap_compare(make_app(**{"targets.dir": str(targets)}), terminal_size=size, run_before=run_before)


async def test_history_filter_takes_the_keys_typed_right_after_the_slash(targets: Path) -> None:
    """`/staging` arriving in one read is the filter's text (not the table's keys), and `/` in the open box is
    a character: the trail then shows only the staging host. (A Pilot test beside the snapshots: it needs
    the same targets directory and operation log.)"""
    app = make_app(**{"targets.dir": str(targets)})
    async with app.run_test(size=(160, 48)) as pilot:
        await _loaded(pilot)
        app.action_history()
        await _loaded(pilot)
        await keys_in_one_read(app, pilot, ("slash", "/"), *((c, c) for c in "staging"))
        box = app.screen.query_one("#history-filter", Input)
        assert box.has_focus and box.value == "staging"
        trail = app.screen.query_one("#history-trail", DataTable)
        assert trail.row_count == 1
        await pilot.press("slash")
        assert box.value == "staging/"
