"""The lab's alerting: the rules `fleetui rules` prints, loaded into the lab's Prometheus, and a real
Alertmanager (Debian's `prometheus-alertmanager`) with the inhibit rule those rules recommend.

Kept apart from the manager so the lab's Prometheus/host code stays about scraping. Two lab-only choices, both
said here because a reader of the lab's rules file would otherwise wonder:

- `for: 2m` of the pull HostDown alert is shortened to `for: 10s`, so a test sees an alert fire within seconds;
- one companion alert, `DiskSpaceLow`, fires for the lab's down host (db-01) only, from its last known `up`
  sample: it exists so the inhibit rule has something to inhibit while HostDown fires for that host.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from fleetui.domain.rules import render_rules

ALERTMANAGER_ADDR = "127.0.0.1:19093"
ALERTMANAGER_BIN = "prometheus-alertmanager"
LAB_FOR = "10s"
INHIBITED_COMPANION = "DiskSpaceLow"
COMPANION_INSTANCE = "db-01"

_COMPANION_UP = f'up{{instance="{COMPANION_INSTANCE}"}}'
INHIBIT_RULES: list[dict[str, Any]] = [
    {
        "source_matchers": ['alertname="HostDown"'],
        "target_matchers": ['alertname=~"HighCPUUsage|HighMemoryUsage|DiskSpaceLow"'],
        "equal": ["instance"],
    }
]


def lab_rules(stale_after: float = 120.0) -> str:
    """`fleetui rules` with the pull HostDown `for:` shortened for tests."""
    text = render_rules(stale_after=stale_after)
    assert "for: 2m" in text
    return text.replace("for: 2m", f"for: {LAB_FOR}")


def companion_rules() -> str:
    doc = {
        "groups": [
            {
                "name": "fleetui_lab_companion",
                "rules": [
                    {
                        "alert": INHIBITED_COMPANION,
                        # lab-only: fires for the down host from its last `up` sample, whatever its value
                        "expr": f"max by (instance, job) (last_over_time({_COMPANION_UP}[1h])) >= 0",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "Disk space low on {{ $labels.instance }} (lab companion alert)"},
                    }
                ],
            }
        ]
    }
    return "# lab-only companion alert (see fleetui.lab.alertmanager)\n" + yaml.safe_dump(doc, sort_keys=False)


def alertmanager_yml() -> str:
    cfg = {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "instance"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "null"}],
        "inhibit_rules": INHIBIT_RULES,
    }
    return "# written by `fleetui lab up`\n" + yaml.safe_dump(cfg, sort_keys=False)


def prometheus_alerting() -> dict[str, Any]:
    """The `alerting:` section of the lab's prometheus.yml."""
    return {"alertmanagers": [{"static_configs": [{"targets": [ALERTMANAGER_ADDR]}]}]}


def write_files(root: Path, rules_dir: Path) -> Path:
    """Rules into the lab's rules dir, alertmanager.yml into `root/alertmanager`; returns the config path."""
    rules_dir.mkdir(parents=True, exist_ok=True)
    (rules_dir / "fleetui.yml").write_text(lab_rules())
    (rules_dir / "lab-companion.yml").write_text(companion_rules())
    d = root / "alertmanager"
    (d / "data").mkdir(parents=True, exist_ok=True)
    cfg = d / "alertmanager.yml"
    cfg.write_text(alertmanager_yml())
    return cfg


def start(root: Path, rules_dir: Path, log: Path) -> int:
    """Start Alertmanager (clustering off: no gossip port) and return its pid."""
    cfg = write_files(root, rules_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        p = subprocess.Popen(
            [
                ALERTMANAGER_BIN,
                f"--config.file={cfg}",
                f"--storage.path={cfg.parent / 'data'}",
                f"--web.listen-address={ALERTMANAGER_ADDR}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return p.pid


def wait_ready(timeout: float = 20.0) -> bool:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"http://{ALERTMANAGER_ADDR}/-/ready", timeout=1) as r,
        ):
            if r.status == 200:
                return True
        time.sleep(0.1)
    return False
