"""Shown instead of an empty table when the very first refresh fails: what was tried and what to do.

A first run with no config and no reachable Prometheus must explain itself rather than show a traceback or
an empty grid. The fleet screen keeps retrying underneath and closes this screen on its first success.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from fleetui.tui import safe
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.feed import FleetFeed
from fleetui.tui.widgets.key_footer import KeyFooter


class WelcomeScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry", id="welcome.retry", tooltip="Try Prometheus again now"),
    ]

    HELP_TITLE = "first run"

    def __init__(self, feed: FleetFeed, config_file: Path | None) -> None:
        super().__init__(id="welcome")
        self.feed = feed
        self.location, self.error, self.config_file = feed.location, feed.error or "", config_file

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        with VerticalScroll(id="welcome-body"):
            yield Static(self._text(), id="welcome-text")
        yield KeyFooter()

    def _text(self) -> Text:
        t = Text()
        t.append("Cannot read the fleet from Prometheus\n\n", "bold")
        t.append("Tried:  ", "bold")
        t.append(safe.text(self.location))
        t.append("\nError:  ", "bold")
        t.append(safe.text(self.error, limit=safe.NOTIFY_LIMIT))  # may quote whatever answered
        t.append("\n\n")
        if self.config_file is None:
            t.append("No configuration file was found, so the default URL was used.\n\n")
        else:
            t.append("Configuration: ")
            t.append(safe.text(str(self.config_file)))
            t.append("\n\n")
        t.append("What to do\n", "bold")
        t.append("  • point fleetui at your Prometheus:  fleetui --prometheus http://prometheus:9090\n")
        t.append("  • or set it for good in the config file:\n")
        t.append("        prometheus:\n          url: http://prometheus:9090\n")
        t.append("    (fleetui config shows the file in use and every key)\n")
        t.append("  • or try fleetui on a lab fleet first:  fleetui demo\n\n")
        t.append("fleetui keeps retrying; this screen closes by itself once Prometheus answers. ")
        t.append("r retries now, q quits.")
        return t

    def update_error(self, error: str) -> None:
        self.error = error
        self.query_one("#welcome-text", Static).update(self._text())

    def action_retry(self) -> None:
        self.feed.refresh_now()

    def palette_commands(self) -> Iterator[PaletteCommand]:
        yield PaletteCommand("Retry now", "Try Prometheus again now (r)", self.action_retry)
