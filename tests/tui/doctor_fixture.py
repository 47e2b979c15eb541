"""Fixed doctor reports for the doctor screen's snapshots: domain values built by the real judgments from
evidence in real formats (no host is faked; the doctor against the lab is tests/lab/test_doctor_lab.py)."""

from __future__ import annotations

from fleetui.doctor import checks as c
from fleetui.doctor import evidence as ev
from fleetui.doctor.model import CHECKS, CheckResult, DoctorReport, skipped

_E404 = (
    'ts=2025-12-04T00:14:28.436638912Z level=error msg="non-recoverable error" component_path=/ '
    "component_id=prometheus.remote_write.default subcomponent=rw remote_name=564de6 "
    "url=http://10.0.0.5:9090/api/v1/push failedSampleCount=771 failedHistogramCount=0 failedExemplarCount=0 "
    'err="server returned HTTP status 404 Not Found: 404 page not found"'
)


def _front(host: str, who: str) -> list[CheckResult]:
    return [
        c.judge_ssh(None, "", who, host),
        c.judge_installed("alloy", "alloy, version v1.10.2 (branch: HEAD, revision: 5a8c9e1f0)"),
        c.judge_service(True, "active", "enabled", [], False),
        c.judge_ready("http://127.0.0.1:12345/-/ready", 200, "Alloy is ready.\n"),
    ]


def _fill(checks: list[CheckResult], reason: str) -> tuple[CheckResult, ...]:
    have = {r.id for r in checks}
    return tuple(next(r for r in checks if r.id == s.id) if s.id in have else skipped(s.id, reason) for s in CHECKS)


def failing_push_host() -> DoctorReport:
    """cache-01 pushing to Mimir's path: remote_write is the first failure."""
    from fleetui.domain.logline import LogLine, level_of

    who = "root@10.0.0.15:22"
    metrics = ev.parse_exposition(
        'alloy_build_info{version="v1.10.2"} 1\nalloy_config_last_load_successful 1\n'
        "alloy_config_load_failures_total 0\n"
        'prometheus_remote_storage_samples_total{url="http://10.0.0.5:9090/api/v1/push"} 12040\n'
        'prometheus_remote_storage_samples_failed_total{url="http://10.0.0.5:9090/api/v1/push"} 12040\n'
    )
    errors = ev.remote_write_errors([LogLine("cache-01", _E404, None, level_of(_E404))], 0.0)
    checks = [
        *_front("cache-01", who),
        c.judge_config(metrics, "1.10.2", []),
        c.judge_exporter([ev.EndpointProbe("http://10.0.0.15:9100/metrics", "scrape target", 200, 455)]),
        c.judge_prometheus(
            [ev.EndpointProbe("http://10.0.0.5:9090/api/v1/push", "remote_write", 404, 0, "404 page not found")],
            None,
            None,
        ),
        c.judge_remote_write(True, metrics, errors),
        c.judge_series([], 1.0, 120, None, "cache-01", True),
        c.judge_clock(0.04, 0.02, "1700000000.04"),
    ]
    return DoctorReport(
        "cache-01", who, _fill(checks, "not checked: series in Prometheus did not pass"), "push", "cache-01", 1.4
    )


def healthy_pull_host() -> DoctorReport:
    who = "root@10.0.0.11:22"
    metrics = ev.parse_exposition('alloy_build_info{version="v1.10.2"} 1\nalloy_config_last_load_successful 1\n')
    url = "http://10.0.0.11:12345/api/v0/component/prometheus.exporter.unix.default/metrics"
    labels = {"instance": "web-01", "job": "alloy", "environment": "production", "maintainers": "web-team"}
    checks = [
        *_front("web-01", who),
        c.judge_config(metrics, "1.10.2", []),
        c.judge_exporter([ev.EndpointProbe(url, "Prometheus target", 200, 455)]),
        c.judge_prometheus([], ev.TargetInfo(url, "up", None, labels), None),
        c.judge_remote_write(False, metrics, []),
        c.judge_series(
            [ev.SeriesSample({"__name__": "node_uname_info", **labels}, 95.0)], 100.0, 120, None, "web-01", False
        ),
        c.judge_labels(labels, "web-01", ("environment", "maintainers"), {}),
        c.judge_clock(-0.02, 0.02, "x"),
    ]
    return DoctorReport("web-01", who, _fill(checks, ""), "pull", "web-01", 0.9)


def stopped_host() -> DoctorReport:
    who = "root@10.0.0.13:22"
    checks = [
        c.judge_ssh(None, "", who, "db-01"),
        c.judge_installed("alloy", "alloy, version v1.10.2 (branch: HEAD)"),
        c.judge_service(
            True,
            "failed",
            "enabled",
            [
                "Error: /etc/alloy/config.alloy:1:1: illegal character U+0023 '#'",
                "Error: could not perform the initial load successfully",
                "alloy.service: Main process exited, code=exited, status=1/FAILURE",
                "alloy.service: Failed with result 'exit-code'.",
            ],
            False,
        ),
        c.judge_prometheus(
            [],
            ev.TargetInfo(
                "http://10.0.0.13:12345/api/v0/component/prometheus.exporter.unix.default/metrics",
                "down",
                'Get "http://10.0.0.13:12345/api/v0/component/prometheus.exporter.unix.default/metrics": '
                "dial tcp 10.0.0.13:12345: connect: connection refused",
                {},
            ),
            None,
        ),
        c.judge_series([], 1.0, 120, None, "db-01", False),
        c.judge_clock(0.01, 0.02, "x"),
    ]
    return DoctorReport(
        "db-01", who, _fill(checks, "not checked: alloy.service running did not pass"), "pull", "db-01", 0.7
    )


def fleet_reports() -> list[DoctorReport]:
    return [healthy_pull_host(), failing_push_host(), stopped_host()]


def fleet_tally_reports() -> list[DoctorReport]:
    """Seven hosts for the fleet doctor's tally: three stopped services, one remote_write, one the doctor could
    not finish, two healthy (renamed copies of the reports above: the judgments are the same)."""
    from dataclasses import replace

    from fleetui.adapters.ssh import SshTarget
    from fleetui.doctor.fleet import stopped_report
    from fleetui.doctor.probe import DoctorTarget

    db = stopped_host()
    web = healthy_pull_host()
    unfinished = stopped_report(
        DoctorTarget("edge-07", SshTarget("10.0.0.27", 22, "root")), "the doctor stopped: cancelled"
    )
    return [
        web,
        failing_push_host(),
        db,
        replace(db, host="db-02", address="root@10.0.0.14:22"),
        replace(web, host="web-02", address="root@10.0.0.12:22"),
        replace(db, host="db-03", address="root@10.0.0.16:22"),
        unfinished,
    ]
