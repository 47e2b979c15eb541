"""Gathering the doctor's evidence: one SSH session to the host, the Prometheus API, then the pure judgments.

Order matters: each check runs only when what it needs passed (a stopped service is not also reported as
"not ready", "no config", "no exporter"), so the first failure is the place to look. Host-side checks share
one session; Prometheus-side ones (`series`, `labels`) use one client that a fleet run shares, with the
targets list read once per run. A connection lost in the middle fails the check it interrupted and skips the
host checks after it, saying so: the doctor never reports a host fine when it could not look.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from fleetui.adapters.alloy_logs import NoLogSource, detect_source, recent_lines
from fleetui.adapters.ssh import (
    AuthFailed,
    ConnectFailed,
    ConnectionLost,
    HostKeyChanged,
    HostKeyUnknown,
    HostSession,
    OnUnknownKey,
    SshError,
    SshTarget,
    SudoPasswordRequired,
    connect_with_settings,
)
from fleetui.config import Settings
from fleetui.doctor import checks as c
from fleetui.doctor import evidence as ev
from fleetui.doctor.model import CHECKS, SPECS, CheckResult, DoctorReport, Status, fail, skipped
from fleetui.domain.logline import LogLine

ENV_FILES = ("/etc/default/alloy", "/etc/sysconfig/alloy")
ALLOY_PATHS = ("/usr/bin/alloy", "/usr/local/bin/alloy", "/opt/homebrew/bin/alloy")
DEFAULT_CONFIG = "/etc/alloy/config.alloy"
LOG_WINDOW = 600.0  # seconds of Alloy's log the doctor reads
_UNAME_LABELS = {"domainname", "machine", "nodename", "release", "sysname", "version"}


@dataclass(frozen=True)
class DoctorTarget:
    """A host to examine: the name it is shown under and how to reach it over SSH."""

    name: str
    ssh: SshTarget


class PromCache:
    """The Prometheus API for one doctor run (shared by a fleet run): one client, targets read once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._targets: list[Any] | None = None
        self._targets_error: str | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> PromCache:
        from fleetui.adapters.prometheus import PrometheusClient

        self._client = PrometheusClient(self.settings)
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def targets(self) -> tuple[list[Any], str | None]:
        from fleetui.adapters.prometheus import PrometheusError

        async with self._lock:
            if self._targets is None and self._targets_error is None:
                try:
                    self._targets = await self._client.targets()
                except PrometheusError as e:
                    self._targets_error = str(e)
        return self._targets or [], self._targets_error

    async def query(self, expr: str) -> list[Any]:
        result: list[Any] = await self._client.query(expr)
        return result


@dataclass
class _Facts:
    """What the host checks learn, for the checks after them."""

    nodename: str | None = None
    alloy_path: str | None = None
    version: str | None = None
    listen: str = ev.DEFAULT_LISTEN
    config_path: str = DEFAULT_CONFIG
    config: ev.ConfigFacts = field(default_factory=ev.ConfigFacts)
    metrics: list[ev.Sample] | None = None
    logs: list[LogLine] | None = None
    target: ev.TargetInfo | None = None
    target_error: str | None = None
    host_now: float | None = None
    series_labels: dict[str, str] = field(default_factory=dict)

    @property
    def push(self) -> bool:
        if self.config.remote_write_urls:
            return True
        sent = ev.metric_sum(self.metrics or [], "prometheus_remote_storage_samples_total")
        return sent is not None


