"""The fleet screen: every host in one table, a summary line, a filter, and the state of the last refresh.

The data comes from the app's fleet feed (fleetui.tui.feed), which this screen subscribes to: each refresh is
applied to the table as a diff, and a failed one keeps the last data under a stale banner while the feed
keeps trying. Opening a host is a request to the app (OpenHost): this screen knows no other screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Input

from fleetui.domain.filter import FilterError, HostFilter, label_names, parse_filter, unknown_labels_note
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, diff_snapshots
from fleetui.gcpause import gc_paused
from fleetui.tui import safe
from fleetui.tui.columns import fleet_columns
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.feed import FleetFeed
from fleetui.tui.messages import FleetRefreshed, OpenDoctor, OpenHost, OpenLogs
from fleetui.tui.source import enriched, rules_hint
from fleetui.tui.widgets.fleet_table import FleetTable, HostPredicate
from fleetui.tui.widgets.key_footer import KeyFooter
from fleetui.tui.widgets.plain_input import FilterBox
from fleetui.tui.widgets.stale_banner import StaleBanner
from fleetui.tui.widgets.summary import SummaryBar, SummaryNote

# "show only" scopes: key -> (label, predicate)
SCOPES: dict[str, tuple[str, HostPredicate]] = {
    "down": ("only down", lambda h: h.state is HostState.DOWN),
    "stale": ("only stale", lambda h: h.state is HostState.STALE),
    "gone": ("only gone", lambda h: h.state is HostState.GONE),
    "problems": ("only with problems", lambda h: bool(h.problems)),
    "silent": ("only silent", lambda h: h.state is HostState.SILENT),
    "alerting": ("only with firing alerts", lambda h: any(a.state.value == "firing" for a in h.alerts)),
}


# under the counts when the filter or a show-only scope leaves an empty table although the fleet has hosts: an
# empty table says nothing of how to get them back
NOTHING_SHOWN_NOTE = "No host matches · Esc shows every host again"


def _scope_title(label: str) -> str:
    """A scope's palette entry in words: 'Show only down hosts', 'Show only hosts with problems' (the
    summary's short label, 'only with problems', read as a palette entry 'Show only with problems hosts')."""
    rest = label.removeprefix("only ")
    return f"Show only hosts {rest}" if rest.startswith("with ") else f"Show only {rest} hosts"


# under the counts while the table shows a first look at a large fleet (FleetSnapshot.targets_only)
FIRST_LOOK_NOTE = "First look from the scrape targets: push hosts, node names and alerts follow"
# ... and its columns whose values are still being read: their cells say so ("…"), not "none" ("·")
FIRST_LOOK_NOT_YET = frozenset({"alerts", "alloy"})


