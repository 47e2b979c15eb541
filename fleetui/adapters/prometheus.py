"""The Prometheus HTTP API over one httpx.AsyncClient, and the fleet reader built on it.

`PrometheusClient` knows the transport: auth (basic or bearer), the CA file, Mimir/Cortex's `X-Scope-OrgID`,
the timeout, and turns every failure into a typed `PrometheusError` whose `str()` is one line naming the
URL, so commands print it and exit 2 and the console shows it in a notification, never as a traceback.

`FleetReader.snapshot()` is one refresh: a fixed set of requests whatever the fleet size, sent
concurrently where they do not depend on each other, then the pure rules of fleetui.domain.classify:

1. GET  /api/v1/targets?state=active   which instances Prometheus scrapes (mode pull), health, last error
2. POST /api/v1/query  current         newest sample time + labels of every current `up`/`node_uname_info`
3. POST /api/v1/query  rule            `node_last_seen_timestamp` over the look-back (the recording rule)
4. POST /api/v1/query  macos           instances with macOS memory names and no Linux names
5. POST /api/v1/series                 `up`/`node_uname_info` series of the look-back window (index only,
                                       no samples decoded): every instance that may be gone
6. POST /api/v1/query  history         only for the instances neither current nor known to the rule (and
                                       down pull hosts the rule does not know): their last successful
                                       sample time, by a 1-minute subquery restricted to them

1-5 are sent concurrently; 6 is skipped when there is no such instance — with the recording rule installed
(`fleetui rules`) that is the usual case: 5 requests; without it, 6. On Prometheus never more, whatever the fleet size.
Why not one 24 h subquery over the whole fleet: it costs ~6 s at 5,000 series (measured, bench/refresh.py);
restricted to the gone and down hosts it costs in proportion to those. The rule alone is not enough either:
it cannot know hosts that vanished before it was installed.

A client first asks once which backend answers (fleetui.adapters.backend: one request, two on
VictoriaMetrics), and the few differences are handled there; the one that changes the request count is
VictoriaMetrics' query length limit (16 KiB by default), which cuts a long history query into several.

Precision of the computed history: exact for push hosts (remote-written series end without a stale marker),
up to one minute early for a pull target that went down or was removed (the step can miss the seconds
before `up 0` or the stale marker). From the recording rule it is exact to the rule's evaluation.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import ssl
import time as _time
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from fleetui.adapters import backend as _backend
from fleetui.adapters.backend import Backend
from fleetui.config import Settings
from fleetui.domain.classify import SOURCE_LABEL, FleetInputs, Policy, Sample, Target, classify
from fleetui.domain.fleet import FleetSnapshot
from fleetui.domain.rules import LAST_SEEN_METRIC

_BODY_EXCERPT = 200


class PrometheusError(Exception):
    """Prometheus could not be read; `str()` is one readable line that names the URL."""

    def __init__(self, url: str, detail: str) -> None:
        self.url, self.detail = url, detail
        super().__init__(f"Prometheus at {url}: {detail}")


class Unreachable(PrometheusError):
    """Connection refused, DNS failure, TLS failure: nothing answered."""


class Timeout(PrometheusError):
    """No answer within prometheus.timeout."""


class HTTPStatusError(PrometheusError):
    """An HTTP status other than the one expected; `body` is an excerpt of the reply."""

    def __init__(self, url: str, status: int, body: str) -> None:
        self.status, self.body = status, body
        super().__init__(url, f"HTTP {status}" + (f": {body}" if body else ""))


class BadJSON(PrometheusError):
    """The reply is not the JSON envelope Prometheus sends (a proxy's HTML page, a truncated body)."""


class TargetsUnavailable(HTTPStatusError):
    """The backend has no /api/v1/targets (Mimir); the fleet reader degrades instead of failing."""


class QueryError(PrometheusError):
    """Prometheus answered `status: error` (bad PromQL, timeout inside the engine, too many samples)."""

    def __init__(self, url: str, error_type: str, error: str) -> None:
        self.error_type, self.error = error_type, error
        super().__init__(url, f"query failed ({error_type}): {error}")


def _one_line(text: str, limit: int = _BODY_EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class PrometheusClient:
    """Async context manager over one httpx.AsyncClient for the configured Prometheus.

    `request_count` counts every HTTP request sent (an httpx event hook), so tests and benchmarks can check
    the cost of a refresh. `transport` lets a test serve replies a real Prometheus cannot produce.
    """

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url: str = settings["prometheus.url"]
        self.request_count = 0
        self._backend: Backend | None = None
        self._backend_lock = asyncio.Lock()
        headers = {"Accept": "application/json", "User-Agent": "fleetui"}
        tenant = settings["prometheus.tenant"]
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        # a bearer token, when configured, wins over basic auth (one Authorization header only)
        auth: httpx.Auth | None = None
        token = settings.secret("prometheus.bearer_token_file", "prometheus.bearer_token_env")
        username = settings["prometheus.username"]
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif username:
            auth = httpx.BasicAuth(
                username, settings.secret("prometheus.password_file", "prometheus.password_env") or ""
            )
        verify: ssl.SSLContext | bool = True
        ca = settings["prometheus.ca_file"]
        if ca:
            try:
                verify = ssl.create_default_context(cafile=str(ca))
            except (OSError, ssl.SSLError) as e:
                raise PrometheusError(
                    self.base_url, f"cannot load CA file {ca} (prometheus.ca_file): {getattr(e, 'strerror', None) or e}"
                ) from None
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=httpx.Timeout(settings["prometheus.timeout"]),
            transport=transport,
            follow_redirects=True,
            event_hooks={"request": [self._count]},
        )

    async def _count(self, request: httpx.Request) -> None:
        self.request_count += 1

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- transport ---------------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str | list[str]] | None = None,
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            return await self._client.request(method, path, params=params, data=data)
        except httpx.TimeoutException:
            raise Timeout(
                url,
                f"no answer within {self._client.timeout.read or self._client.timeout.connect}s (prometheus.timeout)",
            ) from None
        except httpx.TransportError as e:
            raise Unreachable(url, f"cannot connect: {_one_line(str(e)) or type(e).__name__}") from None

    async def _api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str | list[str]] | None = None,
    ) -> Any:
        """Send, check the status and the JSON envelope, return `data`."""
        url = f"{self.base_url}{path}"
        resp = await self._send(method, path, params=params, data=data)
        try:
            doc = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            if resp.status_code != 200:
                raise HTTPStatusError(url, resp.status_code, _one_line(resp.text)) from None
            raise BadJSON(url, f"reply is not JSON: {_one_line(resp.text, 80)!r}") from None
        if not isinstance(doc, dict) or "status" not in doc:
            if resp.status_code != 200:
                raise HTTPStatusError(url, resp.status_code, _one_line(resp.text))
            raise BadJSON(url, 'reply is JSON but not a Prometheus API envelope (no "status")')
        if doc["status"] != "success":
            if "errorType" in doc or "error" in doc:
                error = _one_line(str(doc.get("error", "")))
                kind = _backend.error_type(str(doc.get("errorType", "error")), resp.status_code, error)
                raise QueryError(url, kind, error)
            raise HTTPStatusError(url, resp.status_code, _one_line(resp.text))
        if "data" not in doc:
            raise BadJSON(url, 'reply has status success but no "data"')
        return doc["data"]

    # --- API ---------------------------------------------------------------------------------------------

    async def query(self, expr: str, time: float | None = None) -> list[Sample]:
        """Instant query (POST, so long expressions fit); a scalar comes back as one unlabelled Sample."""
        form: dict[str, str | list[str]] = {"query": expr, **(await self.backend()).query_params}
        if time is not None:
            form["time"] = f"{time:.3f}"
        data = await self._api("POST", "/api/v1/query", data=form)
        return _parse_result(f"{self.base_url}/api/v1/query", data)

    async def series(self, matchers: Sequence[str], start: float, end: float) -> list[dict[str, str]]:
        """Label sets of the series matching any of `matchers` with data in [start, end] (block granularity)."""
        form: dict[str, str | list[str]] = {"match[]": list(matchers), "start": f"{start:.3f}", "end": f"{end:.3f}"}
        data = await self._api("POST", "/api/v1/series", data=form)
        if not isinstance(data, list):
            raise BadJSON(f"{self.base_url}/api/v1/series", "data is not a list")
        return [{str(k): str(v) for k, v in d.items()} for d in data if isinstance(d, dict)]

    async def targets(self) -> list[Target]:
        """Active scrape targets (down ones included)."""
        url = f"{self.base_url}/api/v1/targets"
        try:
            data = await self._api("GET", "/api/v1/targets", params={"state": "active"})
        except HTTPStatusError as e:
            if _backend.targets_missing(e.status):
                raise TargetsUnavailable(url, e.status, e.body) from None
            raise
        try:
            return [_parse_target(t) for t in data["activeTargets"]]
        except (KeyError, TypeError, ValueError) as e:
            raise BadJSON(url, f"unexpected targets reply ({type(e).__name__}: {e})") from None

    async def ready(self) -> bool:
        """True when /-/ready answers 200; False on 503 (starting up, replaying the WAL)."""
        resp = await self._send("GET", "/-/ready")
        if resp.status_code == 503:
            return False
        if resp.status_code != 200:
            raise HTTPStatusError(f"{self.base_url}/-/ready", resp.status_code, _one_line(resp.text))
        return True

    async def reload(self) -> None:
        """POST /-/reload; Prometheus needs --web.enable-lifecycle (403 otherwise), 500 when the new config is
        bad. VictoriaMetrics answers 204."""
        resp = await self._send("POST", "/-/reload")
        if not _backend.reload_ok(resp.status_code):
            raise HTTPStatusError(f"{self.base_url}/-/reload", resp.status_code, _one_line(resp.text))

    async def backend(self) -> Backend:
        """Which backend answers (one GET of the build info, once per client; see fleetui.adapters.backend).

        A reply that says nothing useful is "unknown", never an error. A refused connection is "unknown" for
        now and not remembered: the refresh's own requests then fail with their own errors, and the next call
        detects again. No answer in time raises Timeout, as the query after it would.
        """
        async with self._backend_lock:
            if self._backend is None:
                try:
                    resp = await self._send("GET", _backend.BUILDINFO_PATH)
                except Unreachable:
                    return Backend()
                try:
                    body = resp.json()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    body = None
                found = _backend.detect(resp.status_code, resp.headers, body)
                if found.name == _backend.VICTORIAMETRICS:  # its limits and file_sd polling: on its /flags page
                    flags = await self._send("GET", _backend.VM_FLAGS_PATH)
                    if flags.status_code == 200:
                        found = _backend.with_flags(found, self.base_url, flags.text)
                self._backend = found
            return self._backend

    async def notes(self) -> list[str]:
        """One-line warnings about the backend's setup that change what fleetui can show (once per client):
        VictoriaMetrics re-reading target files too slowly for enrollment to see a new host at once."""
        return list((await self.backend()).notes)

    async def buildinfo(self) -> dict[str, str]:
        """version, revision, branch, goVersion... from /api/v1/status/buildinfo."""
        data = await self._api("GET", "/api/v1/status/buildinfo")
        if not isinstance(data, dict):
            raise BadJSON(f"{self.base_url}/api/v1/status/buildinfo", "data is not an object")
        return {str(k): str(v) for k, v in data.items()}


