"""PrometheusClient failures and request details.

Unreachable and timeout use real sockets (a closed port; a server that accepts and never answers). Replies a
real Prometheus never sends — a proxy's HTML error page, a truncated body, JSON that is not the API envelope —
and the auth/tenant headers (the lab's Prometheus checks no credentials, so nothing could observe them) are
served by httpx.MockTransport; each such test says so.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fleetui.adapters.labelsets import LabelSets
from fleetui.adapters.prometheus import (
    BadJSON,
    FleetReader,
    HTTPStatusError,
    PrometheusClient,
    PrometheusError,
    QueryError,
    Timeout,
    Unreachable,
    same_machine,
)
from fleetui.config import Settings, load
from tests.hostile import LABEL_VALUES


def settings(tmp_path: Path, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("")
    return load(cfg, environ=environ or {}, overrides={k.replace("__", "."): v for k, v in overrides.items()})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line(e: PrometheusError, url: str) -> str:
    text = str(e)
    assert "\n" not in text and url in text, text
    return text


async def test_unreachable_is_one_line_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with PrometheusClient(settings(tmp_path, prometheus__url=url)) as c:
        with pytest.raises(Unreachable) as ei:
            await c.query("up")
    assert "cannot connect" in one_line(ei.value, url)


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A real TCP server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for w in held:
        w.close()
    server.close()


async def test_timeout_uses_configured_seconds(tmp_path: Path, silent_server: str) -> None:
    async with PrometheusClient(settings(tmp_path, prometheus__url=silent_server, prometheus__timeout="0.3")) as c:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(Timeout) as ei:
            await c.targets()
        assert loop.time() - t0 < 3
    assert "0.3s" in one_line(ei.value, silent_server)


def mock(
    handler: httpx.MockTransport | None = None, status: int = 200, body: str = "", ctype: str = "application/json"
) -> httpx.MockTransport:
    return handler or httpx.MockTransport(lambda r: httpx.Response(status, text=body, headers={"Content-Type": ctype}))


URL = "http://prom.example:9090"


async def test_proxy_html_error_page_is_http_status_with_excerpt(tmp_path: Path) -> None:
    """Mocked: a reverse proxy's 502 page; Prometheus itself never answers with HTML."""
    page = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>"
    async with PrometheusClient(
        settings(tmp_path, prometheus__url=URL), transport=mock(status=502, body=page, ctype="text/html")
    ) as c:
        with pytest.raises(HTTPStatusError) as ei:
            await c.query("up")
    assert ei.value.status == 502 and "502 Bad Gateway" in ei.value.body
    assert "HTTP 502" in one_line(ei.value, URL)


def chunked(body: str, size: int) -> httpx.MockTransport:
    """Every reply `body`, `size` bytes at a time (Prometheus sends a large reply over tens of milliseconds)."""

    async def parts() -> AsyncIterator[bytes]:
        data = body.encode()
        for i in range(0, len(data), size):
            yield data[i : i + size]

    return httpx.MockTransport(
        lambda r: httpx.Response(200, content=parts(), headers={"Content-Type": "application/json"})
    )


MALFORMED = pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"status":"success","data":{"resultType":"vec', "not JSON"),  # truncated
        ("<html>login</html>", "not JSON"),  # an SSO page served with 200
        ('["just", "a", "list"]', "not a Prometheus API envelope"),
        ('{"status":"success"}', 'no \\"data\\"'),
        ('{"status":"success","data":{"resultType":"matrix","result":[]}}', "expected an instant vector"),
        ('{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}', "unexpected query result"),
        (
            '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{}}]}}',
            "unexpected query result",
        ),
        (
            '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{},"value":[1,"1"]}',
            "not JSON",
        ),
    ],
)


@MALFORMED
async def test_malformed_replies_are_bad_json(tmp_path: Path, body: str, fragment: str) -> None:
    """Mocked: malformed 200 replies that a real Prometheus does not produce."""
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=mock(body=body)) as c:
        with pytest.raises(BadJSON) as ei:
            await c.query("up")
    assert fragment.replace("\\", "") in one_line(ei.value, URL)


