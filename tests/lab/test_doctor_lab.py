"""The doctor against the lab: all ok on healthy hosts, and one host broken per check, with the doctor pointing
at exactly that check first. Every break is undone (and the host seen healthy again) before the next test.

How each check is broken, as it breaks in the field:
ssh           a known_hosts file that does not know the host (the key was never trusted)
installed     /usr/bin/alloy moved away
service       systemctl stop alloy
ready         Alloy serving HTTP but /-/ready 503 (the lab-only `not_ready` switch: a real Alloy is in that
              state only while it replays a long WAL before its first load, which a test cannot wait for)
config        a config with a syntax error, then systemctl reload alloy (Alloy keeps the previous one)
exporter      the exporter component renamed in the config: Prometheus' scrape URL now answers 404
prometheus    remote_write pointed at a port nothing listens on (push host)
remote_write  remote_write pointed at Mimir's path /api/v1/push on Prometheus: 404, "non-recoverable error"
series        a prometheus.relabel rule dropping every sample: no errors anywhere, nothing new arrives
labels        raspberry-4b as the lab built it: instance "raspberry-pi", job the component path (seed 000)
clock         a `date` that runs 120 s ahead (CLOCK_REALTIME cannot be set per namespace: a wrapper on PATH)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lab_trust import settings_trusting

from fleetui import lab as lab_mod
from fleetui.adapters.ssh import SshTarget
from fleetui.config import Settings
from fleetui.doctor.fleet import doctor_fleet
from fleetui.doctor.model import DoctorReport, Status
from fleetui.doctor.probe import DoctorTarget

pytestmark = pytest.mark.lab

HOSTS = ["web-01", "cache-01", "raspberry-4b", "db-01"]
CONFIG = "/etc/alloy/config.alloy"


@pytest.fixture(scope="module")
def settings(lab: Any, lab_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_trusting(lab, lab_settings, tmp_path_factory.mktemp("kh") / "known_hosts", HOSTS)


def doctor(lab: Any, settings: Settings, *names: str) -> list[DoctorReport]:
    targets = [DoctorTarget(n, SshTarget(lab.host(n).address, lab.host(n).ssh_port, "root")) for n in names]
    return asyncio.run(doctor_fleet(settings, targets))


def first(report: DoctorReport) -> str | None:
    f = report.first_failure
    return f.id if f else None


def sh(host: str, script: str, input: str | None = None) -> str:
    r = lab_mod.host_exec(host, ["sh", "-c", script], input=input)
    assert r.returncode == 0, r.stderr
    return r.stdout


def alloy_metrics(lab: Any, host: str) -> str:
    try:
        return httpx.get(f"http://{lab.host(host).address}:12345/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""


def wait_for(cond: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def healthy_again(lab: Any, host: str) -> None:
    wait_for(lambda: "alloy_config_last_load_successful 1" in alloy_metrics(lab, host), f"{host}'s Alloy loaded")


@contextlib.contextmanager
def config_edit(lab: Any, host: str, old: str, new: str, append: str = "") -> Iterator[None]:
    """Change Alloy's config on `host` and reload it; put the original back (and reload) afterwards."""
    original = sh(host, f"cat {CONFIG}")
    assert old in original, f"{old!r} not in {host}'s config"
    try:
        sh(host, f"cat > {CONFIG} && systemctl reload alloy", input=original.replace(old, new) + append)
        time.sleep(0.5)
        yield
    finally:
        sh(host, f"cat > {CONFIG} && systemctl reload alloy", input=original)
        healthy_again(lab, host)


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
    sh("web-01", "mv /usr/bin/alloy /usr/bin/alloy.doctor-test")
    try:
        (report,) = doctor(lab, settings, "web-01")
    finally:
        sh("web-01", "mv /usr/bin/alloy.doctor-test /usr/bin/alloy")
    assert first(report) == "installed" and "fleetui enroll" in report.check("installed").hint


def test_service_stopped(lab: Any, settings: Settings) -> None:
    sh("web-01", "systemctl stop alloy")
    try:
        (report,) = doctor(lab, settings, "web-01")
    finally:
        sh("web-01", "systemctl start alloy")
        healthy_again(lab, "web-01")
    c = report.check("service")
    assert first(report) == "service" and "inactive" in c.summary and c.hint == "systemctl enable --now alloy"
    assert report.check("ready").status is Status.SKIPPED


def test_alloy_not_ready(lab: Any, settings: Settings) -> None:
    sh("web-01", "echo not_ready > /etc/fleetui-lab/faults")
    try:
        (report,) = doctor(lab, settings, "web-01")
    finally:
        sh("web-01", "rm -f /etc/fleetui-lab/faults")
    assert first(report) == "ready" and "503" in report.check("ready").evidence[0]


