"""Plan an enrollment from the console: what `fleetui enroll` would do to a host, changing nothing.

The console's first operation, and the shape the enrollment wizard grows from: a short form (address, mode,
labels; port, user and key come from the configuration), checked field by field before anything connects
(each error shown under its field), then the plan runs through the app's operations service — an unknown host
key opens the fingerprint dialog — with every step shown as it happens and the result at the end: the install
commands and the config, env-file and target-file diffs, and that nothing was changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Header, Input, Label, RadioButton, RadioSet, Static

from fleetui.adapters.ssh import OnUnknownKey
from fleetui.config import ConfigError, Settings
from fleetui.deploy.enroll import enroll_operation, resolve_secrets
from fleetui.deploy.operation import Operation
from fleetui.domain.host import InputError, InputErrors, build_request
from fleetui.domain.labels import LabelError, LabelSchema, parse_label_args
from fleetui.tui import safe
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.messages import OperationDone, OperationProgress
from fleetui.tui.operations import MakeOperation, OperationHandle, Operations
from fleetui.tui.widgets.key_footer import KeyFooter
from fleetui.tui.widgets.operation_view import OperationView
from fleetui.tui.widgets.plain_input import PlainInput

FORM_FIELDS = ("address", "mode", "labels")


class PlanScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "plan", "Plan", id="plan.run", tooltip="Check the form and plan (changes nothing)"),
        Binding("ctrl+x", "cancel", "Cancel run", id="plan.cancel", tooltip="Stop the running plan safely"),
        Binding("escape", "close", "Back", id="plan.back", tooltip="Back to where you were"),
    ]
    HELP_TITLE = "plan an enrollment"
    HELP_ROWS: ClassVar[list[tuple[str, str]]] = [("⏎", "In a field: plan"), ("tab", "Next field")]

    def __init__(self, operations: Operations, settings: Settings) -> None:
        super().__init__(id="plan")
        self.operations = operations
        self.settings = settings
        self.handle: OperationHandle | None = None

    def compose(self) -> ComposeResult:
        user, port = self.settings["ssh.user"], self.settings["ssh.port"]
        required = ", ".join(self.settings["schema.required_labels"]) or "none"
        yield Header(icon="◎")
        with VerticalScroll(id="plan-body"):
            yield Static(
                Text.assemble(
                    ("Plan an enrollment", "bold"),
                    f" — connects as {user} on port {port} (ssh.* settings), reads the host, changes nothing.",
                ),
                id="plan-intro",
            )
            yield Label("Address (host name or IP)")
            yield PlainInput(placeholder="10.0.0.5", id="address")
            yield Static(classes="field-error", id="address-error")
            yield Label("Mode")
            with RadioSet(id="mode"):
                yield RadioButton("pull: Prometheus scrapes Alloy", value=True, id="mode-pull")
                yield RadioButton("push: Alloy remote-writes to Prometheus", id="mode-push")
            yield Static(classes="field-error", id="mode-error")
            yield Label(safe.content(f"Labels (KEY=VALUE, space-separated; required: {required})", limit=None))
            yield PlainInput(placeholder="environment=prod maintainers=ops-team", id="labels")
            yield Static(classes="field-error", id="labels-error")
            with Horizontal(id="plan-buttons"):
                yield Button("Plan (changes nothing)", id="plan-run", variant="primary")
            yield Static(classes="field-error", id="form-error")
            yield OperationView(id="plan-operation")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "plan an enrollment"
        self.operations.subscribe(self)
        self.query_one(OperationView).display = False
        self.query_one("#address", Input).focus()

    def palette_commands(self) -> Iterator[PaletteCommand]:
        yield PaletteCommand("Plan now", "Check the form and plan the enrollment (Ctrl+R)", self.action_plan)
        if self.handle is not None and self.handle.running:
            yield PaletteCommand("Cancel the running plan", "Stop it safely (Ctrl+X)", self.action_cancel)

    # --- the form ---------------------------------------------------------------------------------------

    def _show_errors(self, errors: dict[str, str]) -> None:
        for name in (*FORM_FIELDS, "form"):
            box = self.query_one(f"#{name}-error", Static)
            message = errors.get(name, "")
            box.update(safe.text(message, limit=safe.NOTIFY_LIMIT))  # quotes what was typed
            box.display = bool(message)

    def _make(self) -> tuple[str, MakeOperation]:
        """Read and check the form; returns (address, factory) or raises InputErrors keyed by field."""
        address = self.query_one("#address", Input).value.strip()
        mode = "push" if self.query_one("#mode-push", RadioButton).value else "pull"
        errors: dict[str, str] = {}
        labels: dict[str, str] = {}
        try:
            labels = parse_label_args(self.query_one("#labels", Input).value.split())
        except LabelError as e:
            errors["labels"] = str(e).replace("--label expects", "expected")
        schema = LabelSchema(tuple(self.settings["schema.required_labels"]), dict(self.settings["schema.aliases"]))
        try:
            request = build_request(
                address,
                port=int(self.settings["ssh.port"]),
                user=str(self.settings["ssh.user"]),
                mode=mode,
                labels=labels,
                schema=schema if "labels" not in errors else None,
            )
        except InputErrors as e:
            errors = {**e.errors, **errors}
        if errors:
            raise InputErrors({("form" if k not in FORM_FIELDS else k): v for k, v in errors.items()})
        secrets = resolve_secrets(request, os.environ)
        settings = self.settings

        def make(on_unknown_key: OnUnknownKey) -> Operation:
            return enroll_operation(request, settings, secrets=secrets, on_unknown_key=on_unknown_key)

        return request.address, make

    @on(Input.Submitted)
    @on(Button.Pressed, "#plan-run")
    def action_plan(self) -> None:
        if self.handle is not None and self.handle.running:
            self.notify("A plan is already running (Ctrl+X cancels it)", severity="warning")
            return
        try:
            address, make = self._make()
            handle = self.operations.start(make, dry_run=True, title=f"plan {address}")
        except InputErrors as e:
            self._show_errors(e.errors)
            return
        except (InputError, ConfigError) as e:
            field = getattr(e, "field", "")
            self._show_errors({field if field in FORM_FIELDS else "form": str(e)})
            return
        self._show_errors({})
        self.handle = handle
        view = self.query_one(OperationView)
        view.clear()
        view.display = True

    def action_cancel(self) -> None:
        if self.handle is not None and self.handle.running:
            self.handle.cancel()
            self.notify("Cancelling: the plan stops safely…", timeout=3)

    def action_close(self) -> None:
        if self.handle is not None and self.handle.running:  # its result would have nowhere to go
            self.notify("A plan is running: Ctrl+X cancels it safely, then Esc", severity="warning", timeout=4)
            return
        self.dismiss()

    # --- the operation, as it runs ----------------------------------------------------------------------

    @on(OperationProgress)
    def _progress(self, message: OperationProgress) -> None:
        if self.handle is not None and message.op_id == self.handle.id:
            self.query_one(OperationView).show_event(message.event)

    @on(OperationDone)
    def _done(self, message: OperationDone) -> None:
        if self.handle is not None and message.op_id == self.handle.id:
            view = self.query_one(OperationView)
            view.show_result(message.result)
            view.scroll_visible()
