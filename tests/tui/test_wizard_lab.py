"""The enrollment wizard driven as an operator drives it, against the lab, for real.

new-01 (Debian, no Alloy): the wizard opens with `e`, the unknown host key is trusted after its fingerprint is
shown, the detected facts are read, a bad label value is shown beside its field with nothing touched on the host,
the plan equals `fleetui plan` with the same arguments, the apply installs Alloy from the lab repository and the
host comes up in Prometheus; `f` jumps to its fleet row. Re-enroll from the host detail (`E`) plans "unchanged";
then adding a service and cancelling during the apply leaves the old config (read on the host).
new-02 (`ops`, password login, sudo asks for the password): a changed host key is refused with how to clear it;
with the right key the facts say sudo asks for the password, and the plan and the apply run with it (sudo -S);
new-02 comes up in Prometheus.
new-01 and new-02 are put back as the lab made them afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from console import assert_nothing_raw, ssh_session_held

from fleetui import lab as lab_mod
from fleetui.config import Settings
from fleetui.deploy.events import StepStatus
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.screens.wizard import WizardScreen
from fleetui.tui.screens.wizard.confirm import CancelApplyDialog
from fleetui.tui.screens.wizard.form import cli_argv
from fleetui.tui.source import PrometheusSource
from fleetui.tui.widgets.host_key_dialog import HostKeyDialog

pytestmark = pytest.mark.lab

CONFIG = "/etc/alloy/config.alloy"


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"timed out after {limit:g}s waiting for {what}"
        await asyncio.sleep(0.05)


def _fingerprint(name: str) -> str:
    return lab_mod.host_exec(name, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]


def _on_host(name: str, script: str) -> str:
    return lab_mod.host_exec(name, ["sh", "-c", script]).stdout


def _config_sha(name: str) -> str:
    return _on_host(name, f"sha256sum {CONFIG} 2>/dev/null || echo none").split()[0]


def _text(widget: Any) -> str:
    return str(widget.render())


@pytest.fixture
def new_01(reset_lab_host: Any) -> Iterator[Any]:
    host = reset_lab_host("new-01")
    yield host
    reset_lab_host("new-01")  # as the lab made it: other tests plan it as a host without Alloy


def _settings(lab_settings: Settings, tmp_path: Path) -> Settings:
    return lab_settings.with_overrides(
        {"ssh.known_hosts": str(tmp_path / "known_hosts"), "alloy.up_timeout": "60", "refresh_interval": 3600}
    )


async def _type(pilot: Any, screen: Any, field: str, text: str) -> None:
    """Focus a field and type into it, replacing what it held (as select-all + typing does)."""
    box = screen.query_one(f"#{field}")
    box.focus()
    box.value = ""
    await pilot.press(*text) if text else None
    await pilot.pause()


async def _wait_result(screen: WizardScreen, name: str, limit: float) -> Any:
    await _until(lambda: getattr(screen, name) is not None and getattr(screen, name).result is not None, limit, name)
    return getattr(screen, name).result


async def test_enroll_a_fresh_debian_host_with_the_wizard(
    lab: Any, lab_settings: Settings, tmp_path: Path, new_01: Any
) -> None:
    settings = _settings(lab_settings, tmp_path)
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: isinstance(app.screen, FleetScreen), 30, "the fleet screen")
        await pilot.press("e")
        await pilot.pause()
        wizard = app.screen
        assert isinstance(wizard, WizardScreen) and wizard.step == 0

        # 1 Connection: the address; port, user and key from the lab's ssh settings
        await pilot.press(*new_01.address, "ctrl+n")
        # 2 Connect: the unknown key's fingerprint first
        await _until(lambda: isinstance(app.screen, HostKeyDialog), 30, "the host-key dialog")
        shown = _text(app.screen.query_one("#hostkey-text"))
        assert _fingerprint("new-01") in shown and "ssh-ed25519" in shown
        await pilot.press("t")
        probe = await _wait_result(wizard, "probe", 60)
        await pilot.pause()
        assert probe.ok, probe.error
        facts = _text(wizard.query_one("#connect-facts"))
        assert "debian 12" in facts and "new-01" in facts and "not installed" in facts and "sudo" in facts
        assert "amd64" in facts or "arm64" in facts
        assert not wizard.query_one("#sudo").display  # root: no sudo password asked
        await pilot.press("ctrl+n")
        assert wizard.step == 2
        assert "instance: new-01" in _text(wizard.query_one("#instance-line"))
        assert wizard.query_one("#hostname").value == "new-01"

        # 3 What to collect: a bad value is shown beside its field, as typed, and nothing moves on
        await _type(pilot, wizard, "label-environment", "lab ")
        await _type(pilot, wizard, "label-maintainers", "wizard-tests")
        error = wizard.query_one("#label-environment-error")
        assert error.display and "leading or trailing spaces" in _text(error)
        await pilot.press("ctrl+n")
        assert wizard.step == 2 and wizard.plan is None
        assert _on_host("new-01", f"ls {CONFIG} 2>&1; true").strip().endswith("No such file or directory")
        assert not (Path(lab.targets_dir) / f"{new_01.address}.json").exists()
        await _type(pilot, wizard, "label-environment", "lab")
        assert not error.display

        # 4 Plan: the same plan as `fleetui plan` with the same arguments
        await pilot.press("ctrl+n")
        plan = await _wait_result(wizard, "plan", 90)
        await pilot.pause()
        assert plan.ok, plan.error
        assert "Would install Alloy with:" in _text(wizard.query_one("#wizard-plan #operation-result"))
        argv = cli_argv(wizard.form)
        kh = tmp_path / "known_hosts"
        cli = await asyncio.to_thread(  # the app keeps running meanwhile
            subprocess.run,
            [
                sys.executable,
                "-m",
                "fleetui",
                "--config",
                str(lab.config_file),
                "--set",
                f"ssh.known_hosts={kh}",
                "plan",
                *argv,
                "--json",
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        cli_plan = json.loads(cli.stdout)
        assert cli_plan["summary"]["plan"] == plan.summary["plan"]
        assert [(e["step"], e["status"]) for e in cli_plan["events"] if e["status"] != "progress"] == [
            (e.step, e.status.value) for e in plan.events if e.status is not StepStatus.PROGRESS
        ]
        assert _config_sha("new-01") == "none"  # planning changed nothing

        # 5 Apply: live steps, then up in Prometheus
        t0 = time.monotonic()
        await pilot.press("ctrl+n")
        assert wizard.step == 4
        result = await _wait_result(wizard, "handle", 180)
        await pilot.pause()
        assert result.ok, (result.failed_step, result.error)
        steps = wizard.query_one("#apply-steps").steps
        assert steps["install"].status is StepStatus.DONE and steps["verify"].status is StepStatus.DONE
        outcome = _text(wizard.query_one("#apply-outcome"))
        assert "is up in Prometheus after" in outcome
        took = {e.step: e.elapsed_s for e in result.events if e.status is not StepStatus.PROGRESS}
        print(
            f"\nwizard apply -> host up (new-01, fresh, incl. apt install): {result.elapsed_s:.2f}s (runner), "
            f"{time.monotonic() - t0:.2f}s (pilot); install {took['install']:.2f}s, verify {took['verify']:.2f}s"
        )
        assert _config_sha("new-01") != "none"
        assert_nothing_raw(app)

        # f: back to the fleet, the cursor on its row
        await pilot.press("f")
        await _until(lambda: isinstance(app.screen, FleetScreen), 10, "the fleet")
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        await _until(
            lambda: fleet.table.cursor_host is not None and fleet.table.cursor_host.instance == "new-01",
            30,
            "the cursor on new-01",
        )

        # Re-enroll from the host detail: prefilled, and unchanged
        await pilot.press("enter")
        await _until(lambda: isinstance(app.screen, HostScreen), 10, "the host detail")
        await pilot.press("E")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, WizardScreen) and again.reenroll
        assert again.query_one("#address").value == new_01.address
        await pilot.press("ctrl+n")
        assert (await _wait_result(again, "probe", 60)).ok
        await pilot.pause()
        await pilot.press("ctrl+n")
        assert again.query_one("#label-maintainers").value == "wizard-tests"
        await pilot.press("ctrl+n")
        replan = await _wait_result(again, "plan", 90)
        await pilot.pause()
        assert replan.ok
        assert "Unchanged: the host is already enrolled exactly like this" in _text(again.query_one("#plan-status"))

        # a changed config, cancelled during the apply: the old config stays (read on the host). The apply's SSH
        # session is held (its sshd stopped) once the upload starts, until the cancel is asked for: unheld, this
        # apply was over in 0.94 s once, before the cancel came
        before = _config_sha("new-01")
        await pilot.press("ctrl+b")
        again.query_one("#svc-self").value = True
        await pilot.pause()
        await pilot.press("ctrl+n")
        changed = await _wait_result(again, "plan", 90)
        assert changed.ok and changed.summary["plan"]["config_diff"]
        await pilot.press("ctrl+n")
        handle = again.handle
        assert handle is not None
        await _until(
            lambda: any(e.step == "upload" and e.status is StepStatus.STARTED for e in handle.events), 60, "upload"
        )
        async with ssh_session_held("new-01"):
            await pilot.press("escape")
            await _until(lambda: isinstance(app.screen, CancelApplyDialog), 10, "the cancel question")
            await pilot.press("y")
        cancelled = await _wait_result(again, "handle", 120)
        await pilot.pause()
        assert not cancelled.ok and cancelled.error_kind is not None and cancelled.error_kind.value == "cancelled"
        assert cancelled.host_state in ("unchanged", "rolled back"), cancelled.host_state
        assert _config_sha("new-01") == before
        assert "The host now:" in _text(again.query_one("#apply-outcome"))
        assert_nothing_raw(app)


@pytest.fixture
def new_02(reset_lab_host: Any) -> Iterator[Any]:
    host = reset_lab_host("new-02")
    yield host
    reset_lab_host("new-02")


async def test_password_login_sudo_password_and_a_changed_key(
    lab: Any, new_02: Any, lab_settings: Settings, tmp_path: Path
) -> None:
    host = new_02
    password = host.password_file.read_text().strip()
    settings = _settings(lab_settings, tmp_path)
    kh = tmp_path / "known_hosts"
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    kh.write_text(f"[{host.address}]:{host.ssh_port} {other}\n")
    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: isinstance(app.screen, FleetScreen), 30, "the fleet screen")
        await pilot.press("e")
        await pilot.pause()
        wizard = app.screen
        assert isinstance(wizard, WizardScreen)
        await pilot.press(*host.address)
        await _type(pilot, wizard, "user", host.ssh_password_user)
        wizard.query_one("#auth").focus()
        await pilot.press("down", "down", "enter")  # agent -> key file -> password
        await pilot.pause()
        assert wizard.query_one("#password").display
        await _type(pilot, wizard, "password", password)
        await pilot.press("ctrl+n")

        # a changed key: refused, said what it means and how to clear it
        refused = await _wait_result(wizard, "probe", 60)
        await pilot.pause()
        assert not refused.ok and refused.failed_step == "connect"
        status = _text(wizard.query_one("#connect-status"))
        assert "HOST KEY CHANGED" in status and "ssh-keygen -R" in status and str(kh) in status
        assert "Nothing on the host was changed" in status
        assert not isinstance(app.screen, HostKeyDialog)
        assert kh.read_text().count("\n") == 1  # known_hosts untouched

        # the operator clears the line, goes back and connects again: the real key, trusted after the dialog
        kh.write_text("")
        await pilot.press("ctrl+b")
        await pilot.press("ctrl+n")
        await _until(lambda: isinstance(app.screen, HostKeyDialog), 30, "the host-key dialog")
        assert _fingerprint("new-02") in _text(app.screen.query_one("#hostkey-text"))
        await pilot.press("t")
        probe = await _wait_result(wizard, "probe", 60)
        await pilot.pause()
        assert probe.ok, probe.error
        facts = _text(wizard.query_one("#connect-facts"))
        assert "ubuntu" in facts and "asks for a password (the login password is used)" in facts
        await pilot.press("ctrl+n")
        await _type(pilot, wizard, "label-environment", "lab")
        await _type(pilot, wizard, "label-maintainers", "wizard-tests")
        await pilot.press("ctrl+n")
        plan = await _wait_result(wizard, "plan", 90)
        await pilot.pause()
        assert plan.ok, plan.error  # read the host's files with sudo -S and the password
        render = [e for e in plan.events if e.step == "render"][-1]  # read the host's files with sudo -S
        assert render.status is StepStatus.DONE, render
        shown = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert password not in shown
        assert password not in json.dumps(plan.to_json())

        # apply: installs and configures Alloy with sudo -S and the login password, and the host comes up
        await pilot.press("ctrl+n")
        applied = await _wait_result(wizard, "handle", 180)
        await pilot.pause()
        assert applied.ok, (applied.failed_step, applied.error)
        assert "is up in Prometheus after" in _text(wizard.query_one("#apply-outcome"))
        assert _config_sha("new-02") != "none"
        assert password not in json.dumps(applied.to_json())
        assert password not in " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert_nothing_raw(app)
    assert hashlib.sha256(password.encode()).hexdigest() not in kh.read_text()
