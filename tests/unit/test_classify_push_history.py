"""A push host's problems come from its present series only; old series a relabel left behind are history.

Remote-written series get no staleness markers, so after a fixed `job` or a renamed `instance` the old series
stays in an instant query for Prometheus' 5-minute look-back. These cases are the instant-query replies that
period produces; no real part produces them on demand in a unit test.
"""

from __future__ import annotations

from pathlib import Path

from fleetui.domain.classify import SOURCE_LABEL, FleetInputs, Policy, Sample, Target, classify
from fleetui.domain.fleet import HostState, HostStatus, Mode

NOW = 1_700_000_000.0
POLICY = Policy(stale_after=120, history_after=30)
OK = {"environment": "production", "maintainers": "ops"}
OLD_JOB = "prometheus.scrape.node_exporter"


def series(instance: str, ts: float, job: str, nodename: str, **labels: str) -> tuple[Sample, Sample]:
    base = {"instance": instance, "job": job, **OK, **labels}
    return (
        Sample({**base, SOURCE_LABEL: "up"}, ts),
        Sample({**base, SOURCE_LABEL: "uname", "nodename": nodename, "sysname": "Linux"}, ts),
    )


def rows(*samples: Sample, targets: tuple[Target, ...] = ()) -> dict[str, HostStatus]:
    hosts = classify(FleetInputs(NOW, targets=targets, current=samples), POLICY).hosts
    return {h.instance: h for h in hosts}


def codes(h: HostStatus) -> set[str]:
    return {p.code for p in h.problems}


def test_old_job_series_still_fresh_counts() -> None:
    """Right after the fix, both jobs are within history_after: the old job still shows (not yet history)."""
    r = rows(*series("pi", NOW - 20, OLD_JOB, "pi"), *series("pi", NOW - 5, "node_exporter", "pi"))
    assert codes(r["pi"]) == {"job_component_path"}


def test_old_job_series_older_than_history_after_is_history() -> None:
    r = rows(*series("pi", NOW - 36, OLD_JOB, "pi"), *series("pi", NOW - 5, "node_exporter", "pi"))
    assert codes(r["pi"]) == set()
    assert r["pi"].state is HostState.UP and r["pi"].labels["job"] == "node_exporter"


def test_labels_of_history_series_are_not_merged() -> None:
    """A renamed label key (maintainer -> maintainers) on the old series is no drift once it is history."""
    old = series("pi", NOW - 60, "node_exporter", "pi", maintainer="ops")
    r = rows(*old, *series("pi", NOW - 1, "node_exporter", "pi"))
    assert codes(r["pi"]) == set() and "maintainer" not in r["pi"].labels


def test_host_that_stops_keeps_its_problem_and_goes_stale() -> None:
    """Only a newer sample of the same instance makes a series history: a silent host keeps its problem."""
    r = rows(*series("pi", NOW - 200, OLD_JOB, "pi"))
    assert codes(r["pi"]) == {"job_component_path"} and r["pi"].state is HostState.STALE


def test_pull_host_series_are_never_dropped() -> None:
    """A pull host's labels come from its target; the rule is for push hosts only."""
    t = Target("web:9100", "node", {"instance": "web:9100", "job": OLD_JOB, **OK}, "up", None, None, NOW - 3)
    r = rows(*series("web:9100", NOW - 60, OLD_JOB, "web"), *series("web:9100", NOW - 1, "node", "web"), targets=(t,))
    assert codes(r["web:9100"]) == {"job_component_path"}
    assert r["web:9100"].mode is Mode.PULL


def test_instance_rename_old_name_is_stale_not_a_duplicate() -> None:
    """After instance raspberry-pi -> raspberry-4b the old name is stale at once and no duplicate is claimed."""
    old = series("raspberry-pi", NOW - 40, OLD_JOB, "raspberry-4b")
    r = rows(*old, *series("raspberry-4b", NOW - 2, "node_exporter", "raspberry-4b"))
    assert codes(r["raspberry-4b"]) == set() and r["raspberry-4b"].state is HostState.UP
    assert r["raspberry-pi"].state is HostState.STALE
    assert "duplicate_nodename" not in codes(r["raspberry-pi"])


def test_instance_rename_within_history_after_is_not_yet_superseded() -> None:
    """Two instances pushing the same nodename at the same time are clones: both are live duplicates."""
    r = rows(*series("a", NOW - 10, "node", "box"), *series("b", NOW - 2, "node", "box"))
    assert r["a"].state is HostState.UP and r["b"].state is HostState.UP
    assert "duplicate_nodename" in codes(r["a"]) and "duplicate_nodename" in codes(r["b"])


async def test_history_window_is_the_history_after_setting(tmp_path: Path) -> None:
    """`history_after` from the config file reaches the refresh's and the fix's policy, and moves the line."""
    from fleetui.adapters.prometheus import FleetReader, PrometheusClient
    from fleetui.config import load
    from fleetui.deploy.fix import policy_of

    f = tmp_path / "config.yaml"
    f.write_text("history_after: 10\n")
    settings = load(f, environ={})
    assert settings["history_after"] == 10.0
    async with PrometheusClient(settings) as client:  # never sends: the reader's policy is all this reads
        policy = FleetReader(client, settings).policy
    assert policy.history_after == 10.0 == policy_of(settings).history_after
    both = (*series("pi", NOW - 20, OLD_JOB, "pi"), *series("pi", NOW - 5, "node_exporter", "pi"))
    shorter = {h.instance: h for h in classify(FleetInputs(NOW, current=both), policy).hosts}
    assert codes(shorter["pi"]) == set()  # 15 s older than the freshest: history with a 10 s window
    assert codes(rows(*both)["pi"]) == {"job_component_path"}  # not yet with the default 30 s
    assert load(None, environ={"FLEETUI_HISTORY_AFTER": "45"})["history_after"] == 45.0
