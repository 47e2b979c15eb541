"""The classification rules on edge cases, as pure functions over parsed query results (no HTTP)."""

from __future__ import annotations

import pytest

from fleetui.domain.classify import (
    SOURCE_LABEL,
    Classified,
    FleetInputs,
    Policy,
    Sample,
    Target,
    classify,
    drift_target,
    host_name,
    is_component_path,
)
from fleetui.domain.fleet import HostState, HostStatus, Mode

NOW = 1_700_000_000.0
POLICY = Policy(
    stale_after=120,
    required_labels=("environment", "maintainers"),
    aliases={"maintainer": "maintainers", "env": "environment", "owner": "maintainers"},
)
OK = {"environment": "production", "maintainers": "ops"}


def up(instance: str, ts: float, **labels: str) -> Sample:
    return Sample({"instance": instance, "job": "node", SOURCE_LABEL: "up", **labels}, ts)


def uname(instance: str, ts: float, nodename: str, **labels: str) -> Sample:
    return Sample(
        {
            "instance": instance,
            "job": "node",
            SOURCE_LABEL: "uname",
            "nodename": nodename,
            "sysname": "Linux",
            **labels,
        },
        ts,
    )


def target(instance: str, health: str = "up", error: str | None = None, **labels: str) -> Target:
    return Target(
        instance,
        "node",
        {"instance": instance, "job": "node", **labels},
        health,
        f"http://{instance}/metrics",
        error,
        NOW - 3,
        0.01,
    )


def one(inputs: FleetInputs, policy: Policy = POLICY) -> HostStatus:
    return one_seen(inputs, policy)[0]


def one_seen(inputs: FleetInputs, policy: Policy = POLICY) -> tuple[HostStatus, float | None]:
    """The only row, and when it was last seen (its times are the result's, not the row's)."""
    result = classify(inputs, policy)
    assert len(result.hosts) == 1, result
    h = result.hosts[0]
    return h, seen(result, h.instance)


def seen(result: Classified, instance: str) -> float | None:
    return result.times.last_seen.get(instance)


def codes(h: HostStatus) -> list[str]:
    return [p.code for p in h.problems]


# --- state and mode -----------------------------------------------------------------------------------------


def test_pull_up_with_everything_right_has_no_problem() -> None:
    h, last_seen = one_seen(
        FleetInputs(
            NOW, (target("web-01", **OK),), (up("web-01", NOW - 3, **OK), uname("web-01", NOW - 3, "web-01", **OK))
        )
    )
    assert (h.state, h.mode, last_seen, h.problems, h.nodename) == (HostState.UP, Mode.PULL, NOW - 3, (), "web-01")
    assert h.healthy


def test_pull_down_last_seen_is_last_success_not_last_failed_scrape() -> None:
    h, last_seen = one_seen(
        FleetInputs(
            NOW,
            (target("db-01", "down", "connection refused", **OK),),
            (up("db-01", NOW - 2, **OK),),  # the failed scrape's `up 0`
            (up("db-01", NOW - 600, **OK),),
        )
    )
    assert (h.state, h.mode, last_seen, h.last_error) == (HostState.DOWN, Mode.PULL, NOW - 600, "connection refused")


def test_pull_never_scraped_is_down_with_reason() -> None:
    h, last_seen = one_seen(FleetInputs(NOW, (target("new-01", "unknown", **OK),)))
    assert (h.state, last_seen, h.last_error) == (HostState.DOWN, None, "not scraped yet")


def test_pull_target_down_in_one_pool_makes_the_host_down() -> None:
    h = one(FleetInputs(NOW, (target("web-01", **OK), target("web-01", "down", "timeout", **OK))))
    assert h.state is HostState.DOWN and h.last_error == "timeout"


def test_pushed_up_without_target_is_push_not_pull() -> None:
    """A pushing Alloy's own scrape writes `up` too: without a target it is push (ALLOY-FACTS §7)."""
    h, last_seen = one_seen(FleetInputs(NOW, (), (up("pi", NOW - 10, **OK),)))
    assert (h.state, h.mode, last_seen) == (HostState.UP, Mode.PUSH, NOW - 10)


@pytest.mark.parametrize(
    ("age", "state"), [(0, HostState.UP), (120, HostState.UP), (120.5, HostState.STALE), (290, HostState.STALE)]
)
def test_push_stale_threshold_is_inclusive(age: float, state: HostState) -> None:
    assert one(FleetInputs(NOW, (), (up("pi", NOW - age, **OK),))).state is state


def test_stale_threshold_follows_policy() -> None:
    inputs = FleetInputs(NOW, (), (up("pi", NOW - 60, **OK),))
    assert one(inputs, Policy(stale_after=30)).state is HostState.STALE


def test_gone_when_only_history_and_mode_guessed_from_address() -> None:
    result = classify(
        FleetInputs(NOW, (), (), (up("old-01", NOW - 3600, **OK), up("10.0.0.9:9100", NOW - 7200, **OK))), POLICY
    )
    got = {h.instance: (h.state, h.mode, seen(result, h.instance)) for h in result.hosts}
    assert got == {
        "old-01": (HostState.GONE, Mode.PUSH, NOW - 3600),
        "10.0.0.9:9100": (HostState.GONE, Mode.PULL, NOW - 7200),
    }


