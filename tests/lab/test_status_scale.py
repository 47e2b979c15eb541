"""A refresh costs the same number of HTTP requests at 10 hosts and at 10,000 (issue 3).

The hosts live in a private, real Prometheus (the same binary as the lab's) started by this module, not in
the lab's: 10,000 remote-written hosts would show up as `gone` in every other test's and the console's fleet
for the whole 24 h look-back, and the lab's Prometheus has no admin API to delete them. Half the hosts are
pull (file_sd targets on closed loopback ports, so Prometheus really lists 5,000 active targets), half push
(real remote_write requests).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetui.adapters.prometheus import FleetReader, PrometheusClient
from fleetui.config import Settings, load
from fleetui.domain.fleet import HostState, Mode
from fleetui.lab.remote_write import push

pytestmark = pytest.mark.lab

PUSH_PREFIX = "t-scale-push-"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePrometheus:
    """A throwaway Prometheus with the remote_write receiver and one file_sd job."""

    def __init__(self, root: Path, rules: str | None = None) -> None:
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets_file = root / "targets" / "scale.json"
        self.targets_file.parent.mkdir(parents=True)
        self.targets_file.write_text("[]")
        rule_files = ""
        if rules is not None:
            (root / "rules.yml").write_text(rules)
            rule_files = f"rule_files: ['{root / 'rules.yml'}']\n"
        (root / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1h\n  scrape_timeout: 5s\n  evaluation_interval: 1s\n"
            + rule_files
            + "scrape_configs:\n  - job_name: node\n    file_sd_configs:\n"
            f"      - files: ['{self.targets_file.parent}/*.json']\n"
        )
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
        cfg = tmp / "config.yaml"
        cfg.write_text("")
        return load(cfg, environ={}, overrides={"prometheus.url": self.url})

    def add_hosts(self, start: int, stop: int) -> None:
        """Hosts [start, stop): even ones pull targets, odd ones pushed now through remote_write."""
        pulls = [f"127.1.{i // 250}.{i % 250 + 1}:1" for i in range(start, stop) if i % 2 == 0]
        old = json.loads(self.targets_file.read_text())
        groups = [*old, {"targets": pulls, "labels": {"environment": "scale", "maintainers": "t"}}]
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(self.targets_file)
        now = int(time.time() * 1000)
        series = []
        for i in range(start, stop):
            if i % 2:
                labels = {
                    "instance": f"{PUSH_PREFIX}{i}",
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
            push(f"{self.url}/api/v1/write", series[k : k + 4000])

    def wait_targets(self, n: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.url}/api/v1/targets?state=active", timeout=10) as r:
                if len(json.load(r)["data"]["activeTargets"]) == n:
                    return
            time.sleep(0.5)
        raise AssertionError(f"Prometheus did not list {n} targets in 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def private_prometheus(
    tmp_path_factory: pytest.TempPathFactory, debian_tool: Callable[[str], str]
) -> Iterator[PrivatePrometheus]:
    debian_tool("prometheus")
    p = PrivatePrometheus(tmp_path_factory.mktemp("scale-prom"))
    try:
        yield p
    finally:
        p.stop()


async def _refresh(prom: PrivatePrometheus, tmp: Path) -> tuple[int, int, dict[str, int]]:
    s = prom.settings(tmp)
    async with PrometheusClient(s) as c:
        await c.backend()  # the client's one-off backend detection is not part of a refresh
        before = c.request_count
        snap = await FleetReader(c, s).snapshot()
        modes = {m.value: sum(1 for h in snap.hosts if h.mode is m) for m in Mode}
        assert all(h.state in (HostState.UP, HostState.DOWN) for h in snap.hosts)
        return c.request_count - before, len(snap.hosts), modes


async def test_requests_per_refresh_same_at_10_and_10000_hosts(
    private_prometheus: PrivatePrometheus, tmp_path: Path
) -> None:
    private_prometheus.add_hosts(0, 10)
    private_prometheus.wait_targets(5)
    small, n_small, modes_small = await _refresh(private_prometheus, tmp_path)
    assert (n_small, modes_small) == (10, {"pull": 5, "push": 5})

    private_prometheus.add_hosts(10, 10_000)
    private_prometheus.wait_targets(5_000)
    large, n_large, modes_large = await _refresh(private_prometheus, tmp_path)
    assert (n_large, modes_large) == (10_000, {"pull": 5_000, "push": 5_000})

    assert small == large <= 6


async def test_reader_uses_the_recording_rule_fleetui_rules_prints(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, debian_tool: Callable[[str], str]
) -> None:
    """The rules file of `fleetui rules`, loaded by a real Prometheus, feeds last_seen (and saves a query)."""
    debian_tool("prometheus")
    from fleetui.domain.rules import render_rules

    prom = PrivatePrometheus(tmp_path_factory.mktemp("rule-prom"), rules=render_rules())
    try:
        now = int(time.time() * 1000)
        labels = {"instance": "t-rule-push", "job": "integrations/unix", "environment": "x", "maintainers": "y"}
        push(f"{prom.url}/api/v1/write", [({"__name__": "up", **labels}, [(now - 1000, 1.0)])])
        deadline = time.monotonic() + 20
        s = prom.settings(tmp_path)
        while True:
            async with PrometheusClient(s) as c:
                rule = await c.query("node_last_seen_timestamp")
            if rule:
                break
            assert time.monotonic() < deadline, "the recording rule recorded nothing"
            await asyncio.sleep(0.5)
        assert rule[0].value == pytest.approx((now - 1000) / 1000, abs=0.001)  # the sample's time, not eval time
        async with PrometheusClient(s) as c:
            snap = await FleetReader(c, s).snapshot()
            assert c.request_count == 1 + 5  # backend detection, then no history query: no unknown host
        assert snap.last_seen_source == "recording_rule"
        (host,) = snap.hosts
        assert (host.instance, host.state, host.last_seen) == ("t-rule-push", HostState.UP, (now - 1000) / 1000)
    finally:
        prom.stop()
