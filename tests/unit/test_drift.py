"""Drift rules on domain values: matching Prometheus' Alloy metrics and the operation log to hosts, the fleet's
most common version, config applied/changed/unknown. (Pure functions: the lab test checks real Alloy metrics.)"""

from __future__ import annotations

import random

from fleetui.adapters.oplog import OpRecord
from fleetui.domain.drift import (
    Recorded,
    Running,
    parse_running,
    recorded_from_log,
    short,
    version_key,
    versions_in_use,
    with_drift,
)
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, Mode

A, B = "a" * 64, "b" * 64


def _host(instance: str, **kw: str) -> HostStatus:
    return HostStatus(instance, HostState.UP, Mode.PULL, labels=kw)


def test_running_from_one_query_result() -> None:
    got = parse_running(
        [
            {"instance": "web-01", "version": "v1.10.2"},
            {"instance": "web-01", "sha256": A},
            {"instance": "app-01", "version": "v1.8.3"},
            {"version": "v9"},  # no instance: ignored
        ]
    )
    assert got == {"web-01": Running("1.10.2", A), "app-01": Running("1.8.3", None)}


def test_versions_majority_and_config_states() -> None:
    hosts = (
        _host("web-01"),
        _host("web-02"),
        _host("app-01"),
        _host("10.0.0.9:12345", hostname="edge"),
        _host("nothing-known"),
    )
    running = {"web-01": Running("1.10.2", A), "web-02": Running("1.10.2", B), "app-01": Running("1.8.3", None)}
    recorded = {"web-02": Recorded(A, "1.10.2"), "web-01": Recorded(A, "1.10.2"), "10.0.0.9": Recorded(A, "v1.11.0")}
    snap = with_drift(FleetSnapshot(hosts, 0.0), running, recorded)
    d = {h.instance: h.drift for h in snap.hosts}
    assert d["nothing-known"] is None
    assert (d["web-01"].config, d["web-02"].config, d["app-01"].config) == ("applied", "changed", "unknown")
    assert d["app-01"].version_drift == "older" and d["web-01"].version_drift is None
    edge = d["10.0.0.9:12345"]  # matched by the address part of the instance; version from the enrollment
    assert (edge.version, edge.version_source, edge.version_drift) == ("1.11.0", "enrollment", "newer")
    assert [short(d[i]) for i in ("web-01", "web-02", "app-01")] == ["1.10.2", "1.10.2 cfg!", "1.8.3↓"]
    assert versions_in_use(snap.hosts) == [("1.11.0", 1), ("1.10.2", 2), ("1.8.3", 1), ("unknown", 1)]
    assert version_key("1.10.2") > version_key("1.9.1")


def test_recorded_keeps_the_newest_successful_enrollment() -> None:
    records = [
        OpRecord(1.0, "ops", "web-01", "enroll", "ok", "changed", None, A, "1.9.1"),
        OpRecord(2.0, "ops", "web-01", "enroll", "ok", "changed", None, B, "1.10.2"),
        OpRecord(3.0, "ops", "web-01", "enroll", "failed", "rolled back", "restart", A, "1.10.2"),
        OpRecord(4.0, "ops", "web-01", "retire", "ok", "changed", None, None),
    ]
    assert recorded_from_log(records) == {"web-01": Recorded(B, "1.10.2")}


def test_a_host_whose_drift_did_not_change_is_the_same_object() -> None:
    """Hosts nothing is known about, and hosts whose drift is as it was, stay the very same objects (the diff
    then skips them at once, and a fleet without Alloy metrics is not copied on every refresh)."""
    hosts = (_host("web-01"), _host("nothing-known"))
    running = {"web-01": Running("1.10.2", A)}
    once = with_drift(FleetSnapshot(hosts, 0.0), running, {})
    assert once.hosts[1] is hosts[1] and once.hosts[0].drift is not None
    again = with_drift(once, running, {})
    assert again.hosts[0] is once.hosts[0] and again.hosts[1] is hosts[1]
    assert with_drift(FleetSnapshot(hosts, 0.0), {}, {}).hosts == hosts
    gone = with_drift(again, {}, {})  # Alloy's metrics went away: the drift goes too
    assert gone.hosts[0].drift is None


