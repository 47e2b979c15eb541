"""`f` from the host detail against the lab: web-02 carries the `maintainer` drift. The operator opens the fix,
sees the plan (the target file diff), applies it and trusts web-02's host key when asked (the question names
the row); the runner rewrites the file, reloads Prometheus and waits until Prometheus no longer reports the
problem; the dialog shows the result. Only that line of the file changes, and the file is put back afterwards.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from console import screen_lines

from fleetui.config import Settings
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.fix import FixDialog
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.source import PrometheusSource
from fleetui.tui.widgets.host_key_dialog import HostKeyDialog
from fleetui.tui.widgets.operation_view import OperationView

pytestmark = pytest.mark.lab


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(0.1)


def _codes(app: FleetApp, instance: str) -> set[str]:
    host = app.feed.host(instance)
    return {p.code for p in host.problems} if host else set()


async def test_f_on_the_host_detail_plans_confirms_and_fixes(lab: Any, lab_settings: Settings, tmp_path: Path) -> None:
    h = lab.host("web-02")
    known = tmp_path / "known_hosts"  # empty: the fix asks for web-02's key, as it does on a first run
    path = Path(lab.targets_dir) / "web-02.json"
    original = path.read_text()
    settings = lab_settings.with_overrides({"refresh_interval": 2, "ssh.known_hosts": str(known)})
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(lambda: "label_key_drift" in _codes(app, "web-02"), 60, "web-02's label_key_drift")
            fleet = next(s for s in app.screen_stack if isinstance(s, FleetScreen))
            # the feed has the row before the table shows it: wait for the row, and for `f` on the detail
            await _until(lambda: fleet.table.move_cursor_to("web-02"), 10, "the row in the table")
            await pilot.press("enter")
            host_screen = app.screen
            assert isinstance(host_screen, HostScreen) and host_screen.host.instance == "web-02"
            await _until(lambda: bool(host_screen.check_action("host_action", ("host.fix",))), 10, "`f` offered")
            await pilot.press("f")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, FixDialog)
            # no value to ask for: the drifted key stands for the missing one; the plan comes at once
            await _until(lambda: dialog.planned, 20, "the plan")
            await pilot.pause()
            shown = "\n".join(screen_lines(app))
            assert '-      "maintainer": "web-team"' in shown and '+      "maintainers": "web-team"' in shown
            assert path.read_text() == original  # a plan changes nothing
            # the plan says the host is reached over SSH first (its host key may be asked for before anything)
            plan = " ".join(str(dialog.query_one("#fix-plan").render()).split())
            assert f"connect to {h.address} over SSH to confirm the host, rewrite the target file" in plan, plan

            await pilot.press("a")  # Apply, from the keyboard
            await _until(lambda: isinstance(app.screen, HostKeyDialog), 30, "web-02's host-key question")
            # named as the fleet row, beside the address fleetui dials (the one Prometheus scrapes)
            asked = str(app.screen.query_one("#hostkey-text").render())
            assert f"The host key of web-02 ({h.address}:{h.ssh_port})" in asked, asked
            await pilot.press("t")
            await _until(lambda: dialog.handle is not None and not dialog.handle.running, 90, "the fix to finish")
            await pilot.pause()
            result = dialog.handle.result if dialog.handle else None
            assert result is not None and result.ok, (result.failed_step, result.error) if result else None
            view = dialog.query_one(OperationView)
            assert any(line.startswith("ok   verify") for line in view.lines), view.lines
            await pilot.pause(0.1)
            verdict = next((ln for ln in screen_lines(app) if "Fix of " in ln), "")
            assert f"Fix of web-02 ({h.address}) succeeded — the host is changed" in verdict, screen_lines(app)

            changed = [
                ln
                for ln in difflib.unified_diff(original.splitlines(), path.read_text().splitlines(), lineterm="", n=0)
                if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
            ]
            assert changed == ['-      "maintainer": "web-team"', '+      "maintainers": "web-team"']
            await _until(lambda: not _codes(app, "web-02"), 30, "the console to show web-02 without problems")
            await pilot.press("escape")
            assert isinstance(app.screen, HostScreen)
    finally:
        path.write_text(original)
        (await asyncio.to_thread(httpx.post, f"{lab.prometheus}/-/reload", timeout=10)).raise_for_status()
        # leave the lab as found: web-02 reports its drift again (the fixed series must go stale first)
        from fleetui.adapters.prometheus import FleetReader, PrometheusClient

        async def web02_codes() -> set[str]:
            async with PrometheusClient(settings) as client:
                snap = await FleetReader(client, settings).snapshot()
            row = snap.by_instance().get("web-02")
            return {p.code for p in row.problems} if row else set()

        deadline = time.monotonic() + 120
        while await web02_codes() != {"label_key_drift", "missing_required_label"}:
            assert time.monotonic() < deadline, "web-02 did not report its label drift again after the restore"
            await asyncio.sleep(1)
