"""fleetui's refresh against a day of history, next to a raw replay of exactly its HTTP requests.

    .venv/bin/python bench/refresh.py [--hosts 10000 50000] [--scenario healthy half-down] [--runs 7] [--interval S]
                                      [--history 86400] [--pull-interval 60]
    .venv/bin/python bench/refresh.py --backend both|prometheus|victoriametrics [--hosts N] [--runs N]
    .venv/bin/python bench/refresh.py --server SERVER.json [--runs N] [--own-cores]

For each fleet size and scenario it starts a private, real Prometheus (fleetui.lab.scale; root on Debian,
like the lab: run it through `/work/iso NAME` or any private network namespace) and writes a day of history
into it in time order: push hosts every 15 s, pull hosts every scrape interval, then the farm scrapes the
pull targets and keeps the live push hosts pushing. `half-down`: half the hosts down or gone since times
spread over the day. Then, in turn in one run:

- fleetui: `FleetReader.refresh()` on one long-lived client, as the console does (decode, classify, diff),
  with the cyclic collector paused during it and the heap settled after it as the console's source has them
  (fleetui.gcpause.RefreshHeap), one every `refresh_interval` (15 s by default, so what it reuses from the
  previous refresh is what the console reuses: pull targets scraped every minute, push hosts every 15 s);
- raw: the same requests (recorded from fleetui's own client) replayed concurrently on a plain httpx
  client that only reads the bytes, half an interval after the refresh. Not right behind it: the first
  requests after a pause cost Prometheus up to twice the CPU of the same requests a second later (measured
  at 50,000 hosts, 12 pairs: its own CPU time 2.7–3.7 s for the first of a pair, 1.4–2.2 s for the second,
  whichever it was; the first started a collection of its 1–2 GB heap in 3 of 4 pairs checked), so a pair
  run back to back measured which of the two came first. Each refresh starts up to
  a fifth of the interval early or late, so the lab's own periodic work does not always fall at the same
  point.

Prometheus' own garbage collection is settled before each side (`/debug/pprof/heap?gc=1` collects before it
answers, then a second's pause), and the collections from the start of a side to the next settling are
counted and printed. Why: a Go collection starts when the heap reaches twice what the last one left, and a
refresh and its replay together allocate about that much, so one collection per pair falls on the same side
pair after pair. Measured at 50,000 healthy hosts without settling (10 pairs): a collection ended just after
fleetui's refresh in 9 pairs and after the replay in 1, fleetui's side took 1.1-2.3 s in 9 pairs and the
replay 0.7-1.1 s in 7; so the ratio measured which side the server's collector had fallen on.

`--own-cores` is a diagnosis, not the benchmark: Prometheus' process on CPU 0, this process (fleetui and the raw
replay) on CPU 1, as when the server has cores of its own. On the 2-core machine the benchmark runs on,
Prometheus uses both cores while it answers, so by default every millisecond of fleetui's own work (decoding,
classifying) is one Prometheus does not get, and the ratio is roughly 1 + fleetui's CPU / the raw time; pinned,
what is left over the raw time is fleetui's work that did not overlap the replies.

It prints both, their ratio per run (median and spread), the ratio of their medians with a bootstrap
interval (Prometheus' own time for the same requests varies by a factor of three within minutes), how many
requests and timeouts at the default prometheus.timeout, the CPU time of each side (this process's, and the
server's when it runs on this machine), and the background history work a first start
needs (bounded steps: count, slowest, total) with a check of the last-seen times it found against the fleet
as written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from fleetui.adapters.prometheus import FleetReader, PrometheusClient, Timeout
from fleetui.config import Settings, load
from fleetui.doctor.evidence import metric_sum, parse_exposition
from fleetui.gcpause import RefreshHeap
from fleetui.lab.scale import DAY, PUSH_INTERVAL, ScaleFleet, ScaleServer


def settings_for(url: str, tmp: Path) -> Settings:
    cfg = tmp / "config.yaml"
    cfg.write_text("")
    return load(cfg, environ={}, overrides={"prometheus.url": url})  # every other setting at its default


def ms(v: float) -> str:
    return f"{v * 1000:.0f} ms"


def spread(values: list[float]) -> str:
    return f"median {ms(statistics.median(values))} (min {ms(min(values))}, max {ms(max(values))})"


SETTLE_PAUSE = 1.0  # after a forced collection: the server idle again before the measured requests


class ServerHeap:
    """The Go server's garbage collection, settled before each measured side and counted after it.

    `settle(side)`: the collections since the previous side began are put down to that side (a collection its
    requests start may end just after them), then the server collects now (its heap profile handler does, with
    gc=1) and is left a second, so the `side` measured next does not pay for the other's garbage."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http, self.url = http, url
        self.counts: dict[str, int] = {}
        self.settled = True  # every settle so far worked (the server has the handler)
        self._side: str | None = None
        self._before: int | None = None

    async def settle(self, side: str) -> None:
        await self._count()
        try:
            resp = await self.http.get(f"{self.url}/debug/pprof/heap", params={"gc": "1"}, timeout=60)
            self.settled = self.settled and resp.status_code == 200
        except httpx.HTTPError:
            self.settled = False
        await asyncio.sleep(SETTLE_PAUSE)
        self._side, self._before = side, await self._collections()

    async def _count(self) -> None:
        if self._side is not None and self._before is not None:
            after = await self._collections()
            if after is not None:
                self.counts[self._side] = self.counts.get(self._side, 0) + after - self._before
        self._side = None

    async def _collections(self) -> int | None:
        """How many collections the server has run (its own /metrics), None when it does not say."""
        try:
            text = (await self.http.get(f"{self.url}/metrics", timeout=10)).text
        except httpx.HTTPError:
            return None
        found = metric_sum(parse_exposition(text), "go_gc_duration_seconds_count")
        return None if found is None else int(found)

    async def report(self) -> str:
        await self._count()
        if not self.settled:
            return "server heap NOT collected before each side (no /debug/pprof/heap)"
        counts = ", ".join(f"{side} {n}" for side, n in sorted(self.counts.items()))
        return f"server heap collected before each side; its collections from each side to the next: {counts}"


