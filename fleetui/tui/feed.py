"""The fleet feed: the app's one refresh loop, the last snapshot and the last error, for every screen.

Dolphie's pattern: one worker reads a snapshot; when it ends (success or error) the result is kept and only then
is the next refresh scheduled, so a slow Prometheus can never stack requests. A failure keeps the last data and
the loop goes on, so the console recovers by itself when Prometheus is back. Screens subscribe and get a
FleetRefreshed after each refresh; none of them owns the loop or asks another screen for the data.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.dom import DOMNode
from textual.message_pump import MessagePump
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from fleetui.domain.fleet import FleetSnapshot, HostStatus
from fleetui.tui.messages import FleetRefreshed, Subscribers
from fleetui.tui.source import FleetSource


def describe_error(error: BaseException | None, location: str) -> str:
    """One line for the banner: the adapter's PrometheusError already is one (naming the URL); anything else
    gets the location and its type, so an unexpected failure is still readable rather than a traceback."""
    if error is None:
        return f"{location}: unknown error"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if any(cls.__name__ == "PrometheusError" for cls in type(error).__mro__):
        return text
    return f"{location}: {type(error).__name__}" + (f": {text}" if text else "")


class FleetFeed:
    """`start(owner)` begins the loop on `owner` (the app: it runs the workers and timers)."""

    def __init__(self, source: FleetSource, *, interval: float, clock: Callable[[], float]) -> None:
        self.source = source
        self.interval = interval
        self.clock = clock
        self.snapshot: FleetSnapshot | None = None
        self.error: str | None = None
        self.subscribers = Subscribers()
        self._hosts: dict[str, HostStatus] = {}
        self._owner: DOMNode | None = None
        self._worker: Worker[None] | None = None
        self._timer: Timer | None = None

    @property
    def location(self) -> str:
        return self.source.location

    def host(self, instance: str) -> HostStatus | None:
        """The newest data about one host (None: not in the last snapshot)."""
        return self._hosts.get(instance)

    def subscribe(self, node: MessagePump) -> None:
        """`node` gets a FleetRefreshed after every refresh from now on (and one now if there is data)."""
        self.subscribers.add(node)
        if self.snapshot is not None or self.error is not None:
            node.post_message(FleetRefreshed(self.snapshot, self.error))

    def start(self, owner: DOMNode) -> None:
        self._owner = owner
        self.refresh_now()

    @property
    def refreshing(self) -> bool:
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def refresh_now(self) -> None:
        """Start a refresh now unless one is running; the next one is scheduled when this one ends."""
        owner = self._owner
        if owner is None or self.refreshing:
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._worker = owner.run_worker(
            self._refresh(),
            name="refresh",
            group="refresh",
            description=f"read the fleet from {self.location}",
            exit_on_error=False,
        )

    async def _refresh(self) -> None:
        try:
            snapshot = await self.source.snapshot()
        except Exception as e:  # any failure is shown, and the loop goes on
            self.error = describe_error(e, self.location)
        else:
            self.snapshot, self.error = snapshot, None
            self._hosts = snapshot.by_instance()
        self.subscribers.post(lambda: FleetRefreshed(self.snapshot, self.error))
        if self._owner is not None and self._owner.is_running:
            self._timer = self._owner.set_timer(self.interval, self.refresh_now, name="next-refresh")