class FleetScreen(Screen[None]):
    # The footer shows the keys in this order and, at 80 columns, up to Logs: enrolling (the console's main
    # action) comes first; `r` is left to help and the palette, as the table reads the fleet by itself every
    # refresh_interval (and a failed read says so in the stale banner).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "app.enroll", "Enroll", id="fleet.enroll", tooltip="Enroll a host (the wizard)"),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="fleet.filter",
            tooltip="Filter: text, label=value, label!=value, label=~regex",
            # handled as the key arrives, before the keys behind it are handed on: `/web` arriving in one read
            # (a fast typist, a laggy SSH link) then types `web` into the box; handled where the table had the
            # focus, `web` went to the table and its `e` opened the enroll wizard
            priority=True,
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear",
            id="fleet.clear",
            show=False,
            tooltip="Clear the filter and the show-only scope",
        ),
        Binding(
            "r", "refresh", "Refresh", id="fleet.refresh", show=False, tooltip="Read the fleet from Prometheus now"
        ),
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
        Binding(
            "space",
            "toggle_mark",
            "Mark",
            id="fleet.mark",
            show=False,
            tooltip="Mark or unmark the host, then go to the next (l and D act on the marked hosts)",
        ),
        Binding(
            "l",
            "logs",
            "Logs",
            id="fleet.logs",
            tooltip="Alloy's logs of the marked hosts, merged (none: this host)",
        ),
        Binding(
            "L",
            "logs_shown",
            "Logs (shown)",
            id="fleet.logs_shown",
            show=False,
            tooltip="One merged log stream of the hosts shown (filter first)",
        ),
        Binding(
            "D",
            "doctor",
            "Doctor",
            id="fleet.doctor",
            tooltip="Doctor the marked hosts, tally first failures (none: this host)",
        ),
    ]

    HELP_TITLE = "fleet"
    # what the table does without a binding (its keys are bindings of its own, listed with the screen's)
    HELP_ROWS: ClassVar[list[tuple[str, str]]] = [("click header", "Sort by that column")]

    def __init__(self, feed: FleetFeed, *, key_labels: tuple[str, ...]) -> None:
        super().__init__(id="fleet")
        self.feed = feed
        self.clock = feed.clock
        self.snapshot: FleetSnapshot | None = None  # the one the table shows
        self.scope = ""
        self.filter_text = ""  # the filter applied (stripped)
        self._filter_typed = ""  # ... as typed, shown again when the box reopens
        self._text_filter: HostPredicate | None = None
        self._filter = HostFilter()
        self._label_names: frozenset[str] | None = None  # of self.snapshot, read when a filter note needs them
        self._columns = fleet_columns(key_labels, enriched=enriched(feed.source))
        self._counts: tuple[dict[str, int], int, int] = ({s.value: 0 for s in HostState}, 0, 0)
        self._told: set[str] = set()

    @property
    def error(self) -> str | None:
        """Why the last refresh failed (None: it worked)."""
        return self.feed.error

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        yield StaleBanner(id="stale")
        yield SummaryBar(id="summary")
        yield SummaryNote(id="summary-note")
        yield FilterBox(
            placeholder="filter: text  label=value  label!=value  label=~regex   (Enter: keep, Esc: clear)", id="filter"
        )
        yield FleetTable(self._columns, self.clock, id="table")
        yield KeyFooter()

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """This screen's palette entries (the app adds help and themes)."""
        yield PaletteCommand("Refresh now", "Read the fleet from Prometheus now (r)", self.action_refresh)
        yield PaletteCommand(
            "Filter hosts", "Filter by text, label=value, label!=value, label=~regex (/)", self.action_filter
        )
        yield PaletteCommand("Clear filter", "Show every host again (Esc)", self.action_clear_filter)
        for scope, (label, _) in SCOPES.items():
            title = _scope_title(label)
            yield PaletteCommand(title, f"{title} (again: all)", partial(self.action_scope, scope))
        yield PaletteCommand("Show all hosts", "Drop the show-only scope (a)", partial(self.action_scope, ""))
        for col in self.table.columns:
            yield PaletteCommand(
                f"Sort by {col.title}", f"Order the table by {col.title}", partial(self.sort_by, col.key)
            )
        yield PaletteCommand("Reverse sort order", "Flip the current order (O)", self.action_reverse_sort)
        yield from self._acting_commands()
        host = self.table.cursor_host
        if host is not None:
            yield PaletteCommand(
                f"Open {host.instance}",  # an outside value: the palette shows it as typed
                "Host detail for the host under the cursor (Enter)",
                partial(self.open_host, host.instance),
            )

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    def on_mount(self) -> None:
        self.sub_title = self.feed.location
        self.query_one(StaleBanner).clear()
        self.query_one("#filter", Input).display = False
        self.table.focus()
        self._update_summary()
        self.feed.subscribe(self)

    # --- data from the feed -----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.feed.refresh_now()

    @on(FleetRefreshed)
    def _fleet_refreshed(self, event: FleetRefreshed) -> None:
        if event.error is not None:
            self.show_failure(event.error)
        elif event.snapshot is not None and event.snapshot is not self.snapshot:
            self.apply_snapshot(event.snapshot)

    def apply_snapshot(self, snapshot: FleetSnapshot) -> None:
        table = self.table
        # without the cyclic collector (fleetui.gcpause): loading a whole fleet of 50,000 rows, the collections
        # its allocations set off made the load 96-152 ms instead of 72 (bench/console.py, the whole fleet
        # replacing a first look)
        with self.app.batch_update(), gc_paused():
            table.not_yet = FIRST_LOOK_NOT_YET if snapshot.targets_only else frozenset()
            if self.snapshot is None or self.snapshot.targets_only:  # a first look is replaced whole
                table.load(snapshot.by_instance(), snapshot.times)
            else:
                diff = diff_snapshots(self.snapshot, snapshot)
                if diff.empty:
                    table.set_times(snapshot.times)  # nothing changed, no last seen either: the ages moved on
                else:
                    table.apply(
                        (*diff.added, *diff.altered), diff.removed, diff.retimed, snapshot.by_instance(), snapshot.times
                    )
            self.snapshot = snapshot
            self._label_names = None
            # the backend's name in the title (not for "unknown"); what it cannot show is said once
            known = snapshot.backend if snapshot.backend != "unknown" else ""
            self.sub_title = " · ".join(filter(None, (self.feed.location, known)))
            for note in dict.fromkeys(snapshot.notes).keys() - self._told:
                self._told.add(note)
                self.notify(note, title=known or "backend", severity="warning", markup=False, timeout=30)
            hint = None if snapshot.targets_only else rules_hint(self.feed.source, snapshot)
            if hint and hint not in self._told:  # a suggestion, said once: not a warning
                self._told.add(hint)
                self.notify(hint, title="last seen", severity="information", markup=False, timeout=20)
            # counted once per snapshot, not on every filter keystroke
            self._counts = (snapshot.summary(), snapshot.with_problems, len(snapshot.hosts))
            self.query_one(StaleBanner).clear()
            self._update_summary()

    def show_failure(self, error: str) -> None:
        self.query_one(StaleBanner).show(
            error, self.snapshot.taken_at if self.snapshot else None, self.clock(), self.feed.interval
        )

    def host(self, instance: str) -> HostStatus | None:
        return self.table.hosts.get(instance)

    # --- filter, scope, sort ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        """Open the filter box on the current filter, cursor at the end, ready to edit like any text input; in
        the open box, `/` is typed like any other character (the binding is a priority one, see BINDINGS)."""
        box = self.query_one("#filter", FilterBox)
        if not box.display:
            if box.value != self._filter_typed:
                with box.prevent(Input.Changed):
                    box.value = self._filter_typed
            box.display = True
        if not box.opened_by("/"):
            box.cursor_position = len(box.value)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        # The box is the one source of its text: it is never written back from here, so an older Changed
        # still queued behind newer keystrokes (or a paste) cannot reset it; only the newest value counts.
        if event.value == event.input.value:
            self.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def set_filter(self, text: str) -> bool:
        """Apply a filter expression; a bad one is flagged on the box and the previous filter stays."""
        box = self.query_one("#filter", Input)
        try:
            parsed = parse_filter(text)
        except FilterError as e:
            box.add_class("-invalid")
            box.border_subtitle = safe.content(str(e))  # quotes the operator's text: never markup
            return False
        box.remove_class("-invalid")
        box.border_subtitle = ""
        self.filter_text, self._filter_typed = text.strip(), text
        self._filter = parsed
        self._text_filter = parsed.matches if parsed.terms else None
        self._apply_predicate()
        return True

    def action_clear_filter(self) -> None:
        """Esc: empty the box, close it, drop the filter and the show-only scope."""
        box = self.query_one("#filter", Input)
        with box.prevent(Input.Changed):
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
        if self.table.marked:
            parts.append(f"{len(self.table.marked_hosts)} marked")
        counts, problems, total = self._counts
        self.query_one(SummaryBar).show(counts, problems, total, len(self.table.view), " · ".join(parts))
        first_look = FIRST_LOOK_NOTE if self.snapshot is not None and self.snapshot.targets_only else ""
        # a label no host has is the more useful thing to say of an empty table (and the line is one at 80 columns)
        why = self._filter_note()
        empty = total and not self.table.view and (self.scope or self.filter_text) and not why
        self.query_one(SummaryNote).say(
            " · ".join(filter(None, (first_look, why, NOTHING_SHOWN_NOTE if empty else "")))
        )

    def _filter_note(self) -> str:
        """Why the filter may show nothing: label names it asks about that no host of the fleet has (a
        misremembered `env` for `environment`), with the closest real name. Nothing before the first read."""
        snapshot = self.snapshot
        if snapshot is None:
            return ""
        unknown = self._filter.unknown_labels(snapshot.hosts)
        if not unknown:
            return ""
        if self._label_names is None:  # one pass over the fleet per snapshot, not per keystroke
            self._label_names = label_names(snapshot.hosts)
        return unknown_labels_note(unknown, self._label_names)

    def _acted_on(self) -> list[HostStatus]:
        """What `l` and `D` act on: the marked hosts, else the host under the cursor."""
        marked = self.table.marked_hosts
        if marked:
            return marked
        host = self.table.cursor_host
        return [host] if host is not None else []

    def action_toggle_mark(self) -> None:
        host = self.table.cursor_host
        if host is not None:
            self.table.toggle_mark(host.instance)
            self.table.action_cursor(1)

    def action_clear_marks(self) -> None:
        self.table.clear_marks()

    def _acting_commands(self) -> Iterator[PaletteCommand]:
        """Palette entries for marks, logs and the doctor (what they act on is said in their help)."""
        marked = len(self.table.marked_hosts)
        what = f"the {marked} marked hosts" if marked else "the host under the cursor"
        yield PaletteCommand(
            "Mark or unmark host", "Mark the host under the cursor and go to the next (space)", self.action_toggle_mark
        )
        if marked:
            yield PaletteCommand("Unmark every host", f"Drop the marks of {marked} hosts", self.action_clear_marks)
        yield PaletteCommand("Alloy logs", f"Stream Alloy's logs of {what}, merged (l)", self.action_logs)
        yield PaletteCommand(
            "Alloy logs of the hosts shown",
            "One merged stream of the hosts shown, at most 20 (L)",
            self.action_logs_shown,
        )
        yield PaletteCommand(
            "Doctor", f"The troubleshooting checklist on {what}; a tally of first failures (D)", self.action_doctor
        )

    def action_logs(self) -> None:
        hosts = self._acted_on()
        if hosts:
            self.post_message(OpenLogs(hosts))

    def action_logs_shown(self) -> None:
        if self.table.view:
            self.post_message(OpenLogs(list(self.table.view)))

    def action_doctor(self) -> None:
        hosts = self._acted_on()
        if hosts:
            self.post_message(OpenDoctor(hosts))

    @on(FleetTable.HostSelected)
    def _open_host(self, event: FleetTable.HostSelected) -> None:
        event.stop()
        self.open_host(event.instance)

    def open_host(self, instance: str) -> None:
        """Ask the app for the host's detail screen (screens do not open each other)."""
        if self.host(instance) is not None:
            self.post_message(OpenHost(instance))