def test_config_reload_failed(lab: Any, settings: Settings) -> None:
    with config_edit(lab, "web-01", "prometheus.exporter.unix", "# broken\nprometheus.exporter.unix"):
        wait_for(lambda: "alloy_config_last_load_successful 0" in alloy_metrics(lab, "web-01"), "the failed reload")
        (report,) = doctor(lab, settings, "web-01")
    c = report.check("config")
    assert first(report) == "config" and "alloy_config_last_load_successful 0" in c.evidence
    assert any("illegal character U+0023" in e for e in c.evidence)  # from Alloy's own log line


def test_exporter_renamed_under_prometheus(lab: Any, settings: Settings) -> None:
    with config_edit(lab, "web-01", 'prometheus.exporter.unix "default"', 'prometheus.exporter.unix "renamed"'):
        (report,) = doctor(lab, settings, "web-01")
    c = report.check("exporter")
    assert first(report) == "exporter" and "prometheus.exporter.unix.default" in c.summary
    assert "404" in c.evidence[0] and "Prometheus target" in c.evidence[0]


def test_prometheus_unreachable_from_a_push_host(lab: Any, settings: Settings) -> None:
    with config_edit(lab, "cache-01", "http://127.0.0.1:19090/api/v1/write", "http://127.0.0.1:1/api/v1/write"):
        (report,) = doctor(lab, settings, "cache-01")
    c = report.check("prometheus")
    assert first(report) == "prometheus" and "does not answer" in c.summary


def test_remote_write_404_from_a_wrong_path(lab: Any, settings: Settings) -> None:
    def logged() -> bool:
        out = sh("cache-01", "journalctl -u alloy -o cat -n 20")
        return "config reloaded" in out and "HTTP status 404" in out.rsplit("config reloaded", 1)[1]

    with config_edit(lab, "cache-01", "/api/v1/write", "/api/v1/push"):
        wait_for(logged, "Alloy to log the failed send")
        (report,) = doctor(lab, settings, "cache-01")
    c = report.check("remote_write")
    assert report.check("prometheus").status is Status.OK  # the URL answers: with a 404
    assert first(report) == "remote_write" and "404" in c.summary and "--web.enable-remote-write-receiver" in c.hint
    assert any("non-recoverable error" in e for e in c.evidence)


DROP_ALL = """
prometheus.relabel "doctor_test_drop" {
  forward_to = [prometheus.remote_write.platform.receiver]
  rule {
    source_labels = ["__name__"]
    regex         = ".+"
    action        = "drop"
  }
}
"""


def test_series_stop_arriving(lab: Any, settings: Settings) -> None:
    stale_after = 20.0
    quick = settings.with_overrides({"stale_after": stale_after})

    def newest_age() -> float:
        q = 'time() - timestamp(node_uname_info{nodename="cache-01"})'
        r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": q}, timeout=5).json()["data"]["result"]
        return float(r[0]["value"][1]) if r else 1e9

    scrape = "forward_to = [prometheus.remote_write.platform.receiver]\n}"
    with config_edit(
        lab, "cache-01", scrape, "forward_to = [prometheus.relabel.doctor_test_drop.receiver]\n}", DROP_ALL
    ):
        wait_for(lambda: newest_age() > stale_after + 1, "cache-01's series to go stale", timeout=60)
        (report,) = doctor(lab, quick, "cache-01")
    c = report.check("series")
    assert first(report) == "series", [(x.id, x.status.value, x.summary, x.evidence) for x in report.checks[7:]]
    assert "old" in c.summary and "relabel" in c.hint
    assert report.check("remote_write").status is Status.OK  # nothing failed: samples were dropped on purpose


def test_labels_of_the_mislabelled_push_host(lab: Any, settings: Settings) -> None:
    (report,) = doctor(lab, settings, "raspberry-4b")
    c = report.check("labels")
    assert first(report) == "labels" and "'raspberry-pi' is not the nodename 'raspberry-4b'" in c.summary
    assert report.check("series").status is Status.OK


def test_clock_ahead(lab: Any, settings: Settings) -> None:
    shim = (
        "#!/bin/sh\n# doctor test: this host's clock runs 120 s ahead\n"
        'if [ "$1" = "+%s.%N" ]; then /usr/bin/date +%s.%N | awk \'{printf "%.9f\\n", $1 + 120}\'; '
        'else exec /usr/bin/date "$@"; fi\n'
    )
    sh("web-01", "cat > /usr/local/bin/date && chmod 755 /usr/local/bin/date", input=shim)
    try:
        (report,) = doctor(lab, settings, "web-01")
    finally:
        sh("web-01", "rm -f /usr/local/bin/date")
    c = report.check("clock")
    assert first(report) == "clock" and "+120s" in c.summary


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
