"""The enrollment wizard: five sections — Connection, Connect, What to collect, Plan, Apply — one at a time,
each one you can go back to (Ctrl+B), with the step bar on top saying where you are.

The request is built by the CLI's code from the fields (`form.build`), every run goes through the app's
operations service (locks, host-key dialog, operation log), and nothing changes on the host before Apply:
Connect and Plan only read. Re-enroll opens the same wizard prefilled from a host's labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Checkbox, ContentSwitcher, Header, Input, RadioSet, Static

from fleetui.adapters.ssh import OnUnknownKey
from fleetui.config import ConfigError, Settings
from fleetui.deploy.enroll import enroll_operation
from fleetui.deploy.operation import Operation
from fleetui.deploy.probe import ProbeOperation
from fleetui.domain.host import InputError, InputErrors
from fleetui.tui import safe
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.messages import OperationDone, OperationProgress
from fleetui.tui.operations import MakeOperation, OperationHandle, Operations
from fleetui.tui.screens.wizard.apply import ApplyStep
from fleetui.tui.screens.wizard.collect import CollectStep
from fleetui.tui.screens.wizard.confirm import CancelApplyDialog
from fleetui.tui.screens.wizard.connect import ConnectStep
from fleetui.tui.screens.wizard.connection import ConnectionStep
from fleetui.tui.screens.wizard.form import Built, WizardForm, build, cli_argv
from fleetui.tui.screens.wizard.plan_step import PlanStep
from fleetui.tui.widgets.key_footer import KeyFooter
from fleetui.tui.widgets.operation_view import OperationView, StepList

STEPS = (
    ("step-connection", "Connection"),
    ("step-connect", "Connect"),
    ("step-collect", "What to collect"),
    ("step-plan", "Plan"),
    ("step-apply", "Apply"),
)


class WizardScreen(Screen[str | None]):
    """Dismissed with the enrolled host's instance (its nodename) when the operator asks to see it in the fleet."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "next", "Next", id="wizard.next", tooltip="Check this section and go on"),
        Binding("ctrl+b", "back", "Back", id="wizard.back", tooltip="Back to the previous section"),
        Binding("ctrl+r", "retry", "Retry", id="wizard.retry", tooltip="After a failed apply: run it again"),
        Binding("ctrl+e", "edit", "Edit", id="wizard.edit", tooltip="After a failed apply: back to What to collect"),
        Binding("f", "show_in_fleet", "Show in fleet", id="wizard.fleet", tooltip="After the apply: its fleet row"),
        Binding("escape", "close", "Close", id="wizard.close", tooltip="Close (asks first while applying)"),
        Binding("q", "quit_safely", "Quit", id="wizard.quit", show=False, tooltip="Quit (asks first while applying)"),
    ]
    HELP_TITLE = "enroll a host"
    DEFAULT_CSS = """
    #wizard-steps { height: 1; padding: 0 1; background: $panel; }
    #wizard-body { height: 1fr; }
    .wizard-step { padding: 0 1; background: $surface; }
    .wizard-step > Label { margin-top: 1; color: $text-muted; }
    .wizard-step > Label.section { color: $accent; text-style: bold; }
    .wizard-step > Input, .wizard-step > RadioSet { width: 100%; max-width: 100; }
    .wizard-step Input { border: none; height: 1; padding: 0 1; background: $boost; }
    .wizard-step Input:focus { background: $accent 25%; }
    .wizard-step RadioSet { border: none; padding: 0; }
    .wizard-step Checkbox { border: none; padding: 0; }
    .field-row { height: auto; max-width: 100; }
    .field-col { height: auto; width: 1fr; }
    .field-col > Label { color: $text-muted; }
    .step-intro { height: auto; margin-bottom: 1; }
    #mode-lines { height: auto; color: $text-muted; }
    .step-intro.-failed, #apply-outcome.-failed { color: $error; }
    #connect-facts, #apply-outcome, #plan-command { height: auto; margin-top: 1; }
    #apply-log { height: auto; max-height: 12; }
    """
    HELP_ROWS: ClassVar[list[tuple[str, str]]] = [("tab", "Next field"), ("⏎", "In a field: next section")]

    def __init__(
        self,
        operations: Operations,
        settings: Settings,
        *,
        form: WizardForm | None = None,
        suggestions: Mapping[str, list[str]] | None = None,
        reenroll: bool = False,
    ) -> None:
        super().__init__(id="wizard")
        self.operations, self.settings = operations, settings
        self.form = form or WizardForm()
        self.required = tuple(settings["schema.required_labels"])
        self.suggestions = dict(suggestions or {})
        self.reenroll = reenroll
        self.step = 0
        self.handle: OperationHandle | None = None
        self.probe: OperationHandle | None = None
        self.plan: OperationHandle | None = None
        self.built: Built | None = None
        self._shown_errors: dict[str, str] = {}  # the errors beside the fields, by field (see _errors)

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        yield Static(id="wizard-steps")
        with ContentSwitcher(initial="step-connection", id="wizard-body"):
            yield ConnectionStep(self.settings, self.form)
            yield ConnectStep(self.settings, self.form)
            yield CollectStep(self.form, self.required, self.suggestions)
            yield PlanStep()
            yield ApplyStep()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "re-enroll a host" if self.reenroll else "enroll a host"
        self.operations.subscribe(self)
        self._go(0)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        yield PaletteCommand("Wizard: next section", "Check this section and go on (Ctrl+N)", self.action_next)
        yield PaletteCommand("Wizard: previous section", "Back to the previous section (Ctrl+B)", self.action_back)

    # --- moving between sections -----------------------------------------------------------------------

    def _go(self, step: int) -> None:
        self.step = step
        self.query_one(ContentSwitcher).current = STEPS[step][0]
        bar = Text()
        for i, (_, title) in enumerate(STEPS):
            if i:
                bar.append(" › ", "dim")
            style = "bold reverse" if i == step else ("" if i < step else "dim")
            bar.append(f" {i + 1} {title} ", style)
        self.query_one("#wizard-steps", Static).update(bar)
        body = self.query_one(f"#{STEPS[step][0]}")
        first = next((w for w in body.query(Input) if w.display), None)
        if first is not None and step in (0, 2):
            first.focus()
        else:
            body.focus()
        self.refresh_bindings()

    def _busy(self) -> bool:
        return any(h is not None and h.running for h in (self.probe, self.plan, self.handle))

    def action_next(self) -> None:
        if self._busy():
            self.notify("Wait for the running step to finish", severity="warning", timeout=3)
            return
        if self.step == 0:
            self.query_one(ConnectionStep).read()
            if self._connect():
                self._go(1)
            else:
                self._focus_first_error()
        elif self.step == 1:
            connect = self.query_one(ConnectStep)
            if not connect.facts:
                self.notify("Not connected yet: Ctrl+B to fix the connection", severity="warning", timeout=4)
                return
            connect.read()
            if connect.needs_sudo_password and not self.form.sudo_password:
                self._errors({"sudo": "sudo on this host asks for a password: type it here"}, connect)
                self._focus_first_error()
                return
            self.form.nodename = str(connect.facts.get("nodename") or "")
            self.query_one(CollectStep).show_instance()
            self._go(2)
            self._check_collect()
        elif self.step == 2:
            if self._plan():
                self._go(3)
            else:
                self._focus_first_error()
        elif self.step == 3:
            if self.plan is None or self.plan.result is None or not self.plan.result.ok:
                self.notify("No plan to apply: go back and fix the input", severity="warning", timeout=4)
                return
            self._apply()
            self._go(4)

    def action_back(self) -> None:
        if self._busy():
            self.notify("Wait for the running step to finish (Esc cancels an apply)", severity="warning")
            return
        if self.step > 0:
            self._go(self.step - 1 if self.step != 3 else 2)

    def action_close(self) -> None:
        if self.handle is not None and self.handle.running:
            self.app.push_screen(CancelApplyDialog(), callback=self._cancel_answer)
            return
        if self._busy():
            for h in (self.probe, self.plan):
                if h is not None and h.running:
                    h.cancel()
            self.notify("Stopping: the read-only run stops safely…", timeout=3)
            return
        self.dismiss(None)

    def action_quit_safely(self) -> None:
        """Quitting in the middle of an apply would leave the rollback to chance: ask and cancel first."""
        if self.handle is not None and self.handle.running:
            self.action_close()
            return
        self.app.exit()

    def _cancel_answer(self, yes: bool | None) -> None:
        if yes and self.handle is not None and self.handle.running:
            self.handle.cancel()
            self.notify("Cancelling: the host is rolled back…", timeout=4)

    def action_retry(self) -> None:
        if self.step == 4 and self.handle is not None and not self.handle.running and self.built is not None:
            self._apply()

    def action_edit(self) -> None:
        if self.step == 4 and self.handle is not None and not self.handle.running:
            self._go(2)

    def action_show_in_fleet(self) -> None:
        result = self.handle.result if self.handle is not None else None
        if self.step == 4 and result is not None and result.ok:
            self.dismiss(str(result.summary.get("nodename") or result.host))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        done = self.step == 4 and self.handle is not None and self.handle.result is not None
        if action in ("retry", "edit"):
            return done and self.handle is not None and self.handle.result is not None and not self.handle.result.ok
        if action == "show_in_fleet":
            return done and self.handle is not None and self.handle.result is not None and self.handle.result.ok
        return True

    # --- the form -----------------------------------------------------------------------------------------

    def _errors(self, errors: Mapping[str, str], within: object = None) -> None:
        """Show each error beside its field (and clear the others of the section shown)."""
        self._shown_errors = dict(errors)
        body = self.query_one(f"#{STEPS[self.step][0]}")
        for box in body.query(".field-error").results(Static):
            name = (box.id or "").removesuffix("-error")
            message = errors.get(name, "")
            box.update(safe.text(message, limit=safe.NOTIFY_LIMIT))
            box.display = bool(message)
        shown = {(b.id or "").removesuffix("-error") for b in body.query(".field-error")}
        left = [f"{k}: {v}" for k, v in errors.items() if k not in shown]
        if left:
            form_box = body.query_one("#form-error", Static) if body.query("#form-error") else None
            if form_box is not None:
                form_box.update(safe.text("; ".join(left), limit=safe.NOTIFY_LIMIT))
                form_box.display = True

    def _focus_first_error(self) -> None:
        """After Next was refused: the cursor to the first field, top down, whose error is shown.

        Why: the errors are checked as the operator types, but Next with a required label left empty left the
        cursor where it was (often below the field, off screen in a small terminal), and typing on went into
        the wrong field."""
        errors = self._shown_errors
        for field in self.query_one(f"#{STEPS[self.step][0]}").query(Input):
            name = (field.id or "").replace("svcp-", "service-", 1)
            if name in errors and field.display:
                field.focus()
                return

    def _connect(self) -> bool:
        try:
            built = build(self.form, self.settings, with_services=False)
        except InputErrors as e:
            self._errors(e.errors)
            return False
        self._errors({})
        settings, form = self.settings, self.form

        def make(on_unknown_key: OnUnknownKey) -> Operation:
            return ProbeOperation(
                built.request, settings, password=form.secret, on_unknown_key=on_unknown_key, known_as=form.known_as
            )

        self.query_one(ConnectStep).reset()
        self.probe = self.operations.start(make, title=f"connect {built.request.address}")
        return True

    def _check_collect(self) -> dict[str, str]:
        self.query_one(CollectStep).read()
        try:
            build(self.form, self.settings)
        except InputErrors as e:
            self._errors(e.errors)
            return e.errors
        except (InputError, ConfigError) as e:
            self._errors({"form": str(e)})
            return {"form": str(e)}
        self._errors({})
        return {}

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(RadioSet.Changed)
    def _changed(self, event: Input.Changed | Checkbox.Changed | RadioSet.Changed) -> None:
        """Check as you type: the collect section on every change; auth choice shows its fields."""
        if self.step == 0 and isinstance(event, RadioSet.Changed):
            self.query_one(ConnectionStep).read()
            self.query_one(ConnectionStep).show_auth()
        elif self.step == 2:
            if isinstance(event, Checkbox.Changed):
                self.query_one(CollectStep).show_services()
            self._check_collect()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_next()

    def _plan(self) -> bool:
        if self._check_collect():
            return False
        try:
            built = build(self.form, self.settings)
        except (InputError, ConfigError) as e:
            self._errors({"form": str(e)})
            return False
        try:
            self.plan = self.operations.start(
                self._enrollment(built), dry_run=True, title=f"plan {built.request.address}"
            )
        except (InputError, ConfigError) as e:
            self._errors({"form": str(e)})
            return False
        self.built = built
        self.query_one(PlanStep).start(cli_argv(self.form))
        return True

    def _enrollment(self, built: Built) -> MakeOperation:
        """How the operations service builds the plan's and the apply's enrollment of the form as built."""
        settings, known_as = self.settings, self.form.known_as

        def make(on_unknown_key: OnUnknownKey) -> Operation:
            return enroll_operation(
                built.request,
                settings,
                password=built.password,
                secrets=built.secrets,
                on_unknown_key=on_unknown_key,
                known_as=known_as,
            )

        return make

    def _apply(self) -> None:
        built = self.built
        assert built is not None
        self.handle = self.operations.start(self._enrollment(built), title=f"enroll {built.request.address}")
        self.query_one(ApplyStep).start(built.request.address)
        self.refresh_bindings()

    # --- the runs, as they go -------------------------------------------------------------------------------

    @on(OperationProgress)
    def _progress(self, message: OperationProgress) -> None:
        if self.probe is not None and message.op_id == self.probe.id:
            self.query_one("#connect-steps", StepList).show_event(message.event)
        elif self.plan is not None and message.op_id == self.plan.id:
            self.query_one("#wizard-plan", OperationView).show_event(message.event)
        elif self.handle is not None and message.op_id == self.handle.id:
            self.query_one(ApplyStep).show_event(message.event)

    @on(OperationDone)
    def _done(self, message: OperationDone) -> None:
        if self.probe is not None and message.op_id == self.probe.id:
            self.query_one(ConnectStep).show_result(message.result)
            if message.result.ok and self.query_one(ConnectStep).needs_sudo_password:
                self.query_one("#sudo", Input).focus()
        elif self.plan is not None and message.op_id == self.plan.id:
            self.query_one(PlanStep).show_result(message.result)
        elif self.handle is not None and message.op_id == self.handle.id:
            self.query_one(ApplyStep).show_result(message.result)
            self.refresh_bindings()
