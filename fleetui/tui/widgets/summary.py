"""The one-line fleet summary: a count per state (0 shown as 0), hosts with problems, what is shown."""

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

    def show(self, counts: dict[str, int], problems: int, total: int, shown: int, scope: str) -> None:
        """`counts` (per state) and `problems` are over the whole fleet; `shown`/`scope` describe the table."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for state in HostState:
            if state is HostState.SILENT and not counts.get(state.value):
                continue  # enrolled hosts without any series: only worth a place when there are some
            look = "gone" if state is HostState.SILENT else state.value
            style = self.get_component_rich_style(f"summary--{look}")
            text.append(f"{STATE_GLYPH[state]} {state.value} {counts.get(state.value, 0)}", style)
            text.append("  ")
        text.append(f"⚠ problems {problems}", self.get_component_rich_style("summary--problem"))
        dim = self.get_component_rich_style("summary--dim")
        text.append(f"  │ {shown}/{total} shown", dim)
        if scope:
            text.append(f" · {scope}", dim)
        self.update(text)


class SummaryNote(Static):
    """A line under the summary for what the counts cannot say: that they are a first look at the fleet, why
    the filter may show nothing (a label no host has). A line of its own, shown only while there is something
    to say, so at 80 columns it is never cut off behind the counts and the summary line stays as it is."""

    def say(self, note: str) -> None:
        """`note` is plain text and may hold label names from Prometheus: shown as typed; "" hides the line."""
        self.display = bool(note)
        self.update(safe.text(note))
