"""Which Prometheus-compatible backend answers, and the few places where its HTTP API differs.

fleetui talks to Prometheus, VictoriaMetrics, Mimir and Thanos through the same Prometheus HTTP API. They
differ in details the adapter leans on; every such difference lives here so `PrometheusClient` only calls
small hooks and the rest of fleetui never knows which backend it reads:

detection
    One GET /api/v1/status/buildinfo per client. Prometheus and Thanos answer Prometheus' build info (Thanos'
    versions are 0.x); Mimir adds `"application": "Grafana Mimir"`; VictoriaMetrics answers `{}` (1.79, as
    Debian ships it) or a fixed `{"version": "2.24.0"}` for Grafana's sake (newer releases), never a
    revision, and sends an `X-Server-Hostname` header on every reply. Anything else is "unknown".
just-written samples
    VictoriaMetrics evaluates an instant query whose time lies within `-search.latencyOffset` (30 s by
    default) of now at now − 30 s, so a push host that sent a sample 2 s ago would look 30 s old, or absent.
    `nocache=1` turns that off per query (measured on 1.79.5). Only sent to VictoriaMetrics, and with a
    console's first two presence queries, which leave before the backend is known (Prometheus ignores it).
error envelopes
    VictoriaMetrics puts the HTTP status in `errorType` ("422") for parse errors and limits alike;
    `error_type()` maps it to Prometheus' names (bad_data, execution, timeout, ...) so callers see one
    vocabulary.
targets
    VictoriaMetrics lists a target before its first scrape as health "down" with lastScrape
    1970-01-01T00:00:00Z (Prometheus: "unknown", 0001-01-01); `target_health()` says "unknown" for both.
    Mimir has no /api/v1/targets (404): `targets_missing()` recognises that so the reader can degrade.
query length
    VictoriaMetrics refuses a query longer than `-search.maxQueryLen` (16 KiB by default): "too long query".
    Prometheus has no such limit. The history query names the instances it is about, so at 10,000 hosts it
    can be 300 KB; `split_to_fit()` cuts the instance list into as many queries as the limit needs (read
    from VictoriaMetrics' /flags page at detection).
reload
    Prometheus answers POST /-/reload with 200, VictoriaMetrics with 204 (and accepts GET too): any 2xx is
    success. VictoriaMetrics' reload re-reads `-promscrape.config` but not the file_sd files, which it
    re-reads every `-promscrape.fileSDCheckInterval` (5m by default); `discovery_note()` says so once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

PROMETHEUS = "Prometheus"
VICTORIAMETRICS = "VictoriaMetrics"
MIMIR = "Mimir"
THANOS = "Thanos"
UNKNOWN = "unknown"
NAMES = (PROMETHEUS, VICTORIAMETRICS, MIMIR, THANOS, UNKNOWN)

BUILDINFO_PATH = "/api/v1/status/buildinfo"
# VictoriaMetrics' own page of the flags set on its command line (`-name="value"` per line; defaults omitted)
VM_FLAGS_PATH = "/flags"
VM_FILE_SD_FLAG = "promscrape.fileSDCheckInterval"
VM_FILE_SD_DEFAULT = 300.0
VM_QUERY_LEN_FLAG = "search.maxQueryLen"
VM_QUERY_LEN_DEFAULT = 16 * 1024
VM_QUERY_PARAMS = {"nocache": "1"}
# the parameters of a query sent while the backend is still being detected (a console's first refresh): every
# backend's own, which the others ignore (Prometheus 2.42 answers such a query as it answers the plain one)
UNDETECTED_QUERY_PARAMS: Mapping[str, str] = VM_QUERY_PARAMS
# a target that shows up more than this long after fleetui wrote its file makes `enroll` wait: say so
SLOW_DISCOVERY = 30.0


@dataclass(frozen=True)
class Backend:
    """What answers at prometheus.url: `name` is one of NAMES; `version` when the backend tells it.

    `query_params` go with every query; `max_query_bytes` is the longest query it accepts (None: no limit);
    `notes` are one-line warnings about its setup, said once.
    """

    name: str = UNKNOWN
    version: str | None = None
    query_params: Mapping[str, str] = field(default_factory=dict)
    max_query_bytes: int | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}


def detect(status: int, headers: Mapping[str, str], body: Any) -> Backend:
    """The backend from the reply to GET /api/v1/status/buildinfo (status, headers, parsed JSON or None)."""
    data = body.get("data") if isinstance(body, dict) else None
    info: dict[str, str] = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    version = info.get("version") or None
    vm_header = any(k.lower() == "x-server-hostname" for k in headers)
    if vm_header and status == 200 and "revision" not in info:
        # VictoriaMetrics' buildinfo is a placeholder; its version is not Prometheus' own
        vm_version = None if version in (None, "2.24.0") else version
        return Backend(VICTORIAMETRICS, vm_version, dict(VM_QUERY_PARAMS), VM_QUERY_LEN_DEFAULT)
    if status != 200 or not info:
        return Backend(UNKNOWN)
    application = info.get("application", "").lower()
    if "mimir" in application:
        return Backend(MIMIR, version)
    if application:
        return Backend(UNKNOWN, version)
    if version and "revision" in info:
        major = version.lstrip("v").split(".", 1)[0]
        if major == "0":
            return Backend(THANOS, version)
        if major.isdigit():
            return Backend(PROMETHEUS, version)
    return Backend(UNKNOWN, version)


# --- error envelopes ---------------------------------------------------------------------------------------

_PARSE_WORDS = re.compile(r"cannot parse|unparsed data|unexpected token|syntax error|parse error", re.IGNORECASE)
_LIMIT_WORDS = re.compile(r"exceeds|too many|limit", re.IGNORECASE)
_TIMEOUT_WORDS = re.compile(r"timeout|deadline", re.IGNORECASE)
_BY_STATUS = {400: "bad_data", 422: "execution", 503: "unavailable", 504: "timeout", 500: "internal"}


def error_type(raw: str, status: int, message: str) -> str:
    """Prometheus' errorType for an error envelope; a numeric one (VictoriaMetrics) is read from the text."""
    if not raw.isdigit():
        return raw
    if _PARSE_WORDS.search(message):
        return "bad_data"
    if _TIMEOUT_WORDS.search(message):
        return "timeout"
    if _LIMIT_WORDS.search(message):
        return "execution"
    return _BY_STATUS.get(int(raw), _BY_STATUS.get(status, "internal"))


