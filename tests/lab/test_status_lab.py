"""Fleet status against the lab's real Prometheus, and the same on its real VictoriaMetrics: every state and
every problem code, classified the same on both backends.

Pull hosts are real scrapes: a file_sd target file of this module's own (`t-status.json`) points one target
at the spare lab host new-01's real node_exporter (up) and one at a closed port (down). Push hosts are real
remote_write requests sent here, with past timestamps for the stale and gone ones (the lab's TSDB accepts
out-of-order samples).
Every instance is prefixed `t-status-` so other tests' hosts never matter. After writing, the tests call
`fleetui.lab.flush()` (VictoriaMetrics searches new samples only a few seconds after they arrive).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from fleetui import lab as lab_mod
from fleetui.adapters.jsonstream import ArrayStream
from fleetui.adapters.labelsets import LabelSets
from fleetui.adapters.prometheus import FleetReader, PrometheusClient, QueryError, queries
from fleetui.config import Settings
from fleetui.domain.classify import PROBLEM_CODES
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, Mode, diff_snapshots
from fleetui.lab.remote_write import push

pytestmark = [pytest.mark.lab, pytest.mark.both_backends]
BACKEND_NAME = {"prometheus": "Prometheus", "victoriametrics": "VictoriaMetrics"}

P = "t-status-"
TEAM = {"environment": "test", "maintainers": "status-tests"}


def _node_series(
    instance: str,
    samples: list[tuple[int, float]],
    nodename: str | None = None,
    job: str = "integrations/unix",
    **labels: str,
) -> list[Any]:
    base = {"instance": instance, "job": job, **labels}
    return [
        ({"__name__": "up", **base}, samples),
        (
            {"__name__": "node_uname_info", **base, "nodename": nodename or instance, "sysname": "Linux"},
            [(t, 1.0) for t, _ in samples],
        ),
    ]


def _nodename_of(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'node_uname_info\{[^}]*nodename="([^"]*)"', text)
    assert m, "node_exporter exposes no node_uname_info"
    return m.group(1)


def _push_fleet(url: str) -> float:
    now_ms = int(time.time() * 1000)
    recent = [(now_ms - 10_000, 1.0), (now_ms - 2_000, 1.0)]
    stale = [(now_ms - 230_000, 1.0), (now_ms - 200_000, 1.0)]
    gone = [(now_ms - m * 60_000, 1.0) for m in range(40, 29, -1)]  # ends exactly 30 min ago
    series: list[Any] = []
    series += _node_series(f"{P}push-up", recent, **TEAM)
    series += _node_series(f"{P}push-stale", stale, **TEAM)
    series += _node_series(f"{P}push-gone", gone, **TEAM)
    # seed 000: a friendly instance, the real nodename, and job left as the component path
    series += _node_series(f"{P}pi", recent, nodename=f"{P}4b", job="prometheus.scrape.node_exporter", **TEAM)
    series += _node_series(f"{P}clone-a", recent, nodename=f"{P}golden", **TEAM)
    series += _node_series(f"{P}clone-b", recent, nodename=f"{P}golden", **TEAM)
    series += _node_series(f"{P}drift", recent, environment="test", maintainer="status-tests")
    series += _node_series(f"{P}nolabels", recent)
    series += _node_series(f"{P}mac", recent, **TEAM)
    series.append(
        ({"__name__": "node_memory_total_bytes", "instance": f"{P}mac", "job": "integrations/unix", **TEAM}, recent)
    )
    # macOS names and the Linux ones next to them (what `fleetui fix` deploys for a while): no problem
    series += _node_series(f"{P}mac-fixed", recent, **TEAM)
    for name in ("node_memory_total_bytes", "node_memory_MemTotal_bytes"):
        series.append(({"__name__": name, "instance": f"{P}mac-fixed", "job": "integrations/unix", **TEAM}, recent))
    push(url, series)
    return now_ms / 1000


@pytest.fixture(scope="module")
def fleet(lab: Any, lab_settings: Settings) -> Iterator[dict[str, Any]]:
    """Write the module's pull targets and push hosts, wait for the scrapes, yield what was written."""
    # new-01 is the lab's spare (no test enrolls it): its nodename is reported by nobody else, so the
    # duplicate_nodename rule stays quiet for this target.
    web = lab.host("new-01")
    exporter = f"{web.address}:19100"
    nodename = _nodename_of(exporter)
    target_file = lab.targets_dir / "t-status.json"
    tmp = target_file.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            [
                {"targets": [exporter], "labels": {"instance": f"{P}pull-up:19100", "hostname": nodename, **TEAM}},
                {"targets": ["127.0.0.1:9"], "labels": {"instance": f"{P}pull-down", **TEAM}},
            ]
        )
    )
    tmp.replace(target_file)
    try:
        deadline = time.monotonic() + 40
        while True:
            with urllib.request.urlopen(f"{lab.prometheus}/api/v1/targets?state=active", timeout=10) as r:
                health = {
                    t["labels"].get("instance"): (t["health"], bool(t["lastError"]))
                    for t in json.load(r)["data"]["activeTargets"]
                }
            # VictoriaMetrics lists a target as "down" before its first scrape: wait for the scrape's error too
            if health.get(f"{P}pull-up:19100") == ("up", False) and health.get(f"{P}pull-down") == ("down", True):
                break
            assert time.monotonic() < deadline, f"lab Prometheus did not scrape the test targets: {health}"
            time.sleep(1)
        written = _push_fleet(lab_settings.remote_write_url)
        lab_mod.flush()
        yield {"written": written, "nodename": nodename}
    finally:
        target_file.unlink(missing_ok=True)


