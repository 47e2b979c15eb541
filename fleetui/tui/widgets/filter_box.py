"""The fleet filter's text box: an Input that edits like one and never sends pasted control characters on.

Operators paste instances and label values copied from logs and other consoles; an Input shows its value as
it is, so an ANSI escape or a bidi override in the clipboard would be written to the terminal raw. Pasted text
is taken as Input takes it (the first line) and shown through fleetui.tui.safe, like any outside string.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from fleetui.tui import safe


class FilterBox(Input):
    """Focusing it puts the cursor at the end of the filter (Input would select it all, and the next key would
    replace the whole filter)."""

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, select_on_focus=False)

    def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # instead of Input's own paste, which inserts the text unchanged
        event.stop()
        if not event.text:
            return
        line = safe.visible(event.text.splitlines()[0] if event.text.splitlines() else "")
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(line)
        else:
            self.replace(line, *selection)
