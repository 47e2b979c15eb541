"""The log pane as a screen: Alloy's logs of one host (host detail `l`) or of several merged (prefixed by host).

A worker reads the feed (fleetui.tui.log_source) and only appends to a list; a 100 ms timer hands whatever
arrived to the LogView in one batch (STYLE §4: per-call overhead dominates, so flush on a timer; Toolong uses
250 ms). Each flush repaints the pane, so 10 flushes a second leave most of the event loop to the keys (at 20
a second the repaints alone took a third of it, measured in bench/logs.py). Back pressure as in Toolong: once
10,000 lines wait for the next flush, the reader stops reading until it comes, so a fast host slows down its
own SSH stream (and journalctl) instead of the pane falling behind or skipping lines.
Stream events (connection lost, resumed with the cursor) become notes in the pane itself, so the place where
a stream was cut and resumed stays visible in the scrollback.
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Input
from textual.worker import Worker, WorkerState

from fleetui.adapters.alloy_logs import LinesEvent, StatusEvent, StreamState
from fleetui.adapters.ssh import OnUnknownKey
from fleetui.config import Settings
from fleetui.domain.fleet import HostStatus
from fleetui.domain.logline import FilterError, Level, LineFilter, LogLine
from fleetui.tui import safe
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.log_source import LogFeed, SshLogFeed
from fleetui.tui.safe import visible
from fleetui.tui.widgets.key_footer import KeyFooter
from fleetui.tui.widgets.log_view import LogView

LEVELS: tuple[Level | None, ...] = (None, Level.INFO, Level.WARN, Level.ERROR)
FLUSH_SECONDS = 0.1
MAX_MERGED = 20  # hosts in one merged stream from the fleet: one SSH session each


def save_name(name: str, now: float) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "hosts"
    return f"alloy-logs-{slug}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}.log"


def saved_text(line: LogLine) -> str:
    stamp = (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(line.ts)) + f".{int(line.ts * 1000) % 1000:03d}Z"
        if line.ts is not None
        else "-"
    )
    return f"{visible(line.host)} {stamp} {visible(line.text)}"


def quiet_gc() -> None:
    """Keep CPython's full collections out of the operator's way while lines stream in.

    A stream allocates lines, strips and lists all the time, so full (generation 2) collections come every few
    hundred milliseconds, and each walks every object of the app (~100,000: widgets, styles, the fleet):
    measured 50-140 ms pauses landing on key presses. Freezing what exists when the pane opens takes the app's
    long-lived objects out of those walks, and a higher generation-2 threshold makes them rare; young
    collections still run and reference counting frees the lines themselves. Undone when the pane closes.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1000)


#: how long a thread may hold the GIL while the loop waits for it, while the pane is open (CPython: 5 ms)
SWITCH_SECONDS = 0.001


class StatusLine(Widget):
    """One line of text that repaints without a layout pass (a Static's update re-lays out the screen, which
    at 20 flushes a second costs more than the log itself)."""

    DEFAULT_CSS = "StatusLine { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = Text()

    def show(self, text: Text) -> None:
        self.text = text
        self.refresh()

    def render(self) -> Text:
        return self.text