def test_a_host_is_found_by_its_scrape_urls_host_whatever_the_url_looks_like() -> None:
    """Drift recorded under a scrape URL's host reaches the host, both where the URL merely spells out the
    instance (no parsing) and where it does not (parsed: another host, upper case, IPv6, user info)."""
    cases = [
        ("10.0.0.1:9100", "http://10.0.0.1:9100/metrics", "10.0.0.1"),
        ("web-01.example:9100", "https://web-01.example:9100/m", "web-01.example"),
        ("Web-01:9100", "http://Web-01:9100/metrics", "web-01"),
        ("[::1]:9100", "http://[::1]:9100/metrics", "::1"),
        ("node-a", "http://scrape@node-b:9100/metrics", "node-b"),
        ("web-01:9100", "http://web-01:91000/metrics", "web-01"),
        ("app-01", "http://proxy.internal:8080/app-01/metrics", "proxy.internal"),
    ]
    for instance, url, key in cases:
        h = HostStatus(instance, HostState.UP, Mode.PULL, scrape_url=url)
        (found,) = with_drift(FleetSnapshot((h,), 0.0), {key: Running("1.10.2", A)}, {}).hosts
        assert found.drift is not None and found.drift.version == "1.10.2", (instance, url)
        (other,) = with_drift(FleetSnapshot((h,), 0.0), {"elsewhere": Running("1.10.2", A)}, {}).hosts
        assert other.drift is None, (instance, url)


def test_a_host_is_found_by_each_of_its_names_and_only_by_them() -> None:
    """Each name a host goes by (instance, its address without the port, hostname label, nodename, scrape
    URL's host) finds its drift, in either table; a name it does not go by finds nothing. The quick test that
    passes over hosts nothing is known about must agree with the full look-up for every one of them."""
    h = HostStatus(
        "10.0.0.7:9100", HostState.UP, Mode.PULL, {"hostname": "db-7"}, nodename="db7.lan",
        scrape_url="http://db7-scrape.lan:9100/metrics",
    )  # fmt: skip
    bare = HostStatus("10.0.0.8:9100", HostState.UP, Mode.PUSH)
    for name in ("10.0.0.7:9100", "10.0.0.7", "db-7", "db7.lan", "db7-scrape.lan"):
        (by_running, other) = with_drift(FleetSnapshot((h, bare), 0.0), {name: Running("1.10.2", A)}, {}).hosts
        assert by_running.drift is not None and by_running.drift.version == "1.10.2", name
        assert other.drift is None, name
        (by_record, _) = with_drift(FleetSnapshot((h, bare), 0.0), {}, {name: Recorded(B, "v1.9.0")}).hosts
        assert by_record.drift is not None and by_record.drift.applied_sha256 == B, name
    for name in ("10.0.0.7:910", "db-", "db7", "9100"):
        (none, _) = with_drift(FleetSnapshot((h, bare), 0.0), {name: Running("1.10.2", A)}, {}).hosts
        assert none.drift is None, name


def test_a_scrape_urls_host_is_what_urlsplit_says_for_any_text() -> None:
    """The host read from a scrape URL (a regular expression for plain URLs, urlsplit for the others) equals
    urlsplit's hostname for 20,000 random URL-like texts (None where urlsplit refuses the text)."""
    from urllib.parse import urlsplit

    from fleetui.domain.drift import _PLAIN_URL, _url_host

    rng = random.Random(7)
    hosts = ["web-01", "Web.Example", "10.0.0.1", ":9100", "[::1]", "[fe80::1", "u@", ":", "9100", "%41", "..", "-",
             "_", "ü", " ", "\t", "\n", "", "/"]  # fmt: skip
    tails = ["", "/metrics", "?a=b", "#f", " x", "\n", "/p\tq"]
    plain = 0
    for _ in range(20_000):
        scheme = rng.choice(["http", "HTTPS", "h2+x", "1http", " http", ""])
        netloc = "".join(rng.choice(hosts) for _ in range(rng.randint(0, 3)))
        url = scheme + rng.choice(["://", "://", ":/", "//"]) + netloc + rng.choice(tails)
        plain += bool(_PLAIN_URL.match(url))
        try:
            expected = urlsplit(url).hostname
        except ValueError:
            expected = None
        assert _url_host.__wrapped__(url) == expected, url
    assert plain > 500  # both ways of reading a URL were checked
