"""Backend detection and the API differences fleetui.adapters.backend papers over.

The VictoriaMetrics replies are the real ones (the lab runs Debian's victoria-metrics; tests/lab covers it
end to end). Mimir and Thanos cannot run here (no Debian package): their build-info replies are served by
httpx.MockTransport in the exact shapes their sources write (Mimir's `application`, Thanos' 0.x version
with Prometheus' fields), and each such test says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from fleetui.adapters import backend
from fleetui.adapters.prometheus import FleetReader, PrometheusClient, TargetsUnavailable
from fleetui.config import Settings, load

PROM_INFO = {
    "version": "2.42.0",
    "revision": "225c61122d88b01d1f0eaaee0e05b6f3e0567ac0",
    "branch": "HEAD",
    "buildUser": "root@debian",
    "buildDate": "20230303-12:00:00",
    "goVersion": "go1.19.8",
}


def envelope(data: object) -> dict[str, object]:
    return {"status": "success", "data": data}


@pytest.mark.parametrize(
    ("status", "headers", "body", "name", "version"),
    [
        (200, {}, envelope(PROM_INFO), "Prometheus", "2.42.0"),
        (200, {"X-Server-Hostname": "vm"}, envelope({}), "VictoriaMetrics", None),  # 1.79.5 as Debian ships it
        (200, {"X-Server-Hostname": "vm"}, envelope({"version": "2.24.0"}), "VictoriaMetrics", None),  # newer
        (200, {}, envelope({**PROM_INFO, "application": "Grafana Mimir", "version": "2.14.0"}), "Mimir", "2.14.0"),
        (200, {}, envelope({**PROM_INFO, "version": "0.36.1"}), "Thanos", "0.36.1"),
        (404, {}, None, "unknown", None),  # a proxy that exposes queries only
        (200, {}, envelope({"version": "2.24.0"}), "unknown", "2.24.0"),  # a placeholder without the VM header
        (200, {"X-Server-Hostname": "web"}, envelope(PROM_INFO), "Prometheus", "2.42.0"),  # header from a proxy
    ],
)
def test_detect(status: int, headers: dict[str, str], body: object, name: str, version: str | None) -> None:
    """Mocked replies for Mimir and Thanos (not installable here); the others as the real servers send them."""
    found = backend.detect(status, headers, body)
    assert (found.name, found.version) == (name, version)
    assert found.name in backend.NAMES
    assert dict(found.query_params) == ({"nocache": "1"} if name == "VictoriaMetrics" else {})


@pytest.mark.parametrize(
    ("raw", "status", "message", "kind"),
    [
        ("bad_data", 400, "parse error", "bad_data"),  # Prometheus' own: kept
        ("422", 422, 'labelFilterExpr: unexpected token ""; want "ident"; unparsed data: ""', "bad_data"),
        ("422", 422, "the number of matching timeseries exceeds 30000", "execution"),
        ("503", 503, "cannot execute query: deadline exceeded", "timeout"),
        ("500", 500, "something broke", "internal"),
    ],
)
def test_error_type(raw: str, status: int, message: str, kind: str) -> None:
    assert backend.error_type(raw, status, message) == kind


def test_target_health_before_first_scrape() -> None:
    assert backend.target_health("down", "1970-01-01T00:00:00Z", "") == "unknown"  # VictoriaMetrics
    assert backend.target_health("unknown", "0001-01-01T00:00:00Z", "") == "unknown"  # Prometheus
    assert backend.target_health("down", "2026-01-01T00:00:00Z", "connection refused") == "down"


@pytest.mark.parametrize(
    ("page", "seconds", "noted"),
    [
        ('-httpListenAddr="127.0.0.1:19090"\n', 300.0, True),  # not set: the 5m default
        ('-promscrape.fileSDCheckInterval="5s"\n', 5.0, False),
        ('-promscrape.fileSDCheckInterval="1m30s"\n', 90.0, True),
    ],
)
def test_file_sd_interval_note(page: str, seconds: float, noted: bool) -> None:
    assert backend.vm_file_sd_interval(page) == seconds
    note = backend.discovery_note("http://vm:8428", seconds)
    assert (note is not None) == noted
    if note:
        assert "\n" not in note and "-promscrape.fileSDCheckInterval" in note


def _settings(tmp_path: Path) -> Settings:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("")
    return load(cfg, environ={}, overrides={"prometheus.url": "http://mimir.example/prometheus"})


async def test_no_targets_api_degrades_with_one_note(tmp_path: Path) -> None:
    """Mocked: Mimir answers 404 for /api/v1/targets and has no Debian package, so no real one can run here."""
    now = 1_800_000_000.0

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/prometheus")
        if path == "/api/v1/status/buildinfo":
            return httpx.Response(200, json=envelope({**PROM_INFO, "application": "Grafana Mimir"}))
        if path == "/api/v1/targets":
            return httpx.Response(404, text="404 page not found\n")
        if path == "/api/v1/label/instance/values":  # the first start's look for hosts gone within the day
            return httpx.Response(200, json=envelope(["web-01"]))
        query = dict(httpx.QueryParams(request.content.decode())).get("query", "")
        result = []
        if query == "timestamp(up)":
            labels = {"instance": "web-01", "job": "integrations/unix"}
            result = [{"metric": labels, "value": [now, str(now - 5)]}]
        return httpx.Response(200, json=envelope({"resultType": "vector", "result": result}))

    s = _settings(tmp_path)
    async with PrometheusClient(s, transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(TargetsUnavailable) as ei:
            await c.targets()
        assert ei.value.status == 404
        snap = await FleetReader(c, s).snapshot(now)
    assert snap.backend == "Mimir"
    assert len(snap.notes) == 1 and "no targets API" in snap.notes[0] and "\n" not in snap.notes[0]
    (host,) = snap.hosts
    assert (host.instance, host.state.value, host.mode.value, host.scrape_url) == ("web-01", "up", "push", None)
    doc = json.loads(json.dumps(snap.to_json()))
    assert doc["backend"] == "Mimir" and doc["notes"] == list(snap.notes)


async def test_the_first_refresh_queries_before_the_backend_is_known_and_a_refusal_is_sent_again(
    tmp_path: Path,
) -> None:
    """Mocked: the first refresh sends its presence queries while the backend is being detected, with every
    backend's parameters (VictoriaMetrics' nocache=1, which Prometheus ignores: tests/lab covers both); no
    real backend refuses them, so a made-up one that answers 400 to `nocache` stands in for the one that might."""
    now = 1_800_000_000.0
    queries: list[tuple[str, bool]] = []  # (query, sent with nocache)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/status/buildinfo":
            await asyncio.sleep(0.2)  # the queries leave meanwhile, as over a network
            return httpx.Response(200, json=envelope(PROM_INFO))
        if request.url.path == "/api/v1/targets":
            return httpx.Response(200, json=envelope({"activeTargets": [], "droppedTargets": []}))
        form = dict(httpx.QueryParams(request.content.decode()))
        queries.append((form["query"], "nocache" in form))
        if "nocache" in form:
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "unknown nocache"})
        result = []
        if form["query"] == "timestamp(up)":
            result = [{"metric": {"instance": "web-01", "job": "integrations/unix"}, "value": [now, str(now - 5)]}]
        return httpx.Response(200, json=envelope({"resultType": "vector", "result": result}))

    s = _settings(tmp_path).with_overrides({"prometheus.url": "http://prom.example"})
    async with PrometheusClient(s, transport=httpx.MockTransport(handler)) as c:
        reader = FleetReader(c, s)
        snap = await reader.refresh(now)
        first = list(queries)
        queries.clear()
        await reader.refresh(now + 15)
    assert [h.instance for h in snap.hosts] == ["web-01"] and snap.backend == "Prometheus"
    presence = {q for q, _ in first if q.startswith(("timestamp(up)", "max without"))}
    assert len(presence) == 2
    # each presence query went out before the backend was known, was refused, and was sent again without it
    assert sorted(sent for sent in first if sent[0] in presence) == sorted(
        [(q, nocache) for q in presence for nocache in (False, True)]
    )
    assert not any(nocache for q, nocache in first if q not in presence)  # the others waited for the backend
    assert not any(nocache for _, nocache in queries)  # once it is known, only its own parameters
    assert reader.refresh_requests == 5


def test_split_to_fit_keeps_every_item_once_in_order() -> None:
    items = [f"host-{i:04d}" for i in range(1000)]

    def build(names: Sequence[str]) -> str:
        return "up{instance=~" + "|".join(names) + "}"

    parts = backend.split_to_fit(items, build, 2000)
    assert [x for p in parts for x in p] == items
    assert all(len(build(p).encode()) <= 2000 for p in parts) and len(parts) > 1
    assert backend.split_to_fit(items, build, None) == [items]
    assert backend.split_to_fit([], build, 10) == []


@pytest.mark.parametrize(
    ("page", "limit"),
    [("", 16384), ('-search.maxQueryLen="65536"\n', 65536), ('-search.maxQueryLen="64KiB"\n', 65536)],
)
def test_vm_max_query_len(page: str, limit: int) -> None:
    assert backend.vm_max_query_len(page) == limit
