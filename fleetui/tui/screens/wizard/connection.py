"""Step 1, Connection: where and how to log in — address or ssh-config alias, port, user, and the way to
authenticate (the agent, a key file, or a password typed into a masked field that never leaves memory)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from fleetui.config import Settings
from fleetui.tui import safe
from fleetui.tui.screens.wizard.form import WizardForm
from fleetui.tui.widgets.plain_input import PlainInput


def error_box(name: str) -> Static:
    return Static(classes="field-error", id=f"{name}-error")


class ConnectionStep(VerticalScroll):
    def __init__(self, settings: Settings, form: WizardForm) -> None:
        super().__init__(id="step-connection", classes="wizard-step")
        self.settings, self.form = settings, form

    def compose(self) -> ComposeResult:
        f = self.form
        yield Static(
            safe.text(
                "Where is the host? An address or a Host alias from your ssh config; port and user default to "
                f"the ssh config, else {self.settings['ssh.user']} on port {self.settings['ssh.port']}."
            ),
            classes="step-intro",
        )
        yield Label("Address or ssh-config alias")
        yield PlainInput(f.address, placeholder="10.0.0.5 or web-01", id="address")
        yield error_box("address")
        with Horizontal(classes="field-row"):
            with Vertical(classes="field-col"):
                yield Label("Port")
                yield PlainInput(f.port, placeholder=str(self.settings["ssh.port"]), id="port")
                yield error_box("port")
            with Vertical(classes="field-col"):
                yield Label("User")
                yield PlainInput(f.user, placeholder=str(self.settings["ssh.user"]), id="user")
                yield error_box("user")
        yield Label("Authentication")
        with RadioSet(id="auth"):
            yield RadioButton("SSH agent / default keys", value=f.auth == "agent", id="auth-agent")
            yield RadioButton("Key file", value=f.auth == "key", id="auth-key")
            yield RadioButton("Password (also used for sudo)", value=f.auth == "password", id="auth-password")
        yield Label("Private key file", id="identity-label")
        yield PlainInput(f.identity, placeholder="~/.ssh/id_ed25519", id="identity")
        yield error_box("identity")
        yield Label("Password (masked; kept in memory only)", id="password-label")
        yield Input(f.password, password=True, id="password")
        yield error_box("password")
        yield error_box("form")

    def on_mount(self) -> None:
        self.show_auth()

    def show_auth(self) -> None:
        auth = self.form.auth
        for name, shown in (("identity", auth == "key"), ("password", auth == "password")):
            for w in (f"#{name}-label", f"#{name}"):
                self.query_one(w).display = shown

    def read(self) -> None:
        f = self.form
        f.address = self.query_one("#address", Input).value
        f.port = self.query_one("#port", Input).value
        f.user = self.query_one("#user", Input).value
        f.identity = self.query_one("#identity", Input).value
        f.password = self.query_one("#password", Input).value
        pressed = self.query_one("#auth", RadioSet).pressed_button
        f.auth = (pressed.id or "auth-agent").removeprefix("auth-") if pressed is not None else "agent"
