"""Snapshots of alerts and drift in the console — the fleet's alerts and Alloy columns and a silent host, a
host's alerts and Alloy sections, the list of alerts no host matches, the versions in use — at 80×24 and
160×48, over a fixed fleet and a frozen clock.

The alerts are domain values built here (what fleetui.adapters.alertmanager parses from Alertmanager), some
with markup-like text, so the snapshots also show that alert text is drawn as typed. That Alertmanager and
Prometheus really produce them is tested on the lab (tests/lab/test_alerts_lab.py, test_alerts_console_lab.py).

Update only after looking at the report: `pytest tests/tui/test_snapshots_alerts.py --snapshot-update`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fleet_fixture import NOW, FixedSource, fleet, make_app
from textual.pilot import Pilot

from fleetui.domain.alerts import Alert, AlertState, AlertsView, with_alerts
from fleetui.domain.drift import Recorded, Running, with_drift
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, HostTimes, Mode, Problem
from fleetui.tui.messages import OpenHost

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def _alert(name: str, instance: str, state: AlertState = AlertState.FIRING, **extra: str) -> Alert:
    severity = extra.pop("severity", "critical")
    summary = extra.pop("summary", f"{name} on {instance}")
    return Alert(
        name,
        {"alertname": name, "instance": instance, "severity": severity, **extra},
        {"summary": summary},
        state,
        NOW - 300,
        inhibited_by=("4f1c2a",) if state is AlertState.INHIBITED else (),
        silenced_by=("9b7e" + "0" * 4,) if state is AlertState.SILENCED else (),
    )


def alert_fleet() -> FleetSnapshot:
    silent = HostStatus(
        instance="edge-07",
        state=HostState.SILENT,
        mode=Mode.PUSH,
        labels={"instance": "edge-07", "environment": "prod", "maintainers": "ops-team"},
        last_error="never seen: enrolled (edge-07.json) but Prometheus has no series of it",
    )
    base = fleet()
    snap = replace(base, hosts=tuple(sorted((*base.hosts, silent), key=lambda h: h.instance)))
    alerts = (
        _alert("HostDown", "10.0.0.2:9100", summary="Host web-02 is down", signal="scrape_failed"),
        _alert("DiskSpaceLow", "10.0.0.2:9100", AlertState.INHIBITED, severity="warning"),
        _alert("HighLoad", "web-08", AlertState.SILENCED, severity="warning"),  # by hostname label
        _alert("HighLoad", "10.0.0.3:9100", severity="warning", summary="[bold]load[/bold] 12 > 8"),
        _alert("HostDown", "raspberry-pi", summary="Host raspberry-pi is down\x1b[2J"),  # matches no host
    )
    snap = with_alerts(snap, AlertsView("alertmanager", alerts))
    sha = "9f2c" + "0" * 60
    running = {h.instance: Running("1.10.2", sha) for h in snap.hosts if h.state is HostState.UP}
    running["10.0.0.3:9100"] = Running("1.8.3", sha)  # an older Alloy
    running["10.0.0.4:9100"] = Running("1.10.2", "77ab" + "0" * 60)  # its config was edited on the host
    recorded = {"10.0.0.4": Recorded(sha, "1.10.2"), "10.0.0.2": Recorded(sha, "v1.9.1")}  # from the log
    return with_drift(snap, running, recorded)


async def _loaded(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_fleet_with_alerts(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(FixedSource(alert_fleet())), terminal_size=size, run_before=_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_host_alerts_section(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        pilot.app.post_message(OpenHost("10.0.0.2:9100"))
        await pilot.pause()

    assert snap_compare(make_app(FixedSource(alert_fleet())), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_unattributed_alerts(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        pilot.app.action_unattributed_alerts()
        await pilot.pause()

    assert snap_compare(make_app(FixedSource(alert_fleet())), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_alloy_versions(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        pilot.app.action_alloy_versions()
        await pilot.pause()

    assert snap_compare(make_app(FixedSource(alert_fleet())), terminal_size=size, run_before=run_before)


FIX_TARGETS = Path("/tmp/fleetui-snapshot-fix-targets")  # a fixed path: the plan's diff names it
FIX_HOST = "10.0.0.41:12345"


def fix_fleet() -> FleetSnapshot:
    """A pull host with the lab's label drift (`maintainer`), no `environment`, and a cloned image's nodename."""
    problems = (
        Problem("label_key_drift", "label 'maintainer' should be 'maintainers'", "rename it"),
        Problem("missing_required_label", "required label 'environment' is missing", "add it"),
        Problem("duplicate_nodename", "nodename 'web-41' is reported by 2 instances", "rename one machine"),
    )
    host = HostStatus(
        FIX_HOST,
        HostState.UP,
        Mode.PULL,
        labels={"instance": FIX_HOST, "job": "node", "maintainer": "web-team"},
        problems=problems,
        nodename="web-41",
        scrape_url=f"http://{FIX_HOST}/metrics",
    )
    base = alert_fleet()
    times = HostTimes({**base.times.last_seen, FIX_HOST: NOW - 5}, base.times.scrape_duration)
    return replace(base, hosts=tuple(sorted((*base.hosts, host), key=lambda h: h.instance)), times=times)


@pytest.mark.parametrize("size", SIZES)
def test_fix_plan(snap_compare: Any, size: tuple[int, int]) -> None:
    shutil.rmtree(FIX_TARGETS, ignore_errors=True)
    FIX_TARGETS.mkdir(parents=True)
    group = [{"labels": {"instance": FIX_HOST, "job": "node", "maintainer": "web-team"}, "targets": [FIX_HOST]}]
    (FIX_TARGETS / "10.0.0.41.json").write_text(json.dumps(group, indent=2, sort_keys=True) + "\n")

    async def run_before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        pilot.app.post_message(OpenHost(FIX_HOST))
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("p", "r", "right", "enter")  # `pr` + → takes the fleet's `prod`, Enter plans
        await _loaded(pilot)

    app = make_app(FixedSource(fix_fleet()), **{"targets.dir": str(FIX_TARGETS)})
    assert snap_compare(app, terminal_size=size, run_before=run_before)
