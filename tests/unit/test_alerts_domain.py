"""Attribution of alerts to hosts, silent rows and the replies' parsing, on hand-made values.

The lab (tests/lab/test_alerts_lab.py) covers what real Alertmanager and Prometheus send; here are the edges they
do not produce on demand: alerts without an instance label, hostnames matched by label, a malformed reply.
"""

from __future__ import annotations

import pytest

from fleetui.adapters.alertmanager import parse_alertmanager, parse_prometheus
from fleetui.domain.alerts import Alert, AlertState, AlertsView, short, with_alerts
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, Mode
from fleetui.domain.silent import Enrolled, with_silent


def _snap() -> FleetSnapshot:
    return FleetSnapshot(
        (
            HostStatus("10.0.0.5:12345", HostState.UP, Mode.PULL, {"hostname": "web-01"}, nodename="web-01"),
            HostStatus("cache-01", HostState.UP, Mode.PUSH),
        ),
        taken_at=2.0,
    )


def test_alerts_attributed_by_instance_then_hostname_label() -> None:
    alerts = (
        Alert("HostDown", {"alertname": "HostDown", "instance": "web-01"}),
        Alert("DiskSpaceLow", {"instance": "cache-01"}, state=AlertState.INHIBITED, inhibited_by=("x",)),
        Alert("HostDown", {"instance": "cache-01"}),
        Alert("HostDown", {"instance": "raspberry-pi"}),
        Alert("Watchdog", {}),
    )
    snap = with_alerts(_snap(), AlertsView("alertmanager", alerts))
    by = snap.by_instance()
    assert [a.name for a in by["10.0.0.5:12345"].alerts] == ["HostDown"]
    assert [a.state for a in by["cache-01"].alerts] == [AlertState.FIRING, AlertState.INHIBITED]
    assert short(by["cache-01"].alerts) == "HostDown (DiskSpaceLow)"
    assert [a.instance for a in snap.unattributed_alerts] == ["raspberry-pi", None]
    doc = snap.to_json()
    assert doc["alerts"]["source"] == "alertmanager" and len(doc["alerts"]["unattributed"]) == 2
    assert doc["hosts"][1]["alerts"][1]["inhibited_by"] == ["x"]


def test_silent_rows_only_for_hosts_prometheus_does_not_know() -> None:
    enrolled = [
        Enrolled("web-01", ("10.0.0.5:12345",), {"instance": "web-01"}),  # known by hostname
        Enrolled("cache-01", (), {"instance": "cache-01"}),  # known
        Enrolled("quiet", (), {"instance": "quiet", "environment": "dev", "__metrics_path__": "/m"}),
        Enrolled("pull-quiet", ("10.0.0.9:12345",), {}),
    ]
    snap = with_silent(_snap(), enrolled)
    silent = {h.instance: h for h in snap.hosts if h.state is HostState.SILENT}
    assert set(silent) == {"quiet", "10.0.0.9:12345"}
    assert silent["quiet"].mode is Mode.PUSH and silent["quiet"].labels == {"environment": "dev", "instance": "quiet"}
    assert silent["10.0.0.9:12345"].mode is Mode.PULL and not silent["quiet"].healthy
    assert snap.summary()["silent"] == 2


def test_parse_replies() -> None:
    am = parse_alertmanager(
        [
            {
                "labels": {"alertname": "A", "instance": "h"},
                "annotations": {"summary": "[b]x[/b]"},
                "startsAt": "2026-01-01T00:00:00.123456789Z",
                "status": {"state": "suppressed", "silencedBy": ["s1"], "inhibitedBy": []},
            },
            "not an alert",
        ]
    )
    assert am[0].state is AlertState.SILENCED and am[0].summary == "[b]x[/b]" and am[0].starts_at
    prom = parse_prometheus(
        {
            "status": "success",
            "data": {"alerts": [{"labels": {"alertname": "P"}, "state": "pending"}, {"labels": {}, "state": "firing"}]},
        }
    )
    assert len(prom) == 1 and prom[0].name == ""
    with pytest.raises(ValueError):
        parse_alertmanager({"oops": 1})


def test_a_host_whose_alerts_did_not_change_is_the_same_object() -> None:
    """Refresh after refresh most hosts have no alert: they stay the very objects they were (a 50,000-host
    fleet was copied host by host on every refresh), and a host whose alerts went away loses them."""
    snap = _snap()
    firing = AlertsView("alertmanager", (Alert("HostDown", {"instance": "cache-01"}),))
    once = with_alerts(snap, firing)
    assert once.hosts[0] is snap.hosts[0] and once.hosts[1] is not snap.hosts[1]
    again = with_alerts(once, firing)
    assert again.hosts[0] is once.hosts[0] and again.hosts[1] is once.hosts[1]
    cleared = with_alerts(again, AlertsView("alertmanager", ()))
    assert cleared.hosts[0] is again.hosts[0] and cleared.hosts[1].alerts == ()


def test_an_instance_match_wins_over_a_hostname_label_and_the_first_hostname_over_later_ones() -> None:
    """An alert's `instance` names a host's instance before any hostname label; of two hosts carrying the same
    hostname label, the first one in the fleet gets the alert. With no alert and none before, the fleet's
    hosts are handed back as they were."""
    snap = FleetSnapshot(
        (
            HostStatus("10.0.0.5:9100", HostState.UP, Mode.PULL, {"hostname": "db-01"}),
            HostStatus("10.0.0.6:9100", HostState.UP, Mode.PULL, {"hostname": "db-01"}),
            HostStatus("10.0.0.7:9100", HostState.UP, Mode.PULL, {"hostname": "web-01"}),
            HostStatus("web-01", HostState.UP, Mode.PUSH),
        ),
        taken_at=2.0,
    )
    alerts = (Alert("HostDown", {"instance": "db-01"}), Alert("DiskFull", {"instance": "web-01"}))
    by = with_alerts(snap, AlertsView("alertmanager", alerts)).by_instance()
    assert [a.name for a in by["10.0.0.5:9100"].alerts] == ["HostDown"]
    assert by["10.0.0.6:9100"].alerts == () and by["10.0.0.7:9100"].alerts == ()
    assert [a.name for a in by["web-01"].alerts] == ["DiskFull"]
    assert with_alerts(snap, AlertsView("alertmanager", ())).hosts is snap.hosts
