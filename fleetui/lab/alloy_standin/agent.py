"""`alloy run` of the fleetui lab stand-in for Grafana Alloy: HTTP API, scrape loops, remote_write (ALLOY-FACTS §2-3).

What it models: `/-/ready`, `/-/healthy`, `/-/reload` (and SIGHUP) keeping the last good config on failure,
`/metrics`, `/api/v0/web/components`, and `/api/v0/component/<id>/metrics` for exporters (the unix exporter
serves this host's node_exporter, found through the lab-only /etc/fleetui-lab/standin.env). Each
`prometheus.scrape` scrapes its targets every `scrape_interval` and forwards to `prometheus.relabel` /
`prometheus.remote_write` receivers, labelled as Alloy labels them (job = the component path unless set,
instance = `__address__` unless set, plus `up` and `scrape_duration_seconds`). Other components idle.

Its own /metrics carries what a doctor reads from a real Alloy: `alloy_build_info{version}`,
`alloy_config_hash{sha256}` (sha256 hex of the config file read, as Alloy's instrumentation sets it; of the
*.alloy files concatenated in name order for a directory), `alloy_config_last_load_successful`,
`alloy_config_load_failures_total`, and per remote_write endpoint the
`prometheus_remote_storage_samples{,_failed,_retried}_total{component_id,url,remote_name}` counters plus
`prometheus_remote_write_wal_samples_appended_total`. Send failures are logged as Alloy logs them: 4xx other
than 429 as `level=error msg="non-recoverable error" … err="server returned HTTP status 404 Not Found: …"`,
429/5xx/network errors as `level=warn msg="Failed to send batch, retrying" err="Post \"…\": dial tcp …"`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fleetui.lab.alloy_standin import darwin, version
from fleetui.lab.alloy_standin.graph import Capsule, ConfigError, EvalError, Evaluator, Graph, load, read_sources
from fleetui.lab.alloy_standin.logfmt import log

LAB_ENV = Path("/etc/fleetui-lab/standin.env")
# lab-only switches for states a test cannot produce otherwise (one word per line), e.g. `not_ready`: Alloy
# runs and serves HTTP but /-/ready answers 503, as while a real one replays a long WAL before its first load;
# `darwin_memory`: scraped memory metrics under macOS's names (alloy_standin.darwin)
LAB_FAULTS = Path("/etc/fleetui-lab/faults")
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _duration(v: Any, default: float) -> float:
    if v is None:
        return default
    total, s = 0.0, str(v)
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", s):
        total += float(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return total or default


def parse_exposition(text: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = {"__name__": m.group(1)}
        for k, v in _LABEL.findall(m.group(3) or ""):
            labels[k] = v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        raw = m.group(4)
        try:
            value = float({"+Inf": "inf", "-Inf": "-inf", "NaN": "nan"}.get(raw, raw))
        except ValueError:
            continue
        out.append((labels, value))
    return out


def lab_faults() -> set[str]:
    try:
        return {w for w in LAB_FAULTS.read_text().split() if not w.startswith("#")}
    except OSError:
        return set()


def _lab_env() -> dict[str, str]:
    env: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in LAB_ENV.read_text().splitlines():
            k, sep, v = line.partition("=")
            if sep and not k.startswith("#"):
                env[k.strip()] = v.strip()
    return env


class Agent:
    def __init__(self, path: str, listen_addr: str, storage: str) -> None:
        self.path, self.listen_addr, self.storage = path, listen_addr, storage
        self.graph: Graph | None = None
        self.ready = False
        self.load_failures = 0
        self.last_load_ok = 0
        self.config_sha256 = ""  # of the config file last read, as `alloy_config_hash{sha256}` reports it
        self.last_load_success = 0.0
        # (component id, url, remote_name) -> sent / failed / retried samples, as Alloy labels them
        self.rw: dict[tuple[str, str, str], dict[str, int]] = {}
        self.wal_appended: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stop_scrapes = threading.Event()
        self.threads: list[threading.Thread] = []
        self.lab = _lab_env()
        self.hostname = self.lab.get("LAB_HOSTNAME") or os.uname().nodename

    # --- config ---
    def load(self) -> None:
        """Load + evaluate PATH; raises ConfigError / EvalError, keeping the running config."""
        sources = read_sources(self.path)
        # Alloy sets alloy_config_hash from the file it read, whether or not the new config then applies
        self.config_sha256 = hashlib.sha256("".join(sources.values()).encode()).hexdigest()
        graph = load(sources)
        ev = Evaluator(graph, listen_addr=self.listen_addr, hostname=self.hostname)
        log(
            "info",
            "starting complete graph evaluation",
            controller_path="/",
            controller_id="",
            trace_id=os.urandom(16).hex(),
        )
        t0 = time.monotonic()
        ev.evaluate_all()
        log(
            "info",
            "finished complete graph evaluation",
            controller_path="/",
            controller_id="",
            trace_id=os.urandom(16).hex(),
            duration=f"{(time.monotonic() - t0) * 1000:.6f}ms",
        )
        with self.lock:
            self.stop_scrapes.set()
            self.stop_scrapes = threading.Event()
            self.graph = graph
            self.ready = True
            self.last_load_ok = 1
            self.last_load_success = time.time()
            for c in graph.components.values():
                if c.name == "prometheus.scrape":
                    t = threading.Thread(target=self._scrape_loop, args=(c.id, self.stop_scrapes), daemon=True)
                    t.start()
                if c.name == "prometheus.exporter.unix":
                    log("info", "Enabled node_exporter collectors", component_path="/", component_id=c.id)

    def reload(self, via: str) -> str | None:
        log("info", f"reload requested via {via}")
        try:
            self.load()
        except (ConfigError, EvalError, OSError) as e:
            self.load_failures += 1
            self.last_load_ok = 0
            msg = _error_text(e)
            log("error", "failed to reload config", err=msg)
            return msg
        log("info", "config reloaded")
        return None

    # --- scraping and forwarding ---
    def _scrape_loop(self, cid: str, stop: threading.Event) -> None:
        # a scrape loop starts once the (re)load is done and logged, as Alloy's do (after a jittered offset)
        if stop.wait(0.2):
            return
        while not stop.is_set():
            graph = self.graph
            if graph is None or cid not in graph.components:
                return
            c = graph.components[cid]
            interval = _duration(c.args.get("scrape_interval"), 60.0)
            try:
                self._scrape_once(c.id, c.args)
            except Exception as e:  # a scrape bug must not kill the agent
                log("error", "scrape failed", component_path="/", component_id=cid, err=str(e))
            stop.wait(interval)

    def _scrape_once(self, cid: str, args: dict[str, Any]) -> None:
        job_default = str(args.get("job_name") or cid)
        timeout = _duration(args.get("scrape_timeout"), 10.0)
        metrics_path = str(args.get("metrics_path") or "/metrics")
        scheme = str(args.get("scheme") or "http")
        batch: list[tuple[dict[str, str], list[tuple[int, float]]]] = []
        for t in args.get("targets") or []:
            if not isinstance(t, dict) or "__address__" not in t:
                continue
            t = {str(k): str(v) for k, v in t.items()}
            target_labels = {k: v for k, v in t.items() if not k.startswith("__")}
            target_labels.setdefault("job", job_default)
            target_labels.setdefault("instance", t["__address__"])
            url = f"{t.get('__scheme__', scheme)}://{t['__address__']}{t.get('__metrics_path__', metrics_path)}"
            now = int(time.time() * 1000)
            t0 = time.monotonic()
            up, samples = 1.0, []
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    samples = parse_exposition(r.read().decode(errors="replace"))
                if darwin.SWITCH in lab_faults():
                    samples = darwin.as_darwin(samples)
            except (urllib.error.URLError, OSError, ValueError) as e:
                up = 0.0
                log("warn", "scrape failed", component_path="/", component_id=cid, target=url, err=str(e))
            took = time.monotonic() - t0
            for labels, value in samples:
                merged = {}
                for k, v in labels.items():
                    merged[f"exported_{k}" if k in target_labels else k] = v
                merged.update(target_labels)
                batch.append((merged, [(now, value)]))
            for name, value in (
                ("up", up),
                ("scrape_duration_seconds", took),
                ("scrape_samples_scraped", float(len(samples))),
            ):
                batch.append(({"__name__": name, **target_labels}, [(now, value)]))
        for recv in args.get("forward_to") or []:
            self.forward(recv, batch)

    def forward(self, recv: Any, batch: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> None:
        graph = self.graph
        if not isinstance(recv, Capsule) or graph is None or recv.component not in graph.components:
            return
        c = graph.components[recv.component]
        if c.name == "prometheus.relabel":
            from fleetui.lab.alloy_standin.relabel import apply

            rules = c.blocks.get("rule", [])
            out = []
            for labels, samples in batch:
                new = apply(labels, rules)
                if new is not None:
                    out.append((new, samples))
            for nxt in c.args.get("forward_to") or []:
                self.forward(nxt, out)
        elif c.name == "prometheus.remote_write":
            self._remote_write(c.id, c.args, c.blocks, batch)

    def _remote_write(
        self,
        cid: str,
        args: dict[str, Any],
        blocks: dict[str, list[dict[str, Any]]],
        batch: list[tuple[dict[str, str], list[tuple[int, float]]]],
    ) -> None:
        from fleetui.lab.remote_write import RemoteWriteError, push

        ext = {str(k): str(v) for k, v in (args.get("external_labels") or {}).items()}
        series = [({**ext, **labels} if ext else labels, s) for labels, s in batch]
        for ep in blocks.get("endpoint", []):
            url = str(ep.get("url", ""))
            headers = {str(k): str(v) for k, v in (ep.get("headers") or {}).items()}
            for ba in ep.get("basic_auth", []):
                pw = ba.get("password") or (
                    Path(ba["password_file"]).read_text().strip() if ba.get("password_file") else ""
                )
                headers["Authorization"] = (
                    "Basic " + base64.b64encode(f"{ba.get('username', '')}:{pw}".encode()).decode()
                )
            if ep.get("bearer_token"):
                headers["Authorization"] = f"Bearer {ep['bearer_token']}"
            n = len(series)
            name = str(ep.get("name") or hashlib.sha256(url.encode()).hexdigest()[:6])
            counters = self.remote_counters(cid, url, name)
            with self.lock:
                self.wal_appended[cid] = self.wal_appended.get(cid, 0) + n
            try:
                push(url, series, timeout=_duration(ep.get("remote_timeout"), 30.0), headers=headers)
                counters["sent"] += n
            except RemoteWriteError as e:
                counters["sent"] += n
                common = {"component_path": "/", "component_id": cid, "subcomponent": "rw", "remote_name": name}
                if e.status is not None and 400 <= e.status < 500 and e.status != 429:
                    # Alloy drops the batch: "non-recoverable error" (the component stays healthy, #823)
                    counters["failed"] += n
                    log(
                        "error",
                        "non-recoverable error",
                        **common,
                        url=url,
                        failedSampleCount=n,
                        failedHistogramCount=0,
                        failedExemplarCount=0,
                        err=f"server returned HTTP status {e.status} {_reason(e.status)}: {e.body}",
                    )
                else:
                    # 429, 5xx and network errors are retried (this stand-in retries by sending the next batch)
                    counters["retried"] += n
                    log("warn", "Failed to send batch, retrying", **common, url=url, err=_go_error(url, e))

    def remote_counters(self, cid: str, url: str, name: str) -> dict[str, int]:
        with self.lock:
            return self.rw.setdefault((cid, url, name), {"sent": 0, "failed": 0, "retried": 0})

    # --- HTTP ---
    def exporter_metrics(self, cid: str) -> bytes | None:
        graph = self.graph
        if graph is None or cid not in graph.components:
            return None
        c = graph.components[cid]
        if c.name == "prometheus.exporter.unix":
            url = self.lab.get("NODE_EXPORTER_URL", "http://127.0.0.1:9100/metrics")
            with urllib.request.urlopen(url, timeout=10) as r:
                body: bytes = r.read()
                return body
        if c.name == "prometheus.exporter.self":
            return self.own_metrics().encode()
        if c.name.startswith("prometheus.exporter."):
            return b""
        return None

    def own_metrics(self) -> str:
        graph = self.graph
        n = len(graph.components) if graph else 0
        return self._core_metrics(n) + self._remote_write_metrics()

    def _remote_write_metrics(self) -> str:
        """The remote storage counters Alloy's prometheus.remote_write registers, labelled per endpoint."""
        with self.lock:
            rw = {k: dict(v) for k, v in self.rw.items()}
            wal = dict(self.wal_appended)
        if not rw and not wal:
            return ""
        out = []
        for family, key, help_text in (
            ("prometheus_remote_storage_samples_total", "sent", "Total number of samples sent to remote storage."),
            (
                "prometheus_remote_storage_samples_failed_total",
                "failed",
                "Total number of samples which failed on send to remote storage, non-recoverable errors.",
            ),
            (
                "prometheus_remote_storage_samples_retried_total",
                "retried",
                "Total number of samples which failed on send to remote storage but were retried because the "
                "send error was recoverable.",
            ),
        ):
            out.append(f"# HELP {family} {help_text}\n# TYPE {family} counter\n")
            for (cid, url, name), c in sorted(rw.items()):
                labels = f'component_id="{cid}",component_path="/",remote_name="{name}",url="{_esc(url)}"'
                out.append(f"{family}{{{labels}}} {c[key]}\n")
        out.append("# TYPE prometheus_remote_write_wal_samples_appended_total counter\n")
        for cid, appended in sorted(wal.items()):
            out.append(
                f'prometheus_remote_write_wal_samples_appended_total{{component_id="{cid}",component_path="/"}} '
                f"{appended}\n"
            )
        return "".join(out)

    def _core_metrics(self, n: int) -> str:
        return (
            "# HELP alloy_build_info A metric with a constant '1' value labeled by version, revision, branch, "
            "goversion from which alloy was built, and the goos and goarch for the build.\n"
            "# TYPE alloy_build_info gauge\n"
            f'alloy_build_info{{branch="HEAD",goarch="amd64",goos="linux",goversion="go1.24.5",'
            f'revision="5a8c9e1f0",tags="netgo,builtinassets,promtail_journal_enabled",version="v{version()}"}} 1\n'
            "# HELP alloy_config_hash Hash of the currently active config file.\n"
            "# TYPE alloy_config_hash gauge\n"
            + (f'alloy_config_hash{{sha256="{self.config_sha256}"}} 1\n' if self.config_sha256 else "")
            + "# HELP alloy_config_last_load_successful Config loaded successfully.\n"
            "# TYPE alloy_config_last_load_successful gauge\n"
            f"alloy_config_last_load_successful {self.last_load_ok}\n"
            "# HELP alloy_config_last_load_success_timestamp_seconds Timestamp of the last successful "
            "configuration load.\n"
            "# TYPE alloy_config_last_load_success_timestamp_seconds gauge\n"
            f"alloy_config_last_load_success_timestamp_seconds {self.last_load_success:.3f}\n"
            "# TYPE alloy_config_load_failures_total counter\n"
            f"alloy_config_load_failures_total {self.load_failures}\n"
            "# TYPE alloy_component_controller_running_components gauge\n"
            f'alloy_component_controller_running_components{{health_type="healthy"}} {n}\n'
        )

    def components_json(self) -> list[dict[str, Any]]:
        graph = self.graph
        if graph is None:
            return []
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return [
            {
                "name": c.name,
                "type": "block",
                "localID": c.id,
                "moduleID": "",
                "label": c.label,
                "referencesTo": [],
                "referencedBy": [],
                "health": {"state": "healthy", "message": "started component", "updatedTime": now},
                "original": "",
                "arguments": [],
                "exports": [],
                "debugInfo": [],
            }
            for c in graph.components.values()
        ]


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _reason(status: int) -> str:
    return _REASONS.get(status, "")


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _go_error(url: str, e: Any) -> str:
    """A send error worded as Go's net/http client words it in Alloy's log."""
    if e.status is not None:
        return f"server returned HTTP status {e.status} {_reason(e.status)}: {e.body}"
    reason = e.reason
    host = re.sub(r"^[a-z]+://", "", url).split("/", 1)[0]
    if isinstance(reason, ConnectionRefusedError) or "refused" in str(reason).lower():
        return f'Post "{url}": dial tcp {host}: connect: connection refused'
    if "certificate" in str(reason).lower() or "ssl" in type(reason).__name__.lower():
        return f'Post "{url}": tls: failed to verify certificate: x509: certificate signed by unknown authority'
    if isinstance(reason, TimeoutError) or "timed out" in str(reason).lower():
        return f'Post "{url}": context deadline exceeded'
    return f'Post "{url}": {reason}'


