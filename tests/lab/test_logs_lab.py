"""Alloy's logs over real SSH from the lab: the cut-and-resume guarantee, the log-file fallback, the CLI.

A lab host's Alloy logs to its journal through the stand-in systemd; the tests append numbered entries to that
journal from inside the host (as Alloy's own output would arrive) while the stream runs, cut the SSH
connection several times, and check the sequence that came out: every number once, in order.
Hosts: web-02 (journal) and new-01 (a log file), which no other test streams from.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from lab_trust import settings_trusting

from fleetui import lab as lab_mod
from fleetui.adapters.alloy_logs import FileSource, HostLogStream, LinesEvent, StatusEvent, StreamState
from fleetui.adapters.ssh import SshTarget
from fleetui.config import Settings

pytestmark = pytest.mark.lab

HOSTS = ["web-02", "new-01", "cache-01"]


@pytest.fixture(scope="module")
def settings(lab: Any, lab_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_trusting(lab, lab_settings, tmp_path_factory.mktemp("kh") / "known_hosts", HOSTS)


def _writer(host: str, script: str) -> threading.Thread:
    """Run `script` with the lab's Python inside `host` in the background (as the host's own process)."""
    t = threading.Thread(target=lab_mod.host_exec, args=(host, [sys.executable, "-c", script]), daemon=True)
    t.start()
    return t


def journal_script(tag: str, n: int, pause: float) -> str:
    return (
        "import time\n"
        "from fleetui.lab.alloy_standin.journal import journal_write\n"
        f"for i in range({n}):\n"
        f"    line = 'ts=2025-05-19T05:35:00Z level=info msg=\"{tag} %d\"' % i\n"
        "    journal_write('alloy.service', 'alloy', 4242, line)\n"
        f"    time.sleep({pause})\n"
    )


async def _collect(stream: HostLogStream, tag: str, n: int, cuts: int, start: Any) -> tuple[list[int], list[Any]]:
    """Numbers of the tagged lines in arrival order; cut the connection every n/(cuts+1) lines."""
    got: list[int] = []
    events: list[Any] = []
    done_cuts = 0
    deadline = time.monotonic() + 60
    it = stream.events().__aiter__()
    try:
        while len(got) < n and time.monotonic() < deadline:
            try:
                ev = await asyncio.wait_for(it.__anext__(), 20)
            except (TimeoutError, StopAsyncIteration):
                break
            if isinstance(ev, StatusEvent):
                events.append(ev)
                if ev.state is StreamState.STREAMING:
                    start()
                continue
            assert isinstance(ev, LinesEvent)
            got += [int(ln.text.rsplit(tag, 1)[1].strip(' "')) for ln in ev.lines if tag in ln.text]
            if done_cuts < cuts and len(got) >= (done_cuts + 1) * n // (cuts + 1):
                done_cuts += 1
                assert stream.cut()
    finally:
        await it.aclose()  # type: ignore[attr-defined]
    return got, events


async def test_cut_connection_resumes_from_the_journal_cursor_without_loss_or_repeat(
    lab: Any, settings: Settings
) -> None:
    h = lab.host("web-02")
    tag = f"resume-{secrets.token_hex(3)}"
    n, cuts = 600, 3
    stream = HostLogStream.over_ssh(
        settings, "web-02", SshTarget(h.address, h.ssh_port, "root"), follow=True, lines=None, since=60
    )
    writer: list[threading.Thread] = []
    got, events = await _collect(
        stream, tag, n, cuts, lambda: writer or writer.append(_writer("web-02", journal_script(tag, n, 0.004)))
    )
    writer[0].join(30)
    assert got == list(range(n)), f"lost: {sorted(set(range(n)) - set(got))[:10]}, repeated: {len(got) - len(set(got))}"
    assert stream.reconnects == cuts
    states = [e.state for e in events]
    assert states.count(StreamState.LOST) == cuts and states.count(StreamState.RESUMED) == cuts
    resumed = [e.message for e in events if e.state is StreamState.RESUMED]
    assert all("resumed after journal cursor" in m and "no line lost or repeated" in m for m in resumed)

    # the journalctl processes of the cut connections (and of the closed stream) are gone from the host
    def left() -> str:
        return lab_mod.host_exec("web-02", ["sh", "-c", "pgrep -af 'journalctl --uni[t]=alloy' || true"]).stdout

    for _ in range(25):
        if not left().strip():
            break
        await asyncio.sleep(0.2)
    assert left().strip() == ""


async def test_log_file_fallback_resumes_by_line_number(lab: Any, settings: Settings) -> None:
    """A host without the alloy.service unit (new-01 has no Alloy): Alloy's log file, read with tail -F."""
    h = lab.host("new-01")
    path = f"/var/log/alloy-{secrets.token_hex(3)}.log"
    tag = "file-line"
    script = (
        "import time\n"
        f"with open({path!r}, 'a', buffering=1) as f:\n"
        "    for i in range(300):\n"
        f"        f.write('ts=2025-05-19T05:35:00Z level=warn msg=\"{tag} %d\"\\n' % i)\n"
        "        time.sleep(0.01)\n"
    )
    lab_mod.host_exec("new-01", ["sh", "-c", f"echo 'ts=2025-05-19T05:34:00Z level=info msg=\"older\"' > {path}"])
    try:
        stream = HostLogStream.over_ssh(
            settings,
            "new-01",
            SshTarget(h.address, h.ssh_port, "root"),
            follow=True,
            lines=None,  # from the first line: the writer may start before tail does
            source=FileSource(path),
        )
        writer: list[threading.Thread] = []
        got, events = await _collect(stream, tag, 300, 2, lambda: writer or writer.append(_writer("new-01", script)))
        writer[0].join(30)
        assert got == list(range(300))
        assert [e.state for e in events].count(StreamState.RESUMED) == 2
        assert all("at line" in e.message for e in events if e.state is StreamState.RESUMED)
    finally:
        lab_mod.host_exec("new-01", ["rm", "-f", path])


