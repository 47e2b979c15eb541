"""Synthetic fleets of thousands of hosts in a private, real Prometheus, with up to a day of history.

For the scale tests and benchmarks only (root on Debian, like the rest of the lab). Nothing here is a fake:
the Prometheus is Debian's binary, its pull targets are really scraped and its push hosts really
remote-written. Why a private Prometheus and not the lab's: thousands of hosts would show up as `gone` in
every other test and in the demo for the whole look-back, and a day of their history would be in the lab's.

A day of history. Prometheus' head takes in-order samples no older than an hour before its newest one, so a
day written *in time order* — every series' first quarter hour, then the next, up to now — is accepted as it
is, without an out-of-order window or backfilled blocks, and Prometheus cuts and compacts its blocks while
it goes, as a server that really ran for a day would. Samples are 15 s apart for push hosts and one
scrape interval apart for pull hosts; every series of a kind shares its timestamps, so the remote-write
bodies are built from a few cached byte strings and the writer costs little next to Prometheus' own work.

The fleet (`ScaleFleet`): host i is pull when i is even (a file_sd target, instance `pull-NNNNN`, address
127.1.x.y on the scrape farm's port, which answers node_uname_info), push when odd (instance `push-NNNNN`,
`up`, `node_uname_info` and node_memory_MemTotal_bytes remote-written by the farm's keeper every 15 s, as a
pushing Alloy does). In the `half-down` scenario half the hosts are down or gone, since times spread over
the day: of the pull hosts a quarter is down (target on a closed port: `up 0` since then) and a quarter gone
(target removed, history ends), of the push hosts half are gone (history ends).

    python -m fleetui.lab.scale farm --port P --remote-write URL --hosts N --scenario S --end T
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetui.config import Settings, load
from fleetui.lab.remote_write import push, snappy_literal

DAY = 86_400.0
PUSH_INTERVAL = 15.0
_PUSH_SLOTS = 15  # the keeper pushes a fifteenth of the push hosts every second (see _keeper)
SCENARIOS = ("healthy", "half-down")
# node_uname_info's own labels, as node_exporter writes them
_UNAME = {"sysname": "Linux", "release": "6.1.0-18-amd64", "version": "#1 SMP Debian", "machine": "x86_64"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_nofile(limit: int = 262_144) -> None:
    """Thousands of targets mean thousands of sockets; root may raise its own limit (best effort)."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


