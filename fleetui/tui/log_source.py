"""Where the log pane gets its lines from: anything with `name` and `async def events()` of stream events.

In the console that is `SshLogFeed`, the real adapter (one HostLogStream per host, merged). Snapshot tests
hand the pane `FixedLogFeed`: a fixed list of LogLines, a domain value rendered the same on every run, not a
mock of Alloy. Pilot tests and the benchmark push batches through `QueueLogFeed`, an in-process source whose
lines the test chooses and times (the Pilot test of the real stream over SSH is in tests/tui/test_lab_logs.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Protocol

from fleetui.adapters.alloy_logs import LinesEvent, StatusEvent, StreamEvent
from fleetui.domain.logline import LogLine

if TYPE_CHECKING:
    from fleetui.adapters.alloy_logs import HostLogStream


class LogFeed(Protocol):
    #: what the pane is showing, for its title ("web-01", "3 hosts")
    name: str

    def events(self) -> AsyncIterator[StreamEvent]: ...


class SshLogFeed:
    """Alloy's logs of one or more hosts over SSH, following and reconnecting (fleetui.adapters.alloy_logs)."""

    def __init__(self, streams: Sequence[HostLogStream]) -> None:
        self.streams = list(streams)
        self.name = streams[0].name if len(streams) == 1 else f"{len(streams)} hosts"

    def events(self) -> AsyncIterator[StreamEvent]:
        from fleetui.adapters.alloy_logs import merge

        return merge(self.streams)


class FixedLogFeed:
    """A fixed list of lines, delivered as one batch (snapshot tests: a domain value, not a fake host)."""

    def __init__(self, lines: Sequence[LogLine], name: str = "fixed lines", status: str = "") -> None:
        self.lines = list(lines)
        self.name = name
        self.status = status

    async def events(self) -> AsyncIterator[StreamEvent]:
        if self.status:
            from fleetui.adapters.alloy_logs import StreamState

            yield StatusEvent(self.name, StreamState.STREAMING, self.status)
        yield LinesEvent(self.name, self.lines)


class QueueLogFeed:
    """An in-process source: whoever holds it `put`s batches (Pilot tests, the benchmark); `close()` ends it."""

    def __init__(self, name: str = "in-process") -> None:
        self.name = name
        self._queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()

    def put(self, lines: Sequence[LogLine]) -> None:
        self._queue.put_nowait(LinesEvent(self.name, list(lines)))

    def put_event(self, event: StreamEvent) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[StreamEvent]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item
