"""The Prometheus HTTP API over one httpx.AsyncClient, and the fleet reader built on it.

`PrometheusClient` knows the transport: auth (basic or bearer), the CA file, Mimir/Cortex's `X-Scope-OrgID`,
the timeout, and turns every failure into a typed `PrometheusError` whose `str()` is one line naming the
URL, so commands print it and exit 2 and the console shows it in a notification, never as a traceback.
Replies are decoded by msgspec straight into the few fields fleetui reads (a 50,000-host fleet is tens of
megabytes of JSON per refresh; a generic decoder and dict copies cost more than Prometheus' own work), and the
three large replies of a refresh element by element while they come in (fleetui.adapters.jsonstream).

`FleetReader.refresh()` is one refresh: five requests whatever the fleet size (six when some hosts report macOS
memory names), sent concurrently, none of which reads history (their cost does not grow with the days of data
Prometheus keeps):

1. GET  /api/v1/targets?state=active   which instances Prometheus scrapes (mode pull), health, last error
2. POST /api/v1/query  timestamp(up)                 newest sample time + labels of every current `up`
3. POST /api/v1/query  max without (sysname, …) (timestamp(node_uname_info))   the same for node_uname_info,
                       without the uname labels classification skips (nodename kept): the largest reply
                       and slowest query of a refresh, at 50,000 hosts 13.9 → 8.3 MB and 565 → 497 ms
4. POST /api/v1/query  count(node_last_seen_timestamp)   is the recording rule of `fleetui rules` installed?
5. POST /api/v1/query  count by (instance) (node_memory_total_bytes)   instances with macOS memory names; only
                       when there are some, one more (or as many as VictoriaMetrics' query length limit needs):
                       which of them also have the Linux names (`count by (instance)
                       (node_memory_MemTotal_bytes{instance=~…})`), so a fleet without macOS hosts never has
                       its Linux memory series read

Last-seen times of hosts that are not live come from the reader's LastSeenBook (fleetui.domain.lastseen):
remembered from earlier refreshes (and the state file), and otherwise looked up in history by
`history_step()` — one bounded request at a time (at most 1,000 instances and a two-hour window), run in the
background by the console and to completion by `snapshot()` (the one-shot commands). The history requests:

- discover:  GET  /api/v1/label/instance/values?match[]=up&match[]=node_uname_info&start&end
- coarse:    max_over_time((time() + 0 * (max_over_time(up{…}[1m]) == 1))[2h:1m])  (and for node_uname_info):
             the last minute with a successful sample. `time()` and not `timestamp()`: a subquery over
             `timestamp(selector)` re-reads each series' chunk at every step, which costs 31 s for 1,000
             hosts over a day against 2 s for this form (and 29 ms per two-hour window, measured)
- exact/refine: {__name__=~"up|node_uname_info", instance=~…}[≤ 15m]: raw samples, so the time is exact
- with the recording rule: last_over_time(node_last_seen_timestamp{instance=~…}[≤ 2h]), exact in one step

Precision: exact (the sample's own timestamp) for every host, whether remembered, looked up or read from
the rule.

A client first asks once which backend answers (fleetui.adapters.backend: one request, two on
VictoriaMetrics), and the few differences are handled there; VictoriaMetrics' query length limit (16 KiB by
default) cuts a history step's query, which names its instances, into as many requests as the limit needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import ipaddress
import json
import math
import ssl
import time as _time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import islice, repeat
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from fleetui.adapters import backend as _backend
from fleetui.adapters.backend import Backend
from fleetui.adapters.jsonstream import ArrayStream
from fleetui.adapters.labelsets import ByText, LabelSets
from fleetui.config import Settings
from fleetui.domain.classify import UNAME_LABELS, FleetInputs, Policy, Sample, Target
from fleetui.domain.fleet import RULES_HINT, FleetSnapshot, HostStatus
from fleetui.domain.lastseen import WINDOW, LastSeenBook, Step
from fleetui.domain.reclassify import Classifier, by_instance, joined, newest_by_instance, predicted_presence
from fleetui.domain.rules import LAST_SEEN_METRIC
from fleetui.gate import step_aside
from fleetui.gcpause import gc_paused

_BODY_EXCERPT = 200


# the requests a task (and the tasks it gathers) sends are counted here too, when it sets one
_TALLY: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("fleetui_request_tally", default=None)


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


def load_transport() -> None:
    """Import now what httpx would import at a client's first request: anyio's asyncio backend.

    Why: the console begins its first refresh on a thread of its own and then starts Textual; imported on
    that thread while Textual's start held the interpreter lock, this took 90-100 ms of the refresh (about
    20 ms on its own), the fleet's queries not sent yet (measured at 10,000 hosts). A private module of
    anyio, named here: if another anyio has none, nothing is lost but that head start."""
    with contextlib.suppress(ImportError):
        importlib.import_module("anyio._backends._asyncio")


class _Failures:
    """httpx's timeouts and transport errors as this module's, naming the URL. A class, not a generator-based
    context manager: its `__exit__` says it never swallows an error, so a `return` inside needs nothing after
    the block."""

    __slots__ = ("client", "path")

    def __init__(self, client: PrometheusClient, path: str) -> None:
        self.client, self.path = client, path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        url = f"{self.client.base_url}{self.path}"
        if isinstance(e, httpx.TimeoutException):
            timeout = self.client._client.timeout
            raise Timeout(url, f"no answer within {timeout.read or timeout.connect}s (prometheus.timeout)") from None
        if isinstance(e, httpx.TransportError):
            raise Unreachable(url, f"cannot connect: {_one_line(str(e)) or type(e).__name__}") from None


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
        ca = settings["prometheus.ca_file"]
        verify: ssl.SSLContext
        if ca:
            try:
                verify = ssl.create_default_context(cafile=str(ca))
            except (OSError, ssl.SSLError) as e:
                raise PrometheusError(
                    self.base_url, f"cannot load CA file {ca} (prometheus.ca_file): {getattr(e, 'strerror', None) or e}"
                ) from None
        elif self.base_url.startswith("https:"):
            verify = ssl.create_default_context()
        else:
            # plain http: no trust store to load (it costs more than a refresh's decoding at 10 hosts); a
            # redirect to https would fail verification, never pass unverified
            verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
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
        tally = _TALLY.get()
        if tally is not None:
            tally[0] += 1

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
        params: Mapping[str, str | list[str]] | None = None,
        data: Mapping[str, str | list[str]] | None = None,
    ) -> httpx.Response:
        with _Failures(self, path):
            return await self._client.request(method, path, params=params, data=data)

    async def _as_they_come(
        self,
        method: str,
        path: str,
        stream: ArrayStream,
        decoded: Callable[[bytes], list[T]],
        rest: Callable[[bytes], list[T] | None],
        *,
        params: Mapping[str, str | list[str]] | None = None,
        data: Mapping[str, str | list[str]] | None = None,
    ) -> tuple[list[T] | None, int]:
        """Send; a 200 reply's elements decoded while it comes in (fleetui.adapters.jsonstream): its bytes fed
        to `stream`, `decoded(run)` giving the elements of each run of whole ones, and `rest(text)` those left
        once the reply's head and tail are put together (decoded as the whole reply would be; None when it is
        not a success of the expected shape). Returns all of them and the status; None instead of them when
        the whole reply must be decoded as any other (stream.body()): any other layout, a run or tail that
        does not decode (the taking ends there), a failure status."""
        found: list[T] = []
        with _Failures(self, path):
            async with self._client.stream(method, path, params=params, data=data) as resp:
                status = resp.status_code
                if status != 200:
                    stream.give_up()
                async for chunk in resp.aiter_bytes():
                    step_aside()
                    run = stream.feed(chunk)
                    if run:
                        try:
                            found += decoded(run)
                        except (msgspec.DecodeError, ValueError):
                            stream.give_up()
        text = stream.tail()
        if text is not None:
            with contextlib.suppress(msgspec.DecodeError, ValueError):
                last = rest(text)
                if last is not None:
                    return found + last, status
        return None, status

    async def _api(
        self,
        method: str,
        path: str,
        shape: type[T],
        *,
        params: Mapping[str, str | list[str]] | None = None,
        data: Mapping[str, str | list[str]] | None = None,
    ) -> T:
        """Send, check the status and the JSON envelope, return `data` decoded as `shape`."""
        url = f"{self.base_url}{path}"
        resp = await self._send(method, path, params=params, data=data)
        return _envelope_data(url, resp.status_code, resp.content, shape)

    # --- API ---------------------------------------------------------------------------------------------

    async def form(self, expr: str, time: float | None) -> dict[str, str | list[str]]:
        """The form of an instant query, with the backend's own parameters (VictoriaMetrics: nocache)."""
        return _form(expr, time, (await self.backend()).query_params)

    def form_now(self, expr: str, time: float | None) -> dict[str, str | list[str]]:
        """The form of an instant query without waiting for the backend's detection: its own parameters when
        it is known, else every backend's (`UNDETECTED_QUERY_PARAMS`; see FleetReader._grouped)."""
        known = self._backend
        return _form(expr, time, known.query_params if known is not None else _backend.UNDETECTED_QUERY_PARAMS)

    async def query(self, expr: str, time: float | None = None) -> list[Sample]:
        """Instant query (POST, so long expressions fit); a scalar comes back as one unlabelled Sample."""
        data = await self._api("POST", "/api/v1/query", _QueryData, data=await self.form(expr, time))
        return _parse_result(f"{self.base_url}/api/v1/query", data)

    async def query_range_vector(self, expr: str, time: float) -> list[tuple[dict[str, str], list[tuple[float, str]]]]:
        """An instant query of a range selector: each series' raw samples (time, value text) in the range."""
        url = f"{self.base_url}/api/v1/query"
        data = await self._api("POST", "/api/v1/query", _QueryData, data=await self.form(expr, time))
        if data.resultType != "matrix":
            raise BadJSON(url, f"expected a range vector, got a {data.resultType}")
        try:
            rows = _decode_list(data.result, _SERIES, batch=_SERIES_BATCH)
        except msgspec.DecodeError as e:
            raise BadJSON(url, f"unexpected query result ({_one_line(str(e), 120)})") from None
        return [(r.metric, r.values) for r in rows]

    async def series(self, matchers: Sequence[str], start: float, end: float) -> list[dict[str, str]]:
        """Label sets of the series matching any of `matchers` with data in [start, end] (block granularity)."""
        form: dict[str, str | list[str]] = {"match[]": list(matchers), "start": f"{start:.3f}", "end": f"{end:.3f}"}
        return await self._api("POST", "/api/v1/series", list[dict[str, str]], data=form)

    async def label_values(self, name: str, matchers: Sequence[str], start: float, end: float) -> list[str]:
        """Values of label `name` on series matching any of `matchers` with data in [start, end] (block
        granularity, index only: no sample is read)."""
        params: dict[str, str | list[str]] = {"match[]": list(matchers), "start": f"{start:.3f}", "end": f"{end:.3f}"}
        params.update((await self.backend()).query_params)  # VictoriaMetrics: no cached answer from before
        return await self._api("GET", f"/api/v1/label/{name}/values", list[str], params=params)

    async def targets(self, labels: LabelSets | None = None, known: ByText[Target] | None = None) -> list[Target]:
        """Active scrape targets (down ones included); `labels`: their label dicts shared across refreshes;
        `known`: the targets of the previous refresh by their JSON text (an unchanged one is not decoded)."""
        url = f"{self.base_url}/api/v1/targets"
        labels = labels if labels is not None else LabelSets()
        known = known if known is not None else ByText()
        stream = ArrayStream(b'"activeTargets":[', b"discoveredLabels")

        def rest(text: bytes) -> list[Target] | None:
            last = _SUCCESS[_TargetsData].decode(text)
            ok = last.status == "success"
            return _known_targets(list(map(bytes, last.data.active_targets)), labels, known) if ok else None

        def decoded(run: bytes) -> list[Target]:
            return _known_targets(stream.elements(run), labels, known)

        found, status = await self._as_they_come(
            "GET", "/api/v1/targets", stream, decoded, rest, params={"state": "active"}
        )
        if found is not None:
            return found
        try:
            data = _envelope_data(url, status, stream.body(), _TargetsData)
        except HTTPStatusError as e:
            if _backend.targets_missing(e.status):
                raise TargetsUnavailable(url, e.status, e.body) from None
            raise
        except BadJSON as e:
            if "unexpected" in e.detail:
                raise BadJSON(url, f"unexpected targets reply ({e.detail.split('(', 1)[-1]}") from None
            raise
        try:
            return _known_targets(list(map(bytes, data.active_targets)), labels, known)
        except msgspec.DecodeError as e:
            raise BadJSON(url, f"unexpected targets reply ({_one_line(str(e), 120)})") from None
        except ValueError as e:
            raise BadJSON(url, f"unexpected targets reply (ValueError: {e})") from None

    async def vector(self, form: Mapping[str, str | list[str]], source: str, labels: LabelSets) -> list[Sample]:
        """An instant query's samples (`form`: see form_now), decoded while its reply comes in: for the large
        presence replies of a refresh (fleetui.adapters.jsonstream says why)."""
        path = "/api/v1/query"
        url = f"{self.base_url}{path}"

        def decoded(texts: list[bytes]) -> list[Sample]:
            return _samples(_ELEMENTS.decode(b"[" + b",".join(texts) + b"]"), source, labels)

        def rest(text: bytes) -> list[Sample] | None:
            last = _SUCCESS[_QueryData].decode(text)
            ok = last.status == "success" and last.data.resultType == "vector"
            return decoded(last.data.result) if ok else None

        stream = ArrayStream(b'"result":[', b"metric")
        found, status = await self._as_they_come("POST", path, stream, lambda run: decoded([run]), rest, data=form)
        if found is not None:
            return found
        return _parse_result(url, _envelope_data(url, status, stream.body(), _QueryData), source, labels)

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
        if self._backend is not None:  # the usual case: no lock round trip per query
            return self._backend
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

    async def buildinfo(self) -> dict[str, str]:
        """version, revision, branch, goVersion... from /api/v1/status/buildinfo."""
        data = await self._api("GET", "/api/v1/status/buildinfo", dict[str, Any])
        return {str(k): str(v) for k, v in data.items()}