@MALFORMED
@pytest.mark.parametrize("size", [1, 9, 1 << 16])
async def test_malformed_replies_read_as_they_come_are_bad_json(
    tmp_path: Path, body: str, fragment: str, size: int
) -> None:
    """Mocked, as above, and sent a few bytes at a time: a presence query's reply is decoded while it comes in
    (fleetui.adapters.jsonstream), and a malformed one ends in the same error as read whole."""
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=chunked(body, size)) as c:
        with pytest.raises(BadJSON) as ei:
            await c.vector(c.form_now("up", None), "up", LabelSets())
    assert fragment.replace("\\", "") in one_line(ei.value, URL)


@pytest.mark.parametrize("size", [1, 9, 200, 1 << 16])
async def test_a_reply_read_as_it_comes_is_the_whole_replys(tmp_path: Path, size: int) -> None:
    """Mocked: the same reply, whole and a few bytes at a time, gives the same samples, hostile label text and
    values that are no number (left out) included; the lab's real replies are read both ways in
    tests/lab/test_status_lab.py."""
    elements = [
        {"metric": {"instance": h.text, "job": '},{"metric":{"job":"x"}'}, "value": [1, str(i) if i % 5 else "NaN"]}
        for i, h in enumerate(LABEL_VALUES)
    ]
    body = json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": elements}}, separators=(",", ":")
    )
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=mock(body=body)) as c:
        whole = await c.query("up")
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=chunked(body, size)) as c:
        got = await c.vector(c.form_now("up", None), "up", LabelSets())
    assert [(s.labels, s.value) for s in got] == [(s.labels, s.value) for s in whole]
    assert len(got) == len(elements) - len(elements[::5])


async def test_samples_that_are_no_number_are_left_out(tmp_path: Path) -> None:
    """Mocked: a value that is no number at all comes only from a broken backend; a real Prometheus sends NaN
    (and a stale marker) for an instant query only in expressions fleetui's refresh does not make. Both are
    left out, and the samples around them keep their own labels and values."""
    elements = [
        {"metric": {"instance": "a"}, "value": [1, "1.5"]},
        {"metric": {"instance": "b"}, "value": [1, "NaN"]},
        {"metric": {"instance": "c"}, "value": [1, "abc"]},
        {"metric": {"instance": "d"}, "value": [1, "+Inf"]},
    ]
    body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": elements}})
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=mock(body=body)) as c:
        got = await c.query("up")
    assert [(s.instance, s.value) for s in got] == [("a", 1.5), ("d", float("inf"))]
    elements = elements[:1]  # all numbers: the same answer without the slow path
    body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": elements}})
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=mock(body=body)) as c:
        assert [(s.instance, s.value) for s in await c.query("up")] == [("a", 1.5)]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"status": "success", "data": {}}),
        '{"status":"success","data":{"activeTargets":[{"discoveredLabels":{},"labels":{}},{"discoveredLabels":{}',
        '{"status":"success","data":{"activeTargets":[{"discoveredLabels":{},"labels":{}},{"discoveredLabels":{}}]}}',
    ],
)
@pytest.mark.parametrize("size", [5, 1 << 16])
async def test_malformed_targets_reply(tmp_path: Path, body: str, size: int) -> None:
    """Mocked: a targets reply without activeTargets (a Prometheus-compatible backend that lacks the API), cut
    short, or with a target without labels, whole and a few bytes at a time."""
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=chunked(body, size)) as c:
        with pytest.raises(BadJSON, match=r"/api/v1/targets: (unexpected targets reply|reply is not JSON)"):
            await c.targets()


async def test_a_target_never_scraped_has_no_scrape_duration(tmp_path: Path) -> None:
    """Mocked: a real Prometheus lists a new target as never scraped only until its first scrape (a race a
    lab test cannot hold still); the reply's zero duration is unknown, not "took 0.000 s"."""
    target = {
        "labels": {"instance": "new:9100", "job": "node"},
        "scrapePool": "node",
        "scrapeUrl": "http://new:9100/metrics",
        "lastError": "",
        "lastScrape": "0001-01-01T00:00:00Z",
        "lastScrapeDuration": 0,
        "health": "unknown",
    }
    scraped = {**target, "labels": {"instance": "old:9100", "job": "node"}, "health": "up"}
    scraped |= {"lastScrape": "2026-11-30T08:00:00.5Z", "lastScrapeDuration": 0.012}
    body = json.dumps({"status": "success", "data": {"activeTargets": [target, scraped]}})
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=mock(body=body)) as c:
        new, old = await c.targets()
    assert new.last_scrape is None and new.scrape_duration is None
    assert old.last_scrape is not None and old.scrape_duration == 0.012


