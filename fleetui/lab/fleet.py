"""The starting fleet, as if enrolled by hand before fleetui: pull target files and a gone host's history.

Pull and down hosts get a file_sd target file like the one fleetui's engine writes (`<name>.json`, Alloy's
HTTP address, `__metrics_path__` of the unix exporter component, `instance` = hostname, team labels; web-02
carries the `maintainer` drift). Push hosts have no target file (Prometheus scrapes nothing for them).
The gone host only exists as history written through remote_write with past timestamps (about 4h to 3h22m
ago), so Prometheus holds it but no instant query returns it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from fleetui.lab import topology
from fleetui.lab.remote_write import Series, push
from fleetui.lab.topology import HOSTS, HostSpec


def target_json(h: HostSpec) -> str:
    labels = {
        "__metrics_path__": "/api/v0/component/prometheus.exporter.unix.default/metrics",
        "instance": h.name,
        **h.labels,
    }
    groups = [{"targets": [f"{h.address}:{topology.ALLOY_PORT}"], "labels": labels}]
    return json.dumps(groups, indent=2, sort_keys=True) + "\n"


def write_targets(targets: Path) -> None:
    targets.mkdir(parents=True, exist_ok=True)
    for h in HOSTS:
        if h.role in ("pull", "down"):
            tmp = targets / f".{h.name}.json.tmp"
            tmp.write_text(target_json(h))
            tmp.replace(targets / f"{h.name}.json")


def gone_history(url: str, now: float | None = None) -> int:
    """Push old-01's history (every 15 s from 4h ago to 3h22m ago); returns the number of samples."""
    end = int(((now or time.time()) - (3 * 3600 + 22 * 60)) * 1000)
    start = end - 38 * 60 * 1000
    stamps = list(range(start, end + 1, 15_000))
    base = {
        "instance": topology.GONE_INSTANCE,
        "job": "integrations/unix",
        "environment": "production",
        "maintainers": "web-team",
    }
    series: list[Series] = [
        ({"__name__": "up", **base}, [(t, 1.0) for t in stamps]),
        (
            {
                "__name__": "node_uname_info",
                **base,
                "nodename": topology.GONE_INSTANCE,
                "sysname": "Linux",
                "machine": "x86_64",
                "release": "6.1.0-18-amd64",
            },
            [(t, 1.0) for t in stamps],
        ),
        ({"__name__": "node_memory_MemAvailable_bytes", **base}, [(t, 2.1e9 + (t % 7) * 1e6) for t in stamps]),
    ]
    for mode in ("idle", "user", "system"):
        rate = {"idle": 0.9, "user": 0.07, "system": 0.03}[mode]
        series.append(
            (
                {"__name__": "node_cpu_seconds_total", **base, "cpu": "0", "mode": mode},
                [(t, 1e6 * rate + (t - start) / 1000 * rate) for t in stamps],
            )
        )
    push(url, series)
    return len(stamps) * len(series)


def seed(targets: Path, root: Path, *, cold: bool, started: list[str]) -> None:
    """Cold start: the starting fleet's target files and the gone host's history."""
    if not cold:
        return
    write_targets(targets)
    gone_history(f"http://{topology.PROMETHEUS_ADDR}/api/v1/write")
