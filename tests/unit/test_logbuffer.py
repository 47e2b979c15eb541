"""The log pane's bounded buffer and filtered view (pure): capacity, dropped count, hide vs dim, levels."""

from __future__ import annotations

import pytest

from fleetui.domain.logbuffer import LogBuffer
from fleetui.domain.logline import Level, LineFilter, LogLine, note


def lines(start: int, n: int, level: Level = Level.INFO, host: str = "h") -> list[LogLine]:
    return [LogLine(host, f"level={level.label} msg=line{i}", float(i), level) for i in range(start, start + n)]


def texts(buf: LogBuffer) -> list[str]:
    return [ln.text.split("msg=")[1] for ln in buf.visible()]


def test_bounded_with_a_dropped_counter() -> None:
    buf = LogBuffer(5)
    assert buf.append(lines(0, 3)) == (3, 0)
    assert buf.append(lines(3, 4)) == (4, 2)
    assert texts(buf) == [f"line{i}" for i in range(2, 7)]
    assert (buf.kept, buf.dropped, buf.received, buf.first_seq) == (5, 2, 7, 2)
    # one batch bigger than the buffer keeps its tail
    buf.append(lines(7, 12))
    assert texts(buf) == [f"line{i}" for i in range(14, 19)] and buf.dropped == 14
    buf.skip(100)  # a burst the pane never rendered still counts
    assert buf.dropped == 114 and buf.received == 119
    with pytest.raises(ValueError):
        LogBuffer(0)


def test_hide_filter_and_drops_keep_the_view_consistent() -> None:
    buf = LogBuffer(6)
    buf.append(lines(0, 6))
    buf.set_filter(LineFilter("line[024]$"), hide=True)
    assert texts(buf) == ["line0", "line2", "line4"] and len(buf) == 3 and buf.kept == 6
    added, removed = buf.append(lines(6, 3))  # line6 matches; line0, line1, line2 fall out
    assert (added, removed) == (0, 2)
    assert texts(buf) == ["line4"]
    buf.append([note("h", "── resumed ──")])  # notes pass any filter
    assert len(buf) == 2 and buf.line_at(1).is_note
    buf.set_filter(LineFilter(), hide=True)  # no filter: every kept line again
    assert len(buf) == buf.kept == 6


def test_dim_mode_keeps_every_line_and_reports_matches() -> None:
    buf = LogBuffer(10)
    buf.append(lines(0, 4))
    buf.set_filter(LineFilter("line1"), hide=False)
    assert len(buf) == 4
    assert [buf.matches(ln) for ln in buf.visible()] == [False, True, False, False]


def test_level_filter_always_hides_and_counts_unlevelled_as_info() -> None:
    buf = LogBuffer(10)
    buf.append(lines(0, 2, Level.DEBUG) + lines(2, 2, Level.WARN) + lines(4, 1, Level.ERROR))
    buf.append([LogLine("h", "Started alloy.service", 9.0, None, "systemd")])
    buf.set_filter(LineFilter(min_level=Level.WARN), hide=False)
    assert texts(buf) == ["line2", "line3", "line4"]
    buf.set_filter(LineFilter(min_level=Level.INFO), hide=False)
    assert len(buf) == 4 and buf.line_at(3).source == "systemd"
    buf.append(lines(5, 2, Level.DEBUG))
    assert len(buf) == 4


def test_long_runs_compact_the_view() -> None:
    buf = LogBuffer(100)
    buf.set_filter(LineFilter("[02468]$"), hide=True)
    for start in range(0, 50_000, 1000):
        buf.append(lines(start, 1000))
    assert len(buf) == 50 and texts(buf)[0] == "line49900" and buf.dropped == 49_900
    assert len(buf._view or []) < 10_000  # the skipped front is compacted, not kept for ever
