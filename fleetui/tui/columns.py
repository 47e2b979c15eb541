"""What the fleet table shows for a host: its columns, the text of each cell and how each column sorts.

Kept apart from the widget so the widget stays a generic, fast Line-API table and these rules can be read
(and tested) without a terminal. Cells are plain strings the table never parses as markup, and every cell
that holds an outside value goes through `safe.visible`, so no control character or bidi override reaches
the terminal. Sorting uses the raw values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fleetui.domain.fleet import NO_TIMES, HostState, HostStatus, HostTimes
from fleetui.tui.fmt import host_job, host_name
from fleetui.tui.fmt import natural_key as natural_key  # re-exported: the table sorts by it too
from fleetui.tui.safe import visible

STATE_GLYPH: dict[HostState, str] = {
    HostState.UP: "●",
    HostState.DOWN: "✖",
    HostState.STALE: "◐",
    HostState.GONE: "○",
    HostState.SILENT: "◌",
}
# Severity first: what needs attention sorts to the top of the default view.
STATE_RANK: dict[HostState, int] = {
    HostState.DOWN: 0,
    HostState.STALE: 1,
    HostState.SILENT: 2,
    HostState.GONE: 3,
    HostState.UP: 4,
}


def state_text(state: HostState) -> str:
    """`● up`: readable with or without colour."""
    return f"{STATE_GLYPH[state]} {state.value}"


@dataclass(frozen=True)
class Column:
    """One table column. `cell(host, now)` gives its text; `sort_key(host)` orders it.

    A column of the snapshot's times (last seen) has `timed`: given the times, the cell and sort key to use
    (`with_times`); the table binds its columns to each snapshot's times (a host's row has none of its own).

    `priority` decides what survives a narrow terminal: columns are kept in priority order (lowest first)
    while they fit. `grow` columns take spare width, up to `max_width`.
    """

    key: str
    title: str
    cell: Callable[[HostStatus, float], str]
    sort_key: Callable[[HostStatus], Any]
    min_width: int
    max_width: int
    priority: int
    right: bool = False
    dynamic: bool = False  # depends on `now`: not measured from content (fixed width)
    timed: Callable[[HostTimes], tuple[Callable[[HostStatus, float], str], Callable[[HostStatus], Any]]] | None = None

    def with_times(self, times: HostTimes) -> Column:
        """This column for rows of a snapshot with these times: itself unless it shows them."""
        if self.timed is None:
            return self
        cell, sort_key = self.timed(times)
        return replace(self, cell=cell, sort_key=sort_key)


def _last_seen(times: HostTimes) -> tuple[Callable[[HostStatus, float], str], Callable[[HostStatus], Any]]:
    """The last-seen cell ("looking up…" while the history is being read) and sort key (newest first)."""
    seen = times.last_seen.get

    def cell(h: HostStatus, now: float) -> str:
        return times.age(h, now)

    def key(h: HostStatus) -> float:
        return -(seen(h.instance) or 0.0)

    return cell, key


_NO_TIMES_CELL, _NO_TIMES_KEY = _last_seen(NO_TIMES)


def _text_key(fn: Callable[[HostStatus], str]) -> Callable[[HostStatus], Any]:
    return lambda h: natural_key(fn(h))


def _label_column(name: str, priority: int) -> Column:
    def cell(h: HostStatus, now: float) -> str:
        return visible(h.labels.get(name, ""))

    return Column(f"label:{name}", visible(name), cell, _text_key(lambda h: h.labels.get(name, "")), 4, 24, priority)


def fleet_columns(key_labels: Sequence[str], *, enriched: bool = False) -> list[Column]:
    """The fleet screen's columns, in display order; `key_labels` are the schema's required labels; `enriched`:
    the source reads alerts and Alloy drift, so they get columns (fleetui.tui.alerts_fmt)."""
    cols = [
        Column("state", "state", lambda h, now: state_text(h.state), lambda h: STATE_RANK[h.state], 7, 8, 0),
        Column("instance", "instance", lambda h, now: visible(h.instance), _text_key(lambda h: h.instance), 12, 40, 1),
        Column("hostname", "hostname", lambda h, now: visible(host_name(h)), _text_key(host_name), 8, 32, 3),
        Column("job", "job", lambda h, now: visible(host_job(h)), _text_key(host_job), 3, 20, 5),
        Column("mode", "mode", lambda h, now: h.mode.value, lambda h: h.mode.value, 4, 4, 6),
        Column(
            "last_seen",
            "last seen",
            _NO_TIMES_CELL,
            _NO_TIMES_KEY,
            13,
            13,
            2,
            right=True,
            dynamic=True,
            timed=_last_seen,
        ),
        Column(
            "problems",
            "probs",
            lambda h, now: str(len(h.problems)) if h.problems else "·",
            lambda h: -len(h.problems),
            5,
            5,
            4,
            right=True,
        ),
    ]
    if enriched:
        from fleetui.tui.alerts_fmt import enriched_columns

        cols += enriched_columns()
    cols += [_label_column(name, 7 + i) for i, name in enumerate(key_labels)]
    return cols