def _float(v: Any) -> float:
    f = float(v)
    if math.isnan(f):
        raise ValueError("NaN")
    return f


def _parse_result(url: str, data: Any) -> list[Sample]:
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            out = []
            for r in result:
                try:
                    value = _float(r["value"][1])
                except ValueError:  # NaN / stale: nothing to say about this series
                    continue
                out.append(Sample({str(k): str(v) for k, v in r["metric"].items()}, value))
            return out
        if kind == "scalar":
            return [Sample({}, _float(result[1]))]
        raise BadJSON(url, f"expected an instant vector, got a {kind}")
    except (KeyError, TypeError, IndexError, ValueError) as e:
        raise BadJSON(url, f"unexpected query result ({type(e).__name__}: {e})") from None


def _rfc3339(s: str | None) -> float | None:
    if _backend.never_scraped(s):
        return None
    assert s is not None
    # Go writes nanoseconds; Python 3.11 takes at most microseconds
    head, dot, frac = s.partition(".")
    if dot:
        digits = "".join(ch for ch in frac if ch.isdigit())
        zone = frac[len(digits) :]
        s = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def _parse_target(t: Mapping[str, Any]) -> Target:
    labels = {str(k): str(v) for k, v in t["labels"].items()}
    duration = t.get("lastScrapeDuration")
    return Target(
        instance=labels.get("instance", ""),
        scrape_pool=str(t.get("scrapePool", "")),
        labels=labels,
        health=_backend.target_health(str(t.get("health", "unknown")), t.get("lastScrape"), t.get("lastError")),
        scrape_url=t.get("scrapeUrl") or None,
        last_error=t.get("lastError") or None,
        last_scrape=_rfc3339(t.get("lastScrape")),
        scrape_duration=float(duration) if duration is not None else None,
    )