async def test_a_host_without_alloy_says_so(lab: Any, settings: Settings) -> None:
    h = lab.host("new-01")
    stream = HostLogStream.over_ssh(settings, "new-01", SshTarget(h.address, h.ssh_port, "root"), follow=False)
    events = [ev async for ev in stream.events()]
    assert len(events) == 1 and events[0].state is StreamState.FAILED  # type: ignore[union-attr]
    assert "no alloy.service journal and no Alloy log file" in events[0].message  # type: ignore[union-attr]


def _cli(lab: Any, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    known = str(settings["ssh.known_hosts"])
    argv = [sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "--set", f"ssh.known_hosts={known}"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, check=False)


def test_cli_logs_merged_json_level_and_grep(lab: Any, settings: Settings) -> None:
    web, cache = lab.host("web-02").address, lab.host("cache-01").address
    tag = f"cli-{secrets.token_hex(3)}"
    lab_mod.host_exec(
        "cache-01",
        [
            sys.executable,
            "-c",
            "from fleetui.lab.alloy_standin.journal import journal_write\n"
            f"journal_write('alloy.service', 'alloy', 7, 'level=error msg=\"{tag} boom\" err=\"\\x1b[2J\"')\n"
            f"journal_write('alloy.service', 'alloy', 7, 'level=info msg=\"{tag} fine\"')\n",
        ],
    )
    r = _cli(lab, settings, "logs", web, cache, "--since", "10m", "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert {d["host"] for d in lines} == {web, cache}
    assert all(d["cursor"].startswith("s=") and d["source"] for d in lines)
    times = [d["ts"] for d in lines]
    assert times == sorted(times)  # several hosts without -f: one time-ordered stream
    r = _cli(lab, settings, "logs", web, cache, "--since", "10m", "--level", "error", "--grep", tag)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f'{cache} level=error msg="{tag} boom" err="␛[2J"']
    r = _cli(lab, settings, "logs", cache, "-n", "1")
    assert r.returncode == 0 and r.stdout.strip().endswith(f'msg="{tag} fine"')  # one host: no prefix
    r = _cli(lab, settings, "logs", lab.host("new-01").address, "-n", "1")
    assert r.returncode == 1 and "no alloy.service journal" in r.stderr
    r = _cli(lab, settings, "logs", "web-02;id", "--since", "5x")
    assert r.returncode == 2 and r.stdout == "" and "not a host name" in r.stderr
