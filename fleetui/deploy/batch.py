"""A batch: one operation per host, run on the `Runner` at most `concurrency` at a time, with per-host status.

Shared by `fleetui enroll --from` and the console, so both schedule, stop and record the same way:
- a failure budget: once `max_failures` hosts have failed, no new host starts (those running finish, and each
  rolls back on its own failure as always); the rest are "not started", so a retry picks them up;
- a canary: the first `canary` hosts run alone; the rest start only if every one of them came up;
- the concurrency can change while the batch runs (the console's +/-): more hosts start at once when raised,
  fewer are started when lowered (none is interrupted);
- cancel: every running host is cancelled and rolls back (the runner's rule), nothing new starts;
- per host: state (waiting, running, ok, failed, not started), current step, elapsed, outcome, failure message
  and what the host is now, kept in `hosts` and written to a results file for `--retry-failed`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.deploy.operation import Operation
from fleetui.deploy.runner import Run, Runner

RESULTS_VERSION = 1


@dataclass
class BatchHost:
    """One host of a batch. `entry` is the host as the list gave it (JSON-ready, no secret), kept so a retry
    can rebuild it; `op` is the operation to run (built, so every check ran, before the batch starts)."""

    name: str
    entry: Mapping[str, Any]
    op: Operation
    state: str = "waiting"  # waiting | running | ok | failed | not started
    step: str = ""
    started: float | None = None
    ended: float | None = None
    result: OperationResult | None = None
    error: str = ""  # set for a host that never ran, or to replace the result's wording (unknown host key)
    run: Run | None = field(default=None, repr=False)

    @property
    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    @property
    def failure(self) -> str:
        """The failure message: which step and why (empty unless failed or not started)."""
        if self.error:
            return self.error
        r = self.result
        if r is None or r.ok:
            return ""
        return f"{r.failed_step} failed: {r.error}"

    @property
    def ending(self) -> str:
        """The log line of a host that ended: "ENROLLED in 42.3s", or for a failure what the host is now before
        why it failed ("FAILED, host unchanged — detect failed: …"). Why that order: the failure message can be
        long, and a line cut at the edge of an 80-column terminal must still say what the host is."""
        if self.state == "ok":
            return f"ENROLLED in {self.elapsed_s:.1f}s"
        state = f", host {self.result.host_state}" if self.result is not None else ""
        return f"FAILED{state} — {self.failure}"

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            **dict(self.entry),
            "outcome": self.state,
            "failed_step": r.failed_step if r is not None else None,
            "error": self.failure or None,
            "host_state": r.host_state if r is not None else "unchanged",
            "changed": bool(r and r.changed),
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class BatchEvent:
    """What a front end shows. kind: "step" (a runner event of `host`), "host" (a host started or ended: see
    its `BatchHost`), "stopped" (the budget or the canary stopped new starts: `message` says why)."""

    kind: str
    host: str = ""
    step: StepEvent | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind}
        if self.host:
            out["host"] = self.host
        if self.step is not None:
            out.update(self.step.to_json())
            out["host"] = self.host
        if self.message:
            out["message"] = self.message
        return out


class Batch:
    def __init__(
        self,
        runner: Runner,
        hosts: list[BatchHost],
        *,
        concurrency: int,
        max_failures: int | None = None,
        canary: int = 0,
    ) -> None:
        self.runner = runner
        self.hosts = hosts
        self.concurrency = max(1, concurrency)
        self.max_failures = max_failures
        self.canary = max(0, min(canary, len(hosts)))
        self.stopped_because = ""
        self.started_at = datetime.now(UTC)
        self.finished_at: datetime | None = None
        self._cancelled = False
        self._wake: asyncio.Queue[BatchEvent | None] | None = None
        self._t0 = time.monotonic()

    # --- control (any time while running) ---------------------------------------------------------------

    def set_concurrency(self, n: int) -> None:
        self.concurrency = max(1, n)
        if self._wake is not None:
            self._wake.put_nowait(BatchEvent("wake"))

    def cancel(self) -> None:
        """Stop starting hosts and cancel the running ones (each rolls back before its run ends)."""
        self._cancelled = True
        for h in self.hosts:
            if h.run is not None and h.state == "running":
                h.run.cancel()
        if self._wake is not None:
            self._wake.put_nowait(BatchEvent("wake"))

    # --- counts -------------------------------------------------------------------------------------------

    def count(self, state: str) -> int:
        return sum(1 for h in self.hosts if h.state == state)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._t0

    # --- running ------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[BatchEvent]:
        """Run the batch, yielding every event as it happens. Leaving the loop early cancels the batch and waits
        until every running host has rolled back."""
        queue: asyncio.Queue[BatchEvent | None] = asyncio.Queue()
        self._wake = queue
        self._t0 = time.monotonic()
        pending = deque(self.hosts)
        active: set[asyncio.Task[None]] = set()
        canaries = self.hosts[: self.canary]

        def canary_phase() -> bool:
            return any(h.state in ("waiting", "running") for h in canaries)

        def ended(task: asyncio.Task[None]) -> None:
            active.discard(task)
            queue.put_nowait(None)  # wakes the loop, which then sees whether anything is left

        def start_more() -> None:
            while pending and not self._cancelled and not self.stopped_because:
                if self.count("running") >= self.concurrency:
                    return
                if canary_phase() and pending[0] not in canaries:
                    return  # the rest waits for the canaries' verdict
                h = pending.popleft()
                h.state, h.started = "running", time.monotonic()  # now, so the count above sees it
                task = asyncio.ensure_future(self._one(h, queue))
                active.add(task)
                task.add_done_callback(ended)

        try:
            start_more()
            while active or not queue.empty():
                ev = await queue.get()
                if ev is not None and ev.kind != "wake":
                    yield ev
                if ev is not None and ev.kind == "host" and pending and not self.stopped_because:
                    why = self._stop_reason(canary_phase())
                    if why:
                        self.stopped_because = why
                        yield BatchEvent("stopped", message=why)
                start_more()
        finally:
            if active:
                self.cancel()
                await asyncio.shield(asyncio.gather(*active, return_exceptions=True))
            for h in pending:
                if h.state == "waiting":
                    h.state = "not started"
                    h.error = self._not_started_reason()
            self.finished_at = datetime.now(UTC)
            self._wake = None

    def _stop_reason(self, canary_phase: bool) -> str:
        failed = self.count("failed")
        bad_canaries = sum(1 for h in self.hosts[: self.canary] if h.state == "failed")
        if self.canary and not canary_phase and bad_canaries:
            return (
                f"canary failed: {bad_canaries} of the first {self.canary} hosts did not come up, "
                "so no other host was started"
            )
        if self.max_failures is not None and failed >= self.max_failures:
            return f"failure budget reached: {failed} hosts failed (budget {self.max_failures}), so no new host starts"
        return ""

    def _not_started_reason(self) -> str:
        if self.stopped_because:
            return f"not started: {self.stopped_because.split(':')[0]}"
        return "not started: the batch was cancelled"

    async def _one(self, h: BatchHost, queue: asyncio.Queue[BatchEvent | None]) -> None:
        run = self.runner.start(h.op)
        h.run = run
        queue.put_nowait(BatchEvent("host", h.name))
        try:
            async for ev in run.events():
                if ev.status is StepStatus.STARTED:
                    h.step = ev.step
                queue.put_nowait(BatchEvent("step", h.name, ev))
        finally:
            h.ended = time.monotonic()
            h.result = run.result
            h.state = "ok" if run.result is not None and run.result.ok else "failed"
            queue.put_nowait(BatchEvent("host", h.name))

    # --- results ------------------------------------------------------------------------------------------

    def results_json(self, source: str) -> dict[str, Any]:
        return {
            "fleetui_batch": RESULTS_VERSION,
            "operation": "enroll",
            "source": source,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": (self.finished_at or datetime.now(UTC)).isoformat(timespec="seconds"),
            "concurrency": self.concurrency,
            "stopped": self.stopped_because or None,
            "counts": {s: self.count(s) for s in ("ok", "failed", "not started")},
            "hosts": [h.to_json() for h in self.hosts],
        }


def failed_entries(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The hosts of a results file that did not come up (failed or never started): what a retry runs."""
    if results.get("fleetui_batch") != RESULTS_VERSION or not isinstance(results.get("hosts"), list):
        raise ValueError("not a fleetui batch results file")
    keys = ("name", "address", "port", "user", "identity", "password_env", "mode", "services", "labels")
    return [{k: h.get(k) for k in keys} for h in results["hosts"] if h.get("outcome") != "ok"]
