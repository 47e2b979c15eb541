"""The doctor's evidence: what it reads from a host and from Prometheus, parsed (pure, no IO).

Alloy's own /metrics (Prometheus text format), `alloy --version`, the env file (/etc/default/alloy), the
config file (parsed with fleetui's offline Alloy parser, literal values only), Alloy's log lines (remote_write
send errors, worded as Go's HTTP client words them), and the small records the probes fill in.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleetui.domain.logline import LogLine, logfmt_fields

# --- Alloy and Prometheus formats ------------------------------------------------------------------------

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


def short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- what the probes saw --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointProbe:
    """One URL fetched from the host: where it came from, the HTTP status (0: no answer) and what it held."""

    url: str
    origin: str  # "Prometheus target" | "config: <component>" | "scrape target"
    status: int
    samples: int
    body: str = ""


@dataclass(frozen=True)
class TargetInfo:
    scrape_url: str
    health: str
    last_error: str | None
    labels: Mapping[str, str]


@dataclass(frozen=True)
class SeriesSample:
    labels: Mapping[str, str]
    ts: float  # unix seconds of the newest sample