# --- reply shapes (only the fields fleetui reads; the rest is skipped by the decoder) ------------------------

T = TypeVar("T")
_NO_DATA = msgspec.Raw(b"")


class _Envelope(msgspec.Struct):
    status: str
    data: msgspec.Raw = _NO_DATA
    errorType: str | None = None
    error: str | None = None


class _QueryData(msgspec.Struct):
    resultType: str
    result: list[msgspec.Raw]  # its elements, each decoded later in batches (see _batches)


class _Element(msgspec.Struct, array_like=False):
    metric: msgspec.Raw  # made a dict by LabelSets (one dict per distinct label set across refreshes)
    value: tuple[float, str]


class _Series(msgspec.Struct):
    metric: dict[str, str]
    values: list[tuple[float, str]]


class _ActiveTarget(msgspec.Struct, rename="camel"):
    labels: msgspec.Raw  # as _Element.metric
    scrape_pool: str = ""
    scrape_url: str = ""
    last_error: str = ""
    last_scrape: str = ""
    last_scrape_duration: float | None = None
    health: str = "unknown"


class _TargetsData(msgspec.Struct, rename="camel"):
    active_targets: list[msgspec.Raw]  # decoded in batches, only those whose text changed (_known_targets)


class _Success(msgspec.Struct, Generic[T]):
    """A successful reply whose `data` has the expected shape: decoded in one pass (see _envelope_data)."""

    status: str
    data: T


