"""The doctor's pure judgments on real formats: Alloy's metrics and log lines, configs, Prometheus answers."""

from __future__ import annotations

import pytest

from fleetui.adapters.ssh import HostKeyInfo
from fleetui.deploy.render import RenderInput, render_host
from fleetui.doctor import checks as c
from fleetui.doctor import evidence as ev
from fleetui.doctor.model import CHECKS, DoctorReport, Status, fail, ok, skipped, tally
from fleetui.domain.fleet import Mode
from fleetui.domain.host import OsFamily
from fleetui.domain.logline import LogLine, level_of
from fleetui.lab.standin_install import enrolled_config
from fleetui.lab.topology import HOSTS

NOW = 1_764_807_300.0  # shortly after the log lines below


def log(text: str, ts: float | None = NOW - 30) -> LogLine:
    return LogLine("h", text, ts, level_of(text))


RW = "component_path=/ component_id=prometheus.remote_write.default subcomponent=rw remote_name=564de6"
E404 = (
    f'ts=2025-12-04T00:14:28.436638912Z level=error msg="non-recoverable error" {RW} '
    "url=http://10.0.0.5:9090/api/v1/write failedSampleCount=771 failedHistogramCount=0 failedExemplarCount=0 "
    'err="server returned HTTP status 404 Not Found: remote write receiver needs to be enabled with '
    '--web.enable-remote-write-receiver"'
)
E401 = f'ts=x level=error msg="non-recoverable error" {RW} err="server returned HTTP status 401 Unauthorized: "'
E429 = (
    f'ts=x level=warn msg="Failed to send batch, retrying" {RW} '
    'err="server returned HTTP status 429 Too Many Requests: rate limited"'
)
ETLS = (
    f'ts=x level=warn msg="Failed to send batch, retrying" {RW} err="Post \\"https://prom.example/api/v1/write\\": '
    'tls: failed to verify certificate: x509: certificate signed by unknown authority"'
)
EREFUSED = (
    f'ts=x level=warn msg="Failed to send batch, retrying" {RW} '
    'err="Post \\"http://127.0.0.1:1/api/v1/write\\": dial tcp 127.0.0.1:1: connect: connection refused"'
)


@pytest.mark.parametrize(
    ("line", "kind", "fatal"),
    [
        (E404, "not_found", True),
        (E401, "auth", True),
        (E429, "rate_limited", False),
        (ETLS, "tls", True),
        (EREFUSED, "refused", True),
    ],
)
def test_send_errors_are_classified_from_alloys_own_lines(line: str, kind: str, fatal: bool) -> None:
    errors = ev.remote_write_errors([log(line)], NOW)
    assert len(errors) == 1
    sort = ev.classify_send_error(errors[0][1])
    assert (sort.kind, sort.fatal) == (kind, fatal)
    result = c.judge_remote_write(True, [], errors)
    assert result.status is (Status.FAIL if fatal else Status.WARN)
    assert result.hint and any(line[:40] in e for e in result.evidence)


def test_only_errors_after_the_last_reload_and_recent_ones_count() -> None:
    lines = [log(E404), log('ts=x level=info msg="config reloaded"'), log('ts=x level=info msg="other"')]
    assert ev.remote_write_errors(lines, NOW) == []
    assert ev.remote_write_errors([log(E404, NOW - 3600)], NOW) == []  # an hour old
    assert len(ev.remote_write_errors([log(E404, None)], NOW)) == 1  # a file line without ts still counts
    result = c.judge_remote_write(True, ev.parse_exposition(METRICS), [])
    assert result.status is Status.OK
    assert "prometheus_remote_storage_samples_failed_total 771" in result.evidence  # evidence, not a verdict
    assert c.judge_remote_write(False, None, []).status is Status.SKIPPED


