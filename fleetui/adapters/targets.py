"""Prometheus file_sd target files: written atomically, retired by renaming, read back as an audit trail.

The directory is the record (seed 004 Part 4): `<name>.json` is an enrolled host, `<name>.json.deleted.<UTC
timestamp>` one that was retired and when; a file's modification time is when it was last (re)enrolled. Retired
files no longer match Prometheus' `*.json` pattern, so Prometheus drops the targets while the file stays.
Files are replaced with write-to-temp + rename in the same directory, locally or over SFTP when `targets.dir`
is `ssh://user@host/path` (the Prometheus host), so Prometheus never reads half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import asyncssh

SUFFIX = ".json"
RETIRED_RE = re.compile(r"^(?P<base>.+\.json)\.deleted\.(?P<ts>\d{8}T\d{6}Z)$")
_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,200}")


class TargetStoreError(Exception):
    """The targets directory cannot be read or written: one line naming it."""


def utc_stamp(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, UTC).strftime("%Y%m%dT%H%M%SZ")


def file_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name) or name.startswith("."):
        raise ValueError(f"target file name {name[:60]!r} must use letters, digits, . _ - only")
    return name if name.endswith(SUFFIX) else name + SUFFIX


@dataclass(frozen=True)
class HistoryEntry:
    """One host in the audit trail."""

    name: str  # the file name without .json
    file: str
    state: str  # active | retired
    updated_at: float  # last (re)enrollment: the file's modification time
    retired_at: float | None = None
    targets: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    retirements: tuple[float, ...] = ()  # every time this address was retired, oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "state": self.state,
            "updated_at": iso_utc(self.updated_at),
            "retired_at": iso_utc(self.retired_at) if self.retired_at is not None else None,
            "targets": list(self.targets),
            "labels": self.labels,
            "retirements": [iso_utc(t) for t in self.retirements],
        }


def iso_utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _summarise(text: str | None) -> tuple[tuple[str, ...], dict[str, str]]:
    try:
        groups = json.loads(text or "[]")
        targets = tuple(t for g in groups for t in g.get("targets", []))
        labels = dict(groups[0].get("labels", {})) if groups else {}
        labels.pop("__metrics_path__", None)
        return targets, labels
    except (ValueError, AttributeError, TypeError, IndexError):
        return (), {}


def history_from(listing: list[tuple[str, float]], read: Mapping[str, str | None]) -> list[HistoryEntry]:
    """Build the audit trail from (file name, mtime) pairs and the files' contents. Pure.

    One entry per address: a host enrolled, retired and enrolled again is one active entry whose
    `retirements` lists the earlier retirements, not an active and a retired row side by side."""
    active: dict[str, HistoryEntry] = {}
    retired: dict[str, list[HistoryEntry]] = {}
    for fname, mtime in listing:
        m = RETIRED_RE.match(fname)
        if m:
            stamp = datetime.strptime(m["ts"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
            targets, labels = _summarise(read.get(fname))
            name = m["base"][: -len(SUFFIX)]
            retired.setdefault(name, []).append(HistoryEntry(name, fname, "retired", mtime, stamp, targets, labels))
        elif fname.endswith(SUFFIX) and not fname.startswith("."):
            targets, labels = _summarise(read.get(fname))
            name = fname[: -len(SUFFIX)]
            active[name] = HistoryEntry(name, fname, "active", mtime, None, targets, labels)
    out: list[HistoryEntry] = []
    for name in {*active, *retired}:
        past = sorted(retired.get(name, []), key=lambda e: e.retired_at or 0.0)
        times = tuple(e.retired_at or 0.0 for e in past)
        entry = active.get(name) or past[-1]
        out.append(dataclasses.replace(entry, retirements=times))
    out.sort(key=lambda e: (e.retired_at or e.updated_at, e.name))
    return out


class TargetStore(Protocol):
    location: str

    async def read(self, name: str) -> str | None: ...
    async def write(self, name: str, text: str) -> None: ...
    async def remove(self, name: str) -> None: ...
    async def retire(self, name: str, now: float | None = None) -> str: ...
    async def find_by_target(self, hostport_prefix: str) -> str | None: ...
    async def history(self) -> list[HistoryEntry]: ...


class LocalTargetStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.location = str(directory)

    def _path(self, name: str) -> Path:
        return self.dir / file_name(name)

    async def read(self, name: str) -> str | None:
        try:
            return self._path(name).read_text()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise TargetStoreError(f"{self.location}: cannot read {file_name(name)}: {e.strerror}") from None

    async def write(self, name: str, text: str) -> None:
        path = self._path(name)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.dir)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            raise TargetStoreError(f"{self.location}: cannot write {path.name}: {e.strerror}") from None

    async def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    async def retire(self, name: str, now: float | None = None) -> str:
        src = self._path(name)
        dest = src.with_name(f"{src.name}.deleted.{utc_stamp(now)}")
        try:
            os.rename(src, dest)
        except FileNotFoundError:
            raise TargetStoreError(f"{self.location}: no target file {src.name} to retire") from None
        except OSError as e:
            raise TargetStoreError(f"{self.location}: cannot rename {src.name}: {e.strerror}") from None
        return dest.name

    async def find_by_target(self, hostport_prefix: str) -> str | None:
        for p in sorted(self.dir.glob(f"*{SUFFIX}")):
            targets, _ = _summarise(p.read_text(errors="replace"))
            if any(t.startswith(hostport_prefix) for t in targets):
                return p.name
        return None

    async def history(self) -> list[HistoryEntry]:
        """Read in a thread: the console calls this on every refresh, and a directory of many files must not
        hold up its event loop."""
        return await asyncio.to_thread(self._history)

    def _history(self) -> list[HistoryEntry]:
        if not self.dir.is_dir():
            raise TargetStoreError(f"{self.location}: targets directory does not exist")
        listing, contents = [], {}
        for p in self.dir.iterdir():
            if p.is_file():
                listing.append((p.name, p.stat().st_mtime))
                with contextlib.suppress(OSError):
                    contents[p.name] = p.read_text(errors="replace")
        return history_from(listing, contents)


class SftpTargetStore:
    """The same operations over SFTP, on a session the caller opened to the Prometheus host."""

    def __init__(self, sftp: asyncssh.SFTPClient, directory: str, location: str) -> None:
        self._sftp = sftp
        self.dir = PurePosixPath(directory)
        self.location = location

    def _path(self, name: str) -> str:
        return str(self.dir / file_name(name))

    async def read(self, name: str) -> str | None:
        try:
            async with self._sftp.open(self._path(name), "rb") as f:
                data: bytes = await f.read()
                return data.decode("utf-8", "replace")
        except asyncssh.SFTPNoSuchFile:
            return None
        except asyncssh.SFTPError as e:
            raise TargetStoreError(f"{self.location}: cannot read {file_name(name)}: {e.reason}") from None

    async def write(self, name: str, text: str) -> None:
        path = self._path(name)
        tmp = str(self.dir / f".{file_name(name)}.{secrets.token_hex(4)}.tmp")
        try:
            async with self._sftp.open(tmp, "xb", asyncssh.SFTPAttrs(permissions=0o644)) as f:
                await f.write(text.encode())
            await self._sftp.posix_rename(tmp, path)
        except asyncssh.SFTPError as e:
            with contextlib.suppress(asyncssh.SFTPError):
                await self._sftp.remove(tmp)
            raise TargetStoreError(f"{self.location}: cannot write {file_name(name)}: {e.reason}") from None

    async def remove(self, name: str) -> None:
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await self._sftp.remove(self._path(name))

    async def retire(self, name: str, now: float | None = None) -> str:
        src = self._path(name)
        dest = f"{file_name(name)}.deleted.{utc_stamp(now)}"
        try:
            await self._sftp.posix_rename(src, str(self.dir / dest))
        except asyncssh.SFTPNoSuchFile:
            raise TargetStoreError(f"{self.location}: no target file {file_name(name)} to retire") from None
        except asyncssh.SFTPError as e:
            raise TargetStoreError(f"{self.location}: cannot rename {file_name(name)}: {e.reason}") from None
        return dest

    async def find_by_target(self, hostport_prefix: str) -> str | None:
        for n in sorted(await self._sftp.listdir(str(self.dir))):
            if n.endswith(SUFFIX) and not n.startswith("."):
                targets, _ = _summarise(await self.read(n))
                if any(t.startswith(hostport_prefix) for t in targets):
                    return n
        return None

    async def history(self) -> list[HistoryEntry]:
        try:
            entries = await self._sftp.readdir(str(self.dir))
        except asyncssh.SFTPError as e:
            raise TargetStoreError(f"{self.location}: cannot list: {e.reason}") from None
        listing = [(str(e.filename), float(e.attrs.mtime or 0)) for e in entries if e.filename not in (".", "..")]
        contents = {n: await self.read(n) for n, _ in listing if n.endswith(SUFFIX) or RETIRED_RE.match(n)}
        return history_from(listing, contents)


@dataclass(frozen=True)
class SshLocation:
    user: str | None
    host: str
    port: int
    path: str


def parse_location(location: str) -> SshLocation | None:
    """`ssh://user@host:port/path` -> SshLocation; a local path -> None."""
    if not location.startswith("ssh://"):
        return None
    parts = urlsplit(location)
    return SshLocation(parts.username, parts.hostname or "", parts.port or 22, unquote(parts.path))


@contextlib.asynccontextmanager
async def open_store(settings: Any, on_unknown_key: Any = None) -> AsyncIterator[TargetStore]:
    """The store for `targets.dir`: local, or over SFTP on the Prometheus host (fleetui's known_hosts apply)."""
    location = str(settings["targets.dir"])
    ssh = parse_location(location)
    if ssh is None:
        yield LocalTargetStore(Path(location))
        return
    from fleetui.adapters.ssh import SshTarget, connect_with_settings

    target = SshTarget(ssh.host, ssh.port, ssh.user)
    async with connect_with_settings(settings, target, on_unknown_key=on_unknown_key) as session:
        yield SftpTargetStore(await session.sftp(), ssh.path, location)
