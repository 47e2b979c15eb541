"""A Line-API table for thousands of hosts: paints only the lines on screen.

Why not Textual's DataTable: at 10,000 rows its first load costs ~1.4 s (row adds plus width measuring,
STYLE.md §4) and every `remove_row` rebuilds its row map. Here the table keeps a dict of hosts by instance
and a sorted, filtered list of their instances (the view); `render_line` turns one visible row into a Strip
on demand, so painting costs the same for 10 hosts or 10,000. Applying a refresh's diff costs what changed,
not the fleet: a host whose only change is its last-seen time keeps its row (the times are the snapshot's,
which the table is handed with the rows), and a row whose sort key and filter result stay the same is replaced
in the dict and nowhere else, since the view holds instances, not rows;
rows that move are found by bisect on the view's cached sort keys and merged back in, one pass of slices
over the view whatever their number; only a new sort or filter sorts every row. The cursor follows its
host (not its index) across refreshes, and the scroll offset is left where the operator put it.

Cells are plain strings made into Segments: nothing is parsed as markup, so a label value `[red]` shows as
typed. Colours come from component classes styled in styles/app.tcss through theme variables.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any, ClassVar, overload

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fleetui.domain.fleet import NO_TIMES, HostState, HostStatus, HostTimes
from fleetui.tui.columns import Column, natural_key

HostPredicate = Callable[[HostStatus], bool]

_STATE_CLASS = {
    HostState.UP: "fleet-table--up",
    HostState.DOWN: "fleet-table--down",
    HostState.STALE: "fleet-table--stale",
    HostState.GONE: "fleet-table--gone",
    HostState.SILENT: "fleet-table--gone",
}
NOT_YET = "…"  # a cell of a column in FleetTable.not_yet: its value is still being read


# Column widths come from every row. A load or a refresh that brings thousands of new rows (50,000 at a first
# start, tens of thousands found in history) measures the first _MEASURE_STEP at once and the rest in later
# turns of the UI's loop, so keys and frames get in between: measuring 12,500 rows at once held the UI for over
# 100 ms. Each later turn measures steps of _MEASURE_STEP rows for at most _MEASURE_SLICE seconds, and the next
# turn comes _MEASURE_GAP seconds later on a timer. Chained after each refresh of the screen instead, a key
# (whose handling dispatches several messages, each running the screen's waiting callbacks) waited behind a
# dozen steps: up to 254 ms while 25,000 rows of a first look were measured with a refresh going on (50,000
# hosts, measured with bench/console.py).
_MEASURE_STEP = 500
_MEASURE_SLICE = 0.004
_MEASURE_GAP = 0.01


_INSTANCE = attrgetter("instance")


def _span(layout: list[tuple[Column, int]]) -> int:
    """Cells taken by the columns of `layout` and the one-cell gaps between them."""
    return sum(w for _, w in layout) + len(layout) - 1 if layout else 0


def _header_width(c: Column) -> int:
    """The narrowest a column is: its title and one cell for the sort arrow, so the sorted column's header
    reads "probs▲" and not "prob…" (a cut arrow left no sign of what the table is sorted by)."""
    return max(c.min_width, cell_len(c.title) + 1)


class _Desc:
    """A sort key compared the other way round (descending column, ties still by instance ascending)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and bool(self.key == other.key)

    __hash__ = None  # type: ignore[assignment]


class _Shown(Sequence[HostStatus]):
    """The rows of a view of instances, looked up in the hosts dict as they are read."""

    __slots__ = ("_hosts", "_view")

    def __init__(self, view: list[str], hosts: Mapping[str, HostStatus]) -> None:
        self._view, self._hosts = view, hosts

    def __len__(self) -> int:
        return len(self._view)

    @overload
    def __getitem__(self, index: int) -> HostStatus: ...
    @overload
    def __getitem__(self, index: slice) -> list[HostStatus]: ...
    def __getitem__(self, index: int | slice) -> HostStatus | list[HostStatus]:
        if isinstance(index, slice):
            return list(map(self._hosts.__getitem__, self._view[index]))
        return self._hosts[self._view[index]]

    def __iter__(self) -> Iterator[HostStatus]:
        return map(self._hosts.__getitem__, self._view)


