"""The fleet summary: a count per state (0 shown as 0), hosts with problems, what is shown.

One line, plus a second for a note about the filter (a label no host has): that line is what explains an
empty table, so it gets a line of its own rather than being cut off at 80 columns behind the counts.
"""

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
        "summary--note",
    }

    def show(self, counts: dict[str, int], problems: int, total: int, shown: int, scope: str, note: str = "") -> None:
        """`counts` (per state) and `problems` are over the whole fleet; `shown`/`scope` describe the table;
        `note` (plain text, may hold label names from Prometheus) goes on the second line."""
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
        if note:
            text.append("\n")
            start = len(text)
            text.append_text(safe.text(note))
            text.stylize(self.get_component_rich_style("summary--note"), start)
        self.update(text)
