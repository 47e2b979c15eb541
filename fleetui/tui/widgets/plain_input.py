"""Text inputs that edit like Textual's Input but never send pasted control characters on to the terminal.

Operators paste instances, label values and addresses copied from logs and other consoles; an Input shows its
value as it is, so an ANSI escape or a bidi override in the clipboard would be written to the terminal raw.
Pasted text is taken as Input takes it (the first line) and goes through fleetui.tui.safe, like any outside
string. (Typed keys cannot carry control characters: Esc, Tab and the like are keys, not text.)
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from fleetui.tui import safe


class PlainInput(Input):
    def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # instead of Input's own paste, which inserts the text unchanged
        event.stop()
        lines = event.text.splitlines()
        if not lines:
            return
        line = safe.visible(lines[0])
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(line)
        else:
            self.replace(line, *selection)


class FilterBox(PlainInput):
    """The fleet filter. Focusing it puts the cursor at the end of the filter (Input would select it all, and the
    next key would replace the whole filter)."""

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, select_on_focus=False)
