"""Where the console gets the fleet from: anything with `async def snapshot() -> FleetSnapshot`.

The app never holds an HTTP client; it asks a FleetSource. In production that is PrometheusSource: the real
adapter, on a thread of its own with its own event loop, one HTTP client (and TLS context) for the life of
the console, and the reader's last-seen book. Decoding, classifying and diffing thousands of hosts is CPU
work; on the UI's event loop it stalled keys for seconds at 50,000 hosts. Here the UI only awaits a future,
and gets a snapshot that already carries its diff from the previous one.

After each refresh the source runs a bounded number of history steps in the background (last-seen times of
hosts that newly went down or gone, see fleetui.domain.lastseen); they never delay a refresh, and what they
find shows in the next one. With `state_dir` the book is kept on disk, so a restart loses nothing.

Snapshot tests hand the screen a fixed FleetSnapshot through FixedSource: that feeds the screen a domain
value to render deterministically; it does not stand in for Prometheus (Pilot tests use the real adapter
on the lab).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
import time
import weakref
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fleetui.config import Settings
from fleetui.domain.fleet import RULES_HINT, FleetSnapshot, diff_snapshots, enriched_diff
from fleetui.gate import step_aside
from fleetui.gcpause import RefreshHeap

if TYPE_CHECKING:
    from fleetui.adapters.prometheus import FleetReader, PrometheusClient

T = TypeVar("T")
SAVE_EVERY = 30.0  # seconds between writes of the last-seen file while it changes (and once at close)
# While the source's thread decodes and classifies, the UI's thread waits this long for the interpreter lock
# at every event-loop turn (each select() gives it up); Python's default 5 ms made a key that takes a dozen
# turns wait 60-150 ms behind a refresh at 10,000 hosts (measured with bench/console.py).
SWITCH_INTERVAL = 0.0005
# The background history steps start this long after a refresh is handed to the UI, so they do not decode
# their replies while the UI's thread applies that refresh to the table: with both threads busy each got half
# the interpreter lock, and an apply that adds 900-1,500 rows took 58-84 ms instead of 35-51 ms, with keys
# waiting behind it (50,000 hosts, half down, measured with bench/console.py)
HISTORY_AFTER = 0.3
# how long closing waits for the source's cancelled tasks to unwind (each closes its HTTP connections)
CLOSE_WAIT = 5.0


class FleetSource(Protocol):
    #: shown to the operator when a refresh fails ("http://prometheus:9090")
    location: str

    async def snapshot(self) -> FleetSnapshot: ...


def _stop(loop: asyncio.AbstractEventLoop) -> None:
    if not loop.is_closed():
        loop.call_soon_threadsafe(loop.stop)


def enriched(source: object) -> bool:
    """Whether `source`'s snapshots are enriched like `fleetui status`'s — firing alerts and Alloy drift — so
    the console shows their columns and sections. A source without the attribute is not: its fleet is shown
    without them."""
    return bool(getattr(source, "enriched", False))


def prefetch(source: object) -> None:
    """Have `source` begin its first refresh now, if it can (PrometheusSource.prefetch): the console calls this
    as it is created, so that refresh is on its way while Textual starts. A source without it does nothing."""
    begin = getattr(source, "prefetch", None)
    if callable(begin):
        begin()


async def first_look(source: object) -> FleetSnapshot | None:
    """The first look `source` offers at the fleet before its first refresh ends (PrometheusSource.first_look):
    None when it has none, or when the refresh ended (or failed) without one."""
    look = getattr(source, "first_look", None)
    if not callable(look):
        return None
    found: FleetSnapshot | None = await look()
    return found


def _warm_sort_keys(snap: FleetSnapshot, before: FleetSnapshot | None) -> None:
    """Compute the table's natural sort key of every new instance here, on the source's thread: the table
    sorts by it on the UI's thread, where 50,000 new keys took half a second (cached, so it finds them).
    Only the rows `snap` adds to `before` (its diff, already taken): the others' keys were computed when they
    came (every instance of every refresh cost 9-37 ms at 50,000 hosts, half down)."""
    from fleetui.tui.fmt import natural_key

    for h in diff_snapshots(before, snap).added:
        natural_key(h.instance)


def rules_hint(source: object, snapshot: FleetSnapshot) -> str | None:
    """What the console suggests once when last-seen is computed: install the recording rule `fleetui rules`
    prints (RULES_HINT). Only for a source that reads a real backend (`suggests_rules`): a fixed snapshot
    says nothing about any Prometheus."""
    if getattr(source, "suggests_rules", False) and not snapshot.recording_rule:
        return RULES_HINT
    return None


class PrometheusSource:
    """The fleet as the real Prometheus adapter reads it (five or six requests per refresh), off the UI's loop,
    enriched the way `fleetui status` enriches it: silent hosts from the targets directory, firing alerts (one
    more request, to Alertmanager or Prometheus' /api/v1/alerts) and Alloy drift (one instant query).

    `history_steps`: history requests allowed after each refresh (one at a time). `close()` when done.
    """

    def __init__(self, settings: Settings, *, state_dir: Path | None = None, history_steps: int = 40) -> None:
        self.settings = settings
        self.location = str(settings["prometheus.url"])
        self.history_steps = history_steps
        self.history_error: str | None = None  # the last history step's failure (retried after a refresh)
        self._state_path: Path | None = None
        if state_dir is not None:
            from fleetui.adapters.lastseen_file import book_path

            self._state_path = book_path(settings, state_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: PrometheusClient | None = None
        self._reader: FleetReader | None = None
        self._history: asyncio.Task[None] | None = None
        self._saved_at = 0.0
        self._last: FleetSnapshot | None = None  # the last snapshot handed out (enriched)
        self._last_plain: FleetSnapshot | None = None  # ... the reader's snapshot it was made from
        self._prefetched: concurrent.futures.Future[FleetSnapshot] | None = None  # the first refresh, begun early
        # ... and its first look at the fleet (None: there was none), see first_look
        self._first_look: concurrent.futures.Future[FleetSnapshot | None] | None = None
        self.enriched = True
        self.suggests_rules = True  # its snapshots say whether the backend records the last-seen rule
        self._heap = RefreshHeap()  # the collector around each refresh (fleetui.gcpause)

    @property
    def reader(self) -> FleetReader | None:
        """The reader (after the first refresh): its book and request counters, for tests and benchmarks."""
        return self._reader

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="fleetui-prometheus", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            weakref.finalize(self, _stop, loop)
        return self._loop

    async def _on_thread(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()))

    def prefetch(self) -> None:
        """Begin the first refresh now, on the source's thread; the first `snapshot()` returns it.

        The console calls this as it is created, so the refresh's requests are on their way while Textual
        starts (150-235 ms before the app asks for its first snapshot, measured at 50,000 hosts), instead of
        after: that much earlier on screen. The HTTP client is made here, on the caller's thread, before
        Textual starts: made on the source's thread, its imports waited for the interpreter lock that Textual's
        start held, and the fleet's queries went out 158-210 ms after the console was created, against 90-130 ms
        made here (10,000 hosts, measured). A client that cannot be made (a bad CA file) fails the refresh itself,
        as it did before."""
        if self._prefetched is None and self._reader is None:
            from fleetui.adapters.prometheus import PrometheusError

            with contextlib.suppress(PrometheusError):
                self._open_client()
            self._first_look = concurrent.futures.Future()
            self._prefetched = asyncio.run_coroutine_threadsafe(self._refresh(self._first_look), self._ensure_loop())

    async def first_look(self) -> FleetSnapshot | None:
        """A first look at a large fleet from its scrape targets, while the first refresh (begun by `prefetch`)
        still waits for the rest (fleetui.adapters.prometheus.FleetReader.first_look): the console shows it
        until that refresh ends. None when the refresh ended first, failed, or was not begun by `prefetch`.

        Handed out once: kept here, the look (25,000 rows at 50,000 healthy hosts) stayed in memory for as
        long as the console ran, long after the whole fleet had replaced it on screen."""
        look, self._first_look = self._first_look, None
        return None if look is None else await asyncio.wrap_future(look)

    async def snapshot(self) -> FleetSnapshot:
        begun, self._prefetched = self._prefetched, None
        if begun is not None:
            return await asyncio.wrap_future(begun)
        return await self._on_thread(self._refresh())

    async def catch_up(self) -> int:
        """Run every history step left now (tests and benchmarks; the console lets them run by themselves)."""
        return await self._on_thread(self._catch_up_all())

    def _open_client(self) -> PrometheusClient:
        """The one HTTP client, made on first use: by `prefetch` on the caller's thread, else by the first refresh
        on the source's thread (it is first used there either way)."""
        if self._client is None:
            from fleetui.adapters.prometheus import PrometheusClient, load_transport

            self._client = PrometheusClient(self.settings)
            load_transport()
        return self._client

    # --- on the source's own thread -----------------------------------------------------------------------

    def _open(self) -> FleetReader:
        if self._reader is None:
            from fleetui.adapters.lastseen_file import load_book
            from fleetui.adapters.prometheus import FleetReader

            client = self._open_client()
            book = None
            if self._state_path is not None:
                book = load_book(self._state_path, self.location, float(self.settings["lookback"]))
            self._reader = FleetReader(client, self.settings, book=book)
        return self._reader

    async def _refresh(self, look: concurrent.futures.Future[FleetSnapshot | None] | None = None) -> FleetSnapshot:
        try:
            return await self._read(look)
        finally:
            if look is not None and not look.done():
                look.set_result(None)  # the refresh ended (or failed) with no first look

    async def _read(self, look: concurrent.futures.Future[FleetSnapshot | None] | None) -> FleetSnapshot:
        from fleetui.adapters.fleet_extras import read_extras, with_extras

        def show_early(snap: FleetSnapshot) -> None:
            if look is None or look.done():  # no longer awaited (the console is closing)
                return
            _warm_sort_keys(snap, None)  # as for a refresh: the table sorts 25,000 new rows by these
            look.set_result(snap.counted())

        reader = self._open()
        # the whole refresh without the cyclic collector (see gc_paused), enrichment too: before the heap is
        # settled at the end, each of its passes over a 50,000-host first refresh walked every object just made
        # (with_drift took 204 ms there against 70 ms on its own). Settled before the collector is on again:
        # switched on with the whole refresh's objects still young, its first automatic pass walked them all
        # (16-35 ms at 50,000 hosts, half down) and settling's walked them again, each with the interpreter lock
        # held while the UI's thread waited for it
        with self._heap.around():
            # the extras (alerts, silent hosts, drift) are read while the refresh's requests are on their way
            reading = asyncio.ensure_future(read_extras(self.settings, client=self._client))
            try:
                snap = await reader.refresh(early=None if look is None else show_early)
            except BaseException:
                reading.cancel()  # the refresh failed (the console says why): its extras are of no use
                raise
            extras = await reading
            # enrichment rebuilds the snapshot (alerts, silent rows): its diff from the snapshot handed out last
            # time is the reader's, with the rows enrichment touched compared again (or, when the reader's is
            # not from the last one enriched, taken whole), still off the UI's thread
            before, plain_before, plain = self._last, self._last_plain, snap
            step_aside()
            snap = with_extras(plain, extras)
            step_aside()
            snap = snap.with_diff(before, enriched_diff(plain_before, plain, before, snap))
            step_aside()
            self._last = snap.counted()  # counts and rows by instance made here, not on the UI's thread
            self._last_plain = plain
            step_aside()
            _warm_sort_keys(snap, before)
            step_aside()
        if reader.book.busy and (self._history is None or self._history.done()):
            self._history = asyncio.get_running_loop().create_task(self._background(reader))
        else:
            self._save(force=False)
        return snap

    async def _background(self, reader: FleetReader) -> None:
        from fleetui.adapters.prometheus import PrometheusError

        try:
            await asyncio.sleep(HISTORY_AFTER)
            await reader.catch_up(self.history_steps, concurrency=1)
            self.history_error = None
        except PrometheusError as e:
            self.history_error = str(e)
        self._save(force=False)

    async def _catch_up_all(self) -> int:
        reader = self._open()
        if self._history is not None:
            with contextlib.suppress(BaseException):
                await self._history
        return await reader.catch_up()

    def _save(self, *, force: bool) -> None:
        reader, path = self._reader, self._state_path
        if reader is None or path is None or not reader.book.changed:
            return
        if not force and time.monotonic() - self._saved_at < SAVE_EVERY:
            return
        from fleetui.adapters.lastseen_file import save_book

        with contextlib.suppress(OSError):  # a cache: a read-only state dir must not break the console
            save_book(path, self.location, reader.book)
            self._saved_at = time.monotonic()

    async def _aclose(self) -> None:
        # every task still on this loop is ended before it stops: the first refresh begun by `prefetch` and never
        # asked for, a refresh the console stopped waiting for, its extras, the history steps. A task cancelled
        # but not awaited was still unwinding (closing its connections) when the loop stopped, and was destroyed
        # pending on the console's way out
        running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in running:
            task.cancel()
        if running:
            ended, _ = await asyncio.wait(running, timeout=CLOSE_WAIT)
            for task in ended:  # retrieved: a failure the console no longer waits for is not printed at exit
                if not task.cancelled():
                    task.exception()
        self._save(force=True)
        if self._client is not None:
            await self._client.aclose()
        self._client = self._reader = None

    def close(self) -> None:
        """Save the book, close the HTTP client and stop the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self._aclose(), loop).result(30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            if not thread.is_alive():
                loop.close()


class FixedSource:
    """A fixed FleetSnapshot, for snapshot tests and the 10k-host bench (a domain value, not a fake edge)."""

    def __init__(self, snapshot: FleetSnapshot, location: str = "fixed snapshot") -> None:
        self.current = snapshot
        self.location = location
        self.calls = 0

    @property
    def enriched(self) -> bool:
        """A fixed snapshot counts as enriched when it was built with alerts (`alerts_view` set)."""
        return self.current.alerts_view is not None

    async def snapshot(self) -> FleetSnapshot:
        self.calls += 1
        return self.current
