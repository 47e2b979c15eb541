"""Fixtures of the console tests: the hostile corpus as hosts of the lab's real Prometheus.

`hostile_fleet` sends every label-valid corpus entry (tests/hostile.py) through remote_write, as one push
host whose instance, hostname, job and schema labels are that very string, plus one pull target (file_sd)
whose instance and metrics path are hostile and whose scrapes fail, so its scrape URL and last error come
from Prometheus itself. Every such host carries `fleetui_test="hostile"`, so a filter finds them all.
Prometheus ingests them like any pushing host's: nothing is faked between the push and the console.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hostile import BY_ID, LABEL_VALUES, Hostile

from fleetui.config import Settings
from fleetui.lab.remote_write import Series, push

MARK = {"fleetui_test": "hostile"}
PULL_INSTANCE = "pull[/x][bold]\x1b[7m\u202e"
PULL_SHOWN = "pull[/x][bold]\\x1b[7m\\u202e"
PULL_PATH = "/[red]metrics[/red]"
EMPTY_INSTANCE = "hostile-empty-labels"


@dataclass(frozen=True)
class HostileFleet:
    """What was written: push instance -> corpus entry, the failing pull target, the host with empty labels."""

    push: dict[str, Hostile]
    pull_instance: str
    empty_instance: str


def _series(instance: str, value: str, now_ms: int) -> list[Series]:
    labels = {"instance": instance, "job": value, "hostname": value, "environment": value, "maintainers": value}
    labels = {k: v for k, v in labels.items() if v} | MARK
    samples = [(now_ms - 5_000, 1.0), (now_ms, 1.0)]
    uname = {"__name__": "node_uname_info", **labels, "nodename": value or instance, "sysname": "Linux"}
    return [({"__name__": "up", **labels}, samples), (uname, samples)]


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        return list(json.load(r)["data"]["result"])


def _active_targets(prometheus: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/targets?state=active", timeout=10) as r:
        return list(json.load(r)["data"]["activeTargets"])


@pytest.fixture(scope="session")
def hostile_fleet(lab: Any, lab_settings: Settings) -> Iterator[HostileFleet]:
    now_ms = int(time.time() * 1000)
    series: list[Series] = []
    for h in LABEL_VALUES:
        series += _series(h.text, h.text, now_ms)
    # the empty string: Prometheus stores an empty label value as no label, so this host simply lacks them
    series += _series(EMPTY_INSTANCE, BY_ID["empty"].text, now_ms)
    push(lab_settings.remote_write_url, series)

    target = lab.targets_dir / "hostile.json"
    group = {"targets": ["127.0.0.1:9"], "labels": {"instance": PULL_INSTANCE, "__metrics_path__": PULL_PATH, **MARK}}
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps([group]))
    tmp.replace(target)
    try:
        deadline = time.monotonic() + 60
        while True:
            pushed = {r["metric"].get("instance") for r in _query(lab.prometheus, 'up{fleetui_test="hostile"}')}
            scraped = [t for t in _active_targets(lab.prometheus) if t["labels"].get("instance") == PULL_INSTANCE]
            if {h.text for h in LABEL_VALUES} <= pushed and scraped and scraped[0]["lastError"]:
                break
            missing = sorted(repr(h.id) for h in LABEL_VALUES if h.text not in pushed)
            assert time.monotonic() < deadline, f"Prometheus did not take the hostile hosts: missing {missing}"
            time.sleep(0.5)
        yield HostileFleet({h.text: h for h in LABEL_VALUES}, PULL_INSTANCE, EMPTY_INSTANCE)
    finally:
        target.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _private_operation_log(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operations run by console tests are logged to a per-test file, never to the developer's state dir."""
    from fleetui.adapters import oplog

    monkeypatch.setattr(oplog, "default_path", lambda: tmp_path / "state" / oplog.FILE_NAME)


@pytest.fixture(autouse=True)
def _steady_input_cursor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In snapshot tests an Input's cursor stays shown. It blinks off 0.5 s after the last key, so on a busy
    machine (the suite runs on two processes) a screenshot taken a little later caught it hidden: a mismatch
    that had nothing to do with what the test draws. Shown is how the screen looks right after typing."""
    if "snap_compare" in request.fixturenames:
        from textual.widgets import Input

        monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
