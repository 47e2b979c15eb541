"""The console's Prometheus source letting go: of its tasks when closed while a refresh still waits for
replies, and of its first look once handed out.

The server is real (a loopback TCP server that accepts and never answers), so the refresh, its extras and
their HTTP connections are all in flight when the console closes, as when an operator quits during a slow
refresh.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetui.config import Settings, load
from fleetui.domain.fleet import FleetSnapshot
from fleetui.tui.source import PrometheusSource


@pytest.fixture
def silent_url() -> Iterator[tuple[str, list[socket.socket]]]:
    """A server that accepts every connection and never answers; the accepted sockets, as they come."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed below
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    listener.close()
    for conn in accepted:
        conn.close()


def settings(tmp_path: Path, url: str) -> Settings:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("")
    return load(cfg, environ={}, overrides={"prometheus.url": url, "prometheus.timeout": 30})


def wait_for_connections(accepted: list[socket.socket], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(accepted) < count:
        assert time.monotonic() < deadline, f"only {len(accepted)} connections"
        time.sleep(0.01)


def left_running(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks(loop) if not t.done()]


def test_closing_during_the_first_refresh_leaves_no_task_behind(
    tmp_path: Path, silent_url: tuple[str, list[socket.socket]]
) -> None:
    """A task left pending when the source's loop stops is destroyed with it ("Task was destroyed but it is
    pending!" on the console's way out), its connection never closed."""
    url, accepted = silent_url
    source = PrometheusSource(settings(tmp_path, url))
    source.prefetch()
    wait_for_connections(accepted, 5)  # the refresh's queries and its extras' are all waiting
    loop = source._loop
    assert loop is not None
    source.close()
    assert left_running(loop) == []


def test_closing_after_the_console_stops_waiting_for_a_refresh_leaves_no_task_behind(
    tmp_path: Path, silent_url: tuple[str, list[socket.socket]]
) -> None:
    """The console cancels its wait for a refresh as it quits; the refresh itself is on the source's loop."""
    url, accepted = silent_url
    source = PrometheusSource(settings(tmp_path, url))

    async def quit_while_refreshing() -> None:
        waiting = asyncio.ensure_future(source.snapshot())
        await asyncio.to_thread(wait_for_connections, accepted, 5)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(quit_while_refreshing())
    loop = source._loop
    assert loop is not None
    source.close()
    assert left_running(loop) == []


def test_a_first_look_handed_out_is_not_kept(tmp_path: Path) -> None:
    """The look is put where the first refresh puts it (no fleet here is large enough for a real one); once the
    console has it, the source holds it no longer: it stayed in memory for the life of the console."""
    source = PrometheusSource(settings(tmp_path, "http://127.0.0.1:9"))
    look = FleetSnapshot((), 1_800_000_000.0, targets_only=True)
    held = weakref.ref(look)
    source._first_look = concurrent.futures.Future()
    source._first_look.set_result(look)
    assert asyncio.run(source.first_look()) is look
    del look
    assert held() is None
    assert asyncio.run(source.first_look()) is None
