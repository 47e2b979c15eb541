"""The one operation runner: every enroll, plan and retire — one host or many — goes through here.

What the runner owns, so no operation re-implements it:
- events: `started`, `progress` lines, then `done` / `skipped` / `planned` / `failed` per step, in order;
  each event is handed over before the run goes on (`events()` is a rendezvous), so what a front end shows is
  what has happened, and a test can act at an exact point;
- the per-host lock (one operation per host at a time, shared by every run of a `Runner`);
- cancellation: `Run.cancel()` (or cancelling the task iterating `events()`) interrupts the current step and
  the run then recovers and rolls back exactly like after a failure;
- the catch-all: any exception in a step, even a bug, ends in a `failed` event, a rollback and a result;
- truth after a lost connection: a dropped or stalled connection is its own error kind. The runner reconnects
  (bounded, with backoff), lets the interrupted step `settle` (read its on-host status file: applied, rolled
  back, still running), rolls back, and then reads the host back (`Operation.observe`); the result's
  `host_state` comes from that read-back, and is "unknown: <how to check>" when it could not be read;
- cleanup of the run's staged and status files on the host, on every outcome;
- one closing `OperationResult`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from fleetui.adapters.ssh import CommandTimeout, ConnectFailed, ConnectionLost, HostSession, SshError
from fleetui.config import Settings
from fleetui.deploy import decisions, onhost
from fleetui.deploy.events import ChangeState, ErrorKind, OperationResult, StepEvent, StepStatus
from fleetui.deploy.locks import HostLocks
from fleetui.deploy.operation import HostUnreachable, Observation, Operation, Step, StepContext, StepFailed

T = TypeVar("T")

RECONNECT_BUDGET_S = 30.0  # total pauses between reconnect attempts after a loss (each attempt: ssh.connect_timeout)
PROBE_TIMEOUT_S = 10.0  # a liveness probe that does not answer within this means the connection is stalled


class _Sessions:
    """The run's SSH session: opened on first use, dropped on a loss, reopened by the runner with backoff."""

    def __init__(self, op: Operation, stack: contextlib.AsyncExitStack, budget_s: float) -> None:
        self._op, self._stack, self.budget_s = op, stack, budget_s
        self.current: HostSession | None = None
        self.ever = False  # connected at least once, so there may be something on the host to recover
        self.unreachable: HostUnreachable | None = None

    async def get(self) -> HostSession:
        if self.current is None:
            if self.unreachable is not None:
                raise self.unreachable
            self.current = await self._stack.enter_async_context(self._op.connect())
            self.ever = True
        return self.current

    def drop(self) -> None:
        """Forget a session that was lost or stalled (aborting it: a stalled one might wake up later)."""
        if self.current is not None:
            self.current.abort()
            self.current = None

    async def reconnect(self, progress: Callable[[str], Awaitable[None]]) -> HostSession:
        self.drop()
        t0 = time.monotonic()
        last: BaseException | None = None
        for attempt, pause in enumerate(decisions.reconnect_delays(self.budget_s), 1):
            if pause:
                await asyncio.sleep(pause)
            try:
                session = await self.get()
            except ConnectFailed as e:  # refused, timed out, dropped again: try again after a pause
                last = e
                await progress(f"reconnect attempt {attempt} failed: {decisions.first_line(e)}")
                continue
            except SshError as e:  # authentication, host key: retrying cannot help
                last = e
                break
            await progress(f"reconnected after {time.monotonic() - t0:.1f}s")
            return session
        why = decisions.first_line(last) if last else "no attempt"
        self.unreachable = HostUnreachable(f"{self._op.host}: cannot reconnect ({why})")
        raise self.unreachable


