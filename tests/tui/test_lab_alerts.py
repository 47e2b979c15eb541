"""The console against the lab's real Prometheus and Alertmanager: db-01 (a pull host whose Alloy is stopped)
fires HostDown, its companion DiskSpaceLow is inhibited, and an enrolled push host that never pushed is its own
`silent` row — in the fleet table, the host detail, and with the request count of a refresh checked.

What `status --json` says about the same alerts is tested in tests/lab/test_alerts_lab.py; this file checks
that the console gets the same enriched fleet (one extra request per refresh, for the alerts).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from console import screen_lines

from fleetui.config import Settings
from fleetui.domain.fleet import HostState
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.alerts import UnattributedAlertsScreen
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.source import PrometheusSource

pytestmark = pytest.mark.lab

SILENT = "silent-console-01"


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(0.1)


def _fleet(app: FleetApp) -> FleetScreen:
    return next(s for s in app.screen_stack if isinstance(s, FleetScreen))


def _alert_states(app: FleetApp, instance: str) -> dict[str, str]:
    host = app.feed.host(instance)
    return {a.name: a.state.value for a in host.alerts} if host else {}


async def _row(app: FleetApp, pilot: Any, shown: str) -> str:
    """The fleet row showing `shown`, scrolled into view first: the lab's fleet may hold more hosts than fit."""
    screen = _fleet(app)
    instance = shown.strip()
    assert screen.table.move_cursor_to(instance), f"{instance} is not in the table"
    await pilot.pause()
    row = next((ln for ln in screen_lines(app) if shown in ln), None)
    assert row is not None, f"no row shows {shown!r}"
    return row


