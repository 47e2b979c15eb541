"""Console at scale: first paint with 10,000 hosts, and key latency while a refresh changes 100 of them.

Runs the real FleetApp headless (Textual's run_test, 160×50) over generated FleetSnapshots handed in through
FixedSource (a domain value, no Prometheus in the loop: the point is the UI's own cost). Prints figures;
targets from issue 5: first paint < 1 s, key latency during a 100-row refresh < 100 ms.

    .venv/bin/python bench/console.py [--hosts 10000] [--changed 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time

from textual import events

from fleetui.config import load
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, Mode, Problem
from fleetui.tui.app import FleetApp
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.source import FixedSource

NOW = 1_700_000_000.0
STATES = [HostState.UP] * 7 + [HostState.DOWN, HostState.STALE, HostState.GONE]


def fleet(n: int) -> FleetSnapshot:
    hosts = []
    for i in range(n):
        problems = (Problem("missing_label", "no environment label", "add environment=…"),) if i % 13 == 0 else ()
        hosts.append(
            HostStatus(
                instance=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:9100",
                state=STATES[i % len(STATES)],
                mode=Mode.PUSH if i % 5 == 0 else Mode.PULL,
                last_seen=NOW - (i % 3600),
                labels={
                    "job": "node",
                    "hostname": f"host-{i:05d}",
                    "environment": ("prod", "staging", "dev")[i % 3],
                    "maintainers": f"team-{i % 17}",
                },
                problems=problems,
            )
        )
    return FleetSnapshot(tuple(hosts), NOW)


def change(snapshot: FleetSnapshot, count: int, round_: int) -> FleetSnapshot:
    """`count` hosts spread over the fleet get a new state and last_seen."""
    hosts = list(snapshot.hosts)
    step = max(1, len(hosts) // count)
    for k in range(count):
        i = (k * step + round_) % len(hosts)
        h = hosts[i]
        hosts[i] = dataclasses.replace(
            h, state=STATES[(STATES.index(h.state) + 3) % len(STATES)], last_seen=NOW + round_
        )
    return FleetSnapshot(tuple(hosts), NOW + round_)


async def key_latency(app: FleetApp, screen: FleetScreen, key: str) -> float:
    """ms from the key entering the app (as a terminal's would) to the frame showing the moved cursor."""
    table = screen.table
    painted = asyncio.Event()
    original = table._set_cursor

    def set_cursor(index: int) -> None:
        original(index)
        table.call_after_refresh(painted.set)

    table._set_cursor = set_cursor  # type: ignore[method-assign]
    try:
        t = time.perf_counter()
        assert app._driver is not None
        app._driver.send_message(events.Key(key, None))
        await asyncio.wait_for(painted.wait(), 5)
        return (time.perf_counter() - t) * 1000
    finally:
        del table._set_cursor


async def bench(n: int, changed: int, rounds: int) -> None:
    settings = load(environ={}).with_overrides({"refresh_interval": 3600})
    first = fleet(n)
    source = FixedSource(first)
    t0 = time.perf_counter()
    app = FleetApp(settings, source, clock=lambda: NOW)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        while not (isinstance(screen, FleetScreen) and len(screen.table.view) == n):
            await asyncio.sleep(0.001)
            screen = app.screen
        t_loaded = time.perf_counter()
        await pilot.pause()  # the frame with the rows is composed and written
        t_painted = time.perf_counter()
        print(f"hosts: {n}")
        print(
            f"first paint (app start -> table with {n} rows on screen): {(t_painted - t0) * 1000:.0f} ms "
            f"(data handed over -> painted: {(t_painted - t_loaded) * 1000:.0f} ms + load)"
        )

        # cost of applying one refresh's diff (the longest a key can wait behind it)
        apply_ms = []
        key_ms = []
        base = first
        for r in range(1, rounds + 1):
            nxt = change(base, changed, r)
            t = time.perf_counter()
            screen.apply_snapshot(nxt)
            apply_ms.append((time.perf_counter() - t) * 1000)
            base = nxt
            await pilot.pause()
        for r in range(rounds + 1, 2 * rounds + 1):
            # a real refresh through the worker, with keys pressed while it lands
            source.current = change(base, changed, r)
            base = source.current
            screen.action_refresh()
            for key in ("down", "down", "pagedown", "up", "down", "pageup"):
                key_ms.append(await key_latency(app, screen, key))
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert len(screen.table.view) == n
        idle_ms = [await key_latency(app, screen, k) for k in ("down", "up") * 5]
        # sort and filter over the whole fleet (synchronous work on the UI's loop)
        t = time.perf_counter()
        screen.action_next_sort()
        sort_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        screen.set_filter("environment=prod")
        filter_ms = (time.perf_counter() - t) * 1000
        shown = len(screen.table.view)

    print(
        f"refresh changing {changed} rows, applied to the table (diff + upsert + re-sort + re-filter): "
        f"median {statistics.median(apply_ms):.1f} ms, max {max(apply_ms):.1f} ms over {rounds} rounds"
    )
    print(
        f"key latency while those refreshes land (key in -> cursor moved and frame written): median "
        f"{statistics.median(key_ms):.1f} ms, max {max(key_ms):.1f} ms over {len(key_ms)} keys"
    )
    print(
        f"key latency with no refresh: median {statistics.median(idle_ms):.1f} ms, "
        f"max {max(idle_ms):.1f} ms over {len(idle_ms)} keys"
    )
    print(f"sort by next column: {sort_ms:.0f} ms; filter environment=prod ({shown} rows): {filter_ms:.0f} ms")
    ok = (t_painted - t0) < 1.0 and max(key_ms) < 100
    print("targets (first paint < 1 s, key latency < 100 ms):", "met" if ok else "NOT met")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=10_000)
    p.add_argument("--changed", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    asyncio.run(bench(a.hosts, a.changed, a.rounds))


if __name__ == "__main__":
    main()
