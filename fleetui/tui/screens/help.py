"""`?`: every key of the screen it was opened from, with what it does.

Read from the screen's live bindings (so a registered host action shows up), plus what the screen declares
itself: `HELP_TITLE`, and `HELP_ROWS` for keys its widgets handle, in its own words (a widget's binding for a key
a row names is then not listed as well).
"""

from __future__ import annotations

import textwrap
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from fleetui.tui import safe

# bindings every Textual screen or scroll view has, which are noise in a list of fleetui's keys
_NOISE = {
    "scroll_left",
    "scroll_right",
    "page_left",
    "page_right",
    "app.focus_next",
    "app.focus_previous",
    "screen.copy_text",
    "help_quit",
    "command_palette",
}


def key_rows(screen: Screen[object]) -> list[tuple[str, str]]:
    """(keys, description) for every enabled binding active on `screen`, app bindings included."""
    keys: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for active in screen.active_bindings.values():
        b = active.binding
        if not active.enabled or b.system or b.action in _NOISE:
            continue
        action = "quit" if b.action in ("quit", "app.quit") else b.action
        labels.setdefault(action, "Quit fleetui" if action == "quit" else b.tooltip or b.description or b.action)
        display = screen.app.get_key_display(b)
        if display not in keys.setdefault(action, []):
            keys[action].append(display)
    own: list[tuple[str, str]] = list(getattr(screen, "HELP_ROWS", ()))
    # a widget's own keys (a list's, a scrolling pane's) that the screen describes itself are listed once, in
    # the screen's words: its cursor keys were listed twice, "↑ Up" and again "↑ ↓ A check (…)"
    described = {_token(k) for keys_, _ in own for k in keys_.split() if k != "/"}  # "a / b": a separator
    rows = [(" ".join(keys[a]), labels[a]) for a in keys]
    rows = [row for row in rows if not all(_token(k) in described for k in row[0].split())]
    rows += own
    rows.append(("^p", "Command palette: every action, searchable"))
    return rows


def _token(key: str) -> str:
    """A key as the help names it, the same however it is written ("PgUp", "pgup"; "Enter", "⏎"); a letter's
    case is kept (g and G are two keys)."""
    if len(key) == 1:
        return key
    key = key.lower()
    return "⏎" if key == "enter" else key


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", show=False),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        """The help of `screen` (the one below it)."""
        super().__init__(id="help")
        self.title_text = str(getattr(screen, "HELP_TITLE", screen.id or ""))
        self.rows = key_rows(screen)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = safe.content(f"Keys — {self.title_text}")
            box.border_subtitle = "Esc closes · Ctrl+P: every action"
            yield Static(key_text(self.rows, self._room()), id="help-keys")

    def on_resize(self) -> None:
        self.query_one("#help-keys", Static).update(key_text(self.rows, self._room()))

    def _room(self) -> int:
        """Columns inside the box at most: 90% of the terminal, less its border, padding and scrollbar (#help-box
        in app.tcss). Were it more, the text would still wrap (#help-keys' max-width), only not under itself."""
        return int(self.app.size.width * 0.9) - 8


def key_text(rows: list[tuple[str, str]], room: int) -> Text:
    """The keys right-aligned in a column, each followed by what it does; a description too long for the `room`
    beside the keys wraps under itself, not under the keys (an 80-column terminal cut them off before)."""
    width = max((len(k) for k, _ in rows), default=0)
    wraps = max(room - width - 2, 20)
    text = Text()
    for i, (keys, what) in enumerate(rows):
        for j, part in enumerate(textwrap.wrap(what, wraps) or [""]):
            if i or j:
                text.append("\n")
            text.append((keys if j == 0 else "").rjust(width), "bold")
            text.append(f"  {part}")
    return text
