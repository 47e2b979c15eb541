"""The console's operations service: every enroll, plan or retire started from a screen runs through here.

It owns what must be shared across screens: one deploy Runner with one set of per-host locks (two screens can
never run two operations on one host at once), the workers the runs iterate in (named, `exit_on_error=False`:
the runner ends every run with a result, even after a bug), the progress messages (OperationProgress per
event, OperationDone with the result) sent to the screens that subscribed, and the host-key question: the
SSH adapter's `on_unknown_key` callback opens HostKeyDialog and the connection waits for the answer. Questions
are asked one at a time: a merged log or a doctor over several hosts meets several unknown keys at once, and
two dialogs on the screen stack at once broke every reader after the first.

Screens hand over a factory that builds the operation with that callback (`make(on_unknown_key)`), so the
operation's own input checks run at `start`, before any connection, and raise InputError to the screen.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App
from textual.message_pump import MessagePump

from fleetui.adapters.oplog import OpLog, record_of
from fleetui.adapters.ssh import HostKeyInfo, OnUnknownKey
from fleetui.config import Settings
from fleetui.deploy.batch import Batch, BatchHost
from fleetui.deploy.events import OperationResult, StepEvent
from fleetui.deploy.locks import HostLocks
from fleetui.deploy.operation import Operation
from fleetui.deploy.runner import Run, Runner
from fleetui.tui.batch_messages import BatchDone, BatchProgress
from fleetui.tui.messages import OperationDone, OperationProgress, Subscribers
from fleetui.tui.widgets.host_key_dialog import HostKeyDialog

MakeOperation = Callable[[OnUnknownKey], Operation]


@dataclass
class OperationHandle:
    """One operation started from the console: its run, the events so far and, once over, its result."""

    id: int
    title: str
    run: Run
    events: list[StepEvent] = field(default_factory=list)
    result: OperationResult | None = None

    @property
    def host(self) -> str:
        return self.run.host

    @property
    def kind(self) -> str:
        return self.run.kind

    @property
    def running(self) -> bool:
        return self.result is None

    def cancel(self) -> None:
        """Stop safely: the runner interrupts the current step and rolls back like after a failure."""
        self.run.cancel()


@dataclass
class BatchHandle:
    """A batch started from the console: the `Batch` (per-host state, concurrency, cancel) and where its
    results file goes. `running` is False once every host has its outcome and the file was written (or
    `write_error` says why it was not)."""

    id: int
    batch: Batch
    source: str
    results_path: Path
    running: bool = True
    write_error: str = ""

    def cancel(self) -> None:
        """Stop starting hosts; every running host is interrupted and rolls back (the runner's rule)."""
        self.batch.cancel()


class Operations:
    """`attach(app)` before the first `start` (the app runs the workers and shows the dialog)."""

    def __init__(self, settings: Settings, *, locks: HostLocks | None = None, oplog: OpLog | None = None) -> None:
        """`oplog`: the local operation log every finished run is appended to (default: the state dir's)."""
        self.locks = locks or HostLocks()
        self.oplog = oplog or OpLog()
        self.runner = Runner(settings, locks=self.locks)
        self.subscribers = Subscribers()
        self.handles: dict[int, OperationHandle] = {}
        self.batches: dict[int, BatchHandle] = {}
        self._ids = itertools.count(1)
        self._app: App[Any] | None = None
        self._asking = asyncio.Lock()  # one host-key question on screen at a time (see ask_host_key)
        # (address, port, fingerprint) the operator trusted in this console: a question queued behind the one
        # that trusted the same key is answered by it, not asked twice
        self._trusted: set[tuple[str, int, str]] = set()

    def attach(self, app: App[Any]) -> None:
        self._app = app

    def subscribe(self, node: MessagePump) -> None:
        self.subscribers.add(node)

    @property
    def running(self) -> list[OperationHandle]:
        return [h for h in self.handles.values() if h.running]

    def start(self, make: MakeOperation, *, dry_run: bool = False, title: str = "") -> OperationHandle:
        """Build the operation (InputError/ConfigError raised here, nothing connected yet) and run it."""
        app = self._app
        if app is None:
            raise RuntimeError("Operations.attach(app) was not called")
        run = self.runner.start(make(self.ask_host_key), dry_run=dry_run)
        handle = OperationHandle(next(self._ids), title or f"{run.kind} {run.host}", run)
        self.handles[handle.id] = handle
        app.run_worker(
            self._drive(handle),
            name=f"operation-{handle.id}",
            group="operations",
            description=handle.title,
            exit_on_error=False,
        )
        return handle

    def start_batch(self, hosts: list[BatchHost], *, concurrency: int, source: str, results_path: Path) -> BatchHandle:
        """Run many hosts on this service's runner (the same per-host locks as every other console run); each
        finished host is logged like a single run; BatchProgress/BatchDone go to the subscribers."""
        app = self._app
        if app is None:
            raise RuntimeError("Operations.attach(app) was not called")
        batch = Batch(self.runner, hosts, concurrency=concurrency)
        handle = BatchHandle(next(self._ids), batch, source, results_path)
        self.batches[handle.id] = handle
        app.run_worker(
            self._drive_batch(handle),
            name=f"batch-{handle.id}",
            group="operations",
            description=f"batch of {len(hosts)} hosts from {source}",
            exit_on_error=False,
        )
        return handle

    async def _drive_batch(self, handle: BatchHandle) -> None:
        from fleetui.commands.batch_enroll import write_results

        try:
            async for event in handle.batch.events():
                if event.kind == "host":
                    host = next(h for h in handle.batch.hosts if h.name == event.host)
                    if host.result is not None and host.state in ("ok", "failed"):
                        self._log(host.result)
                self.subscribers.post(partial(BatchProgress, handle.id, event))
        finally:
            try:
                write_results(handle.results_path, handle.batch.results_json(handle.source))
            except OSError as e:
                handle.write_error = f"could not write the results file {handle.results_path}: {e}"
            handle.running = False
            self.subscribers.post(partial(BatchDone, handle.id))

    async def _drive(self, handle: OperationHandle) -> None:
        try:
            async for event in handle.run.events():
                handle.events.append(event)
                self.subscribers.post(partial(OperationProgress, handle.id, event))
        finally:
            result = handle.run.result
            if result is not None:
                handle.result = result
                self._log(result)
                self.subscribers.post(partial(OperationDone, handle.id, result))

    def _log(self, result: OperationResult) -> None:
        """Append the run to the local operation log; a log that cannot be written is said, never fatal.
        The wizard's read-only look at a host (`probe`) is not an operation worth a line."""
        if result.operation == "probe":
            return
        try:
            self.oplog.append(record_of(result))
        except OSError as e:
            if self._app is not None:
                self._app.notify(f"Could not write the operation log {self.oplog.path}: {e}", severity="warning")

    async def ask_host_key(self, info: HostKeyInfo) -> bool:
        """The `on_unknown_key` callback: show the fingerprint, wait for trust (True) or refuse (False).

        One question at a time: the others wait their turn (a cancelled run leaves the queue). A key the
        operator trusted for the same address while this one waited is trusted without asking again."""
        app = self._app
        if app is None:
            return False
        key = (info.host, info.port, info.fingerprint)
        async with self._asking:
            if key in self._trusted:
                return True
            trust = await self._ask(app, info)
            if trust:
                self._trusted.add(key)
            return trust

    @staticmethod
    async def _ask(app: App[Any], info: HostKeyInfo) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(trust: bool | None) -> None:
            if not answer.done():
                answer.set_result(bool(trust))

        dialog = HostKeyDialog(info)
        app.push_screen(dialog, callback=answered)
        try:
            return await answer
        finally:
            if not answer.done() and dialog.is_attached:  # the run was cancelled while the question was open
                dialog.dismiss(False)
