"""Step 4, Plan: what the enrollment would change — the Alloy config diff, the env file diff (secrets
masked), the target JSON diff, the install commands if Alloy is absent and the steps that would be skipped.
Nothing has changed yet. A host already enrolled exactly like this says so (re-enrolling it changes nothing)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from fleetui.deploy.events import OperationResult
from fleetui.tui import safe
from fleetui.tui.widgets.operation_view import OperationView


def unchanged(result: OperationResult) -> bool:
    """Nothing to install and no config, env or target change: applying would change nothing."""
    plan = result.summary.get("plan") or {}
    return (
        result.ok
        and not plan.get("install")
        and not any(plan.get(k) for k in ("config_diff", "env_diff", "target_diff"))
    )


class PlanStep(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="step-plan", classes="wizard-step")

    def compose(self) -> ComposeResult:
        yield Static("Planning… (reads the host, changes nothing)", id="plan-status", classes="step-intro")
        yield Static("", id="plan-command")
        yield OperationView(id="wizard-plan")

    def start(self, argv: list[str]) -> None:
        self.query_one(OperationView).clear()
        self.query_one("#plan-status", Static).update("Planning… (reads the host, changes nothing)")
        self.query_one("#plan-command", Static).update(
            safe.text("Same as: fleetui plan " + " ".join(argv), limit=None, style="dim")
        )

    def show_result(self, result: OperationResult) -> None:
        self.query_one(OperationView).show_result(result)
        status = self.query_one("#plan-status", Static)
        if not result.ok:
            status.update(Text("The plan failed: fix the input (Ctrl+B goes back) and plan again.", "bold"))
        elif unchanged(result):
            status.update(
                Text("Unchanged: the host is already enrolled exactly like this; applying changes nothing.", "bold")
            )
        else:
            status.update(Text("Plan ready — nothing has changed yet. Ctrl+N applies it.", "bold"))
