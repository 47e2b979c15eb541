"""The host-key question: an unknown SSH host key is trusted only after the operator has seen its fingerprint.

The operations service plugs this dialog into the SSH adapter's `on_unknown_key` callback: the connection waits
while it is open. It shows which host asks (the name dialled beside its address; a jump host as the jump host
of the host asked for), the key type and the SHA256 fingerprint, and how to check them on the host; `t`
trusts (fleetui then writes the key to its own known_hosts), `Esc`/`n` refuses (the run fails at connect and
nothing on the host was touched). Refusing is the default: Enter on the open dialog refuses.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from fleetui.adapters.ssh import HostKeyInfo
from fleetui.tui import safe


class HostKeyDialog(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "answer(True)", "Trust", id="hostkey.trust", tooltip="Trust this key and connect"),
        Binding("n,escape", "answer(False)", "Refuse", id="hostkey.refuse", tooltip="Refuse: do not connect"),
    ]
    HELP_TITLE = "unknown host key"

    def __init__(self, info: HostKeyInfo) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        info = self.info
        text = Text()
        text.append("The host key of ")
        text.append(safe.text(info.describe, limit=safe.LINE_LIMIT, style="bold"))
        text.append(" is not known to fleetui.\n\n")
        text.append("  ")
        text.append(safe.text(info.key_type, limit=40))
        text.append("  ")
        text.append(safe.text(info.fingerprint, limit=safe.LINE_LIMIT, style="bold"))
        text.append("\n\nCompare it with the key on the host, from a console you trust:\n")
        text.append(f"  ssh-keygen -lf {info.key_file}\n\n")
        text.append("Trusting writes it to fleetui's known_hosts; a later change of this key is refused.")
        with Vertical(id="hostkey-box") as box:
            box.border_title = "Unknown host key"
            yield Static(text, id="hostkey-text")
            with Horizontal(id="hostkey-buttons"):
                yield Button("Refuse (n)", id="hostkey-refuse", variant="default")
                yield Button("Trust (t)", id="hostkey-trust", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#hostkey-refuse", Button).focus()

    def action_answer(self, trust: bool) -> None:
        self.dismiss(trust)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "hostkey-trust")
