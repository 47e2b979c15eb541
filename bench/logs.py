"""The log pane under load: lines/s it takes in, key latency while it streams, memory over 1,000,000 lines.

    .venv/bin/python bench/logs.py [--lines 300000] [--ssh-lines 200000] [--keys 40] [--no-ssh]

Everything runs headless (Textual's run_test, 160×50) on the real FleetApp and LogScreen:
- in-process source: QueueLogFeed fed batches of 1,000 Alloy lines (built beforehand) as fast as the pane takes
  them (the pane's back pressure pauses its reader; nothing is skipped); Textual's own `Log` is written the same
  batches as fast as it accepts them, for a side-by-side ratio (it has no back pressure: it accepts every
  batch at once and paints when it gets to it).
- real SSH stream (needs the lab: `fleetui lab up`): `--ssh-lines` entries of the pane's own journalctl command
  output (`-o json --output-fields=…`) from a lab host's journal, sent over SSH by `cat` of that output saved on
  the host (the lab's journalctl is a
  Python stand-in that writes ~35k entries/s itself; real journalctl is not what is measured here), read by the
  production reader (HostLogStream: 64 KiB chunks, JSON parse, cursors) into the pane. The same stream without
  the pane gives the ratio of what the pane costs.
- key latency: while the in-process source streams at full speed, keys that change the view (w wrap,
  t timestamps, l level, up/f pause and follow) are sent as a terminal sends them; the time is until the next
  frame after the action (median, p95, worst), with the pane's garbage-collector tuning and without it, and
  the CPU this process spent in that time (what the pane costs; the rest is the 60 Hz frame tick and other
  processes on a shared machine, so the load average is printed with it).
- memory: RSS (VmRSS) before streaming, when the 10,000-line buffer is full, and after 1,000,000 lines.

Targets: >= 50,000 lines/s into the pane, p95 key latency <= 50 ms while streaming, RSS flat once the
buffer is full.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tui"))

from fleet_fixture import make_app

from fleetui.domain.logline import LogLine, level_of
from fleetui.tui.log_source import QueueLogFeed, SshLogFeed
from fleetui.tui.screens.logs import LogScreen

SIZE = (160, 50)
TEXTS = [
    'ts=2025-05-19T05:33:49.271559837Z level=info msg="replaying WAL, this may take a while" component_path=/ '
    "component_id=prometheus.remote_write.default subcomponent=wal dir=/var/lib/alloy/data/wal",
    'ts=2025-05-19T05:34:04.5Z level=warn msg="Failed to send batch, retrying" component_path=/ '
    'component_id=prometheus.remote_write.default subcomponent=rw err="server returned HTTP status 429"',
    'ts=2025-05-19T05:34:20.2Z level=error msg="failed to reload config" err="config.alloy:3:1: illegal character"',
    'ts=2025-05-19T05:33:49.3Z level=debug msg="scrape pool started" component_id=prometheus.scrape.default',
]


def batch(start: int, n: int) -> list[LogLine]:
    out = []
    for i in range(start, start + n):
        text = f"{TEXTS[i % 4]} seq={i}"
        out.append(LogLine("web-01", text, 1_747_632_829.0 + i / 1000, level_of(text), "alloy", None))
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


BATCHES = [batch(i * 1000, 1000) for i in range(20)]  # built once: the in-process source costs nothing


async def feed_in_process(feed: QueueLogFeed, screen: LogScreen, total: int, start: int = 0) -> float:
    """Put `total` lines in batches of 1,000 as fast as the pane takes them (the pane's back pressure pauses
    its reader, and the queue here holds at most 4 batches); seconds until the pane holds the last one."""
    t0 = time.perf_counter()
    for k, _ in enumerate(range(start, start + total, 1000)):
        while feed._queue.qsize() > 4:  # noqa: ASYNC110 - polling is the measurement's own, simplest loop
            await asyncio.sleep(0.001)
        feed.put(BATCHES[k % len(BATCHES)])
        await asyncio.sleep(0)
    while screen.view.buffer.received < start + total or feed._queue.qsize():  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    return time.perf_counter() - t0


async def in_process(total: int) -> tuple[float, int, dict[str, float]]:
    app = make_app()
    rss: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        feed = QueueLogFeed("web-01")
        screen = LogScreen(feed, buffer_lines=10_000)
        app.push_screen(screen)
        await pilot.pause()
        rss["before"] = rss_mb()
        took = await feed_in_process(feed, screen, total)
        skipped = screen.view.buffer.received - total
        rss[f"after {total:,}"] = rss_mb()
    return total / took, skipped, rss


async def memory(total: int) -> dict[str, float]:
    app = make_app()
    out: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        feed = QueueLogFeed("web-01")
        screen = LogScreen(feed, buffer_lines=10_000)
        app.push_screen(screen)
        await pilot.pause()
        out["before any line"] = rss_mb()
        done = 0
        for mark in sorted({m for m in (10_000, 100_000, 500_000) if m < total} | {total}):
            await feed_in_process(feed, screen, mark - done, start=done)
            done = mark
            out[f"after {mark:,} lines"] = rss_mb()
        assert screen.view.buffer.kept == 10_000 and screen.view.buffer.dropped == total - 10_000
    return out


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Log(max_lines=10_000)


async def textual_log(total: int) -> float:
    """Textual's Log fed the same batches (formatted as plain strings) in the same way."""
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(Log)
        await pilot.pause()
        lines = [ln.text for ln in BATCHES[0]]
        t0 = time.perf_counter()
        for _ in range(total // 1000):
            log.write_lines(lines)
            await asyncio.sleep(0)
        await app.workers.wait_for_complete()
        await pilot.pause()
        return total / (time.perf_counter() - t0)


async def key_latency(rounds: int, tune_gc: bool = True) -> list[tuple[str, float, float]]:
    """(key, ms until the next frame, ms of this process's CPU in that time) per key pressed."""
    LogScreen.tune_gc = tune_gc
    app = make_app()
    out: list[tuple[str, float, float]] = []
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        feed = QueueLogFeed("web-01")
        screen = LogScreen(feed, buffer_lines=10_000)
        app.push_screen(screen)
        await pilot.pause()
        await feed_in_process(feed, screen, 20_000)  # a full buffer before timing
        stop = asyncio.Event()

        async def stream() -> None:
            k = 0
            while not stop.is_set():
                while feed._queue.qsize() > 4:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                feed.put(BATCHES[k % len(BATCHES)])
                k += 1
                await asyncio.sleep(0)

        producer = asyncio.create_task(stream())
        keys = ["w", "t", "l", "up", "f", "w", "t", "l", "l", "l"]
        painted = asyncio.Event()

        def after(action: Callable[..., Any]) -> Callable[..., Any]:
            def run(*a: Any) -> Any:
                result = action(*a)
                screen.call_after_refresh(painted.set)
                return result

            return run

        for name in ("toggle_wrap", "toggle_timestamps", "next_level", "follow"):
            setattr(screen, f"action_{name}", after(getattr(screen, f"action_{name}")))
        view = screen.view
        view.action_scroll_up = after(view.action_scroll_up)  # type: ignore[method-assign]
        try:
            for i in range(rounds):
                key = keys[i % len(keys)]
                painted.clear()
                await asyncio.sleep(0.03)  # let a flush or two happen between keys
                assert app._driver is not None
                t, cpu = time.perf_counter(), time.process_time()
                app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
                await asyncio.wait_for(painted.wait(), 5)
                out.append((key, (time.perf_counter() - t) * 1000, (time.process_time() - cpu) * 1000))
        finally:
            stop.set()
            await producer
        assert view.buffer.received > 20_000
    return out


class CatJournal:
    """Reads saved `journalctl -o json` output with `cat` over SSH through the production reader."""

    @staticmethod
    def make(settings: Any, host: Any, path: str) -> Any:
        from fleetui.adapters.alloy_logs import HostLogStream, JournalSource
        from fleetui.adapters.ssh import SshTarget

        class Stream(HostLogStream):
            def journal_command(self) -> list[str]:
                return ["cat", "--", path]

        target = SshTarget(host.address, host.ssh_port, "root")
        return Stream.over_ssh(settings, host.name, target, follow=False, source=JournalSource("bench.service"))


async def ssh_stream(n: int) -> tuple[float, float] | str:
    from fleetui import lab as lab_mod
    from fleetui.adapters.alloy_logs import LinesEvent
    from fleetui.adapters.ssh import HostKeyInfo, SshTarget, connect_with_settings
    from fleetui.config import load

    info = lab_mod.status()
    if info is None:
        return "skipped: the lab is not running (fleetui lab up)"
    host = info.host("web-01")
    known = Path("/tmp/fleetui-bench-known_hosts")
    known.unlink(missing_ok=True)  # noqa: ASYNC240 - once, before anything is timed
    settings = load(info.config_file, environ={}).with_overrides({"ssh.known_hosts": str(known)})
    want = lab_mod.host_exec(host.name, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]

    async def check(k: HostKeyInfo) -> bool:
        return k.fingerprint == want

    async with connect_with_settings(settings, SshTarget(host.address, host.ssh_port, "root"), on_unknown_key=check):
        pass
    fill = (
        "import json, socket, time\n"
        "from fleetui.lab.alloy_standin.journal import JOURNAL, _seqnum_id\n"
        f"n = {n}\n"
        "_seqnum_id('bench.service')\n"
        "now, host = time.time(), socket.gethostname()\n"
        f"texts = {TEXTS!r}\n"
        "with open(JOURNAL / 'bench.service.jsonl', 'w') as f:\n"
        "    for i in range(n):\n"
        "        t = now - (n - i) * 1e-5\n"
        "        f.write(json.dumps({'ts': t, 'rt': int(t * 1e6), 'mono': i, 'host': host, 'ident': 'alloy',\n"
        "            'pid': 4242, 'unit': 'bench.service', 'prio': 6, 'msg': texts[i % 4] + ' seq=%d' % i}) + '\\n')\n"
    )
    r = lab_mod.host_exec(host.name, [sys.executable, "-c", fill], timeout=300)
    assert r.returncode == 0, r.stderr
    from fleetui.adapters.alloy_logs import journal_argv
    from fleetui.adapters.ssh import command_line

    path = "/var/tmp/fleetui-bench-journal.json"
    # exactly what the pane asks journalctl for (minus following), saved once on the host
    cmd = command_line(journal_argv("bench.service", follow=False, lines=None, since=None, after_cursor=None))
    r = lab_mod.host_exec(host.name, ["sh", "-c", f"{cmd} > {path}"], timeout=300)
    assert r.returncode == 0, r.stderr
    try:
        # the reader alone (no pane)
        stream = CatJournal.make(settings, host, path)
        t0 = time.perf_counter()
        count = 0
        async for ev in stream.events():
            if isinstance(ev, LinesEvent):
                count += len(ev.lines)
        raw = count / (time.perf_counter() - t0)
        assert count == n, count
        # the reader into the pane
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            screen = LogScreen(SshLogFeed([CatJournal.make(settings, host, path)]), buffer_lines=10_000)
            t0 = time.perf_counter()
            app.push_screen(screen)
            await pilot.pause()
            while screen.view.buffer.received < n:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            pane = n / (time.perf_counter() - t0)
            await pilot.pause()
            assert screen.view.buffer.line_at(len(screen.view.buffer) - 1).text.endswith(f"seq={n - 1}")
        return pane, raw
    finally:
        lab_mod.host_exec(host.name, ["rm", "-f", path, "/var/log/journal/fleetui-standin/bench.service.jsonl"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=300_000, help="lines for the in-process throughput run")
    p.add_argument("--ssh-lines", type=int, default=200_000, help="journal entries streamed over SSH")
    p.add_argument("--keys", type=int, default=40, help="keys pressed while streaming")
    p.add_argument("--memory-lines", type=int, default=1_000_000)
    p.add_argument("--no-ssh", action="store_true", help="skip the lab part")
    args = p.parse_args()

    rate, skipped, _ = asyncio.run(in_process(args.lines))
    log_rate = asyncio.run(textual_log(args.lines))
    print(f"in-process source -> log pane: {rate:,.0f} lines/s over {args.lines:,} lines ({skipped} skipped)")
    print(f"  same batches -> Textual Log: {log_rate:,.0f} lines/s   (pane / Log = {rate / log_rate:.2f})")
    if not args.no_ssh:
        res = asyncio.run(ssh_stream(args.ssh_lines))
        if isinstance(res, str):
            print(f"real SSH stream: {res}")
        else:
            pane, raw = res
            print(f"real SSH stream (journalctl -o json, {args.ssh_lines:,} entries) -> log pane: {pane:,.0f} lines/s")
            print(f"  same stream, reader only (no pane): {raw:,.0f} lines/s   (pane / reader = {pane / raw:.2f})")
    for tuned in (True, False):
        load0 = os.getloadavg()[0]
        timed = asyncio.run(key_latency(args.keys, tune_gc=tuned))
        load1 = os.getloadavg()[0]
        lat = [ms for _, ms, _ in timed]
        cpu = [c for _, _, c in timed]
        q = statistics.quantiles(lat, n=20)
        label = "pane's GC tuning on" if tuned else "CPython's default GC"
        print(
            f"key latency while streaming ({len(lat)} keys: w t l up f; {label}): median "
            f"{statistics.median(lat):.1f} ms, p95 {q[18]:.1f} ms, worst {max(lat):.1f} ms"
        )
        print(
            f"  this process's CPU from key to frame: median {statistics.median(cpu):.1f} ms, "
            f"p95 {statistics.quantiles(cpu, n=20)[18]:.1f} ms (the rest is waiting: the 60 Hz frame tick, and "
            f"other processes; load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} CPUs)"
        )
        for key in dict.fromkeys(k for k, _, _ in timed):
            mine = [ms for k, ms, _ in timed if k == key]
            print(f"  key {key!r}: median {statistics.median(mine):.1f} ms, worst {max(mine):.1f} ms")
    LogScreen.tune_gc = True
    mem = asyncio.run(memory(args.memory_lines))
    print("RSS of the process (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in mem.items()))
    full, last = mem["after 10,000 lines"], mem[f"after {args.memory_lines:,} lines"]
    print(f"  from a full buffer to {args.memory_lines:,} lines: {last - full:+.1f} MB")


if __name__ == "__main__":
    main()
