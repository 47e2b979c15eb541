"""The log pane's memory: a bounded buffer of LogLines and the rows a filter leaves visible. No UI.

Bounded so that memory and per-batch cost stay flat however long a stream runs (STYLE §4: prune a small
buffer rather than keep everything): the oldest lines fall out when `capacity` is reached and `dropped`
counts them. Lines get consecutive sequence numbers; the view is the list of sequence numbers that pass the
filter, so scrolling maps a row to a line in O(1) and appending costs O(batch). With no filter that hides
anything the view is the identity and no list is kept at all (the common, fast case).

Filter semantics: the level filter always hides lower levels; the text filter either hides non-matching
lines (`hide=True`) or leaves them in place for the pane to dim (`hide=False`).
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterator, Sequence

from fleetui.domain.logline import Level, LineFilter, LogLine


class LogBuffer:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self.first_seq = 0  # sequence number of the oldest line kept
        self.dropped = 0  # lines that fell out of the buffer
        self.received = 0
        self.longest = 0  # longest text seen (characters): the pane's width without wrapping
        self.filter = LineFilter()
        self.hide = False
        self._rx: re.Pattern[str] | None = None
        self._levels: frozenset[Level | None] | None = None  # levels the level filter lets through (None: all)
        self._view: list[int] | None = None  # None: every line is visible
        self._vstart = 0

    # --- contents -------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Visible rows (lines passing the filter)."""
        if self._view is None:
            return len(self._lines)
        return len(self._view) - self._vstart

    @property
    def kept(self) -> int:
        return len(self._lines)

    def line_at(self, row: int) -> LogLine:
        """The line of visible row `row` (0 = oldest visible)."""
        if self._view is None:
            return self._lines[row]
        return self._lines[self._view[self._vstart + row] - self.first_seq]

    def seq_at(self, row: int) -> int:
        return self.first_seq + row if self._view is None else self._view[self._vstart + row]

    def lines(self) -> Iterator[LogLine]:
        """Every line kept, oldest first, whatever the filter (what "save" writes)."""
        return iter(self._lines)

    def visible(self, start: int = 0) -> Iterator[LogLine]:
        """Visible lines from row `start` on, oldest first (one pass, no per-row lookups)."""
        if self._view is None:
            return itertools.islice(self._lines, start, None)
        lines, first = self._lines, self.first_seq
        return (lines[seq - first] for seq in itertools.islice(self._view, self._vstart + start, None))

    def skip(self, n: int) -> None:
        """Count `n` lines that arrived but fell out before they were ever kept (a burst above capacity)."""
        self.received += n
        self.dropped += n

    def clear(self) -> None:
        self.first_seq += len(self._lines)
        self._lines.clear()
        if self._view is not None:
            self._view, self._vstart = [], 0

    # --- appending ------------------------------------------------------------------------------------------

    def append(self, lines: Sequence[LogLine]) -> tuple[int, int]:
        """Add a batch; returns (visible rows added, visible rows that fell out at the front)."""
        n = len(lines)
        if not n:
            return 0, 0
        seq = self.first_seq + len(self._lines)
        overflow = max(0, len(self._lines) + n - self.capacity)
        self._lines.extend(lines)
        self.first_seq += overflow
        self.dropped += overflow
        self.received += n
        longest = max(map(len, (ln.text for ln in lines)))
        if longest > self.longest:
            self.longest = longest
        if self._view is None:
            return n, overflow
        view = self._view
        before = len(view)
        levels = self._levels
        if levels is not None and not (self.hide and self._rx is not None):
            # the level filter alone, the common case while streaming: a set lookup per line, no call
            view.extend([seq + i for i, ln in enumerate(lines) if ln.level in levels or ln.source == "fleetui"])
        else:
            shows = self._shows
            view.extend([seq + i for i, ln in enumerate(lines) if shows(ln)])
        added = len(view) - before
        removed = 0
        first = self.first_seq
        while self._vstart < len(view) and view[self._vstart] < first:
            self._vstart += 1
            removed += 1
        if self._vstart > 4096 and self._vstart * 2 > len(view):
            del view[: self._vstart]
            self._vstart = 0
        return added, removed

    # --- filtering ------------------------------------------------------------------------------------------

    def set_filter(self, line_filter: LineFilter, hide: bool) -> None:
        """Apply a filter; the view is rebuilt once (O(kept))."""
        self.filter, self.hide = line_filter, hide
        self._rx = line_filter.compiled()
        low = line_filter.min_level
        self._levels = None if low is None else frozenset(lv for lv in (None, *Level) if (lv or Level.INFO) >= low)
        if line_filter.min_level is None and not (hide and self._rx is not None):
            self._view, self._vstart = None, 0
            return
        first, shows = self.first_seq, self._shows
        self._view = [first + i for i, ln in enumerate(self._lines) if shows(ln)]
        self._vstart = 0

    def _shows(self, line: LogLine) -> bool:
        levels = self._levels
        if levels is not None and line.level not in levels and not line.is_note:
            return False
        if not self.hide or self._rx is None or line.is_note:
            return True
        return self._rx.search(line.text) is not None or self._rx.search(line.host) is not None

    def matches(self, line: LogLine) -> bool:
        """Does `line` match the text filter (True when there is none)? The pane dims the others."""
        rx = self._rx
        return rx is None or line.is_note or rx.search(line.text) is not None or rx.search(line.host) is not None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self._rx
