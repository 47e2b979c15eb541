"""Fleet model helpers the console relies on: diff, JSON shape, ages and the host filter."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from fleetui.domain.age import format_age
from fleetui.domain.filter import FilterError, label_names, parse_filter, unknown_labels_note
from fleetui.domain.fleet import (
    FleetSnapshot,
    HostState,
    HostStatus,
    HostTimes,
    Mode,
    Problem,
    diff_snapshots,
)

NOW = 1_700_000_000.0


def host(
    instance: str,
    state: HostState = HostState.UP,
    mode: Mode = Mode.PULL,
    problems: tuple[Problem, ...] = (),
    **labels: str,
) -> HostStatus:
    return HostStatus(instance, state, mode, {"instance": instance, **labels}, problems)


def snap(taken_at: float, *hosts: HostStatus, seen: Mapping[str, float | None] | None = None) -> FleetSnapshot:
    """A snapshot of `hosts`, each last seen at NOW unless `seen` gives its time (None: never seen)."""
    last_seen: dict[str, float | None] = {h.instance: NOW for h in hosts}
    last_seen.update(seen or {})
    return FleetSnapshot(hosts, taken_at, times=HostTimes(last_seen))


def changed(old: FleetSnapshot, new: FleetSnapshot) -> list[str]:
    """The instances in both whose row or last-seen time differs: what a diff's `retimed` and `altered` split."""
    before = old.by_instance()
    return [
        h.instance
        for h in new.hosts
        if h.instance in before
        and (before[h.instance] != h or old.times.last_seen.get(h.instance) != new.times.last_seen.get(h.instance))
    ]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (0, "just now"),
        (42, "42s ago"),
        (65, "1m 05s ago"),
        (3 * 3600 + 22 * 60 + 9, "3h 22m ago"),
        (2 * 86400 + 3 * 3600, "2d 3h ago"),
        (-2, "just now"),
        (-90, "1m 30s in the future"),
    ],
)
def test_format_age(delta: float, text: str) -> None:
    assert format_age(NOW - delta, NOW) == text


def test_format_age_never() -> None:
    assert format_age(None, NOW) == "never"


def test_diff_from_nothing_adds_everything_sorted() -> None:
    new = snap(NOW, host("b"), host("a"))
    d = diff_snapshots(None, new)
    assert [h.instance for h in d.added] == ["a", "b"]
    assert d.removed == () and d.retimed == () and d.altered == ()


def test_diff_added_removed_changed() -> None:
    old = snap(NOW, host("a"), host("b"), host("c"))
    new = snap(NOW + 15, host("a"), host("b", HostState.DOWN), host("d"))
    d = diff_snapshots(old, new)
    assert [h.instance for h in d.added] == ["d"]
    assert d.removed == ("c",)
    assert [(h.instance, h.state) for h in d.altered] == [("b", HostState.DOWN)] and d.retimed == ()
    assert not d.empty


def test_diff_same_content_is_empty_and_last_seen_counts_as_change() -> None:
    old = snap(NOW, host("a"))
    assert diff_snapshots(old, snap(NOW + 15, host("a"))).empty
    new = snap(NOW + 15, host("a"), seen={"a": NOW + 15})
    moved = diff_snapshots(old, new)
    assert (moved.retimed, moved.altered) == (("a",), ()) and new.times.last_seen.get("a") == NOW + 15
    lost = diff_snapshots(old, snap(NOW + 15, host("a"), seen={"a": None}))  # a time that goes is a move too
    assert (lost.retimed, lost.altered) == (("a",), ())


def test_diff_splits_changed_rows_into_retimed_and_altered() -> None:
    """The table swaps `retimed` rows in place and moves `altered` ones: the two split `changed` exactly."""
    old = snap(NOW, host("a"), host("b"), host("c"), host("d"))
    new = snap(NOW + 15, host("a"), host("b", HostState.DOWN), host("c"), host("d"), seen={"a": NOW + 15, "d": NOW + 9})
    d = diff_snapshots(old, new)
    assert d.retimed == ("a", "d")
    assert [(h.instance, h.state) for h in d.altered] == [("b", HostState.DOWN)]
    assert sorted((*d.retimed, *(h.instance for h in d.altered))) == changed(old, new)


def test_diff_row_that_changed_and_moved_is_altered_only() -> None:
    """A row that differs is written whole, its age cell with it: it is not also retimed."""
    old = snap(NOW, host("a"), host("b"))
    new = snap(NOW + 15, host("a"), host("b", HostState.DOWN), seen={"a": NOW + 15, "b": NOW + 15})
    d = diff_snapshots(old, new)
    assert d.retimed == ("a",)
    assert [(h.instance, h.state) for h in d.altered] == [("b", HostState.DOWN)]
    assert sorted((*d.retimed, *(h.instance for h in d.altered))) == changed(old, new)


