"""One operation as it runs: a line per step event, then the result — what the host is now, and for a plan,
what enroll would change (install commands, config / env / target diffs).

Every line is outside text (messages quote the host's own output, diffs hold files read from the host), so each
goes through fleetui.tui.safe. The log is Textual's `Log`: plain strings, only the visible lines rendered.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static

from fleetui.deploy.decisions import host_sentence
from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.tui import safe

SYMBOL = {
    StepStatus.DONE: "ok  ",
    StepStatus.SKIPPED: "skip",
    StepStatus.FAILED: "FAIL",
    StepStatus.PLANNED: "plan",
    StepStatus.PROGRESS: "  ..",
}


def event_line(event: StepEvent) -> str | None:
    """`plan render    would write 2 files (0.12s)`; None for `started` (the next line says how it went)."""
    if event.status is StepStatus.STARTED:
        return None
    line = f"{SYMBOL[event.status]} {event.step:<9} {safe.visible(event.message, tab_size=4)}"
    if event.status is not StepStatus.PROGRESS:
        line += f" ({event.elapsed_s:.2f}s)"
    return line


def _named(result: OperationResult) -> str:
    """The host as the operator knows it: a fix (or its plan) is for a fleet row, dialled at an address (or one
    typed for a push host), so its verdict names the row beside the address. Only fixes name a row in their
    summary (`instance`, or the push fix's plan's)."""
    host = result.host
    if result.operation not in ("fix", "plan"):
        return host
    plan = result.summary.get("plan")
    row = result.summary.get("instance") or (plan.get("instance") if isinstance(plan, dict) else None)
    return f"{row} ({host})" if isinstance(row, str) and row and row != host else host


def result_text(result: OperationResult) -> Text:
    """The closing lines: verdict, the host's state as read back, and a plan's changes."""
    text = Text()
    host = safe.text(_named(result), limit=safe.LINE_LIMIT, style="bold")
    if result.ok and result.operation == "plan":
        text.append("Plan for ")
        text.append(host)
        text.append(" ready: nothing was changed", "bold")
    elif result.ok:
        text.append(f"{result.operation.capitalize()} of ")
        text.append(host)
        text.append(" succeeded", "bold")
        text.append(f" — the host is {result.host_state}")
    else:
        text.append(f"{result.operation.capitalize()} of ")
        text.append(host)
        text.append(" failed", "bold")
        text.append(f" at {result.failed_step or 'an unknown step'}: ")
        text.append(safe.text(result.error or "no reason given", limit=safe.NOTIFY_LIMIT))
        text.append("\n")
        text.append(safe.text(host_sentence(result.host_state, result.changes)))
    plan = result.summary.get("plan") or {}
    install = plan.get("install") or []
    if install:
        text.append("\n\nWould install Alloy with:", "bold")
        _lines(text, install, indent="  ")
    for key, title in (
        ("config_diff", "Alloy config"),
        ("env_diff", "environment file (secrets masked)"),
        ("target_diff", "Prometheus target file"),
    ):
        if key in plan:
            diff = str(plan.get(key) or "")
            text.append(f"\n\n{title}: ", "bold")
            text.append("changes" if diff else "unchanged")
            _lines(text, diff.splitlines())
    skipped = [e.step for e in result.events if e.status is StepStatus.SKIPPED]
    if skipped:
        text.append("\n\nSteps that would be skipped (unchanged): " if result.operation == "plan" else "\n\nSkipped: ")
        text.append(", ".join(skipped))
    return text


def _lines(text: Text, lines: Iterable[object], indent: str = "") -> None:
    for line in lines:
        text.append("\n" + indent)
        text.append(safe.text(str(line), tab_size=4))  # file contents: a tab is layout


class OperationView(Vertical):
    """`show_event` for each event as it arrives, `show_result` once at the end."""

    def compose(self) -> ComposeResult:
        yield Log(id="operation-log", max_lines=5000)
        yield Static(id="operation-result")

    def on_mount(self) -> None:
        self.query_one("#operation-result", Static).display = False

    def clear(self) -> None:
        self.query_one(Log).clear()
        self.query_one("#operation-result", Static).display = False

    def show_event(self, event: StepEvent) -> None:
        line = event_line(event)
        if line is None:
            return
        log = self.query_one(Log)
        # a wait says the same thing at every poll ("waiting for Prometheus to see the new labels"): once is
        # enough, and the step's closing line gives how long it took
        if event.status is StepStatus.PROGRESS and log.lines and log.lines[-1] == line:
            return
        log.write_line(line)

    def show_result(self, result: OperationResult) -> None:
        out = self.query_one("#operation-result", Static)
        out.update(result_text(result))
        out.set_class(not result.ok, "-failed")
        out.display = True

    @property
    def lines(self) -> list[str]:
        return list(self.query_one(Log).lines)


GLYPH = {
    StepStatus.STARTED: ("◌", "bold"),
    StepStatus.DONE: ("✔", "green"),
    StepStatus.SKIPPED: ("↷", "dim"),
    StepStatus.PLANNED: ("·", ""),
    StepStatus.FAILED: ("✖", "bold red"),
}


class StepList(Static):
    """One line per step — glyph, name, elapsed, message — updated in place as events arrive (a step's line
    changes from running to its outcome). Progress lines do not add rows: they go to the operation's log.
    Elapsed is the runner's own measure, shown once the step has ended, so a list of fixed events renders
    the same every time."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._steps: dict[str, StepEvent] = {}

    def clear(self) -> None:
        self._steps.clear()
        self.update("")

    def show_event(self, event: StepEvent) -> None:
        if event.status is StepStatus.PROGRESS:
            if event.step in self._steps and self._steps[event.step].status is StepStatus.STARTED:
                self._steps[event.step] = StepEvent(
                    event.host, event.step, StepStatus.STARTED, event.message, event.elapsed_s, {}
                )
                self.update(self.render_steps())
            return
        self._steps[event.step] = event
        self.update(self.render_steps())

    def render_steps(self) -> Text:
        text = Text()
        for i, ev in enumerate(self._steps.values()):
            glyph, style = GLYPH.get(ev.status, ("?", ""))
            if i:
                text.append("\n")
            text.append(f" {glyph} ", style)
            text.append(f"{ev.step:<9}", "bold" if ev.status is StepStatus.STARTED else "")
            elapsed = "running" if ev.status is StepStatus.STARTED else f"{ev.elapsed_s:5.1f}s"
            text.append(f" {elapsed:>7}  ", "dim")
            text.append(safe.text(ev.message, limit=safe.LINE_LIMIT, tab_size=4))
        return text

    @property
    def steps(self) -> dict[str, StepEvent]:
        return dict(self._steps)
