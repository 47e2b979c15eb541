"""Refresh cost at scale, and last-seen times that survive a restart, against private real Prometheus servers.

The hosts live in private Prometheus servers (fleetui.lab.scale, the same binary as the lab's), not in the
lab's: thousands of remote-written hosts would show up as `gone` in every other test's and the console's
fleet for the whole 24 h look-back, and the lab's Prometheus has no admin API to delete them. Pull targets
are real file_sd targets (on closed loopback ports, or on a real HTTP server this test runs), push hosts
real remote_write requests.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fleetui.adapters.lastseen_file import book_path, load_book
from fleetui.adapters.prometheus import FleetReader, PrometheusClient, recording_rule_hint
from fleetui.domain.classify import FleetInputs, Sample, Target, classify
from fleetui.domain.fleet import RULES_HINT, FleetSnapshot, HostState, Mode
from fleetui.domain.lastseen import BATCH, WINDOW, Step
from fleetui.lab.remote_write import push
from fleetui.lab.scale import PUSH_INTERVAL, PrivatePrometheus, build
from fleetui.tui.source import PrometheusSource, rules_hint

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def private_prometheus(
    tmp_path_factory: pytest.TempPathFactory, debian_tool: Callable[[str], str]
) -> Iterator[PrivatePrometheus]:
    debian_tool("prometheus")
    p = PrivatePrometheus(tmp_path_factory.mktemp("scale-prom"))
    try:
        yield p
    finally:
        p.stop()


async def test_console_and_doctor_suggest_the_recording_rule_once_when_it_is_absent(
    private_prometheus: PrivatePrometheus, tmp_path: Path
) -> None:
    """A real Prometheus without the rule of `fleetui rules`: the console says so once, as information (not a
    warning or an error), however many refreshes follow; the doctor's check asks the same backend. (The
    rule-present case is the recording-rule test below.)"""
    from fleetui.tui.app import FleetApp
    from fleetui.tui.screens.fleet import FleetScreen

    s = private_prometheus.settings(tmp_path).with_overrides({"refresh_interval": 1})
    async with PrometheusClient(s) as c:
        assert await recording_rule_hint(c) == RULES_HINT
    argv = [sys.executable, "-m", "fleetui", "--config", str(tmp_path / "config.yaml")]
    argv += ["--set", f"prometheus.url={private_prometheus.url}", "doctor", "127.0.0.1:1"]
    # its operation log goes to the test's own state dir, which the command inherits (tests/conftest.py)
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=60, check=False)
    doctor = await asyncio.to_thread(run, argv)
    assert "FAIL" in doctor.stdout  # nothing listens there: the checklist stops at ssh
    assert doctor.stderr.splitlines().count(f"fleetui: hint: {RULES_HINT}") == 1, doctor.stderr
    source = PrometheusSource(s)
    app = FleetApp(s, source, config_file=None)
    try:
        async with app.run_test(size=(120, 30), notifications=True) as pilot:
            screen = next(x for x in app.screen_stack if isinstance(x, FleetScreen))
            await _until(lambda: screen.snapshot is not None, 30, "the first snapshot")
            first = screen.snapshot
            await _until(lambda: screen.snapshot is not first, 30, "a second refresh")
            await pilot.pause()
            hints = [n for n in app._notifications if "fleetui rules" in str(n.message)]
            assert [(str(n.message), n.severity) for n in hints] == [(RULES_HINT, "information")]
    finally:
        source.close()


async def _refresh(prom: PrivatePrometheus, tmp: Path) -> tuple[int, int, dict[str, int]]:
    s = prom.settings(tmp)
    async with PrometheusClient(s) as c:
        reader = FleetReader(c, s)
        snap = await reader.refresh()
        modes = {m.value: sum(1 for h in snap.hosts if h.mode is m) for m in Mode}
        assert all(h.state in (HostState.UP, HostState.DOWN) for h in snap.hosts)
        # the client's one-off backend detection, then the refresh itself, which reads no history
        assert c.request_count == 1 + reader.refresh_requests
        return reader.refresh_requests, len(snap.hosts), modes


async def test_requests_per_refresh_same_at_10_and_10000_hosts(
    private_prometheus: PrivatePrometheus, tmp_path: Path
) -> None:
    private_prometheus.add_hosts(0, 10)
    private_prometheus.wait_targets(5)
    small, n_small, modes_small = await _refresh(private_prometheus, tmp_path)
    assert (n_small, modes_small) == (10, {"pull": 5, "push": 5})

    private_prometheus.add_hosts(10, 10_000)
    private_prometheus.wait_targets(5_000)
    large, n_large, modes_large = await _refresh(private_prometheus, tmp_path)
    assert (n_large, modes_large) == (10_000, {"pull": 5_000, "push": 5_000})

    assert small == large == 5


class _HeldBack(httpx.AsyncHTTPTransport):
    """The real transport, with the replies to the requests `held` picks held back `seconds`: to make the
    order replies come in that a test-sized fleet does not produce by itself."""

    def __init__(self, held: Callable[[httpx.Request], bool], seconds: float) -> None:
        super().__init__()
        self.held, self.seconds = held, seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.held(request):
            await asyncio.sleep(self.seconds)
        return await super().handle_async_request(request)


def _targets_late() -> _HeldBack:
    """The targets reply held back until both presence replies are surely in: the order a 50,000-host
    fleet's replies often come in (its targets reply is the largest)."""
    return _HeldBack(lambda r: r.url.path.endswith("/api/v1/targets"), 0.5)


