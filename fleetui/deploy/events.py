"""The one event stream every front end renders: the wizard, the batch screen and `fleetui enroll --json`.

Events are small frozen dataclasses with JSON-ready fields, so they can cross a worker boundary as Textual
messages or be printed as-is. `detail` never holds a secret: the pipeline only puts names, paths, versions,
diffs of masked files and exit codes in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class StepStatus(StrEnum):
    STARTED = "started"
    SKIPPED = "skipped"
    DONE = "done"
    FAILED = "failed"


# the enrollment steps, in order (retire has its own: connect, stop, retire, reload)
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
class OperationResult:
    """How an enroll / plan / retire ended. `ok` False means a step failed and the host was left as it was."""

    host: str
    operation: str  # enroll | plan | retire
    ok: bool
    changed: bool
    elapsed_s: float
    events: tuple[StepEvent, ...]
    failed_step: str | None = None
    error: str | None = None
    rolled_back: bool = False
    bad_input: bool = False  # the request was refused before anything was touched (exit 2)
    summary: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "operation": self.operation,
            "ok": self.ok,
            "changed": self.changed,
            "elapsed_s": round(self.elapsed_s, 3),
            "failed_step": self.failed_step,
            "error": self.error,
            "rolled_back": self.rolled_back,
            "summary": dict(self.summary),
            "events": [e.to_json() for e in self.events],
        }