class PrivatePrometheus:
    """A throwaway Prometheus with the remote_write receiver and one file_sd job (`node`)."""

    def __init__(
        self,
        root: Path,
        rules: str | None = None,
        *,
        scrape_interval: str = "1h",
        evaluation_interval: str = "1s",
    ) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets_file = root / "targets" / "scale.json"
        self.targets_file.parent.mkdir(parents=True)
        self.targets_file.write_text("[]")
        rule_files = ""
        if rules is not None:
            (root / "rules.yml").write_text(rules)
            rule_files = f"rule_files: ['{root / 'rules.yml'}']\n"
        short = scrape_interval.endswith("s") and scrape_interval[:-1].isdigit() and int(scrape_interval[:-1]) < 5
        timeout = scrape_interval if short else "5s"  # Prometheus refuses a timeout longer than the interval
        (root / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {scrape_interval}\n  scrape_timeout: {timeout}\n"
            f"  evaluation_interval: {evaluation_interval}\n"
            + rule_files
            + "scrape_configs:\n  - job_name: node\n    file_sd_configs:\n"
            f"      - files: ['{self.targets_file.parent}/*.json']\n"
        )
        _raise_nofile()  # inherited by Prometheus: one socket per scraped target
        self.proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-remote-write-receiver",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(root / "log.txt").open("w"),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"private Prometheus did not start: {(root / 'log.txt').read_text()[-500:]}")
            time.sleep(0.2)

    def settings(self, tmp: Path) -> Settings:
        """fleetui settings for this Prometheus (an empty config file in `tmp`, no environment)."""
        cfg = tmp / "config.yaml"
        cfg.write_text("")
        return load(cfg, environ={}, overrides={"prometheus.url": self.url})

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def write_targets(self, groups: Sequence[Mapping[str, Any]]) -> None:
        """Replace the file_sd targets (atomically, so Prometheus never reads half a file)."""
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(groups)))
        tmp.replace(self.targets_file)

    def add_hosts(self, start: int, stop: int, prefix: str = "t-scale-push-") -> None:
        """Hosts [start, stop): even ones pull targets on closed ports, odd ones pushed now (one sample)."""
        pulls = [f"127.1.{i // 250}.{i % 250 + 1}:1" for i in range(start, stop) if i % 2 == 0]
        old = json.loads(self.targets_file.read_text())
        self.write_targets([*old, {"targets": pulls, "labels": {"environment": "scale", "maintainers": "t"}}])
        now = int(time.time() * 1000)
        series = []
        for i in range(start, stop):
            if i % 2:
                labels = {
                    "instance": f"{prefix}{i}",
                    "job": "integrations/unix",
                    "environment": "scale",
                    "maintainers": "t",
                }
                series.append(({"__name__": "up", **labels}, [(now, 1.0)]))
                series.append(
                    (
                        {"__name__": "node_uname_info", **labels, "nodename": labels["instance"], "sysname": "Linux"},
                        [(now, 1.0)],
                    )
                )
        for k in range(0, len(series), 4000):
            push(self.write_url, series[k : k + 4000])

    def active_targets(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets?state=active", timeout=60) as r:
            targets: list[dict[str, Any]] = json.load(r)["data"]["activeTargets"]
            return targets

    def wait_targets(self, n: int, *, scraped: bool = False, limit: float = 60.0) -> None:
        """Until Prometheus lists `n` active targets (and, with `scraped`, has scraped each once)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                targets = self.active_targets()
            except OSError:  # a busy Prometheus (a loaded machine) answers late: ask again
                time.sleep(1.0)
                continue
            if len(targets) == n and (not scraped or all(t.get("health") != "unknown" for t in targets)):
                return
            time.sleep(0.5)
        raise AssertionError(f"Prometheus did not list {n} {'scraped ' if scraped else ''}targets in {limit:g} s")

    def metric(self, name: str) -> float:
        """A value of Prometheus' own /metrics (summed over its label sets), e.g. prometheus_tsdb_blocks_loaded."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=30) as r:
            total = 0.0
            for line in r.read().decode().splitlines():
                if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
                    total += float(line.rsplit(" ", 1)[1])
            return total

    def wait_compacted(self, quiet: float = 10.0, limit: float = 900.0) -> int:
        """Until no block is being written or merged for `quiet` seconds; returns the blocks loaded."""
        deadline = time.monotonic() + limit
        last: tuple[float, float, float] | None = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            try:
                now = (
                    self.metric("prometheus_tsdb_blocks_loaded"),
                    self.metric("prometheus_tsdb_compactions_total"),
                    self.metric("prometheus_tsdb_compactions_triggered_total"),
                )
            except OSError:
                time.sleep(1.0)
                continue
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return int(now[0])
            time.sleep(1.0)
        return int(last[0]) if last else 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the synthetic fleet ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """One synthetic host. `state` is what it is at the end of the history; `event_at` when it went down
    or gone (unix seconds), None for an up host."""

    kind: str  # pull | push
    instance: str
    labels: Mapping[str, str]  # identity labels (instance, job, environment, maintainers)
    state: str  # up | down | gone
    event_at: float | None
    address: str | None = None  # pull only


def pull_address(p: int, port: int) -> str:
    return f"127.{1 + p // 62_500}.{p // 250 % 250}.{p % 250 + 1}:{port}"


def pull_name(address: str) -> str | None:
    """The nodename the scrape farm reports for a pull address (the inverse of pull_address)."""
    try:
        a, b, c, d = (int(x) for x in address.rsplit(":", 1)[0].split("."))
    except ValueError:
        return None
    if a != 127 or b < 1:
        return None
    return f"pull-{(b - 1) * 62_500 + c * 250 + d - 1:05d}"


@dataclass(frozen=True)
class ScaleFleet:
    """`hosts` hosts of `scenario` as they are at `end` (unix seconds), with `farm_port` serving pull scrapes."""

    hosts: int
    scenario: str
    end: float
    farm_port: int
    pull_interval: float = 60.0
    spread: float = DAY  # events (went down, gone) are spread over this many seconds before `end`

    def __iter__(self) -> Iterator[Host]:
        half_down = self.scenario == "half-down"
        for i in range(self.hosts):
            k = i // 2
            # event times spread over the day (minutes 1..1439 before the end), deterministic per host
            minutes = max(int(self.spread // 60) - 1, 1)
            spread = self.end - ((k * 7919) % minutes + 1) * 60.0
            if i % 2 == 0:
                state = ("up", "down", "up", "gone")[k % 4] if half_down else "up"
                instance = f"pull-{k:05d}"
                labels = {"instance": instance, "job": "node", "environment": "scale", "maintainers": "team"}
                address = pull_address(k, 1 if state == "down" else self.farm_port)
                yield Host("pull", instance, labels, state, None if state == "up" else spread, address)
            else:
                state = ("up", "gone")[k % 2] if half_down else "up"
                instance = f"push-{k:05d}"
                labels = {
                    "instance": instance,
                    "job": "integrations/unix",
                    "environment": "scale",
                    "maintainers": "team",
                }
                yield Host("push", instance, labels, state, None if state == "up" else spread)

    def target_groups(self) -> list[dict[str, Any]]:
        """file_sd groups of the pull hosts Prometheus still scrapes (up and down, not gone)."""
        return [
            {"targets": [h.address], "labels": {k: v for k, v in h.labels.items() if k != "job"}}
            for h in self
            if h.kind == "pull" and h.state != "gone"
        ]

    def count(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self:
            out[h.state] = out.get(h.state, 0) + 1
        return out


# --- remote-write encoding from cached pieces -----------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _labels_blob(labels: Mapping[str, str]) -> bytes:
    return b"".join(_field(1, _field(1, k.encode()) + _field(2, labels[k].encode())) for k in sorted(labels))


_OPEN = 1 << 62  # a segment still running at the end of the history (alive, or down with `up 0`)


@dataclass
class _Series:
    labels: bytes
    interval_ms: int
    segments: tuple[tuple[int, int, float], ...]  # [from, to) ms, value; to == _OPEN: still running


def _series_of(fleet: ScaleFleet) -> list[_Series]:
    out = []
    for h in fleet:
        interval = int((fleet.pull_interval if h.kind == "pull" else PUSH_INTERVAL) * 1000)
        event = int(h.event_at * 1000) if h.event_at is not None else _OPEN
        alive = ((0, event, 1.0),)
        up = alive + (((event, _OPEN, 0.0),) if h.state == "down" else ())
        nodename = h.instance if h.kind == "push" else (pull_name(h.address or "") or h.instance)
        out.append(_Series(_labels_blob({"__name__": "up", **h.labels}), interval, up))
        uname = {"__name__": "node_uname_info", **h.labels, "nodename": nodename, "domainname": "(none)", **_UNAME}
        out.append(_Series(_labels_blob(uname), interval, alive))
        mem = {"__name__": "node_memory_MemTotal_bytes", **h.labels}
        out.append(_Series(_labels_blob(mem), interval, ((0, event, 8.0e9),)))
    return out


class _Blobs:
    """Sample bytes for [a, b) at one interval and value: the same for every series of that kind."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int, int, float], bytes] = {}

    def get(self, interval: int, a: int, b: int, value: float) -> bytes:
        first = -(-a // interval) * interval
        key = (interval, first, b, value)
        blob = self.cache.get(key)
        if blob is None:
            v = b"\x09" + struct.pack("<d", value) + b"\x10"
            parts = []
            for t in range(first, b, interval):
                body = v + _varint(t)
                parts.append(b"\x12" + _varint(len(body)) + body)
            blob = self.cache[key] = b"".join(parts)
        return blob


def _post(url: str, body: bytes) -> None:
    req = urllib.request.Request(
        url,
        data=snappy_literal(body),
        method="POST",
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        },
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        resp.read()


def _write_range(url: str, series: Sequence[_Series], start_ms: int, end_ms: int, slab: float = 900.0) -> float:
    """Remote-write the samples of [start_ms, end_ms), oldest slab first; returns how many were sent.

    The requests of one slab go out concurrently (each series is in one of them), and the next slab is
    encoded meanwhile but sent only once they are all in: a series' samples must arrive in time order.
    """
    blobs = _Blobs()
    samples = 0.0
    limit = 16 << 20
    with ThreadPoolExecutor(2) as pool:
        pending: list[Future[None]] = []
        for a in range(start_ms, end_ms, int(slab * 1000)):
            b = min(a + int(slab * 1000), end_ms)
            blobs.cache.clear()
            bodies: list[bytes] = []
            body: list[bytes] = []
            size = 0
            for s in series:
                parts = [s.labels]
                for lo, hi, value in s.segments:
                    lo2, hi2 = max(lo, a), min(hi, b)
                    if lo2 < hi2:
                        blob = blobs.get(s.interval_ms, lo2, hi2, value)
                        if blob:
                            parts.append(blob)
                            samples += len(blob) / 18
                if len(parts) == 1:
                    continue
                ts = b"".join(parts)
                item = b"\x0a" + _varint(len(ts)) + ts
                body.append(item)
                size += len(item)
                if size >= limit:
                    bodies.append(b"".join(body))
                    body, size = [], 0
            if body:
                bodies.append(b"".join(body))
            for f in pending:
                f.result()
            pending = [pool.submit(_post, url, b) for b in bodies]
        for f in pending:
            f.result()
    return samples


def write_history(url: str, fleet: ScaleFleet, seconds: float = DAY) -> float:
    """Remote-write `seconds` of history ending at `fleet.end`, then catch up with the clock (writing takes a
    while), so live hosts have no gap before the farm takes over. Returns the samples sent."""
    series = _series_of(fleet)
    end_ms = int(fleet.end * 1000)
    samples = _write_range(url, series, end_ms - int(seconds * 1000), end_ms)
    while (now_ms := int(time.time() * 1000)) - end_ms > PUSH_INTERVAL * 1000:
        samples += _write_range(url, series, end_ms, now_ms)
        end_ms = now_ms
    return samples


# --- the scrape farm and the push keeper (a separate process: never the measured one) ------------------------


class _FarmProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\r\n\r\n" not in self.buf or self.transport is None:
            return
        head = self.buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        host = ""
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "host":
                host = value.strip()
        name = pull_name(host) or "unknown"
        labels = ",".join(f'{k}="{v}"' for k, v in sorted({"nodename": name, "domainname": "(none)", **_UNAME}.items()))
        body = (
            f"# TYPE node_uname_info gauge\nnode_uname_info{{{labels}}} 1\n"
            "# TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 8e+09\n"
        ).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.transport.close()


def _keeper(url: str, fleet: ScaleFleet, stop: threading.Event) -> None:
    """Every 15 s, one sample of each live push host's series, as a pushing Alloy would send; the hosts spread
    over the interval, a slice of them every second.

    Why spread: real agents push on their own clocks, so a real Prometheus takes their samples in a steady
    stream; the whole fleet in one burst every 15 s (75,000 series at 50,000 hosts, and this writer's own
    work building them) is a load no real fleet makes, and it fell on some measured requests and not others.
    """
    live = [h for h in fleet if h.kind == "push" and h.state == "up"]
    slots: list[list[tuple[bytes, bytes, bytes]]] = [[] for _ in range(_PUSH_SLOTS)]
    for i, h in enumerate(live):
        uname = {"__name__": "node_uname_info", **h.labels, "nodename": h.instance, "domainname": "(none)", **_UNAME}
        slots[i % _PUSH_SLOTS].append(
            (
                _labels_blob({"__name__": "up", **h.labels}),
                _labels_blob(uname),
                _labels_blob({"__name__": "node_memory_MemTotal_bytes", **h.labels}),
            )
        )
    start = time.time()
    tick = 0
    while not stop.is_set():
        t = int(time.time() * 1000)
        one = b"\x09" + struct.pack("<d", 1.0) + b"\x10" + _varint(t)
        mem = b"\x09" + struct.pack("<d", 8.0e9) + b"\x10" + _varint(t)
        items = []
        for up_blob, uname_blob, memory_blob in slots[tick % _PUSH_SLOTS]:
            for lb, sample in ((up_blob, one), (uname_blob, one), (memory_blob, mem)):
                ts = lb + b"\x12" + _varint(len(sample)) + sample
                items.append(b"\x0a" + _varint(len(ts)) + ts)
        if items:
            with contextlib.suppress(OSError):
                _post(url, b"".join(items))
        tick += 1
        stop.wait(max(0.0, start + tick * PUSH_INTERVAL / _PUSH_SLOTS - time.time()))


def farm_main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fleetui.lab.scale farm")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--remote-write", required=True)
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--scenario", choices=SCENARIOS, required=True)
    ap.add_argument("--end", type=float, required=True)
    ap.add_argument("--pull-interval", type=float, default=60.0)
    ap.add_argument("--spread", type=float, default=DAY)
    a = ap.parse_args(argv)
    _raise_nofile()
    fleet = ScaleFleet(a.hosts, a.scenario, a.end, a.port, a.pull_interval, a.spread)
    stop = threading.Event()
    keeper = threading.Thread(target=_keeper, args=(a.remote_write, fleet, stop), daemon=True)
    keeper.start()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_FarmProtocol, "0.0.0.0", a.port, backlog=4096)  # noqa: S104 (private netns)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    finally:
        stop.set()


class ScrapeFarm:
    """The farm as a child process: answers scrapes of the fleet's pull targets and keeps push hosts live."""

    def __init__(self, prom: PrivatePrometheus, fleet: ScaleFleet) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleetui.lab.scale",
                "farm",
                f"--port={fleet.farm_port}",
                f"--remote-write={prom.write_url}",
                f"--hosts={fleet.hosts}",
                f"--scenario={fleet.scenario}",
                f"--end={fleet.end}",
                f"--pull-interval={fleet.pull_interval}",
                f"--spread={fleet.spread}",
            ],
            stdout=subprocess.PIPE,
            stderr=(prom.root / "farm.log").open("w"),
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            self.stop()
            raise RuntimeError(f"scrape farm did not start: {(prom.root / 'farm.log').read_text()[-500:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def build(
    root: Path,
    hosts: int,
    scenario: str,
    *,
    history: float = DAY,
    pull_interval: float = 60.0,
    log: Any = None,
    settle: bool = True,
) -> tuple[PrivatePrometheus, ScrapeFarm, ScaleFleet]:
    """A private Prometheus holding `hosts` hosts of `scenario` with `history` seconds of history, its pull
    targets scraped and its live push hosts pushing; compaction settled (`settle`: benchmarks measure a quiet
    server; a test that only checks answers need not wait for it: queries are exact while blocks are cut).
    The caller stops both."""
    say = log or (lambda _msg: None)
    prom = PrivatePrometheus(root, scrape_interval=f"{int(pull_interval)}s")
    try:
        t0 = time.monotonic()
        fleet = ScaleFleet(hosts, scenario, time.time(), free_port(), pull_interval, min(history, DAY))
        samples = write_history(prom.write_url, fleet, history)
        say(f"wrote {samples / 1e6:.1f} M samples ({history / 3600:g} h of history) in {time.monotonic() - t0:.0f} s")
        farm = ScrapeFarm(prom, fleet)
        try:
            groups = fleet.target_groups()
            prom.write_targets(groups)
            prom.wait_targets(len(groups), scraped=True, limit=pull_interval * 3 + 600)
            if settle:
                blocks = prom.wait_compacted()
                say(f"{len(groups)} targets scraped, {blocks} blocks after compaction, {time.monotonic() - t0:.0f} s")
        except BaseException:
            farm.stop()
            raise
        return prom, farm, fleet
    except BaseException:
        prom.stop()
        raise


def serve_main(argv: Sequence[str] | None = None) -> None:
    """Build a fleet, print one JSON line (url, hosts, scenario, end, counts, pid), serve until stdin closes."""
    ap = argparse.ArgumentParser(prog="python -m fleetui.lab.scale serve")
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--scenario", choices=SCENARIOS, required=True)
    ap.add_argument("--history", type=float, default=DAY)
    ap.add_argument("--pull-interval", type=float, default=60.0)
    a = ap.parse_args(argv)
    prom, farm, fleet = build(
        a.root,
        a.hosts,
        a.scenario,
        history=a.history,
        pull_interval=a.pull_interval,
        log=lambda m: print(m, file=sys.stderr),
    )
    try:
        info = {
            "url": prom.url,
            "hosts": a.hosts,
            "scenario": a.scenario,
            "end": fleet.end,
            "counts": fleet.count(),
            "pid": prom.proc.pid,  # Prometheus' own: bench/refresh.py --own-cores pins it
        }
        print(json.dumps(info), flush=True)
        sys.stdin.read()
    finally:
        farm.stop()
        prom.stop()


class ScaleServer:
    """`serve` in a child process, so the process that measures fleetui never paid for writing the history."""

    def __init__(self, root: Path, hosts: int, scenario: str, *, history: float = DAY, pull_interval: float = 60.0):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleetui.lab.scale",
                "serve",
                f"--root={root}",
                f"--hosts={hosts}",
                f"--scenario={scenario}",
                f"--history={history}",
                f"--pull-interval={pull_interval}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError("the scale fleet could not be built (see the messages above)")
        self.info: dict[str, Any] = json.loads(line)
        self.url: str = self.info["url"]
        self.fleet = ScaleFleet(hosts, scenario, float(self.info["end"]), 0, pull_interval, min(history, DAY))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["farm"]:
        farm_main(sys.argv[2:])
    elif sys.argv[1:2] == ["serve"]:
        serve_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m fleetui.lab.scale farm|serve ...")
