"""The console against the lab: `l` and `D` on a host's detail stream its real Alloy log over SSH and run the
real doctor; on the fleet, `l` and `D` do the same for the cursor host, or for the hosts marked with space.

Nothing is faked: Prometheus, sshd and the Alloy stand-in's journal are the lab's. The known_hosts file is the
test's own, holding keys checked against the hosts (tests/lab/lab_trust.py).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "lab"))

from lab_trust import settings_trusting

from fleetui import lab as lab_mod
from fleetui.config import Settings
from fleetui.doctor.model import Status
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.doctor import DoctorScreen
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.screens.logs import LogScreen
from fleetui.tui.source import PrometheusSource

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def settings(lab: Any, lab_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Trusted keys, and a lab whose Prometheus has scraped both pull hosts (a fresh lab has not yet)."""
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        q = 'count(up{instance=~"web-01|web-02"} == 1)'
        r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": q}, timeout=5).json()["data"]["result"]
        if r and r[0]["value"][1] == "2":
            break
        time.sleep(0.5)
    return settings_trusting(lab, lab_settings, tmp_path_factory.mktemp("kh") / "known_hosts", ["web-01", "web-02"])


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(0.1)


async def _fleet(app: FleetApp) -> FleetScreen:
    await _until(lambda: any(isinstance(s, FleetScreen) and s.snapshot for s in app.screen_stack), 30, "the fleet")
    return next(s for s in app.screen_stack if isinstance(s, FleetScreen))


async def test_l_on_a_host_streams_its_alloy_log_and_follows_new_lines(lab: Any, settings: Settings) -> None:
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(140, 40)) as pilot:
        fleet = await _fleet(app)
        assert fleet.table.move_cursor_to("web-01")
        await pilot.press("enter", "l")
        assert isinstance(app.screen, LogScreen)
        screen = app.screen
        await _until(lambda: screen.view.buffer.kept > 0, 20, "web-01's Alloy log")
        assert any("level=info" in ln.text for ln in screen.view.buffer.lines())
        assert screen.status_line().endswith("streaming")
        marker = f"pilot-{time.monotonic_ns()}"
        lab_mod.host_exec(
            "web-01",
            [
                sys.executable,
                "-c",
                "from fleetui.lab.alloy_standin.journal import journal_write\n"
                f"journal_write('alloy.service', 'alloy', 9, 'level=warn msg=\"{marker}\"')\n",
            ],
        )
        await _until(lambda: any(marker in ln.text for ln in screen.view.buffer.lines()), 10, "the new line")
        last = screen.view.buffer.line_at(len(screen.view.buffer) - 1)
        assert marker in last.text and last.cursor and screen.view.following
        await pilot.press("escape")
        assert isinstance(app.screen, HostScreen)


async def test_d_on_a_host_runs_the_doctor(lab: Any, settings: Settings) -> None:
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(140, 40)) as pilot:
        fleet = await _fleet(app)
        assert fleet.table.move_cursor_to("web-01")
        await pilot.press("enter", "D")
        assert isinstance(app.screen, DoctorScreen)
        screen = app.screen
        await _until(lambda: bool(screen.reports), 60, "the doctor's report")
        report = screen.reports[0]
        assert report.host == "web-01" and report.check("ssh").status is Status.OK
        assert report.first_failure is None
        assert "no check failed" in str(screen.query_one("#doctor-summary").render())
        await pilot.press("l")  # the log of the host the doctor looked at
        assert isinstance(app.screen, LogScreen)


async def test_marked_hosts_give_one_merged_log_and_a_fleet_doctor(lab: Any, settings: Settings) -> None:
    """space marks hosts (a mark in the table, "2 marked" in the summary); `l` then streams the marked hosts
    merged, each line prefixed by its host, and `D` runs the fleet doctor over them on the console's runner.
    Nothing marked: `l` is the host under the cursor."""
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(140, 40)) as pilot:
        fleet = await _fleet(app)
        assert fleet.table.move_cursor_to("web-02")
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen) and app.screen.feed.name == "web-02"
        await pilot.press("escape")
        for name in ("web-01", "web-02"):
            assert fleet.table.move_cursor_to(name)
            await pilot.press("space")
        assert [h.instance for h in fleet.table.marked_hosts] == ["web-01", "web-02"]
        assert "2 marked" in str(fleet.query_one("#summary").render())
        rows = [fleet.table.render_line(y).text for y in range(1, len(fleet.table.view) + 1)]
        assert {r.split()[3] for r in rows if r.startswith("✓ ")} == {"web-01", "web-02"}  # the mark, shown
        await pilot.press("l")  # one merged stream of the marked hosts, each line prefixed by its host
        assert isinstance(app.screen, LogScreen) and app.screen.feed.name == "2 hosts"
        merged = app.screen
        await _until(lambda: {ln.host for ln in merged.view.buffer.lines()} == {"web-01", "web-02"}, 20, "both hosts")
        rows = [merged.view._line_strip(i).text for i in range(len(merged.view.buffer))]
        assert merged.view.show_host and all(r.startswith(("web-01 ", "web-02 ")) for r in rows)
        await pilot.press("escape", "D")
        assert isinstance(app.screen, DoctorScreen)
        screen = app.screen
        await _until(lambda: len(screen.reports) == 2, 90, "the fleet doctor")
        by_host = {r.host: r for r in screen.reports}
        assert by_host["web-01"].first_failure is None
        # web-02 carries the `maintainer` label drift: a warning, not a failure
        assert by_host["web-02"].check("labels").status is Status.WARN
        assert "2 without failure" in str(screen.query_one("#doctor-summary").render())
        await pilot.press("escape")
        assert fleet.table.move_cursor_to("web-02")
        await pilot.press("space")  # unmark
        assert [h.instance for h in fleet.table.marked_hosts] == ["web-01"]