def test_seed_style_rule_zero_values_are_ignored() -> None:
    """Seed 004's `time() * up` records 0 while down: 0 is not a time the host was seen."""
    _, last_seen = one_seen(
        FleetInputs(NOW, (target("db-01", "down", **OK),), (), (Sample({"instance": "db-01"}, 0.0),))
    )
    assert last_seen is None


def test_series_without_instance_are_ignored() -> None:
    result = classify(FleetInputs(NOW, (), (Sample({"job": "x"}, NOW),)), POLICY)
    assert result.hosts == () and not result.times.last_seen


# --- problems -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "labels", "name"),
    [
        ("web-01", {}, "web-01"),
        ("10.0.0.1:9100", {"hostname": "web-01"}, "web-01"),
        ("web-01.lan:9100", {}, "web-01.lan"),
        ("10.0.0.1:9100", {}, None),  # an IP says nothing about the name
        ("[::1]:9100", {}, None),
        ("web-01", {"hostname": "other"}, "web-01"),  # instance is a name: it is what dashboards filter on
    ],
)
def test_host_name(instance: str, labels: dict[str, str], name: str | None) -> None:
    assert host_name(instance, labels) == name


def test_seed_000_mislabelled_push_host() -> None:
    """instance is a friendly name and job the component path: both reported."""
    h = one(
        FleetInputs(
            NOW,
            (),
            (
                up("raspberry-pi", NOW - 5, **OK, job="prometheus.scrape.node_exporter"),
                uname("raspberry-pi", NOW - 5, "raspberry-4b", **OK, job="prometheus.scrape.node_exporter"),
            ),
        )
    )
    assert codes(h) == ["instance_nodename_mismatch", "job_component_path"]
    assert "raspberry-4b" in h.problems[0].message and h.job == "prometheus.scrape.node_exporter"


def test_address_instance_with_matching_hostname_is_fine() -> None:
    h = one(
        FleetInputs(
            NOW,
            (target("127.0.0.11:9100", hostname="web-01", **OK),),
            (uname("127.0.0.11:9100", NOW, "web-01", hostname="web-01", **OK),),
        )
    )
    assert codes(h) == []


@pytest.mark.parametrize(
    ("job", "bad"),
    [
        ("prometheus.scrape.node_exporter", True),
        ("prometheus.scrape.default", True),
        ("otelcol.receiver.otlp.default", True),
        ("node_exporter", False),
        ("integrations/unix", False),
        ("alloy", False),
        ("web.example.com", False),
        ("prometheus.scrape", False),
    ],
)
def test_component_path(job: str, bad: bool) -> None:
    assert is_component_path(job) is bad


@pytest.mark.parametrize(
    ("key", "target"),
    [
        ("maintainer", "maintainers"),
        ("env", "environment"),
        ("owner", "maintainers"),
        ("Maintainers", "maintainers"),
        ("environmnet", "environment"),
        ("enviroment", "environment"),
        ("maintainerss", "maintainers"),
        ("maintainers", None),
        ("location", None),
        ("job", None),
        ("nodename", None),
        ("hostname", None),
    ],
)
def test_drift_target(key: str, target: str | None) -> None:
    assert drift_target(key, POLICY) == target


def test_drift_and_missing_together_point_at_the_rename() -> None:
    h = one(
        FleetInputs(
            NOW,
            (target("web-02", environment="production", maintainer="web"),),
            (uname("web-02", NOW, "web-02", environment="production", maintainer="web"),),
        )
    )
    assert codes(h) == ["label_key_drift", "missing_required_label"]
    assert h.problems[1].hint == "rename maintainer to maintainers"


def test_missing_required_includes_extra_and_empty_values() -> None:
    policy = Policy(required_labels=("environment", "maintainers", "location"), aliases={})
    h = one(FleetInputs(NOW, (), (up("x", NOW, environment="", maintainers="a"),)), policy)
    assert [p.message for p in h.problems] == [
        "required label 'environment' is missing",
        "required label 'location' is missing",
    ]


def test_duplicate_nodename_only_among_live_instances() -> None:
    inputs = FleetInputs(
        NOW,
        (),
        (
            uname("clone-a", NOW, "golden", **OK),
            uname("clone-b", NOW - 30, "golden", **OK),
            up("clone-a", NOW, **OK),
            up("clone-b", NOW - 30, **OK),
        ),
        (uname("clone-old", NOW - 4000, "golden", **OK),),
    )
    hosts = {h.instance: h for h in classify(inputs, POLICY).hosts}
    assert "duplicate_nodename" in codes(hosts["clone-a"]) and "duplicate_nodename" in codes(hosts["clone-b"])
    assert "'clone-b'" in next(p.message for p in hosts["clone-a"].problems if p.code == "duplicate_nodename")
    assert "duplicate_nodename" not in codes(hosts["clone-old"])  # gone: not live


def test_macos_memory_names() -> None:
    h = one(FleetInputs(NOW, (), (up("mac", NOW, **OK),), macos=frozenset({"mac"})))
    assert codes(h) == ["macos_memory_names"]


def test_labels_exclude_uname_and_source_labels() -> None:
    h = one(FleetInputs(NOW, (), (uname("x", NOW, "x", **OK),)))
    assert set(h.labels) == {"instance", "job", "environment", "maintainers"}