_ENVELOPE = msgspec.json.Decoder(_Envelope)
# one pass over the reply for the two shapes a refresh reads (21 MB at 50,000 hosts), instead of one for the
# envelope and one more for its `data`
_SUCCESS: dict[type, msgspec.json.Decoder[Any]] = {
    shape: msgspec.json.Decoder(_Success[shape])  # type: ignore[valid-type]
    for shape in (_QueryData, _TargetsData)
}
_ELEMENTS = msgspec.json.Decoder(list[_Element])
_TARGETS = msgspec.json.Decoder(list[_ActiveTarget])
_SERIES = msgspec.json.Decoder(list[_Series])
_SCALAR = msgspec.json.Decoder(tuple[float, str])
# A decoder call holds the interpreter lock from start to end: one call over 50,000 targets (tens of MB) kept
# the console's UI thread waiting for longer than a key may take. So the envelope's decoder splits a reply's
# list into its elements' texts (msgspec.Raw: one pass over the reply, which also finds the envelope), and
# they are decoded BATCH elements at a time, so the UI gets the lock in between. Splitting the list in a
# second pass of its own cost 32 ms at 50,000 hosts for the targets alone, and held the lock all along.
_BATCH = 2000
# a history step's raw samples: each series carries up to a window of samples, so fewer per call (the
# background history steps run while the operator types: one call over 1,000 hosts' series held the UI for
# hundreds of milliseconds)
_SERIES_BATCH = 100


def _batches(
    parts: Sequence[bytes | msgspec.Raw], decoder: msgspec.json.Decoder[list[T]], batch: int = _BATCH
) -> Iterator[list[T]]:
    """The elements of a JSON array (their texts) decoded by `decoder`, `batch` elements per call."""
    for i in range(0, len(parts), batch):
        step_aside()
        yield decoder.decode(b"[" + b",".join(parts[i : i + batch]) + b"]")


