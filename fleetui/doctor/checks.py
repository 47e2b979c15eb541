"""The doctor's judgments: evidence in, CheckResult out. Pure (no IO), so each rule is tested on real formats.

The wording follows what an operator types next: every non-ok result carries the command or setting to look
at. Thresholds and why:
- clock: ok within 1 s (or the round trip), warn up to 10 s, fail beyond: push-mode samples carry the host's
  time, so a host minutes behind looks stale in fleetui and old in Grafana, one ahead is rejected.
- remote_write: only errors Alloy logged after its last (re)load and within the last 5 minutes count, so a
  fixed and reloaded host is not blamed for yesterday; 429 is a warning (Alloy retries), other 4xx and TLS
  errors fail (Alloy drops the batch: "non-recoverable error").
- series: "present" means a sample newer than `stale_after` (the fleet's own staleness rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleetui.doctor.evidence import (
    EndpointProbe,
    Sample,
    SeriesSample,
    TargetInfo,
    classify_send_error,
    is_component_path,
    metric,
    metric_sum,
    parse_version,
    short,
)
from fleetui.doctor.model import CheckResult, fail, ok, skipped, warn
from fleetui.domain.logline import LogLine

# --- judgments, in checklist order -------------------------------------------------------------------------


def judge_ssh(
    kind: str | None, message: str, who: str, nodename: str | None, key_file: str | None = None
) -> CheckResult:
    """`kind` None: connected. Else unknown_key | changed_key | auth | connect | sudo. `key_file`: the host's
    public key file of the type it presented, whose fingerprint the operator compares (unknown_key; without it,
    a glob of sshd's key files)."""
    if kind is None:
        return ok("ssh", f"connected to {who}", f"uname -n: {nodename or '?'}")
    key_file = key_file or "/etc/ssh/ssh_host_*_key.pub"
    hints = {
        "unknown_key": f"check the fingerprint on the host (ssh-keygen -lf {key_file}), "
        "then trust it: fleetui doctor HOST --trust-host-key SHA256:…",
        "changed_key": "if the host was reinstalled, remove its old line from fleetui's known_hosts (shown above); "
        "otherwise do not connect: someone may be in the middle",
        "auth": "check ssh.user / --user, the key (ssh.identity_file / --identity) and the user's authorized_keys",
        "sudo": "the doctor reads the journal and Alloy's files with sudo: give --password-env or NOPASSWD sudo",
        "connect": "check the address and port (ssh.port), that sshd runs, and that no firewall blocks this machine",
    }
    summary = {
        "unknown_key": "host key not trusted yet",
        "changed_key": "HOST KEY CHANGED",
        "auth": "authentication failed",
        "sudo": "sudo needs a password",
        "connect": "no SSH connection",
    }.get(kind, "SSH failed")
    return fail("ssh", summary, hints.get(kind, hints["connect"]), short(message, 400))


def judge_installed(path: str | None, version_output: str) -> CheckResult:
    if path is None:
        return fail(
            "installed",
            "alloy not found (PATH, /usr/bin/alloy, Homebrew)",
            "install and configure it: fleetui enroll HOST",
        )
    version = parse_version(version_output)
    first = version_output.strip().splitlines()[0] if version_output.strip() else "(no output)"
    if version is None:
        return warn("installed", f"{path} does not print a version", "run it by hand: alloy --version", first)
    return ok("installed", f"Alloy v{version}", f"{path} --version: {short(first)}")


def judge_service(
    has_systemctl: bool, active: str, enabled: str, journal_tail: Sequence[str], process_found: bool
) -> CheckResult:
    tail = tuple(short(t) for t in journal_tail[-5:])
    if not has_systemctl:
        if process_found:
            return ok("service", "alloy runs (no systemd here: process found)")
        return fail("service", "alloy is not running (no systemd here)", "start it (brew services start alloy)")
    if active == "active":
        if enabled not in ("enabled", "static", "alias", "indirect"):
            return warn(
                "service",
                f"running but {enabled or 'not enabled'}: it will not start after a reboot",
                "systemctl enable alloy",
                f"systemctl is-active: {active}; is-enabled: {enabled}",
            )
        return ok("service", "active (running), enabled", f"systemctl is-active: {active}; is-enabled: {enabled}")
    if active in ("activating", "reloading"):
        return warn("service", f"alloy.service is {active}", "wait a moment and run the doctor again", *tail)
    if active == "failed":
        return fail(
            "service",
            "alloy.service failed",
            "its last log lines say why (l, or fleetui logs HOST); fix it, then systemctl restart alloy",
            *tail,
        )
    return fail(
        "service",
        f"alloy.service is not running ({active or 'unknown'})",
        "systemctl enable --now alloy",
        f"systemctl is-active: {active or '?'}; is-enabled: {enabled or '?'}",
        *tail,
    )


def judge_ready(url: str, status: int, body: str) -> CheckResult:
    seen = f"GET {url}: {status or 'no answer'} {short(body.strip())}".rstrip()
    if status == 200:
        return ok("ready", "ready", seen)
    if status == 503:
        return fail(
            "ready",
            "Alloy is running but not ready",
            "it has not finished its first configuration load (e.g. a long WAL replay): see its logs (l)",
            seen,
        )
    if status == 0:
        return fail(
            "ready",
            f"nothing answers at {url}",
            "Alloy listens elsewhere (CUSTOM_ARGS --server.http.listen-addr in /etc/default/alloy) or has crashed",
            seen,
        )
    return fail("ready", f"/-/ready answered {status}", "see Alloy's logs (l)", seen)


def judge_config(metrics: Sequence[Sample] | None, installed: str | None, reload_errors: Sequence[str]) -> CheckResult:
    if metrics is None:
        return warn(
            "config", "Alloy's /metrics could not be read", "curl it on the host: curl -s localhost:12345/metrics"
        )
    loaded = metric_sum(metrics, "alloy_config_last_load_successful")
    failures = metric_sum(metrics, "alloy_config_load_failures_total")
    builds = metric(metrics, "alloy_build_info")
    running = builds[0][0].get("version", "").lstrip("v") if builds else None
    evidence = [f"alloy_config_last_load_successful {loaded:g}" if loaded is not None else "no load metric"]
    if failures is not None:
        evidence.append(f"alloy_config_load_failures_total {failures:g}")
    if running:
        evidence.append(f"alloy_build_info version v{running}")
    evidence += [f"log: {short(e, 300)}" for e in reload_errors[-2:]]
    if loaded is None:
        return warn("config", "alloy_config_last_load_successful is missing", "is this Alloy?", *evidence)
    if loaded < 1:
        return fail(
            "config",
            "the last (re)load failed: Alloy still runs the configuration before it",
            "fix the file (fleetui check FILE; alloy validate on the host), then systemctl reload alloy",
            *evidence,
        )
    if running and installed and running != installed:
        return warn(
            "config",
            f"running v{running} but v{installed} is installed",
            "systemctl restart alloy to run the installed version",
            *evidence,
        )
    return ok("config", "loaded successfully", *evidence)


def judge_exporter(probes: Sequence[EndpointProbe]) -> CheckResult:
    if not probes:
        return fail(
            "exporter",
            "no exporter: no Prometheus target for this host and no exporter or scrape target in the config",
            "enroll it (fleetui enroll HOST) or add prometheus.exporter.unix to its config",
        )
    evidence = [
        f"{p.origin}: GET {p.url} -> {p.status or 'no answer'}" + (f", {p.samples} samples" if p.status == 200 else "")
        for p in probes
    ]
    # what Prometheus scrapes is the one that counts; otherwise any exporter the config defines
    primary = probes[0]
    authoritative = primary.origin == "Prometheus target"
    good = [p for p in probes if p.status == 200 and p.samples > 0]
    if good and (not authoritative or good[0] is primary):
        return ok("exporter", f"{good[0].url} serves {good[0].samples} samples", *evidence)
    bad = primary
    if bad.status == 404 and "/api/v0/component/" in bad.url:
        component = bad.url.split("/api/v0/component/", 1)[1].split("/", 1)[0]
        return fail(
            "exporter",
            f"404: the running config has no component {component}",
            "the target's __metrics_path__ names a component the config no longer defines (renamed?): "
            "re-enroll (fleetui enroll HOST) or rename it back",
            *evidence,
        )
    if bad.status == 200:
        return fail(
            "exporter", f"{bad.url} answers but serves no samples", "check the exporter's collectors", *evidence
        )
    if bad.status == 0:
        return fail(
            "exporter", f"nothing answers at {bad.url}", "is the exporter running and listening there?", *evidence
        )
    return fail(
        "exporter",
        f"{bad.url} answered {bad.status}",
        "see Alloy's logs (l) for the exporter's error",
        *evidence,
        short(bad.body.strip(), 200),
    )


def judge_prometheus(
    push_probes: Sequence[EndpointProbe], target: TargetInfo | None, prom_error: str | None
) -> CheckResult:
    if push_probes:
        evidence = [
            f"from the host: POST {p.url} -> {p.status or 'no answer'} {short(p.body.strip(), 120)}"
            for p in push_probes
        ]
        down = [p for p in push_probes if p.status == 0]
        if not down:
            return ok("prometheus", "the remote_write URL answers from the host", *evidence)
        why = down[0].body.strip()
        if "ssl" in why.lower() or "certificate" in why.lower() or "tls" in why.lower():
            return warn(
                "prometheus",
                "TLS to the remote_write URL fails from the host (curl, without Alloy's CA settings)",
                "if Alloy has its own tls_config the next check tells; else fix the CA or certificate",
                *evidence,
            )
        return fail(
            "prometheus",
            f"the remote_write URL does not answer from the host: {short(why, 120)}",
            "check the URL, DNS and firewall from the host to Prometheus (Prometheus must listen where the host "
            "can reach it)",
            *evidence,
        )
    if target is not None:
        evidence = [
            f"target {target.scrape_url}: {target.health}" + (f" ({target.last_error})" if target.last_error else "")
        ]
        if target.health == "up":
            return ok("prometheus", f"Prometheus scrapes {target.scrape_url}: up", *evidence)
        if target.health == "down":
            return fail(
                "prometheus",
                f"Prometheus cannot scrape the host: {short(target.last_error or 'down', 160)}",
                "Alloy must listen where Prometheus reaches it (CUSTOM_ARGS --server.http.listen-addr) and no "
                "firewall may block the port",
                *evidence,
            )
        return warn(
            "prometheus", "Prometheus has not scraped the host yet", "run the doctor again in a minute", *evidence
        )
    if prom_error:
        return warn("prometheus", "could not ask Prometheus about its targets", "fleetui status shows why", prom_error)
    return fail(
        "prometheus",
        "Prometheus does not scrape this host and its Alloy has no remote_write",
        "enroll it (fleetui enroll HOST) or restore its target file (fleetui history lists retired ones)",
    )


def judge_remote_write(
    push: bool, metrics: Sequence[Sample] | None, errors: Sequence[tuple[LogLine, str]]
) -> CheckResult:
    if not push:
        return skipped("remote_write", "pull mode: Prometheus scrapes the host, Alloy remote-writes nothing")
    counters = []
    for name in (
        "prometheus_remote_storage_samples_total",
        "prometheus_remote_storage_samples_failed_total",
        "prometheus_remote_storage_samples_retried_total",
    ):
        total = metric_sum(metrics or (), name)
        if total is not None:
            counters.append(f"{name} {total:g}")
    if errors:
        line, err = errors[-1]
        kind = classify_send_error(err)
        evidence = (*counters, f"log: {short(line.text, 400)}", f"{len(errors)} send errors since the last (re)load")
        if kind.fatal:
            return fail("remote_write", kind.sentence, kind.hint, *evidence)
        return warn("remote_write", kind.sentence, kind.hint, *evidence)
    return ok("remote_write", "no send errors since Alloy's last (re)load", *counters)


def judge_series(
    found: Sequence[SeriesSample], now: float, stale_after: float, prom_error: str | None, nodename: str, push: bool
) -> CheckResult:
    if prom_error:
        return warn("series", "could not ask Prometheus", "fleetui status shows whether Prometheus answers", prom_error)
    hint = (
        "samples do not arrive: look for relabel rules dropping them (prometheus.relabel, write_relabel_config) "
        "and check that remote_write goes to this Prometheus"
        if push
        else "Prometheus keeps no data for it: see its target (fleetui status) and Prometheus' own log"
    )
    if not found:
        return fail("series", f"no series with nodename {nodename!r} in Prometheus (last 5 minutes)", hint)
    newest = max(found, key=lambda s: s.ts)
    age = max(0.0, now - newest.ts)
    evidence = [
        f"{s.labels.get('__name__', 'series')}{{instance={s.labels.get('instance', '?')!r}, "
        f"job={s.labels.get('job', '?')!r}}} {max(0.0, now - s.ts):.0f}s old"
        for s in found[:4]
    ]
    if age > stale_after:
        return fail("series", f"the newest sample is {age:.0f}s old (stale after {stale_after:g}s)", hint, *evidence)
    return ok("series", f"{len(found)} series, newest {age:.0f}s old", *evidence)


def judge_labels(
    labels: Mapping[str, str], nodename: str, required: Sequence[str], aliases: Mapping[str, str]
) -> CheckResult:
    instance, job = labels.get("instance", ""), labels.get("job", "")
    evidence = [f"instance={instance!r} job={job!r} nodename={nodename!r}"]
    extra = {k: v for k, v in sorted(labels.items()) if k not in ("instance", "job", "__name__")}
    if extra:
        evidence.append(", ".join(f"{k}={v!r}" for k, v in extra.items()))
    if instance != nodename:
        return fail(
            "labels",
            f"instance {instance!r} is not the nodename {nodename!r}: dashboards filtering instance=$node show N/A",
            "keep instance = the hostname (fleetui enroll sets it; in a hand-written config remove the instance "
            "override or set it to constants.hostname)",
            *evidence,
        )
    if is_component_path(job):
        return fail(
            "labels",
            f"job is Alloy's component path {job!r}: dashboards filtering job=$job show nothing",
            'set job explicitly in the scrape target or a relabel rule (e.g. job = "node_exporter")',
            *evidence,
        )
    wrong = [f"{k} (should be {aliases[k]})" for k in labels if k in aliases and aliases[k] != k]
    missing = [r for r in required if r not in labels]
    if wrong or missing:
        parts = ([f"misspelt: {', '.join(wrong)}"] if wrong else []) + (
            [f"missing: {', '.join(missing)}"] if missing else []
        )
        return warn(
            "labels",
            "schema labels: " + "; ".join(parts),
            "fix the labels in the target file / external_labels (fleetui enroll --label KEY=VALUE)",
            *evidence,
        )
    return ok("labels", f"instance = nodename = {nodename!r}, job {job!r}, schema labels present", *evidence)


def judge_clock(offset: float | None, rtt: float, raw: str) -> CheckResult:
    if offset is None:
        return warn("clock", "could not read the host's clock", "run date on the host", f"date printed {raw!r}")
    seen = f"host - here = {offset:+.3f}s (measured within ±{rtt / 2:.3f}s)"
    if abs(offset) <= max(1.0, rtt):
        return ok("clock", f"offset {offset:+.2f}s", seen)
    hint = "enable time sync on the host (timedatectl set-ntp true; chronyc tracking shows the source)"
    if abs(offset) <= 10:
        return warn("clock", f"the host's clock is off by {offset:+.1f}s", hint, seen)
    return fail(
        "clock",
        f"the host's clock is off by {offset:+.0f}s: its pushed samples look old or come from the future",
        hint,
        seen,
    )