async def replay(raw: httpx.AsyncClient, requests: list[httpx.Request]) -> float:
    """The recorded requests again, concurrently as fleetui sends them, reading only the bytes."""

    async def one(r: httpx.Request) -> None:
        resp = await raw.send(httpx.Request(r.method, r.url, headers=r.headers, content=r.content))
        await resp.aread()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    return time.perf_counter() - t0


def interval_of_medians(mine: list[float], theirs: list[float], rounds: int = 2000) -> tuple[float, float]:
    """A 95% bootstrap interval of median(mine) / median(theirs), resampling the runs as pairs.

    Why: the same requests took Prometheus anything from 0.6 to 2.2 s at 50,000 hosts within minutes (its own
    garbage collection), so a ratio of medians from 15 runs moves by tenths from one run of this bench to the
    next; the interval says how far the figure printed can be trusted (seeded: the same runs, the same
    interval)."""
    rng = random.Random(0)
    n = len(mine)
    got = []
    for _ in range(rounds):
        picked = [rng.randrange(n) for _ in range(n)]
        got.append(statistics.median(mine[i] for i in picked) / statistics.median(theirs[i] for i in picked))
    got.sort()
    return got[int(0.025 * rounds)], got[int(0.975 * rounds) - 1]


def check_last_seen(fleet: ScaleFleet, snap_hosts: dict[str, float | None], now: float, lookback: float) -> str:
    """Compare found last-seen times with the fleet as written (exact: the last sample before the event)."""
    checked = wrong = missing = 0
    for h in fleet:
        if h.state == "up" or h.event_at is None or h.event_at < now - lookback + 120:
            continue
        interval = fleet.pull_interval if h.kind == "pull" else PUSH_INTERVAL
        expected = (math.ceil(h.event_at / interval) - 1) * interval
        checked += 1
        if h.instance not in snap_hosts:
            missing += 1
        elif snap_hosts[h.instance] is None or abs((snap_hosts[h.instance] or 0) - expected) > 0.001:
            wrong += 1
    return f"{checked} down/gone hosts checked: {wrong} wrong, {missing} missing"