async def _snapshot(settings: Settings, **kw: Any) -> tuple[FleetSnapshot, int]:
    """One refresh on a new client; the request count leaves out the client's one-off backend detection."""
    async with PrometheusClient(settings) as c:
        reader = FleetReader(c, settings, **kw)
        snap = await reader.snapshot()
        return snap, reader.refresh_requests  # the refresh's own; history look-ups are bounded steps


def _mine(snap: FleetSnapshot) -> dict[str, HostStatus]:
    return {h.instance: h for h in snap.hosts if h.instance.startswith(P)}


def _codes(h: HostStatus) -> set[str]:
    return {p.code for p in h.problems}


async def test_every_state_and_problem(fleet: dict[str, Any], lab: Any, lab_settings: Settings) -> None:
    snap, requests = await _snapshot(lab_settings)
    hosts = _mine(snap)
    seen = snap.times.last_seen
    written = fleet["written"]
    assert requests <= 6
    assert (snap.backend, snap.notes) == (BACKEND_NAME[lab.backend], ())

    up = hosts[f"{P}pull-up:19100"]
    assert (up.state, up.mode, up.nodename, up.problems) == (HostState.UP, Mode.PULL, fleet["nodename"], ())
    up_seen = seen.get(up.instance)
    assert up.scrape_url and up.scrape_url.endswith("/metrics") and up_seen and snap.taken_at - up_seen < 30

    down = hosts[f"{P}pull-down"]
    assert (down.state, down.mode) == (HostState.DOWN, Mode.PULL)
    assert down.last_error and "refused" in down.last_error

    pu = hosts[f"{P}push-up"]
    assert (pu.state, pu.mode, pu.problems) == (HostState.UP, Mode.PUSH, ())
    assert seen.get(pu.instance) == pytest.approx(written - 2, abs=0.01)

    st = hosts[f"{P}push-stale"]
    assert (st.state, st.mode) == (HostState.STALE, Mode.PUSH)
    assert seen.get(st.instance) == pytest.approx(written - 200, abs=0.01)

    gone = hosts[f"{P}push-gone"]
    assert gone.state is HostState.GONE
    assert seen.get(gone.instance) == pytest.approx(written - 1800, abs=0.01)  # exact: raw samples, or the rule
    assert gone.labels.get("environment") == "test"

    assert _codes(hosts[f"{P}pi"]) == {"instance_nodename_mismatch", "job_component_path"}
    # a clone keeps the golden image's hostname, so its instance differs from the nodename as well
    clone_codes = {"duplicate_nodename", "instance_nodename_mismatch"}
    assert _codes(hosts[f"{P}clone-a"]) == _codes(hosts[f"{P}clone-b"]) == clone_codes
    assert _codes(hosts[f"{P}drift"]) == {"label_key_drift", "missing_required_label"}
    assert _codes(hosts[f"{P}nolabels"]) == {"missing_required_label"}
    assert _codes(hosts[f"{P}mac"]) == {"macos_memory_names"}
    assert _codes(hosts[f"{P}mac-fixed"]) == set()

    seen_codes = set().union(*(_codes(h) for h in hosts.values()))
    assert seen_codes == set(PROBLEM_CODES)
    # every state Prometheus alone can tell (silent comes from the targets directory: test_alerts_lab.py)
    assert {h.state for h in hosts.values()} == set(HostState) - {HostState.SILENT}


