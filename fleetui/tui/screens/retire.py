"""Retire a host from its detail screen: a dialog that says exactly what will happen, then does it.

Before anything is offered, the dialog finds the host's active target file (by its `instance` label, else by
its scrape address) and names it: the file is renamed `<file>.deleted.<UTC timestamp>` (the targets directory
is the audit trail), Prometheus is reloaded, and — only if ticked — Alloy is stopped and disabled over SSH.
For a host whose `environment` is one of CONFIRM_ENVIRONMENTS the operator types the host's name to confirm.
The run goes through the app's operations service (locks, host-key dialog, operation log); once the file is
renamed the feed is told, so the host shows as retired and not `up` on the next refresh while Prometheus still
holds its recent samples.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from fleetui.adapters.ssh import OnUnknownKey, SshError
from fleetui.adapters.targets import SUFFIX, HistoryEntry, TargetStoreError, open_store
from fleetui.config import ConfigError, Settings
from fleetui.deploy.operation import Operation
from fleetui.deploy.retire import retire_operation
from fleetui.domain.fleet import HostStatus
from fleetui.domain.host import InputError, InputErrors, build_request
from fleetui.tui import safe
from fleetui.tui.actions import HostAction, HostActions, HostActionTarget
from fleetui.tui.feed import FleetFeed
from fleetui.tui.messages import OperationDone, OperationProgress
from fleetui.tui.operations import OperationHandle, Operations
from fleetui.tui.widgets.operation_view import OperationView
from fleetui.tui.widgets.plain_input import PlainInput

CONFIRM_ENVIRONMENTS = ("production",)  # hosts whose name must be typed to retire them


def needs_typed_confirmation(host: HostStatus, environments: tuple[str, ...] = CONFIRM_ENVIRONMENTS) -> bool:
    return host.labels.get("environment", "") in environments


def find_target(entries: list[HistoryEntry], host: HostStatus) -> HistoryEntry | None:
    """The host's active target file: the one labelling it with its instance, else the one scraping its
    address. Pure, so the rule is tested without a targets directory."""
    active = [e for e in entries if e.state == "active"]
    for e in active:
        if e.labels.get("instance") == host.instance:
            return e
    netloc = urllib.parse.urlsplit(host.scrape_url).netloc if host.scrape_url else host.instance
    return next((e for e in active if netloc in e.targets), None)


def target_address(entry: HistoryEntry) -> str:
    """The host's address as its target file has it (`10.0.0.5:12345` -> `10.0.0.5`, `[::1]:1` -> `::1`)."""
    target = entry.targets[0] if entry.targets else entry.name
    host = urllib.parse.urlsplit(f"//{target}").hostname
    return host or entry.name


class RetireDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="retire.close", tooltip="Close; nothing is retired unless you did"),
    ]
    HELP_TITLE = "retire a host"
    DEFAULT_CSS = """
    RetireDialog { align: center middle; background: $background 60%; }
    #retire-box {
        width: 90%; max-width: 110; height: auto; max-height: 95%;
        border: round $error; background: $panel; padding: 0 1;
    }
    #retire-body { height: auto; max-height: 100%; }
    #retire-what, #retire-confirm-label { height: auto; }
    #retire-operation { height: auto; }
    #retire-operation Log { height: auto; max-height: 8; }
    #retire-buttons { height: auto; align-horizontal: right; }
    #retire-buttons > Button { margin-left: 2; }
    """

    def __init__(self, operations: Operations, settings: Settings, feed: FleetFeed, host: HostStatus) -> None:
        super().__init__(id="retire")
        self.operations, self.settings, self.feed, self.host = operations, settings, feed, host
        self.entry: HistoryEntry | None = None
        self.location = str(settings["targets.dir"])
        self.looked_up = False
        self.handle: OperationHandle | None = None
        self.confirm = needs_typed_confirmation(host)

    def compose(self) -> ComposeResult:
        with Vertical(id="retire-box") as box:
            box.border_title = "Retire a host"
            with VerticalScroll(id="retire-body"):
                yield Static(self._what(), id="retire-what")
                yield Checkbox("Also stop and disable Alloy on the host (connects over SSH)", id="retire-stop")
                if self.confirm:
                    yield Static(
                        safe.text(
                            f"This host is in environment {self.host.labels.get('environment')!r}: "
                            f"type its name {self.host.instance!r} to confirm."
                        ),
                        id="retire-confirm-label",
                    )
                    # not the name alone: shown dim in the empty box, it read as already typed
                    yield PlainInput(placeholder=f"type {self.host.instance} here", id="retire-confirm")
                yield Static(id="retire-error", classes="field-error")
                yield OperationView(id="retire-operation")
            with Horizontal(id="retire-buttons"):
                yield Button("Cancel (Esc)", id="retire-cancel")
                yield Button("Retire", id="retire-run", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.operations.subscribe(self)
        self.query_one(OperationView).display = False
        self.query_one("#retire-error", Static).display = False
        # a host whose name must be typed: the box has the keys from the start (the dialog says to type it, and
        # Enter does nothing until the whole name is there); with Cancel focused, the name went nowhere and the
        # Enter after it cancelled. Any other host: Cancel, so a stray Enter retires nothing
        if self.confirm:
            self.query_one("#retire-confirm", Input).focus()
        else:
            self.query_one("#retire-cancel", Button).focus()
        self._look_up()

    # --- what will happen -------------------------------------------------------------------------------

    def _what(self) -> Text:
        text = Text()
        text.append("Retire ")
        text.append(safe.text(self.host.instance, limit=safe.LINE_LIMIT, style="bold"))
        text.append(":\n")
        if self.entry is None:
            where = f" in {self.location}"
            text.append(
                safe.text(f"  {'no target file found' if self.looked_up else 'looking for its target file'}{where}")
            )
            return text
        name = self.entry.file
        text.append("  1. the target file ")
        text.append(safe.text(name, style="bold"))
        text.append(" in ")
        text.append(safe.text(self.location))
        text.append(" is renamed ")
        text.append(safe.text(f"{name}.deleted.<UTC timestamp>", style="bold"))
        text.append(" (kept as the audit trail)\n  2. Prometheus is reloaded and stops scraping it\n")
        text.append("  3. only if ticked below: Alloy is stopped and disabled on ")
        text.append(safe.text(target_address(self.entry)))
        text.append("\nThe host itself is not touched otherwise; enrolling it again brings it back.")
        return text

    @work(group="retire-lookup", exit_on_error=False)
    async def _look_up(self) -> None:
        try:
            async with open_store(self.settings, self.operations.ask_host_key) as store:
                self.location = store.location
                entries = await store.history()
        except (TargetStoreError, SshError, OSError) as e:
            self._error(f"Cannot read the targets directory: {e}")
            return
        self.entry = find_target(entries, self.host)
        self.looked_up = True
        self.query_one("#retire-what", Static).update(self._what())
        if self.entry is None:
            self._error(
                f"No active target file in {self.location} names {self.host.instance!r} or scrapes its address: "
                "nothing to retire here (a push host without a target file stops when its Alloy does)."
            )
            return
        self._update_button()

    def _error(self, message: str) -> None:
        box = self.query_one("#retire-error", Static)
        box.update(safe.text(message, limit=safe.NOTIFY_LIMIT))
        box.display = bool(message)

    @on(Input.Changed, "#retire-confirm")
    def _update_button(self) -> None:
        ready = self.entry is not None and self.handle is None
        if self.confirm:
            ready = ready and self.query_one("#retire-confirm", Input).value == self.host.instance
        self.query_one("#retire-run", Button).disabled = not ready

    # --- doing it ---------------------------------------------------------------------------------------

    @on(Button.Pressed, "#retire-run")
    @on(Input.Submitted, "#retire-confirm")
    def action_retire(self) -> None:
        self._update_button()
        if self.query_one("#retire-run", Button).disabled or self.entry is None:
            return
        stop = self.query_one("#retire-stop", Checkbox).value
        settings = self.settings
        try:
            request = build_request(
                target_address(self.entry), port=int(settings["ssh.port"]), user=str(settings["ssh.user"])
            )

            def make(on_unknown_key: OnUnknownKey) -> Operation:
                return retire_operation(request, settings, stop_agent=stop, on_unknown_key=on_unknown_key)

            self.handle = self.operations.start(make, title=f"retire {self.host.instance}")
        except InputErrors as e:
            self._error("; ".join(e.errors.values()))
            return
        except (InputError, ConfigError) as e:
            self._error(str(e))
            return
        self._error("")
        self.query_one("#retire-run", Button).disabled = True
        self.query_one("#retire-stop", Checkbox).disabled = True
        view = self.query_one(OperationView)
        view.clear()
        view.display = True

    @on(Button.Pressed, "#retire-cancel")
    def action_close(self) -> None:
        if self.handle is not None and self.handle.running:
            self.notify("Retiring: wait for it to finish (the target file is renamed first)", severity="warning")
            return
        self.dismiss()

    @on(OperationProgress)
    def _progress(self, message: OperationProgress) -> None:
        if self.handle is not None and message.op_id == self.handle.id:
            self.query_one(OperationView).show_event(message.event)

    @on(OperationDone)
    def _done(self, message: OperationDone) -> None:
        if self.handle is None or message.op_id != self.handle.id:
            return
        result = message.result
        view = self.query_one(OperationView)
        view.show_result(result)
        retired_as = result.summary.get("retired_as")
        if retired_as:  # renamed: retired, whatever failed afterwards
            self.feed.mark_retired(self.host.instance, str(retired_as))
            self.feed.refresh_now()
        self.query_one("#retire-cancel", Button).label = "Close (Esc)"
        view.scroll_visible()


def register_retire(actions: HostActions, open_dialog: Callable[[HostStatus], object]) -> None:
    """Add Retire to the host detail (key `R`: a capital, so it is never pressed by accident)."""

    def run(target: HostActionTarget) -> None:
        open_dialog(target.host)

    actions.register(
        HostAction(
            "host.retire",
            "R",
            "Retire",
            f"Stop monitoring this host: rename its target file to <name>{SUFFIX}.deleted.<time>, reload Prometheus",
            run,
        )
    )
