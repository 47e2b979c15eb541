"""Fix a push host's label problems from its detail screen (`f`): the Alloy config diff as the plan, on confirm
the edit applied with enrollment's on-host safety.

A push host's `instance`, `job` and metric names are set in its own Alloy config, so the fix needs an SSH
connection, and fleetui has no scrape address for it: the dialog asks where to reach it, prefilled with what
fleetui knows (its target file, else the operation log's last enroll/fix of it) or left empty with a hint. The
address is checked before anything connects, and a bad one is named beside the field. `Plan` runs the fix as a
dry run through the operations service (host lock, host-key dialog for an unknown key, operation log): it reads
the config and shows the diff, changing nothing. `Apply` runs it for real: validate, swap, restart, ready, then
wait until Prometheus no longer reports the codes (rolled back when they do not go away). The result says how
long that took, or which step failed and what the host is now. The CLI twin is
`fleetui fix INSTANCE --address SSH-ADDRESS`.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from fleetui.adapters.oplog import OpLog, OpRecord
from fleetui.adapters.ssh import OnUnknownKey, SshError
from fleetui.adapters.targets import HistoryEntry, TargetStoreError, open_store
from fleetui.config import Settings
from fleetui.deploy.decisions import host_sentence
from fleetui.deploy.events import OperationResult, StepStatus
from fleetui.deploy.fix_push import PushFixOperation, PushFixTarget, push_fix_targets
from fleetui.deploy.operation import Operation
from fleetui.deploy.push_address import address_from
from fleetui.domain.alloy_fix import PUSH_FIXABLE
from fleetui.domain.fixes import MANUAL, FixError
from fleetui.domain.fleet import HostStatus, Mode
from fleetui.domain.host import InputError, check_address
from fleetui.tui import safe
from fleetui.tui.feed import FleetFeed
from fleetui.tui.messages import OperationDone, OperationProgress
from fleetui.tui.operations import OperationHandle, Operations
from fleetui.tui.widgets.diff_text import diff_text
from fleetui.tui.widgets.operation_view import OperationView
from fleetui.tui.widgets.plain_input import PlainInput

NO_ADDRESS_HINT = (
    "fleetui has no record of where this host is reachable: type its SSH address or ssh-config alias "
    "(user@ and :port are set in `ssh.*` or your ssh config)"
)


def push_codes(host: HostStatus) -> list[str]:
    """The host's problem codes the push fix handles (empty for a pull host)."""
    if host.mode is not Mode.PUSH:
        return []
    return [p.code for p in host.problems if p.code in PUSH_FIXABLE]


def verdict(result: OperationResult, new_instance: str) -> Text:
    """The closing line of an applied fix: how long until Prometheus stopped reporting it, or what failed and
    what the host is now."""
    text = Text()
    if result.ok:
        verify = next((e for e in result.events if e.step == "verify" and e.status is StepStatus.DONE), None)
        took = float(verify.detail.get("seconds", verify.elapsed_s)) if verify else result.elapsed_s
        codes = ", ".join((result.summary.get("plan") or {}).get("codes", []))
        text.append("Fixed: ", "bold green")
        text.append(safe.text(f"Prometheus no longer reports {codes} for {new_instance} after {took:.0f} s"))
        return text
    text.append("Not fixed: ", "bold red")
    text.append(safe.text(f"{result.failed_step or 'an unknown step'} failed: {result.error or 'no reason given'}"))
    text.append("\n")
    text.append(safe.text(host_sentence(result.host_state, result.changes)))
    return text


class PushFixDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="fixpush.close", tooltip="Close; nothing changes unless you applied"),
        Binding("p", "plan", "Plan", id="fixpush.plan", tooltip="Read the host's config and show the diff"),
        Binding("a", "apply", "Apply", id="fixpush.apply", tooltip="Apply the planned fix"),
    ]
    HELP_TITLE = "fix a push host's label problems"
    DEFAULT_CSS = """
    PushFixDialog { align: center middle; background: $background 60%; }
    #fixpush-box {
        width: 90%; max-width: 110; height: auto; max-height: 95%;
        border: round $warning; background: $panel; padding: 0 1;
    }
    #fixpush-body { height: auto; max-height: 100%; }
    #fixpush-what, #fixpush-plan, #fixpush-hint, #fixpush-verdict { height: auto; }
    #fixpush-hint { color: $text-muted; }
    #fixpush-operation { height: auto; }
    #fixpush-operation Log { height: auto; max-height: 8; }
    #fixpush-buttons { height: auto; align-horizontal: right; dock: bottom; }
    #fixpush-buttons > Button { margin-left: 2; }
    """

    def __init__(
        self,
        operations: Operations,
        settings: Settings,
        feed: FleetFeed,
        host: HostStatus,
        *,
        oplog: OpLog | None = None,
    ) -> None:
        super().__init__(id="fix")
        self.operations, self.settings, self.feed, self.host = operations, settings, feed, host
        self.oplog = oplog
        self.codes = push_codes(host)
        self.target: PushFixTarget | None = None
        self.planned = False
        self.plan_handle: OperationHandle | None = None
        self.handle: OperationHandle | None = None

    @property
    def address(self) -> PlainInput:
        return self.query_one("#fixpush-address", PlainInput)

    def compose(self) -> ComposeResult:
        with Vertical(id="fixpush-box") as box:
            box.border_title = "Fix label problems"
            with VerticalScroll(id="fixpush-body"):
                yield Static(self._what(), id="fixpush-what")
                yield Label("SSH address of the host (address or ssh-config alias; Enter plans):")
                # "e.g.": the nodename is only a guess at an address, and grey text alone read as a value typed in
                example = f"e.g. {self.host.nodename} or 10.0.0.5" if self.host.nodename else "e.g. 10.0.0.5 or mac-01"
                yield PlainInput(placeholder=example, id="fixpush-address")
                yield Static(id="fixpush-error", classes="field-error")
                yield Static(Text("Looking up where fleetui last reached it…"), id="fixpush-hint")
                yield Static(id="fixpush-plan")
                yield OperationView(id="fixpush-operation")
                yield Static(id="fixpush-verdict")
            with Horizontal(id="fixpush-buttons"):
                yield Button("Cancel (Esc)", id="fixpush-cancel")
                yield Button("Plan (p)", id="fixpush-plan-run", variant="primary")
                yield Button("Apply (a)", id="fixpush-apply", variant="warning", disabled=True)

    def on_mount(self) -> None:
        self.operations.subscribe(self)
        for name in ("#fixpush-error", "#fixpush-plan", "#fixpush-verdict"):
            self.query_one(name, Static).display = False
        self.query_one(OperationView).display = False
        self.address.focus()
        self._prefill()

    def _what(self) -> Text:
        text = Text()
        text.append("Problems of ")
        text.append(safe.text(self.host.instance, limit=safe.LINE_LIMIT, style="bold"))
        text.append(" (push host):")
        for p in self.host.problems:
            text.append("\n  ⚠ ")
            text.append(safe.text(p.code, style="bold"))
            text.append("  ")
            text.append(safe.text(p.message))
            text.append("\n    ")
            if p.code in PUSH_FIXABLE:
                text.append("fleetui fixes this in the host's own Alloy config (only the lines involved)")
            else:
                text.append("by hand: ")
                text.append(safe.text(MANUAL.get(p.code, p.hint)))
        return text

    def _hint(self, message: str) -> None:
        self.query_one("#fixpush-hint", Static).update(safe.text(message, limit=safe.NOTIFY_LIMIT))

    def _error(self, message: str) -> None:
        box = self.query_one("#fixpush-error", Static)
        box.update(safe.text(message, limit=safe.NOTIFY_LIMIT))
        box.display = bool(message)

    @work(group="fixpush-prefill", exclusive=True, exit_on_error=False)
    async def _prefill(self) -> None:
        """Fill the address from the target file or the operation log, unless the operator typed one already."""
        entries: list[HistoryEntry] = []
        try:
            async with open_store(self.settings, self.operations.ask_host_key) as store:
                entries = list(await store.history())
        except (TargetStoreError, SshError, OSError):
            pass
        try:
            records: list[OpRecord] = await asyncio.to_thread((self.oplog or self.operations.oplog).read)
        except OSError:
            records = []
        found = address_from(self.host, entries, records)
        if found is None:
            self._hint(NO_ADDRESS_HINT)
            return
        address, where = found
        if not self.address.value:
            self.address.value = address
        self._hint(f"{address}: from {where}")

    # --- the plan ---------------------------------------------------------------------------------------

    def _checked_target(self) -> PushFixTarget | None:
        """The fix for the typed address, or None with the reason beside the field (nothing connected)."""
        address = self.address.value.strip()
        if not address:
            self._error("Type the host's SSH address or ssh-config alias first (the grey text is only an example)")
            return None
        try:
            check_address(address)
        except InputError as e:
            self._error(str(e))
            return None
        snap = self.feed.snapshot
        if snap is None:
            self._error("No fleet data yet: wait for the first refresh")
            return None
        todo = {c: "" for c in self.codes}
        try:
            targets, _ = push_fix_targets(snap, {self.host.instance: todo}, {self.host.instance: address})
        except FixError as e:
            self._error(str(e))
            return None
        if not targets:
            self._error("Nothing fleetui can fix on this host: see above for what to do by hand")
            return None
        self._error("")
        return targets[0]

    @on(Button.Pressed, "#fixpush-plan-run")
    @on(Input.Submitted, "#fixpush-address")
    def action_plan(self) -> None:
        if self.handle is not None or (self.plan_handle is not None and self.plan_handle.running):
            return
        target = self._checked_target()
        if target is None:
            return
        self.target, self.planned = target, False
        self.query_one("#fixpush-apply", Button).disabled = True
        plan = self.query_one("#fixpush-plan", Static)
        plan.update(safe.text(f"Planning: reading the Alloy config on {target.address}…"))
        plan.display = True
        self.plan_handle = self.operations.start(self._make, dry_run=True, title=f"plan fix {self.host.instance}")

    @on(Input.Changed, "#fixpush-address")
    def _address_changed(self, event: Input.Changed) -> None:
        """A plan is for the address it connected to: another address needs its own plan before Apply."""
        if self.planned and self.target is not None and event.value.strip() != self.target.address:
            self.planned = False
            self.query_one("#fixpush-apply", Button).disabled = True
            self.query_one("#fixpush-plan", Static).display = False

    def _make(self, on_unknown_key: OnUnknownKey) -> Operation:
        assert self.target is not None
        return PushFixOperation(self.target, self.settings, on_unknown_key=on_unknown_key)

    def show_plan(self, result: OperationResult) -> None:
        """The dry run's outcome: the config diff (Apply enabled), or why it could not be planned."""
        plan = self.query_one("#fixpush-plan", Static)
        if not result.ok:
            self._error(f"Cannot plan the fix: {result.failed_step or 'a step'} failed: {result.error or '?'}")
            plan.display = False
            return
        codes = ", ".join((result.summary.get("plan") or {}).get("codes", []))
        diff = str(result.summary.get("config_diff") or "")
        text = Text()
        text.append("Plan: ", "bold")
        text.append(safe.text(codes))
        text.append(" — edit the Alloy config, validate, restart, wait until Prometheus no longer reports them\n")
        text.append_text(diff_text(diff))
        plan.update(text)
        plan.display = True
        self.planned = True
        apply = self.query_one("#fixpush-apply", Button)
        apply.disabled = False
        apply.focus()
        self.call_after_refresh(plan.scroll_visible, animate=False, top=True)

    # --- applying it ------------------------------------------------------------------------------------

    @on(Button.Pressed, "#fixpush-apply")
    def action_apply(self) -> None:
        if not self.planned or self.target is None or self.handle is not None:
            return
        self.handle = self.operations.start(self._make, title=f"fix {self.host.instance}")
        for name in ("#fixpush-apply", "#fixpush-plan-run"):
            self.query_one(name, Button).disabled = True
        self.address.disabled = True
        view = self.query_one(OperationView)
        view.clear()
        view.display = True

    @on(OperationProgress)
    def _progress(self, message: OperationProgress) -> None:
        if self.handle is not None and message.op_id == self.handle.id:
            self.query_one(OperationView).show_event(message.event)

    @on(OperationDone)
    def _done(self, message: OperationDone) -> None:
        if self.plan_handle is not None and message.op_id == self.plan_handle.id and self.handle is None:
            self.show_plan(message.result)
            return
        if self.handle is None or message.op_id != self.handle.id:
            return
        self.query_one(OperationView).show_result(message.result)
        self.show_verdict(message.result)
        self.feed.refresh_now()

    def show_verdict(self, result: OperationResult) -> None:
        new_instance = self.host.nodename if "instance_nodename_mismatch" in self.codes else None
        box = self.query_one("#fixpush-verdict", Static)
        box.update(verdict(result, new_instance or self.host.instance))
        box.display = True
        self.query_one("#fixpush-cancel", Button).label = "Close (Esc)"
        self.query_one("#fixpush-cancel", Button).focus()
        body = self.query_one("#fixpush-body", VerticalScroll)
        self.call_after_refresh(body.scroll_end, animate=False)

    @on(Button.Pressed, "#fixpush-cancel")
    def action_close(self) -> None:
        running = [h for h in (self.plan_handle, self.handle) if h is not None and h.running]
        if running:
            self.notify("Fixing: wait for it to finish (or for its rollback)", severity="warning")
            return
        self.dismiss()