def _promql(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ssh_kind(e: BaseException) -> str:
    if isinstance(e, HostKeyUnknown):
        return "unknown_key"
    if isinstance(e, HostKeyChanged):
        return "changed_key"
    if isinstance(e, AuthFailed):
        return "auth"
    if isinstance(e, SudoPasswordRequired):
        return "sudo"
    return "connect"


OnCheck = Callable[[str, CheckResult], None]


class _Run:
    def __init__(self, target: DoctorTarget, on_check: OnCheck | None) -> None:
        self.target = target
        self.results: dict[str, CheckResult] = {}
        self.lost: str | None = None
        self._on_check = on_check

    def record(self, result: CheckResult) -> None:
        self.results[result.id] = result
        if self._on_check is not None:
            self._on_check(self.target.name, result)

    def passed(self, check_id: str) -> bool:
        r = self.results.get(check_id)
        return r is not None and r.status in (Status.OK, Status.WARN)

    def blocked(self, check_id: str) -> str | None:
        """Why `check_id` cannot run (a needed check did not pass), or None."""
        if self.lost and "ssh" in _closure(check_id):
            return f"not checked: {self.lost}"
        for need in SPECS[check_id].needs:
            if not self.passed(need):
                return f"not checked: {SPECS[need].title} did not pass"
        return None

    async def check(self, check_id: str, fn: Callable[[], Awaitable[CheckResult]]) -> None:
        why = self.blocked(check_id)
        if why is not None:
            self.record(skipped(check_id, why))
            return
        t0 = time.monotonic()
        try:
            result = await fn()
        except ConnectionLost as e:
            self.lost = "the SSH connection was lost"
            result = fail(check_id, "the SSH connection was lost during this check", "run the doctor again", str(e))
        except SudoPasswordRequired as e:
            result = fail(
                check_id, "sudo needs a password", "give --password-env or allow NOPASSWD sudo for reads", str(e)
            )
        except SshError as e:
            result = fail(check_id, "could not check", "see the evidence", str(e))
        self.record(
            CheckResult(result.id, result.status, result.summary, result.evidence, result.hint, time.monotonic() - t0)
        )


def _closure(check_id: str) -> set[str]:
    out: set[str] = set()
    todo = list(SPECS[check_id].needs)
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo.extend(SPECS[n].needs)
    return out


async def doctor_host(
    settings: Settings,
    target: DoctorTarget,
    prom: PromCache,
    *,
    identity_file: str | None = None,
    password: str | None = None,
    on_unknown_key: OnUnknownKey | None = None,
    on_check: OnCheck | None = None,
) -> DoctorReport:
    """Every check of one host, in order. Never raises for what it finds: that is what the report is for.
    `on_check(host, result)` is called as each check completes (the screen shows progress with it)."""
    started = time.monotonic()
    run = _Run(target, on_check)
    facts = _Facts()
    who = target.ssh.display
    try:
        async with connect_with_settings(
            settings, target.ssh, identity_file=identity_file, password=password, on_unknown_key=on_unknown_key
        ) as session:
            uname = await session.run(["uname", "-n"], check=False)
            facts.nodename = uname.stdout.strip() or None
            run.record(c.judge_ssh(None, "", who, facts.nodename))
            await _host_checks(run, session, facts, settings, prom)
    except (HostKeyUnknown, HostKeyChanged, AuthFailed, ConnectFailed, SudoPasswordRequired) as e:
        if "ssh" not in run.results:
            key_file = e.info.key_file if isinstance(e, HostKeyUnknown) else None
            run.record(c.judge_ssh(_ssh_kind(e), str(e), who, None, key_file))
        elif run.lost is None:
            run.lost = "the SSH connection was lost"
    if facts.target is None and facts.target_error is None:
        facts.target, facts.target_error = await _find_target(prom, target, facts.nodename)
    nodename = facts.nodename or target.name
    await run.check("series", lambda: _series(prom, settings, facts, nodename))
    await run.check("labels", lambda: _labels(settings, facts, nodename))
    for spec in CHECKS:  # anything not reached (the SSH part ended early) is skipped, saying why
        if spec.id not in run.results:
            run.record(skipped(spec.id, run.blocked(spec.id) or f"not checked: {run.lost}"))
    mode = "pull+push" if facts.target and facts.push else "push" if facts.push else "pull" if facts.target else None
    return DoctorReport(
        target.name,
        who,
        tuple(run.results[s.id] for s in CHECKS),
        mode,
        facts.nodename,
        time.monotonic() - started,
        {"version": facts.version or "", "listen": facts.listen, "config": facts.config_path},
    )


async def _host_checks(run: _Run, s: HostSession, facts: _Facts, settings: Settings, prom: PromCache) -> None:
    await run.check("installed", lambda: _installed(s, facts))
    await run.check("service", lambda: _service(s))
    await run.check("ready", lambda: _ready(s, facts))
    await run.check("config", lambda: _config(s, facts))
    facts.target, facts.target_error = await _find_target(prom, run.target, facts.nodename)
    await run.check("exporter", lambda: _exporter(s, facts))
    await run.check("prometheus", lambda: _prometheus(s, facts))
    await run.check("clock", lambda: _clock(s, facts))  # before remote_write: its time window is the host's
    await run.check("remote_write", lambda: _remote_write(s, facts))


# --- host-side checks ------------------------------------------------------------------------------------------


async def _installed(s: HostSession, facts: _Facts) -> CheckResult:
    for path in ("alloy", *ALLOY_PATHS):
        r = await s.run([path, "--version"], check=False)
        if r.exit_status not in (126, 127):
            facts.alloy_path = path
            facts.version = ev.parse_version(r.stdout + r.stderr)
            return c.judge_installed(path, r.stdout + r.stderr)
    return c.judge_installed(None, "")


async def _service(s: HostSession) -> CheckResult:
    active = await s.run(["systemctl", "is-active", "alloy.service"], check=False)
    if active.exit_status == 127:
        found = await s.run(["pgrep", "-x", "alloy"], check=False)
        return c.judge_service(False, "", "", [], found.ok)
    enabled = await s.run(["systemctl", "is-enabled", "alloy.service"], check=False)
    state = active.stdout.strip()
    tail: list[str] = []
    if state != "active":
        j = await s.run(
            ["journalctl", "--unit=alloy.service", "--lines=5", "--output=cat", "--no-pager", "--quiet"],
            sudo=True,
            check=False,
        )
        tail = [ln for ln in j.stdout.splitlines() if ln.strip()]
    return c.judge_service(True, state, enabled.stdout.strip(), tail, False)


async def _ready(s: HostSession, facts: _Facts) -> CheckResult:
    for path in ENV_FILES:
        data = await s.read_file(path)
        if data is not None:
            env = ev.parse_env_file(data.decode("utf-8", "replace"))
            facts.listen = ev.listen_addr(env.get("CUSTOM_ARGS", ""))
            facts.config_path = env.get("CONFIG_FILE") or DEFAULT_CONFIG
            break
    url = ev.local_url(facts.listen, "/-/ready")
    r = await s.http_get(url)
    return c.judge_ready(url, r.status, r.body)


async def _logs(s: HostSession, facts: _Facts) -> list[LogLine]:
    if facts.logs is None:
        try:
            source = await detect_source(s)
            facts.logs = await recent_lines(s, source, s.target.host, since=LOG_WINDOW, limit=2000)
        except NoLogSource:
            facts.logs = []
    return facts.logs


async def _config(s: HostSession, facts: _Facts) -> CheckResult:
    data = await s.read_file(facts.config_path)
    if data is not None:
        facts.config = ev.config_facts(data.decode("utf-8", "replace"), facts.config_path)
    r = await s.http_get(ev.local_url(facts.listen, "/metrics"))
    facts.metrics = ev.parse_exposition(r.body) if r.status == 200 else None
    reload_errors = [ln.text for ln in await _logs(s, facts) if 'msg="failed to reload config"' in ln.text]
    return c.judge_config(facts.metrics, facts.version, reload_errors)


async def _find_target(
    prom: PromCache, target: DoctorTarget, nodename: str | None
) -> tuple[ev.TargetInfo | None, str | None]:
    """The Prometheus target scraping this host: its scrape URL's host is the SSH address, or its
    instance/hostname label is the nodename. The unix exporter's target first."""
    targets, error = await prom.targets()
    names = {target.ssh.host, *([nodename] if nodename else [])}
    mine = [
        t
        for t in targets
        if t.scrape_url
        and (
            urlsplit(t.scrape_url).hostname in names
            or t.labels.get("instance") in names
            or t.labels.get("hostname") in names
        )
    ]
    mine.sort(key=lambda t: "prometheus.exporter.unix" not in (t.scrape_url or ""))
    if not mine:
        return None, error
    t = mine[0]
    return ev.TargetInfo(t.scrape_url or "", t.health, t.last_error, dict(t.labels)), None


async def _fetch(s: HostSession, url: str, origin: str) -> ev.EndpointProbe:
    r = await s.http_get(url, timeout=10.0)
    samples = sum(1 for ln in r.body.splitlines() if ln and not ln.startswith("#")) if r.status == 200 else 0
    return ev.EndpointProbe(url, origin, r.status, samples, r.body[:500] if r.status != 200 else "")


async def _exporter(s: HostSession, facts: _Facts) -> CheckResult:
    probes = []
    if facts.target is not None:
        probes.append(await _fetch(s, facts.target.scrape_url, "Prometheus target"))
    for cid in facts.config.exporters:
        url = ev.local_url(facts.listen, f"/api/v0/component/{cid}/metrics")
        if facts.target is None or url != facts.target.scrape_url:
            probes.append(await _fetch(s, url, f"config: {cid}"))
    for addr in facts.config.scrape_addresses:
        if ":" in addr and "/" not in addr:
            probes.append(await _fetch(s, f"http://{addr}/metrics", "scrape target"))
    return c.judge_exporter(probes)


_POST_PY = (
    "import sys,urllib.request as u,urllib.error as e\n"
    "q=u.Request(sys.argv[1],data=b'',method='POST',headers={'Content-Type':'application/x-protobuf',"
    "'Content-Encoding':'snappy'})\n"
    "try:\n r=u.urlopen(q,timeout=5);c=r.status;b=r.read()\n"
    "except e.HTTPError as x:\n c=x.code;b=x.read()\n"
    "except Exception as x:\n c=0;b=str(getattr(x,'reason',x)).encode()\n"
    "sys.stdout.write(b.decode('utf-8','replace')+'\\n'+str(c))"
)


async def _post_probe(s: HostSession, url: str) -> ev.EndpointProbe:
    """An empty remote-write POST from the host: any HTTP answer means the URL is reachable; Prometheus
    rejects an empty body (400) without storing anything."""
    r = await s.run(
        [
            "curl",
            "-sS",
            "-m",
            "5",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-protobuf",
            "-H",
            "Content-Encoding: snappy",
            "--data-binary",
            "",
            "--",
            url,
        ],
        check=False,
    )
    if r.exit_status == 127:
        r = await s.run(["python3", "-c", _POST_PY, url], check=False)
    body, _, code = r.stdout.rpartition("\n")
    status = int(code) if code.isdigit() else 0
    if status == 0:
        body = (r.stderr.strip() or body).strip()
    return ev.EndpointProbe(url, "remote_write", status, 0, body)


async def _prometheus(s: HostSession, facts: _Facts) -> CheckResult:
    probes = [await _post_probe(s, url) for url in facts.config.remote_write_urls]
    return c.judge_prometheus(probes, facts.target, facts.target_error)


async def _remote_write(s: HostSession, facts: _Facts) -> CheckResult:
    if not facts.push:
        return c.judge_remote_write(False, facts.metrics, [])
    now = facts.host_now or time.time()
    errors = ev.remote_write_errors(await _logs(s, facts), now)
    return c.judge_remote_write(True, facts.metrics, errors)


async def _clock(s: HostSession, facts: _Facts) -> CheckResult:
    t0 = time.time()
    r = await s.run(["date", "+%s.%N"], check=False)
    t1 = time.time()
    raw = r.stdout.strip()
    try:
        host = float(raw)
    except ValueError:
        return c.judge_clock(None, t1 - t0, raw)
    facts.host_now = host
    return c.judge_clock(host - (t0 + t1) / 2, t1 - t0, raw)


# --- Prometheus-side checks ------------------------------------------------------------------------------------


async def _series(prom: PromCache, settings: Settings, facts: _Facts, nodename: str) -> CheckResult:
    """Fresh samples of node_uname_info with this nodename, or a successful `up` (value 1: data came in)."""
    from fleetui.adapters.prometheus import PrometheusError

    exprs = {"node_uname_info": f"timestamp(node_uname_info{{nodename={_promql(nodename)}}})"}
    instance = facts.target.labels.get("instance") if facts.target is not None else None
    up = f"up{{instance={_promql(instance or nodename)}}}"
    # timestamp() of a plain selector is the sample's time (of `up == 1` it would be the query's): filter after
    exprs["up"] = f"timestamp({up}) and ({up} == 1)"
    found: list[ev.SeriesSample] = []
    try:
        replies = await asyncio.gather(*(prom.query(e) for e in exprs.values()))
    except PrometheusError as e:
        return c.judge_series([], time.time(), float(settings["stale_after"]), str(e), nodename, facts.push)
    for name, reply in zip(exprs, replies, strict=True):
        for sample in reply:
            found.append(ev.SeriesSample({"__name__": name, **sample.labels}, sample.value))
    facts.series_labels = _label_source(found)
    return c.judge_series(found, time.time(), float(settings["stale_after"]), None, nodename, facts.push)


def _label_source(found: list[ev.SeriesSample]) -> dict[str, str]:
    """The labels the host's data carries: node_uname_info's without its own uname labels, else up's."""
    for want in ("node_uname_info", "up"):
        for s in sorted(found, key=lambda s: -s.ts):
            if s.labels.get("__name__") == want:
                return {k: v for k, v in s.labels.items() if k != "__name__" and k not in _UNAME_LABELS}
    return {}


async def _labels(settings: Settings, facts: _Facts, nodename: str) -> CheckResult:
    return c.judge_labels(
        facts.series_labels, nodename, tuple(settings["schema.required_labels"]), dict(settings["schema.aliases"])
    )
