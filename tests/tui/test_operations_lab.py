"""The console runs an operation for real: a plan (dry-run enrollment) of a lab host that is not enrolled.

Everything is real: the lab host's sshd and its unknown host key, the deploy runner, the console's operations
service and its fingerprint dialog. fleetui's known_hosts is a fresh file per test, so the key is unknown and
the dialog must appear; the host is read before and after to show that a plan changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from console import assert_nothing_raw, palette_prompts

from fleetui import lab as lab_mod
from fleetui.config import Settings
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.plan import PlanScreen
from fleetui.tui.source import PrometheusSource
from fleetui.tui.widgets.host_key_dialog import HostKeyDialog
from fleetui.tui.widgets.operation_view import OperationView

pytestmark = pytest.mark.lab

HOST = "new-01"  # the lab's spare: not enrolled, and a plan changes nothing on it


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"timed out after {limit:g}s waiting for {what}"
        await asyncio.sleep(0.05)


def _host_key(name: str) -> tuple[str, str]:
    """(key type, SHA256 fingerprint) of the host's ed25519 key, read on the host itself."""
    out = lab_mod.host_exec(name, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()
    return "ssh-ed25519", out[1]


def _alloy_files(name: str) -> str:
    return lab_mod.host_exec(name, ["sh", "-c", "ls /etc/alloy /etc/default/alloy 2>&1; true"]).stdout


def _settings(lab_settings: Settings, tmp_path: Path) -> Settings:
    return lab_settings.with_overrides({"ssh.known_hosts": str(tmp_path / "known_hosts"), "refresh_interval": 3600})


async def _plan_screen(app: FleetApp, pilot: Any, address: str) -> PlanScreen:
    """Open the plan screen from the palette and fill the form, as an operator does."""
    await _until(lambda: any(isinstance(s, FleetScreen) for s in app.screen_stack), 30, "the fleet screen")
    prompts = await palette_prompts(app, pilot, "plan enrollment")
    assert prompts[0].startswith("Plan enrollment of a host")
    await pilot.press("enter")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, PlanScreen)
    await pilot.press(*address, "tab", "tab")  # address, then past the mode (pull), to the labels
    await pilot.press(*"environment=lab maintainers=console-tests")
    return screen


async def test_plan_from_the_console_asks_for_the_host_key_then_shows_progress_and_result(
    lab: Any, lab_settings: Settings, tmp_path: Path
) -> None:
    host = lab.host(HOST)
    key_type, fingerprint = _host_key(HOST)
    before = _alloy_files(HOST)
    settings = _settings(lab_settings, tmp_path)
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(150, 50)) as pilot:
        screen = await _plan_screen(app, pilot, host.address)
        await pilot.press("enter")  # plan

        await _until(lambda: isinstance(app.screen, HostKeyDialog), 30, "the host-key dialog")
        dialog = app.screen
        assert isinstance(dialog, HostKeyDialog)
        shown = str(dialog.query_one("#hostkey-text").render())
        assert f"{host.address}:{host.ssh_port}" in shown and key_type in shown and fingerprint in shown
        assert_nothing_raw(app)
        await pilot.press("t")  # trust

        handle = screen.handle
        assert handle is not None
        await _until(lambda: handle.result is not None, 120, "the plan's result")
        await pilot.pause()
        assert app.screen is screen
        result = handle.result
        assert result is not None and result.ok, result
        assert result.operation == "plan" and result.host_state == "unchanged"

        view = screen.query_one(OperationView)
        lines = view.lines
        assert lines and lines[0].split()[1] == "connect"  # every step as it happened, in order
        steps = [line.split()[1] for line in lines if not line.startswith("  ..")]
        assert steps[:3] == ["connect", "detect", "install"] and "render" in steps
        assert len(handle.events) >= len(lines)  # each event reached the screen as a progress message
        text = str(view.query_one("#operation-result").render())
        assert f"Plan for {host.address} ready: nothing was changed" in text
        assert "Would install Alloy with:" in text and "Alloy config: changes" in text
        assert f'prometheus.exporter.unix "{HOST.replace("-", "_")}"' in text
        assert_nothing_raw(app)

    assert fingerprint.removeprefix("SHA256:") and (tmp_path / "known_hosts").read_text().strip()
    assert _alloy_files(HOST) == before  # the plan changed nothing on the host


async def test_refusing_the_host_key_stops_at_connect_and_touches_nothing(
    lab: Any, lab_settings: Settings, tmp_path: Path
) -> None:
    host = lab.host(HOST)
    settings = _settings(lab_settings, tmp_path)
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(150, 50)) as pilot:
        screen = await _plan_screen(app, pilot, host.address)
        await pilot.press("enter")
        await _until(lambda: isinstance(app.screen, HostKeyDialog), 30, "the host-key dialog")
        await pilot.press("escape")  # refuse
        handle = screen.handle
        assert handle is not None
        await _until(lambda: handle.result is not None, 60, "the plan's result")
        await pilot.pause()
        result = handle.result
        assert result is not None and not result.ok and result.failed_step == "connect"
        text = str(screen.query_one("#operation-result").render())
        assert "failed at connect" in text and "not known" in text and "nothing on the host was changed" in text
    known = tmp_path / "known_hosts"
    assert not known.exists() or not known.read_text().strip()
