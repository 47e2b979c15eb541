"""The local operation log: one JSON line per operation fleetui ran, append-only, in the state directory.

The targets directory says which hosts were enrolled and retired; it cannot say who ran what from where, or
which attempts failed. This log does, for this machine: local user, time, host, operation, outcome, the host
state read back and the sha256 of the config the host ended with. It never holds a secret — records are built
from an allow-list of fields (`record_for`), never from the request, so a password or a DSN has no way in.
The file is created 0600 and only ever appended to; a line that does not parse is skipped when reading.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fleetui.config import default_state_dir

FILE_NAME = "operations.jsonl"


def default_path() -> Path:
    return default_state_dir() / FILE_NAME


@dataclass(frozen=True)
class OpRecord:
    time: float
    user: str
    host: str
    operation: str  # enroll | plan | retire
    outcome: str  # ok | failed | cancelled
    host_state: str  # changed | unchanged | rolled back | unknown: …
    failed_step: str | None = None
    config_sha256: str | None = None
    alloy_version: str | None = None  # the Alloy version read back from the host afterwards (drift)
    instance: str | None = None  # the fleet row a fix was for (where the console finds the address again)

    def to_json(self) -> dict[str, Any]:
        extra = {} if self.instance is None else {"instance": self.instance}
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time)),
            "user": self.user,
            "host": self.host,
            "operation": self.operation,
            "outcome": self.outcome,
            "host_state": self.host_state,
            "failed_step": self.failed_step,
            "config_sha256": self.config_sha256,
            "alloy_version": self.alloy_version,
            **extra,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpRecord:
        stamp = time.strptime(str(data["time"]), "%Y-%m-%dT%H:%M:%SZ")
        return cls(
            time=float(_timegm(stamp)),
            user=str(data["user"]),
            host=str(data["host"]),
            operation=str(data["operation"]),
            outcome=str(data["outcome"]),
            host_state=str(data.get("host_state", "")),
            failed_step=None if data.get("failed_step") is None else str(data["failed_step"]),
            config_sha256=None if data.get("config_sha256") is None else str(data["config_sha256"]),
            alloy_version=None if data.get("alloy_version") is None else str(data["alloy_version"]),
            instance=None if data.get("instance") is None else str(data["instance"]),
        )


def _timegm(t: time.struct_time) -> int:
    import calendar

    return calendar.timegm(t)


def local_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return f"uid {os.getuid()}"


class FinishedRun(Protocol):
    """What the log reads of a finished operation (the runner's OperationResult): named fields only."""

    @property
    def host(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def host_state(self) -> str: ...
    @property
    def failed_step(self) -> str | None: ...
    @property
    def observed(self) -> Mapping[str, Any]: ...


def record_of(run: FinishedRun) -> OpRecord:
    """The record of a finished run: the console and the CLI log the same fields the same way."""
    return record_for(
        host=run.host,
        operation=run.operation,
        ok=run.ok,
        cancelled=run.cancelled,
        host_state=run.host_state,
        failed_step=run.failed_step,
        observed=run.observed,
    )


def record_for(
    *,
    host: str,
    operation: str,
    ok: bool,
    cancelled: bool,
    host_state: str,
    failed_step: str | None,
    observed: Mapping[str, Any],
    now: float | None = None,
) -> OpRecord:
    """The record of one finished operation, from named fields only (never from the request: no secrets)."""
    sha = observed.get("config_sha256")
    version = observed.get("alloy_version")
    instance = observed.get("instance")
    return OpRecord(
        time=time.time() if now is None else now,
        user=local_user(),
        host=host,
        operation=operation,
        outcome="ok" if ok else ("cancelled" if cancelled else "failed"),
        host_state=host_state,
        failed_step=failed_step,
        config_sha256=sha if isinstance(sha, str) and len(sha) == 64 else None,
        alloy_version=version[:64] if isinstance(version, str) and version else None,
        instance=instance[:256] if isinstance(instance, str) and instance else None,
    )


class OpLog:
    """`append` one record; `read` them all, oldest first. Errors are the caller's to show (OSError)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def append(self, record: OpRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = json.dumps(record.to_json(), sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a file made by an older umask-happy version is tightened too
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read(self) -> list[OpRecord]:
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        out: list[OpRecord] = []
        for line in text.splitlines():
            try:
                out.append(OpRecord.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue  # a torn or foreign line: skip it, keep the rest
        return out
