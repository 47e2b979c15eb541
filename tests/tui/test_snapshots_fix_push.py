"""Snapshots of a push host's fix plan in the console (`f` on the host detail) at 80×24 and 160×48: the problems,
the SSH address prefilled from the host's target file, and the Alloy config diff as the plan.

The fleet is a fixed domain value and the clock frozen. The plan itself is an `OperationResult` built here —
the dry run's result as PushFixOperation returns it (its summary's `config_diff`, the text
fleetui.domain.alloy_fix makes of the config below) — handed to the dialog's `show_plan`, because no host is
reachable in a snapshot. That the plan comes from a real host over SSH is the lab Pilot test's
(tests/tui/test_lab_fix_push.py).

Update only after looking at the report: `pytest tests/tui/test_snapshots_fix_push.py --snapshot-update`.
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

from fleetui.deploy.diffs import unified
from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.domain.alloy_fix import fix_alloy_config
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, HostTimes, Mode, Problem
from fleetui.tui.messages import OpenHost
from fleetui.tui.screens.fix_push import PushFixDialog

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
TARGETS = Path("/tmp/fleetui-snapshot-fixpush-targets")  # a fixed path (the app reads it for the address)
INSTANCE = "mac-pi"
ADDRESS = "10.0.0.52"
CONFIG = """// Written by hand
prometheus.scrape "node_exporter" {
  targets = [{
    __address__ = "127.0.0.1:9100",
    instance    = "mac-pi",
    job         = "node_exporter",
  }]
  forward_to = [prometheus.remote_write.platform.receiver]
}

prometheus.remote_write "platform" {
  endpoint {
    url = "https://prom.example/api/v1/write"
  }
}
"""


def push_fleet() -> FleetSnapshot:
    """A macOS push host that reports a friendly instance name and macOS memory names."""
    host = HostStatus(
        INSTANCE,
        HostState.UP,
        Mode.PUSH,
        labels={"instance": INSTANCE, "job": "node_exporter", "environment": "home", "maintainers": "ops"},
        problems=(
            Problem("instance_nodename_mismatch", "instance 'mac-pi' is not the nodename 'mac-studio'", "set it"),
            Problem("macos_memory_names", "macOS memory metric names without the Linux names", "rename them"),
        ),
        nodename="mac-studio",
    )
    base = fleet()
    times = HostTimes({**base.times.last_seen, INSTANCE: NOW - 8}, base.times.scrape_duration)
    return replace(base, hosts=tuple(sorted((*base.hosts, host), key=lambda h: h.instance)), times=times)


def plan_result() -> OperationResult:
    path = "/opt/homebrew/etc/alloy/config.alloy"
    new = fix_alloy_config(CONFIG, instance=INSTANCE, nodename="mac-studio", macos=True)
    codes = ["instance_nodename_mismatch", "macos_memory_names"]
    diff = unified(CONFIG, new, path)
    steps = ("connect", "detect", "render")
    return OperationResult(
        ADDRESS,
        "plan",
        True,
        False,
        1.2,
        tuple(StepEvent(ADDRESS, s, StepStatus.DONE, "", 0.4) for s in steps),
        summary={"plan": {"codes": codes, "config_diff": diff}, "config_diff": diff, "instance": INSTANCE},
    )


async def _fix_dialog(pilot: Pilot[Any]) -> PushFixDialog:
    """The push host's detail opened and `f` pressed: its fix dialog, once the address lookup is done."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.post_message(OpenHost(INSTANCE))
    await pilot.pause()
    await pilot.press("f")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()  # the address lookup
    dialog = pilot.app.screen
    assert isinstance(dialog, PushFixDialog)
    return dialog


@pytest.mark.parametrize("size", SIZES)
def test_push_fix_plan(snap_compare: Any, size: tuple[int, int]) -> None:
    shutil.rmtree(TARGETS, ignore_errors=True)
    TARGETS.mkdir(parents=True)
    group = [{"labels": {"instance": INSTANCE, "environment": "home", "maintainers": "ops"}, "targets": []}]
    (TARGETS / f"{ADDRESS}.json").write_text(json.dumps(group, indent=2, sort_keys=True) + "\n")

    async def run_before(pilot: Pilot[Any]) -> None:
        dialog = await _fix_dialog(pilot)
        assert dialog.address.value == ADDRESS
        dialog.show_plan(plan_result())
        await pilot.pause()

    app = make_app(FixedSource(push_fleet()), **{"targets.dir": str(TARGETS)})
    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_an_empty_address_is_refused_and_the_nodename_shown_as_an_example(tmp_path: Path) -> None:
    """Without a target file the address box starts empty; its grey text offers the nodename as an example
    (newcomers took a bare nodename for a value typed in), and Enter on the empty box says so, starting nothing."""
    app = make_app(FixedSource(push_fleet()), **{"targets.dir": str(tmp_path)})  # no target file in it
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _fix_dialog(pilot)
        assert dialog.address.value == "" and dialog.address.placeholder == "e.g. mac-studio or 10.0.0.5"
        await pilot.press("enter")
        await pilot.pause()
        error = str(dialog.query_one("#fixpush-error").render())
        assert "SSH address or ssh-config alias first (the grey text is only an example)" in error, error
        assert dialog.plan_handle is None and not app.operations.handles