async def test_stale_after_and_required_labels_options(fleet: dict[str, Any], lab_settings: Settings) -> None:
    snap, _ = await _snapshot(lab_settings, stale_after=600, required_labels=["location"])
    hosts = _mine(snap)
    assert hosts[f"{P}push-stale"].state is HostState.UP
    assert "missing_required_label" in _codes(hosts[f"{P}push-up"])


async def test_diff_between_two_real_refreshes(fleet: dict[str, Any], lab_settings: Settings) -> None:
    late = f"{P}late-{time.time_ns()}"  # new on every run, also against a lab that earlier runs wrote to
    first, _ = await _snapshot(lab_settings)
    push(lab_settings.remote_write_url, _node_series(late, [(int(time.time() * 1000), 1.0)], **TEAM))
    lab_mod.flush()
    second, _ = await _snapshot(lab_settings)
    d = diff_snapshots(first, second)
    assert late in [h.instance for h in d.added]
    assert late not in d.removed


def _active_targets(lab: Any) -> set[tuple[str, str]]:
    with urllib.request.urlopen(f"{lab.prometheus}/api/v1/targets?state=active", timeout=10) as r:
        return {(t["scrapePool"], t["scrapeUrl"]) for t in json.load(r)["data"]["activeTargets"]}


async def test_lab_prometheus_api(lab: Any, lab_settings: Settings) -> None:
    async with PrometheusClient(lab_settings) as c:
        assert await c.ready()
        found = await c.backend()
        assert found.name == BACKEND_NAME[lab.backend]
        assert (found.version is not None) == (lab.backend == "prometheus")  # VictoriaMetrics 1.79 tells none
        assert found.notes == ()  # the VictoriaMetrics lab re-reads target files every 5 s
        before = _active_targets(lab)
        await c.reload()  # 200 from Prometheus, 204 from VictoriaMetrics
        # A reload restarts target discovery: for a few seconds the backend lists only the targets found so far
        # (seen once: only db-01, and the next test failed). Leave the lab as this test found it.
        deadline = time.monotonic() + 30
        while (now := _active_targets(lab)) != before:
            assert time.monotonic() < deadline, f"targets after the reload: {sorted(now)}, before: {sorted(before)}"
            await asyncio.sleep(0.5)
        with pytest.raises(QueryError) as ei:
            await c.query("up{")
        assert ei.value.error_type == "bad_data" and "\n" not in str(ei.value)


async def test_replies_are_read_as_they_come(fleet: dict[str, Any], lab_settings: Settings) -> None:
    """The backend's own replies, fed a few bytes at a time, are taken element by element as they come (none is
    left to the whole reply's decoding) and read that way give what reading them whole gives."""
    url = lab_settings["prometheus.url"]
    t = time.time()
    async with PrometheusClient(lab_settings) as c, httpx.AsyncClient(base_url=url, timeout=30) as http:
        for expr in (queries()["up"], queries()["uname"]):
            form = await c.form(expr, t)
            whole = await c.query(expr, t)
            as_they_come = await c.vector(form, "", LabelSets())
            assert sorted((sorted(s.labels.items()), s.value) for s in as_they_come) == sorted(
                (sorted(s.labels.items()), s.value) for s in whole
            )
            body = (await http.post("/api/v1/query", data=form)).content
            assert _taken(body, ArrayStream(b'"result":[', b"metric")) == len(whole) > 3
        targets = await c.targets()
        body = (await http.get("/api/v1/targets", params={"state": "active"})).content
        assert _taken(body, ArrayStream(b'"activeTargets":[', b"discoveredLabels")) == len(targets) > 3


def _taken(body: bytes, stream: ArrayStream) -> int:
    """How many elements `stream` takes from `body` fed 64 bytes at a time, the tail's included."""
    runs = [stream.feed(body[i : i + 64]) for i in range(0, len(body), 64)]
    tail = stream.tail()
    assert not stream.broken and tail is not None, body[:300]
    last = msgspec.json.decode(tail)["data"]
    return sum(len(stream.elements(run)) for run in runs if run) + len(last.get("result", last.get("activeTargets")))


