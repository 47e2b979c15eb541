"""The one event stream every front end renders: the console, a batch and `fleetui enroll --json`.

Events are small frozen dataclasses with JSON-ready fields, so they can cross a worker boundary as messages or
be printed as-is. `detail` never holds a secret: steps only put names, paths, versions, diffs of masked files
and exit codes in it.

The closing `OperationResult` says what happened to the *host*, not just to the run: `host_state` is
"changed", "unchanged", "rolled back" or "unknown: <how to check>", derived from what the runner read back on
the host at the end (`observed`), item by item in `changes`. "unchanged" and "rolled back" are only ever said
when that read-back confirmed them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class StepStatus(StrEnum):
    STARTED = "started"
    PROGRESS = "progress"  # a line of news from a step still running (e.g. the on-host script's progress)
    DONE = "done"
    SKIPPED = "skipped"  # nothing to do: the input is unchanged
    PLANNED = "planned"  # dry run: what the step would do
    FAILED = "failed"


class ErrorKind(StrEnum):
    """Why a run did not succeed. A lost or stalled connection is never reported as a command's verdict."""

    FAILED = "failed"  # a step's own verdict (a command exited non-zero, a check refused, Prometheus said no)
    CONNECT = "connect"  # the host could not be reached or refused us before anything ran
    CONNECTION_LOST = "connection lost"  # dropped or stalled in the middle: what ran is found out afterwards
    CANCELLED = "cancelled"
    INTERNAL = "internal"  # a bug; the host is still read back and rolled back like after a failure


class ChangeState(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    ROLLED_BACK = "rolled back"
    UNKNOWN = "unknown"


# the enrollment steps, in order
STEPS = (
    "connect",
    "detect",
    "install",
    "render",
    "upload",
    "validate",
    "swap",
    "restart",
    "ready",
    "target",
    "reload",
    "verify",
)
# retirement: reach the host first (fail before changing anything), then the target file, then the agent
RETIRE_STEPS = ("connect", "retire", "reload", "stop")
# what the runner itself adds after a failure
RECOVERY_STEPS = ("recover", "rollback", "cleanup")


@dataclass(frozen=True)
class StepEvent:
    host: str
    step: str
    status: StepStatus
    message: str = ""
    elapsed_s: float = 0.0
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "step": self.step,
            "status": self.status.value,
            "message": self.message,
            "elapsed_s": round(self.elapsed_s, 3),
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class Change:
    """One thing on the host (or in the targets dir) and what the operation left it as, as read back."""

    what: str  # "alloy package" | "alloy config" | "env file" | "alloy service" | "target file"
    state: ChangeState
    note: str = ""  # a sentence for a person; for UNKNOWN it says how to check

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "state": self.state.value, "note": self.note}


@dataclass(frozen=True)
class OperationResult:
    """How an enroll / plan / retire ended, and what the host is now."""

    host: str
    operation: str  # enroll | plan | retire
    ok: bool
    changed: bool  # host_state == "changed"
    elapsed_s: float
    events: tuple[StepEvent, ...]
    failed_step: str | None = None
    error: str | None = None
    rolled_back: bool = False  # something was undone, and the read-back confirmed it
    bad_input: bool = False  # the request was refused before anything was touched (exit 2)
    summary: Mapping[str, Any] = field(default_factory=dict)
    error_kind: ErrorKind | None = None
    host_state: str = "unchanged"  # "changed" | "unchanged" | "rolled back" | "unknown: <how to check>"
    changes: tuple[Change, ...] = ()
    observed: Mapping[str, Any] = field(default_factory=dict)  # what was read back on the host at the end

    @property
    def cancelled(self) -> bool:
        return self.error_kind is ErrorKind.CANCELLED

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "operation": self.operation,
            "ok": self.ok,
            "changed": self.changed,
            "elapsed_s": round(self.elapsed_s, 3),
            "failed_step": self.failed_step,
            "error": self.error,
            "error_kind": None if self.error_kind is None else self.error_kind.value,
            "rolled_back": self.rolled_back,
            "host_state": self.host_state,
            "changes": [c.to_json() for c in self.changes],
            "observed": dict(self.observed),
            "summary": dict(self.summary),
            "events": [e.to_json() for e in self.events],
        }
