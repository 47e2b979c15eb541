"""Time one fleet refresh (`FleetReader.snapshot()`): against the lab, and at 10,000 hosts.

    .venv/bin/python bench/refresh.py [--lab-url http://127.0.0.1:19090] [--hosts 10000] [--history-minutes 55]
    .venv/bin/python bench/refresh.py --backend both|prometheus|victoriametrics [--hosts N] [--runs N]

The 10,000 hosts go into a private Prometheus this script starts (the lab's would list them as gone for a
day): half pull (file_sd targets on closed loopback ports), half push (remote_write), the push hosts with
`--history-minutes` of 1-minute history for `up` and `node_uname_info`, one in ten of them gone since 30
minutes (their history ends then); Prometheus' head only accepts samples up to about an hour old, so a
full day cannot be written. It times the refresh with the computed
last-seen history (subquery), then writes `node_last_seen_timestamp` series as the recording rule would
and times the recording-rule path. Prints each query's time too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fleetui.adapters.prometheus import (
    PRESENCE_METRICS,
    FleetReader,
    PrometheusClient,
    PrometheusError,
    history_query,
)
from fleetui.config import Settings, load
from fleetui.domain.fleet import HostState
from fleetui.lab.remote_write import push


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(url: str, tmp: Path) -> Settings:
    cfg = tmp / "config.yaml"
    cfg.write_text("")
    return load(cfg, environ={}, overrides={"prometheus.url": url})


async def time_refresh(s: Settings, runs: int = 3) -> tuple[list[float], int, int, str, dict[str, float]]:
    times = []
    async with PrometheusClient(s) as c:
        for _ in range(runs):
            before = c.request_count
            t0 = time.perf_counter()
            snap = await FleetReader(c, s).snapshot()
            times.append(time.perf_counter() - t0)
            requests = c.request_count - before
        reader = FleetReader(c, s)
        per_query = {}
        t0 = time.perf_counter()
        await c.targets()
        per_query["targets"] = time.perf_counter() - t0
        for name, expr in reader.queries.items():
            t0 = time.perf_counter()
            await c.query(expr)
            per_query[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await c.series(PRESENCE_METRICS, snap.taken_at - reader.lookback, snap.taken_at)
        per_query["series"] = time.perf_counter() - t0
        candidates = [h.instance for h in snap.hosts if h.state in (HostState.GONE, HostState.DOWN)]
        if candidates:
            t0 = time.perf_counter()
            await c.query(history_query(candidates, reader.lookback))
            per_query[f"history({len(candidates)} candidates)"] = time.perf_counter() - t0
    return times, requests, len(snap.hosts), snap.last_seen_source, per_query


def report(label: str, result: tuple[list[float], int, int, str, dict[str, float]]) -> None:
    times, requests, hosts, source, per_query = result
    print(
        f"{label}: {hosts} hosts, {requests} requests, last_seen from {source}; snapshot() "
        f"median {statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f}, runs {len(times)})"
    )
    print("    per query (sequential): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in per_query.items()))


def start_private(root: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    tdir = root / "targets"
    tdir.mkdir()
    (root / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1h\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: node\n"
        f"    file_sd_configs:\n      - files: ['{tdir}/*.json']\n"
    )
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "log.txt").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2):
                return proc, url, tdir
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("private Prometheus did not start")


def write_fleet(url: str, tdir: Path, n: int, minutes: int, metric_names: tuple[str, ...]) -> None:
    pulls = [f"127.1.{i // 250}.{i % 250 + 1}:1" for i in range(0, n, 2)]
    (tdir / "fleet.json").write_text(
        json.dumps([{"targets": pulls, "labels": {"environment": "bench", "maintainers": "b"}}])
    )
    now = int(time.time() * 1000)
    full = [(now - m * 60_000, 1.0) for m in range(minutes, -1, -1)]
    ended = [x for x in full if x[0] <= now - 30 * 60_000]  # gone half an hour ago
    batch = []
    for i in range(1, n, 2):
        samples = ended if i % 20 == 1 else full
        labels = {"instance": f"bench-push-{i}", "job": "integrations/unix", "environment": "bench", "maintainers": "b"}
        for name in metric_names:
            extra = {"nodename": labels["instance"], "sysname": "Linux"} if name == "node_uname_info" else {}
            vals = [(t, t / 1000) for t, _ in samples] if name == "node_last_seen_timestamp" else samples
            batch.append(({"__name__": name, **labels, **extra}, vals))
        if len(batch) >= 2000:
            push(f"{url}/api/v1/write", batch, timeout=60)
            batch = []
    if batch:
        push(f"{url}/api/v1/write", batch, timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/targets?state=active", timeout=30) as r:
            if len(json.load(r)["data"]["activeTargets"]) == len(pulls):
                return
        time.sleep(0.5)


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
    ap.add_argument("--lab-url", default="http://127.0.0.1:19090")
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--history-minutes", type=int, default=55)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        try:
            report(f"lab ({args.lab_url})", asyncio.run(time_refresh(settings_for(args.lab_url, tmp))))
        except PrometheusError as e:
            print(f"lab: skipped ({e})")
        if shutil.which("prometheus") is None:
            print("private Prometheus: skipped (no prometheus binary)")
            return 0
        root = tmp / "prom"
        root.mkdir()
        proc, url, tdir = start_private(root)
        try:
            t0 = time.perf_counter()
            write_fleet(url, tdir, args.hosts, args.history_minutes, ("up", "node_uname_info"))
            print(
                f"wrote {args.hosts} hosts ({args.history_minutes} min history per push host) "
                f"in {time.perf_counter() - t0:.1f} s"
            )
            s = settings_for(url, tmp)
            report(f"{args.hosts} hosts, computed history", asyncio.run(time_refresh(s)))
            write_fleet(url, tdir, args.hosts, args.history_minutes, ("node_last_seen_timestamp",))
            report(f"{args.hosts} hosts, recording rule", asyncio.run(time_refresh(s)))
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
