"""The console against the lab's real Prometheus (and its real VictoriaMetrics): load, open a host, then
survive the backend going away. The title names the backend.

Prometheus is stopped and started again with fleetui.lab (the window is kept short: other helpers share the
lab). Nothing here is faked: the adapter, HTTP and Prometheus are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from fleetui.config import Settings
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.source import PrometheusSource

pytestmark = [pytest.mark.lab, pytest.mark.both_backends]


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(0.1)


def _fleet(app: FleetApp) -> FleetScreen:
    screen = next(s for s in app.screen_stack if isinstance(s, FleetScreen))
    return screen


async def test_lab_host_detail_shows_the_real_target(lab: Any, lab_settings: Settings) -> None:
    app = FleetApp(lab_settings, PrometheusSource(lab_settings), config_file=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: _fleet(app).snapshot is not None, 30, "the first snapshot from the lab")
        screen = _fleet(app)
        name = {"prometheus": "Prometheus", "victoriametrics": "VictoriaMetrics"}[lab.backend]
        assert screen.sub_title == f"{lab.prometheus} · {name}"
        # a lab that has just come up may not have scraped its starting fleet's target files yet
        await _until(lambda: any(h.scrape_url for h in screen.table.view), 40, "a pull host with a scrape URL")
        pull = next(h for h in screen.table.view if h.scrape_url)
        screen.table.move_cursor_to(pull.instance)
        await pilot.press("enter")
        assert isinstance(app.screen, HostScreen) and app.screen.host.instance == pull.instance
        assert pull.scrape_url in str(app.screen.query_one("#host-overview").render())
        await pilot.press("escape")
        assert app.screen is screen


async def test_the_first_refresh_begins_as_the_console_is_created(lab: Any, lab_settings: Settings) -> None:
    """The console's start-up and its first refresh overlap: the refresh is begun when the app is created, and
    the first snapshot the table shows is that one."""
    source = PrometheusSource(lab_settings)
    created = time.time()
    app = FleetApp(lab_settings, source, config_file=None)
    await _until(lambda: source.reader is not None and source.reader.refresh_requests > 0, 30, "the first refresh")
    started = time.time()  # the refresh has been read: the app has not run yet
    async with app.run_test(size=(120, 40)):
        await _until(lambda: _fleet(app).snapshot is not None, 30, "the first snapshot on screen")
        snapshot = _fleet(app).snapshot
        assert snapshot is not None and created <= snapshot.taken_at < started


async def test_lab_refresh_failure_and_recovery(lab: Any, lab_settings: Settings) -> None:
    from fleetui import lab as lab_mod

    settings = lab_settings.with_overrides({"refresh_interval": 1})
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: _fleet(app).snapshot is not None, 30, "the first snapshot from the lab")
        screen = _fleet(app)
        hosts = len(screen.table.view)
        assert not screen.query_one("#stale").display

        lab_mod.stop_prometheus()
        try:
            await _until(lambda: screen.error is not None, 30, "a failed refresh")
            await pilot.pause()
            banner = screen.query_one("#stale")
            assert banner.display
            text = str(banner.render())
            assert lab.prometheus.split("//")[1] in text and "showing data from" in text
            assert len(screen.table.view) == hosts  # last data kept on screen
            assert screen.snapshot is not None
        finally:
            lab_mod.start_prometheus()
        # no key pressed: the refresh loop recovers by itself
        await _until(lambda: screen.error is None, 60, "recovery after Prometheus restarted")
        await pilot.pause()
        assert not screen.query_one("#stale").display
