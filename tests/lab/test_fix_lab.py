"""`fleetui fix` against the lab: each fixable problem code disappears from `status --json`, and nothing else in
the target file or on the host changes (both read back and compared byte for byte).

web-02 carries the lab's `maintainer` drift (label_key_drift + missing_required_label); missing_required_label
alone is made on web-01 by removing its `environment` label. Every test puts the files back as the lab made them.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetui import lab as lab_mod
from fleetui.lab import LabInfo

pytestmark = pytest.mark.lab
SCRAPE_INTERVAL_S = 5.0
ALLOY_CONFIG = "/etc/alloy/config.alloy"


@pytest.fixture(scope="module")
def known_hosts(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A known_hosts file with web-01's and web-02's keys, read from the hosts themselves."""
    kh = tmp_path_factory.mktemp("fix") / "known_hosts"
    lines = []
    for h in lab.hosts:
        if h.name in ("web-01", "web-02"):
            key = lab_mod.host_exec(h.name, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[:2]
            lines.append(f"[{h.address}]:{h.ssh_port} {' '.join(key)}")
    kh.write_text("\n".join(lines) + "\n")
    return kh


def _cli(lab: LabInfo, kh: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "--set", f"ssh.known_hosts={kh}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def _status(lab: LabInfo, kh: Path) -> dict[str, Any]:
    p = _cli(lab, kh, "status", "--json")
    assert p.returncode in (0, 1), p.stderr
    doc: dict[str, Any] = json.loads(p.stdout)
    return doc


def _codes(doc: dict[str, Any], instance: str) -> set[str]:
    host = next(h for h in doc["hosts"] if h["instance"] == instance)
    return {p["code"] for p in host["problems"]}


def _reload(lab: LabInfo) -> None:
    httpx.post(f"{lab.prometheus}/-/reload", timeout=10).raise_for_status()


def _wait_codes(lab: LabInfo, kh: Path, instance: str, want: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    got: set[str] = set()
    while time.monotonic() < deadline:
        got = _codes(_status(lab, kh), instance)
        if got == want:
            return
        time.sleep(1)
    raise AssertionError(f"{instance}: problems {got}, wanted {want}")


@pytest.fixture
def restore(lab: LabInfo, known_hosts: Path) -> Iterator[dict[str, str]]:
    """The lab's own web-01/web-02 target files (and Alloy configs), put back after the test."""
    targets = Path(lab.targets_dir)
    files = {n: (targets / f"{n}.json").read_text() for n in ("web-01", "web-02")}
    configs = {n: lab_mod.host_exec(n, ["cat", ALLOY_CONFIG]).stdout for n in files}
    yield files
    for n, text in files.items():
        (targets / f"{n}.json").write_text(text)
    _reload(lab)
    for n, text in configs.items():
        assert lab_mod.host_exec(n, ["cat", ALLOY_CONFIG]).stdout == text, f"{n}'s Alloy config changed"
    _wait_codes(lab, known_hosts, "web-01", set())
    _wait_codes(lab, known_hosts, "web-02", {"label_key_drift", "missing_required_label"})


def _changed_lines(old: str, new: str) -> list[str]:
    return [
        ln
        for ln in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]


def _seen_after_write(lab: LabInfo, path: Path, instance: str, label: str, value: str) -> float:
    """Seconds from the fix's write (the file's mtime) to Prometheus' first sample carrying the fixed label.

    Read from Prometheus' own sample timestamps, so the figure is Prometheus' delay, not the load of the
    machine running the test's CLI calls.
    """
    written = path.stat().st_mtime
    sel = f'up{{instance="{instance}",{label}="{value}"}}[5m]'
    deadline = time.monotonic() + 30
    while True:  # the fix is verified from the target's labels, which Prometheus knows before it scrapes
        r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": sel}, timeout=10)
        r.raise_for_status()
        stamps = [float(t) for s in r.json()["data"]["result"] for t, _ in s["values"] if float(t) >= written]
        if stamps:
            print(
                f"fix-delay {instance}: first sample with {label}={value} {min(stamps) - written:.2f}s after the write"
            )
            return min(stamps) - written
        assert time.monotonic() < deadline, f"no sample of {sel} within 30s of the write"
        time.sleep(0.5)


def test_fix_label_key_drift_on_a_pull_host(lab: LabInfo, known_hosts: Path, restore: dict[str, str]) -> None:
    _wait_codes(lab, known_hosts, "web-02", {"label_key_drift", "missing_required_label"})
    before = _status(lab, known_hosts)
    plan = _cli(lab, known_hosts, "fix", "web-02", "--dry-run")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert '-      "maintainer": "web-team"' in plan.stdout and '+      "maintainers": "web-team"' in plan.stdout
    assert (Path(lab.targets_dir) / "web-02.json").read_text() == restore["web-02"]  # a plan changes nothing

    p = _cli(lab, known_hosts, "fix", "web-02", "--yes", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(p.stdout)["results"][0]
    assert result["ok"] and result["host_state"] == "changed"
    web02 = Path(lab.targets_dir) / "web-02.json"
    assert _seen_after_write(lab, web02, "web-02", "maintainers", "web-team") <= 2 * SCRAPE_INTERVAL_S

    after = _status(lab, known_hosts)
    assert _codes(after, "web-02") == set()
    new = (Path(lab.targets_dir) / "web-02.json").read_text()
    changed = _changed_lines(restore["web-02"], new)
    assert changed == ['-      "maintainer": "web-team"', '+      "maintainers": "web-team"']
    host_after = next(h for h in after["hosts"] if h["instance"] == "web-02")
    host_before = next(h for h in before["hosts"] if h["instance"] == "web-02")
    labels_before = dict(host_before["labels"])
    labels_before["maintainers"] = labels_before.pop("maintainer")
    assert host_after["labels"] == labels_before
    # the other hosts' problems are what they were
    others = {h["instance"] for h in before["hosts"]} - {"web-02"}
    assert {i: _codes(after, i) for i in others if i in {h["instance"] for h in after["hosts"]}} == {
        i: _codes(before, i) for i in others if i in {h["instance"] for h in after["hosts"]}
    }


def test_fix_missing_required_label_asks_for_a_value(lab: LabInfo, known_hosts: Path, restore: dict[str, str]) -> None:
    path = Path(lab.targets_dir) / "web-01.json"
    groups = json.loads(restore["web-01"])
    del groups[0]["labels"]["environment"]
    path.write_text(json.dumps(groups, indent=2, sort_keys=True) + "\n")
    _reload(lab)
    _wait_codes(lab, known_hosts, "web-01", {"missing_required_label"})

    ask = _cli(lab, known_hosts, "fix", "web-01", "--problem", "missing_required_label", "--yes")
    assert ask.returncode == 2
    assert "give --label environment=VALUE (in use: " in ask.stderr and "production" in ask.stderr

    p = _cli(lab, known_hosts, "fix", "web-01", "--label", "environment=production", "--yes", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["results"][0]["ok"]
    assert _seen_after_write(lab, path, "web-01", "environment", "production") <= 2 * SCRAPE_INTERVAL_S
    assert path.read_text() == restore["web-01"]  # byte-identical to the file the lab wrote
    assert _codes(_status(lab, known_hosts), "web-01") == set()


def test_fleet_wide_fix_in_one_batch(lab: LabInfo, known_hosts: Path, restore: dict[str, str]) -> None:
    path = Path(lab.targets_dir) / "web-01.json"
    path.write_text(restore["web-01"].replace('"maintainers"', '"maintainer"'))
    _reload(lab)
    _wait_codes(lab, known_hosts, "web-01", {"label_key_drift", "missing_required_label"})
    p = _cli(lab, known_hosts, "fix", "--all", "--problem", "label_key_drift", "--yes", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    results = json.loads(p.stdout)["results"]
    assert sorted(r["summary"]["instance"] for r in results) == ["web-01", "web-02"]
    assert all(r["ok"] for r in results)
    assert path.read_text() == restore["web-01"]
    doc = _status(lab, known_hosts)
    assert _codes(doc, "web-01") == set() and "label_key_drift" not in _codes(doc, "web-02")


def test_unfixable_problem_says_what_to_do(lab: LabInfo, known_hosts: Path) -> None:
    p = _cli(lab, known_hosts, "fix", "web-01", "--problem", "duplicate_nodename", "--yes")
    assert p.returncode == 2 and "web-01 has no duplicate_nodename problem" in p.stderr
    unknown = _cli(lab, known_hosts, "fix", "no-such-host", "--yes")
    assert unknown.returncode == 2 and "no host 'no-such-host' in the fleet" in unknown.stderr