async def measure(
    url: str, s: Settings, fleet: ScaleFleet, runs: int, interval: float, server_pid: int | None = None
) -> None:
    async with PrometheusClient(s) as client, httpx.AsyncClient(timeout=s["prometheus.timeout"]) as raw:
        recorded: list[httpx.Request] = []

        async def record(request: httpx.Request) -> None:
            recorded.append(request)

        client._client.event_hooks["request"].append(record)
        reader = FleetReader(client, s)
        heap_of_refreshes = RefreshHeap()
        timeouts = 0
        t0 = time.perf_counter()
        with heap_of_refreshes.around():
            snap = await reader.refresh()
        first = time.perf_counter() - t0
        counts = snap.summary()
        print(
            f"  first refresh (nothing remembered): {ms(first)}, {reader.refresh_requests} requests, "
            f"{len(snap.hosts)} hosts {counts}, {sum(h.last_seen_pending for h in snap.hosts)} last-seen pending"
        )
        # the background history a first start needs, one bounded request at a time as the console runs it
        steps: list[float] = []
        t0 = time.perf_counter()
        while True:
            t1 = time.perf_counter()
            try:
                if not await reader.history_step():
                    break
            except Timeout:
                timeouts += 1
            steps.append(time.perf_counter() - t1)
        total = time.perf_counter() - t0
        with heap_of_refreshes.around():
            snap = await reader.refresh()  # the next refresh shows what the history steps found
        if steps:
            print(
                f"  history steps after it: {len(steps)} requests in {total:.1f} s, slowest {ms(max(steps))}, "
                f"median {ms(statistics.median(steps))}"
            )
        times = snap.times.last_seen
        seen = {h.instance: times.get(h.instance) for h in snap.hosts}
        print(f"  last seen: {check_last_seen(fleet, seen, snap.taken_at, reader.lookback)}")
        mine, theirs = [], []
        heap = ServerHeap(raw, url)
        cpu = CpuClock(server_pid)
        jitter = random.Random(runs)
        for run in range(runs):
            if run:  # as the console does: one refresh every refresh_interval (0: back to back), give or take
                # a random fifth, so the lab's own periodic work does not always fall at the same point
                wait = interval + (jitter.uniform(-0.2, 0.2) * interval if interval else 0.0)
                await asyncio.sleep(max(0.0, wait - SETTLE_PAUSE - (time.perf_counter() - t0)))
            await heap.settle("fleetui")
            recorded.clear()
            cpu.start("fleetui")
            t0 = time.perf_counter()
            try:
                with heap_of_refreshes.around():  # the collector as the console has it (fleetui.gcpause)
                    snap = await reader.refresh()
            except Timeout:
                timeouts += 1
                continue
            mine.append(time.perf_counter() - t0)
            cpu.stop()
            requests = list(recorded)
            # the raw replay half an interval later, so it meets Prometheus after as long a pause as the
            # refresh did: the first requests after a pause cost Prometheus up to twice the CPU of the same
            # requests a second later, so a replay right behind the refresh measured a server the refresh had
            # just warmed up
            await asyncio.sleep(max(0.0, interval / 2 - SETTLE_PAUSE - (time.perf_counter() - t0)))
            await heap.settle("raw")
            cpu.start("raw")
            theirs.append(await replay(raw, requests))
            cpu.stop()
        if not mine:
            print(f"  refresh, fleetui: all {runs} timed out at the default {s['prometheus.timeout']:g} s")
            return
        ratios = [m / r for m, r in zip(mine, theirs, strict=True)]
        low, high = interval_of_medians(mine, theirs)
        print(f"  refresh, fleetui: {spread(mine)}; {len(requests)} requests each, one every {interval:g} s")
        print(f"  refresh, raw replay of the same requests: {spread(theirs)}")
        print(
            f"  ratio fleetui/raw: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, "
            f"max {max(ratios):.2f}) over {len(ratios)} runs, of the medians "
            f"{statistics.median(mine) / statistics.median(theirs):.2f} (95% bootstrap interval over the runs "
            f"{low:.2f}-{high:.2f}); timeouts at the default "
            f"{s['prometheus.timeout']:g} s: {timeouts}"
        )
        print(f"  {cpu.report()}")
        await asyncio.sleep(SETTLE_PAUSE)  # a collection the last replay started
        print(f"  {await heap.report()}")


