"""The doctor against the lab: all ok on healthy hosts, and one host broken per check (fleetui.lab.faults,
which says how each is broken and why that way), with the doctor pointing at exactly that check first. Every
fault is undone, and the host seen healthy again, before the next test.

The two checks not broken on a host: ssh (a known_hosts file that does not know the host: the key was never
trusted) and labels (raspberry-4b as the lab built it: instance "raspberry-pi", job the component path).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from lab_trust import settings_trusting

from fleetui.adapters.ssh import SshTarget
from fleetui.config import Settings
from fleetui.doctor.fleet import doctor_fleet
from fleetui.doctor.model import DoctorReport, Status
from fleetui.doctor.probe import DoctorTarget
from fleetui.lab.faults import FAULTS, broken

pytestmark = pytest.mark.lab

HOSTS = ["web-01", "cache-01", "raspberry-4b", "db-01"]
CONFIG = "/etc/alloy/config.alloy"


def wait_for(cond: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def settings(lab: Any, lab_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Trusted keys, and a lab that has settled: a lab started a moment ago has no scrape or push yet."""

    def has(q: str) -> bool:
        r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": q}, timeout=5).json()["data"]["result"]
        return bool(r)

    for q in ('up{instance="web-01"} == 1', 'node_uname_info{nodename="cache-01"}', 'up{instance="raspberry-pi"}'):
        wait_for(lambda q=q: has(q), f"the lab's Prometheus to have {q}", timeout=120)
    return settings_trusting(lab, lab_settings, tmp_path_factory.mktemp("kh") / "known_hosts", HOSTS)


def doctor(lab: Any, settings: Settings, *names: str) -> list[DoctorReport]:
    targets = [DoctorTarget(n, SshTarget(lab.host(n).address, lab.host(n).ssh_port, "root")) for n in names]
    return asyncio.run(doctor_fleet(settings, targets))


def first(report: DoctorReport) -> str | None:
    f = report.first_failure
    return f.id if f else None


def test_healthy_pull_and_push_hosts_are_all_ok(lab: Any, settings: Settings) -> None:
    pull, push = doctor(lab, settings, "web-01", "cache-01")
    for report in (pull, push):
        bad = [(c.id, c.status.value, c.summary) for c in report.checks if c.status in (Status.FAIL, Status.WARN)]
        assert bad == [], f"{report.host}: {bad}"
    assert pull.mode == "pull" and pull.check("remote_write").status is Status.SKIPPED
    assert push.mode == "push" and all(c.status is Status.OK for c in push.checks)
    assert pull.nodename == "web-01" and "/api/v0/component/prometheus.exporter.unix.default/metrics" in (
        pull.check("exporter").summary
    )


def test_ssh_host_key_not_trusted(lab: Any, settings: Settings, tmp_path: Path) -> None:
    stranger = settings.with_overrides({"ssh.known_hosts": str(tmp_path / "empty_known_hosts")})
    (report,) = doctor(lab, stranger, "web-01")
    assert first(report) == "ssh" and "not trusted" in report.check("ssh").summary
    assert all(c.status is Status.SKIPPED for c in report.checks if c.id not in ("ssh", "series", "labels"))
    assert report.check("series").status is Status.OK  # Prometheus still has its data


def test_alloy_not_installed(lab: Any, settings: Settings) -> None:
    with broken("web-01", "installed"):
        (report,) = doctor(lab, settings, "web-01")
    assert first(report) == "installed" and "fleetui enroll" in report.check("installed").hint


def test_service_stopped(lab: Any, settings: Settings) -> None:
    with broken("web-01", "service"):
        (report,) = doctor(lab, settings, "web-01")
    c = report.check("service")
    assert first(report) == "service" and "inactive" in c.summary and c.hint == "systemctl enable --now alloy"
    assert report.check("ready").status is Status.SKIPPED


def test_alloy_not_ready(lab: Any, settings: Settings) -> None:
    with broken("web-01", "ready"):
        (report,) = doctor(lab, settings, "web-01")
    assert first(report) == "ready" and "503" in report.check("ready").evidence[0]


def test_config_reload_failed(lab: Any, settings: Settings) -> None:
    with broken("web-01", "config"):
        (report,) = doctor(lab, settings, "web-01")
    c = report.check("config")
    assert first(report) == "config" and "alloy_config_last_load_successful 0" in c.evidence
    assert any("illegal character U+0023" in e for e in c.evidence)  # from Alloy's own log line


def test_exporter_renamed_under_prometheus(lab: Any, settings: Settings) -> None:
    with broken("web-01", "exporter"):
        (report,) = doctor(lab, settings, "web-01")
    c = report.check("exporter")
    assert first(report) == "exporter" and "prometheus.exporter.unix.default" in c.summary
    assert "404" in c.evidence[0] and "Prometheus target" in c.evidence[0]


def test_prometheus_unreachable_from_a_push_host(lab: Any, settings: Settings) -> None:
    with broken("cache-01", "prometheus"):
        (report,) = doctor(lab, settings, "cache-01")
    assert first(report) == "prometheus" and "does not answer" in report.check("prometheus").summary


def test_remote_write_404_from_a_wrong_path(lab: Any, settings: Settings) -> None:
    with broken("cache-01", "remote_write"):
        (report,) = doctor(lab, settings, "cache-01")
    c = report.check("remote_write")
    assert report.check("prometheus").status is Status.OK  # the URL answers: with a 404
    assert first(report) == "remote_write" and "404" in c.summary and "--web.enable-remote-write-receiver" in c.hint
    assert any("non-recoverable error" in e for e in c.evidence)


