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

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleetui.doctor.model import CheckResult, fail, ok, skipped, warn
from fleetui.domain.logline import LogLine, logfmt_fields

# --- parsing evidence ---------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, dict[str, str], float]


def parse_exposition(text: str) -> list[Sample]:
    """Prometheus text format -> (name, labels, value); comments and unparsable lines are skipped."""
    out: list[Sample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in _LABEL.findall(m.group(2) or "")}
        out.append((m.group(1), labels, value))
    return out


def metric(samples: Sequence[Sample], name: str) -> list[tuple[dict[str, str], float]]:
    return [(labels, value) for n, labels, value in samples if n == name]


def metric_sum(samples: Sequence[Sample], name: str) -> float | None:
    found = metric(samples, name)
    return sum(v for _, v in found) if found else None


_VERSION = re.compile(r"\bversion v?(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)")


def parse_version(text: str) -> str | None:
    """`alloy, version v1.10.2 (branch: HEAD, ...)` -> "1.10.2"."""
    m = _VERSION.search(text)
    return m.group(1) if m else None


def parse_env_file(text: str) -> dict[str, str]:
    """`KEY="value"` lines of /etc/default/alloy (shell syntax, one assignment per line)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip("\"'")]
        out[key.strip()] = " ".join(words)
    return out


DEFAULT_LISTEN = "127.0.0.1:12345"


def listen_addr(custom_args: str) -> str:
    """Alloy's `--server.http.listen-addr` from CUSTOM_ARGS (default 127.0.0.1:12345)."""
    words = custom_args.split()
    for i, w in enumerate(words):
        if w.startswith("--server.http.listen-addr="):
            return w.split("=", 1)[1]
        if w == "--server.http.listen-addr" and i + 1 < len(words):
            return words[i + 1]
    return DEFAULT_LISTEN


def local_url(listen: str, path: str) -> str:
    """A URL for Alloy's HTTP server as seen from the host itself (0.0.0.0 and :: mean loopback)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - reading a listen address, not binding one
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


@dataclass(frozen=True)
class ConfigFacts:
    """What the doctor needs from Alloy's config file: exporter components, literal scrape addresses, and
    remote_write URLs (only literal strings; values computed by expressions are not guessed)."""

    exporters: tuple[str, ...] = ()
    scrape_addresses: tuple[str, ...] = ()
    remote_write_urls: tuple[str, ...] = ()
    error: str | None = None


def config_facts(text: str, filename: str) -> ConfigFacts:
    from fleetui.alloy.syntax import AlloySyntaxError, parse
    from fleetui.alloy.syntax.ast import Array, Attribute, Block, Literal, Object

    try:
        tree = parse(text, filename)
    except AlloySyntaxError as e:
        first = e.diagnostics[0] if e.diagnostics else None
        return ConfigFacts(error=str(first) if first else "syntax error")
    exporters: list[str] = []
    addresses: list[str] = []
    urls: list[str] = []
    for stmt in tree.body:
        if not isinstance(stmt, Block) or stmt.label is None:
            continue
        name = stmt.full_name
        if name.startswith("prometheus.exporter."):
            exporters.append(f"{name}.{stmt.label}")
        elif name == "prometheus.scrape":
            for attr in stmt.body:
                if isinstance(attr, Attribute) and attr.name == "targets" and isinstance(attr.value, Array):
                    for el in attr.value.elements:
                        if isinstance(el, Object):
                            for f in el.fields:
                                if f.key == "__address__" and isinstance(f.value, Literal):
                                    addresses.append(str(f.value.value))
        elif name == "prometheus.remote_write":
            for ep in stmt.body:
                if isinstance(ep, Block) and ep.full_name == "endpoint":
                    for attr in ep.body:
                        if isinstance(attr, Attribute) and attr.name == "url" and isinstance(attr.value, Literal):
                            urls.append(str(attr.value.value))
    return ConfigFacts(tuple(exporters), tuple(addresses), tuple(urls))


# --- remote_write errors --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendError:
    kind: str  # auth | not_found | rate_limited | tls | refused | timeout | server | other
    status: int | None
    sentence: str
    hint: str
    fatal: bool  # fail (Alloy drops data) rather than warn (Alloy retries)


_STATUS = re.compile(r"HTTP status (\d{3})")


def classify_send_error(err: str) -> SendError:
    """An `err=` of Alloy's remote_write log line -> what it means and what to do."""
    m = _STATUS.search(err)
    status = int(m.group(1)) if m else None
    low = err.lower()
    if status in (401, 403):
        return SendError(
            "auth",
            status,
            f"Prometheus (or the proxy in front of it) rejects the credentials: HTTP {status}",
            "check basic_auth/bearer_token in the remote_write endpoint and the secret in Alloy's env file",
            True,
        )
    if status == 404:
        return SendError(
            "not_found",
            status,
            "HTTP 404: the remote_write receiver is off or the URL path is wrong",
            "Prometheus needs --web.enable-remote-write-receiver; its URL ends in /api/v1/write "
            "(/api/v1/push is Mimir's)",
            True,
        )
    if status == 429:
        return SendError(
            "rate_limited",
            status,
            "HTTP 429: the receiver rate-limits this host; Alloy retries, samples arrive late",
            "raise the receiver's limits or lower what this host sends (queue_config, relabel drops)",
            False,
        )
    if "x509" in low or "tls:" in low or "certificate" in low:
        return SendError(
            "tls",
            status,
            "TLS handshake with the remote_write URL fails",
            "give Alloy the CA: endpoint { tls_config { ca_file = ... } }, or check the server's certificate",
            True,
        )
    if "connection refused" in low or "no such host" in low or "no route to host" in low:
        return SendError(
            "refused",
            status,
            "the remote_write URL cannot be reached from the host",
            "check the URL, DNS and firewall from the host to Prometheus",
            True,
        )
    if "deadline exceeded" in low or "timeout" in low:
        return SendError(
            "timeout",
            status,
            "sending to the remote_write URL times out",
            "check the network path and Prometheus' load",
            False,
        )
    if status is not None and status >= 500:
        return SendError(
            "server", status, f"HTTP {status} from the receiver; Alloy retries", "see Prometheus' own log", False
        )
    if status is not None and 400 <= status < 500:
        return SendError(
            "other", status, f"HTTP {status}: the receiver rejects the samples", "see err= in the log line", True
        )
    return SendError("other", status, "remote_write fails", "see err= in the log line", True)