class FleetTable(ScrollView, can_focus=True):
    """Hosts as rows, `columns` as columns; sortable, filterable, with a row cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, tooltip="Move the cursor up"),
        Binding("down,j", "cursor(1)", "Down", show=False, tooltip="Move the cursor down"),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False, tooltip="First host"),
        Binding("end,G", "last", "Last", show=False, tooltip="Last host"),
        Binding("enter", "select", "Details", tooltip="Open the host under the cursor"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fleet-table--header",
        "fleet-table--header-sorted",
        "fleet-table--cursor",
        "fleet-table--up",
        "fleet-table--down",
        "fleet-table--stale",
        "fleet-table--gone",
        "fleet-table--problem",
        "fleet-table--dim",
        "fleet-table--mark",
    }
    # the table draws its own scrollbar (see _thumb): Textual's is given no cell
    DEFAULT_CSS = """
    FleetTable { scrollbar-size-vertical: 0; }
    FleetTable > .fleet-table--mark { color: $accent; text-style: bold; }
    """
    MARK = "✓ "  # the gutter of a marked row (the gutter is there only while some host is marked)

    class HostSelected(Message):
        """Enter (or a click on the cursor row) on a host."""

        def __init__(self, instance: str) -> None:
            super().__init__()
            self.instance = instance

    class ViewChanged(Message):
        """Sort, filter or content changed: the summary bar re-counts."""

    def __init__(self, columns: Sequence[Column], clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._unbound = list(columns)
        self._times: HostTimes = NO_TIMES  # the shown snapshot's times: the rows have none (see load, apply)
        self.columns = [c.with_times(self._times) for c in self._unbound]
        self._clock = clock
        self._hosts: Mapping[str, HostStatus] = {}  # read only unless _owned (see load, apply)
        self._owned = True
        self._view: list[str] = []  # the instances shown, in display order
        self._shown_keys: list[Any] = []  # beside it, each one's row key (_row_key): bisects compare them in C
        self._predicate: HostPredicate | None = None
        self.sort_key: str = self.columns[0].key
        self.sort_reverse = False
        self.cursor = 0
        self._natural: dict[str, int] = {c.key: _header_width(c) for c in self.columns}
        self._layout: list[tuple[Column, int]] = []
        self._layout_width = -1
        self._styles: dict[str, Style] = {}
        self._unmeasured: list[HostStatus] = []  # rows still to measure, in later turns (_measure_more)
        self.marked: set[str] = set()  # instances the operator marked (space): logs and doctor act on them
        # columns whose values the rows do not have yet (a first look has no alerts): shown as NOT_YET, not as
        # the column's "none"
        self.not_yet: frozenset[str] = frozenset()

    # --- data -------------------------------------------------------------------------------------------

    @property
    def view(self) -> Sequence[HostStatus]:
        """The hosts shown, in display order."""
        return _Shown(self._view, self._hosts)

    @property
    def hosts(self) -> Mapping[str, HostStatus]:
        return self._hosts

    @property
    def cursor_host(self) -> HostStatus | None:
        instance = self._cursor_instance()
        return None if instance is None else self._hosts[instance]

    def _cursor_instance(self) -> str | None:
        return self._view[self.cursor] if 0 <= self.cursor < len(self._view) else None

    def toggle_mark(self, instance: str) -> bool:
        """Mark or unmark a host; True when it is marked now."""
        if instance in self.marked:
            self.marked.discard(instance)
        elif instance in self._hosts:
            self.marked.add(instance)
        self._layout_width = -1
        self.refresh()
        self.post_message(self.ViewChanged())
        return instance in self.marked

    def clear_marks(self) -> None:
        self.marked.clear()
        self._layout_width = -1
        self.refresh()
        self.post_message(self.ViewChanged())

    @property
    def marked_hosts(self) -> list[HostStatus]:
        """The marked hosts still in the fleet: those shown in display order, then those the filter hides."""
        shown = [self._hosts[i] for i in self._view if i in self.marked]
        seen = {h.instance for h in shown}
        hidden = sorted((i for i in self.marked if i in self._hosts and i not in seen), key=natural_key)
        return shown + [self._hosts[i] for i in hidden]

    def set_times(self, times: HostTimes) -> None:
        """The times of the snapshot whose rows the table shows (last seen, in its cells and maybe its order).

        Only what the cells show: a table sorted by last seen re-sorts through `apply` (its `retimed`) or
        `load`, which take the times themselves."""
        if times is self._times:
            return
        self._times = times
        self.columns = [c.with_times(times) for c in self._unbound]
        self._layout_width = -1  # the layout holds the columns
        self.refresh()

    def load(self, hosts: Mapping[str, HostStatus] | Iterable[HostStatus], times: HostTimes | None = None) -> None:
        """Replace every row (the first snapshot, or the one after a first look), with their `times` (None: as
        they were): the cursor stays on its host.

        `hosts` by instance (a snapshot's by_instance(), made off the UI's thread) are taken as they are, read
        only, not gathered row by row. Rows replacing rows on screen (the whole fleet after a first look) keep
        the columns as wide as they are and are measured over the next turns, widening them as needed: measured
        and gathered before the frame, they made that load 131 ms of the UI's loop at 31,250 hosts (cProfile)."""
        keep = self._cursor_instance()
        shown = bool(self._hosts)
        if times is not None:
            self.set_times(times)
        if isinstance(hosts, Mapping):
            self._hosts, self._owned = hosts, False
        else:
            self._hosts, self._owned = {h.instance: h for h in hosts}, True
        if shown:
            self._measure_later(list(self._hosts.values()))
        else:
            self._measure(self._hosts.values(), reset=True)
        self._rebuild_view(keep=keep)

    def apply(
        self,
        changed: Sequence[HostStatus],
        removed: Iterable[str],
        retimed: Iterable[str] = (),
        hosts: Mapping[str, HostStatus] | None = None,
        times: HostTimes | None = None,
    ) -> None:
        """Apply a refresh's diff: upsert `changed` (added or modified), drop `removed` instances, show `times`
        (the new snapshot's; None: as they were).

        `retimed`: instances whose row is unchanged but whose last-seen time moved (FleetDiff.retimed): unless
        the view sorts by last seen, they neither move nor change width, so they need no look at all (most
        live hosts of every refresh). Any changed row whose sort key and filter result stay the same is
        replaced there too (a down host whose last-seen time was just found, at 50,000 hosts thousands per
        refresh): only rows that really move are taken out of the view and merged back in (see _move).

        `hosts`: every row once the diff is applied, by instance (the snapshot's by_instance(), made off the
        UI's thread), taken as it is, read only: the diff then only moves rows in the view. Without it, the
        diff is written into a dict of the table's own.
        """
        keep = self._cursor_instance()
        before = self._hosts
        leaving_key, old_sort_key = self._row_key(), self._sort_column().sort_key  # by the times shown so far
        if times is not None:
            self.set_times(times)
        column = self._sort_column()
        sort_key = column.sort_key
        predicate = self._predicate
        moving: list[HostStatus] = []  # unchanged rows whose new times move them (sorted by last seen)
        if column.timed is not None:
            for instance in retimed:
                row = before.get(instance)
                if row is not None and old_sort_key(row) != sort_key(row) and (predicate is None or predicate(row)):
                    moving.append(row)
        if hosts is None:
            after = before if self._owned and isinstance(before, dict) else dict(before)
        reshaped: list[HostStatus] = []  # in place, but their cells may be wider
        leaving: list[HostStatus] = []  # rows (as the view has them) to take out of the view
        arriving: list[HostStatus] = []  # rows to put in
        for h in changed:
            old = before.get(h.instance)
            if old is not None and (
                old_sort_key(old) == sort_key(h) and (predicate is None or predicate(old) == predicate(h))
            ):
                reshaped.append(h)
            else:
                if old is not None:
                    leaving.append(old)
                arriving.append(h)
            if hosts is None:
                after[h.instance] = h
        for instance in removed:
            old = before.get(instance)
            if old is not None:
                leaving.append(old)
                if hosts is None:
                    del after[instance]
        self._hosts, self._owned = (after, True) if hosts is None else (hosts, False)
        # measured over the next turns, not before the frame: a refresh rarely widens a column, and measuring
        # its first 500 changed rows at once was 42 of the 104 ms an apply took under cProfile (50,000 hosts,
        # half down)
        if reshaped or arriving:
            self._measure_later([*reshaped, *arriving])
        if not leaving and not arriving and not moving:
            self.refresh()  # nothing moved: repaint what is on screen
            return
        shown = arriving if predicate is None else list(filter(predicate, arriving))
        self._move([*leaving, *moving], [*shown, *moving], leaving_key)
        self._view_updated(keep)

    def _move(
        self, leaving: Sequence[HostStatus], arriving: Sequence[HostStatus], leaving_key: Callable[[HostStatus], Any]
    ) -> None:
        """Take `leaving` rows out of the view (found by their key as the view has it: `leaving_key`) and merge
        `arriving` ones in, in one pass over the view.

        Why not re-sort: at 50,000 hosts a re-sort touches every row (its sort key, its instance's natural
        key) and held the UI for 40-50 ms, whenever a refresh brought more than a few hundred hosts (tens of
        thousands found in history at a first start). Why not a list insert per row: each one moves the rest of
        the list. Here each row's place is a bisect on the view's cached keys (compared in C), and the view
        and its keys are rebuilt from slices between those places."""
        key = self._row_key()
        view, keys = self._view, self._shown_keys
        drop: list[int] = []
        for row in leaving:
            k = leaving_key(row)
            index = bisect.bisect_left(keys, k)
            if index < len(keys) and view[index] == row.instance:
                drop.append(index)
        if drop:
            drop.sort()
            starts = [0, *(i + 1 for i in drop)]
            ends = [*drop, len(view)]
            view = list(chain.from_iterable(map(view.__getitem__, map(slice, starts, ends))))
            keys = list(chain.from_iterable(map(keys.__getitem__, map(slice, starts, ends))))
        if arriving:
            incoming = sorted(zip(map(key, arriving), map(_INSTANCE, arriving), strict=True))
            at = [bisect.bisect_right(keys, k) for k, _ in incoming]
            new_view: list[str] = view[: at[0]]
            new_keys: list[Any] = keys[: at[0]]
            for (k, instance), start, end in zip(incoming, at, [*at[1:], len(view)], strict=True):
                new_view.append(instance)
                new_keys.append(k)
                new_view += view[start:end]
                new_keys += keys[start:end]
            view, keys = new_view, new_keys
        self._view, self._shown_keys = view, keys

    def _index(self, row: HostStatus) -> int | None:
        """Where the view shows `row` (as the hosts dict has it now), by bisect on the cached keys; None if it
        is not shown. Each instance has a key of its own (natural_key ends with the text), so bisect lands on it."""
        view = self._view
        index = bisect.bisect_left(self._shown_keys, self._row_key()(row))
        return index if index < len(view) and view[index] == row.instance else None

    def _sort_column(self) -> Column:
        return next(c for c in self.columns if c.key == self.sort_key)

    def _row_key(self) -> Callable[[HostStatus], Any]:
        """The view's order as one key: the sort column (descending when reversed), then the instance."""
        column_key = self._sort_column().sort_key
        if self.sort_reverse:
            return lambda h: (_Desc(column_key(h)), natural_key(h.instance))
        return lambda h: (column_key(h), natural_key(h.instance))

    def set_filter(self, predicate: HostPredicate | None) -> None:
        keep = self._cursor_instance()
        self._predicate = predicate
        self._rebuild_view(keep=keep)

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort on column `key`; without `reverse`, sorting the same column again flips the order."""
        if key not in {c.key for c in self.columns}:
            raise KeyError(key)
        if reverse is None:
            reverse = (not self.sort_reverse) if key == self.sort_key else False
        keep = self._cursor_instance()
        self.sort_key, self.sort_reverse = key, reverse
        self._rebuild_view(keep=keep)

    def move_cursor_to(self, instance: str) -> bool:
        row = self._hosts.get(instance)
        index = None if row is None else self._index(row)
        if index is None:
            return False
        self._set_cursor(index)
        return True

    def _rebuild_view(self, keep: str | None) -> None:
        """Sort and filter every row again, and cache each shown row's key (`_row_key`) beside the view."""
        column = self._sort_column()
        hosts: Iterable[HostStatus] = self._hosts.values()
        if self._predicate is not None:
            hosts = filter(self._predicate, hosts)
        rows = list(hosts)
        instances = list(map(_INSTANCE, rows))
        # every key worked out once, in C loops, then positions sorted by them: the natural keys (cached,
        # warmed off the UI's thread by the source) for the stable tiebreak on instance, then the column's;
        # a lambda per row in the sort cost 20-40 ms at 50,000 hosts
        natural = list(map(natural_key, instances))
        firsts = list(map(column.sort_key, rows))
        order = sorted(range(len(rows)), key=natural.__getitem__)
        order.sort(key=firsts.__getitem__, reverse=self.sort_reverse)
        self._view = list(map(instances.__getitem__, order))
        shown_firsts: Iterable[Any] = map(firsts.__getitem__, order)
        if self.sort_reverse:
            shown_firsts = map(_Desc, shown_firsts)
        self._shown_keys = list(zip(shown_firsts, map(natural.__getitem__, order), strict=True))
        self._view_updated(keep)

    def _view_updated(self, keep: str | None) -> None:
        view = self._view
        row = None if keep is None else self._hosts.get(keep)
        if row is not None:
            index = self._index(row)
            if index is not None:
                self.cursor = index
        self.cursor = max(0, min(self.cursor, len(view) - 1))
        self.virtual_size = Size(self.size.width, len(view) + 1)
        self._layout_width = -1
        self.refresh()
        self.post_message(self.ViewChanged())

    def _measure(self, hosts: Iterable[HostStatus], *, reset: bool) -> None:
        """Natural column widths from content (capped), so narrow data leaves room for more columns."""
        static = self._measured_columns()
        if reset:
            self._natural = {c.key: _header_width(c) for c in self.columns}
            self._unmeasured = []
        rows = hosts if isinstance(hosts, list | tuple) else list(hosts)
        if len(rows) > _MEASURE_STEP:
            self._measure_later(rows[_MEASURE_STEP:])
            rows = rows[:_MEASURE_STEP]
        self._measure_rows(rows, static)

    def _measured_columns(self) -> list[Column]:
        """The columns whose width comes from their rows: fixed-width ones need no measuring (their width is
        known without looking at a row)."""
        return [c for c in self.columns if not c.dynamic and c.min_width < c.max_width]

    def _measure_later(self, rows: Sequence[HostStatus]) -> None:
        """Measure `rows` in later turns of the loop (_measure_more)."""
        waiting = bool(self._unmeasured)
        self._unmeasured += rows
        if not waiting:
            self.set_timer(_MEASURE_GAP, self._measure_more)

    def _measure_more(self) -> None:
        """Waiting rows, _MEASURE_STEP at a time for at most _MEASURE_SLICE; the columns widen (and the table
        repaints) when they need to."""
        static = self._measured_columns()
        before = dict(self._natural)
        deadline = time.perf_counter() + _MEASURE_SLICE
        while self._unmeasured:
            rows = self._unmeasured[:_MEASURE_STEP]
            del self._unmeasured[:_MEASURE_STEP]
            self._measure_rows(rows, static)
            if time.perf_counter() >= deadline:
                break
        if self._natural != before:
            self.refresh()
        if self._unmeasured:
            self.set_timer(_MEASURE_GAP, self._measure_more)

    def _measure_rows(self, rows: Sequence[HostStatus], static: list[Column]) -> None:
        for c in static:
            width, cap, cell = self._natural[c.key], c.max_width, c.cell
            if width >= cap:
                continue
            for h in rows:
                n = len(cell(h, 0.0))
                if n > width:
                    width = min(n, cap)
                    if width >= cap:
                        break
            self._natural[c.key] = width
        self._layout_width = -1

    # --- layout and painting ----------------------------------------------------------------------------

    def _fit(self, width: int) -> list[tuple[Column, int]]:
        """Columns that fit in `width`, kept by priority, shown in declared order; spare width to `instance`."""
        if width == self._layout_width:
            return self._layout
        chosen: set[str] = set()
        used = 0
        for c in sorted(self.columns, key=lambda c: c.priority):
            need = self._natural[c.key] + (1 if chosen else 0)
            if used + need <= width or not chosen:
                chosen.add(c.key)
                used += need
        layout = [(c, self._natural[c.key]) for c in self.columns if c.key in chosen]
        self._layout, self._layout_width = layout, width
        return layout

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _style(self, name: str, cursor: bool = False) -> Style:
        """The widget's own style, then the cursor's (on the cursor row), then component class `name` ("" for
        none). Kept until the styles change (notify_style_update), as Textual keeps the component styles:
        composed again for every cell of every painted line, they were a fifth of a frame's cost."""
        key = f"{'>' if cursor else ''}{name}"
        style = self._styles.get(key)
        if style is None:
            if name:
                style = self._style("", cursor) + self.get_component_rich_style(name)
            elif cursor:
                style = self.rich_style + self.get_component_rich_style("fleet-table--cursor")
            else:
                style = self.rich_style
            self._styles[key] = style
        return style

    @staticmethod
    def _cell(text: str, width: int, right: bool) -> str:
        n = len(text) if text.isascii() and text.isprintable() else cell_len(text)
        if n > width:
            return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
        pad = " " * (width - n)
        return pad + text if right else text + pad

    @staticmethod
    def _strip(segments: list[Segment], used: int, width: int, style: Style, bar: Segment | None = None) -> Strip:
        """`segments`, `used` cells wide, as a line of exactly `width` cells, `bar` (one cell) last. A full page
        of new rows paints about fifty lines: measuring each line again, and a second Strip to pad it, was
        needless work there."""
        if used > width:
            segments = list(Strip(segments).crop(0, width))
        elif used < width:
            segments.append(Segment(" " * (width - used), style))
        if bar is not None:
            segments.append(bar)
            width += 1
        return Strip(segments, width)

    def _thumb(self) -> tuple[int, int] | None:
        """The scrollbar's thumb: from and to which line under the header (0 the first); None when every row
        fits. Drawn by the table in its last cell of each row, as one more segment of a line it paints anyway:
        Textual's own scrollbar, a widget of its own, was repainted whole at every scroll, about 8 of the 20 ms
        a page of new rows took to paint (10,000 hosts, 160x50). The mouse wheel scrolls as before; a click on
        the bar moves the cursor there (see on_click); the thumb cannot be dragged."""
        rows = self.size.height - 1
        total = len(self._view)
        if rows <= 0 or total <= rows:
            return None
        size = max(1, rows * rows // total)
        top_max = total - rows
        start = round((rows - size) * min(max(int(self.scroll_offset.y), 0), top_max) / top_max)
        return start, start + size

    def _bar(self, line: int, thumb: tuple[int, int]) -> Segment:
        """The scrollbar's cell on data line `line` (0 the first under the header), in the theme's scrollbar
        colours as Textual's own bar takes them."""
        part = "bar-thumb" if thumb[0] <= line < thumb[1] else "bar-track"
        style = self._styles.get(part)
        if style is None:
            behind, _ = self.background_colors
            track = behind + self.styles.scrollbar_background
            thumb_colour = track + self.styles.scrollbar_color
            self._styles["bar-track"] = Style(bgcolor=track.rich_color)
            self._styles["bar-thumb"] = Style(bgcolor=thumb_colour.rich_color)
            style = self._styles[part]
        return Segment(" ", style)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        thumb = self._thumb()
        if thumb is not None:
            width -= 1  # the bar's cell
        gutter = len(self.MARK) if self.marked else 0
        layout = self._fit(width - gutter)
        if y == 0:
            header = self._header(layout, width, gutter)
            return header if thumb is None else header.extend_cell_length(width + 1, self._style("fleet-table--header"))
        bar = None if thumb is None else self._bar(y - 1, thumb)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._view):
            return self._strip([], 0, width, self._style(""), bar)
        host = self._hosts[self._view[index]]
        now = self._clock()
        cursor = index == self.cursor
        style = self._style
        row_style = style("", cursor)
        dim = host.state is HostState.GONE
        segments: list[Segment] = []
        if gutter:
            marked = host.instance in self.marked
            segments.append(Segment(self.MARK if marked else " " * gutter, style("fleet-table--mark", cursor)))
        for i, (col, w) in enumerate(layout):
            if i:
                segments.append(Segment(" ", row_style))
            pending = col.key in self.not_yet
            text = self._cell(NOT_YET if pending else col.cell(host, now), w, col.right)
            if col.key == "state":
                cell_style = style(_STATE_CLASS[host.state], cursor)
            elif col.key == "problems" and host.problems:
                cell_style = style("fleet-table--problem", cursor)
            elif dim or pending:
                cell_style = style("fleet-table--dim", cursor)
            else:
                cell_style = row_style
            segments.append(Segment(text, cell_style))
        return self._strip(segments, gutter + _span(layout), width, row_style, bar)

    def _header(self, layout: list[tuple[Column, int]], width: int, gutter: int = 0) -> Strip:
        style = self._style("fleet-table--header")
        sorted_style = style + self.get_component_rich_style("fleet-table--header-sorted")
        segments: list[Segment] = [Segment(" " * gutter, style)] if gutter else []
        for i, (col, w) in enumerate(layout):
            if i:
                segments.append(Segment(" ", style))
            title = col.title
            is_sorted = col.key == self.sort_key
            if is_sorted:
                title = f"{title}{'▼' if self.sort_reverse else '▲'}"
            segments.append(Segment(self._cell(title, w, col.right), sorted_style if is_sorted else style))
        return self._strip(segments, gutter + _span(layout), width, style)

    def on_resize(self, event: events.Resize) -> None:
        self._layout_width = -1
        self.virtual_size = Size(event.size.width, len(self._view) + 1)

    # --- cursor and input -------------------------------------------------------------------------------

    def _set_cursor(self, index: int) -> None:
        index = max(0, min(index, len(self._view) - 1))
        old, self.cursor = self.cursor, index
        rows = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + rows:
            self.scroll_to(y=index - rows + 1, animate=False, immediate=True)
        self._refresh_row(old)
        self._refresh_row(index)

    def _refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh_line(y)
        else:
            self.refresh()

    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor + direction * max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self._view) - 1)

    def action_select(self) -> None:
        host = self.cursor_host
        if host is not None:
            self.post_message(self.HostSelected(host.instance))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            gutter = len(self.MARK) if self.marked else 0
            x = event.x - gutter
            for col, w in self._fit(self.size.width - gutter):
                if x < w + 1:
                    self.sort_by(col.key)
                    return
                x -= w + 1
            return
        thumb = self._thumb()
        if thumb is not None and event.x == self.size.width - 1:  # on the scrollbar: the cursor goes there
            rows = self.size.height - 1
            self._set_cursor(round((event.y - 1) * (len(self._view) - 1) / max(1, rows - 1)))
            return
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < len(self._view):
            if index == self.cursor:
                self.action_select()
            else:
                self._set_cursor(index)
