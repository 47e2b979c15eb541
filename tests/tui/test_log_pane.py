"""Pilot tests: what an operator does in the log pane — scroll up to pause, see new lines counted, resume,
filter (dim, then hide), pick a level, wrap, timestamps, save the buffer, go back.

Lines come from QueueLogFeed, an in-process source the test fills (log_fixture: Alloy's real formats as
domain values, not a mock of a host); the pane over a real SSH stream is in test_lab_logs.py.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from fleet_fixture import make_app
from log_fixture import alloy_lines, numbered

from fleetui.adapters.alloy_logs import StatusEvent, StreamState
from fleetui.domain.logline import Level, LogLine
from fleetui.tui.log_source import QueueLogFeed
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.logs import LogScreen


async def _open(app: Any, pilot: Any, feed: QueueLogFeed, **kw: Any) -> LogScreen:
    await app.workers.wait_for_complete()
    screen = LogScreen(feed, **kw)
    app.push_screen(screen)
    await pilot.pause()
    return screen


async def _deliver(pilot: Any, screen: LogScreen) -> None:
    """Let the reader take what was put, then flush it into the pane (the 50 ms timer would do the same)."""
    await pilot.pause()
    screen.flush()
    await pilot.pause()


def _row(screen: LogScreen, y: int) -> str:
    return screen.view.render_line(y).text


async def test_scrolling_up_pauses_counts_new_lines_and_f_resumes(tmp_path: Path) -> None:
    feed = QueueLogFeed("web-01")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot, feed, save_dir=tmp_path)
        view = screen.view
        feed.put(numbered("web-01", 0, 200))
        await _deliver(pilot, screen)
        assert view.following and view.scroll_y == view.max_scroll_y > 0
        assert "line 199" in _row(screen, view.scrollable_content_region.height - 1)  # newest line at the bottom
        await pilot.press("pageup")
        await pilot.pause()
        assert not view.following
        top = view.scroll_y
        shown = _row(screen, 0)
        feed.put(numbered("web-01", 200, 57))
        await _deliver(pilot, screen)
        assert view.scroll_y == top and _row(screen, 0) == shown  # what I am reading stays put
        assert "paused · +57 new lines (f: follow)" in screen.status_line()
        assert "257 lines" in screen.status_line()
        await pilot.press("f")
        await pilot.pause()
        assert view.following and view.new_lines == 0 and view.scroll_y == view.max_scroll_y
        assert screen.status_line().startswith("● following")
        # scrolling back down to the end by hand resumes too
        await pilot.press("up", "up")
        assert not view.following
        await pilot.press("end")
        await pilot.pause()
        assert view.following


async def test_paused_view_stays_on_its_lines_while_the_buffer_drops_old_ones() -> None:
    feed = QueueLogFeed("web-01")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot, feed, buffer_lines=300)
        view = screen.view
        feed.put(numbered("web-01", 0, 300))
        await _deliver(pilot, screen)
        await pilot.press("pageup")
        await pilot.pause()
        shown = _row(screen, 3)
        feed.put(numbered("web-01", 300, 40))  # 40 oldest lines fall out of the buffer
        await _deliver(pilot, screen)
        assert view.buffer.dropped == 40 and _row(screen, 3) == shown
        assert "40 dropped" in screen.status_line()
        # a burst above the buffer size is counted, never rendered
        feed.put(numbered("web-01", 340, 1000))
        await _deliver(pilot, screen)
        assert view.buffer.kept == 300 and view.buffer.dropped == 1040
        assert view.buffer.line_at(0).text.endswith('msg="line 1040"')


async def test_filter_dims_then_hides_and_escape_clears() -> None:
    feed = QueueLogFeed("web-01")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _open(app, pilot, feed)
        view = screen.view
        feed.put(alloy_lines("web-01", repeat=2))
        await _deliver(pilot, screen)
        total = view.buffer.kept
        await pilot.press("slash", *"remote_write", "enter")
        assert view.has_focus and len(view.buffer) == total  # dimmed, not hidden
        matching = [ln for ln in view.buffer.visible() if view.buffer.matches(ln)]
        assert len(matching) == 6  # the WAL, 429 and 404 lines, twice
        assert "/remote_write/ dimmed otherwise" in screen.status_line()
        await pilot.press("h")
        assert len(view.buffer) == 6 and all("remote_write" in ln.text for ln in view.buffer.visible())
        assert "hidden otherwise" in screen.status_line()
        await pilot.press("slash", "left_square_bracket")  # `[`: not a regular expression
        box = screen.query_one("#log-filter")
        assert box.has_class("-invalid") and "not a regular expression" in str(box.border_subtitle)
        assert screen.line_filter.pattern == "remote_write"  # the previous filter stays
        await pilot.press("escape")  # clears the filter being typed, stays in the pane
        assert isinstance(app.screen, LogScreen) and len(view.buffer) == total and view.has_focus


async def test_level_key_cycles_and_hides_lower_levels() -> None:
    feed = QueueLogFeed("web-01")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, feed)
        view = screen.view
        feed.put(alloy_lines("web-01"))
        await _deliver(pilot, screen)
        levels = [ln.level for ln in view.buffer.visible()]
        assert Level.DEBUG in levels
        await pilot.press("l")  # info and worse
        assert all(ln.level is not Level.DEBUG for ln in view.buffer.visible())
        await pilot.press("l")  # warn and worse
        assert {ln.level for ln in view.buffer.visible()} == {Level.WARN, Level.ERROR}
        assert "level ≥ warn" in screen.status_line()
        await pilot.press("l")
        assert {ln.level for ln in view.buffer.visible()} == {Level.ERROR}
        await pilot.press("l")  # back to everything
        assert len(view.buffer) == view.buffer.kept


async def test_wrap_timestamps_and_visible_control_characters() -> None:
    feed = QueueLogFeed("web-01")
    app = make_app()
    async with app.run_test(size=(80, 30)) as pilot:
        screen = await _open(app, pilot, feed)
        view = screen.view
        feed.put(alloy_lines("web-01"))
        await _deliver(pilot, screen)
        rows = view.virtual_size.height
        await pilot.press("w")
        assert view.wrap and view.virtual_size.height > rows and view.virtual_size.width <= 80
        assert "wrap" in screen.status_line()
        await pilot.press("t")
        await pilot.pause()
        text = "\n".join(_row(screen, y) for y in range(view.size.height))
        assert "05:33:5" in text and "\x1b" not in text  # entry times in UTC; no escape reaches the terminal
        last = view._line_strip(len(view.buffer) - 1).text  # the whole line, before wrapping
        assert last.startswith("05:33:57.271Z ts=") and "\\x1b[31m" in last and "[red]markup stays text[/red]" in last


async def test_stream_events_become_notes_and_status() -> None:
    feed = QueueLogFeed("cache-01")
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _open(app, pilot, feed)
        feed.put_event(StatusEvent("cache-01", StreamState.STREAMING, "reading the journal of alloy.service"))
        feed.put(numbered("cache-01", 0, 3))
        feed.put_event(StatusEvent("cache-01", StreamState.LOST, "connection lost (reset); reconnecting"))
        feed.put_event(StatusEvent("cache-01", StreamState.RESUMED, "reconnected after 0.4s; resumed after …"))
        feed.put(numbered("cache-01", 3, 2))
        await _deliver(pilot, screen)
        notes = [ln.text for ln in screen.view.buffer.lines() if ln.is_note]
        assert notes == ["── connection lost (reset); reconnecting ──", "── reconnected after 0.4s; resumed after … ──"]
        assert screen.status_line().endswith("resumed")


async def test_save_writes_the_whole_buffer_and_escape_goes_back(tmp_path: Path) -> None:
    feed = QueueLogFeed("web-01")
    thresholds = gc.get_threshold()
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _open(app, pilot, feed, save_dir=tmp_path)
        feed.put(alloy_lines("web-01"))
        feed.put([LogLine("web-01", "level=error msg=\x1b]0;owned\x07", 1_747_632_900.5, Level.ERROR)])
        await _deliver(pilot, screen)
        await pilot.press("l", "l", "l")  # a filter does not limit what is saved
        await pilot.press("s")
        assert screen.saved is not None and screen.saved.parent == tmp_path
        assert screen.saved.name.startswith("alloy-logs-web-01-") and screen.saved.suffix == ".log"
        saved = screen.saved.read_text().splitlines()
        assert len(saved) == screen.view.buffer.kept == 11
        assert saved[0].startswith("web-01 2025-05-19T05:33:48.271Z Started alloy.service")
        assert saved[-1] == "web-01 2025-05-19T05:35:00.500Z level=error msg=\\x1b]0;owned\\x07"
        assert gc.get_freeze_count() > 0  # the pane quiets the GC while open (see quiet_gc)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0  # and gives it back
