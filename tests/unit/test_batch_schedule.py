"""The batch scheduler: concurrency never exceeded and adjustable mid-run, the failure budget, the canary, cancel,
and the results a retry reads.

Why stand-in operations here: these cases need chosen hosts to fail at chosen moments and to hold while the test
counts how many run at once — a timing no real sshd gives deterministically. The stand-in is the narrowest edge
the batch touches (an `Operation` for the runner: a `connect()` and one step). tests/lab/test_batch_lab.py runs
real batches on 20 lab hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fleetui.adapters.ssh import CommandResult
from fleetui.config import load
from fleetui.deploy.batch import Batch, BatchEvent, BatchHost, failed_entries
from fleetui.deploy.operation import Observation, Outcome, Step, StepContext, StepFailed, done
from fleetui.deploy.runner import Runner


class Session:
    def abort(self) -> None:
        pass

    async def run(self, argv: Sequence[str], **kw: Any) -> Any:
        return CommandResult(0, "", "")  # the runner's liveness probe before it reads the host back


class Op:
    kind = "enroll"

    def __init__(self, name: str, gate: asyncio.Event, fail: bool, running: list[int]) -> None:
        self.host, self.lock_key = name, (name, 22)
        self.gate, self.fail, self.running = gate, fail, running
        self.steps: Sequence[Step] = (Step("work", self._work),)

    def connect(self) -> contextlib.AbstractAsyncContextManager[Any]:
        @contextlib.asynccontextmanager
        async def cm() -> AsyncIterator[Session]:
            yield Session()

        return cm()

    async def _work(self, ctx: StepContext) -> Outcome:
        self.running[0] += 1
        self.running[1] = max(self.running[1], self.running[0])
        try:
            await self.gate.wait()
        finally:
            self.running[0] -= 1
        if self.fail:
            raise StepFailed(f"{self.host} broke")
        return done("worked")

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        return Observation()

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        return {}


def make(n: int, failing: set[int], **kw: Any) -> tuple[Batch, asyncio.Event, list[int]]:
    gate, running = asyncio.Event(), [0, 0]
    hosts = [
        BatchHost(f"h{i}", {"name": f"h{i}", "address": f"10.0.0.{i}"}, Op(f"h{i}", gate, i in failing, running))
        for i in range(n)
    ]
    return Batch(Runner(load(None, environ={})), hosts, **kw), gate, running


async def drain(batch: Batch, gate: asyncio.Event, on: Any = None) -> list[BatchEvent]:
    seen: list[BatchEvent] = []
    gate.set()
    async for ev in batch.events():
        seen.append(ev)
        if on is not None:
            on(ev)
    return seen


def test_concurrency_is_never_exceeded_and_can_be_raised_while_running() -> None:
    async def go() -> None:
        batch, gate, running = make(12, set(), concurrency=3)

        async def watch() -> list[BatchEvent]:
            seen = []
            async for ev in batch.events():
                seen.append(ev)
            return seen

        task = asyncio.ensure_future(watch())
        await asyncio.sleep(0.05)
        assert running == [3, 3]
        batch.set_concurrency(5)
        await asyncio.sleep(0.05)
        assert running[0] == 5
        gate.set()
        await task
        assert running[1] == 5 and batch.count("ok") == 12

    asyncio.run(go())


def test_failure_budget_stops_new_starts_and_the_rest_is_not_started() -> None:
    async def go() -> None:
        batch, gate, _ = make(10, {0, 1}, concurrency=1, max_failures=2)
        seen = await drain(batch, gate)
        assert [h.state for h in batch.hosts[:2]] == ["failed", "failed"]
        assert {h.state for h in batch.hosts[2:]} == {"not started"}
        stops = [e for e in seen if e.kind == "stopped"]
        assert len(stops) == 1 and stops[0].message.startswith("failure budget reached: 2 hosts failed")
        assert batch.hosts[5].failure == "not started: failure budget reached"
        assert [h["name"] for h in failed_entries(batch.results_json("x"))] == [f"h{i}" for i in range(10)]

    asyncio.run(go())


def test_canary_failure_starts_no_other_host() -> None:
    async def go() -> None:
        batch, gate, _ = make(8, {1}, concurrency=8, canary=2)
        await drain(batch, gate)
        assert [h.state for h in batch.hosts[:2]] == ["ok", "failed"]
        assert {h.state for h in batch.hosts[2:]} == {"not started"}
        assert batch.stopped_because.startswith("canary failed: 1 of the first 2 hosts")
        assert failed_entries(batch.results_json("x"))[0]["name"] == "h1"

    asyncio.run(go())


def test_canaries_run_alone_then_the_rest_goes_on() -> None:
    async def go() -> None:
        batch, gate, running = make(8, set(), concurrency=8, canary=2)
        task = asyncio.ensure_future(drain(batch, asyncio.Event()))
        await asyncio.sleep(0.05)
        assert running[0] == 2 and [h.state for h in batch.hosts[2:]] == ["waiting"] * 6
        gate.set()
        await task
        assert batch.count("ok") == 8 and not batch.stopped_because

    asyncio.run(go())


def test_cancel_stops_running_hosts_and_records_the_rest() -> None:
    async def go() -> None:
        batch, _, _ = make(6, set(), concurrency=2)

        async def run() -> None:
            async for _ in batch.events():
                pass

        task = asyncio.ensure_future(run())
        await asyncio.sleep(0.05)
        batch.cancel()
        await task
        assert [h.state for h in batch.hosts] == ["failed"] * 2 + ["not started"] * 4
        assert batch.hosts[0].result is not None and batch.hosts[0].result.error == "cancelled"
        assert batch.hosts[3].failure == "not started: the batch was cancelled"

    asyncio.run(go())


def test_a_failed_hosts_line_says_what_the_host_is_before_why_it_failed() -> None:
    """The line a log or a pipe gets when a host ends: a failure's message can be long, so what the host is now
    comes first, where a line cut at the edge of an 80-column terminal still shows it."""

    async def go() -> None:
        batch, gate, _ = make(2, {1}, concurrency=2)
        await drain(batch, gate)
        ok, failed = batch.hosts
        assert ok.ending.startswith("ENROLLED in ") and ok.ending.endswith("s")
        assert failed.result is not None and failed.result.host_state == "unchanged"
        assert failed.ending == "FAILED, host unchanged — work failed: h1 broke"

    asyncio.run(go())


def test_the_piped_line_of_a_failed_host_shows_control_characters_as_text(capsys: Any) -> None:
    """`enroll --from` piped: the failure comes from the host (an error it printed), so an escape sequence in it
    reaches stdout as visible text, never as a terminal command."""
    from fleetui.commands.batch_enroll import PlainOutput

    async def go() -> Batch:
        batch, gate, _ = make(1, {0}, concurrency=1)
        await drain(batch, gate)
        return batch

    batch = asyncio.run(go())
    batch.hosts[0].error = "connect failed: \x1b[31mred\x1b[0m"
    PlainOutput(4).event(batch, BatchEvent("host", "h0"))
    out = capsys.readouterr().out
    assert out == "h0    FAILED, host unchanged — connect failed: ?[31mred?[0m\n"
