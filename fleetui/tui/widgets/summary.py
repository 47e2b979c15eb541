"""The one-line fleet summary: a count per state (0 shown as 0), hosts with problems, what is shown; the counts
by their glyphs alone when their words would push what is shown off a narrow terminal."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from fleetui.domain.fleet import HostState
from fleetui.tui import safe
from fleetui.tui.columns import STATE_GLYPH


class SummaryBar(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "summary--up",
        "summary--down",
        "summary--stale",
        "summary--gone",
        "summary--problem",
        "summary--dim",
    }

    _last: tuple[dict[str, int], int, int, int, str] | None = None

    def show(self, counts: dict[str, int], problems: int, total: int, shown: int, scope: str) -> None:
        """`counts` (per state) and `problems` are over the whole fleet; `shown`/`scope` describe the table."""
        self._last = (counts, problems, total, shown, scope)
        self.update(self._line())

    def on_resize(self) -> None:
        if self._last is not None:
            self.update(self._line())

    def _line(self) -> Text:
        """The summary in words, or, when that does not fit, the counts by their glyphs alone: what the table
        shows ("25/39 shown · filtered") comes last, and at 80 columns with silent hosts it fell off the end."""
        assert self._last is not None
        text = self._text(*self._last, words=True)
        width = self.size.width
        if width and text.cell_len > width:
            text = self._text(*self._last, words=False)
        return text

    def _text(self, counts: dict[str, int], problems: int, total: int, shown: int, scope: str, *, words: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for state in HostState:
            if state is HostState.SILENT and not counts.get(state.value):
                continue  # enrolled hosts without any series: only worth a place when there are some
            look = "gone" if state is HostState.SILENT else state.value
            style = self.get_component_rich_style(f"summary--{look}")
            name = f" {state.value}" if words else ""
            text.append(f"{STATE_GLYPH[state]}{name} {counts.get(state.value, 0)}", style)
            text.append("  ")
        name = " problems" if words else ""
        text.append(f"⚠{name} {problems}", self.get_component_rich_style("summary--problem"))
        dim = self.get_component_rich_style("summary--dim")
        text.append(f"  │ {shown}/{total} shown", dim)
        if scope:
            text.append(f" · {scope}", dim)
        return text


class SummaryNote(Static):
    """A line under the summary for what the counts cannot say: that they are a first look at the fleet, why
    the filter may show nothing (a label no host has). A line of its own, shown only while there is something
    to say, so at 80 columns it is never cut off behind the counts and the summary line stays as it is."""

    def say(self, note: str) -> None:
        """`note` is plain text and may hold label names from Prometheus: shown as typed; "" hides the line."""
        self.display = bool(note)
        self.update(safe.text(note))
