"""Many enrollments at once, up to `ssh.concurrency`, as one merged event stream.

Each host gets its own `Enrollment` (its own SSH connection) sharing one `HostLocks`, so a host listed twice is
enrolled twice in turn, never interleaved. A failed host does not stop the others; its result says which step
failed so it can be retried on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from fleetui.deploy.events import OperationResult, StepEvent
from fleetui.deploy.locks import HostLocks
from fleetui.deploy.pipeline import Enrollment


async def run_batch(
    make: Callable[[int, HostLocks], Enrollment],
    count: int,
    concurrency: int,
    results: list[OperationResult | None] | None = None,
) -> AsyncIterator[StepEvent]:
    """Run `make(i, locks)` for i in range(count), at most `concurrency` at a time; yield every event.

    `results[i]` (if a list is given, pre-sized or empty) receives each enrollment's result when it ends.
    """
    locks = HostLocks()
    sem = asyncio.Semaphore(concurrency)
    queue: asyncio.Queue[StepEvent | None] = asyncio.Queue()
    out: Sequence[OperationResult | None]
    if results is not None:
        results[:] = [None] * count
    out = results if results is not None else [None] * count

    async def one(i: int) -> None:
        async with sem:
            op = make(i, locks)
            try:
                async for ev in op.run():
                    await queue.put(ev)
            finally:
                if isinstance(out, list):
                    out[i] = op.result

    tasks = [asyncio.create_task(one(i)) for i in range(count)]

    async def close_when_done() -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        await queue.put(None)

    closer = asyncio.create_task(close_when_done())
    try:
        while (ev := await queue.get()) is not None:
            yield ev
    finally:
        for t in tasks:
            t.cancel()
        closer.cancel()
