"""The push-host fix as a text edit of a hand-written Alloy config: only the lines carrying the problem change."""

from __future__ import annotations

import difflib

import pytest

from fleetui.alloy.syntax import check
from fleetui.domain.alloy_fix import fix_alloy_config
from fleetui.domain.fixes import FixError

MISLABELLED = """// Written by hand
prometheus.scrape "node_exporter" {
  targets = [{
    __address__ = "10.0.0.5:9100",
    instance    = "raspberry-pi",
  }]
  forward_to = [prometheus.remote_write.platform.receiver]
}

prometheus.remote_write "platform" {
  endpoint {
    url = "http://prom:9090/api/v1/write"
  }
  external_labels = {
    environment = "home",
  }
}
"""


def _changed(old: str, new: str) -> list[str]:
    return [
        ln
        for ln in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]


def test_instance_and_job_fixed_and_nothing_else() -> None:
    new = fix_alloy_config(
        MISLABELLED,
        instance="raspberry-pi",
        nodename="raspberry-4b",
        bad_jobs=["prometheus.scrape.node_exporter"],
        fix_jobs=True,
    )
    assert _changed(MISLABELLED, new) == [
        '-    instance    = "raspberry-pi",',
        '+    instance    = "raspberry-4b",',
        '+    job         = "node_exporter",',
    ]
    assert check(new, "config.alloy") == []


def test_job_only_for_scrapes_without_a_job() -> None:
    new = fix_alloy_config(MISLABELLED, fix_jobs=True)
    assert _changed(MISLABELLED, new) == ['+    job         = "node_exporter",']
    with pytest.raises(FixError, match="lacks a job"):
        fix_alloy_config(new, fix_jobs=True)  # already fixed: nothing left to add


def test_instance_not_in_the_config_is_refused() -> None:
    with pytest.raises(FixError, match='no `instance = "other"`'):
        fix_alloy_config(MISLABELLED, instance="other", nodename="raspberry-4b")


def test_targets_from_a_component_are_refused() -> None:
    text = 'prometheus.scrape "default" {\n  targets = prometheus.exporter.unix.default.targets\n  forward_to = []\n}\n'
    with pytest.raises(FixError, match="no literal targets list"):
        fix_alloy_config(text, bad_jobs=["prometheus.scrape.default"])


def test_nodename_is_quoted_for_alloy() -> None:
    new = fix_alloy_config(MISLABELLED, instance="raspberry-pi", nodename='we"ird')
    assert 'instance    = "we\\"ird",' in new and check(new, "config.alloy") == []
