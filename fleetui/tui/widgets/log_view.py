"""The log pane: Alloy's lines, bounded, filterable, following by default (Toolong's Line API approach).

Why its own widget and not `Log`/`RichLog`: `RichLog` renders every write eagerly (~1,300 lines/s measured in
the brief), `Log` cannot colour by level, dim non-matches, wrap or keep a paused view steady while lines
fall out of a bounded buffer. Here the lines live in a `LogBuffer` (fleetui.domain.logbuffer) and
`render_line` builds only the rows on screen, from a small cache of Strips, so appending costs O(batch)
whatever the buffer size and painting costs O(screen).

Operator conventions (k9s, Toolong): following is on; scrolling away from the bottom pauses it and the pane
counts the lines that arrived meanwhile ("+N new lines"); scrolling back to the bottom, End or `follow()`
resumes. While paused, lines dropping out at the front shift the scroll position so the lines being read stay
put. Every string comes from a host: text is shown through `visible()` as Segments, never parsed as markup.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fleetui.domain.logbuffer import LogBuffer
from fleetui.domain.logline import Level, LineFilter, LogLine, clock_text
from fleetui.tui.safe import visible

_LEVEL_CLASS = {
    Level.DEBUG: "log-view--debug",
    Level.INFO: "log-view--info",
    Level.WARN: "log-view--warn",
    Level.ERROR: "log-view--error",
}


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
    }
    LogView > .log-view--debug { color: $text-muted; }
    LogView > .log-view--info { color: $foreground; }
    LogView > .log-view--warn { color: $warning; }
    LogView > .log-view--error { color: $error; text-style: bold; }
    LogView > .log-view--note { color: $accent; text-style: italic; }
    LogView > .log-view--host { color: $secondary; }
    LogView > .log-view--time { color: $text-muted; }
    LogView > .log-view--dim { color: $text-disabled; }
    LogView > .log-view--match { background: $accent 40%; text-style: bold; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--debug",
        "log-view--info",
        "log-view--warn",
        "log-view--error",
        "log-view--note",
        "log-view--host",
        "log-view--time",
        "log-view--dim",
        "log-view--match",
    }

    class FollowChanged(Message):
        """Following stopped (the operator scrolled up) or resumed."""

        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, capacity: int, *, show_host: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.buffer = LogBuffer(capacity)
        self.show_host = show_host
        self.following = True
        self.new_lines = 0  # lines that arrived while paused
        self.wrap = False
        self.timestamps = False
        self._host_width = 0
        self._styles: dict[str, Style] = {}
        # a few screens' worth: every Strip carries caches of its own, so a big cache costs GC time
        self._strips: LRUCache[int, Strip] = LRUCache(512)
        self._starts: list[int] | None = None  # wrap: first row of each visible line (+ total at the end)
        self._wrap_width = 0
        self._end_pending = False

    # --- feeding --------------------------------------------------------------------------------------------

    def append(self, lines: Sequence[LogLine]) -> None:
        """Add a batch (call it with many lines at once: the cost is per batch, not per line)."""
        if not lines:
            return
        rows_before = len(self.buffer)
        starts = self._starts
        added, removed = self.buffer.append(lines)
        kept_rows = rows_before - min(removed, rows_before)
        if self.show_host:
            width = max(len(visible(h)) for h in {ln.host for ln in lines})
            if width > self._host_width:
                self._host_width = width
                self._strips.clear()
        shift = min(removed, rows_before)
        if self.wrap and starts is not None:
            if shift:
                shift = starts[shift]
            self._starts = self._extend_starts(starts, min(removed, rows_before), kept_rows)
        else:
            self._starts = None
        self._update_virtual_size()
        if self.following:
            self._to_end()
        else:
            self.new_lines += added
            if shift:
                self.set_scroll(None, max(0, self.scroll_y - shift))
        self.refresh()

    def clear(self) -> None:
        self.buffer.clear()
        self._strips.clear()
        self._starts = None
        self.new_lines = 0
        self._update_virtual_size()
        self.refresh()

    # --- follow / pause -------------------------------------------------------------------------------------

    def _to_end(self) -> None:
        """Scroll to the newest line now, and once more after the next layout (a horizontal scrollbar that
        appears with a long line takes a row and moves the end)."""
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        if not self._end_pending:
            self._end_pending = True
            self.call_after_refresh(self._after_layout)

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        if shown and self.following:  # the scrollbar takes a row: the end moved
            self.call_after_refresh(self._after_layout)

    def _after_layout(self) -> None:
        self._end_pending = False
        if self.following and self.scroll_y < self.max_scroll_y:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def follow(self) -> None:
        """Resume following: jump to the newest line."""
        self._set_following(True)
        self._to_end()

    def pause(self) -> None:
        self._set_following(False)

    def _set_following(self, on: bool) -> None:
        if on == self.following:
            return
        self.following = on
        if on:
            self.new_lines = 0
        self.post_message(self.FollowChanged(on))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        at_end = new_value >= self.max_scroll_y
        if self.following and not at_end and new_value < old_value:
            self._set_following(False)
        elif not self.following and at_end and new_value > old_value:
            self._set_following(True)

    # --- display options ------------------------------------------------------------------------------------

    def set_filter(self, line_filter: LineFilter, hide: bool) -> None:
        self.buffer.set_filter(line_filter, hide)
        self._changed_display()

    def set_wrap(self, on: bool) -> None:
        self.wrap = on
        self._changed_display()

    def set_timestamps(self, on: bool) -> None:
        self.timestamps = on
        self._changed_display()

    def _changed_display(self) -> None:
        self._strips.clear()
        self._starts = None
        self._update_virtual_size()
        if self.following:
            self._to_end()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def on_resize(self) -> None:
        if self.wrap:
            self._starts = None
            self._update_virtual_size()
        if self.following:  # the first batch may have arrived before the pane had a size
            self._to_end()

    # --- geometry -------------------------------------------------------------------------------------------

    def _continuation_width(self, width: int) -> int:
        """Wrapped rows after the first are indented under the text (past host and time) when there is room."""
        indent = self._prefix_width()
        return width - indent if width - indent >= 20 else width

    def _prefix_width(self) -> int:
        return (self._host_width + 1 if self.show_host else 0) + (14 if self.timestamps else 0)

    def _text_width(self) -> int:
        return max(1, self.scrollable_content_region.width or self.size.width)

    def _update_virtual_size(self) -> None:
        if self.wrap:
            starts = self._row_starts()
            self._set_virtual_size(Size(self._text_width(), starts[-1]))
        else:
            self._set_virtual_size(Size(self._prefix_width() + self.buffer.longest, len(self.buffer)))

    def _set_virtual_size(self, size: Size) -> None:
        """Change the scrollable size without a layout pass of the whole screen when no scrollbar appears or
        goes: `virtual_size` is a layout reactive, and while lines stream with wrap or a level filter on, the
        row count changes on every flush (measured: one layout ~16 ms, most of a key's latency). Only the
        scrollbars' extents and the scroll limits change then, which `_scroll_update` does directly."""
        old = self.virtual_size
        if size == old:
            return
        width, height = self.container_size

        def side(extent: int, room: int) -> int:  # 1: needs a scrollbar, -1: clearly not, 0: at the edge
            return 1 if extent > room else -1 if extent <= room - 2 else 0

        same_bars = side(old.height, height) == side(size.height, height) != 0 and (
            side(old.width, width) == side(size.width, width) != 0
        )
        if not (self.is_mounted and height and same_bars):
            self.virtual_size = size
            return
        self.set_reactive(LogView.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _heights(self, lines: Iterable[LogLine], width: int) -> list[int]:
        """Rows each line takes when wrapped at `width` (one loop, no call per line: this runs for every
        streamed line while wrap is on, and for the whole buffer when wrap is switched on)."""
        room, step = width - self._prefix_width(), self._continuation_width(width)
        out: list[int] = []
        append = out.append
        for ln in lines:
            t = ln.text
            n = len(t) if t.isascii() and t.isprintable() else cell_len(visible(t))
            append(1 if n <= room else 1 + (n - room + step - 1) // step)
        return out

    def _row_starts(self) -> list[int]:
        """Wrap: cumulative row offsets of the visible lines (built lazily, O(visible lines))."""
        width = self._text_width()
        if self._starts is not None and self._wrap_width == width:
            return self._starts
        self._starts = list(itertools.accumulate(self._heights(self.buffer.visible(), width), initial=0))
        self._wrap_width = width
        return self._starts

    def _extend_starts(self, starts: list[int], removed: int, kept: int) -> list[int] | None:
        """Wrap while streaming: drop the rows of lines that fell out, add rows for the new ones (O(batch)
        instead of O(buffer) per flush). None (recompute later) when the width changed."""
        width = self._text_width()
        if self._wrap_width != width or removed + kept > len(starts) - 1:
            return None
        if removed:
            base = starts[removed]
            starts = [s - base for s in starts[removed:]]
        added = itertools.accumulate(self._heights(self.buffer.visible(kept), width), initial=starts[-1])
        next(added)  # the initial value: already the last entry
        starts.extend(added)
        return starts

    # --- painting -------------------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name, partial=False)
        return style

    def _line_strip(self, row: int) -> Strip:
        seq = self.buffer.seq_at(row)
        strip = self._strips.get(seq)
        if strip is not None:
            return strip
        line = self.buffer.line_at(row)
        segments: list[Segment] = []
        if self.show_host:
            segments.append(Segment(visible(line.host).ljust(self._host_width) + " ", self._style("log-view--host")))
        if self.timestamps:
            segments.append(Segment(clock_text(line.ts) + " ", self._style("log-view--time")))
        body = visible(line.text)
        if line.is_note:
            body_style = self._style("log-view--note")
        elif not self.buffer.matches(line):
            body_style = self._style("log-view--dim")
        else:
            level = line.level if line.level is not None else Level.INFO
            body_style = self._style(_LEVEL_CLASS[level])
        rx = self.buffer.pattern
        pos = 0
        if rx is not None and body_style is not self._style("log-view--dim") and not line.is_note:
            match_style = body_style + self._style("log-view--match")
            for m in rx.finditer(body):
                if m.end() == m.start():
                    continue
                if m.start() > pos:
                    segments.append(Segment(body[pos : m.start()], body_style))
                segments.append(Segment(body[m.start() : m.end()], match_style))
                pos = m.end()
        if pos < len(body):
            segments.append(Segment(body[pos:], body_style))
        strip = Strip(segments)
        self._strips[seq] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        row = scroll_y + y
        if not self.wrap:
            if row >= len(self.buffer):
                return Strip.blank(width, base)
            return self._line_strip(row).crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
        starts = self._row_starts()
        if row >= starts[-1]:
            return Strip.blank(width, base)
        index = bisect.bisect_right(starts, row) - 1
        strip = self._line_strip(index)
        sub = row - starts[index]
        if sub == 0:
            return strip.crop_extend(0, width, base).apply_style(base)
        step = self._continuation_width(width)
        start = width + (sub - 1) * step
        piece = strip.crop_extend(start, start + step, base)
        if step < width:
            piece = Strip([Segment(" " * (width - step), base), *piece])
        return piece.apply_style(base)

    # --- state for the status bar ---------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        return len(self.buffer)
