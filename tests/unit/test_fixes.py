"""Planning fixes and rewriting a target file, on hand-made rows (the lab test runs them for real; these cover
codes the lab fleet does not carry, such as duplicate_nodename, and the file formats fleetui did not write)."""

from __future__ import annotations

import json

import pytest

from fleetui.domain.classify import Policy
from fleetui.domain.fixes import FixError, fix_target_json, fleet_values, plan_fix
from fleetui.domain.fleet import HostState, HostStatus, Mode, Problem


def _p(code: str) -> Problem:
    return Problem(code, code, "")


def _host(labels: dict[str, str], *codes: str, mode: Mode = Mode.PULL, inst: str = "web-02") -> HostStatus:
    return HostStatus(inst, HostState.UP, mode, {"instance": inst, **labels}, tuple(_p(c) for c in codes))


def test_drift_renames_and_covers_the_missing_label() -> None:
    plan = plan_fix(
        _host({"environment": "prod", "maintainer": "web"}, "label_key_drift", "missing_required_label"), Policy()
    )
    assert plan.renames == {"maintainer": "maintainers"} and plan.add == {}
    assert plan.codes == ("label_key_drift", "missing_required_label") and not plan.manual


def test_missing_label_needs_a_value_and_lists_the_fleet_s() -> None:
    fleet = [_host({"environment": "production"}, inst=f"h{i}") for i in range(3)] + [_host({"environment": "dev"})]
    assert fleet_values(fleet, "environment") == ["production", "dev"]
    host = _host({"maintainers": "web"}, "missing_required_label")
    with pytest.raises(FixError, match=r"give --label environment=VALUE \(in use: production, dev\)"):
        plan_fix(host, Policy(), fleet=fleet)
    assert plan_fix(host, Policy(), values={"environment": "dev"}).add == {"environment": "dev"}


def test_duplicate_nodename_is_left_to_a_person() -> None:
    plan = plan_fix(_host({"environment": "e", "maintainers": "m"}, "duplicate_nodename"), Policy())
    assert plan.empty and "hostnamectl set-hostname" in plan.manual["duplicate_nodename"]
    with pytest.raises(FixError, match="has no label_key_drift problem"):
        plan_fix(_host({}, "duplicate_nodename"), Policy(), only="label_key_drift")


def test_push_host_problems_are_manual_here() -> None:
    plan = plan_fix(_host({"maintainer": "x"}, "label_key_drift", mode=Mode.PUSH), Policy())
    assert plan.codes == () and "label_key_drift" in plan.manual


def test_target_rewrite_keeps_everything_else() -> None:
    groups = [
        {"targets": ["10.0.0.1:12345"], "labels": {"instance": "ä-host", "maintainer": "w", "__metrics_path__": "/m"}},
        {"targets": ["10.0.0.1:12345"], "labels": {"instance": "ä-host", "maintainer": "w", "job": "alloy"}},
    ]
    text = json.dumps(groups, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    plan = plan_fix(_host({"maintainer": "w", "environment": "e"}, "label_key_drift"), Policy())
    new = fix_target_json(text, plan)
    want = text.replace('"maintainer": "w"', '"maintainers": "w"')
    assert new == want
    with pytest.raises(FixError, match="not a file_sd JSON list"):
        fix_target_json('{"targets": []}', plan)
