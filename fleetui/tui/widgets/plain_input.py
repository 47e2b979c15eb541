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

    def opened_by(self, char: str) -> bool:
        """For a priority binding on `char` that opens this box: True after typing `char` into the box when it
        has the focus already; otherwise False, the box focused now.

        Why priority and "now": Textual hands the keys queued behind the binding's key (several in one read: a
        fast typist, a laggy SSH link, tmux) to the focused widget before the binding's action runs, and
        `focus()` moves the focus only after them; so they went to the table, whose letters are commands."""
        if self.has_focus:
            self.insert_text_at_cursor(char)
            return True
        self.screen.set_focus(self)
        return False


class FilterBox(PlainInput):
    """The fleet filter. Focusing it puts the cursor at the end of the filter (Input would select it all, and the
    next key would replace the whole filter)."""

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, select_on_focus=False)