class LogScreen(Screen[None]):
    DEFAULT_CSS = """
    LogScreen #log { height: 1fr; }
    LogScreen #log-status { height: 1; width: 1fr; padding: 0 1; background: $panel; color: $text; }
    LogScreen #log-status.-paused { background: $warning-muted; }
    LogScreen #log-filter { height: 3; border: tall $accent; }
    LogScreen #log-filter.-invalid { border: tall $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "follow", "Follow", id="logs.follow", tooltip="Resume following: jump to the newest line"),
        Binding("slash", "filter", "Filter", id="logs.filter", tooltip="Filter lines by a regular expression"),
        Binding(
            "h", "toggle_hide", "Hide/dim", id="logs.hide", tooltip="Non-matching lines: hide them or only dim them"
        ),
        Binding("l", "next_level", "Level", id="logs.level", tooltip="Lowest level shown: all, info, warn, error"),
        Binding("w", "toggle_wrap", "Wrap", id="logs.wrap", tooltip="Wrap long lines"),
        Binding("t", "toggle_timestamps", "Time", id="logs.time", tooltip="Show each entry's time (UTC)"),
        Binding("s", "save", "Save", id="logs.save", tooltip="Save every line in the buffer to a file"),
        Binding("escape", "back", "Back", id="logs.back", tooltip="Clear the filter being typed, else close"),
    ]
    HELP_TITLE = "Alloy logs"
    HELP_ROWS: ClassVar[list[tuple[str, str]]] = [  # keys the pane itself handles (no screen binding)
        ("↑ PgUp Home", "Scroll back: pauses following and counts the new lines"),
        ("↓ PgDn End", "Scroll on; at the bottom (or End) following resumes"),
        ("← →", "Scroll sideways (long lines, wrap off)"),
    ]
    #: tune the garbage collector while open (see quiet_gc); the benchmark turns it off for a side-by-side
    tune_gc: ClassVar[bool] = True
    #: a shorter GIL switch interval while open: the reader parses bursts in a worker thread, and when the
    #: event loop wants the GIL back (a key, a frame) it waits until the thread's slice ends; 1 ms instead of
    #: CPython's 5 ms bounds that wait (bench/logs.py, 6 side-by-side runs at load 2-4: key latency p95
    #: 18-21 ms with it, 17-52 ms without; 5 of the 6 runs were better with it)
    switch_interval: ClassVar[float | None] = SWITCH_SECONDS

    def __init__(
        self,
        feed: LogFeed,
        *,
        buffer_lines: int = 10_000,
        save_dir: Path | None = None,
        show_host: bool = False,
    ) -> None:
        super().__init__(id="logs")
        self.feed = feed
        self.buffer_lines = buffer_lines
        self.save_dir = save_dir or Path.cwd()
        self._show_host = show_host
        self._pending: list[LogLine] = []
        self._drained = asyncio.Event()
        # lines waiting for the next flush before the reader pauses: one flush's worth, at most the buffer
        self.high_water = max(1, min(buffer_lines, 10_000))
        self.hosts: dict[str, StatusEvent] = {}
        self.line_filter = LineFilter()
        self.hide = False
        self.saved: Path | None = None
        self._worker: Worker[None] | None = None
        self._status_text = ""
        self._gc_thresholds: tuple[int, ...] | None = None
        self._switch_before: float | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        yield LogView(self.buffer_lines, show_host=self._show_host, id="log")
        yield Input(placeholder="filter: a regular expression (Enter: keep, Esc: clear)", id="log-filter")
        yield StatusLine(id="log-status")
        yield KeyFooter()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        if self.tune_gc:
            self._gc_thresholds = gc.get_threshold()
            quiet_gc()
        if self.switch_interval is not None:
            self._switch_before = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_before, self.switch_interval))
        self.title = "Alloy logs"
        self.sub_title = self.feed.name
        self.query_one("#log-filter", Input).display = False
        self.view.focus()
        self._worker = self.run_worker(
            self._pump(),
            name="logs",
            group="logs",
            description=f"read Alloy's logs of {self.feed.name}",
            exit_on_error=False,
        )
        self.set_interval(FLUSH_SECONDS, self.flush, name="log-flush")
        self._update_status()

    def on_unmount(self) -> None:
        if self._gc_thresholds is not None:
            gc.unfreeze()
            gc.set_threshold(*self._gc_thresholds)
        if self._switch_before is not None:
            sys.setswitchinterval(self._switch_before)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """This pane's palette entries (the app adds help and themes)."""
        yield PaletteCommand("Logs: follow", "Jump to the newest line and follow again (f)", self.action_follow)
        yield PaletteCommand("Logs: filter", "Filter lines by a regular expression (/)", self.action_filter)
        yield PaletteCommand("Logs: hide or dim non-matching lines", "Toggle (h)", self.action_toggle_hide)
        yield PaletteCommand(
            "Logs: next level", "Lowest level shown: all, info, warn, error (l)", self.action_next_level
        )
        yield PaletteCommand("Logs: wrap long lines", "Toggle (w)", self.action_toggle_wrap)
        yield PaletteCommand("Logs: entry times", "Show each entry's time in UTC (t)", self.action_toggle_timestamps)
        yield PaletteCommand("Logs: save the buffer", "Write every line in the buffer to a file (s)", self.action_save)

    # --- feeding ------------------------------------------------------------------------------------------

    async def _pump(self) -> None:
        async for ev in self.feed.events():
            if isinstance(ev, LinesEvent):
                self._pending.extend(ev.lines)
                if len(self._pending) >= self.high_water:
                    self._drained.clear()
                    await self._drained.wait()
                continue
            self.hosts[ev.host] = ev
            if ev.state in (StreamState.LOST, StreamState.RESUMED, StreamState.FAILED):
                self._pending.append(ev.as_note())
            if ev.state is StreamState.FAILED:
                self.notify(f"{visible(ev.host)}: {visible(ev.message)}", severity="error", timeout=8, markup=False)

    def flush(self) -> None:
        """Hand what arrived since the last flush to the pane in one batch."""
        pending = self._pending
        if pending:
            self._pending = []
            cap = self.buffer_lines
            if len(pending) > cap:  # would fall out of the buffer at once: count, do not render
                self.view.buffer.skip(len(pending) - cap)
                pending = pending[-cap:]
            self.view.append(pending)
        self._drained.set()
        self._update_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._worker and event.state is WorkerState.ERROR:
            error = event.worker.error
            stopped = f"── log reader stopped: {error} ──"
            self._pending.append(LogLine(self.feed.name, stopped, time.time(), None, "fleetui"))

    # --- status line --------------------------------------------------------------------------------------

    def status_line(self) -> str:
        v = self.view
        buf = v.buffer
        parts = ["● following" if v.following else f"‖ paused · +{v.new_lines:,} new lines (f: follow)"]
        parts.append(f"{buf.kept:,} lines" + (f" ({len(buf):,} shown)" if len(buf) != buf.kept else ""))
        if buf.dropped:
            parts.append(f"{buf.dropped:,} dropped")
        if self.line_filter.pattern:
            parts.append(f"/{visible(self.line_filter.pattern)}/ {'hidden' if self.hide else 'dimmed'} otherwise")
        if self.line_filter.min_level is not None:
            parts.append(f"level ≥ {self.line_filter.min_level.label}")
        if v.wrap:
            parts.append("wrap")
        states = list(self.hosts.values())
        if len(states) == 1:
            parts.append(f"{states[0].state.value}")
        elif states:
            counts: dict[str, int] = {}
            for ev in states:
                counts[ev.state.value] = counts.get(ev.state.value, 0) + 1
            parts.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        return "  ·  ".join(parts)

    def _update_status(self) -> None:
        text = self.status_line()
        if text != self._status_text:
            self._status_text = text
            bar = self.query_one("#log-status", StatusLine)
            bar.show(Text(text))
            bar.set_class(not self.view.following, "-paused")

    @on(LogView.FollowChanged)
    def _follow_changed(self) -> None:
        self._update_status()

    # --- actions ------------------------------------------------------------------------------------------

    def action_follow(self) -> None:
        self.view.follow()
        self._update_status()

    def action_filter(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_pattern(event.value)

    @on(Input.Submitted, "#log-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.view.focus()

    def set_pattern(self, pattern: str) -> bool:
        """Apply a text filter; an invalid regular expression is flagged and the previous filter stays."""
        box = self.query_one("#log-filter", Input)
        try:
            new = LineFilter(pattern, self.line_filter.min_level)
        except FilterError as e:
            box.add_class("-invalid")
            box.border_subtitle = safe.content(str(e))  # the error quotes the pattern as typed
            return False
        box.remove_class("-invalid")
        box.border_subtitle = ""
        if box.value != pattern:
            box.value = pattern
        self._apply(new, self.hide)
        return True

    def action_toggle_hide(self) -> None:
        self._apply(self.line_filter, not self.hide)
        self.notify("Non-matching lines are hidden" if self.hide else "Non-matching lines are dimmed", timeout=2)

    def action_next_level(self) -> None:
        i = LEVELS.index(self.line_filter.min_level)
        level = LEVELS[(i + 1) % len(LEVELS)]
        self._apply(LineFilter(self.line_filter.pattern, level), self.hide)

    def _apply(self, line_filter: LineFilter, hide: bool) -> None:
        self.line_filter, self.hide = line_filter, hide
        self.view.set_filter(line_filter, hide)
        self._update_status()

    def action_toggle_wrap(self) -> None:
        self.view.set_wrap(not self.view.wrap)
        self._update_status()

    def action_toggle_timestamps(self) -> None:
        self.view.set_timestamps(not self.view.timestamps)

    def action_save(self) -> None:
        path = self.save_dir / save_name(self.feed.name, time.time())
        lines = list(self.view.buffer.lines())
        try:
            with path.open("x", encoding="utf-8") as f:
                for ln in lines:
                    f.write(saved_text(ln) + "\n")
        except OSError as e:
            why = f"Could not save the logs: {e.strerror or e} ({path})"
            self.notify(why, severity="error", timeout=8, markup=False)
            return
        self.saved = path
        self.notify(f"Saved {len(lines):,} lines to {path}", timeout=5, markup=False)

    def action_back(self) -> None:
        box = self.query_one("#log-filter", Input)
        if box.has_focus:
            box.value = ""
            self.set_pattern("")
            box.display = False
            self.view.focus()
            return
        self.dismiss()


def open_logs(
    app: App[Any], hosts: Sequence[HostStatus], settings: Settings, *, on_unknown_key: OnUnknownKey | None = None
) -> LogScreen:
    """Push the log pane for fleet hosts: one SSH stream per host (reached as `ssh_host_for` says), merged.

    `on_unknown_key`: the console's host-key question (Operations.ask_host_key: the fingerprint in a dialog,
    trust or refuse); without it an unknown key is refused and the pane says so, with the fingerprint.
    """
    from fleetui.adapters.alloy_logs import HostLogStream
    from fleetui.adapters.ssh import SshTarget
    from fleetui.domain.hostarg import ssh_host_for

    streams = [
        HostLogStream.over_ssh(
            settings,
            h.instance,
            SshTarget(ssh_host_for(h), int(settings["ssh.port"]), str(settings["ssh.user"]), known_as=h.instance),
            follow=True,
            lines=500,
            on_unknown_key=on_unknown_key,
        )
        for h in hosts
    ]
    screen = LogScreen(SshLogFeed(streams), buffer_lines=int(settings["logs.buffer_lines"]), show_host=len(streams) > 1)
    app.push_screen(screen)
    return screen
