"""Step 2, Connect: log in and look. An unknown host key opens the fingerprint dialog (trust or refuse); a
changed key is refused, with what that means and how to clear it. Then the detected facts: OS and version,
architecture, nodename, the Alloy version if installed, whether sudo asks for a password — and, when it does
and the login was not by password, a masked field for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Label, Static

from fleetui.config import Settings
from fleetui.deploy.events import OperationResult
from fleetui.deploy.probe import SUDO_PASSWORD
from fleetui.tui import safe
from fleetui.tui.screens.wizard.connection import error_box
from fleetui.tui.screens.wizard.form import WizardForm
from fleetui.tui.widgets.operation_view import StepList


def changed_key_help(known_hosts: str) -> Text:
    """What a changed host key means and how to clear it, after the adapter's own one-line refusal."""
    text = Text(
        "\n\nThe host now presents a different key than the one fleetui trusted: either it was reinstalled or "
        "its keys were regenerated — or something is between you and the host. fleetui refuses to connect.\n"
        "If you know the change is expected, remove the old line from fleetui's known_hosts, then connect again:\n"
        "  ssh-keygen -R '[ADDRESS]:PORT' -f "
    )
    text.append(safe.text(known_hosts, limit=None))
    return text


def host_line(address: str, route: str) -> str:
    """The host as asked for and how it is reached. An ssh-config alias's route already begins with the alias
    ("web-01 (root@10.0.0.5:22)"): then the route alone, not the alias twice."""
    if not route:
        return f"{address}  (direct)"
    return route if route.startswith(f"{address} (") else f"{address}  ({route})"


def facts_text(summary: Mapping[str, Any]) -> Text:
    text = Text()
    rows = [
        ("Host", host_line(str(summary.get("address")), str(summary.get("route") or ""))),
        ("OS", f"{summary.get('os')} {summary.get('version')} ({summary.get('family')})"),
        ("Architecture", str(summary.get("arch"))),
        ("Nodename", str(summary.get("nodename"))),
        ("Alloy", f"v{summary['alloy']} installed" if summary.get("alloy") else "not installed (will be installed)"),
        ("sudo", str(summary.get("sudo"))),
    ]
    for i, (k, v) in enumerate(rows):
        text.append(("\n" if i else "") + f"{k:<13}", "bold")
        text.append(safe.text(v, limit=safe.LINE_LIMIT))
    return text


class ConnectStep(VerticalScroll):
    def __init__(self, settings: Settings, form: WizardForm) -> None:
        super().__init__(id="step-connect", classes="wizard-step")
        self.settings, self.form = settings, form
        self.facts: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static("Connecting…", id="connect-status", classes="step-intro")
        yield StepList(id="connect-steps")
        yield Static(id="connect-facts")
        yield Label("sudo password (masked; kept in memory only)", id="sudo-label")
        yield Input(password=True, id="sudo")
        yield error_box("sudo")

    def on_mount(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.facts = {}
        self.query_one(StepList).clear()
        self.query_one("#connect-status", Static).update("Connecting… (an unknown host key is shown first)")
        self.query_one("#connect-facts", Static).display = False
        self.query_one("#connect-status", Static).remove_class("-failed")
        self._sudo(False)

    def _sudo(self, shown: bool) -> None:
        for w in ("#sudo-label", "#sudo", "#sudo-error"):
            self.query_one(w).display = shown

    @property
    def needs_sudo_password(self) -> bool:
        return self.facts.get("sudo") == SUDO_PASSWORD and self.form.auth != "password"

    def show_result(self, result: OperationResult) -> None:
        status = self.query_one("#connect-status", Static)
        if not result.ok:
            error = result.error or "no reason given"
            text = Text("Could not connect: ")
            text.append(safe.text(error, limit=None))
            if "HOST KEY CHANGED" in error:
                text.append(changed_key_help(str(self.settings.known_hosts)))
            text.append("\nNothing on the host was changed. Ctrl+B: back to the connection.")
            status.update(text)
            status.add_class("-failed")
            return
        self.show_facts(result.summary)

    def show_facts(self, summary: Mapping[str, Any]) -> None:
        self.facts = dict(summary)
        status = self.query_one("#connect-status", Static)
        status.update("Connected. This is what fleetui found (nothing was changed):")
        facts = self.query_one("#connect-facts", Static)
        facts.update(facts_text(summary))
        facts.display = True
        self._sudo(self.needs_sudo_password)
        if self.facts.get("sudo") == SUDO_PASSWORD and self.form.auth == "password":
            facts.update(facts_text({**summary, "sudo": f"{SUDO_PASSWORD} (the login password is used)"}))

    def read(self) -> None:
        self.form.sudo_password = self.query_one("#sudo", Input).value if self.needs_sudo_password else ""
