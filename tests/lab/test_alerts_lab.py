"""Alerts and silent hosts against the lab's real Prometheus and Alertmanager.

The lab loads the rules `fleetui rules` prints (pull HostDown's `for:` shortened to 10s) and configures the
inhibit rule in a real Alertmanager. db-01 is the lab's pull host whose Alloy is stopped; a lab-only companion
alert (DiskSpaceLow) fires for it too, so the inhibit rule has something to suppress.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fleetui.lab import LabInfo

pytestmark = pytest.mark.lab


def _status(lab: LabInfo, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(config or lab.config_file), "status", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _until(lab: LabInfo, ok: Any, timeout: float = 90, config: Path | None = None) -> dict[str, Any]:
    """`status --json` until `ok(doc)` holds; returns that doc (or fails with the last one)."""
    deadline = time.monotonic() + timeout
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        p = _status(lab, "--json", config=config)
        assert p.returncode in (0, 1), p.stderr
        doc = json.loads(p.stdout)
        if ok(doc):
            return doc
        time.sleep(2)
    raise AssertionError(f"condition not met within {timeout}s: {json.dumps(doc)[:3000]}")


def _host(doc: dict[str, Any], instance: str) -> dict[str, Any]:
    return next(h for h in doc["hosts"] if h["instance"] == instance)


def _states(doc: dict[str, Any], instance: str) -> dict[str, str]:
    return {a["name"]: a["state"] for a in _host(doc, instance)["alerts"]}


def test_down_pull_host_fires_hostdown_and_inhibits_its_other_alert(lab: LabInfo) -> None:
    doc = _until(lab, lambda d: _states(d, "db-01") == {"HostDown": "firing", "DiskSpaceLow": "inhibited"})
    assert doc["alerts"]["source"] == "alertmanager" and doc["alerts"]["error"] is None
    db = _host(doc, "db-01")
    assert db["state"] == "down"
    hostdown = next(a for a in db["alerts"] if a["name"] == "HostDown")
    assert (
        hostdown["labels"]["signal"] == "scrape_failed" and hostdown["annotations"]["summary"] == "Host db-01 is down"
    )
    inhibited = next(a for a in db["alerts"] if a["name"] == "DiskSpaceLow")
    assert inhibited["inhibited_by"], inhibited
    # healthy hosts carry no alert
    assert _host(doc, "web-01")["alerts"] == []

    table = _status(lab, "--filter", "instance=db-01")
    assert table.returncode == 1
    row = table.stdout.splitlines()[1]
    assert "HostDown (DiskSpaceLow)" in row


def test_without_alertmanager_prometheus_alerts_are_read(lab: LabInfo, tmp_path: Path) -> None:
    """No alertmanager.url: Prometheus' own list, where nothing is known to be inhibited."""
    cfg = tmp_path / "no-am.yaml"
    text = Path(lab.config_file).read_text()
    lines = [ln for ln in text.splitlines() if "alertmanager" not in ln and "19093" not in ln]
    cfg.write_text("\n".join(lines) + "\n")
    doc = _until(lab, lambda d: _states(d, "db-01").get("HostDown") == "firing", config=cfg)
    assert doc["alerts"]["source"] == "prometheus"
    assert _states(doc, "db-01").get("DiskSpaceLow") == "firing"  # Prometheus cannot know about inhibition


def test_unreachable_alertmanager_is_one_line_not_a_failure(lab: LabInfo, tmp_path: Path) -> None:
    cfg = tmp_path / "bad-am.yaml"
    cfg.write_text(Path(lab.config_file).read_text().replace("127.0.0.1:19093", "127.0.0.1:1"))
    p = _status(lab, "--json", config=cfg)
    assert p.returncode in (0, 1), p.stderr
    doc = json.loads(p.stdout)
    assert doc["alerts"]["error"].startswith("http://127.0.0.1:1/api/v2/alerts: cannot connect")
    assert all(h["alerts"] == [] for h in doc["hosts"])


def test_enrolled_push_host_that_never_pushed_is_silent(lab: LabInfo) -> None:
    target = Path(lab.targets_dir) / "silent-push-01.json"
    labels = {"instance": "silent-push-01", "environment": "staging", "maintainers": "ops"}
    target.write_text(json.dumps([{"targets": [], "labels": labels}], indent=2) + "\n")
    try:
        p = _status(lab, "--json")
        assert p.returncode == 1, p.stderr
        doc = json.loads(p.stdout)
        silent = _host(doc, "silent-push-01")
        assert (silent["state"], silent["mode"], silent["last_seen"]) == ("silent", "push", None)
        assert silent["labels"] == labels and "never seen" in silent["last_error"]
        assert doc["summary"]["silent"] == 1
        # enrolled hosts Prometheus knows are not silent
        assert _host(doc, "web-01")["state"] == "up" and _host(doc, "db-01")["state"] == "down"
        table = _status(lab, "--filter", "instance=silent-push-01")
        assert table.stdout.splitlines()[1].split()[:4] == ["silent-push-01", "silent", "push", "never"]
    finally:
        target.unlink()


def test_silenced_alert_shows_as_silenced(lab: LabInfo, lab_settings: Any) -> None:
    import httpx

    am = lab_settings["alertmanager.url"]
    now = time.time()
    silence = {
        "matchers": [
            {"name": "alertname", "value": "HostDown", "isRegex": False},
            {"name": "instance", "value": "db-01", "isRegex": False},
        ],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600)),
        "createdBy": "fleetui tests",
        "comment": "<b>[red]markup?</red></b>",
    }
    r = httpx.post(f"{am}/api/v2/silences", json=silence, timeout=10)
    r.raise_for_status()
    sid = r.json()["silenceID"]
    try:
        doc = _until(lab, lambda d: _states(d, "db-01").get("HostDown") == "silenced")
        hostdown = next(a for a in _host(doc, "db-01")["alerts"] if a["name"] == "HostDown")
        assert hostdown["silenced_by"] == [sid]
    finally:
        httpx.delete(f"{am}/api/v2/silence/{sid}", timeout=10).raise_for_status()
    _until(lab, lambda d: _states(d, "db-01").get("HostDown") == "firing")
