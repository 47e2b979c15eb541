"""Retire a production host from its detail screen, for real, then find it in history.

A lab host (new-02's real node_exporter) is put in the fleet by a file_sd target file labelled
`environment=production`, the way a hand-enrolled host is; Prometheus scrapes it until it is `up`. The operator
opens its detail screen, presses `R`, sees what will happen, types the host's name, and retires it through the
console's operations service. A real refresh right after must not show it `up`; history (the targets
directory and the local operation log) must list it.
"""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console import assert_nothing_raw, palette_prompts, screen_lines

from fleetui.adapters.oplog import OpLog
from fleetui.config import Settings
from fleetui.domain.fleet import HostState
from fleetui.lab import topology
from fleetui.tui.app import FleetApp
from fleetui.tui.messages import OpenHost
from fleetui.tui.operations import Operations
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.history import HistoryScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.screens.retire import RetireDialog
from fleetui.tui.source import PrometheusSource

pytestmark = pytest.mark.lab

INSTANCE = "retire-test-01"
FILE = "wizard-retire"


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"timed out after {limit:g}s waiting for {what}"
        await asyncio.sleep(0.05)


def _up_in_prometheus(lab: Any) -> bool:
    r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": f'up{{instance="{INSTANCE}"}} == 1'}, timeout=5)
    return bool(r.json()["data"]["result"])


@pytest.fixture
def production_host(lab: Any) -> Iterator[Path]:
    """new-02's node_exporter as a hand-enrolled production host, up in Prometheus; cleaned away afterwards."""
    targets = Path(lab.targets_dir)
    host = lab.host("new-02")
    labels = {"instance": INSTANCE, "environment": "production", "maintainers": "console-tests"}
    groups = [{"targets": [f"{host.address}:{topology.NODE_EXPORTER_PORT}"], "labels": labels}]
    (targets / f"{FILE}.json").write_text(json.dumps(groups))
    httpx.post(f"{lab.prometheus}/-/reload", timeout=10).raise_for_status()
    deadline = time.monotonic() + 60
    while not _up_in_prometheus(lab):
        assert time.monotonic() < deadline, "the production test host never came up in Prometheus"
        time.sleep(0.5)
    try:
        yield targets
    finally:
        for f in targets.glob(f"{FILE}.json*"):
            f.unlink()
        httpx.post(f"{lab.prometheus}/-/reload", timeout=10)


async def test_retire_a_production_host_from_its_detail_then_find_it_in_history(
    lab: Any, lab_settings: Settings, tmp_path: Path, production_host: Path
) -> None:
    settings = lab_settings.with_overrides({"ssh.known_hosts": str(tmp_path / "known_hosts"), "refresh_interval": 3600})
    oplog = OpLog(tmp_path / "state" / "operations.jsonl")
    app = FleetApp(settings, PrometheusSource(settings), config_file=None, operations=Operations(settings, oplog=oplog))
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: any(isinstance(s, FleetScreen) for s in app.screen_stack), 30, "the fleet screen")
        await _until(lambda: (h := app.feed.host(INSTANCE)) is not None and h.state is HostState.UP, 30, "it up")
        app.post_message(OpenHost(INSTANCE))
        await _until(lambda: isinstance(app.screen, HostScreen), 10, "the host screen")
        host_screen = app.screen
        await pilot.press("R")
        await _until(lambda: isinstance(app.screen, RetireDialog), 10, "the retire dialog")
        dialog = app.screen
        assert isinstance(dialog, RetireDialog)
        await _until(lambda: dialog.entry is not None, 20, "the target file found")
        await pilot.pause()
        what = str(dialog.query_one("#retire-what").render())
        assert f"{FILE}.json" in what and f"{FILE}.json.deleted.<UTC timestamp>" in what
        assert "Prometheus is reloaded" in what and "only if ticked" in what
        run = dialog.query_one("#retire-run")
        assert run.disabled  # production: nothing until the name is typed
        # typed as the dialog asks, without clicking the box first: it has the keys
        await pilot.press(*"retire-test-0", "enter")  # one character short: still refused
        await pilot.pause()
        assert app.screen is dialog and run.disabled and dialog.handle is None
        await pilot.press("1")
        await pilot.pause()
        assert not run.disabled
        await pilot.press("enter")
        handle = dialog.handle
        assert handle is not None
        await _until(lambda: handle.result is not None, 60, "the retirement")
        result = handle.result
        assert result is not None and result.ok, result
        retired_as = str(result.summary["retired_as"])
        assert retired_as.startswith(f"{FILE}.json.deleted.")
        assert not (production_host / f"{FILE}.json").exists() and (production_host / retired_as).exists()
        assert_nothing_raw(app)

        # a real refresh right after: the host must not be `up` again
        taken = app.feed.snapshot.taken_at if app.feed.snapshot else 0.0
        await _until(lambda: not app.feed.refreshing, 20, "the refresh the retirement started")
        app.feed.refresh_now()
        await _until(
            lambda: app.feed.snapshot is not None and app.feed.snapshot.taken_at > taken and not app.feed.refreshing,
            20,
            "a refresh after the retirement",
        )
        await pilot.pause()
        assert app.feed.host(INSTANCE) is None
        assert app.feed.retired_as(INSTANCE) == retired_as
        await pilot.press("escape")  # close the dialog
        await pilot.pause()
        assert app.screen is host_screen
        title = str(host_screen.query_one("#host-title").render())
        assert "retired" in title and retired_as in title and "up" not in title.split()[:2]

        # history: from the palette, filtered to this host
        await pilot.press("escape")
        prompts = await palette_prompts(app, pilot, "history")
        assert prompts[0].startswith("History of enrolled and retired hosts")
        await pilot.press("enter")
        await _until(lambda: isinstance(app.screen, HistoryScreen), 10, "the history screen")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await app.workers.wait_for_complete()
        await pilot.press("slash", *FILE)
        await pilot.pause()
        trail = history.query_one("#history-trail")
        rows = [[str(c) for c in trail.get_row_at(i)] for i in range(trail.row_count)]
        assert [r[:2] for r in rows] == [[FILE, "retired"]], (
            rows,
            history.error,
            [e.name for e in history.entries],
            history.query_one("#history-filter").value,
        )
        log = history.query_one("#history-log")
        address = lab.host("new-02").address
        history.query_one("#history-filter").value = address
        await pilot.pause()
        logged = [[str(c) for c in log.get_row_at(i)] for i in range(log.row_count)]
        assert [r[2:6] for r in logged] == [[address, "retire", "ok", "changed"]], logged
        assert_nothing_raw(app)
        assert any(FILE in line for line in screen_lines(app))

    assert stat.S_IMODE(oplog.path.stat().st_mode) == 0o600
    (record,) = oplog.read()
    assert record.operation == "retire" and record.outcome == "ok"
