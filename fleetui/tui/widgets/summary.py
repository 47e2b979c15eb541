"""The one-line fleet summary: a count per state (0 shown as 0), hosts with problems, what is shown."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from fleetui.domain.fleet import FleetSnapshot, HostState
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

    def show(self, snapshot: FleetSnapshot | None, shown: int, scope: str) -> None:
        """Counts are over the whole fleet; `shown` and `scope` say what the table shows of it."""
        text = Text(no_wrap=True, overflow="ellipsis")
        counts = snapshot.summary() if snapshot else {s.value: 0 for s in HostState}
        for state in HostState:
            style = self.get_component_rich_style(f"summary--{state.value}")
            text.append(f"{STATE_GLYPH[state]} {state.value} ", style)
            text.append(str(counts.get(state.value, 0)), style)
            text.append("  ")
        problems = sum(1 for h in snapshot.hosts if h.problems) if snapshot else 0
        text.append(f"⚠ problems {problems}", self.get_component_rich_style("summary--problem"))
        total = len(snapshot.hosts) if snapshot else 0
        dim = self.get_component_rich_style("summary--dim")
        text.append(f"  │ {shown}/{total} shown", dim)
        if scope:
            text.append(f" · {scope}", dim)
        self.update(text)