class CpuClock:
    """CPU time spent by this process and by the server's (from /proc, in clock ticks: 10 ms steps) over one
    side, so the bench shows where the cores went: on a machine where both share the same cores, the ratio is
    roughly 1 + fleetui's CPU / the raw time, and that is read here, not assumed. Without the server's pid (or
    when it is not on this machine), only this process's."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.spent: dict[str, list[tuple[float, float | None]]] = {}  # side -> (this process, server) seconds
        self._side: str | None = None
        self._start: tuple[float, float | None] = (0.0, None)

    def _server(self) -> float | None:
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime (every thread, live or ended)

    def start(self, side: str) -> None:
        self._side, self._start = side, (time.process_time(), self._server())

    def stop(self) -> None:
        assert self._side is not None
        mine, server = time.process_time(), self._server()
        theirs = None if server is None or self._start[1] is None else server - self._start[1]
        self.spent.setdefault(self._side, []).append((mine - self._start[0], theirs))
        self._side = None

    def report(self) -> str:
        parts = []
        for side in ("fleetui", "raw"):
            got = self.spent.get(side, [])
            if not got:
                continue
            mine = statistics.median(m for m, _ in got)
            server = [t for _, t in got if t is not None]
            theirs = f", the server {ms(statistics.median(server))}" if server else ""
            parts.append(f"{side}: this process {ms(mine)}{theirs}")
        return "CPU per side, medians (clock ticks of 10 ms for the server): " + "; ".join(parts)


@contextlib.contextmanager
def own_cores(pid: int | None) -> Iterator[None]:
    """With a pid: every thread of the server's process on CPU 0 and this process on CPU 1 (see the module
    docstring), each back on every CPU afterwards; without one, nothing. A thread the server starts later
    inherits its parent thread's CPU."""
    if pid is None:
        yield
        return
    everything = os.sched_getaffinity(0)

    def place(cpus: set[int]) -> None:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(task.name), cpus)

    place({0})
    os.sched_setaffinity(0, {1})
    print("  own cores (a diagnosis): Prometheus on CPU 0, fleetui and the raw replay on CPU 1")
    try:
        yield
    finally:
        place(everything)
        os.sched_setaffinity(0, everything)


def measure_server(url: str, scratch: Path, fleet: ScaleFleet, pid: int | None, args: argparse.Namespace) -> None:
    """`measure` one server (its Prometheus' `pid`, None when not known) with the command line's runs and
    interval, fleetui's state in `scratch`, on cores of their own when --own-cores asks for it."""
    if args.own_cores and pid is None:
        raise SystemExit("--own-cores needs the server's pid (its JSON line has none)")
    with own_cores(pid if args.own_cores else None):
        s = settings_for(url, scratch)
        interval = s["refresh_interval"] if args.interval is None else args.interval
        asyncio.run(measure(url, s, fleet, args.runs, interval, pid))


def backend_option(argv: list[str]) -> int | None:
    """`--backend prometheus|victoriametrics|both`: the 10,000-host refresh on either backend or both side by
    side, by bench/refresh_backends.py (which takes --hosts, --history-minutes, --runs); None without it."""
    if not any(a == "--backend" or a.startswith("--backend=") for a in argv):
        return None
    sys.path.insert(0, str(Path(__file__).parent))
    import refresh_backends

    return refresh_backends.main(argv)


def main() -> int:
    handed_off = backend_option(sys.argv[1:])
    if handed_off is not None:
        return handed_off
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--scenario", nargs="+", default=["healthy", "half-down"])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds from one measured refresh to the next (default: the console's refresh_interval; 0: back to "
        "back, which lets more of what the previous refresh read be reused than the console ever sees)",
    )
    ap.add_argument("--history", type=float, default=DAY, help="seconds of history written")
    ap.add_argument("--pull-interval", type=float, default=60.0)
    ap.add_argument("--server", help="a JSON line from `python -m fleetui.lab.scale serve`: measure that fleet")
    ap.add_argument(
        "--own-cores",
        action="store_true",
        help="a diagnosis: the server on CPU 0, fleetui and the raw replay on CPU 1 (see above)",
    )
    args = ap.parse_args()
    if shutil.which("prometheus") is None:
        print("skipped: no prometheus binary (./setup.sh installs it)")
        return 0
    if args.server:
        info = json.loads(Path(args.server).read_text())
        fleet = ScaleFleet(info["hosts"], info["scenario"], info["end"], 0, args.pull_interval, min(args.history, DAY))
        print(f"{info['hosts']} hosts, {info['scenario']}, {args.history / 3600:g} h of history ({info['url']}):")
        with tempfile.TemporaryDirectory() as scratch:
            measure_server(info["url"], Path(scratch), fleet, info.get("pid"), args)
        return 0
    for n in args.hosts:
        for scenario in args.scenario:
            with tempfile.TemporaryDirectory(dir="/srv" if Path("/srv").is_dir() else None) as tmp_s:
                tmp = Path(tmp_s)
                print(f"{n} hosts, {scenario}, {args.history / 3600:g} h of history:", flush=True)
                t0 = time.perf_counter()
                server = ScaleServer(tmp / "prom", n, scenario, history=args.history, pull_interval=args.pull_interval)
                print(f"  built in {time.perf_counter() - t0:.0f} s (written in time order, compacted)", flush=True)
                try:
                    measure_server(server.url, tmp, server.fleet, int(server.info["pid"]), args)
                finally:
                    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
