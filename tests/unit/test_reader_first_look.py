"""The first refresh's first look at a large fleet: its scrape targets alone, handed out while the presence
queries are still on their way (FleetReader.refresh's `early`).

Mocked with httpx.MockTransport, and each test says why: what is decided here is the order in which the
replies come in, and no real Prometheus answers in an order a test can choose (the lab's fleets are also far
below FIRST_LOOK_TARGETS). A real Prometheus makes first looks in tests/lab/test_status_scale.py (a restarted
console's, from its saved last-seen book) and in bench/console.py (10,000 and 50,000 hosts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from fleetui.adapters.prometheus import FIRST_LOOK_TARGETS, FleetReader, PrometheusClient
from fleetui.config import Settings, load
from fleetui.domain.fleet import FleetSnapshot, HostState, Mode

NOW = 1_800_000_000.0
PROM_INFO = {"version": "2.42.0", "revision": "x", "branch": "HEAD", "buildUser": "", "buildDate": "", "goVersion": ""}


def _settings(tmp_path: Path) -> Settings:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("")
    return load(cfg, environ={}, overrides={"prometheus.url": "http://prom.example"})


def _ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": data})


def _target(i: int) -> dict[str, object]:
    """A pull host's target: every tenth one fails its scrapes."""
    inst = f"node-{i:05d}:9100"
    down = i % 10 == 0
    return {
        "discoveredLabels": {"__address__": inst},
        "labels": {"instance": inst, "job": "node", "environment": "prod"},
        "scrapePool": "node",
        "scrapeUrl": f"http://{inst}/metrics",
        "lastError": "connection refused" if down else "",
        "lastScrape": "2027-01-15T08:00:00Z",
        "lastScrapeDuration": 0.01,
        "health": "down" if down else "up",
    }


def _handler(
    n_targets: int, *, presence_waits: Callable[[], Awaitable[None]], targets_wait: float = 0.0
) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """Prometheus' replies for `n_targets` pull hosts and one push host (`push-01`, in the presence replies
    only); the presence replies come after `presence_waits()`, the targets after `targets_wait` seconds."""
    targets = [_target(i) for i in range(n_targets)]
    pulls = [t["labels"] for t in targets if t["health"] == "up"]
    push = {"instance": "push-01", "job": "integrations/unix", "environment": "prod"}

    async def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/status/buildinfo":
            return _ok(PROM_INFO)
        if path == "/api/v1/targets":
            await asyncio.sleep(targets_wait)
            return _ok({"activeTargets": targets, "droppedTargets": []})
        query = dict(httpx.QueryParams(request.content.decode()))["query"]
        result: list[dict[str, object]] = []
        if query == "timestamp(up)":
            await presence_waits()
            result = [{"metric": m, "value": [NOW, str(NOW - 5)]} for m in (*pulls, push)]
        elif query.startswith("max without"):
            await presence_waits()
            named = [{**m, "nodename": str(m["instance"]).split(":")[0]} for m in (*pulls, push)]  # type: ignore[dict-item]
            result = [{"metric": m, "value": [NOW, str(NOW - 5)]} for m in named]
        return _ok({"resultType": "vector", "result": result})

    return handler


async def test_a_first_look_from_the_targets_comes_while_the_presence_replies_are_on_their_way(
    tmp_path: Path,
) -> None:
    """Mocked (see the module docstring): the presence replies are held until the first look is out."""
    looked: list[FleetSnapshot] = []
    out = asyncio.Event()

    async def presence_waits() -> None:
        await asyncio.wait_for(out.wait(), 10)  # a first look never made fails below, after 10 s

    def early(snap: FleetSnapshot) -> None:
        looked.append(snap)
        out.set()

    n = FIRST_LOOK_TARGETS
    handler = _handler(n, presence_waits=presence_waits)
    async with PrometheusClient(_settings(tmp_path), transport=httpx.MockTransport(handler)) as c:
        reader = FleetReader(c, _settings(tmp_path))
        whole = await reader.refresh(NOW, early=early)
    assert len(looked) == 1 and reader.refresh_requests == 5  # the first look cost no request
    (look,) = looked
    assert look.targets_only and not whole.targets_only
    # every target's host, and nothing the targets do not say: no push host, no node names
    assert [h.instance for h in look.hosts] == [f"node-{i:05d}:9100" for i in range(n)]
    assert all(h.mode is Mode.PULL and h.nodename is None for h in look.hosts)
    down = [h for h in look.hosts if h.state is HostState.DOWN]
    assert len(down) == n // 10 and all(h.last_error == "connection refused" for h in down)
    # a down host's last-seen time is not known yet (nothing remembered): pending, never "never seen"
    seen = look.times.last_seen
    assert all(seen.get(h.instance) is None and h.last_seen_pending for h in down)
    assert all(h.state is HostState.UP and seen.get(h.instance) is not None for h in look.hosts if h not in down)
    # the refresh's own rows are the whole fleet, as without a first look
    assert [h.instance for h in whole.hosts] == sorted([*(h.instance for h in look.hosts), "push-01"])
    assert whole.by_instance()["node-00001:9100"].nodename == "node-00001"
    assert whole.by_instance()["push-01"].mode is Mode.PUSH


async def test_no_first_look_for_a_small_fleet_or_when_the_presence_replies_came_first(tmp_path: Path) -> None:
    """Mocked (see the module docstring): below FIRST_LOOK_TARGETS targets, and when the targets reply comes
    in after both presence replies, the refresh ends without a first look (it would only flash on screen)."""
    looked: list[FleetSnapshot] = []

    async def presence_after_a_while() -> None:
        await asyncio.sleep(0.3)

    async def presence_at_once() -> None:
        return None

    cases = [
        _handler(FIRST_LOOK_TARGETS - 1, presence_waits=presence_after_a_while),
        _handler(FIRST_LOOK_TARGETS, presence_waits=presence_at_once, targets_wait=0.3),
    ]
    for handler in cases:
        async with PrometheusClient(_settings(tmp_path), transport=httpx.MockTransport(handler)) as c:
            snap = await FleetReader(c, _settings(tmp_path)).refresh(NOW, early=looked.append)
        assert not snap.targets_only and len(snap.hosts) > FIRST_LOOK_TARGETS // 2
    assert looked == []