async def test_error_envelope_is_query_error(tmp_path: Path) -> None:
    """Mocked here for the parsing; tests/lab/test_status_lab.py gets the same from the real Prometheus."""
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error:\nunexpected"})
    async with PrometheusClient(settings(tmp_path, prometheus__url=URL), transport=mock(status=400, body=body)) as c:
        with pytest.raises(QueryError) as ei:
            await c.query("up{")
    assert (ei.value.error_type, ei.value.error) == ("bad_data", "parse error: unexpected")
    one_line(ei.value, URL)


async def test_auth_tenant_and_request_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mocked: the lab's Prometheus checks no credentials, so only a transport can see the headers sent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})

    monkeypatch.setenv("TOKEN", "tok")
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    s = settings(
        tmp_path,
        prometheus__url=URL,
        prometheus__username="ops",
        prometheus__password_file=str(pw),
        prometheus__bearer_token_env="TOKEN",
        prometheus__tenant="team-a",
    )
    async with PrometheusClient(s, transport=httpx.MockTransport(handler)) as c:
        assert await c.query("up", time=1700000000.5) == []
        await c.query("up")
        assert c.request_count == 3  # the backend is detected once, before the first query
    assert [r.url.path for r in seen] == ["/api/v1/status/buildinfo", "/api/v1/query", "/api/v1/query"]
    for r in seen:  # every request carries the tenant and the credentials, the detection too
        assert r.headers["X-Scope-OrgID"] == "team-a"
        assert r.headers["Authorization"] == "Bearer tok"  # bearer wins over basic when both are configured
    r = seen[1]
    assert r.method == "POST" and b"time=1700000000.500" in r.content


async def test_basic_auth_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mocked, as above: basic auth from a password env var."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "success", "data": {"version": "2.42.0"}})

    monkeypatch.setenv("PW", "pw")
    s = settings(tmp_path, prometheus__url=URL, prometheus__username="ops", prometheus__password_env="PW")
    async with PrometheusClient(s, transport=httpx.MockTransport(handler)) as c:
        assert (await c.buildinfo())["version"] == "2.42.0"
    assert seen[0].headers["Authorization"] == "Basic b3BzOnB3"


async def test_missing_ca_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PrometheusError) as ei:
        PrometheusClient(settings(tmp_path, prometheus__url="https://prom.example", prometheus__ca_file="/nonexistent"))
    assert "prometheus.ca_file" in one_line(ei.value, "https://prom.example")


def test_status_command_unreachable_exit_2_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("")
    p = subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(cfg), "status", "--prometheus", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and url in p.stderr and "Traceback" not in p.stderr


def test_status_command_bad_filter_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("")
    p = subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(cfg), "status", "--filter", "a=~("],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "bad regular expression" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize(
    ("url", "here"),
    [
        ("http://127.0.0.1:9090", True),
        ("http://127.3.4.5", True),
        ("http://localhost:9090", True),
        ("http://[::1]:9090/prometheus", True),
        ("http://10.0.0.7:9090", False),
        ("https://prom.example", False),
        ("http://[2001:db8::1]:9090", False),
    ],
)
async def test_the_guess_is_left_out_for_a_prometheus_on_this_machine(tmp_path: Path, url: str, here: bool) -> None:
    """Its CPU would be taken from Prometheus' answers (see FleetReader); a setting of the reader's wins."""
    assert same_machine(url) is here
    async with PrometheusClient(settings(tmp_path, prometheus__url=url)) as c:
        assert FleetReader(c, settings(tmp_path)).guess is not here
        assert FleetReader(c, settings(tmp_path), guess=True).guess
