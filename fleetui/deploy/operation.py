"""What the runner runs: an operation is a kind plus an ordered list of steps.

A step that changes the host has a separate `plan` (the dry run: says what it would do, changes nothing) and
`apply`, so no step ever checks a dry-run flag. Two optional hooks let the runner tell the truth after a failure:
`settle` finds out what an interrupted `apply` really did (after a lost connection, a stall or a cancel, the
runner reconnects first), and `undo` rolls back what `apply` changed. The operation itself reads the host back
at the end (`observe`), so the closing result reports what is there, not what was hoped for.

Steps share the operation object's state (an enrollment's detected facts, rendered files...) and reach the host
through the `StepContext` the runner hands them: the SSH session (opened lazily, reopened by the runner after a
loss), progress lines, and the registry of staged and status files the runner removes on every outcome.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fleetui.adapters.ssh import ConnectFailed, HostSession, OnUnknownKey, SshTarget, connect_with_settings
from fleetui.deploy.events import Change, StepStatus

if TYPE_CHECKING:
    from fleetui.config import Settings
    from fleetui.domain.host import EnrollRequest


class StepFailed(Exception):
    """A step's own verdict: the host answered, and the answer was no. `str()` is one line for a person."""

    def __init__(self, message: str, *, detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = dict(detail or {})


class HostUnreachable(ConnectFailed):
    """The runner could not get a connection back within its reconnect budget."""


@dataclass(frozen=True)
class Outcome:
    status: StepStatus
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)


def done(message: str, **detail: Any) -> Outcome:
    return Outcome(StepStatus.DONE, message, detail)


def skipped(message: str, **detail: Any) -> Outcome:
    return Outcome(StepStatus.SKIPPED, message, detail)


def planned(message: str, **detail: Any) -> Outcome:
    return Outcome(StepStatus.PLANNED, message, detail)


StepFn = Callable[["StepContext"], Awaitable[Outcome]]


@dataclass(frozen=True)
class Step:
    """One step. `plan` None: the step only reads, so a dry run runs `apply`. `settle`: after `apply` was cut
    short, learn what it did (the runner has reconnected) and say it. `undo`: roll back what it changed; returns
    what it did, or None when there was nothing to undo."""

    name: str
    apply: StepFn
    plan: StepFn | None = None
    settle: Callable[[StepContext], Awaitable[str]] | None = None
    undo: Callable[[StepContext], Awaitable[str | None]] | None = None


@dataclass(frozen=True)
class Observation:
    """The host read back at the end: each item's state, and the raw values read (hashes, service state...)."""

    changes: tuple[Change, ...] = ()
    observed: Mapping[str, Any] = field(default_factory=dict)


class Operation(Protocol):
    """An enrollment, a retirement... built by a factory (`enroll_operation`, `retire_operation`) after its
    input was checked, and run once by a `Runner`."""

    kind: str  # "enroll" | "retire"
    host: str  # the address, as events name it
    lock_key: tuple[str, int | None]  # (address, port or None for the ssh config's): one operation per host at a time

    @property
    def steps(self) -> Sequence[Step]: ...

    def connect(self) -> AbstractAsyncContextManager[HostSession]:
        """A fresh connection to the host (used for the first connect and every reconnect)."""
        ...

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        """Read the host back after a real run (never in a dry run, nor when the first connect failed). Items
        that cannot be read are UNKNOWN unless `finished` (every step passed, which confirmed them)."""
        ...

    def summary(self, *, dry_run: bool) -> dict[str, Any]: ...


class _Emitter(Protocol):
    async def __call__(self, status: StepStatus, message: str, detail: Mapping[str, Any]) -> None: ...


class SessionSource(Protocol):
    async def get(self) -> HostSession: ...


class StepContext:
    """What a step may use: the settings, the host session, progress lines and the file registry."""

    def __init__(
        self, settings: Settings, sessions: SessionSource, emit: _Emitter, stack: contextlib.AsyncExitStack
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._emit = emit
        self.stack = stack  # closed when the run ends: steps keep their own connections (the target store) here
        self.sudo_cleanup = True  # remove files with sudo (the scripts run as root)
        self.token = secrets.token_hex(6)  # names this run's staged and status files on the host
        self.files: dict[str, str | None] = {}  # path -> status file of the script that owns it (or None)
        self.unresolved: set[str] = set()  # status files of scripts whose end we could not see: keep their files

    async def session(self) -> HostSession:
        """The open session (connecting on first use). Steps never reconnect themselves: a lost connection fails
        the step and the runner recovers."""
        return await self._sessions.get()

    async def progress(self, message: str, **detail: Any) -> None:
        await self._emit(StepStatus.PROGRESS, message, detail)

    def status_file(self, kind: str, *, with_log: bool = False) -> str:
        """A new status-file path for an on-host script of this run (and its `.log`, if it keeps one); both are
        removed at the end."""
        from fleetui.deploy.remote_scripts import STATUS_DIR

        path = f"{STATUS_DIR}/fleetui-{kind}-{self.token}-{secrets.token_hex(3)}.status"
        self.files[path] = path
        if with_log:
            self.files[path + ".log"] = path
        return path

    def track(self, path: str, owner: str | None = None) -> None:
        """A staged file to remove at the end (unless `owner`, a script's status file, is unresolved)."""
        self.files[path] = owner

    def leftovers_to_remove(self) -> list[str]:
        return sorted(p for p, owner in self.files.items() if owner is None or owner not in self.unresolved)


def connect_request(
    settings: Settings,
    req: EnrollRequest,
    password: str | None,
    on_unknown_key: OnUnknownKey | None,
    *,
    known_as: str | None = None,
) -> AbstractAsyncContextManager[HostSession]:
    """The session an operation on `req`'s host opens: enroll, retire and the wizard's look at a host reach it
    the same way (explicit port/user/key, then the ssh config, then fleetui's settings). `known_as`: the fleet
    row the operation is for, when `req.address` is only the way to it (SshTarget.known_as)."""
    return connect_with_settings(
        settings,
        SshTarget(req.address, req.port, req.user, known_as),
        identity_file=req.identity_file,
        password=password,
        on_unknown_key=on_unknown_key,
    )
