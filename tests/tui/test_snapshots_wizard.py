"""Snapshots of the enrollment wizard's five sections at 80×24 and 160×48.

Connection and What to collect are typed into as an operator does. Connect, Plan and Apply show what a run
reported, so here they are handed fixed domain values (the facts a probe reads, a plan's result, the step events
of an apply with fixed elapsed times) — the same methods the runs' messages call — and each run draws the same
screen. The runs themselves are tested against the lab in test_wizard_lab.py.

Update only after looking at the report: `pytest tests/tui/test_snapshots_wizard.py --snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest
from fleet_fixture import make_app
from textual.pilot import Pilot
from wizard_fixture import open_wizard

from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.tui.screens.wizard import WizardScreen
from fleetui.tui.screens.wizard.apply import ApplyStep
from fleetui.tui.screens.wizard.collect import CollectStep
from fleetui.tui.screens.wizard.connect import ConnectStep
from fleetui.tui.screens.wizard.plan_step import PlanStep
from fleetui.tui.widgets.operation_view import OperationView, StepList

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
HOST = "10.0.0.9"
FACTS = {
    "address": HOST,
    "route": f"root@{HOST}:22",
    "os": "debian",
    "version": "12",
    "family": "debian",
    "arch": "amd64",
    "nodename": "db-07",
    "alloy": None,
    "sudo": "root",
}
STEPS = [
    ("connect", StepStatus.DONE, f"connected to root@{HOST}:22", 0.21),
    ("detect", StepStatus.DONE, "debian 12 (debian, amd64), nodename db-07", 0.35),
    ("install", StepStatus.DONE, "installed alloy v1.10.2", 6.12),
    ("render", StepStatus.DONE, "rendered config.alloy and the target file; offline check passed", 0.05),
    ("upload", StepStatus.DONE, "staged 2 files", 0.18),
    ("validate", StepStatus.DONE, "alloy validate passed on the host", 0.44),
    ("swap", StepStatus.DONE, "new files in place (old ones kept as .fleetui-bak)", 0.31),
    ("restart", StepStatus.DONE, "restarted Alloy", 0.52),
    ("ready", StepStatus.DONE, "Alloy is ready and serves /metrics", 1.03),
    ("target", StepStatus.DONE, "wrote 10.0.0.9.json in /etc/prometheus/targets", 0.01),
    ("reload", StepStatus.DONE, "Prometheus reloaded", 0.02),
    ("verify", StepStatus.DONE, "Prometheus reports the host up after 4.1s (up == 1)", 4.1),
]
PLAN = {
    "install": ["apt-get update", "apt-get install -y alloy"],
    "config_diff": '--- /etc/alloy/config.alloy\n+++ new\n@@ -0,0 +1,3 @@\n+prometheus.exporter.unix "db_07" {\n+}\n+',
    "env_diff": "",
    "target_diff": '--- 10.0.0.9.json\n+++ new\n@@ -0,0 +1 @@\n+[{"targets": ["10.0.0.9:12345"]}]',
}


def _events() -> list[StepEvent]:
    return [StepEvent(HOST, step, status, msg, el) for step, status, msg, el in STEPS]


async def _to(pilot: Pilot[Any], wizard: WizardScreen, step: int) -> None:
    """Fill the sections before `step` as a finished run would have, then show `step`."""
    wizard.form.address = HOST
    wizard.form.nodename = "db-07"
    wizard.query_one(ConnectStep).show_facts(FACTS)
    for ev in _events()[:2]:
        wizard.query_one("#connect-steps", StepList).show_event(ev)
    wizard._go(step)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_wizard_connection(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_wizard(pilot)
        await pilot.press(*HOST, "tab", *"x")  # a port that is not a number: its error beside it
        await pilot.press("ctrl+n")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_wizard_connect(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        wizard = await open_wizard(pilot)
        await _to(pilot, wizard, 1)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_wizard_collect_with_a_bad_label(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        wizard = await open_wizard(pilot)
        await _to(pilot, wizard, 2)
        wizard.query_one(CollectStep).show_instance()
        wizard.query_one("#label-environment").focus()
        await pilot.press(*"prod ")  # trailing space: refused beside the field
        await pilot.pause()

    app = make_app(**{"schema.required_labels": ["environment", "maintainers"]})
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_wizard_plan(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        wizard = await open_wizard(pilot)
        await _to(pilot, wizard, 3)
        events = [StepEvent(HOST, s, StepStatus.DONE, m, el) for s, _, m, el in STEPS[:2]] + [
            StepEvent(HOST, step, StepStatus.PLANNED, f"would {step}", 0.1)
            for step in ("install", "render", "upload", "validate", "swap", "restart", "ready", "target", "reload")
        ]
        plan_step = wizard.query_one(PlanStep)
        plan_step.start([HOST, "--mode", "pull", "--label=environment=prod", "--label=maintainers=dba"])
        view = wizard.query_one("#wizard-plan", OperationView)
        for ev in events:
            view.show_event(ev)
        result = OperationResult(HOST, "plan", True, False, 1.5, tuple(events), summary={"plan": PLAN})
        plan_step.show_result(result)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_wizard_apply_running_and_done(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        wizard = await open_wizard(pilot)
        await _to(pilot, wizard, 4)
        apply = wizard.query_one(ApplyStep)
        apply.start(HOST)
        events = _events()
        for ev in events:
            apply.show_event(StepEvent(HOST, ev.step, StepStatus.STARTED))
            apply.show_event(ev)
        result = OperationResult(
            HOST, "enroll", True, True, 14.2, tuple(events), summary={"nodename": "db-07"}, host_state="changed"
        )
        apply.show_result(result)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)
