"""A unified diff as plain text for a plan: every line from outside shown as typed, additions and removals
coloured. Shared by the fix dialogs (a pull host's target file, a push host's Alloy config)."""

from __future__ import annotations

from rich.text import Text

from fleetui.tui import safe


def diff_text(diff: str) -> Text:
    """A unified diff, each line as plain text, additions and removals coloured."""
    text = Text()
    for i, line in enumerate(diff.splitlines()):
        if i:
            text.append("\n")
        style = "green" if line.startswith("+") and not line.startswith("+++") else ""
        if line.startswith("-") and not line.startswith("---"):
            style = "red"
        text.append(safe.text(line, tab_size=4, style=style))
    return text
