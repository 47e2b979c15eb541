"""The question before cancelling a running enrollment: cancelling is safe (the host is rolled back), but it
throws the run away, so Esc alone never does it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class CancelApplyDialog(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Cancel and roll back", id="wizard.cancel_yes"),
        Binding("n,escape", "answer(False)", "Keep going", id="wizard.cancel_no"),
    ]
    HELP_TITLE = "cancel the enrollment?"
    DEFAULT_CSS = """
    CancelApplyDialog { align: center middle; background: $background 60%; }
    #cancel-box { width: 60; height: auto; border: round $warning; background: $panel; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="cancel-box") as box:
            box.border_title = "Cancel the enrollment?"
            yield Static(
                "The running step is interrupted and the host is rolled back to its previous config and "
                "target file; the result then says what the host is.\n\ny: cancel and roll back   n/Esc: keep going"
            )

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
