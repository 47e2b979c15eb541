"""The runner's own mechanics without a lab: event order, rollback order, cancel (by `Run.cancel()`, by cancelling
the task iterating `events()`, by leaving the loop), the catch-all for bugs, a lost or stalled connection followed
by a reconnect and a status read, a reconnect that never succeeds, cleanup on every outcome, dry runs, the
per-host lock and `run_many`.

Why a stand-in host here: these cases need a connection to drop at an exact instant, to stall, or reconnects to
fail a chosen number of times — things a real sshd cannot be made to do deterministically inside a unit test.
The stand-in is the narrowest edge the runner touches (`Operation.connect()` yielding an object with `run` and
`abort`); the steps are ordinary `Step`s over an in-memory host. tests/lab/test_cut_truth_lab.py does the same
against real sshd, the real on-host scripts and the real Alloy stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from fleetui.adapters.ssh import CommandResult, CommandTimeout, ConnectFailed, ConnectionLost, SshError
from fleetui.config import load
from fleetui.deploy.decisions import read_status
from fleetui.deploy.events import Change, ChangeState, ErrorKind, OperationResult, StepEvent, StepStatus
from fleetui.deploy.operation import Observation, Outcome, Step, StepContext, StepFailed, done, planned
from fleetui.deploy.runner import Run, Runner


class FakeHost:
    """In-memory host: a config ("old"/"new"), files, on-host script results, and how connecting goes."""

    def __init__(self) -> None:
        self.config = "old"
        self.files: set[str] = set()
        self.status: dict[str, str] = {}
        self.sessions: list[FakeSession] = []
        self.refuse_connects = 0
        self.commands: list[tuple[str, ...]] = []


class FakeSession:
    def __init__(self, host: FakeHost) -> None:
        self.host, self.alive, self.stalled = host, True, False

    def abort(self) -> None:
        self.alive = False

    async def run(self, argv: Sequence[str], *, sudo: bool = False, **kw: Any) -> Any:
        if not self.alive:
            raise ConnectionLost("h1: connection lost")
        if self.stalled:
            raise CommandTimeout("h1: `x` did not finish within 10s")
        self.host.commands.append(tuple(argv))
        if argv[:3] == ["rm", "-f", "--"]:
            self.host.files -= set(argv[3:])
        if argv[0] == "cat":
            return CommandResult(0, self.host.status.get(argv[1], "#missing\n"), "")
        return CommandResult(0, "", "")


class FakeOp:
    """An operation whose steps are given by the test; `log` records what ran, in order."""

    kind = "enroll"

    def __init__(self, fake: FakeHost, name: str = "h1") -> None:
        self.fake, self.host, self.lock_key = fake, name, (name, 22)
        self.log: list[str] = []
        self.step_list: list[Step] = []
        self.changed_config = False

    @property
    def steps(self) -> Sequence[Step]:
        return self.step_list

    def connect(self) -> contextlib.AbstractAsyncContextManager[Any]:
        @contextlib.asynccontextmanager
        async def cm() -> AsyncIterator[FakeSession]:
            if self.fake.refuse_connects:
                self.fake.refuse_connects -= 1
                raise ConnectFailed("h1:22: cannot connect (refused)")
            s = FakeSession(self.fake)
            self.fake.sessions.append(s)
            yield s

        return cm()

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        self.log.append("observe")
        try:
            await (await ctx.session()).run(["read", "config"])
        except SshError as e:
            return Observation((Change("config", ChangeState.UNKNOWN, f"{e}; check it by hand"),))
        if self.fake.config == "new":
            return Observation((Change("config", ChangeState.CHANGED),), {"config": "new"})
        state = ChangeState.ROLLED_BACK if self.changed_config else ChangeState.UNCHANGED
        return Observation((Change("config", state),), {"config": "old"})

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        return {"dry_run": dry_run}

    # building blocks for the tests' steps
    def ok(self, name: str, **kw: Any) -> Step:
        async def apply(ctx: StepContext) -> Outcome:
            self.log.append(f"apply {name}")
            if name == "connect":
                await ctx.session()
            return done(f"{name} done")

        async def plan(ctx: StepContext) -> Outcome:
            self.log.append(f"plan {name}")
            return planned(f"would {name}")

        return Step(name, apply, plan=plan, **kw)

    def swap(self, then: Callable[[FakeSession], None] | None = None) -> Step:
        """Launches the 'apply script' (sets config new, writes its status), then optionally breaks the session."""

        async def apply(ctx: StepContext) -> Outcome:
            self.log.append("apply swap")
            s = await ctx.session()
            status = ctx.status_file("apply")
            self.fake.files.update({status, "/etc/alloy/config.alloy.fleetui-new"})
            ctx.track("/etc/alloy/config.alloy.fleetui-new", owner=status)
            self.fake.config, self.changed_config = "new", True
            self.fake.status[status] = "started\nstep swap done\nresult ok\n"
            self.status = status
            if then is not None:
                then(s)
            await s.run(["cat", status])
            return done("swapped")

        async def settle(ctx: StepContext) -> str:
            st = read_status((await (await ctx.session()).run(["cat", self.status])).stdout)
            self.log.append(f"settle swap: {st.result}")
            return f"the on-host script had finished (result {st.result})"

        async def undo(ctx: StepContext) -> str | None:
            await (await ctx.session()).run(["rollback"])
            self.log.append("undo swap")
            if self.fake.config == "new":
                self.fake.config = "old"
                return "previous config restored"
            return None

        return Step("swap", apply, settle=settle, undo=undo)

    def undoable(self, name: str) -> Step:
        async def apply(ctx: StepContext) -> Outcome:
            self.log.append(f"apply {name}")
            return done(name)

        async def undo(ctx: StepContext) -> str | None:
            self.log.append(f"undo {name}")
            return f"{name} undone"

        return Step(name, apply, undo=undo)

    def failing(self, name: str, exc: BaseException) -> Step:
        async def apply(ctx: StepContext) -> Outcome:
            self.log.append(f"apply {name}")
            raise exc

        return Step(name, apply)

    def blocking(self, name: str, started: asyncio.Event) -> Step:
        async def apply(ctx: StepContext) -> Outcome:
            self.log.append(f"apply {name}")
            started.set()
            await asyncio.Event().wait()  # until cancelled
            raise AssertionError("not reached")

        return Step(name, apply)


@pytest.fixture
def runner(_isolated_config: Path) -> Runner:
    return Runner(load(_isolated_config, environ={}), reconnect_budget_s=0.6)


async def collect(run: Run) -> tuple[list[StepEvent], OperationResult]:
    events = [ev async for ev in run.events()]
    assert run.result is not None
    return events, run.result


def trail(events: Sequence[StepEvent]) -> list[str]:
    return [f"{e.step}:{e.status.value}" for e in events if e.status is not StepStatus.PROGRESS]


async def test_success_events_in_order_read_back_and_cleanup(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    op.step_list = [op.ok("connect"), op.swap(), op.ok("verify")]
    events, result = await collect(runner.start(op))
    assert trail(events) == [
        "connect:started", "connect:done", "swap:started", "swap:done", "verify:started", "verify:done",
    ]  # fmt: skip
    assert result.ok and result.error_kind is None and result.host_state == "changed" and result.changed
    assert op.log[-1] == "observe"
    assert fake.files == set()  # the status file and the staged file were removed
    assert result.to_json()["changes"] == [{"what": "config", "state": "changed", "note": ""}]


async def test_a_failed_step_rolls_back_in_reverse_and_still_cleans_up(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    op.step_list = [
        op.ok("connect"), op.undoable("a"), op.swap(), op.undoable("b"), op.failing("verify", StepFailed("not up")),
    ]  # fmt: skip
    events, result = await collect(runner.start(op))
    assert not result.ok and result.failed_step == "verify" and result.error == "not up"
    assert result.error_kind is ErrorKind.FAILED
    assert op.log.index("undo b") < op.log.index("undo swap") < op.log.index("undo a")
    assert trail(events)[-2:] == ["rollback:started", "rollback:done"]
    assert "previous config restored" in events[-1].message
    assert result.host_state == "rolled back" and result.rolled_back and not result.changed
    assert fake.config == "old" and fake.files == set()


async def test_a_bug_in_a_step_is_caught_and_rolled_back(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    op.step_list = [op.ok("connect"), op.swap(), op.failing("target", ZeroDivisionError("division by zero"))]
    events, result = await collect(runner.start(op))
    assert result.error_kind is ErrorKind.INTERNAL
    assert result.error == "internal error: ZeroDivisionError: division by zero"
    assert "target:failed" in trail(events) and "rollback:done" in trail(events)
    assert result.host_state == "rolled back" and fake.config == "old"


@pytest.mark.parametrize("how", ["lost", "stalled"])
async def test_lost_connection_then_reconnect_status_read_and_rollback(runner: Runner, how: str) -> None:
    """The connection dies right after the on-host script was launched: the runner reconnects, the step's settle
    reads the status file (the script had applied the new config), the run rolls back and says so."""
    fake = FakeHost()
    op = FakeOp(fake)

    def cut(s: FakeSession) -> None:
        if how == "lost":
            s.abort()
        else:
            s.stalled = True

    op.step_list = [op.ok("connect"), op.swap(then=cut), op.ok("verify")]
    events, result = await collect(runner.start(op))
    assert result.error_kind is ErrorKind.CONNECTION_LOST and result.failed_step == "swap"
    assert result.error is not None and ("connection lost" in result.error or "connection stalled" in result.error)
    assert trail(events)[-5:] == [
        "swap:failed", "recover:started", "recover:done", "rollback:started", "rollback:done",
    ]  # fmt: skip
    recover = [e for e in events if e.step == "recover"]
    assert any(e.status is StepStatus.PROGRESS and e.message.startswith("reconnected after") for e in recover)
    assert recover[-1].message == "the on-host script had finished (result ok)"
    assert op.log.index("settle swap: ok") < op.log.index("undo swap") < op.log.index("observe")
    assert len(fake.sessions) == 2 and not fake.sessions[0].alive  # the stalled one was aborted too
    assert result.host_state == "rolled back" and fake.config == "old"
    assert fake.files == set()  # cleaned up through the new connection


async def test_no_reconnect_means_unknown_and_the_files_are_named(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)

    def cut(s: FakeSession) -> None:
        s.abort()
        fake.refuse_connects = 99

    op.step_list = [op.ok("connect"), op.swap(then=cut), op.ok("verify")]
    events, result = await collect(runner.start(op))
    assert result.error_kind is ErrorKind.CONNECTION_LOST
    assert [e.status for e in events if e.step == "recover"][-1] is StepStatus.FAILED
    assert any("reconnect attempt 2 failed" in e.message for e in events)  # bounded: 0.6 s budget = 2 attempts
    assert result.host_state.startswith("unknown: config: ") and "check it by hand" in result.host_state
    assert not result.changed and not result.rolled_back
    assert set(result.summary["leftovers"]) == fake.files  # what it could not remove, named
    assert fake.config == "new"  # indeed not rolled back, and the result did not claim otherwise


async def test_cut_while_idle_is_healed_for_cleanup(runner: Runner) -> None:
    """A cut after the last host command (say while Prometheus is polled) fails nothing, but the read-back and
    the cleanup need the host: the runner notices and reconnects."""
    fake = FakeHost()
    op = FakeOp(fake)

    async def cut_quietly(ctx: StepContext) -> Outcome:
        (await ctx.session()).abort()
        return done("prometheus says up")

    op.step_list = [op.ok("connect"), op.swap(), Step("verify", cut_quietly)]
    events, result = await collect(runner.start(op))
    assert result.ok and result.host_state == "changed"
    assert "recover:done" in trail(events) and len(fake.sessions) == 2
    assert fake.files == set()


async def test_cancel_interrupts_the_step_then_rolls_back(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    started = asyncio.Event()
    op.step_list = [op.ok("connect"), op.swap(), op.blocking("ready", started), op.ok("verify")]
    run = runner.start(op)

    async def press_cancel() -> None:
        await started.wait()
        run.cancel()

    canceller = asyncio.ensure_future(press_cancel())
    events, result = await collect(run)
    await canceller
    assert result.error_kind is ErrorKind.CANCELLED and result.failed_step == "ready"
    assert "ready:failed" in trail(events) and "verify:started" not in trail(events)
    assert "undo swap" in op.log and result.host_state == "rolled back" and fake.config == "old"
    assert fake.files == set()


async def test_cancelling_the_consuming_task_rolls_back_before_it_ends(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    started = asyncio.Event()
    op.step_list = [op.ok("connect"), op.swap(), op.blocking("ready", started)]
    run = runner.start(op)
    seen: list[StepEvent] = []

    async def consume() -> None:
        async for ev in run.events():
            seen.append(ev)

    task = asyncio.ensure_future(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert run.result is not None and run.result.error_kind is ErrorKind.CANCELLED
    assert "undo swap" in op.log and fake.config == "old" and fake.files == set()
    assert [e.step for e in run.result.events][-1] == "rollback"  # recorded even though nobody read it


async def test_leaving_the_loop_early_rolls_back_too(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    op.step_list = [op.ok("connect"), op.swap(), op.ok("target"), op.ok("verify")]
    run = runner.start(op)
    agen = run.events()
    async for ev in agen:
        if ev.step == "target" and ev.status is StepStatus.STARTED:
            break
    await agen.aclose()  # type: ignore[attr-defined]
    assert run.result is not None and run.result.error_kind is ErrorKind.CANCELLED
    assert fake.config == "old" and "apply verify" not in op.log


async def test_cancel_before_start_and_iterating_twice(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    op.step_list = [op.ok("connect"), op.swap()]
    run = runner.start(op)
    run.cancel()
    events, result = await collect(run)
    assert events == [] and result.error_kind is ErrorKind.CANCELLED and result.host_state == "unchanged"
    assert fake.sessions == [] and fake.config == "old"
    with pytest.raises(RuntimeError, match="only once"):
        async for _ in run.events():
            pass


async def test_a_dry_run_calls_plan_and_touches_nothing(runner: Runner) -> None:
    fake = FakeHost()
    op = FakeOp(fake)
    op.step_list = [op.ok("connect"), op.ok("install"), op.swap()]
    run = runner.start(op, dry_run=True)
    events, result = await collect(run)
    assert run.kind == "plan" and result.operation == "plan"
    assert [e.status for e in events if e.step == "install"] == [StepStatus.STARTED, StepStatus.PLANNED]
    assert "apply install" not in op.log and "plan install" in op.log
    assert "observe" not in op.log and result.host_state == "unchanged"
    # swap has no plan method in this op: a step without one only reads, so its apply runs
    assert "apply swap" in op.log


async def test_run_many_limits_concurrency_and_serialises_one_host(runner: Runner) -> None:
    active, peak = 0, 0

    def gauge(op: FakeOp, name: str) -> Step:
        async def apply(ctx: StepContext) -> Outcome:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.02)
            active -= 1
            op.log.append(f"apply {name}")
            return done(name)

        return Step(name, apply)

    ops = []
    for name in ("h1", "h2", "h3", "h1"):
        op = FakeOp(FakeHost(), name)
        op.step_list = [gauge(op, "work")]
        ops.append(op)
    ops[2].step_list.append(ops[2].failing("verify", StepFailed("not up")))
    runs: list[Run] = []
    events = [ev async for ev in runner.run_many(ops, concurrency=2, runs=runs)]
    assert peak == 2
    assert [r.result.ok for r in runs if r.result] == [True, True, False, True]  # one failure stops nobody
    h1 = [i for i, e in enumerate(events) if e.host == "h1" and e.status is not StepStatus.PROGRESS]
    first, second = h1[:2], h1[2:]
    assert max(first) < min(second)  # the second operation on h1 waited for the first


async def test_leaving_run_many_early_cancels_and_rolls_back_every_run(runner: Runner) -> None:
    fakes = [FakeHost(), FakeHost()]
    ops = []
    for i, fake in enumerate(fakes):
        op = FakeOp(fake, f"h{i}")
        op.step_list = [op.ok("connect"), op.swap(), op.blocking("ready", asyncio.Event())]
        ops.append(op)
    runs: list[Run] = []
    stream = runner.run_many(ops, concurrency=2, runs=runs)
    readies = 0
    async for ev in stream:
        readies += ev.step == "ready" and ev.status is StepStatus.STARTED
        if readies == 2:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert all(r.result is not None and r.result.error_kind is ErrorKind.CANCELLED for r in runs)
    assert [f.config for f in fakes] == ["old", "old"]