def test_series_stop_arriving(lab: Any, settings: Settings) -> None:
    stale_after = 16.0
    quick = settings.with_overrides({"stale_after": stale_after})

    def newest_age() -> float:
        q = 'time() - timestamp(node_uname_info{nodename="cache-01"})'
        r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": q}, timeout=5).json()["data"]["result"]
        return float(r[0]["value"][1]) if r else 1e9

    with broken("cache-01", "series"):
        wait_for(lambda: newest_age() > stale_after + 1, "cache-01's series to go stale", timeout=60)
        (report,) = doctor(lab, quick, "cache-01")
    c = report.check("series")
    assert first(report) == "series", [(x.id, x.status.value, x.summary) for x in report.checks]
    assert "old" in c.summary and "relabel" in c.hint
    assert report.check("remote_write").status is Status.OK  # nothing failed: samples were dropped on purpose


def test_labels_of_the_mislabelled_push_host(lab: Any, settings: Settings) -> None:
    (report,) = doctor(lab, settings, "raspberry-4b")
    c = report.check("labels")
    assert first(report) == "labels" and "'raspberry-pi' is not the nodename 'raspberry-4b'" in c.summary
    assert report.check("series").status is Status.OK


def test_clock_ahead(lab: Any, settings: Settings) -> None:
    with broken("web-01", "clock"):
        (report,) = doctor(lab, settings, "web-01")
    assert first(report) == "clock" and "+120s" in report.check("clock").summary


def test_every_fault_is_covered() -> None:
    """One test per fault above, plus ssh and labels: every doctor check is broken once."""
    from fleetui.doctor.model import ORDER

    assert set(FAULTS) | {"ssh", "labels"} == set(ORDER)


def test_cli_fleet_doctor_tallies_first_failures(lab: Any, settings: Settings) -> None:
    addrs = [lab.host(n).address for n in ("web-01", "raspberry-4b", "db-01")]
    argv = [sys.executable, "-m", "fleetui", "--config", str(lab.config_file)]
    argv += ["--set", f"ssh.known_hosts={settings['ssh.known_hosts']}", "doctor", *addrs, "--json"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["tally"] == {"service": 1, "labels": 1, "healthy": 1}
    assert [h["first_failure"] for h in doc["hosts"]] == [None, "labels", "service"]
    text = subprocess.run([*argv[:-1]], capture_output=True, text=True, timeout=120, check=False)
    assert "→ FAIL  alloy.service running" in text.stdout and "Where the trouble starts" in text.stdout


def test_fleet_doctor_runs_on_the_runner_waits_for_a_host_lock_and_tallies(lab: Any, settings: Settings) -> None:
    """The fleet doctor is one read-only operation per host on `Runner.run_many`: a host another operation holds
    (its runner lock, as an enrollment would) is examined only after it is released, the others go on; the
    tally names the hosts behind each first failure. (db-01's Alloy is stopped in the lab as built.)"""
    from fleetui.deploy.runner import Runner
    from fleetui.doctor.model import tally_hosts

    names = ("web-01", "db-01")
    targets = [DoctorTarget(n, SshTarget(lab.host(n).address, lab.host(n).ssh_port, "root")) for n in names]

    async def go() -> tuple[list[DoctorReport], list[str]]:
        runner = Runner(settings)
        held = runner.locks.lock_for(targets[0].ssh.host, None)  # as `fleetui enroll web-01` would hold it
        await held.acquire()
        finished: list[str] = []
        first = asyncio.Event()

        def reported(r: DoctorReport) -> None:
            finished.append(r.host)
            first.set()

        run = asyncio.ensure_future(doctor_fleet(settings, targets, runner=runner, concurrency=2, on_report=reported))
        await asyncio.wait_for(first.wait(), 60)
        assert finished == ["db-01"], finished  # web-01 waits for its lock while db-01 is examined
        held.release()
        return await run, finished

    reports, finished = asyncio.run(go())
    assert finished == ["db-01", "web-01"] and [r.host for r in reports] == list(names)  # in the order given
    assert tally_hosts(reports) == {"service": ["db-01"], "healthy": ["web-01"]}


def test_cli_doctor_all_examines_the_whole_fleet(lab: Any, settings: Settings) -> None:
    """`--all`: every host Prometheus lists, each in the tally exactly once; HOSTs with --all is bad input."""
    argv = [sys.executable, "-m", "fleetui", "--config", str(lab.config_file)]
    argv += ["--set", f"ssh.known_hosts={settings['ssh.known_hosts']}", "doctor"]
    bad = subprocess.run([*argv, "web-01", "--all"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "not both" in bad.stderr and not bad.stdout
    r = subprocess.run([*argv, "--all", "--json"], capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 1, r.stderr  # db-01's Alloy is stopped
    doc = json.loads(r.stdout)
    hosts = [h["host"] for h in doc["hosts"]]
    assert {"web-01", "db-01", "cache-01"} <= set(hosts) and len(hosts) == len(set(hosts))
    listed = [h for names in doc["first_failures"].values() for h in names]
    assert sorted(listed) == sorted(hosts) and sum(doc["tally"].values()) == len(hosts)
    assert "db-01" in doc["first_failures"]["service"]
    # push hosts are reached by name (their hostname label), which the lab's ssh config resolves as an
    # operator's does: raspberry-pi gets past SSH to the problem it really has
    assert "raspberry-pi" in doc["first_failures"]["labels"], doc["first_failures"]
    (pi,) = [h for h in doc["hosts"] if h["host"] == "raspberry-pi"]
    assert pi["checks"][0]["status"] == "ok", pi["checks"][0]