_RELOAD_MARKERS = ('msg="config reloaded"', 'msg="now listening for http traffic"', 'msg="starting Alloy"')


def remote_write_errors(lines: Sequence[LogLine], now: float, window: float = 300.0) -> list[tuple[LogLine, str]]:
    """(line, err) of remote_write send errors logged after Alloy's last (re)load and within `window` s."""
    start = 0
    for i, ln in enumerate(lines):
        if any(m in ln.text for m in _RELOAD_MARKERS):
            start = i + 1
    out = []
    for ln in lines[start:]:
        if "prometheus.remote_write" not in ln.text or "level=" not in ln.text:
            continue
        if ln.ts is not None and ln.ts < now - window:
            continue
        fields = logfmt_fields(ln.text)
        if fields.get("level") in ("error", "warn") and fields.get("err"):
            out.append((ln, fields["err"]))
    return out


def is_component_path(job: str) -> bool:
    """Alloy's default job is the scrape component's path: `prometheus.scrape.node_exporter`."""
    return job.startswith(("prometheus.scrape.", "prometheus.exporter.")) or bool(
        re.fullmatch(r"[a-z_]+(\.[a-z_]+){2,}(\.[A-Za-z0-9_]+)?", job)
    )


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- judgments, in checklist order -------------------------------------------------------------------------


def judge_ssh(kind: str | None, message: str, who: str, nodename: str | None) -> CheckResult:
    """`kind` None: connected. Else unknown_key | changed_key | auth | connect | sudo."""
    if kind is None:
        return ok("ssh", f"connected to {who}", f"uname -n: {nodename or '?'}")
    hints = {
        "unknown_key": "check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), "
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
    return fail("ssh", summary, hints.get(kind, hints["connect"]), _short(message, 400))


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
    return ok("installed", f"Alloy v{version}", f"{path} --version: {_short(first)}")


def judge_service(
    has_systemctl: bool, active: str, enabled: str, journal_tail: Sequence[str], process_found: bool
) -> CheckResult:
    tail = tuple(_short(t) for t in journal_tail[-5:])
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
    seen = f"GET {url}: {status or 'no answer'} {_short(body.strip())}".rstrip()
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
    evidence += [f"log: {_short(e, 300)}" for e in reload_errors[-2:]]
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


@dataclass(frozen=True)
class EndpointProbe:
    """One URL fetched from the host: where it came from, the HTTP status (0: no answer) and what it held."""

    url: str
    origin: str  # "Prometheus target" | "config: <component>" | "scrape target"
    status: int
    samples: int
    body: str = ""


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
        _short(bad.body.strip(), 200),
    )


@dataclass(frozen=True)
class TargetInfo:
    scrape_url: str
    health: str
    last_error: str | None
    labels: Mapping[str, str]


def judge_prometheus(
    push_probes: Sequence[EndpointProbe], target: TargetInfo | None, prom_error: str | None
) -> CheckResult:
    if push_probes:
        evidence = [
            f"from the host: POST {p.url} -> {p.status or 'no answer'} {_short(p.body.strip(), 120)}"
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
            f"the remote_write URL does not answer from the host: {_short(why, 120)}",
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
                f"Prometheus cannot scrape the host: {_short(target.last_error or 'down', 160)}",
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
        evidence = (*counters, f"log: {_short(line.text, 400)}", f"{len(errors)} send errors since the last (re)load")
        if kind.fatal:
            return fail("remote_write", kind.sentence, kind.hint, *evidence)
        return warn("remote_write", kind.sentence, kind.hint, *evidence)
    return ok("remote_write", "no send errors since Alloy's last (re)load", *counters)


@dataclass(frozen=True)
class SeriesSample:
    labels: Mapping[str, str]
    ts: float  # unix seconds of the newest sample


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