def _cli(lab: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "status", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_status_command_exit_codes_and_json(fleet: dict[str, Any], lab: Any) -> None:
    ok = _cli(lab, "--json", "--filter", f"instance=~{P}push-up|{P}pull-up.*")
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["backend"] == BACKEND_NAME[lab.backend] and doc["notes"] == [] and ok.stderr == ""
    assert sorted(h["instance"] for h in doc["hosts"]) == [f"{P}pull-up:19100", f"{P}push-up"]
    assert doc["summary"] == {"up": 2, "down": 0, "stale": 0, "gone": 0, "silent": 0}
    assert all(h["problems"] == [] and isinstance(h["last_seen"], float) for h in doc["hosts"])

    bad = _cli(lab, "--json", "--filter", f"instance=~{P}.*")
    assert bad.returncode == 1
    summary = json.loads(bad.stdout)["summary"]
    assert all(summary[s] >= 1 for s in ("up", "down", "stale", "gone"))

    required = _cli(lab, "--filter", f"instance={P}push-up", "--require-label", "location")
    assert required.returncode == 1 and "missing_required_label" in required.stdout

    table = _cli(lab, "--filter", f"{P}push-stale")
    assert table.returncode == 1
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["INSTANCE", "STATE", "MODE", "LAST", "SEEN", "JOB", "ALERTS", "ALLOY", "PROBLEMS"]
    assert row.split()[:3] == [f"{P}push-stale", "stale", "push"] and " ago" in row


def test_status_filter_on_a_label_no_host_has_says_so(fleet: dict[str, Any], lab: Any) -> None:
    """`env=test` for `environment=test`: the empty list comes with the console's sentence on stderr, in the
    table and the JSON modes alike; stdout keeps its shape (the JSON has no new field)."""
    said = "fleetui: filter: no host has a label `env` — did you mean `environment`?"
    table = _cli(lab, "--filter", f"instance=~{P}.* env=test")
    assert said in table.stderr.splitlines(), table.stderr
    assert any(line.startswith("0 hosts:") for line in table.stdout.splitlines()), table.stdout
    as_json = _cli(lab, "--json", "--filter", "env!=test")  # all hosts match (absent is ""), still worth saying
    assert said in as_json.stderr.splitlines(), as_json.stderr
    assert json.loads(as_json.stdout)["hosts"]
    known = _cli(lab, "--filter", f"instance=~{P}.* environment=test")
    assert "fleetui: filter:" not in known.stderr


async def test_many_gone_hosts_fit_the_backends_query_length(lab: Any, lab_settings: Settings) -> None:
    """400 gone hosts with long names: the history query naming them is ~70 KB, over VictoriaMetrics' 16 KiB
    `-search.maxQueryLen`, so there it is cut into several queries; Prometheus takes it in one. Same answer."""
    now_ms = int(time.time() * 1000)
    run = time.time_ns()
    names = [f"{P}many-{run}-{i:03d}-{'x' * 24}" for i in range(400)]
    ended = [(now_ms - m * 60_000, 1.0) for m in range(20, 9, -1)]  # ends 10 minutes ago
    push(lab_settings.remote_write_url, [s for n in names for s in _node_series(n, ended, **TEAM)])
    lab_mod.flush()
    queries: list[int] = []  # the length of each query sent

    async def measure(request: httpx.Request) -> None:
        query = dict(httpx.QueryParams(request.content.decode())).get("query", "")
        queries.append(len(query.encode()))

    async with PrometheusClient(lab_settings) as c:
        c._client.event_hooks["request"].append(measure)
        reader = FleetReader(c, lab_settings)
        snap = await reader.snapshot()
    hosts = _mine(snap)
    assert all(hosts[n].state is HostState.GONE for n in names)
    assert all(snap.times.last_seen.get(n) == pytest.approx(now_ms / 1000 - 600, abs=0.01) for n in names)
    assert reader.refresh_requests <= 6
    # one history step names up to 1,000 hosts: over the limit on VictoriaMetrics, so it is cut there
    if lab.backend == "victoriametrics":
        assert max(queries) <= 16 * 1024
    else:
        assert max(queries) > 16 * 1024


async def test_a_target_whose_reply_text_is_unchanged_is_not_decoded_again(lab: Any, lab_settings: Settings) -> None:
    """Two reads of /api/v1/targets a moment apart (the lab scrapes every 5 s): a target Prometheus did not
    scrape in between is the same text, and comes back as the very same object; the list read that way says
    what a plain decode of the next reply says (the same instances, health, URLs and labels)."""
    async with PrometheusClient(lab_settings) as c:
        reader = FleetReader(c, lab_settings)
        first = await c.targets(reader.label_sets, reader.target_texts)
        reader.target_texts.rotate()
        again = await c.targets(reader.label_sets, reader.target_texts)
        plain = await c.targets()
    assert first and len(again) == len(first)
    assert {id(t) for t in first} & {id(t) for t in again}

    def seen(t: Any) -> tuple[Any, ...]:
        return (t.instance, t.scrape_pool, t.health, t.scrape_url, dict(t.labels))

    assert sorted(map(seen, again), key=repr) == sorted(map(seen, plain), key=repr)