async def test_console_shows_alerts_inhibition_and_silent_push_host(
    lab: Any, lab_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = Path(lab.targets_dir) / f"{SILENT}.json"
    labels = {"instance": SILENT, "environment": "staging", "maintainers": "ops"}
    target.write_text(json.dumps([{"targets": [], "labels": labels}], indent=2) + "\n")
    settings = lab_settings.with_overrides({"refresh_interval": 1})
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            want = {"HostDown": "firing", "DiskSpaceLow": "inhibited"}
            await _until(lambda: _alert_states(app, "db-01") == want, 90, f"db-01 alerts {want}")
            screen = _fleet(app)
            await _until(lambda: screen.host(SILENT) is not None, 20, "the silent host in the table")
            await pilot.pause()

            silent, shown = screen.host(SILENT), screen.snapshot
            assert silent is not None and silent.state is HostState.SILENT
            assert shown is not None and shown.times.last_seen.get(SILENT) is None
            row = await _row(app, pilot, " db-01 ")
            assert "1 crit +1 inh" in row, row
            silent_row = await _row(app, pilot, SILENT)
            assert "◌ silent" in silent_row and "never" in silent_row, silent_row
            assert (await _row(app, pilot, " web-01 ")).rstrip().split()[-3:] != ["1", "crit"]

            # the host detail's alerts section: names, severity, state, since, summary
            screen.table.move_cursor_to("db-01")
            await pilot.press("enter")
            assert isinstance(app.screen, HostScreen)
            section = str(app.screen.query_one("#host-alerts").render())
            assert "HostDown  critical  firing  since " in section and "Host db-01 is down" in section
            assert "DiskSpaceLow  warning  inhibited  since " in section
            await pilot.press("escape")

            # the alerts no host matches are one palette entry away
            app.action_unattributed_alerts()
            await pilot.pause()
            assert isinstance(app.screen, UnattributedAlertsScreen)
            # other tests of the session may leave alerts of hosts they removed: count them, but db-01's are
            # attributed, so none of them is in this list
            listed = "\n".join(screen_lines(app))
            assert re.search(r"\b\d+ alerts? from alertmanager match(es)? no host", listed), listed
            assert "db-01" not in listed
            await pilot.press("escape")

        # a refresh costs what the reader costs plus ONE request for the alerts and ONE instant query for Alloy's
        # version and config hash (the targets dir and the operation log are file reads)
        from fleetui.adapters.prometheus import FleetReader, PrometheusClient

        sent: list[str] = []
        real_send = httpx.AsyncClient.send

        async def counting_send(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> httpx.Response:
            sent.append(request.url.path)
            return await real_send(self, request, **kw)

        monkeypatch.setattr(httpx.AsyncClient, "send", counting_send)
        async with PrometheusClient(settings) as client:
            await FleetReader(client, settings).refresh()  # what the console reads per refresh
        reader_paths, sent[:] = list(sent), []
        source = PrometheusSource(settings, history_steps=0)  # no background history look-up meanwhile
        try:
            await source.snapshot()
        finally:
            source.close()
        assert sorted(sent) == sorted([*reader_paths, "/api/v2/alerts", "/api/v1/query"]), (reader_paths, sent)
    finally:
        target.unlink()


def _only_lab_hosts(app: FleetApp) -> None:
    """Hide the hundreds of gone `t-*` hosts other lab tests wrote (they sort above the up hosts and would push
    the rows read here off the screen)."""
    _fleet(app).table.set_filter(lambda h: not h.instance.startswith("t-"))


async def test_version_drift_between_two_lab_hosts_shows_in_the_fleet(lab: Any, lab_settings: Settings) -> None:
    """web-01 runs Alloy 1.10.2, raspberry-4b (instance raspberry-pi) 1.9.1. Prometheus scrapes each stand-in's
    own /metrics (a file_sd target with job="alloy", as one scrapes a real Alloy's), so `alloy_build_info` and
    `alloy_config_hash` are real scraped series; the fleet marks raspberry-pi as older than the rest."""
    from fleetui import lab as lab_mod

    web, pi = lab.host("web-01"), lab.host("raspberry-4b")
    target = Path(lab.targets_dir) / "alloy-self-metrics.json"
    groups = [
        {"targets": [f"{web.address}:12345"], "labels": {"instance": "web-01", "job": "alloy"}},
        {"targets": [f"{pi.address}:12345"], "labels": {"instance": "raspberry-pi", "job": "alloy"}},
    ]
    target.write_text(json.dumps(groups, indent=2) + "\n")
    settings = lab_settings.with_overrides({"refresh_interval": 1})
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)

    def versions() -> dict[str, str | None]:
        return {
            i: (h.drift.version if h and h.drift else None)
            for i in ("web-01", "raspberry-pi")
            for h in [app.feed.host(i)]
        }

    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await _until(lambda: versions() == {"web-01": "1.10.2", "raspberry-pi": "1.9.1"}, 40, "both versions")
            _only_lab_hosts(app)
            await pilot.pause()
            lines = screen_lines(app)
            assert "alloy" in next(ln for ln in lines if "instance" in ln and "state" in ln)
            assert "1.9.1↓" in await _row(app, pilot, " raspberry-pi ")
            web_row = await _row(app, pilot, " web-01 ")
            assert " 1.10.2 " in web_row and "↓" not in web_row

            # the running config's hash is the sha256 of the file on the host, as Alloy reports it
            drift = app.feed.host("web-01").drift  # type: ignore[union-attr]
            on_host = lab_mod.host_exec("web-01", ["sha256sum", "/etc/alloy/config.alloy"]).stdout.split()[0]
            assert drift is not None and drift.running_sha256 == on_host and drift.version_source == "prometheus"

            # the versions view: which versions, by how many hosts, and who drifts
            app.action_alloy_versions()
            await pilot.pause()
            text = "\n".join(screen_lines(app))
            assert "1.10.2" in text and "1.9.1" in text and "raspberry-pi  1.9.1↓  (older than 1.10.2)" in text

        # the headless twin says the same
        p = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "status", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        doc = json.loads(p.stdout)
        by = {h["instance"]: h["drift"] for h in doc["hosts"]}
        assert by["raspberry-pi"]["alloy_version"] == "1.9.1" and by["raspberry-pi"]["version_drift"] == "older"
        assert by["web-01"]["running_config_sha256"] == on_host
        assert {"version": "1.9.1", "hosts": 1} in doc["versions"]
    finally:
        target.unlink()