METRICS = """# HELP alloy_build_info A metric with a constant '1' value labeled by version
# TYPE alloy_build_info gauge
alloy_build_info{branch="HEAD",goarch="amd64",goos="linux",revision="5a8c9e1f0",version="v1.10.2"} 1
# TYPE alloy_config_last_load_successful gauge
alloy_config_last_load_successful 1
alloy_config_load_failures_total 2
prometheus_remote_storage_samples_total{component_id="prometheus.remote_write.default",url="http://x/api/v1/write"} 9000
prometheus_remote_storage_samples_failed_total{component_id="prometheus.remote_write.default",url="http://x"} 771
"""


def test_config_loaded_failed_and_version_mismatch() -> None:
    samples = ev.parse_exposition(METRICS)
    assert ev.metric_sum(samples, "prometheus_remote_storage_samples_total") == 9000
    assert c.judge_config(samples, "1.10.2", []).status is Status.OK
    r = c.judge_config(samples, "1.11.0", [])
    assert r.status is Status.WARN and "v1.10.2" in r.summary and "restart" in r.hint
    bad = ev.parse_exposition(
        METRICS.replace("alloy_config_last_load_successful 1", "alloy_config_last_load_successful 0")
    )
    err = 'ts=x level=error msg="failed to reload config" err="config.alloy:1:1: illegal character U+0023 \'#\'"'
    r = c.judge_config(bad, "1.10.2", [err])
    assert r.status is Status.FAIL and "before" in r.summary
    assert any("illegal character" in e for e in r.evidence) and "systemctl reload alloy" in r.hint
    assert c.judge_config(None, None, []).status is Status.WARN


def test_versions_env_files_and_listen_addresses() -> None:
    assert ev.parse_version("alloy, version v1.10.2 (branch: HEAD, revision: 5a8c9e1f0)\n  build user: x") == "1.10.2"
    assert ev.parse_version("alloy, version v1.13.0-rc.1 (branch") == "1.13.0-rc.1"
    assert ev.parse_version("bash: alloy: command not found") is None
    env = ev.parse_env_file(
        '## Path:\nCONFIG_FILE="/etc/alloy/config.alloy"\nCUSTOM_ARGS="--server.http.listen-addr=0.0.0.0:12345 --x"\n'
    )
    assert env["CONFIG_FILE"] == "/etc/alloy/config.alloy"
    assert ev.listen_addr(env["CUSTOM_ARGS"]) == "0.0.0.0:12345"
    assert ev.listen_addr("--server.http.listen-addr 10.0.0.5:9999") == "10.0.0.5:9999"
    assert ev.listen_addr("") == "127.0.0.1:12345"
    assert ev.local_url("0.0.0.0:12345", "/-/ready") == "http://127.0.0.1:12345/-/ready"
    assert ev.local_url("[::]:12345", "/metrics") == "http://127.0.0.1:12345/metrics"
    assert ev.local_url("[fd00::5]:12345", "/metrics") == "http://[fd00::5]:12345/metrics"


def test_config_facts_from_fleetui_and_hand_written_configs() -> None:
    push = render_host(
        RenderInput("10.0.0.5", "web-05", OsFamily.DEBIAN, Mode.PUSH, 12345, "http://prom:9090/api/v1/write", ())
    )
    facts = ev.config_facts(push.config, "/etc/alloy/config.alloy")
    assert facts.exporters == ("prometheus.exporter.unix.web_05",)
    assert facts.remote_write_urls == ("http://prom:9090/api/v1/write",)
    raspberry = next(h for h in HOSTS if h.name == "raspberry-4b")
    facts = ev.config_facts(enrolled_config(raspberry), "config.alloy")
    assert facts.scrape_addresses == ("127.0.0.14:19100",) and facts.exporters == ()
    assert facts.remote_write_urls[0].endswith("/api/v1/write")
    assert ev.config_facts("# not alloy", "x.alloy").error is not None


