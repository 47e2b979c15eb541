"""The fleet table draws its own scrollbar in its last cell: where the page is, a click to go there, and the
mouse wheel still scrolling. The rows are domain values generated here (no Prometheus involved)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from fleetui.domain.fleet import HostState, HostStatus, HostTimes, Mode
from fleetui.tui.columns import fleet_columns
from fleetui.tui.widgets.fleet_table import FleetTable

NOW = 1_700_000_000.0
SIZE = (80, 12)  # the table: a header and 11 rows


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FleetTable(fleet_columns(("environment",)), lambda: NOW)


def _hosts(n: int) -> list[HostStatus]:
    return [HostStatus(f"h-{i:04d}", HostState.UP, Mode.PULL, {"job": "node"}) for i in range(n)]


@asynccontextmanager
async def _table_of(n: int) -> AsyncIterator[tuple[Pilot[None], FleetTable]]:
    """A table of `n` hosts on screen, painted."""
    app = _TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(FleetTable)
        hosts = _hosts(n)
        table.load(hosts, HostTimes({h.instance: NOW for h in hosts}))
        await pilot.pause()
        yield pilot, table


def _bar_column(table: FleetTable) -> list[str]:
    """Each data line's last cell: 'T' thumb, 't' track, '-' anything else."""
    thumb, track = table._styles.get("bar-thumb"), table._styles.get("bar-track")
    out = []
    for y in range(1, table.size.height):
        last = list(table.render_line(y))[-1]
        out.append("T" if last.style == thumb else "t" if last.style == track else "-")
    return out


async def test_the_bar_shows_where_the_page_is() -> None:
    async with _table_of(110) as (pilot, table):  # ten pages: a thumb of one line
        assert all(line.cell_length == table.size.width for line in map(table.render_line, range(12)))
        assert _bar_column(table) == ["T"] + ["t"] * 10
        table.action_last()
        await pilot.pause()
        assert _bar_column(table) == ["t"] * 10 + ["T"]
        assert table.allow_vertical_scroll  # the wheel scrolls (Textual's own bar takes no cell, but is there)


async def test_no_bar_when_every_row_fits() -> None:
    async with _table_of(5) as (_, table):
        assert table._thumb() is None and "T" not in _bar_column(table)
        assert all(line.cell_length == table.size.width for line in map(table.render_line, range(12)))


async def test_a_click_on_the_bar_moves_the_cursor_there() -> None:
    async with _table_of(110) as (pilot, table):
        await pilot.click(FleetTable, offset=(SIZE[0] - 1, 11))  # the bar's bottom: the last host
        assert table.cursor_host is not None and table.cursor_host.instance == "h-0109"
        assert _bar_column(table)[-1] == "T"
        await pilot.click(FleetTable, offset=(SIZE[0] - 1, 1))  # its top: the first
        assert table.cursor_host is not None and table.cursor_host.instance == "h-0000"
        await pilot.click(FleetTable, offset=(SIZE[0] - 2, 3))  # left of the bar: a row, as before
        assert table.cursor_host is not None and table.cursor_host.instance == "h-0002"
