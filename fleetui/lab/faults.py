"""Break a lab host the way hosts break in the field, one doctor check at a time, and put it back.

`broken(host, fault)` is a context manager: on entry the host is broken (and the break has taken effect), on
exit it is restored and seen healthy again (Alloy's config loaded), whatever happened in between. The faults,
by the doctor check that should be the first to fail:

installed     /usr/bin/alloy moved away
service       systemctl stop alloy
ready         Alloy serving HTTP but /-/ready 503 (the stand-in's lab-only `not_ready` switch: a real Alloy is
              in that state only while it replays a long WAL before its first load)
config        a syntax error in the config, then systemctl reload alloy (Alloy keeps the previous config)
exporter      the unix exporter component renamed: Prometheus' scrape URL now answers 404 (pull host)
prometheus    remote_write pointed at a port nothing listens on (push host)
remote_write  remote_write pointed at Mimir's path /api/v1/push on Prometheus: 404, "non-recoverable error"
series        a prometheus.relabel rule dropping every sample: no error anywhere, nothing new arrives (push)
clock         a `date` that runs 120 s ahead (CLOCK_REALTIME cannot be set per namespace: a wrapper on PATH)

("ssh" is broken on the client side: a known_hosts file that does not know the host; "labels" needs no
break: raspberry-4b pushes with instance "raspberry-pi" and the component path as job, as seed 000 did.)
"""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

from fleetui.lab import host_exec, status, topology

CONFIG = "/etc/alloy/config.alloy"
FAULTS = ("installed", "service", "ready", "config", "exporter", "prometheus", "remote_write", "series", "clock")

DROP_ALL = """
prometheus.relabel "lab_fault_drop_all" {
  forward_to = [prometheus.remote_write.platform.receiver]
  rule {
    source_labels = ["__name__"]
    regex         = ".+"
    action        = "drop"
  }
}
"""
DATE_AHEAD = (
    "#!/bin/sh\n# fleetui lab fault: this host's clock runs 120 s ahead\n"
    'if [ "$1" = "+%s.%N" ]; then /usr/bin/date +%s.%N | awk \'{printf "%.9f\\n", $1 + 120}\'; '
    'else exec /usr/bin/date "$@"; fi\n'
)


class FaultError(Exception):
    pass


def _sh(host: str, script: str, input: str | None = None) -> str:
    r = host_exec(host, ["sh", "-c", script], input=input)
    if r.returncode != 0:
        raise FaultError(f"{host}: `{script[:60]}` failed: {r.stderr.strip()[:200]}")
    return r.stdout


def _wait(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise FaultError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def alloy_metrics(host: str) -> str:
    info = status()
    if info is None:
        return ""
    try:
        url = f"http://{info.host(host).address}:{topology.ALLOY_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=2) as r:
            return str(r.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError):
        return ""


def _loaded(host: str) -> None:
    _wait(lambda: "alloy_config_last_load_successful 1" in alloy_metrics(host), f"{host}'s Alloy to load its config")


@contextlib.contextmanager
def _config(host: str, old: str, new: str, append: str = "") -> Iterator[None]:
    original = _sh(host, f"cat {CONFIG}")
    if old not in original:
        raise FaultError(f"{host}'s config has no {old!r}: is it the config the lab enrolled?")
    try:
        _sh(host, f"cat > {CONFIG} && systemctl reload alloy", input=original.replace(old, new, 1) + append)
        time.sleep(0.5)
        yield
    finally:
        _sh(host, f"cat > {CONFIG} && systemctl reload alloy", input=original)
        _loaded(host)


def _remote_write_failed_since_reload(host: str) -> bool:
    out = _sh(host, "journalctl -u alloy -o cat -n 30")
    return "config reloaded" in out and "HTTP status 404" in out.rsplit("config reloaded", 1)[1]


@contextlib.contextmanager
def broken(host: str, fault: str) -> Iterator[None]:
    """Break `host` with `fault` (one of FAULTS) for the duration of the block."""
    if fault == "installed":
        _sh(host, "mv /usr/bin/alloy /usr/bin/alloy.lab-fault")
        try:
            yield
        finally:
            _sh(host, "mv /usr/bin/alloy.lab-fault /usr/bin/alloy")
    elif fault == "service":
        _sh(host, "systemctl stop alloy")
        try:
            yield
        finally:
            _sh(host, "systemctl start alloy")
            _loaded(host)
    elif fault == "ready":
        _sh(host, "echo not_ready > /etc/fleetui-lab/faults")
        try:
            yield
        finally:
            _sh(host, "rm -f /etc/fleetui-lab/faults")
    elif fault == "config":
        with _config(host, "prometheus.", "# a comment Alloy cannot parse\nprometheus.", ""):
            _wait(lambda: "alloy_config_last_load_successful 0" in alloy_metrics(host), "the failed reload")
            yield
    elif fault == "exporter":
        with _config(host, 'prometheus.exporter.unix "default"', 'prometheus.exporter.unix "renamed"'):
            yield
    elif fault == "prometheus":
        with _config(host, f"http://{topology.PROMETHEUS_ADDR}/api/v1/write", "http://127.0.0.1:1/api/v1/write"):
            yield
    elif fault == "remote_write":
        with _config(host, f"{topology.PROMETHEUS_ADDR}/api/v1/write", f"{topology.PROMETHEUS_ADDR}/api/v1/push"):
            _wait(lambda: _remote_write_failed_since_reload(host), "Alloy to log the failed send")
            yield
    elif fault == "series":
        scrape = "forward_to = [prometheus.remote_write.platform.receiver]\n}"
        dropping = "forward_to = [prometheus.relabel.lab_fault_drop_all.receiver]\n}"
        with _config(host, scrape, dropping, DROP_ALL):
            yield
    elif fault == "clock":
        _sh(host, "cat > /usr/local/bin/date && chmod 755 /usr/local/bin/date", input=DATE_AHEAD)
        try:
            yield
        finally:
            _sh(host, "rm -f /usr/local/bin/date")
    else:
        raise FaultError(f"unknown fault {fault!r} (one of {', '.join(FAULTS)})")