def test_exporter_prometheus_target_is_authoritative() -> None:
    good = ev.EndpointProbe(
        "http://h:12345/api/v0/component/prometheus.exporter.unix.default/metrics", "Prometheus target", 200, 455
    )
    assert c.judge_exporter([good]).status is Status.OK
    gone = ev.EndpointProbe(good.url, "Prometheus target", 404, 0)
    other = ev.EndpointProbe(
        "http://h:12345/api/v0/component/prometheus.exporter.unix.node/metrics", "config: x", 200, 455
    )
    r = c.judge_exporter([gone, other])
    assert r.status is Status.FAIL and "prometheus.exporter.unix.default" in r.summary and "re-enroll" in r.hint
    assert (
        c.judge_exporter([ev.EndpointProbe("http://h:19100/metrics", "scrape target", 0, 0), other]).status is Status.OK
    )
    assert c.judge_exporter([]).status is Status.FAIL


def test_prometheus_reachability_push_and_pull() -> None:
    answered = ev.EndpointProbe("http://p/api/v1/write", "remote_write", 400, 0, "snappy: corrupt input")
    assert c.judge_prometheus([answered], None, None).status is Status.OK
    notfound = ev.EndpointProbe("http://p/api/v1/push", "remote_write", 404, 0, "404 page not found")
    assert c.judge_prometheus([notfound], None, None).status is Status.OK  # it answers: the next check judges
    refused = ev.EndpointProbe("http://p:1/api/v1/write", "remote_write", 0, 0, "curl: (7) Failed to connect")
    assert c.judge_prometheus([refused], None, None).status is Status.FAIL
    tls = ev.EndpointProbe("https://p/api/v1/write", "remote_write", 0, 0, "curl: (60) SSL certificate problem")
    assert c.judge_prometheus([tls], None, None).status is Status.WARN
    down = ev.TargetInfo("http://h:12345/m", "down", 'Get "http://h:12345/m": connection refused', {})
    r = c.judge_prometheus([], down, None)
    assert r.status is Status.FAIL and "connection refused" in r.summary
    assert c.judge_prometheus([], None, None).status is Status.FAIL
    assert c.judge_prometheus([], None, "Prometheus at http://p: unreachable").status is Status.WARN


def test_series_freshness() -> None:
    s = [ev.SeriesSample({"__name__": "node_uname_info", "instance": "web-01", "job": "alloy"}, NOW - 5)]
    assert c.judge_series(s, NOW, 120, None, "web-01", False).status is Status.OK
    r = c.judge_series([ev.SeriesSample(s[0].labels, NOW - 300)], NOW, 120, None, "web-01", True)
    assert r.status is Status.FAIL and "300s old" in r.summary and "relabel" in r.hint
    assert c.judge_series([], NOW, 120, None, "web-01", False).status is Status.FAIL
    assert c.judge_series([], NOW, 120, "timeout", "web-01", False).status is Status.WARN


def test_labels_instance_job_and_schema() -> None:
    req, aliases = ("environment", "maintainers"), {"maintainer": "maintainers"}
    good = {"instance": "web-01", "job": "alloy", "environment": "prod", "maintainers": "ops"}
    assert c.judge_labels(good, "web-01", req, aliases).status is Status.OK
    pi = {**good, "instance": "raspberry-pi", "job": "prometheus.scrape.node_exporter"}
    r = c.judge_labels(pi, "raspberry-4b", req, aliases)
    assert r.status is Status.FAIL and "raspberry-pi" in r.summary
    r = c.judge_labels({**pi, "instance": "raspberry-4b"}, "raspberry-4b", req, aliases)
    assert r.status is Status.FAIL and "component path" in r.summary
    drift = {k: v for k, v in good.items() if k != "maintainers"} | {"maintainer": "ops"}
    r = c.judge_labels(drift, "web-01", req, aliases)
    assert r.status is Status.WARN and "maintainer (should be maintainers)" in r.summary
    assert ev.is_component_path("prometheus.scrape.default") and not ev.is_component_path("integrations/unix")
    assert not ev.is_component_path("node_exporter")


def test_clock_thresholds() -> None:
    assert c.judge_clock(0.3, 0.05, "x").status is Status.OK
    assert c.judge_clock(1.4, 2.0, "x").status is Status.OK  # within the round trip
    assert c.judge_clock(-4.0, 0.05, "x").status is Status.WARN
    assert c.judge_clock(120.0, 0.05, "x").status is Status.FAIL
    assert c.judge_clock(None, 0.05, "1700000000.N").status is Status.WARN


