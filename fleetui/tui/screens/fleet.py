"""The fleet screen: every host in one table, a summary line, a filter, and a refresh loop that never overlaps.

The refresh follows Dolphie's pattern: one worker reads a snapshot; when it is done (success or error) the
state-change handler applies the result and only then sets the timer for the next one, so a slow Prometheus
can never stack requests. Failures keep the last data on screen under a stale banner and the loop keeps
going, so the screen recovers by itself when Prometheus is back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input
from textual.worker import Worker, WorkerState

from fleetui.domain.filter import FilterError, parse_filter
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, diff_snapshots
from fleetui.tui.columns import fleet_columns
from fleetui.tui.messages import FleetRefreshed
from fleetui.tui.source import FleetSource
from fleetui.tui.widgets.fleet_table import FleetTable, HostPredicate
from fleetui.tui.widgets.stale_banner import StaleBanner
from fleetui.tui.widgets.summary import SummaryBar

if TYPE_CHECKING:
    from fleetui.tui.app import FleetApp

# "show only" scopes: key -> (label, predicate)
SCOPES: dict[str, tuple[str, HostPredicate]] = {
    "down": ("only down", lambda h: h.state is HostState.DOWN),
    "stale": ("only stale", lambda h: h.state is HostState.STALE),
    "gone": ("only gone", lambda h: h.state is HostState.GONE),
    "problems": ("only with problems", lambda h: bool(h.problems)),
}


def describe_error(error: BaseException | None, location: str) -> str:
    """One line for the banner: the adapter's PrometheusError already is one (naming the URL); anything else
    gets the location and its type, so an unexpected failure is still readable rather than a traceback."""
    if error is None:
        return f"{location}: unknown error"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if any(cls.__name__ == "PrometheusError" for cls in type(error).__mro__):
        return text
    return f"{location}: {type(error).__name__}" + (f": {text}" if text else "")


class FleetScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="fleet.filter",
            tooltip="Filter: text, label=value, label!=value, label=~regex",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear",
            id="fleet.clear",
            show=False,
            tooltip="Clear the filter and the show-only scope",
        ),
        Binding("r", "refresh", "Refresh", id="fleet.refresh", tooltip="Read the fleet from Prometheus now"),
        Binding("d", "scope('down')", "Down", id="fleet.only_down", tooltip="Show only down hosts (again: all)"),
        Binding(
            "s",
            "scope('stale')",
            "Stale",
            id="fleet.only_stale",
            show=False,
            tooltip="Show only stale hosts (again: all)",
        ),
        Binding(
            "x", "scope('gone')", "Gone", id="fleet.only_gone", show=False, tooltip="Show only gone hosts (again: all)"
        ),
        Binding(
            "p",
            "scope('problems')",
            "Problems",
            id="fleet.only_problems",
            tooltip="Show only hosts with label problems (again: all)",
        ),
        Binding("a", "scope('')", "All", id="fleet.all", show=False, tooltip="Show all hosts"),
        Binding("o", "next_sort", "Sort", id="fleet.sort", tooltip="Sort by the next column"),
        Binding("O", "reverse_sort", "Reverse", id="fleet.reverse", show=False, tooltip="Reverse the sort order"),
    ]

    def __init__(
        self, source: FleetSource, *, interval: float, key_labels: tuple[str, ...], clock: Callable[[], float]
    ) -> None:
        super().__init__(id="fleet")
        self.source = source
        self.interval = interval
        self.clock = clock
        self.snapshot: FleetSnapshot | None = None
        self.error: str | None = None
        self.scope = ""
        self.filter_text = ""
        self._text_filter: HostPredicate | None = None
        self._worker: Worker[FleetSnapshot] | None = None
        self._timer: Timer | None = None
        self._columns = fleet_columns(key_labels)
        self._counts: tuple[dict[str, int], int, int] = ({s.value: 0 for s in HostState}, 0, 0)

    @property
    def fleet_app(self) -> FleetApp:
        from fleetui.tui.app import FleetApp

        assert isinstance(self.app, FleetApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        yield StaleBanner(id="stale")
        yield SummaryBar(id="summary")
        yield Input(
            placeholder="filter: text  label=value  label!=value  label=~regex   (Enter: keep, Esc: clear)", id="filter"
        )
        yield FleetTable(self._columns, self.clock, id="table")
        yield Footer()

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    def on_mount(self) -> None:
        self.sub_title = self.source.location
        self.query_one(StaleBanner).clear()
        self.query_one("#filter", Input).display = False
        self.table.focus()
        self._update_summary()
        self.action_refresh()

    # --- refresh loop -----------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        """Start a refresh now unless one is running; the next one is scheduled when this one ends."""
        if self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._worker = self.run_worker(
            self.source.snapshot(),
            name="refresh",
            group="refresh",
            description=f"read the fleet from {self.source.location}",
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        if event.state is WorkerState.SUCCESS:
            result = event.worker.result
            assert result is not None
            self.apply_snapshot(result)
        elif event.state is WorkerState.ERROR:
            self.show_failure(describe_error(event.worker.error, self.source.location))
        else:
            return
        self._timer = self.set_timer(self.interval, self.action_refresh, name="next-refresh")

    def apply_snapshot(self, snapshot: FleetSnapshot) -> None:
        table = self.table
        with self.app.batch_update():
            if self.snapshot is None:
                table.load(snapshot.hosts)
            else:
                diff = diff_snapshots(self.snapshot, snapshot)
                if diff.empty:
                    table.refresh()  # nothing changed but the ages moved on
                else:
                    table.apply((*diff.added, *diff.changed), diff.removed, diff.timing)
            self.snapshot, self.error = snapshot, None
            # counted once per snapshot, not on every filter keystroke
            self._counts = (snapshot.summary(), sum(1 for h in snapshot.hosts if h.problems), len(snapshot.hosts))
            self.query_one(StaleBanner).clear()
            self._update_summary()
        self._tell_others()

    def show_failure(self, error: str) -> None:
        self.error = error
        self.query_one(StaleBanner).show(
            error, self.snapshot.taken_at if self.snapshot else None, self.clock(), self.interval
        )
        self._tell_others()

    def _tell_others(self) -> None:
        message = FleetRefreshed(self.snapshot, self.error)
        for screen in self.app.screen_stack:
            if screen is not self:
                screen.post_message(message)
        self.fleet_app.fleet_refreshed(self.snapshot, self.error)

    def host(self, instance: str) -> HostStatus | None:
        return self.table.hosts.get(instance)

    # --- filter, scope, sort ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def set_filter(self, text: str) -> bool:
        """Apply a filter expression; a bad one is flagged on the input and the previous filter stays."""
        box = self.query_one("#filter", Input)
        try:
            parsed = parse_filter(text)
        except FilterError as e:
            box.add_class("-invalid")
            box.border_subtitle = str(e)
            return False
        box.remove_class("-invalid")
        box.border_subtitle = ""
        self.filter_text = text.strip()
        self._text_filter = parsed.matches if parsed.terms else None
        if box.value != text:
            box.value = text
        box.display = bool(self.filter_text) or box.has_focus
        self._apply_predicate()
        return True

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        self.set_filter("")
        box.display = False
        self.scope = ""
        self._apply_predicate()
        self.table.focus()

    def action_scope(self, scope: str) -> None:
        self.scope = "" if scope == self.scope else scope
        self._apply_predicate()

    def _apply_predicate(self) -> None:
        scope = SCOPES[self.scope][1] if self.scope else None
        text = self._text_filter
        if scope and text:
            self.table.set_filter(lambda h: scope(h) and text(h))
        else:
            self.table.set_filter(scope or text)

    def action_next_sort(self) -> None:
        keys = [c.key for c in self._columns]
        current = keys.index(self.table.sort_key)
        self.table.sort_by(keys[(current + 1) % len(keys)], reverse=False)

    def action_reverse_sort(self) -> None:
        self.table.sort_by(self.table.sort_key, reverse=not self.table.sort_reverse)

    def sort_by(self, key: str) -> None:
        self.table.sort_by(key, reverse=False)

    @on(FleetTable.ViewChanged)
    def _view_changed(self) -> None:
        self._update_summary()

    def _update_summary(self) -> None:
        parts = []
        if self.scope:
            parts.append(SCOPES[self.scope][0])
        if self.filter_text:
            parts.append("filtered")
        counts, problems, total = self._counts
        self.query_one(SummaryBar).show(counts, problems, total, len(self.table.view), " · ".join(parts))

    @on(FleetTable.HostSelected)
    def _open_host(self, event: FleetTable.HostSelected) -> None:
        self.open_host(event.instance)

    def open_host(self, instance: str) -> None:
        from fleetui.tui.screens.host import HostScreen

        host = self.host(instance)
        if host is not None:
            self.app.push_screen(HostScreen(host, clock=self.clock, fleet=self))
