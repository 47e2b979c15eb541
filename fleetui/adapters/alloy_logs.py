"""Alloy's logs from hosts over SSH, as batches of LogLines that survive a dropped connection (no UI import).

Where the logs are: the systemd journal (`journalctl -u alloy.service -o json`) when the host has journalctl
and an alloy.service unit, else Alloy's log file (Homebrew's `alloy.err.log`, `/var/log/alloy.log`) read
with `tail -F`. `-o json` is used because every entry carries its `__CURSOR`: after a dropped connection the
stream reconnects by itself and asks for `--after-cursor=<last cursor delivered>`, so no line is lost or
repeated, and it says so with a status event. A log file has no cursor: it resumes by line number
(`tail -n +K`), and says when the file was replaced meanwhile (rotation), since lines may then be missed.

Speed: stdout is read in 64 KiB chunks and split into lines here, so a burst arrives as one batch per chunk
instead of one await per line; the consumer (the pane, the CLI) sees `LinesEvent`s of many lines. Back
pressure is SSH's own: a consumer that stops reading stops the remote journalctl.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from fleetui.adapters.ssh import (
    AuthFailed,
    CommandFailed,
    CommandResult,
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    HostKeyChanged,
    HostKeyUnknown,
    HostSession,
    OnUnknownKey,
    SshError,
    SshTarget,
    SudoPasswordRequired,
    command_line,
    connect_with_settings,
)
from fleetui.domain.logline import LogLine, file_line, note, parse_journal_json

if TYPE_CHECKING:
    from fleetui.config import Settings

UNIT = "alloy.service"
LOG_FILES = (
    "/opt/homebrew/var/log/alloy.err.log",  # Homebrew services: Alloy logs to stderr
    "/usr/local/var/log/alloy.err.log",
    "/var/log/alloy/alloy.log",
    "/var/log/alloy.log",
)
_CHUNK = 1 << 16
_BACKOFF = (0.0, 0.5, 1.0, 2.0, 5.0)

# --- where the logs are -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalSource:
    unit: str = UNIT

    def describe(self) -> str:
        return f"journal of {self.unit}"


@dataclass(frozen=True)
class FileSource:
    path: str

    def describe(self) -> str:
        return f"log file {self.path}"


LogSource = JournalSource | FileSource


class NoLogSource(SshError):
    """The host has neither an alloy.service journal nor a known Alloy log file."""


class LogCommandFailed(SshError):
    """journalctl/tail ended with an error (bad cursor, no permission): its last stderr line."""


_DETECT = (
    "if command -v journalctl >/dev/null 2>&1 && { [ -e /etc/systemd/system/alloy.service ] || "
    "[ -e /usr/lib/systemd/system/alloy.service ] || [ -e /lib/systemd/system/alloy.service ]; }; "
    "then echo journal; fi; for f in " + " ".join(LOG_FILES) + '; do [ -f "$f" ] && echo "$f"; done; true'
)


async def detect_source(session: HostSession) -> LogSource:
    """The journal when journalctl and an alloy.service unit exist, else the first Alloy log file found."""
    r = await session.run(["sh", "-c", _DETECT], check=False)
    found = r.stdout.split()
    if "journal" in found:
        return JournalSource()
    files = [f for f in found if f.startswith("/")]
    if files:
        return FileSource(files[0])
    raise NoLogSource(
        f"{session.target.host}: no alloy.service journal and no Alloy log file ({', '.join(LOG_FILES)}): "
        "is Alloy installed? (fleetui doctor checks)"
    )


# --- commands (pure, so tests can assert on them) ---------------------------------------------------------


FIELDS = "--output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER"


def journal_argv(
    unit: str,
    *,
    follow: bool,
    lines: int | None,
    since: float | None,
    after_cursor: str | None,
    fields: bool = True,
) -> list[str]:
    """journalctl's start, in its own precedence: a cursor, else --since, else the last N, else all.

    `--output-fields` (systemd 236+) halves each JSON record (journalctl adds __CURSOR and the timestamps to
    it anyway), which halves what SSH carries and what the reader parses; older journalctls get the full record.
    """
    argv = ["journalctl", f"--unit={unit}", "--output=json", *([FIELDS] if fields else []), "--no-pager", "--quiet"]
    if after_cursor is not None:
        argv.append(f"--after-cursor={after_cursor}")
    elif since is not None:
        argv.append(f"--since=-{math.ceil(since)}s")  # relative to the host's clock, not ours
    elif lines is not None:
        argv.append(f"--lines={lines}")
    elif follow:
        argv.append("--no-tail")
    if follow:
        argv.append("--follow")
    return argv


def tail_argv(path: str, *, start_line: int, follow: bool) -> list[str]:
    return ["tail", "-n", f"+{max(1, start_line)}", *(["-F"] if follow else []), "--", path]


# --- events -----------------------------------------------------------------------------------------------


class StreamState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    LOST = "lost"  # the connection dropped; reconnecting
    RESUMED = "resumed"  # reconnected and resumed where it stopped
    ENDED = "ended"  # a non-follow read finished
    FAILED = "failed"  # gave up (host key, auth, no logs, command error): the message says why


@dataclass(frozen=True)
class LinesEvent:
    host: str
    lines: list[LogLine]


@dataclass(frozen=True)
class StatusEvent:
    host: str
    state: StreamState
    message: str

    def as_note(self) -> LogLine:
        return note(self.host, f"── {self.message} ──", time.time())


StreamEvent = LinesEvent | StatusEvent
Connect = Callable[[], contextlib.AbstractAsyncContextManager[HostSession]]


# --- reading one host --------------------------------------------------------------------------------------


async def _stdout_chunks(session: HostSession, argv: Sequence[str]) -> AsyncIterator[bytes]:
    """Raw stdout of the log command in chunks (HostSession.stream_bytes, through the session's sudo rule);
    a non-zero exit becomes LogCommandFailed with the command's last stderr line."""
    try:
        async for chunk in session.stream_bytes(argv, sudo=True, chunk_size=_CHUNK):
            yield chunk
    except CommandFailed as e:
        tail = e.result.stderr.strip().splitlines()
        raise LogCommandFailed(
            f"{session.target.host}: `{command_line(argv)[:100]}` exited {e.result.exit_status}: "
            f"{tail[-1] if tail else 'no output'}"
        ) from None


def _split(pending: bytes, chunk: bytes) -> tuple[list[str], bytes]:
    """Complete lines of `pending + chunk` (decoded, invalid UTF-8 replaced) and the unfinished rest."""
    buf = pending + chunk
    cut = buf.rfind(b"\n")
    if cut == -1:
        return [], buf
    return buf[:cut].decode("utf-8", "replace").split("\n"), buf[cut + 1 :]


class HostLogStream:
    """Alloy's log of one host as an async stream of events; reconnects after a dropped connection.

    `events()` yields LinesEvent batches and StatusEvents. The first connection failing is final (FAILED: a
    wrong address or key is not fixed by waiting); once streaming, a cut connection is retried (for ever when
    following, three times otherwise) and the read resumes after the last delivered cursor. Retries back off
    (0, 0.5, 1, 2, 5 s) until lines flow again, so a host whose journalctl keeps dying is not hammered.
    """

    def __init__(
        self,
        name: str,
        connect: Connect,
        *,
        follow: bool = True,
        lines: int | None = 200,
        since: float | None = None,
        source: LogSource | None = None,
        reconnect_attempts: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._connect = connect
        self.follow = follow
        self.lines = lines
        self.since = since
        self.source = source
        self.reconnect_attempts = reconnect_attempts if reconnect_attempts is not None else (None if follow else 3)
        self._sleep = sleep
        self.cursor: str | None = None  # journal: cursor of the last line handed out
        self.line_no = 0  # file: number of the last line handed out
        self._inode: str | None = None
        self._session: HostSession | None = None
        self.reconnects = 0
        self.delivered = 0
        self._fields = True  # journalctl knows --output-fields (until it says otherwise)

    @classmethod
    def over_ssh(
        cls,
        settings: Settings,
        name: str,
        target: SshTarget,
        *,
        identity_file: str | None = None,
        password: str | None = None,
        on_unknown_key: OnUnknownKey | None = None,
        follow: bool = True,
        lines: int | None = 200,
        since: float | None = None,
        source: LogSource | None = None,
    ) -> HostLogStream:
        """A stream that connects the way every fleetui operation does (settings' key, known_hosts, timeouts)."""

        def connect() -> contextlib.AbstractAsyncContextManager[HostSession]:
            return connect_with_settings(
                settings, target, identity_file=identity_file, password=password, on_unknown_key=on_unknown_key
            )

        return cls(name, connect, follow=follow, lines=lines, since=since, source=source)

    def cut(self) -> bool:
        """Drop the current connection as a network cut would (tests; a "reconnect now" key). False if none."""
        if self._session is None:
            return False
        self._session.abort()
        return True

    async def events(self) -> AsyncIterator[StreamEvent]:
        connected_once = False
        announced = False
        failures = 0
        lost_at = 0.0
        while True:
            try:
                async with self._connect() as session:
                    self._session = session
                    if self.source is None:
                        self.source = await detect_source(session)
                    if connected_once:
                        self.reconnects += 1
                        resumed = self._resumed_text(time.monotonic() - lost_at)
                        yield StatusEvent(self.name, StreamState.RESUMED, resumed)
                    elif not announced:
                        yield StatusEvent(self.name, StreamState.STREAMING, f"reading the {self.source.describe()}")
                        announced = True
                    async for batch in self._read(session):
                        connected_once = True
                        failures = 0  # progress: the next cut is retried at once again
                        yield LinesEvent(self.name, batch)
                    connected_once = True
                    if not self.follow:
                        yield StatusEvent(self.name, StreamState.ENDED, f"end of the {self.source.describe()}")
                        return
                    raise ConnectionLost(f"{self.name}: the log command ended")
            except (HostKeyUnknown, HostKeyChanged, AuthFailed, SudoPasswordRequired, NoLogSource) as e:
                yield StatusEvent(self.name, StreamState.FAILED, str(e))
                return
            except LogCommandFailed as e:
                if self._fields and "output-fields" in str(e):  # journalctl older than systemd 236: plain JSON
                    self._fields = False
                    continue
                yield StatusEvent(self.name, StreamState.FAILED, str(e))
                return
            except (CommandFailed, CommandTimeout) as e:
                yield StatusEvent(self.name, StreamState.FAILED, str(e))
                return
            except ConnectFailed as e:  # ConnectionLost included
                if not announced:
                    yield StatusEvent(self.name, StreamState.FAILED, str(e))
                    return
                connected_once = True
                failures += 1
                if self.reconnect_attempts is not None and failures > self.reconnect_attempts:
                    yield StatusEvent(self.name, StreamState.FAILED, f"gave up after {failures - 1} reconnects: {e}")
                    return
                if failures == 1:
                    lost_at = time.monotonic()
                wait = _BACKOFF[min(failures - 1, len(_BACKOFF) - 1)]
                yield StatusEvent(self.name, StreamState.LOST, f"connection lost ({_why(e)}); reconnecting")
                await self._sleep(wait)
            finally:
                self._session = None

    def _resumed_text(self, down: float) -> str:
        if isinstance(self.source, JournalSource):
            where = f"after journal cursor …{self.cursor[-12:]}" if self.cursor else "from the start (nothing read yet)"
        else:
            where = f"at line {self.line_no + 1}"
        return f"reconnected after {down:.1f}s; resumed {where}, no line lost or repeated"

    async def _read(self, session: HostSession) -> AsyncIterator[list[LogLine]]:
        if isinstance(self.source, FileSource):
            async for batch in self._read_file(session, self.source.path):
                yield batch
            return
        argv = self.journal_command()
        pending = b""
        name = self.name
        async for chunk in _stdout_chunks(session, argv):
            texts, pending = _split(pending, chunk)
            batch = [line for line in (parse_journal_json(name, raw) for raw in texts) if line is not None]
            if batch:
                # the cursor moves only with lines handed out: a cut between chunks resumes right after them
                self.cursor = batch[-1].cursor
                self.delivered += len(batch)
                yield batch

    def journal_command(self) -> list[str]:
        """The journalctl command for the next read: resumes after the last delivered cursor, if any."""
        assert isinstance(self.source, JournalSource)
        return journal_argv(
            self.source.unit,
            follow=self.follow,
            lines=self.lines,
            since=self.since,
            after_cursor=self.cursor,
            fields=self._fields,
        )

    async def _read_file(self, session: HostSession, path: str) -> AsyncIterator[list[LogLine]]:
        inode = (await session.run(["ls", "-di", "--", path], check=False)).stdout.split()[:1]
        replaced = self._inode is not None and bool(inode) and inode[0] != self._inode
        self._inode = inode[0] if inode else None
        if self.line_no == 0 or replaced:
            if replaced:
                self.line_no = 0
                yield [note(self.name, f"── {path} was replaced (rotated?) while away: reading it from line 1 ──")]
            if self.since is None and self.lines is not None and not replaced:
                wc = await session.run(["wc", "-l", "--", path], check=False)
                total = int(wc.stdout.split()[0]) if wc.ok and wc.stdout.split()[0].isdigit() else 0
                self.line_no = max(0, total - self.lines)
        cutoff = time.time() - self.since if self.since is not None else None
        pending = b""
        name = self.name
        async for chunk in _stdout_chunks(session, tail_argv(path, start_line=self.line_no + 1, follow=self.follow)):
            texts, pending = _split(pending, chunk)
            self.line_no += len(texts)
            batch = [file_line(name, t) for t in texts]
            if cutoff is not None:
                batch = [ln for ln in batch if ln.ts is None or ln.ts >= cutoff]
            if batch:
                self.delivered += len(batch)
                yield batch


def _why(e: BaseException) -> str:
    text = str(e)
    return text.split(": ", 1)[1] if ": " in text else text


async def merge(streams: Sequence[HostLogStream], queue_size: int = 64) -> AsyncIterator[StreamEvent]:
    """The events of several hosts as one stream, in arrival order (each line names its host)."""
    if len(streams) == 1:
        async for ev in streams[0].events():
            yield ev
        return
    queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue(maxsize=queue_size)

    async def pump(stream: HostLogStream) -> None:
        try:
            async for ev in stream.events():
                await queue.put(ev)
        except Exception as e:  # a bug in one reader must not hang the others
            await queue.put(StatusEvent(stream.name, StreamState.FAILED, f"log reader failed: {type(e).__name__}: {e}"))
        await queue.put(None)

    tasks = [asyncio.create_task(pump(s), name=f"logs:{s.name}") for s in streams]
    try:
        ended = 0
        while ended < len(tasks):
            item = await queue.get()
            if item is None:
                ended += 1
            else:
                yield item
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- a one-off read (the doctor) -------------------------------------------------------------------------------


async def recent_lines(
    session: HostSession, source: LogSource, name: str, *, since: float, limit: int = 500
) -> list[LogLine]:
    """The last `limit` lines of the past `since` seconds, in one command (no follow, no reconnect)."""
    if isinstance(source, JournalSource):
        argv = journal_argv(source.unit, follow=False, lines=None, since=since, after_cursor=None)
        r: CommandResult = await session.run(argv, sudo=True, check=False)
        out = [ln for ln in (parse_journal_json(name, t) for t in r.stdout.splitlines()) if ln is not None]
    else:
        r = await session.run(["tail", "-n", str(limit * 4), "--", source.path], sudo=True, check=False)
        cutoff = time.time() - since
        out = [ln for ln in (file_line(name, t) for t in r.stdout.splitlines()) if ln.ts is None or ln.ts >= cutoff]
    return out[-limit:]