class Run:
    """One operation on one host, started by `Runner.start`. Iterate `events()` once; then read `result`."""

    def __init__(self, runner: Runner, op: Operation, *, dry_run: bool) -> None:
        self.op = op
        self.host = op.host
        self.kind = "plan" if dry_run and op.kind == "enroll" else op.kind
        self.dry_run = dry_run
        self.result: OperationResult | None = None
        self._runner = runner
        self._iterated = False
        self._cancel_requested = False
        self._cancel_event: asyncio.Event | None = None
        self._queue: asyncio.Queue[tuple[StepEvent, asyncio.Future[None]] | None] | None = None
        self._consumer_gone = False
        self._events: list[StepEvent] = []
        self._sessions: _Sessions | None = None
        self._step = ""
        self._step_t0 = time.monotonic()
        # how it went
        self._applied: list[Step] = []
        self._interrupted: Step | None = None
        self._failed_step: str | None = None
        self._error: str | None = None
        self._kind: ErrorKind | None = None
        self._observation = Observation()
        self._leftovers: list[str] = []
        self._internal = False

    @property
    def session(self) -> HostSession | None:
        """The current SSH session, if one is open (a test cuts it with `abort()` to prove the recovery)."""
        return None if self._sessions is None else self._sessions.current

    def cancel(self) -> None:
        """Stop safely: the current step is interrupted, then the run recovers and rolls back like after a
        failure, and `events()` ends. Cancelling before `events()` runs nothing at all."""
        self._cancel_requested = True
        if self._cancel_event is not None:
            self._cancel_event.set()

    # --- the event stream -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[StepEvent]:
        if self._iterated:
            raise RuntimeError("Run.events() can be iterated only once")
        self._iterated = True
        queue: asyncio.Queue[tuple[StepEvent, asyncio.Future[None]] | None] = asyncio.Queue()
        self._queue = queue
        self._cancel_event = asyncio.Event()
        if self._cancel_requested:
            self._cancel_event.set()
        driver = asyncio.ensure_future(self._drive())
        ack: asyncio.Future[None] | None = None
        try:
            while (item := await queue.get()) is not None:
                ev, ack = item
                yield ev
                if not ack.done():
                    ack.set_result(None)
                ack = None
        except BaseException:  # cancelled, or the consumer stopped iterating: roll back before leaving
            self._consumer_gone = True
            self.cancel()
            if ack is not None and not ack.done():
                ack.set_result(None)
            while not queue.empty():
                left = queue.get_nowait()
                if left is not None and not left[1].done():
                    left[1].set_result(None)
            await asyncio.shield(driver)
            raise
        await driver

    async def _emit(self, step: str, status: StepStatus, message: str = "", elapsed: float = 0.0, **kw: Any) -> None:
        detail: Mapping[str, Any] = kw.get("detail") or {}
        ev = StepEvent(self.host, step, status, message, elapsed, dict(detail))
        self._events.append(ev)
        if self._consumer_gone or self._queue is None:
            return
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((ev, ack))
        await ack

    async def _step_emit(self, status: StepStatus, message: str, detail: Mapping[str, Any]) -> None:
        await self._emit(self._step, status, message, time.monotonic() - self._step_t0, detail=detail)

    async def _progress(self, message: str) -> None:
        await self._step_emit(StepStatus.PROGRESS, message, {})

    # --- driving ----------------------------------------------------------------------------------------

    async def _drive(self) -> None:
        started = time.monotonic()
        try:
            async with contextlib.AsyncExitStack() as stack:
                self._sessions = _Sessions(self.op, stack, self._runner.reconnect_budget_s)
                ctx = StepContext(self._runner.settings, self._sessions, self._step_emit, stack)
                if await self._lock(stack):
                    await self._steps(ctx)
                    await self._finish(ctx)
        except BaseException as e:  # a bug outside the guarded calls: still end with a result
            self._kind = self._kind or ErrorKind.INTERNAL
            self._error = self._error or f"internal error: {type(e).__name__}: {decisions.first_line(e)}"
            self._failed_step = self._failed_step or self._step or "run"
            self._observation = Observation(
                observed={"error": "fleetui stopped before it could read the host back: check the host by hand"}
            )
            self._internal = True
        finally:
            self.result = self._result(time.monotonic() - started)
            if self._queue is not None:
                self._queue.put_nowait(None)

    async def _until_cancelled(self, task: asyncio.Future[Any]) -> bool:
        """Wait for `task` unless the run is cancelled first (then cancel the task). True: the task finished."""
        assert self._cancel_event is not None
        waiter: asyncio.Future[Any] = asyncio.ensure_future(self._cancel_event.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the driver itself was cancelled: treat it as a cancel request
            self.cancel()
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        finally:
            waiter.cancel()
        if task.done():
            return True
        task.cancel()
        await asyncio.wait({task})
        return False

    async def _lock(self, stack: contextlib.AsyncExitStack) -> bool:
        lock = self._runner.locks.lock_for(*self.op.lock_key)
        if lock.locked():
            self._step = "lock"
            await self._progress("waiting for another fleetui operation on this host to finish")
        acquire = asyncio.ensure_future(lock.acquire())
        if not await self._until_cancelled(acquire) or acquire.cancelled():
            self._fail(self.op.steps[0].name if self.op.steps else "lock", ErrorKind.CANCELLED, "cancelled")
            return False
        stack.callback(lock.release)
        return True

    def _fail(self, step: str, kind: ErrorKind, error: str) -> None:
        self._failed_step, self._kind, self._error = step, kind, error

    async def _steps(self, ctx: StepContext) -> None:
        for step in self.op.steps:
            if self._cancel_requested:
                self._fail(step.name, ErrorKind.CANCELLED, "cancelled before this step started")
                return
            fn = step.plan if self.dry_run and step.plan is not None else step.apply
            self._step, self._step_t0 = step.name, time.monotonic()
            await self._emit(step.name, StepStatus.STARTED)
            task = asyncio.ensure_future(fn(ctx))
            finished = await self._until_cancelled(task)
            elapsed = time.monotonic() - self._step_t0
            if not finished:
                self._interrupted = step
                self._fail(step.name, ErrorKind.CANCELLED, "cancelled")
                await self._emit(step.name, StepStatus.FAILED, "cancelled", elapsed, detail={"error": "cancelled"})
                return
            exc = task.exception()
            if exc is not None:
                kind = decisions.classify_error(exc, step=step.name)
                if kind is ErrorKind.CONNECTION_LOST:
                    assert self._sessions is not None
                    self._sessions.drop()
                self._interrupted = step
                msg = _error_text(exc, kind)
                detail = exc.detail if isinstance(exc, StepFailed) else {"error": type(exc).__name__}
                self._fail(step.name, kind, msg)
                await self._emit(step.name, StepStatus.FAILED, msg, elapsed, detail=detail)
                return
            outcome = task.result()
            self._applied.append(step)
            await self._emit(step.name, outcome.status, outcome.message, elapsed, detail=outcome.detail)

    # --- after the steps: recover, roll back, read back, clean up ----------------------------------------

    async def _finish(self, ctx: StepContext) -> None:
        assert self._sessions is not None
        if self.dry_run or self._kind is ErrorKind.CONNECT or not (self._applied or self._interrupted):
            return  # a plan changes nothing; a run that never connected or never started a step did nothing
        if self._kind is not None and self._sessions.ever:
            settle = self._interrupted if self._interrupted is not None and self._interrupted.settle else None
            if self._kind is ErrorKind.CONNECTION_LOST or settle is not None:
                await self._recover(ctx, settle)
            if decisions.must_roll_back(self._kind, dry_run=self.dry_run):
                steps = [*self._applied, *([self._interrupted] if self._interrupted else [])]
                undoable = [s for s in reversed(steps) if s.undo is not None]
                if undoable:
                    await self._rollback(ctx, undoable)
        await self._ensure_session()
        self._observation = await self.op.observe(ctx, finished=self._kind is None)
        await self._cleanup(ctx)

    async def _recover(self, ctx: StepContext, settle: Step | None) -> None:
        assert self._sessions is not None
        self._step, self._step_t0 = "recover", time.monotonic()
        await self._emit("recover", StepStatus.STARTED)
        try:
            if self._kind is ErrorKind.CONNECTION_LOST:
                await self._sessions.reconnect(self._progress)
            found = None
            if settle is not None and settle.settle is not None:
                hook = settle.settle
                found = await self._with_host(lambda: hook(ctx))
        except Exception as e:
            await self._emit("recover", StepStatus.FAILED, decisions.first_line(e), time.monotonic() - self._step_t0)
            return
        await self._emit("recover", StepStatus.DONE, found or "reconnected", time.monotonic() - self._step_t0)

    async def _rollback(self, ctx: StepContext, steps: Sequence[Step]) -> None:
        self._step, self._step_t0 = "rollback", time.monotonic()
        await self._emit("rollback", StepStatus.STARTED)
        done: list[str] = []
        failed: list[str] = []
        for step in steps:
            hook = step.undo
            assert hook is not None
            try:
                msg = await self._with_host(lambda hook=hook: hook(ctx))  # type: ignore[misc]
            except Exception as e:  # one failed undo must not stop the others (the target file, say)
                failed.append(f"{step.name}: {decisions.first_line(e)}")
                continue
            if msg:
                done.append(msg)
        elapsed = time.monotonic() - self._step_t0
        if failed:
            await self._emit("rollback", StepStatus.FAILED, "; ".join(failed + done), elapsed)
        else:
            await self._emit("rollback", StepStatus.DONE, "; ".join(done) or "nothing to undo", elapsed)

    async def _with_host(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run a recovery hook; after a lost or stalled connection, reconnect (bounded) and run it once more."""
        assert self._sessions is not None
        try:
            return await fn()
        except (ConnectionLost, CommandTimeout):
            await self._sessions.reconnect(self._progress)
            return await fn()

    async def _ensure_session(self) -> None:
        """Before reading back and cleaning up: if a session was ever open, make sure it still answers (it may
        have been cut while no command ran), reconnecting if not."""
        s = self._sessions
        if s is None or not s.ever or s.unreachable is not None:
            return
        try:
            session = await s.get()
            await onhost.bounded(session.run(["true"]), f"{self.host}: probing the connection", PROBE_TIMEOUT_S)
            return
        except (ConnectionLost, CommandTimeout):
            pass
        except SshError:
            return
        self._step, self._step_t0 = "recover", time.monotonic()
        await self._emit("recover", StepStatus.STARTED)
        try:
            await s.reconnect(self._progress)
        except HostUnreachable as e:
            await self._emit("recover", StepStatus.FAILED, str(e), time.monotonic() - self._step_t0)
            return
        await self._emit("recover", StepStatus.DONE, "reconnected", time.monotonic() - self._step_t0)

    async def _cleanup(self, ctx: StepContext) -> None:
        """Remove the run's staged and status files (those of scripts still running or never seen to finish
        are kept, and named in the result, so their status can still be read)."""
        assert self._sessions is not None
        paths = ctx.leftovers_to_remove()
        kept = sorted(p for p, owner in ctx.files.items() if owner is not None and owner in ctx.unresolved)
        self._leftovers = kept
        if not paths or not self._sessions.ever:
            return

        async def remove() -> None:
            session = await ctx.session()
            rm = session.run(["rm", "-f", "--", *paths], sudo=ctx.sudo_cleanup)
            await onhost.bounded(rm, f"{self.host}: removing this run's files", PROBE_TIMEOUT_S)

        try:
            await self._with_host(remove)
        except Exception as e:
            self._leftovers = sorted({*kept, *paths})
            self._step, self._step_t0 = "cleanup", time.monotonic()
            await self._emit(
                "cleanup", StepStatus.FAILED, f"could not remove {', '.join(paths)}: {decisions.first_line(e)}"
            )

    def _result(self, elapsed: float) -> OperationResult:
        obs = self._observation
        state = decisions.host_state(obs.changes)
        if self._internal:
            state = "unknown: fleetui stopped before it could read the host back; check the host by hand"
        summary = self.op.summary(dry_run=self.dry_run)
        if self._leftovers:
            summary["leftovers"] = self._leftovers
        return OperationResult(
            host=self.host,
            operation=self.kind,
            ok=self._kind is None,
            changed=state == "changed",
            elapsed_s=elapsed,
            events=tuple(self._events),
            failed_step=self._failed_step,
            error=self._error,
            rolled_back=any(c.state is ChangeState.ROLLED_BACK for c in obs.changes),
            summary=summary,
            error_kind=self._kind,
            host_state=state,
            changes=obs.changes,
            observed=dict(obs.observed),
        )


def _error_text(exc: BaseException, kind: ErrorKind) -> str:
    if kind is ErrorKind.INTERNAL:
        return f"internal error: {type(exc).__name__}: {decisions.first_line(exc)}"
    if isinstance(exc, CommandTimeout):
        return f"connection stalled: {decisions.first_line(exc)}"
    return decisions.first_line(exc)


class Runner:
    """Runs operations: one per app, CLI run or batch. Owns the per-host locks every run shares."""

    def __init__(
        self, settings: Settings, *, locks: HostLocks | None = None, reconnect_budget_s: float = RECONNECT_BUDGET_S
    ) -> None:
        self.settings = settings
        self.locks = locks or HostLocks()
        self.reconnect_budget_s = reconnect_budget_s

    def start(self, op: Operation, *, dry_run: bool = False) -> Run:
        """A run of `op` (a plan with dry_run); it starts when its `events()` is iterated."""
        return Run(self, op, dry_run=dry_run)

    async def run_many(
        self,
        ops: Sequence[Operation],
        *,
        concurrency: int,
        dry_run: bool = False,
        runs: list[Run] | None = None,
    ) -> AsyncIterator[StepEvent]:
        """Run any mix of operations over many hosts, at most `concurrency` at once, as one merged event stream.

        Two operations on one host wait for each other (the shared locks); a failed host does not stop the
        others. `runs`, if given, is filled with the `Run`s in the order of `ops` before the first event, so the
        caller can read each `result` or cancel one. Leaving the loop early (or being cancelled) cancels every
        run still going, and waits until they have all rolled back.
        """
        all_runs = [self.start(op, dry_run=dry_run) for op in ops]
        if runs is not None:
            runs[:] = all_runs
        gate = asyncio.Semaphore(max(1, concurrency))
        queue: asyncio.Queue[StepEvent | None] = asyncio.Queue()

        async def one(run: Run) -> None:
            async with gate:
                async for ev in run.events():
                    queue.put_nowait(ev)

        tasks = [asyncio.ensure_future(one(r)) for r in all_runs]

        async def close_when_done() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            queue.put_nowait(None)

        closer = asyncio.ensure_future(close_when_done())
        try:
            while (ev := await queue.get()) is not None:
                yield ev
        finally:
            if not closer.done():
                for r in all_runs:
                    r.cancel()
                await asyncio.shield(closer)