def _error_text(e: Exception) -> str:
    if isinstance(e, ConfigError):
        return "\n".join(f"{d.filename}:{d.pos.line}:{d.pos.col}: {d.message}" for d in e.diags)
    if isinstance(e, EvalError):
        d = e.diag
        return f"{d.filename}:{d.pos.line}:{d.pos.col}: {d.message}"
    return str(e)


def _handler(agent: Agent) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        server_version = "alloy"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: bytes | str, ctype: str = "text/plain; charset=utf-8") -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _route(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/-/reload":
                if self.command not in ("GET", "POST"):
                    return self._send(405, "")
                err = agent.reload("/-/reload endpoint")
                return self._send(400, err + "\n") if err else self._send(200, "config reloaded\n")
            if self.command not in ("GET", "HEAD"):
                return self._send(405, "")
            if path == "/-/ready":
                ready = agent.ready and "not_ready" not in lab_faults()
                return self._send(200, "Alloy is ready.\n") if ready else self._send(503, "Alloy is not ready.\n")
            if path == "/-/healthy":
                return self._send(200, "All Alloy components are healthy.\n")
            if path == "/metrics":
                return self._send(200, agent.own_metrics(), "text/plain; version=0.0.4; charset=utf-8")
            if path == "/api/v0/web/components":
                return self._send(200, json.dumps(agent.components_json()), "application/json")
            m = re.fullmatch(r"/api/v0/component/([^/]+)/metrics", path)
            if m:
                try:
                    body = agent.exporter_metrics(m.group(1))
                except (urllib.error.URLError, OSError) as e:
                    return self._send(500, f"failed to collect metrics: {e}\n")
                if body is not None:
                    return self._send(200, body, "text/plain; version=0.0.4; charset=utf-8")
            return self._send(404, "")

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def do_HEAD(self) -> None:
            self._route()

        def do_PUT(self) -> None:
            self._route()

        def do_DELETE(self) -> None:
            self._route()

    return H


RUN_FLAGS_WITH_VALUE = {
    "--server.http.listen-addr",
    "--server.http.memory-addr",
    "--server.http.ui-path-prefix",
    "--storage.path",
    "--stability.level",
    "--config.format",
    "--config.extra-args",
    "--cluster.node-name",
    "--cluster.join-addresses",
    "--cluster.advertise-address",
    "--server.http.enable-pprof",
}
RUN_BOOL_FLAGS = {
    "--disable-reporting",
    "--config.bypass-conversion-errors",
    "--cluster.enabled",
    "--feature.community-components.enabled",
    "--server.http.enable-pprof",
}


def cmd_run(args: list[str]) -> int:
    from fleetui.lab.alloy_standin.cli import _err, print_diags

    flags: dict[str, str] = {}
    paths: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            name, eq, value = a.partition("=")
            if name in RUN_BOOL_FLAGS and not eq:
                flags[name] = "true"
            elif name in RUN_FLAGS_WITH_VALUE:
                if not eq:
                    i += 1
                    if i >= len(args):
                        return _err(f"flag needs an argument: {name}")
                    value = args[i]
                flags[name] = value
            else:
                return _err(f"unknown flag: {name}")
        else:
            paths.append(a)
        i += 1
    if len(paths) != 1:
        return _err(f"accepts 1 arg(s), received {len(paths)}")
    listen = flags.get("--server.http.listen-addr", "127.0.0.1:12345")
    storage = flags.get("--storage.path", "data-alloy/")
    with contextlib.suppress(OSError):
        Path(storage).mkdir(parents=True, exist_ok=True)
    agent = Agent(paths[0], listen, storage)
    log("info", "starting Alloy", version=f"v{version()}", fleetui_lab_standin="true")
    try:
        agent.load()
    except (ConfigError, EvalError, OSError) as e:
        if isinstance(e, ConfigError):
            print_diags(e, _sources_or_empty(paths[0]))
        elif isinstance(e, EvalError):
            print_diags(ConfigError([e.diag]), _sources_or_empty(paths[0]))
        else:
            log("error", "failed to read config", err=str(e))
        return _err("could not perform the initial load successfully")
    host, _, port = listen.rpartition(":")
    try:
        server = ThreadingHTTPServer((host.strip("[]") or "0.0.0.0", int(port)), _handler(agent))  # noqa: S104
    except (OSError, ValueError) as e:
        log("error", f"failed to listen on {listen}", service="http", err=str(e))
        return _err(f"failed to listen on {listen}: {e}")
    server.daemon_threads = True
    log("info", "now listening for http traffic", service="http", addr=listen)
    hup = threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: hup.set())

    stop = threading.Event()

    def _term(*_: object) -> None:
        stop.set()
        hup.set()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while not stop.is_set():
        if hup.wait(1.0) and not stop.is_set():
            hup.clear()
            agent.reload("SIGHUP")
    log("info", "shutting down")
    server.shutdown()
    return 0


def _sources_or_empty(path: str) -> dict[str, str]:
    try:
        return read_sources(path)
    except OSError:
        return {}


if __name__ == "__main__":
    sys.exit(cmd_run(sys.argv[1:]))
