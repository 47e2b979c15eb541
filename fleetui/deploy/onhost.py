"""Starting and following the detached on-host scripts (remote_scripts) over a session.

`launch` starts one; `follow` polls its status file, passing new progress lines on, until a condition holds;
`wait_finished` is what a step's `settle` uses after a reconnect: wait (bounded) until the script has a result,
or decide it never started. Every poll is a short command bounded by `POLL_TIMEOUT_S` (`bounded`), so a stalled
connection shows up as `CommandTimeout` within seconds (the runner treats it as a lost connection), not after
the keepalive gives up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from fleetui.adapters.ssh import CommandTimeout, HostSession
from fleetui.deploy import remote_scripts
from fleetui.deploy.decisions import Phase, ScriptStatus, read_status, script_phase
from fleetui.deploy.operation import StepFailed

T = TypeVar("T")

POLL_S = 0.3
POLL_TIMEOUT_S = 10.0  # one status read; longer means the connection is stalled


async def bounded(aw: Awaitable[T], what: str, seconds: float | None = None) -> T:
    """Await a short host command, but no longer than `seconds`: asyncssh's own timeout starts only once the
    channel is open, and opening one on a stalled connection waits for the keepalive (about a minute)."""
    limit = POLL_TIMEOUT_S if seconds is None else seconds
    try:
        return await asyncio.wait_for(aw, limit)
    except TimeoutError:
        raise CommandTimeout(f"{what}: no answer within {limit:g}s") from None


async def launch(session: HostSession, script: str, name: str, args: Sequence[str], *, sudo: bool) -> None:
    """Start `script` detached on the host; it keeps running if the connection drops."""
    r = await session.run(["sh", "-c", remote_scripts.LAUNCH, "launch", script, name, *args], sudo=sudo)
    if "launched" not in r.stdout:
        raise StepFailed(f"the on-host script {name} did not start: {r.stdout.strip()[:120] or 'no output'}")


async def read(session: HostSession, status_path: str) -> ScriptStatus:
    r = await bounded(
        session.run(["sh", "-c", remote_scripts.READ_STATUS, "status", status_path, remote_scripts.LOCK_DIR]),
        f"{session.target.host}: reading {status_path}",
    )
    return read_status(r.stdout)


async def follow(
    session: HostSession,
    status_path: str,
    until: Callable[[ScriptStatus], bool],
    *,
    timeout_s: float,
    news: Callable[[str], Awaitable[None]] | None = None,
    seen: set[str] | None = None,
) -> ScriptStatus:
    """Poll until `until(status)`; hand each new progress line to `news` once (`seen` carries over between
    calls on one status file). Raises StepFailed when the script neither gets there nor finishes in time."""
    deadline = time.monotonic() + timeout_s
    shown = seen if seen is not None else set()
    while True:
        status = await read(session, status_path)
        if news is not None:
            for line in status.news:
                if line not in shown:
                    shown.add(line)
                    await news(line)
        if until(status) or status.result is not None:
            return status
        if time.monotonic() >= deadline:
            raise StepFailed(f"no result from the on-host script within {timeout_s:g}s ({status_path})")
        await asyncio.sleep(POLL_S)


async def wait_finished(
    session: HostSession, status_path: str, launched_at: float, *, timeout_s: float
) -> tuple[ScriptStatus, Phase]:
    """After an interruption: wait until the script we launched (or tried to) has a result, or is known never to
    have started. Returns RUNNING only when it is still going at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = await read(session, status_path)
        phase = script_phase(status, since_launch_s=time.monotonic() - launched_at)
        if phase is not Phase.RUNNING or time.monotonic() >= deadline:
            return status, phase
        await asyncio.sleep(POLL_S)


async def hashes(session: HostSession, paths: Sequence[str]) -> dict[str, str]:
    """sha256 of each file on the host ("none" when absent), read as root (/etc/alloy is root:alloy 0770)."""
    if not paths:
        return {}
    r = await bounded(
        session.run(["sh", "-c", remote_scripts.HASHES, "hashes", *paths], sudo=True),
        f"{session.target.host}: hashing {', '.join(paths)}",
    )
    out: dict[str, str] = {}
    for line in r.stdout.splitlines():
        digest, _, path = line.partition(" ")
        out[path] = digest
    missing = [p for p in paths if p not in out]
    if missing:
        raise StepFailed(f"could not hash {', '.join(missing)} on the host")
    return out
