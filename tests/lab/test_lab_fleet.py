"""The lab's starting fleet as the real Prometheus sees it: pull up/down, push (good and mislabelled), gone."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from fleetui.lab import LabInfo

pytestmark = pytest.mark.lab


def _query(lab: LabInfo, q: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": q}, timeout=10)
    r.raise_for_status()
    result: list[dict[str, Any]] = r.json()["data"]["result"]
    return result


def _eventually(lab: LabInfo, q: str, want: str, timeout: float = 40, count: int = 1) -> list[dict[str, Any]]:
    """Wait until `q` returns at least `count` series, all with value `want` (right after a cold lab start some
    targets have not been scraped yet)."""
    deadline = time.monotonic() + timeout
    res: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        res = _query(lab, q)
        if len(res) >= count and all(r["value"][1] == want for r in res):
            return res
        time.sleep(1)
    raise AssertionError(f"{q}: wanted {want}, got {res}")


def test_pull_hosts_up_and_down_host_down(lab: LabInfo) -> None:
    _eventually(lab, 'up{job="alloy",instance=~"web-01|web-02"}', "1", count=2)
    res = _eventually(lab, 'up{job="alloy",instance="db-01"}', "0")
    assert res[0]["metric"]["maintainers"] == "dba"
    drift = _eventually(lab, 'up{job="alloy",instance="web-02"}', "1")[0]["metric"]  # the regex above: either
    assert "maintainer" in drift and "maintainers" not in drift  # the label drift is real
    uname = _eventually(lab, 'node_uname_info{job="alloy",instance="web-01"}', "1")
    assert uname[0]["metric"]["nodename"] == "web-01"


def test_push_hosts_series_arrive_through_remote_write(lab: LabInfo) -> None:
    good = _eventually(lab, 'up{instance="cache-01",job="node_exporter"}', "1")
    assert good[0]["metric"]["environment"] == "staging"
    assert _eventually(lab, 'node_uname_info{instance="cache-01"}', "1")[0]["metric"]["nodename"] == "cache-01"
    # seed 000: instance is a friendly name, nodename the real hostname, job the component path
    bad = _eventually(lab, 'node_uname_info{instance="raspberry-pi"}', "1")
    assert bad[0]["metric"]["nodename"] == "raspberry-4b"
    assert bad[0]["metric"]["job"] == "prometheus.scrape.node_exporter"
    # push hosts are not Prometheus scrape targets
    targets = httpx.get(f"{lab.prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert not {"cache-01", "raspberry-pi"} & {t["labels"].get("instance") for t in targets}


def test_gone_host_has_only_old_samples(lab: LabInfo) -> None:
    assert _query(lab, f'up{{instance="{lab.gone_instance}"}}') == []
    newest = _query(lab, f'max(timestamp(last_over_time(up{{instance="{lab.gone_instance}"}}[1d])))')
    # last_over_time keeps the newest sample's value, timestamp() then gives the query time: use the value
    assert newest, "gone host history missing"
    old = _query(lab, f'count_over_time(up{{instance="{lab.gone_instance}"}}[1d])')
    recent = _query(lab, f'count_over_time(up{{instance="{lab.gone_instance}"}}[3h])')
    assert old and float(old[0]["value"][1]) > 10
    assert recent == []  # nothing in the last 3 hours: the host stopped reporting ~3h22m ago