def test_service_and_ready() -> None:
    assert c.judge_service(True, "active", "enabled", [], False).status is Status.OK
    assert c.judge_service(True, "active", "disabled", [], False).status is Status.WARN
    r = c.judge_service(True, "failed", "enabled", ["alloy.service: Failed with result 'exit-code'."], False)
    assert r.status is Status.FAIL and r.evidence == ("alloy.service: Failed with result 'exit-code'.",)
    assert c.judge_service(True, "inactive", "enabled", [], False).hint == "systemctl enable --now alloy"
    assert c.judge_service(False, "", "", [], True).status is Status.OK
    assert c.judge_ready("http://h/-/ready", 503, "Alloy is not ready.\n").status is Status.FAIL
    assert c.judge_ready("http://h/-/ready", 0, "").summary == "nothing answers at http://h/-/ready"


def test_report_first_failure_and_fleet_tally() -> None:
    def report(name: str, failing: str | None) -> DoctorReport:
        checks = [fail(s.id, "x", "y") if s.id == failing else ok(s.id, "fine") for s in CHECKS]
        return DoctorReport(name, name, tuple(checks))

    a, b = report("a", "labels"), report("b", None)
    assert a.first_failure is not None and a.first_failure.id == "labels" and b.healthy
    two = DoctorReport(
        "c", "c", (ok("ssh", "y"), fail("service", "x", "y"), fail("labels", "x", "y"), skipped("ready", "z"))
    )
    assert two.first_failure is not None and two.first_failure.id == "service"
    assert list(tally([a, b, two, report("d", "ssh")]).items()) == [
        ("ssh", 1),
        ("service", 1),
        ("labels", 1),
        ("healthy", 1),
    ]
    doc = two.to_json()
    assert doc["first_failure"] == "service" and doc["counts"]["fail"] == 2 and doc["checks"][1]["title"]


def test_tally_lists_the_hosts_and_a_stopped_host_is_never_healthy() -> None:
    from fleetui.adapters.ssh import SshTarget
    from fleetui.doctor.fleet import stopped_report
    from fleetui.doctor.model import tally_hosts
    from fleetui.doctor.probe import DoctorTarget

    def report(name: str, failing: str | None) -> DoctorReport:
        checks = [fail(s.id, "x", "y") if s.id == failing else ok(s.id, "fine") for s in CHECKS]
        return DoctorReport(name, name, tuple(checks))

    cut = stopped_report(DoctorTarget("e", SshTarget("10.0.0.9", 22, "root")), "the doctor stopped: cancelled")
    assert not cut.healthy and cut.first_failure is None and cut.trouble == "stopped"
    assert all(c.status is Status.SKIPPED and "cancelled" in c.summary for c in cut.checks)
    assert cut.to_json()["error"] == "the doctor stopped: cancelled"
    reports = [report("a", "service"), cut, report("b", None), report("c", "service"), report("d", "ssh")]
    assert tally_hosts(reports) == {"ssh": ["d"], "service": ["a", "c"], "stopped": ["e"], "healthy": ["b"]}
    assert list(tally_hosts(reports)) == ["ssh", "service", "stopped", "healthy"]  # checklist order
    assert tally(reports) == {"ssh": 1, "service": 2, "stopped": 1, "healthy": 1}


def test_an_unknown_key_is_checked_against_the_file_of_its_own_type() -> None:
    """The probe hands the judgment the key file of the type the host presented (HostKeyInfo.key_file); an
    ECDSA host is not sent to compare against its ed25519 key."""
    info = HostKeyInfo("192.0.2.7", 22, "ecdsa-sha2-nistp256", "SHA256:abc")
    got = c.judge_ssh("unknown_key", "not known", "192.0.2.7:22", None, info.key_file)
    assert got.status is Status.FAIL and "ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub" in got.hint
    unnamed = c.judge_ssh("unknown_key", "not known", "192.0.2.7:22", None)
    assert "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub" in unnamed.hint
