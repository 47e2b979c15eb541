"""One fleet refresh at 10,000 hosts on Prometheus and on VictoriaMetrics, side by side, in one run.

    .venv/bin/python bench/refresh_backends.py [--hosts 10000] [--history-minutes 55] [--runs 3]
        [--backend both|prometheus|victoriametrics]

Starts a private Prometheus and a private VictoriaMetrics (Debian's packages) on free loopback ports and
writes the same fleet to each: half pull (file_sd targets on closed loopback ports, scraped hourly), half push
(remote_write) with `--history-minutes` of 1-minute `up`/`node_uname_info` history, one push host in ten gone
since 30 minutes. Times `FleetReader.snapshot()` (median of `--runs`) with the computed history, then again
after writing `node_last_seen_timestamp` series as the recording rule would, and prints each query's time.
Both backends run at once and their refreshes alternate (P, V, P, V, ...), so a busy machine slows both
alike. The closing table compares the two and gives the ratio VictoriaMetrics / Prometheus.
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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fleetui.adapters.prometheus import FleetReader, PrometheusClient
from fleetui.config import Settings, load
from fleetui.lab.remote_write import push

BACKENDS = ("prometheus", "victoriametrics")


@dataclass
class Timing:
    hosts: int = 0
    requests: int = 0
    source: str = ""
    times: list[float] = field(default_factory=list)
    per_query: dict[str, float] = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def package_version(name: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=False)
    return out.stdout.split("+")[0] or "?"


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2):
                return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"private backend at {url} did not start")


@contextmanager
def private_backend(kind: str, root: Path) -> Iterator[tuple[str, Path]]:
    """A private Prometheus or VictoriaMetrics scraping `<root>/targets/*.json` hourly; yields (url, targets)."""
    port = free_port()
    tdir = root / "targets"
    tdir.mkdir(parents=True)
    url = f"http://127.0.0.1:{port}"
    if kind == "prometheus":
        (root / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1h\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: node\n"
            f"    file_sd_configs:\n      - files: ['{tdir}/*.json']\n"
        )
        argv = [
            "prometheus",
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ]
    else:
        (root / "promscrape.yml").write_text(
            "global:\n  scrape_interval: 1h\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: node\n"
            f"    file_sd_configs:\n      - files: ['{tdir}/*.json']\n"
        )
        argv = [
            "victoria-metrics",
            f"-promscrape.config={root / 'promscrape.yml'}",
            "-promscrape.fileSDCheckInterval=1s",
            f"-storageDataPath={root / 'data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-loggerLevel=WARN",
        ]
    with (root / "log.txt").open("w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_ready(url, proc)
        yield url, tdir
    finally:
        proc.terminate()
        proc.wait(30)


def write_fleet(kind: str, url: str, tdir: Path, n: int, minutes: int, metric_names: tuple[str, ...]) -> None:
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
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/targets?state=active", timeout=30) as r:
            if len(json.load(r)["data"]["activeTargets"]) == len(pulls):
                break
        time.sleep(0.5)
    if kind == "victoriametrics":  # make the samples just written searchable now, not in a few seconds
        with urllib.request.urlopen(f"{url}/internal/force_flush", timeout=60) as r:
            r.read()


def settings_for(url: str, tmp: Path) -> Settings:
    cfg = tmp / "config.yaml"
    cfg.write_text("")
    return load(cfg, environ={}, overrides={"prometheus.url": url})


async def time_refreshes(settings: dict[str, Settings], runs: int) -> dict[str, Timing]:
    """`runs` refreshes per backend, alternating between the backends, then each query on its own."""
    clients = {k: PrometheusClient(s) for k, s in settings.items()}
    out = {k: Timing() for k in settings}
    try:
        for c in clients.values():
            await c.backend()  # the one-off backend detection is not part of a refresh
        for _ in range(runs):
            for k, c in clients.items():
                before = c.request_count
                t0 = time.perf_counter()
                snap = await FleetReader(c, settings[k]).snapshot()
                out[k].times.append(time.perf_counter() - t0)
                out[k].requests = c.request_count - before
                out[k].hosts, out[k].source = len(snap.hosts), snap.last_seen_source
        for k, c in clients.items():
            await per_query(c, settings[k], out[k])
    finally:
        for c in clients.values():
            await c.aclose()
    return out


async def per_query(c: PrometheusClient, s: Settings, out: Timing) -> None:
    """Each request of a refresh on its own, sequentially."""
    reader = FleetReader(c, s)
    t0 = time.perf_counter()
    await c.targets()
    out.per_query["targets"] = time.perf_counter() - t0
    for name, expr in reader.queries.items():
        t0 = time.perf_counter()
        await c.query(expr)
        out.per_query[name] = time.perf_counter() - t0
    history = FleetReader(c, s)  # nothing remembered: every down or gone host is looked up, step by step
    await history.refresh(keep=True)
    t0 = time.perf_counter()
    steps = await history.catch_up()
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(history.history_kinds.items()))
    out.per_query[f"history ({steps} bounded steps: {kinds or 'none'})"] = time.perf_counter() - t0


def run_backends(
    kinds: tuple[str, ...], tmp: Path, hosts: int, minutes: int, runs: int
) -> dict[str, dict[str, Timing]]:
    results: dict[str, dict[str, Timing]] = {k: {} for k in kinds}
    with ExitStack() as stack:
        where = {k: stack.enter_context(private_backend(k, tmp / k)) for k in kinds}
        for k, (url, tdir) in where.items():
            t0 = time.perf_counter()
            write_fleet(k, url, tdir, hosts, minutes, ("up", "node_uname_info"))
            print(f"{k}: wrote {hosts} hosts ({minutes} min history per push host) in {time.perf_counter() - t0:.1f} s")
        settings = {k: settings_for(url, tmp) for k, (url, _) in where.items()}
        for k, t in asyncio.run(time_refreshes(settings, runs)).items():
            results[k]["computed history"] = t
        for k, (url, tdir) in where.items():
            write_fleet(k, url, tdir, hosts, minutes, ("node_last_seen_timestamp",))
        for k, t in asyncio.run(time_refreshes(settings, runs)).items():
            results[k]["recording rule"] = t
    for k in kinds:
        print(k)
        for label, t in results[k].items():
            print(
                f"  {label}: {t.hosts} hosts, {t.requests} requests, last_seen from {t.source}; "
                f"snapshot() median {t.median_ms:.0f} ms (min {min(t.times) * 1000:.0f}, runs {len(t.times)})"
            )
            print("    per query (sequential): " + ", ".join(f"{q} {v * 1000:.0f} ms" for q, v in t.per_query.items()))
    return results


def side_by_side(results: dict[str, dict[str, Timing]], hosts: int) -> None:
    names = {"prometheus": f"Prometheus {package_version('prometheus')}"}
    names["victoriametrics"] = f"VictoriaMetrics {package_version('victoria-metrics')}"
    kinds = [k for k in BACKENDS if k in results]
    print(f"\nrefresh at {hosts} hosts, snapshot() median:")
    print(f"  {'path':<18}" + "".join(f"{names[k]:>26}" for k in kinds) + ("   VM/Prom" if len(kinds) == 2 else ""))
    for path in ("computed history", "recording rule"):
        cells = [results[k][path] for k in kinds]
        row = f"  {path:<18}" + "".join(f"{f'{c.median_ms:.0f} ms ({c.hosts} hosts)':>26}" for c in cells)
        if len(cells) == 2:
            row += f"   {cells[1].median_ms / cells[0].median_ms:8.2f}"
        print(row)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--history-minutes", type=int, default=55)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", choices=("both", *BACKENDS), default="both")
    args = ap.parse_args(argv)
    kinds = BACKENDS if args.backend == "both" else (args.backend,)
    missing = [k for k in kinds if shutil.which("prometheus" if k == "prometheus" else "victoria-metrics") is None]
    if missing:
        print(f"skipped: no binary for {', '.join(missing)} (run ./setup.sh)")
        return 0
    with tempfile.TemporaryDirectory() as tmp_s:
        results = run_backends(kinds, Path(tmp_s), args.hosts, args.history_minutes, args.runs)
    side_by_side(results, args.hosts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
