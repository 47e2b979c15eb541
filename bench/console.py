"""The console at scale: first paint, key latency while refreshes land, and peak RSS.

    .venv/bin/python bench/console.py [--source prometheus fixed] [--hosts 10000 50000]
                                      [--scenario healthy half-down] [--seconds 60] [--refresh-interval 5]

`prometheus` (the default): a private, real Prometheus holding a synthetic fleet with a day of history
(fleetui.lab.scale, built in a child process; root on Debian like the lab, so run it in a private network
namespace such as `/work/iso NAME`), and the real FleetApp with the real PrometheusSource on it, headless
(Textual's run_test, 160×50), nothing remembered from earlier runs (a first start). `fixed`: generated
FleetSnapshots handed in through FixedSource, each refresh changing 100 hosts (the UI's own cost alone).

Each configuration runs in a fresh process (so peak RSS is its own) and prints:
- first paint: from creating the app to the first frame composed with the table's rows (as the app hands it
  to the terminal); on a large fleet that is a first look from the scrape targets alone (FleetSnapshot
  .targets_only), and the time to the first frame with the whole fleet is printed beside it;
- key latency (a key sent from a thread of its own, as a terminal's input thread sends it, to the frame with
  the moved cursor; see Keyboard), with a key every 50 ms for `--seconds`, for keys sent while a refresh was
  being read or applied, and for the others: median, p95, max;
- the refreshes (count, duration) and peak RSS of the process.
With `--server` (or `--url`) and `--starts N`, first paint is also measured N more times, each in a fresh process
started 15 s after the one before ended (as long as a refresh interval: the first requests after a pause cost
Prometheus up to twice the CPU of the same requests a second later, so starts back to back would each meet a
server the one before had just warmed up), and printed as median, min and max with every value: one console
start meets Prometheus' own time for its first refresh, which varies by a factor of two within minutes.
Targets: first paint <= 1.0 s at 10,000 hosts and <= 3 s at 50,000; key latency during refreshes p95 <= 50 ms
and max <= 100 ms; RSS <= 150 MiB at 10,000 and <= 400 MiB at 50,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from textual import events

from fleetui.config import Settings, load
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, HostTimes, Mode, Problem
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.source import FixedSource, FleetSource, PrometheusSource, enriched, first_look, prefetch

NOW = 1_700_000_000.0
STATES = [HostState.UP] * 7 + [HostState.DOWN, HostState.STALE, HostState.GONE]


def fleet(n: int, now: float) -> FleetSnapshot:
    hosts = []
    seen: dict[str, float | None] = {}
    for i in range(n):
        problems = (Problem("missing_label", "no environment label", "add environment=…"),) if i % 13 == 0 else ()
        instance = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:9100"
        seen[instance] = now - (i % 3600)
        hosts.append(
            HostStatus(
                instance=instance,
                state=STATES[i % len(STATES)],
                mode=Mode.PUSH if i % 5 == 0 else Mode.PULL,
                labels={
                    "job": "node",
                    "hostname": f"host-{i:05d}",
                    "environment": ("prod", "staging", "dev")[i % 3],
                    "maintainers": f"team-{i % 17}",
                },
                problems=problems,
            )
        )
    return FleetSnapshot(tuple(hosts), now, times=HostTimes(seen))


class ChangingSource(FixedSource):
    """FixedSource whose every refresh changes `count` hosts spread over the fleet (state and last_seen)."""

    def __init__(self, snapshot: FleetSnapshot, count: int) -> None:
        super().__init__(snapshot)
        self.count = count

    async def snapshot(self) -> FleetSnapshot:
        snap = await super().snapshot()
        hosts = list(snap.hosts)
        seen = dict(snap.times.last_seen)
        step = max(1, len(hosts) // self.count)
        for k in range(self.count):
            i = (k * step + self.calls) % len(hosts)
            h = hosts[i]
            state = STATES[(STATES.index(h.state) + 3) % len(STATES)]
            hosts[i] = msgspec.structs.replace(h, state=state)
            seen[h.instance] = (seen.get(h.instance) or NOW) + 15
        times = HostTimes(seen, snap.times.scrape_duration)
        self.current = FleetSnapshot(tuple(hosts), snap.taken_at + 15, times=times).with_diff(snap)
        return snap


class Timed:
    """Wraps a FleetSource: records when each snapshot() was in flight (the refresh's read)."""

    def __init__(self, inner: FleetSource) -> None:
        self.inner = inner
        self.location = inner.location
        # what the console asks its source about, answered as the wrapped one answers (its columns, its hint)
        self.enriched = enriched(inner)
        self.suggests_rules = getattr(inner, "suggests_rules", False)
        self.windows: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.busy_since: float | None = None

    def prefetch(self) -> None:
        """As the app calls it on the source it wraps (see FleetFeed): the first refresh begun early."""
        prefetch(self.inner)

    async def first_look(self) -> FleetSnapshot | None:
        return await first_look(self.inner)

    async def snapshot(self) -> FleetSnapshot:
        t0 = time.perf_counter()
        self.busy_since = t0
        try:
            return await self.inner.snapshot()
        except Exception as e:
            self.errors.append(f"{type(e).__name__}: {e}")
            raise
        finally:
            self.busy_since = None
            self.windows.append((t0, time.perf_counter()))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    if not values:
        return "no keys"
    return (
        f"median {statistics.median(values):.1f} ms, p95 {pct(values, 95):.1f} ms, max {max(values):.1f} ms "
        f"({len(values)} keys)"
    )


class Keyboard:
    """Keys from a thread of their own, as a terminal's input thread sends them (Textual's driver posts each to
    the app's loop): each key's clock starts when it is sent, whatever the UI's loop is doing then, and stops at
    the frame showing the moved cursor. A key that comes while the loop is busy (applying a refresh, a timer's
    work) counts its wait. Sent from the UI's own loop, as before, a key could only go out between two of the
    loop's callbacks, so a long one never showed in the figures (a 150 ms one did not)."""

    def __init__(self, app: FleetApp, screen: FleetScreen) -> None:
        self.app, self.table = app, screen.table
        self._painted: threading.Event | None = None

    def press(self, key: str) -> float:
        """ms from sending `key` to the frame showing the moved cursor (on the calling thread; 10 s at most)."""
        painted = self._painted = threading.Event()
        driver = self.app._driver
        assert driver is not None
        t = time.perf_counter()
        driver.send_message(events.Key(key, None))
        if not painted.wait(10):
            raise SystemExit(f"no frame 10 s after the key {key!r}")
        return (time.perf_counter() - t) * 1000

    def type(self, keys: tuple[str, ...], until: Callable[[], bool], gap: float = 0.05) -> list[tuple[float, float]]:
        """`keys` in turn, one `gap` after the last one's frame, until `until()`: (sent at, ms) for each. The
        table tells of each key's frame only meanwhile (as it was before, once done)."""
        table = self.table
        original = table._set_cursor

        def set_cursor(index: int) -> None:
            original(index)
            painted = self._painted
            if painted is not None:
                table.call_after_refresh(painted.set)

        table._set_cursor = set_cursor  # type: ignore[method-assign]
        out: list[tuple[float, float]] = []
        try:
            while not until():
                sent = time.perf_counter()
                out.append((sent, self.press(keys[len(out) % len(keys)])))
                time.sleep(gap)
        finally:
            del table._set_cursor
        return out


def fleet_screen(app: FleetApp) -> FleetScreen | None:
    return next((s for s in app.screen_stack if isinstance(s, FleetScreen)), None)


async def run_console(
    settings: Settings, source: FleetSource, expected: Callable[[int], bool], seconds: float, clock: Callable[[], float]
) -> dict[str, Any]:
    timed = Timed(source)
    applies: list[float] = []
    original_apply = FleetScreen.apply_snapshot

    def apply_snapshot(self: FleetScreen, snapshot: FleetSnapshot) -> None:
        a = time.perf_counter()
        original_apply(self, snapshot)
        applies.append((time.perf_counter() - a) * 1000)

    FleetScreen.apply_snapshot = apply_snapshot  # type: ignore[method-assign]
    t0 = time.perf_counter()
    app = FleetApp(settings, timed, clock=clock)
    # the first frame composed with the fleet's rows, as the app hands it to the terminal (headless here, so
    # not written; Textual has composed it by then)
    painted: list[float] = []  # the first frame with rows
    whole: list[float] = []  # ... with the whole fleet (not a first look)
    first_rows = [0]

    original_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        original_display(screen, renderable)
        if whole or renderable is None or app._batch_count:
            return
        fleet = fleet_screen(app)
        if fleet is None or screen is not fleet or fleet.snapshot is None or not fleet.table.view:
            return
        now = time.perf_counter()
        if not painted:
            painted.append(now)
            first_rows[0] = len(fleet.table.view)
        if not fleet.snapshot.targets_only and expected(len(fleet.table.view)):
            whole.append(now)

    app._display = display  # type: ignore[method-assign]
    out: dict[str, Any] = {}
    looking: list[float] = []  # key latency while a first look is on screen, until the whole fleet is
    async with app.run_test(size=(160, 50)) as pilot:
        while not whole:
            if timed.errors:
                raise SystemExit(f"first refresh failed: {timed.errors[0]}")
            if time.perf_counter() - t0 > 120:
                raise SystemExit("no fleet on screen after 120 s")
            shown = fleet_screen(app)
            if painted and shown is not None:  # a first look: the keys work on it meanwhile
                typed = await asyncio.to_thread(Keyboard(app, shown).type, ("down", "up"), lambda: bool(whole))
                looking = [ms for _, ms in typed]
            else:
                await asyncio.sleep(0.005)
        out["looking"] = looking
        out["first_paint_ms"] = (painted[0] - t0) * 1000
        out["first_rows"] = first_rows[0]
        out["whole_ms"] = (whole[0] - t0) * 1000
        screen = fleet_screen(app)
        assert screen is not None
        await pilot.pause()
        out["rows"] = len(screen.table.view)
        end = time.perf_counter() + seconds
        keys = ("down", "down", "up", "pagedown", "pageup", "down", "up")
        typed = await asyncio.to_thread(Keyboard(app, screen).type, keys, lambda: time.perf_counter() >= end)
        # a key sent while a refresh was being read, or up to 0.5 s after (the refresh's apply on the UI's loop
        # comes right after its read), is one "during refreshes"
        windows = list(timed.windows)
        if timed.busy_since is not None:
            windows.append((timed.busy_since, end))
        during: list[float] = []
        idle: list[float] = []
        for sent, ms in typed:
            (during if any(a <= sent <= b + 0.5 for a, b in windows) else idle).append(ms)
        out["during"], out["idle"] = during, idle
        out["refreshes"] = [b - a for a, b in timed.windows]
        out["errors"] = timed.errors
        out["applies"] = applies[1:]  # after the first paint
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def report(title: str, r: dict[str, Any]) -> None:
    print(title, flush=True)
    if r["first_rows"] == r["rows"] and r["whole_ms"] == r["first_paint_ms"]:
        print(f"  first paint: {r['first_paint_ms']:.0f} ms ({r['rows']} rows, the whole fleet)")
    else:
        print(f"  first paint: {r['first_paint_ms']:.0f} ms ({r['first_rows']} rows: a first look, targets only)")
        print(f"  whole fleet on screen: {r['whole_ms']:.0f} ms ({r['rows']} rows)")
        if r["looking"]:
            print(f"  key latency while the first look was on screen: {summary(r['looking'])}")
    print(f"  key latency during refreshes: {summary(r['during'])}")
    print(f"  key latency between refreshes: {summary(r['idle'])}")
    ref = r["refreshes"]
    if ref:
        print(
            f"  refreshes: {len(ref)}, read in median {statistics.median(ref) * 1000:.0f} ms "
            f"(max {max(ref) * 1000:.0f} ms), failed: {len(r['errors'])}"
            + (f" ({r['errors'][0]})" if r["errors"] else "")
        )
    if r["applies"]:
        a = r["applies"]
        print(f"  applying a refresh on the UI's loop: median {statistics.median(a):.1f} ms, max {max(a):.1f} ms")
    print(f"  peak RSS: {r['peak_rss_mib']:.0f} MiB", flush=True)


def on_prometheus(base: Settings, url: str, expected: Callable[[int], bool], seconds: float) -> dict[str, Any]:
    """The console on the real PrometheusSource reading `url` (nothing remembered: a first start)."""
    settings = base.with_overrides({"prometheus.url": url})
    source = PrometheusSource(settings)
    try:
        return asyncio.run(run_console(settings, source, expected, seconds, time.time))
    finally:
        source.close()


def one(args: argparse.Namespace) -> None:
    """One configuration, in this process (run by main() in a child process)."""
    base = load(environ={}).with_overrides({"refresh_interval": args.refresh_interval})
    if args.source == "fixed":
        src = ChangingSource(fleet(args.hosts, NOW), 100)
        r = asyncio.run(run_console(base, src, lambda n: n == args.hosts, args.seconds, lambda: NOW))
        report(f"{args.hosts} hosts, fixed snapshots (100 hosts change per refresh):", r)
        return
    if args.server or args.url:
        if args.server:
            info = json.loads(Path(args.server).read_text())
            live = info["counts"].get("up", 0) + info["counts"].get("down", 0)
            r = on_prometheus(base, info["url"], lambda n: n >= live, args.seconds)
            title = f"{info['hosts']} hosts, {info['scenario']}, real Prometheus with a day of history:"
        else:  # an existing Prometheus (for development): the first rows on screen are the first paint
            r = on_prometheus(base, args.url, lambda n: n > 0, args.seconds)
            title = f"{args.url}:"
        if args.paint_only:  # one of `--starts`: the parent prints them together
            print(json.dumps({"first_paint_ms": r["first_paint_ms"], "whole_ms": r["whole_ms"]}), flush=True)
        else:
            report(title, r)
        return
    from fleetui.lab.scale import ScaleServer

    with tempfile.TemporaryDirectory(dir="/srv" if Path("/srv").is_dir() else None) as tmp:
        server = ScaleServer(Path(tmp) / "prom", args.hosts, args.scenario)
        try:
            counts = server.info["counts"]
            live = counts.get("up", 0) + counts.get("down", 0)  # what the first refresh can show
            r = on_prometheus(base, server.url, lambda n: n >= live, args.seconds)
        finally:
            server.stop()
    report(f"{args.hosts} hosts, {args.scenario}, real Prometheus with a day of history:", r)


def first_paints(a: argparse.Namespace) -> None:
    """`--starts N`: first paint of N more console starts, each a fresh process, 15 s apart (see the docstring)."""
    where = ["--server", a.server] if a.server else ["--url", a.url]
    cmd = [
        sys.executable,
        __file__,
        *where,
        "--paint-only",
        "--seconds=0",
        f"--refresh-interval={a.refresh_interval}",
    ]
    found: list[float] = []
    wholes: list[float] = []
    for i in range(a.starts):
        if i:
            time.sleep(15)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        got = json.loads(out.strip().splitlines()[-1])
        found.append(got["first_paint_ms"])
        wholes.append(got["whole_ms"])
    for what, values in (("first paint", found), ("whole fleet on screen", wholes)):
        print(
            f"{what} over {len(values)} starts, 15 s apart: median {statistics.median(values):.0f} ms "
            f"(min {min(values):.0f}, max {max(values):.0f}; each: {', '.join(f'{v:.0f}' for v in values)})",
            flush=True,
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", nargs="+", default=["prometheus"], choices=["prometheus", "fixed"])
    p.add_argument("--hosts", type=int, nargs="+", default=[10_000, 50_000])
    p.add_argument("--scenario", nargs="+", default=["healthy", "half-down"])
    p.add_argument("--seconds", type=float, default=60.0, help="how long keys are pressed")
    p.add_argument("--refresh-interval", type=float, default=5.0)
    p.add_argument("--url", help="measure against this running Prometheus instead of building a fleet")
    p.add_argument("--server", help="a JSON line from `python -m fleetui.lab.scale serve`: measure that fleet")
    p.add_argument("--starts", type=int, default=0, help="with --server or --url: first paint of N more starts")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--paint-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    more_starts = a.starts > 0 and bool(a.server or a.url) and not a.paint_only
    if a.server or a.url:  # one Prometheus already serving: measure it once, in this process (nothing to build)
        a.one, a.source, a.scenario = True, ["prometheus"], ["-"]
    if a.one:
        a.hosts, a.scenario, a.source = a.hosts[0], a.scenario[0], a.source[0]
        one(a)
        if more_starts:
            time.sleep(15)
            first_paints(a)
        return
    for source in a.source:
        for n in a.hosts:
            for scenario in a.scenario if source == "prometheus" else ["-"]:
                cmd = [sys.executable, __file__, "--one", f"--source={source}", f"--hosts={n}"]
                cmd += [f"--scenario={scenario if scenario != '-' else 'healthy'}", f"--seconds={a.seconds}"]
                cmd += [f"--refresh-interval={a.refresh_interval}"]
                subprocess.run(cmd, check=False)


if __name__ == "__main__":
    main()
