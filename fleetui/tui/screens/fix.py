"""Fix a host's label problems from its detail screen (`f`): the fix as a plan first, applied on confirm.

The dialog lists the host's problems: those fleetui can fix (a pull host's target file: a drifted key renamed
to the schema's, a missing required label added) and those it cannot, each with what to do by hand. A missing
required label is asked for, with completion from the values the fleet already uses for it. `Plan` reads the
host's target file and shows the diff the fix makes to it (what the operation's plan step reads; nothing is
changed and no host is contacted); `Apply` runs it through the app's operations service (host lock, host-key
dialog, operation log): the target file is rewritten, Prometheus reloaded, and the fix waits until Prometheus
no longer reports the problem (the file is rolled back if it does not go away). The result says what the host
is now. The CLI twin is `fleetui fix`. A push host whose Alloy config can carry the fix opens
fleetui.tui.screens.fix_push instead (the app's `open_fix` picks).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Static

from fleetui.adapters.ssh import OnUnknownKey, SshError
from fleetui.adapters.targets import SUFFIX, TargetStoreError, open_store
from fleetui.config import Settings
from fleetui.deploy.diffs import unified
from fleetui.deploy.fix import FixOperation, FixTarget, fix_targets, policy_of
from fleetui.deploy.operation import Operation
from fleetui.domain.classify import drift_target
from fleetui.domain.fixes import FIXABLE, MANUAL, FixError, fix_target_json, fleet_values
from fleetui.domain.fleet import HostStatus
from fleetui.tui import safe
from fleetui.tui.actions import HostAction, HostActions, HostActionTarget
from fleetui.tui.feed import FleetFeed
from fleetui.tui.messages import OperationDone, OperationProgress
from fleetui.tui.operations import OperationHandle, Operations
from fleetui.tui.widgets.diff_text import diff_text
from fleetui.tui.widgets.operation_view import OperationView
from fleetui.tui.widgets.plain_input import PlainInput


def missing_labels(host: HostStatus, settings: Settings) -> list[str]:
    """Required labels the fix must add and has no value for: not on the host, and no drifted key stands for
    them (that one is renamed instead)."""
    if not any(p.code == "missing_required_label" for p in host.problems):
        return []
    policy = policy_of(settings)
    renamed = {drift_target(k, policy) for k in host.labels}
    return [r for r in policy.required_labels if not host.labels.get(r) and r not in renamed]


def fixable(host: HostStatus) -> bool:
    """The host has a problem `f` can offer: one fleetui fixes, or one it explains how to fix by hand."""
    return any(p.code in FIXABLE[host.mode] or p.code in MANUAL for p in host.problems)


class FixDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="fix.close", tooltip="Close; nothing changes unless you applied"),
        Binding("p", "plan", "Plan", id="fix.plan", tooltip="Show what the fix would change (changes nothing)"),
        Binding("a", "apply", "Apply", id="fix.apply", tooltip="Apply the planned fix"),
    ]
    HELP_TITLE = "fix label problems"
    DEFAULT_CSS = """
    FixDialog { align: center middle; background: $background 60%; }
    #fix-box {
        width: 90%; max-width: 110; height: auto; max-height: 95%;
        border: round $warning; background: $panel; padding: 0 1;
    }
    #fix-body { height: auto; max-height: 100%; }
    #fix-what, #fix-plan, .fix-ask { height: auto; }
    #fix-operation { height: auto; }
    #fix-operation Log { height: auto; max-height: 8; }
    #fix-buttons { height: auto; align-horizontal: right; dock: bottom; }
    #fix-buttons > Button { margin-left: 2; }
    """

    def __init__(self, operations: Operations, settings: Settings, feed: FleetFeed, host: HostStatus) -> None:
        super().__init__(id="fix")
        self.operations, self.settings, self.feed, self.host = operations, settings, feed, host
        self.missing = missing_labels(host, settings)
        self.targets: list[FixTarget] = []
        self.manual: dict[str, str] = {}
        self.planned = False
        self.handle: OperationHandle | None = None

    def compose(self) -> ComposeResult:
        hosts = self.feed.snapshot.hosts if self.feed.snapshot is not None else (self.host,)
        with Vertical(id="fix-box") as box:
            box.border_title = "Fix label problems"
            with VerticalScroll(id="fix-body"):
                yield Static(self._what(), id="fix-what")
                for i, label in enumerate(self.missing):
                    used = fleet_values(hosts, label)
                    hint = f" (in use: {', '.join(used[:5])}; → completes)" if used else ""
                    yield Static(safe.text(f"Value for the missing label {label!r}{hint}:"), classes="fix-ask")
                    yield PlainInput(
                        placeholder=used[0] if used else "value",
                        suggester=SuggestFromList(used, case_sensitive=True),
                        id=f"fix-value-{i}",
                        classes="fix-value",
                    )
                yield Static(id="fix-error", classes="field-error")
                yield Static(id="fix-plan")
                yield OperationView(id="fix-operation")
            with Horizontal(id="fix-buttons"):
                yield Button("Cancel (Esc)", id="fix-cancel")
                yield Button("Plan (p)", id="fix-plan-run", variant="primary")
                yield Button("Apply (a)", id="fix-apply", variant="warning", disabled=True)

    def on_mount(self) -> None:
        self.operations.subscribe(self)
        self.query_one(OperationView).display = False
        self.query_one("#fix-error", Static).display = False
        self.query_one("#fix-plan", Static).display = False
        values = list(self.query(".fix-value").results(PlainInput))
        if values:
            values[0].focus()
        else:
            self.query_one("#fix-plan-run", Button).focus()
            self.action_plan()

    def _what(self) -> Text:
        text = Text()
        text.append("Problems of ")
        text.append(safe.text(self.host.instance, limit=safe.LINE_LIMIT, style="bold"))
        text.append(f" ({self.host.mode.value} host):")
        for p in self.host.problems:
            auto = p.code in FIXABLE[self.host.mode]
            text.append("\n  ⚠ ")
            text.append(safe.text(p.code, style="bold"))
            text.append("  ")
            text.append(safe.text(p.message))
            text.append("\n    ")
            if auto:
                text.append("fleetui fixes this in the host's target file")
            else:
                text.append("by hand: ")
                text.append(safe.text(MANUAL.get(p.code, p.hint)))
        return text

    def _values(self) -> dict[str, str]:
        inputs = list(self.query(".fix-value").results(PlainInput))
        return {label: box.value.strip() for label, box in zip(self.missing, inputs, strict=True)}

    def _error(self, message: str) -> None:
        box = self.query_one("#fix-error", Static)
        box.update(safe.text(message, limit=safe.NOTIFY_LIMIT))
        box.display = bool(message)

    # --- the plan ---------------------------------------------------------------------------------------

    @on(Button.Pressed, "#fix-plan-run")
    @on(Input.Submitted, ".fix-value")
    def action_plan(self) -> None:
        if self.handle is not None:
            return
        empty = [label for label, v in self._values().items() if not v]
        if empty:
            self._error(f"Give a value for {', '.join(map(repr, empty))} first")
            return
        self._error("")
        self.planned = False
        self.query_one("#fix-apply", Button).disabled = True
        self._plan(self._values())

    @work(group="fix-plan", exclusive=True, exit_on_error=False)
    async def _plan(self, values: dict[str, str]) -> None:
        snap = self.feed.snapshot
        if snap is None:
            self._error("No fleet data yet: wait for the first refresh")
            return
        try:
            targets, manual = await fix_targets(
                self.settings, snap, [self.host.instance], values=values, on_unknown_key=self.operations.ask_host_key
            )
        except FixError as e:
            self._error(str(e))
            return
        self.targets, self.manual = targets, manual.get(self.host.instance, {})
        plan = self.query_one("#fix-plan", Static)
        if not targets:
            plan.update(Text("Nothing fleetui can fix here: see above for what to do by hand."))
            plan.display = True
            return
        target = targets[0]
        name = f"{self.settings['targets.dir']}/{target.file}{SUFFIX}"
        try:  # the plan step's own reading: the file as it is now, and what the fix makes of it
            async with open_store(self.settings, self.operations.ask_host_key) as store:
                old = await store.read(target.file)
            if old is None:
                raise FixError(f"{target.file}{SUFFIX} is gone from {self.settings['targets.dir']}")
            diff = unified(old, fix_target_json(old, target.plan), name)
        except (FixError, TargetStoreError, SshError, OSError) as e:
            self._error(f"Cannot plan the fix: {e}")
            return
        text = Text()
        text.append("Plan: ", "bold")
        text.append(safe.text(", ".join(targets[0].plan.codes)))
        # the SSH connection comes first and may ask to trust a host key: said here, so that does not surprise
        text.append(" — connect to ")
        text.append(safe.text(target.address))
        text.append(
            " over SSH to confirm the host, rewrite the target file, reload Prometheus, wait until it no longer "
            "reports them\n"
        )
        text.append_text(diff_text(diff))
        plan.update(text)
        plan.display = True
        self.planned = True
        apply = self.query_one("#fix-apply", Button)
        apply.disabled = False
        apply.focus()
        self.call_after_refresh(plan.scroll_visible, animate=False, top=True)

    def _make(self, on_unknown_key: OnUnknownKey) -> Operation:
        return FixOperation(self.targets[0], self.settings, on_unknown_key=on_unknown_key)

    # --- applying it ------------------------------------------------------------------------------------

    @on(Button.Pressed, "#fix-apply")
    def action_apply(self) -> None:
        if not self.planned or not self.targets or self.handle is not None:
            return
        self.handle = self.operations.start(self._make, title=f"fix {self.host.instance}")
        self.query_one("#fix-apply", Button).disabled = True
        self.query_one("#fix-plan-run", Button).disabled = True
        for box in self.query(".fix-value").results(PlainInput):
            box.disabled = True
        view = self.query_one(OperationView)
        view.clear()
        view.display = True

    @on(OperationProgress)
    def _progress(self, message: OperationProgress) -> None:
        if self.handle is not None and message.op_id == self.handle.id:
            self.query_one(OperationView).show_event(message.event)

    @on(OperationDone)
    def _done(self, message: OperationDone) -> None:
        if self.handle is None or message.op_id != self.handle.id:
            return
        view = self.query_one(OperationView)
        view.show_result(message.result)
        self.feed.refresh_now()
        self.query_one("#fix-cancel", Button).label = "Close (Esc)"
        self.query_one("#fix-cancel", Button).focus()
        body = self.query_one("#fix-body", VerticalScroll)
        self.call_after_refresh(body.scroll_end, animate=False)

    @on(Button.Pressed, "#fix-cancel")
    def action_close(self) -> None:
        if self.handle is not None and self.handle.running:
            self.notify("Fixing: wait for it to finish (or for its rollback)", severity="warning")
            return
        self.dismiss()


def register_fix(actions: HostActions, open_dialog: Any) -> None:
    """Add Fix to the host detail (key `f`), offered on hosts with a label problem."""

    def run(target: HostActionTarget) -> None:
        open_dialog(target.host)

    actions.register(
        HostAction(
            "host.fix",
            "f",
            "Fix",
            "Fix the host's label problems: show the fix as a plan, apply it on confirm",
            run,
            available=fixable,
        )
    )