def _decode_list(parts: list[msgspec.Raw], decoder: msgspec.json.Decoder[list[T]], batch: int = _BATCH) -> list[T]:
    """All of `_batches`, in one list."""
    out: list[T] = []
    for got in _batches(parts, decoder, batch):
        out += got
    return out


def _known_targets(texts: list[bytes], labels: LabelSets, known: ByText[Target]) -> list[Target]:
    """The targets of these JSON texts, taking each one whose text the previous refresh had from `known` and
    decoding only the others (in batches, as _batches)."""
    out: list[Target | None] = [known.get(k) for k in texts]
    missing = [i for i, t in enumerate(out) if t is None]
    decoded = (t for batch in _batches([texts[i] for i in missing], _TARGETS) for t in batch)
    for i, t in zip(missing, decoded, strict=True):
        out[i] = target = _target(t, labels)
        known.put(texts[i], target)
    return out  # type: ignore[return-value]  # every None was filled above


def _form(expr: str, time: float | None, extra: Mapping[str, str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {"query": expr, **extra}
    if time is not None:
        form["time"] = f"{time:.3f}"
    return form


def _envelope_data(url: str, status: int, body: bytes, shape: type[T]) -> T:
    """A reply's `data` decoded as `shape`, or the PrometheusError that says what is wrong with the reply."""
    success = _SUCCESS.get(shape)
    if success is not None and status == 200:
        try:
            found = success.decode(body)
        except msgspec.DecodeError:  # any other reply: the checks below say what is wrong with it
            pass
        else:
            if found.status == "success":
                return found.data  # type: ignore[no-any-return]
    try:
        env = _ENVELOPE.decode(body)
    except msgspec.ValidationError:
        if status != 200:
            raise HTTPStatusError(url, status, _one_line(_text(body))) from None
        raise BadJSON(url, 'reply is JSON but not a Prometheus API envelope (no "status")') from None
    except msgspec.DecodeError:
        if status != 200:
            raise HTTPStatusError(url, status, _one_line(_text(body))) from None
        raise BadJSON(url, f"reply is not JSON: {_one_line(_text(body), 80)!r}") from None
    if env.status != "success":
        if env.errorType is not None or env.error is not None:
            error = _one_line(str(env.error or ""))
            raise QueryError(url, _backend.error_type(str(env.errorType or "error"), status, error), error)
        raise HTTPStatusError(url, status, _one_line(_text(body)))
    if env.data is _NO_DATA or not bytes(env.data):
        raise BadJSON(url, 'reply has status success but no "data"')
    try:
        return msgspec.json.decode(env.data, type=shape)
    except msgspec.DecodeError as e:
        raise BadJSON(url, f"unexpected reply ({_one_line(str(e), 120)})") from None


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _float(v: str) -> float:
    f = float(v)
    if math.isnan(f):
        raise ValueError("NaN")
    return f


def _parse_result(url: str, data: _QueryData, source: str = "", labels: LabelSets | None = None) -> list[Sample]:
    kind = data.resultType
    try:
        if kind == "vector":
            # a batch's samples are made before the next batch is decoded: their label look-ups are C loops
            # (see _samples), and each such call keeps the interpreter lock until it ends
            found: list[Sample] = []
            sets = labels if labels is not None else LabelSets()
            for elements in _batches(data.result, _ELEMENTS):
                found += _samples(elements, source, sets)
            return found
        if kind == "scalar":
            _, v = _SCALAR.decode(b"[" + b",".join(data.result) + b"]")
            return [Sample({}, _float(v), source)]
    except (msgspec.DecodeError, ValueError) as e:
        raise BadJSON(url, f"unexpected query result ({type(e).__name__}: {_one_line(str(e), 120)})") from None
    raise BadJSON(url, f"expected an instant vector, got a {kind}")


def _number(text: str) -> float | None:
    """`_float`, None instead of raising: for text that is no number, and for NaN (a stale marker)."""
    try:
        return _float(text)
    except ValueError:
        return None


def _samples(elements: list[_Element], source: str, labels: LabelSets) -> list[Sample]:
    """The elements of an instant vector as Samples, each label set the one dict `labels` keeps for its text.

    Built by C loops (map, dict.update) and comprehensions, not a Python loop with calls per element: this
    runs for every sample of every refresh. The two presence replies of 50,000 hosts, half gone (56,250
    samples, replayed offline, median of 8): 40 ms with the loop, 36 with this; decoding them takes 37."""
    texts = [e.value[1] for e in elements]
    try:
        values: list[float] = list(map(float, texts))
        clean = not any(map(math.isnan, values))
    except ValueError:
        clean = False
    if not clean:  # a value that is no number, or NaN: those elements are left out
        numbers = list(map(_number, texts))
        keep = [i for i, v in enumerate(numbers) if v is not None]
        elements = [elements[i] for i in keep]
        values = [numbers[i] for i in keep]  # type: ignore[misc]  # only the numbers were kept
    found = labels.of_many([e.metric for e in elements])
    return list(map(Sample, found, values, repeat(source, len(values))))


def _rfc3339(s: str | None) -> float | None:
    if s is None or _backend.never_scraped(s):
        return None
    return datetime.fromisoformat(s).timestamp()  # Python 3.11 takes "Z" and nanoseconds


def _target(t: _ActiveTarget, label_sets: LabelSets) -> Target:
    labels = label_sets.of(t.labels)
    last_scrape = _rfc3339(t.last_scrape)
    return Target(
        instance=labels.get("instance", ""),
        scrape_pool=t.scrape_pool,
        labels=labels,
        health=_backend.target_health(t.health, t.last_scrape, t.last_error),
        scrape_url=t.scrape_url or None,
        last_error=t.last_error or None,
        last_scrape=last_scrape,
        # a target never scraped has a duration of 0 in the reply: unknown, not "took 0.000 s"
        scrape_duration=t.last_scrape_duration if last_scrape is not None else None,
    )


# --- the fleet reader --------------------------------------------------------------------------------------

_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


def same_machine(url: str) -> bool:
    """Whether `url` names this machine (localhost, a loopback address)."""
    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def promql_string(s: str) -> str:
    """A double-quoted PromQL string literal for any text."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def literal_regex(values: Sequence[str]) -> str:
    """An RE2 alternation matching exactly these values (as a PromQL string literal)."""
    alts = ("".join("\\" + c if c in _RE2_SPECIAL else c for c in v) for v in sorted(set(values)))
    return promql_string("|".join(alts))


PRESENCE_METRICS = ("up", "node_uname_info")
# node_uname_info's own labels that classification skips (fleetui.domain.classify.UNAME_LABELS but nodename):
# two series that differ only in them are one host's, so the newest of them is all a refresh needs
_UNAME_DROPPED = ", ".join(sorted(UNAME_LABELS - {"nodename"}))
_SRC = "fleetui_src"


def queries() -> dict[str, str]:
    """The fixed PromQL of one refresh, by name (see the module docstring)."""
    return {
        "up": "timestamp(up)",
        "uname": f"max without ({_UNAME_DROPPED}) (timestamp(node_uname_info))",
        "rule": f"count({LAST_SEEN_METRIC})",
        "macos": f"count by (instance) ({MACOS_MEMORY})",
    }


MACOS_MEMORY = "node_memory_total_bytes"  # the macOS exporter's name for what Linux calls MemTotal
LINUX_MEMORY = "node_memory_MemTotal_bytes"


def linux_memory_query(instances: Sequence[str]) -> str:
    """Which of these instances (the ones with macOS memory names) also have the Linux names."""
    return f"count by (instance) ({LINUX_MEMORY}{{{_selector(instances)}}})"


def _selector(instances: Sequence[str]) -> str:
    return f"instance=~{literal_regex(instances)}"


def coarse_query(instances: Sequence[str], seconds: float) -> str:
    """The end of the last minute with a successful sample in the `seconds` before the evaluation time.

    `time()` inside the subquery is the step's own time, so each series yields the last step whose minute
    had `up == 1` (or any node_uname_info sample); see the module docstring for why not `timestamp()`.
    """
    sel = _selector(instances)
    w = f"{math.ceil(seconds)}s"
    up = f"max_over_time((time() + 0 * (max_over_time(up{{{sel}}}[1m]) == 1))[{w}:1m])"
    uname = f"max_over_time((time() + 0 * count_over_time(node_uname_info{{{sel}}}[1m]))[{w}:1m])"
    return f'label_replace({up}, "{_SRC}", "up", "", "") or label_replace({uname}, "{_SRC}", "uname", "", "")'


def raw_query(instances: Sequence[str], seconds: float) -> str:
    """Raw samples of `up` and node_uname_info of these instances in the `seconds` before the evaluation time."""
    return f'{{__name__=~"up|node_uname_info", {_selector(instances)}}}[{math.ceil(seconds)}s]'


def rule_query(instances: Sequence[str], seconds: float) -> str:
    """The recording rule's last value per series in the `seconds` before the evaluation time (exact)."""
    return f"last_over_time({LAST_SEEN_METRIC}{{{_selector(instances)}}}[{math.ceil(seconds)}s])"


def _newest_success(rows: Sequence[tuple[dict[str, str], list[tuple[float, str]]]]) -> dict[str, list[Sample]]:
    """Raw samples -> per instance, each series' newest successful sample (up == 1; any node_uname_info)."""
    out: dict[str, list[Sample]] = {}
    for metric, values in rows:
        name = metric.get("__name__", "")
        inst = metric.get("instance")
        if not inst:
            continue
        newest = None
        for t, v in reversed(values):
            if name != "up" or v == "1":
                newest = t
                break
        if newest is None:
            continue
        labels = {k: v for k, v in metric.items() if k != "__name__"}
        out.setdefault(inst, []).append(Sample(labels, newest, "up" if name == "up" else "uname"))
    return out


async def recording_rule_hint(client: PrometheusClient) -> str | None:
    """RULES_HINT when the recording rule of `fleetui rules` records nothing on this backend (one query), None
    when it does or the backend cannot be asked (whoever calls this says what is wrong with it elsewhere)."""
    try:
        found = await client.query(queries()["rule"])
    except PrometheusError:
        return None
    return None if any(smp.value > 0 for smp in found) else RULES_HINT


_RELEASE_STEP = 2000


def _releasing(container: list[Any] | dict[Any, Any]) -> Iterator[None]:
    """Empty a list or dict of tens of thousands of elements a slice at a time, yielding after each.

    Why: freeing it in one go (`clear()`, or the last reference dropped) is one C call that frees every
    element with the interpreter lock held, and the console's UI thread waits for that lock: 100,000 samples
    took 36 ms. Between slices the lock can change hands, and the caller's event loop can run."""
    if isinstance(container, list):
        while container:
            del container[-_RELEASE_STEP:]
            yield
        return
    while container:
        for key in list(islice(container, _RELEASE_STEP)):
            del container[key]
        yield


# a refresh's parsed replies: time, targets, current samples (also grouped by instance, and each instance's
# newest), macOS names, source
_Inputs = tuple[float, list[Target], list[Sample], dict[str, list[Sample]], dict[str, float], frozenset[str], str]
# both presence replies: their samples, grouped by instance, and each instance's newest
_Current = tuple[list[Sample], dict[str, list[Sample]], dict[str, float]]
# one presence reply: its samples, and the same grouped by instance
_Grouped = tuple[list[Sample], dict[str, list[Sample]]]


# below this many targets the whole first refresh is in moments after its targets reply, and a first look would
# only hold it up (fleetui.tui.source.PrometheusSource.first_look): with 3,750 targets (10,000 hosts, half
# down) the three large replies' last bytes came within 50 ms of each other (cold, three times, in a process of
# their own), and the first look's own work (classifying it, about 130 ms) kept the presence replies waiting on
# the same thread. With 18,750 targets (50,000 hosts) the presence replies came up to 0.6 s after the targets'
FIRST_LOOK_TARGETS = 10_000


class FleetReader:
    """The fleet from Prometheus, refresh after refresh: `await reader.refresh()` (the console), or
    `await reader.snapshot()` for one complete answer (the commands).

    `stale_after` and `required_labels` override the settings (the command's flags); the label schema and
    look-back come from the settings. `book` carries remembered last-seen times between runs (see
    fleetui.adapters.lastseen_file); without one, the reader starts from nothing. `guess`: whether the
    classifier guesses the rows while the last large reply is on its way (by default, unless Prometheus runs
    on this machine: see `same_machine`).
    """

    def __init__(
        self,
        client: PrometheusClient,
        settings: Settings,
        *,
        stale_after: float | None = None,
        required_labels: Sequence[str] = (),
        book: LastSeenBook | None = None,
        guess: bool | None = None,
    ) -> None:
        self.client = client
        # the classifier's guess while the last reply is on its way (see _guess), unless Prometheus runs on
        # this machine: then the guess's CPU is taken from Prometheus' own answers. At 50,000 hosts, half down
        # or gone, on a 2-core machine serving both, the replies came 180-260 ms later with it, more than it
        # saved after them (medians of three runs of 5-8 refreshes each, measured live)
        self.guess = guess if guess is not None else not same_machine(client.base_url)
        self.lookback: float = settings["lookback"]
        self.policy = Policy(
            stale_after=stale_after if stale_after is not None else settings["stale_after"],
            required_labels=tuple(dict.fromkeys((*settings["schema.required_labels"], *required_labels))),
            aliases=dict(settings["schema.aliases"]),
            history_after=settings["history_after"],
        )
        self.label_sets = LabelSets()  # the refresh's label dicts, the same objects while they stay the same
        self.target_texts: ByText[Target] = ByText()  # the targets, while their text in the reply stays the same
        self.classifier = Classifier(self.policy)  # keeps each host's label work while its labels stay
        self.queries = queries()
        self.book = book if book is not None else LastSeenBook(self.lookback)
        self.refresh_requests = 0  # HTTP requests of the last refresh (history steps not included)
        self.history_requests = 0  # history steps (one HTTP request each) so far
        self.history_kinds: Counter[str] = Counter()  # ... by kind (discover, exact, coarse, refine)
        self._inputs: _Inputs | None = None
        # the last refresh's current samples grouped by instance, freed after the next (see refresh)
        self._grouped_before: dict[str, list[Sample]] | None = None
        self._sweeping: asyncio.Future[None] | None = None  # the freeing of what the last refresh is done with
        self._previous: FleetSnapshot | None = None
        # the last classification's inputs: the next refresh's guess takes its targets, history, macOS names
        # and pending look-ups (see _guess)
        self._last: FleetInputs | None = None
        self.backend = Backend()
        self.notes: tuple[str, ...] = ()

    async def refresh(
        self, now: float | None = None, *, keep: bool = False, early: Callable[[FleetSnapshot], object] | None = None
    ) -> FleetSnapshot:
        """One refresh: the five fixed requests (six with macOS memory names), then remembered last-seen times;
        never reads history.

        `keep`: hold on to the parsed replies, so `snapshot()` can classify again after the history steps.
        `early`: called with a first look at the fleet (`first_look`) when the targets reply of a fleet of at
        least FIRST_LOOK_TARGETS targets is in before both presence replies (the console's first refresh).
        """
        t = _time.time() if now is None else now
        q = self.queries
        # the backend (once per client) decides the queries' extra parameters. Detected alongside the first
        # refresh's queries, not before them (see _grouped): before, its round trip was on the first paint's
        # clock, 70-93 ms while Textual's start held the interpreter lock (10,000 hosts, measured). Begun before
        # the tally: its request is the client's, not the refresh's
        detecting = asyncio.ensure_future(self.client.backend())
        notes: list[str] = []
        tally = [0]  # this refresh's own requests: not whatever else uses the client meanwhile (the extras)
        counting = _TALLY.set(tally)
        self.label_sets.rotate()
        self.target_texts.rotate()
        with gc_paused():
            up = asyncio.ensure_future(self._grouped(q["up"], t, "up"))
            uname = asyncio.ensure_future(self._grouped(q["uname"], t, "uname"))
            presence = asyncio.ensure_future(self._current(up, uname))
            reading = asyncio.ensure_future(
                self._targets(notes) if early is None else self._targets_first(notes, t, presence, early)
            )
            try:
                backend, targets, (current, by_current, newest_by), rule, macos, _ = await asyncio.gather(
                    detecting,
                    reading,
                    presence,
                    self.client.query(q["rule"], t),
                    self._macos(t),
                    self._guess(t, up, uname, presence, reading),
                )
            finally:
                _TALLY.reset(counting)
            self.refresh_requests = tally[0]
            self.backend = backend
            self.notes = (*backend.notes, *notes)
            down = {tg.instance for tg in targets if tg.health != "up"}
            live = dict(newest_by)
            for inst in down:  # a failing target's `up` sample is its failed scrape
                live.pop(inst, None)
            has_rule = any(smp.value > 0 for smp in rule)
            self.book.rule = has_rule
            self.book.observe(t, live, down, self._last_rows())
            source = "recording_rule" if has_rule else "computed"
            macos_names = frozenset(macos)
            self._inputs = (t, targets, current, by_current, newest_by, macos_names, source)
            snap = self._classify()
            # what is done with is freed after the refresh, a slice at a time, while the reader waits for the
            # next (see _sweep): this refresh's samples grouped by instance once the next classification, which
            # compares its hosts' samples with them, is done; the rest now
            spent: list[list[Any] | dict[Any, Any]] = [] if self._grouped_before is None else [self._grouped_before]
            self._grouped_before = by_current
            if not keep:
                self._inputs = None  # a console re-reads them next refresh; holding them doubles the memory
                spent += [current, newest_by, live]
            self._sweeping = asyncio.ensure_future(self._sweep(spent))  # held: the loop keeps only a weak one
            return snap

    @staticmethod
    async def _sweep(spent: list[list[Any] | dict[Any, Any]]) -> None:
        """Empty `spent`'s containers a slice at a time (see _releasing), letting the loop run in between.

        Why after the refresh: freed on its clock (or during the next one's wait for replies, where Prometheus
        needs the machine's cores for its answers), dropping 50,000 hosts' samples was a tenth of the reader's
        work, and freed in one go it held the interpreter lock for 18-34 ms while the console applied the
        refresh (50,000 hosts, measured)."""
        for container in spent:
            for _ in _releasing(container):
                step_aside()
                await asyncio.sleep(0)

    async def _guess(
        self,
        t: float,
        up: asyncio.Future[_Grouped],
        uname: asyncio.Future[_Grouped],
        presence: asyncio.Future[_Current],
        reading: asyncio.Future[Any],
    ) -> None:
        """Once two of the three large replies (both presence replies, the targets) are in: the classifier's
        guess at this refresh's rows (see Classifier.guess), so the work left after the last reply's last byte
        is the hosts the guess got wrong or had no time for.

        With the targets last, the guess takes the previous refresh's targets; with a presence reply last, it
        takes the targets and a prediction of the missing reply from the other and the previous refresh's
        (`predicted_presence`). Either way with the previous refresh's history, macOS names and pending
        look-ups."""
        last = self._last
        if last is None or not self.guess:
            return
        waiting: set[asyncio.Future[Any]] = {up, uname, reading}
        while len(waiting) > 1:
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if any(f.cancelled() or f.exception() is not None for f in done):
                return
        if not waiting:  # the last two came in together: nothing left to wait for
            return
        (last_one,) = waiting
        if last_one is reading:
            await asyncio.wait([presence])
            if reading.done() or presence.cancelled() or presence.exception() is not None:
                return
            current, by_current, newest_by = presence.result()
            guessed = replace(last, now=t, current=current, current_by_instance=by_current, current_newest=newest_by)
        else:
            before = self._grouped_before
            if before is None or last_one.done():
                return
            up_arrived = last_one is uname
            _, arrived = (up if up_arrived else uname).result()
            predicted = predicted_presence(arrived, up_arrived, before)
            guessed = replace(
                last,
                now=t,
                targets=reading.result(),
                current=(),
                current_by_instance=predicted,
                current_newest=newest_by_instance(predicted),
            )
        # a part at a time, reading replies in between: once the last reply is in, what is left of the guess
        # would only delay the refresh's end (the classifier works those hosts out itself)
        for _ in self.classifier.guessing(guessed, predicted=last_one is not reading):
            await asyncio.sleep(0)
            if last_one.done():
                return

    async def _macos(self, t: float) -> set[str]:
        """Instances with macOS memory names and no Linux ones: those with the macOS names (few, and the query
        reads only their series), then which of them also have the Linux names, only if any has them.

        Not one query with `unless`: that read the Linux memory series of every host, a fifth of
        Prometheus' work in a refresh (400-660 ms at 50,000 hosts, against 2 ms for this first step)."""
        named = {smp.instance for smp in await self.client.query(self.queries["macos"], t) if smp.instance}
        if not named:
            return named
        linux = await self._in_parts(self.client.query, linux_memory_query, sorted(named), t)
        return named - {smp.instance for smp in linux}

    def _last_rows(self) -> Callable[[str], tuple[Sample, ...]]:
        """How a host looked in the previous snapshot, as history samples (for hosts that just went away)."""
        previous = self._previous
        rows: Mapping[str, HostStatus] | None = None

        def last_rows(inst: str) -> tuple[Sample, ...]:
            nonlocal rows
            if previous is None:
                return ()
            seen = previous.times.last_seen.get(inst)
            if seen is None:
                return ()
            if rows is None:
                rows = previous.by_instance()
            h = rows.get(inst)
            if h is None:
                return ()
            labels = dict(h.labels)
            found = [Sample(labels, seen, "up")]
            if h.nodename:
                found.append(Sample({**labels, "nodename": h.nodename}, seen, "uname"))
            return tuple(found)

        return last_rows

    async def _targets(self, notes: list[str]) -> list[Target]:
        """The active targets, or none (and a note) on a backend without the targets API."""
        try:
            return await self.client.targets(self.label_sets, self.target_texts)
        except TargetsUnavailable as e:
            notes.append(_backend.targets_note(await self.client.backend(), self.client.base_url, e.status))
            return []

    async def _targets_first(
        self, notes: list[str], t: float, presence: asyncio.Future[Any], early: Callable[[FleetSnapshot], object]
    ) -> list[Target]:
        """The targets, and `early(first_look(...))` when they are many and the presence replies are not in."""
        targets = await self._targets(notes)
        if len(targets) >= FIRST_LOOK_TARGETS and not presence.done():
            early(self.first_look(t, targets))
        return targets

    def first_look(self, t: float, targets: Sequence[Target]) -> FleetSnapshot:
        """The fleet as its scrape targets alone show it, with the last-seen times the book remembers.

        Why: on a large fleet the targets reply comes in well before the two presence queries' (at 50,000
        hosts, half of them scraped, 0.8-2.4 s against 1.9-3.8 s for the last, measured with the five requests
        sent together), and the console's first refresh then had nothing on screen for 4-6 s. What the targets
        say decides their hosts' state (a pull host is up when its targets last scraped fine), mode and scrape
        columns, and gives their labels (a series may still add some); the push hosts, node names (and the
        problems they make) and the hosts gone come with the refresh's end. A host whose last-seen time the
        book does not know yet is shown pending, not "never". Classified apart (a Classifier of its own), so
        the refresh's own classification and its diff are the same with or without a first look."""
        mine = frozenset(tg.instance for tg in targets)
        history = [smp for smp in self.book.history() if smp.labels.get("instance") in mine]
        with gc_paused():
            hosts, times = Classifier(self.policy).classify(
                FleetInputs(now=t, targets=targets, history=history, pending=mine)
            )
        return FleetSnapshot(hosts, t, backend=self.backend.name, targets_only=True, times=times)

    @staticmethod
    async def _current(up_reply: asyncio.Future[_Grouped], uname_reply: asyncio.Future[_Grouped]) -> _Current:
        """The current samples of both presence queries (`up` first), grouped by instance, and each instance's
        newest: worked out as soon as both replies are in, while the targets may still be on their way (at
        50,000 hosts theirs is the largest reply), so it is not left for after the last reply."""
        (up, up_by), (uname, uname_by) = await asyncio.gather(up_reply, uname_reply)
        by_current = joined(up_by, uname_by)
        return up + uname, by_current, newest_by_instance(by_current)

    async def _grouped(self, expr: str, t: float, source: str) -> _Grouped:
        """A presence query's samples, and the same grouped by instance as soon as its reply is in.

        Sent without waiting for the backend's detection (`form_now`): these two are the largest queries, and
        the first refresh's last replies. A backend that refuses the parameters sent before it was known gets
        the query again with its own."""
        sent = self.client.form_now(expr, t)
        try:
            samples = await self.client.vector(sent, source, self.label_sets)
        except (HTTPStatusError, QueryError):
            wanted = await self.client.form(expr, t)
            if wanted == sent:
                raise
            samples = await self.client.vector(wanted, source, self.label_sets)
        return samples, by_instance(samples)

    def _classify(self) -> FleetSnapshot:
        """The last refresh's inputs with what the book knows now, as a snapshot carrying its diff."""
        assert self._inputs is not None, "refresh() first"
        t, targets, current, by_current, newest_by, macos, source = self._inputs
        with gc_paused():
            history, history_by = self.book.history_grouped()
            inputs = FleetInputs(
                now=t,
                targets=targets,
                current=current,
                current_by_instance=by_current,
                current_newest=newest_by,
                history=history,
                history_by_instance=history_by,
                macos=macos,
                pending=self.book.pending(),
            )
            hosts, times = self.classifier.classify(inputs)
            self._last = inputs
            # the classifier's diff from its previous rows, which are the previous snapshot's
            snap = FleetSnapshot(hosts, t, source, self.backend.name, self.notes, times=times).with_diff(
                self._previous, self.classifier.diff()
            )
        self._previous = snap
        return snap

    async def history_step(self) -> bool:
        """One bounded history request for the book (see the module docstring); False when none is left."""
        step = self.book.next_step()
        if step is None:
            return False
        self.history_requests += 1  # each step is one request
        self.history_kinds[step.kind] += 1
        try:
            await self._run(step)
        except BaseException:
            self.book.failed(step)
            raise
        return True

    async def _run(self, step: Step) -> None:
        book, c = self.book, self.client
        span = max(step.end - step.start, 60.0)
        if step.kind == "discover":
            found = await c.label_values("instance", PRESENCE_METRICS, step.start, step.end)
            book.discovered(step, found)
        elif book.rule and step.kind in ("exact", "coarse"):
            build = functools.partial(rule_query, seconds=min(span, WINDOW))
            samples = await self._in_parts(c.query, build, step.instances, step.end)
            by_inst: dict[str, list[Sample]] = {}
            for smp in samples:
                if smp.instance and smp.value > 0:
                    by_inst.setdefault(smp.instance, []).append(Sample(smp.labels, smp.value, "rule"))
            known = tuple(i for i in step.instances if i in by_inst)
            rest = tuple(i for i in step.instances if i not in by_inst)
            if known:
                book.found_exact(replace(step, instances=known), by_inst)
            if rest:
                # the rule cannot know what happened before it was installed (or samples written late, with
                # past times): those instances are read from the raw series, in the same bounded step
                await self._computed(replace(step, instances=rest), span)
        else:
            await self._computed(step, span)

    async def _computed(self, step: Step, span: float) -> None:
        """A step answered from the `up`/node_uname_info series themselves (no recording rule)."""
        book, c = self.book, self.client
        if step.kind == "coarse":
            minutes: dict[str, float] = {}
            build = functools.partial(coarse_query, seconds=span)
            for smp in await self._in_parts(c.query, build, step.instances, step.end):
                inst = smp.instance
                if inst and smp.value > minutes.get(inst, -math.inf):
                    minutes[inst] = smp.value
            book.found_coarse(step, minutes)
        else:  # exact, refine: raw samples
            build = functools.partial(raw_query, seconds=span)
            rows = await self._in_parts(c.query_range_vector, build, step.instances, step.end)
            book.found_exact(step, _newest_success(rows))

    async def _in_parts(
        self,
        fetch: Callable[[str, float], Awaitable[list[T]]],
        build: Callable[[Sequence[str]], str],
        instances: Sequence[str],
        at: float,
    ) -> list[T]:
        """`fetch(build(instances), at)`: one request, or as many as the backend's query length limit needs
        (VictoriaMetrics), their answers joined."""
        limit = (await self.client.backend()).max_query_bytes  # known by now (a refresh's macOS step awaits it)
        parts = _backend.split_to_fit(instances, build, limit)
        found: list[T] = []
        for got in await asyncio.gather(*(fetch(build(p), at) for p in parts)):
            found += got
        return found

    async def catch_up(self, max_steps: int | None = None, concurrency: int = 2) -> int:
        """Run history steps until none is left (or `max_steps`), `concurrency` requests at a time."""
        done = 0

        async def worker() -> None:
            nonlocal done
            while max_steps is None or done < max_steps:
                done += 1
                if not await self.history_step():
                    done -= 1
                    return

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done

    async def snapshot(self, now: float | None = None) -> FleetSnapshot:
        """One complete answer: a refresh, then every history step it needs, then the fleet with them."""
        snap = await self.refresh(now, keep=True)
        if await self.catch_up():
            snap = self._classify()
        self._inputs = None
        return snap