def test_json_shape_has_every_state_in_summary() -> None:
    p = Problem("label_key_drift", "label maintainer looks like maintainers", "rename it")
    s = snap(NOW, host("a", problems=(p,), job="node"), host("b", HostState.GONE, Mode.PUSH), seen={"b": None})
    doc = json.loads(json.dumps(s.to_json()))
    assert doc["summary"] == {"up": 1, "down": 0, "stale": 0, "gone": 1, "silent": 0}
    a = doc["hosts"][0]
    assert {"instance", "state", "mode", "last_seen", "labels", "problems"} <= a.keys()
    assert a["problems"] == [{"code": "label_key_drift", "message": p.message, "hint": p.hint}]
    assert a["last_seen"] == NOW  # from the snapshot's times
    assert doc["hosts"][1]["last_seen"] is None and doc["hosts"][1]["mode"] == "push"


def test_host_convenience_properties() -> None:
    h = host("10.0.0.1:9100", hostname="web-01", job="node_exporter")
    assert (h.hostname, h.job, h.healthy) == ("web-01", "node_exporter", True)
    assert not host("x", HostState.STALE).healthy


HOSTS = (
    host("web-01", environment="production", maintainers="web"),
    host(
        "web-02",
        HostState.DOWN,
        environment="production",
        maintainer="web",
        problems=(Problem("label_key_drift", "m", "h"),),
    ),
    host("pi", HostState.STALE, Mode.PUSH, environment="home", location="Primary Rack"),
)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("", ["web-01", "web-02", "pi"]),
        ("web", ["web-01", "web-02"]),
        ("WEB-02", ["web-02"]),
        ("environment=production", ["web-01", "web-02"]),
        ("environment!=production", ["pi"]),
        ("maintainers=", ["web-02", "pi"]),
        ("instance=~web-.*", ["web-01", "web-02"]),
        ("instance=~web", []),  # anchored like PromQL
        ("instance!~web-0[12]", ["pi"]),
        ("state=down", ["web-02"]),
        ("mode=push", ["pi"]),
        ("problem=label_key_drift", ["web-02"]),
        ("drift", ["web-02"]),
        ('location="Primary Rack"', ["pi"]),
        ("environment=production web-01", ["web-01"]),
    ],
)
def test_filter(expr: str, expected: list[str]) -> None:
    assert [h.instance for h in parse_filter(expr).apply(HOSTS)] == expected


@pytest.mark.parametrize(("expr", "fragment"), [("instance=~(", "bad regular expression"), ('a="b', "quotation")])
def test_filter_errors(expr: str, fragment: str) -> None:
    with pytest.raises(FilterError, match=fragment):
        parse_filter(expr)


@pytest.mark.parametrize(
    ("expr", "unknown"),
    [
        ("env=prod", ["env"]),  # the newcomer's filter: the label is `environment`
        ("env!=prod", ["env"]),
        ("env=~prod.* tier!~x", ["env", "tier"]),
        ("tier=a tier=b", ["tier"]),  # said once
        ("maintainers= maintainer=web", []),  # each is on some host
        ("environment=production web", []),  # free text names no label
        ("problem=x state=up mode=pull instance=~.* nodename=y", []),  # the row's fields are always known
        ("", []),
    ],
)
def test_unknown_labels_are_the_names_no_host_has(expr: str, unknown: list[str]) -> None:
    assert list(parse_filter(expr).unknown_labels(HOSTS)) == unknown


def test_unknown_labels_of_an_empty_fleet_is_every_label_term() -> None:
    assert parse_filter("environment=x state=up").unknown_labels(()) == ("environment",)


def test_label_names_is_every_name_some_host_has() -> None:
    assert label_names(HOSTS) == {"instance", "environment", "maintainers", "maintainer", "location"}


@pytest.mark.parametrize(
    ("unknown", "note"),
    [
        ([], ""),
        (["env"], "no host has a label `env` — did you mean `environment`?"),  # an abbreviation
        (["Location"], "no host has a label `Location` — did you mean `location`?"),  # names are case-sensitive
        (["envirnoment"], "no host has a label `envirnoment` — did you mean `environment`?"),  # a typo
        (["tier"], "no host has a label `tier`"),  # nothing close: no guess
        (["en"], "no host has a label `en`"),  # too short to stand for a name
        (["env", "tier"], "no host has a label `env` or `tier` — did you mean `environment`?"),
    ],
)
def test_unknown_labels_note(unknown: list[str], note: str) -> None:
    assert unknown_labels_note(unknown, label_names(HOSTS)) == note