class _PresenceTogether(httpx.AsyncHTTPTransport):
    """The real transport, with the two presence queries' replies held back until the targets reply is surely
    in and then handed over together: with no reply last on its own, the reader makes no guess
    (fleetui.domain.reclassify.Classifier.guess), and every row is worked out by the classification itself."""

    def __init__(self) -> None:
        super().__init__()
        self._held: list[asyncio.Future[None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not (b"timestamp%28up%29" in request.content or b"timestamp%28node_uname_info%29" in request.content):
            return await super().handle_async_request(request)
        await asyncio.sleep(0.3)
        resp = await super().handle_async_request(request)
        body = b"".join([chunk async for chunk in resp.aiter_raw()])  # as sent (gzip): the client decodes it
        await resp.aclose()
        mine = asyncio.get_running_loop().create_future()
        self._held.append(mine)
        if len(self._held) == 2:
            for held in self._held:
                held.set_result(None)
            self._held = []
        await mine
        return httpx.Response(
            resp.status_code, headers=resp.headers, stream=httpx.ByteStream(body), extensions=resp.extensions
        )


def _presence_late() -> _PresenceTogether:
    return _PresenceTogether()


def _uname_late() -> _HeldBack:
    """The node_uname_info reply held back until the targets and `up` replies are surely in: the reader then
    predicts it from the `up` reply and the previous refresh (predicted_presence) and guesses from that."""
    return _HeldBack(lambda r: b"timestamp%28node_uname_info%29" in r.content, 0.5)


async def _checked_refresh(reader: FleetReader, n: int) -> tuple[FleetSnapshot, list[Target], list[Sample]]:
    """One refresh (its replies kept), checked against the one-shot `classify` of the same replies, rows and
    times; with its targets and current samples."""
    snap = await reader.refresh(keep=True)
    assert reader._inputs is not None
    t, targets, current, _, _, macos, _ = reader._inputs
    full = FleetInputs(now=t, targets=targets, current=current, history=reader.book.history(), macos=macos,
                       pending=reader.book.pending())  # fmt: skip
    hosts, times = classify(full, reader.policy)
    assert snap.hosts == hosts, f"refresh {n}"
    assert snap.times == times, f"refresh {n}"
    return snap, targets, current


async def _guessed_per_refresh(prom_dir: Path, tmp_path: Path, transport: httpx.AsyncBaseTransport) -> list[int]:
    """Four refreshes, each checked against the one-shot `classify` of its replies, of 5 pull targets on closed
    ports scraped every second (so each refresh's are new) and 5 push hosts that pushed once; the replies
    come in through `transport`. Returns how many rows each refresh took from the classifier's guess."""
    prom = PrivatePrometheus(prom_dir, scrape_interval="1s")
    try:
        prom.add_hosts(0, 10)
        prom.wait_targets(5, scraped=True)
        s = prom.settings(tmp_path)
        async with PrometheusClient(s, transport=transport) as c:
            reader = FleetReader(c, s, guess=True)  # a Prometheus on this machine gets no guess by default
            guessed = []
            for n in range(4):
                snap, _, _ = await _checked_refresh(reader, n)
                assert len(snap.hosts) == 10
                guessed.append(reader.classifier.guessed)
                await asyncio.sleep(1.2)  # the targets scraped again in between
        return guessed
    finally:
        prom.stop()


async def test_rows_guessed_while_the_targets_are_on_their_way_are_the_full_classification(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, debian_tool: Callable[[str], str]
) -> None:
    """With the targets reply last, the reader has the classifier work out the rows from both presence
    replies and the previous refresh's targets (Classifier.guess) and takes each one it got right. Refresh
    after refresh, the rows are what the one-shot `classify` gives for the same replies, and the push hosts'
    rows came from the guess."""
    debian_tool("prometheus")
    guessed = await _guessed_per_refresh(tmp_path_factory.mktemp("guess-prom"), tmp_path, _targets_late())
    assert sum(guessed) >= 3 * 5  # the push hosts of every refresh after the first


async def test_rows_guessed_from_a_predicted_presence_reply_are_the_full_classification(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, debian_tool: Callable[[str], str]
) -> None:
    """With the node_uname_info reply last, the reader predicts it from the `up` reply and the previous
    refresh's (each host's series at the time of its `up` sample), has the classifier work out the rows from
    that and the targets, and takes each one whose samples came as predicted. Refresh after refresh, the
    rows are the one-shot `classify`'s; the first refresh has nothing to guess from, and in the third and
    fourth every host's row came from the guess."""
    debian_tool("prometheus")
    guessed = await _guessed_per_refresh(tmp_path_factory.mktemp("predict-prom"), tmp_path, _uname_late())
    assert guessed[0] == 0 and guessed[2:] == [10, 10], guessed


async def test_hosts_whose_replies_did_not_change_keep_their_rows_refresh_after_refresh(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, debian_tool: Callable[[str], str]
) -> None:
    """Pull targets not scraped yet (scraped hourly) and push hosts that pushed once: from one refresh to the
    next, a host whose targets and samples are what the refresh before had keeps its row without label or
    state work, though the reader frees each refresh's replies after it (not what the next classification
    compares with). Counted against the replies themselves (a target Prometheus happens to scrape meanwhile
    is one that changed); the rows are still the one-shot classification."""
    debian_tool("prometheus")
    prom = PrivatePrometheus(tmp_path_factory.mktemp("same-prom"))
    try:
        prom.add_hosts(0, 10)  # 5 pull targets on closed ports, 5 push hosts
        prom.wait_targets(5)
        s = prom.settings(tmp_path)
        async with PrometheusClient(s, transport=_presence_late()) as c:
            reader = FleetReader(c, s, guess=True)  # no guess even so: no reply comes last on its own
            before: dict[str, tuple[list[Target], list[Sample]]] = {}
            kept = 0
            for n in range(4):
                snap, targets, current = await _checked_refresh(reader, n)
                now = {
                    h.instance: ([tg for tg in targets if tg.instance == h.instance],
                                 [smp for smp in current if smp.instance == h.instance])
                    for h in snap.hosts
                }  # fmt: skip
                same = sum(1 for inst, got in now.items() if before.get(inst) == got)
                assert (reader.classifier.unchanged, reader.classifier.guessed) == (same, 0), f"refresh {n}"
                kept += same
                before = now
                await asyncio.sleep(0.2)  # the freeing after this refresh runs meanwhile
        assert kept >= 3 * 8  # most hosts in each refresh after the first
    finally:
        prom.stop()


async def test_reader_uses_the_recording_rule_fleetui_rules_prints(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, debian_tool: Callable[[str], str]
) -> None:
    """The rules file of `fleetui rules`, loaded by a real Prometheus, is detected and feeds last_seen."""
    debian_tool("prometheus")
    from fleetui.domain.rules import render_rules

    prom = PrivatePrometheus(tmp_path_factory.mktemp("rule-prom"), rules=render_rules())
    try:
        now = int(time.time() * 1000)
        labels = {"instance": "t-rule-push", "job": "integrations/unix", "environment": "x", "maintainers": "y"}
        push(f"{prom.url}/api/v1/write", [({"__name__": "up", **labels}, [(now - 1000, 1.0)])])
        deadline = time.monotonic() + 20
        s = prom.settings(tmp_path)
        while True:
            async with PrometheusClient(s) as c:
                rule = await c.query("node_last_seen_timestamp")
            if rule:
                break
            assert time.monotonic() < deadline, "the recording rule recorded nothing"
            await asyncio.sleep(0.5)
        assert rule[0].value == pytest.approx((now - 1000) / 1000, abs=0.001)  # the sample's time, not eval time
        async with PrometheusClient(s) as c:
            reader = FleetReader(c, s)
            snap = await reader.snapshot()
            assert reader.refresh_requests == 5
            assert await recording_rule_hint(c) is None  # the doctor says nothing either
        assert snap.last_seen_source == "recording_rule" and snap.recording_rule
        assert rules_hint(PrometheusSource(s), snap) is None  # nor does the console
        (host,) = snap.hosts
        seen = snap.times.last_seen.get(host.instance)
        assert (host.instance, host.state, seen) == ("t-rule-push", HostState.UP, (now - 1000) / 1000)
    finally:
        prom.stop()


class _Exporter(http.server.BaseHTTPRequestHandler):
    """A real scrape target: node_uname_info for one host."""

    def do_GET(self) -> None:
        body = b'node_uname_info{nodename="t-restart",sysname="Linux"} 1\n'
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


async def _until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"timed out after {limit:g}s waiting for {what}"
        await asyncio.sleep(0.2)


async def test_last_seen_of_a_host_that_went_down_survives_a_console_restart_without_a_history_query(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, debian_tool: Callable[[str], str]
) -> None:
    debian_tool("prometheus")
    prom = PrivatePrometheus(tmp_path_factory.mktemp("restart-prom"), scrape_interval="1s")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target = f"127.0.0.1:{server.server_address[1]}"
        prom.write_targets([{"targets": [target], "labels": {"instance": "t-restart", "environment": "x"}}])
        health = lambda: {t["labels"]["instance"]: t["health"] for t in prom.active_targets()}  # noqa: E731
        await _until(lambda: health().get("t-restart") == "up", 30, "the target to be scraped")
        s = prom.settings(tmp_path).with_overrides({"schema.required_labels": ["environment"]})
        state = tmp_path / "state"

        first = PrometheusSource(s, state_dir=state)
        try:
            snap = await first.snapshot()
            (up,) = snap.hosts
            up_seen = snap.times.last_seen.get(up.instance)
            assert (up.state, up.problems) == (HostState.UP, ()) and up_seen is not None
            server.shutdown()  # the host goes down: connection refused from the next scrape on
            server.server_close()
            await _until(lambda: health().get("t-restart") == "down", 30, "the target to be down")
            snap = await first.snapshot()
            (down,) = snap.hosts
            down_seen = snap.times.last_seen.get(down.instance)
            assert down.state is HostState.DOWN and down_seen is not None and down_seen >= up_seen
            await first.catch_up()  # its exact last success, from the raw samples since the refresh saw it up
            snap = await first.snapshot()
            (down,) = snap.hosts
            down_seen = snap.times.last_seen.get(down.instance)
        finally:
            first.close()
        async with PrometheusClient(s) as c:
            (raw,) = await c.query_range_vector('up{instance="t-restart"}[5m]', time.time())
        assert down_seen == max(t for t, v in raw[1] if v == "1")  # Prometheus' own record of it

        again = PrometheusSource(s, state_dir=state)
        try:
            snap = await again.snapshot()
            (after,) = snap.hosts
            reader = again.reader
            assert reader is not None
            after_seen = snap.times.last_seen.get(after.instance)
            assert (after.state, after_seen, after.last_seen_pending) == (HostState.DOWN, down_seen, False)
            assert reader.refresh_requests == 5
            assert "t-restart" not in reader.book.lookups  # nothing will be looked up for it
            await again.catch_up()
            # what ran in the background: only the index of which instances had data while no console ran
            assert set(reader.history_kinds) <= {"discover"}, reader.history_kinds
            assert reader.book.entries["t-restart"].last == down_seen
        finally:
            again.close()
        # the first look a large fleet gets at a start, from the targets alone (FleetReader.first_look): the
        # host down, with the last-seen time the saved book remembers, before any presence reply
        book = load_book(book_path(s, state), str(s["prometheus.url"]), float(s["lookback"]))
        async with PrometheusClient(s) as c:
            look = FleetReader(c, s, book=book).first_look(time.time(), await c.targets())
        (looked,) = look.hosts
        assert look.targets_only and (looked.state, looked.mode) == (HostState.DOWN, Mode.PULL)
        looked_seen = look.times.last_seen.get(looked.instance)
        assert (looked_seen, looked.last_seen_pending, looked.nodename) == (down_seen, False, None)
    finally:
        server.server_close()
        prom.stop()


async def test_hours_of_history_found_exactly_in_bounded_steps(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, debian_tool: Callable[[str], str]
) -> None:
    """400 hosts, half down or gone since times spread over three hours: every last-seen time the history
    steps find is the sample time Prometheus holds, and no step reads more than BATCH hosts or WINDOW."""
    debian_tool("prometheus")
    hours = 3  # one window and a half of history steps: walking back past a window is covered
    prom, farm, fleet = build(
        tmp_path_factory.mktemp("day-prom"), 400, "half-down", history=hours * 3600.0, pull_interval=5, settle=False
    )
    try:
        s = prom.settings(tmp_path)
        async with PrometheusClient(s) as c:
            reader = FleetReader(c, s)
            steps: list[Step] = []
            plan = reader.book.next_step

            def record() -> Step | None:
                step = plan()
                if step is not None:
                    steps.append(step)
                return step

            reader.book.next_step = record  # type: ignore[method-assign]
            snap = await reader.snapshot()
        assert steps and all(len(st.instances) <= BATCH and st.end - st.start <= WINDOW for st in steps)
        hosts = snap.by_instance()
        checked = 0
        for h in fleet:
            if h.state == "up" or h.event_at is None or h.event_at < snap.taken_at - hours * 3600 + 60:
                continue
            if h.event_at > snap.taken_at - 360:  # still in an instant query (no stale marker was written)
                continue
            interval = fleet.pull_interval if h.kind == "pull" else PUSH_INTERVAL
            got = hosts[h.instance]
            assert got.state.value == h.state, h
            seen = snap.times.last_seen.get(h.instance)
            assert seen == pytest.approx((-(-h.event_at // interval) - 1) * interval, abs=0.001), h
            checked += 1
        assert checked > 150
    finally:
        farm.stop()
        prom.stop()
