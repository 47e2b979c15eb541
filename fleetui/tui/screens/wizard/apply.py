"""Step 5, Apply: the enrollment for real — a live list of steps (status glyph, elapsed, message), the remote
output in a collapsible pane, and at the end either "host is up in Prometheus after N s" (with a key that jumps
to its fleet row) or the failed step's full message and what the host is now, read back, with retry and edit.
Esc while it runs asks first, then cancels: the runner rolls the host back safely."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Log, Static

from fleetui.deploy.decisions import host_sentence
from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.tui import safe
from fleetui.tui.widgets.operation_view import StepList, event_line


def outcome_text(result: OperationResult) -> Text:
    text = Text()
    if result.ok:
        text.append("✔ ", "green")
        text.append(safe.text(result.host, limit=safe.LINE_LIMIT, style="bold"))
        verify = next((e for e in result.events if e.step == "verify"), None)
        if verify is not None and verify.status is StepStatus.SKIPPED:
            text.append(" was already enrolled like this: nothing changed; Prometheus reports it up.")
        else:
            text.append(f" is up in Prometheus after {result.elapsed_s:.0f} s.")
        text.append("\nf: show it in the fleet   Esc: close")
        return text
    text.append("✖ Enrollment failed at ", "bold red")
    text.append(safe.text(result.failed_step or "an unknown step", style="bold"))
    text.append(":\n")
    text.append(safe.text(result.error or "no reason given", limit=None))
    text.append("\n\nThe host now: ", "bold")
    text.append(safe.text(host_sentence(result.host_state, result.changes), limit=None))
    for change in result.changes:
        text.append("\n  ")
        text.append(safe.text(f"{change.what}: {change.state.value} — {change.note}", limit=None))
    text.append("\n\nCtrl+R: retry   Ctrl+E: edit (back to What to collect)   Esc: close")
    return text


class ApplyStep(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="step-apply", classes="wizard-step")

    def compose(self) -> ComposeResult:
        yield Static("Applying…", id="apply-status", classes="step-intro")
        yield StepList(id="apply-steps")
        with Collapsible(title="Remote output", collapsed=True, id="apply-output"):
            yield Log(id="apply-log", max_lines=5000)
        yield Static(id="apply-outcome")

    def start(self, address: str) -> None:
        self.query_one(StepList).clear()
        self.query_one("#apply-log", Log).clear()
        self.query_one("#apply-outcome", Static).display = False
        self.query_one("#apply-status", Static).update(
            safe.text(f"Enrolling {address} — Esc asks, then cancels and rolls back", limit=safe.LINE_LIMIT)
        )

    def show_event(self, event: StepEvent) -> None:
        self.query_one(StepList).show_event(event)
        line = event_line(event)
        if line is not None:
            self.query_one("#apply-log", Log).write_line(line)

    def show_result(self, result: OperationResult) -> None:
        out = self.query_one("#apply-outcome", Static)
        out.update(outcome_text(result))
        out.set_class(not result.ok, "-failed")
        out.display = True
        self.query_one("#apply-status", Static).update(
            "Done." if result.ok else ("Cancelled." if result.error == "cancelled" else "Failed.")
        )
        out.scroll_visible()