async def test_an_unknown_host_key_opens_the_host_key_dialog(
    lab: Any, lab_settings: Settings, settings: Settings, tmp_path: Path
) -> None:
    """With a known_hosts that does not know web-01: the log pane and the doctor ask with the console's
    host-key dialog (the fingerprint the host really has); refused, the pane says the stream failed; trusted,
    the doctor connects and its ssh check passes. (`settings`: only for a lab whose Prometheus lists web-01.)"""
    from lab_trust import fingerprint

    from fleetui.adapters.alloy_logs import StreamState
    from fleetui.tui.widgets.host_key_dialog import HostKeyDialog

    untrusted = lab_settings.with_overrides({"ssh.known_hosts": str(tmp_path / "known_hosts")})
    app = FleetApp(untrusted, PrometheusSource(untrusted), config_file=None)
    async with app.run_test(size=(140, 40)) as pilot:
        fleet = await _fleet(app)
        assert fleet.table.move_cursor_to("web-01")
        await pilot.press("l")
        await _until(lambda: isinstance(app.screen, HostKeyDialog), 20, "the host-key dialog (logs)")
        logs = app.screen_stack[-2]
        assert isinstance(logs, LogScreen)
        assert app.screen.info.fingerprint == fingerprint("web-01")
        await pilot.press("n")
        await _until(lambda: any(e.state is StreamState.FAILED for e in logs.hosts.values()), 20, "the refusal")
        assert app.screen is logs and logs.status_line().endswith("failed")
        await pilot.press("escape", "D")
        await _until(lambda: isinstance(app.screen, HostKeyDialog), 20, "the host-key dialog (doctor)")
        doctor = app.screen_stack[-2]
        assert isinstance(doctor, DoctorScreen)
        await pilot.press("t")
        await _until(lambda: bool(doctor.reports), 60, "the doctor's report")
        assert doctor.reports[0].check("ssh").status is Status.OK


async def test_several_unknown_host_keys_are_asked_one_at_a_time(
    lab: Any, lab_settings: Settings, settings: Settings, tmp_path: Path
) -> None:
    """A merged log of two hosts whose keys fleetui does not know: one host-key dialog at a time, the second
    once the first is answered, each with its own host's fingerprint; trusted, both hosts stream. (Both
    questions come within moments of each other: two dialogs at once made every reader after the first fail.)"""
    from lab_trust import fingerprint

    from fleetui.adapters.alloy_logs import StreamState
    from fleetui.tui.widgets.host_key_dialog import HostKeyDialog

    untrusted = lab_settings.with_overrides({"ssh.known_hosts": str(tmp_path / "known_hosts")})
    app = FleetApp(untrusted, PrometheusSource(untrusted), config_file=None)
    async with app.run_test(size=(140, 40)) as pilot:
        fleet = await _fleet(app)
        for name in ("web-01", "web-02"):
            assert fleet.table.move_cursor_to(name)
            await pilot.press("space")
        await pilot.press("l")
        asked: list[HostKeyDialog] = []
        for _ in range(2):
            await _until(lambda: isinstance(app.screen, HostKeyDialog) and app.screen not in asked, 20, "a question")
            dialogs = [s for s in app.screen_stack if isinstance(s, HostKeyDialog)]
            assert len(dialogs) == 1  # the other question waits its turn
            dialog = app.screen
            assert isinstance(dialog, HostKeyDialog)
            asked.append(dialog)
            await pilot.press("t")
        prints = [d.info.fingerprint for d in asked]
        assert sorted(prints) == sorted([fingerprint("web-01"), fingerprint("web-02")])
        merged = app.screen
        assert isinstance(merged, LogScreen)
        await _until(lambda: {ln.host for ln in merged.view.buffer.lines()} == {"web-01", "web-02"}, 20, "both hosts")
        assert not any(isinstance(s, HostKeyDialog) for s in app.screen_stack)
        assert not any(e.state is StreamState.FAILED for e in merged.hosts.values())