# --- targets ------------------------------------------------------------------------------------------------

_NEVER = ("0001-01-01", "1970-01-01T00:00:00Z")


def never_scraped(last_scrape: str | None) -> bool:
    """The zero time either backend writes for a target that has not been scraped yet."""
    return not last_scrape or last_scrape.startswith(_NEVER)


def target_health(health: str, last_scrape: str | None, last_error: str | None) -> str:
    """Prometheus' health words; a target never scraped and without an error is "unknown" on every backend."""
    if health == "down" and never_scraped(last_scrape) and not last_error:
        return "unknown"
    return health


def targets_missing(status: int) -> bool:
    """The backend has no /api/v1/targets at all (Mimir: 404; a read-only proxy: 404/405)."""
    return status in (404, 405, 501)


def targets_note(backend: Backend, url: str, status: int) -> str:
    """The one line that says the targets API is missing and what that changes."""
    who = backend.name if backend.name != UNKNOWN else "the backend"
    return (
        f"{who} at {url} has no targets API (/api/v1/targets: HTTP {status}): every host is shown as push, "
        "without scrape URL or last error, and a pull host whose scrapes fail is not shown as down"
    )


# --- reload and discovery -------------------------------------------------------------------------------------


def reload_ok(status: int) -> bool:
    """POST /-/reload succeeded (Prometheus: 200, VictoriaMetrics: 204)."""
    return 200 <= status < 300


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def go_duration(text: str) -> float | None:
    """Seconds of a Go duration such as "5m0s" or "10s" (None if it is not one)."""
    text = text.strip().strip('"')
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _flag(flags_page: str, wanted: str) -> str | None:
    for line in flags_page.splitlines():
        name, _, value = line.strip().lstrip("-").partition("=")
        if name == wanted:
            return value.strip().strip('"')
    return None


def vm_file_sd_interval(flags_page: str) -> float:
    """`-promscrape.fileSDCheckInterval` from VictoriaMetrics' /flags page (absent: the 5m default)."""
    seconds = go_duration(_flag(flags_page, VM_FILE_SD_FLAG) or "")
    return VM_FILE_SD_DEFAULT if seconds is None else seconds


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMG]i?B)?")
_SIZE_UNIT = {None: 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def vm_max_query_len(flags_page: str) -> int:
    """`-search.maxQueryLen` in bytes from the /flags page ("16384", "64KiB"; absent: the 16 KiB default)."""
    m = _SIZE.fullmatch(_flag(flags_page, VM_QUERY_LEN_FLAG) or "")
    return int(float(m.group(1)) * _SIZE_UNIT[m.group(2)]) if m else VM_QUERY_LEN_DEFAULT


def with_flags(found: Backend, url: str, flags_page: str) -> Backend:
    """A VictoriaMetrics Backend completed from its /flags page: query length limit and setup notes."""
    note = discovery_note(url, vm_file_sd_interval(flags_page))
    return replace(found, max_query_bytes=vm_max_query_len(flags_page), notes=(note,) if note else ())


def split_to_fit(items: Sequence[str], build: Callable[[Sequence[str]], str], limit: int | None) -> list[list[str]]:
    """`items` cut into consecutive groups whose query `build(group)` is at most `limit` bytes (None: one
    group). Halves a group until it fits; one item that cannot fit alone is left to the backend to refuse."""
    if not items:
        return []
    group = list(items)
    if limit is None or len(group) == 1 or len(build(group).encode()) <= limit:
        return [group]
    half = len(group) // 2
    return split_to_fit(group[:half], build, limit) + split_to_fit(group[half:], build, limit)


def discovery_note(url: str, interval: float) -> str | None:
    """One line when VictoriaMetrics picks up new target files too slowly for `enroll` to see a host at once."""
    if interval <= SLOW_DISCOVERY:
        return None
    return (
        f"VictoriaMetrics at {url} re-reads target files only every {interval:g}s "
        f"(-{VM_FILE_SD_FLAG}) and /-/reload does not re-read them: an enrolled pull host can take that long "
        f"to appear; set -{VM_FILE_SD_FLAG}=10s"
    )