# --- the fleet reader --------------------------------------------------------------------------------------


def _tag(expr: str, source: str) -> str:
    return f'label_replace({expr}, "{SOURCE_LABEL}", "{source}", "", "")'


_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


def promql_string(s: str) -> str:
    """A double-quoted PromQL string literal for any text."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def literal_regex(values: Sequence[str]) -> str:
    """An RE2 alternation matching exactly these values (as a PromQL string literal)."""
    alts = ("".join("\\" + c if c in _RE2_SPECIAL else c for c in v) for v in sorted(set(values)))
    return promql_string("|".join(alts))


PRESENCE_METRICS = ("up", "node_uname_info")


def queries(lookback: float) -> dict[str, str]:
    """The fixed PromQL of one refresh, by name (see the module docstring; `history` is built per refresh)."""
    return {
        "current": f"{_tag('timestamp(up)', 'up')} or {_tag('timestamp(node_uname_info)', 'uname')}",
        "rule": f"last_over_time({LAST_SEEN_METRIC}[{int(lookback)}s])",
        "macos": "count by (instance) (node_memory_total_bytes)"
        " unless on (instance) count by (instance) (node_memory_MemTotal_bytes)",
    }


def history_query(instances: Sequence[str], lookback: float) -> str:
    """Last successful sample time of these instances over the look-back, at one-minute resolution.

    `timestamp(up == 1)` would be the evaluation time; `and` keeps the sample's own timestamp.
    """
    sel = f"{{instance=~{literal_regex(instances)}}}"
    lb = f"{int(lookback)}s"
    return (
        f"{_tag(f'max_over_time((timestamp(up{sel}) and up{sel} == 1)[{lb}:1m])', 'up')}"
        f" or {_tag(f'max_over_time(timestamp(node_uname_info{sel})[{lb}:1m])', 'uname')}"
    )


def history_candidates(
    targets: Sequence[Target], current: Sequence[Sample], rule: Sequence[Sample], series: Sequence[Mapping[str, str]]
) -> list[str]:
    """Instances whose last-seen time must be computed: in the look-back's series index or down pull hosts,
    minus those an instant query shows alive, minus those the recording rule already answers for."""
    down = {tg.instance for tg in targets if tg.health != "up"}
    live = {s.instance for s in current if s.instance} - down
    known = {s.instance for s in rule if s.instance and s.value > 0}
    return sorted(({d["instance"] for d in series if d.get("instance")} | down) - live - known)


class FleetReader:
    """One refresh of the fleet from Prometheus: `await reader.snapshot()`.

    `stale_after` and `required_labels` override the settings (the command's flags); the label schema and
    look-back come from the settings.
    """

    def __init__(
        self,
        client: PrometheusClient,
        settings: Settings,
        *,
        stale_after: float | None = None,
        required_labels: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.lookback: float = settings["lookback"]
        self.policy = Policy(
            stale_after=stale_after if stale_after is not None else settings["stale_after"],
            required_labels=tuple(dict.fromkeys((*settings["schema.required_labels"], *required_labels))),
            aliases=dict(settings["schema.aliases"]),
        )
        self.queries = queries(self.lookback)
        self.backend = Backend()
        self.notes: tuple[str, ...] = ()

    async def inputs(self, now: float | None = None) -> tuple[FleetInputs, str]:
        """Read everything one refresh needs; returns the parsed inputs and the last_seen source."""
        t = _time.time() if now is None else now
        q = self.queries
        self.backend = await self.client.backend()  # once per client: decides the queries' extra parameters
        notes = await self.client.notes()
        targets, current, rule, macos, series = await asyncio.gather(
            self._targets(notes),
            self.client.query(q["current"], t),
            self.client.query(q["rule"], t),
            self.client.query(q["macos"], t),
            self.client.series(PRESENCE_METRICS, t - self.lookback, t),
        )
        source = "recording_rule" if rule else "computed"
        history = list(rule)
        candidates = history_candidates(targets, current, rule, series)
        if candidates:  # one query, or as many as the backend's query length limit needs (VictoriaMetrics)
            build = functools.partial(history_query, lookback=self.lookback)
            parts = _backend.split_to_fit(candidates, build, self.backend.max_query_bytes)
            for got in await asyncio.gather(*(self.client.query(build(p), t) for p in parts)):
                history += got
        inputs = FleetInputs(
            now=t,
            targets=tuple(targets),
            current=tuple(current),
            history=tuple(history),
            macos=frozenset(s.instance for s in macos if s.instance),
        )
        self.notes = tuple(notes)
        return inputs, source

    async def _targets(self, notes: list[str]) -> list[Target]:
        """The active targets, or none (and a note) on a backend without the targets API."""
        try:
            return await self.client.targets()
        except TargetsUnavailable as e:
            notes.append(_backend.targets_note(self.backend, self.client.base_url, e.status))
            return []

    async def snapshot(self, now: float | None = None) -> FleetSnapshot:
        inputs, source = await self.inputs(now)
        return FleetSnapshot(classify(inputs, self.policy), inputs.now, source, self.backend.name, self.notes)
