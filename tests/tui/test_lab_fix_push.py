"""`f` on a push host against the lab: the operator gives the SSH address, trusts the host key, sees the Alloy
config diff as the plan, applies it, and reads how long Prometheus took to stop reporting the problem.

cache-01 (the lab's well-labelled push host, here at a 5 s scrape interval with a 10 s history window so the
waits are a third of the lab's 15 s) is broken by setting its `instance` to "cache-push" in its own Alloy
config: Prometheus then lists a push row "cache-push" with instance_nodename_mismatch. No target file or
operation log names that instance, so the address field starts empty with the hint; a bad address is refused
beside the field before anything connects; another machine's address connects but is refused at the plan (its
nodename is not the row's); the right one plans (through the host-key dialog, the same one the
wizard and the pull fix use) and applies. The config is put back afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from console import assert_nothing_raw, screen_lines

from fleetui import lab as lab_mod
from fleetui.adapters.oplog import OpLog
from fleetui.config import Settings
from fleetui.tui.app import FleetApp
from fleetui.tui.operations import Operations
from fleetui.tui.screens.fix_push import NO_ADDRESS_HINT, PushFixDialog
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.source import PrometheusSource
from fleetui.tui.widgets.host_key_dialog import HostKeyDialog

pytestmark = pytest.mark.lab
HOST = "cache-01"
BROKEN = "cache-push"
CONFIG = "/etc/alloy/config.alloy"
LAB_INTERVAL = 'scrape_interval = "15s"'  # cache-01's own, as the lab writes it
SCRAPE_INTERVAL_S = 5.0  # the test's, with a history window of two intervals (as the default 30 s is for 15 s)
POLL_SLACK_S = 5.0


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(0.1)


def _codes(app: FleetApp, instance: str) -> set[str] | None:
    host = app.feed.host(instance)
    return {p.code for p in host.problems} if host else None


def _put_config(text: str) -> None:
    p = lab_mod.host_exec(HOST, ["sh", "-c", f"cat > {CONFIG} && systemctl restart alloy"], input=text)
    assert p.returncode == 0, p.stderr


async def test_f_on_a_push_host_asks_the_address_plans_and_fixes(
    lab: Any, lab_settings: Settings, tmp_path: Path
) -> None:
    h = lab.host(HOST)
    lab_config = lab_mod.host_exec(HOST, ["cat", CONFIG]).stdout
    line = f'instance    = "{HOST}",'
    assert line in lab_config and LAB_INTERVAL in lab_config
    original = lab_config.replace(LAB_INTERVAL, f'scrape_interval = "{SCRAPE_INTERVAL_S:g}s"')
    broken = original.replace(line, f'instance    = "{BROKEN}",', 1)
    settings = lab_settings.with_overrides(
        {"refresh_interval": 2, "ssh.known_hosts": str(tmp_path / "kh"), "history_after": 2 * SCRAPE_INTERVAL_S}
    )
    oplog = OpLog(tmp_path / "operations.jsonl")  # this test's own operation log
    app = FleetApp(settings, PrometheusSource(settings), config_file=None, operations=Operations(settings, oplog=oplog))
    try:
        await asyncio.to_thread(_put_config, broken)
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(lambda: _codes(app, BROKEN) == {"instance_nodename_mismatch"}, 60, "the broken row")
            fleet = next(s for s in app.screen_stack if isinstance(s, FleetScreen))
            # the feed has the row before the table shows it: wait for the row, and for `f` on the detail
            await _until(lambda: fleet.table.move_cursor_to(BROKEN), 10, "the row in the table")
            await pilot.press("enter")
            host_screen = app.screen
            assert isinstance(host_screen, HostScreen) and host_screen.host.instance == BROKEN
            await _until(lambda: bool(host_screen.check_action("host_action", ("host.fix",))), 10, "`f` offered")
            await pilot.press("f")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, PushFixDialog)
            hint = dialog.query_one("#fixpush-hint")
            await _until(lambda: NO_ADDRESS_HINT[:40] in str(hint.render()), 10, "the no-address hint")
            assert dialog.address.value == ""

            # a bad address: refused beside the field, nothing started
            await pilot.press(*"bad host", "enter")
            await pilot.pause()
            error = str(dialog.query_one("#fixpush-error").render())
            assert error and "bad host" in error, error
            assert dialog.plan_handle is None and not app.operations.handles

            # another machine's address: it connects (the host key is asked for first), finds the wrong nodename
            # and refuses to plan, changing nothing
            other = lab.host("web-01")
            dialog.address.value = ""
            await pilot.press(*other.address, "enter")
            await _until(lambda: isinstance(app.screen, HostKeyDialog), 30, "web-01's host-key dialog")
            await pilot.press("t")
            await _until(lambda: dialog.plan_handle is not None and not dialog.plan_handle.running, 30, "the plan")
            await pilot.pause()
            error = str(dialog.query_one("#fixpush-error").render())
            assert "Cannot plan the fix: render failed:" in error and "reports nodename 'web-01'" in error, error
            assert not dialog.planned and dialog.query_one("#fixpush-apply").disabled

            dialog.address.value = ""
            await pilot.press(*h.address, "enter")  # plan: connects, so the host key is asked for first
            await _until(lambda: isinstance(app.screen, HostKeyDialog), 30, "the host-key dialog")
            # named as the row being fixed, beside the address typed for it
            asked = str(app.screen.query_one("#hostkey-text").render())
            assert f"The host key of {BROKEN} ({h.address}:" in asked, asked
            await pilot.press("t")
            await _until(lambda: dialog.planned, 60, "the plan")
            await pilot.pause()
            assert str(dialog.query_one("#fixpush-error").render()) == ""
            shown = "\n".join(screen_lines(app))
            assert f'-    instance    = "{BROKEN}",' in shown and f'+    instance    = "{HOST}",' in shown
            assert lab_mod.host_exec(HOST, ["cat", CONFIG]).stdout == broken  # a plan changes nothing
            assert_nothing_raw(app)

            await pilot.press("a")  # Apply (focus is on it after the plan)
            await _until(lambda: dialog.handle is not None and not dialog.handle.running, 120, "the fix")
            await pilot.pause()
            result = dialog.handle.result if dialog.handle else None
            assert result is not None and result.ok, (result.failed_step, result.error) if result else None
            verify = next(e for e in result.events if e.step == "verify" and e.status.value == "done")
            took = float(verify.detail["seconds"])
            print(f"console push fix: verify waited {took:.1f}s")
            assert took <= 2 * SCRAPE_INTERVAL_S + POLL_SLACK_S
            verdict = str(dialog.query_one("#fixpush-verdict").render())
            assert "Fixed: Prometheus no longer reports instance_nodename_mismatch for cache-01 after" in verdict
            assert lab_mod.host_exec(HOST, ["cat", CONFIG]).stdout == original  # exactly that line, back
            # the log keeps the address next to the instance, for the next fix of this host
            last = oplog.read()[-1]
            assert (last.operation, last.outcome, last.host, last.instance) == ("fix", "ok", h.address, HOST)
            await pilot.press("escape")
            assert isinstance(app.screen, HostScreen)
    finally:
        if lab_mod.host_exec(HOST, ["cat", CONFIG]).stdout != lab_config:
            await asyncio.to_thread(_put_config, lab_config)
        # leave the lab as found: cache-01 without problems under the default history window too. The stopped
        # cache-push series would count as a second machine with its nodename for 30 s: forgotten instead
        await asyncio.to_thread(lab_mod.forget_series, f'{{instance="{BROKEN}"}}')
        from fleetui.adapters.prometheus import FleetReader, PrometheusClient

        async def cache_codes() -> set[str] | None:
            async with PrometheusClient(lab_settings) as client:
                snap = await FleetReader(client, lab_settings).snapshot()
            row = snap.by_instance().get(HOST)
            return {p.code for p in row.problems} if row else None

        deadline = time.monotonic() + 90
        while await cache_codes() != set():
            assert time.monotonic() < deadline, f"{HOST} did not come back without problems after the restore"
            await asyncio.sleep(1)
