"""The fleet feed: the app's one refresh loop, the last snapshot and the last error, for every screen.

Dolphie's pattern: one worker reads a snapshot; when it ends (success or error) the result is kept and only then
is the next refresh scheduled, so a slow Prometheus can never stack requests. A failure keeps the last data and
the loop goes on, so the console recovers by itself when Prometheus is back. Screens subscribe and get a
FleetRefreshed after each refresh; none of them owns the loop or asks another screen for the data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from textual.dom import DOMNode
from textual.message_pump import MessagePump
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from fleetui.domain.fleet import NO_TIMES, FleetSnapshot, HostStatus, HostTimes
from fleetui.tui.messages import FleetRefreshed, Subscribers
from fleetui.tui.source import FleetSource, first_look, prefetch

RETIRED_HOLD_S = 600.0  # Prometheus' 5-minute look-back, with room: a retired host's samples are gone by then


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
        self._hosts: Mapping[str, HostStatus] = {}  # the snapshot's own (read only)
        self._owner: DOMNode | None = None
        self._worker: Worker[None] | None = None
        self._timer: Timer | None = None
        self._retired: dict[str, tuple[str, float]] = {}  # instance -> (retired target file, when)
        prefetch(source)  # `start()` then gets the refresh begun here, while the console starts

    @property
    def location(self) -> str:
        return self.source.location

    def host(self, instance: str) -> HostStatus | None:
        """The newest data about one host (None: not in the last snapshot)."""
        return self._hosts.get(instance)

    def times(self) -> HostTimes:
        """The last snapshot's last-seen times and scrape durations (none before the first)."""
        return self.snapshot.times if self.snapshot is not None else NO_TIMES

    def mark_retired(self, instance: str, retired_as: str) -> None:
        """The console just retired this host. Prometheus keeps its recent samples (and may report it `up`)
        for up to its 5-minute look-back, so for that long the feed leaves it out of the fleet and says it is
        retired (`retired_as`: the renamed target file)."""
        self._retired[instance] = (retired_as, self.clock())
        self._hosts = {i: h for i, h in self._hosts.items() if i != instance}

    def retired_as(self, instance: str) -> str | None:
        mark = self._retired.get(instance)
        return None if mark is None else mark[0]

    def _without_retired(self, snapshot: FleetSnapshot) -> FleetSnapshot:
        """Drop hosts retired from this console; forget a mark once Prometheus no longer has the host at all,
        or after RETIRED_HOLD_S (so a host enrolled again from elsewhere shows up again)."""
        if not self._retired:
            return snapshot
        present = {h.instance for h in snapshot.hosts}
        now = self.clock()
        for instance, (_, t) in list(self._retired.items()):
            if instance not in present or now - t > RETIRED_HOLD_S:
                del self._retired[instance]
        return replace(snapshot, hosts=tuple(h for h in snapshot.hosts if h.instance not in self._retired))

    def subscribe(self, node: MessagePump) -> None:
        """`node` gets a FleetRefreshed after every refresh from now on (and one now if there is data)."""
        self.subscribers.add(node)
        if self.snapshot is not None or self.error is not None:
            node.post_message(FleetRefreshed(self.snapshot, self.error))

    def start(self, owner: DOMNode) -> None:
        self._owner = owner
        owner.run_worker(self._first_look(), name="first-look", group="first-look", exit_on_error=False)
        self.refresh_now()

    async def _first_look(self) -> None:
        """Show the source's first look at a large fleet (FleetSnapshot.targets_only) until the first refresh
        ends; never once that refresh is in, whichever worker the loop runs first."""
        snapshot = await first_look(self.source)
        if snapshot is None or self.snapshot is not None or self.error is not None:
            return
        self.snapshot = snapshot
        self._hosts = snapshot.by_instance()
        self.subscribers.post(lambda: FleetRefreshed(snapshot, None))

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
            self.snapshot, self.error = self._without_retired(snapshot), None
            self._hosts = self.snapshot.by_instance()
        self.subscribers.post(lambda: FleetRefreshed(self.snapshot, self.error))
        if self._owner is not None and self._owner.is_running:
            self._timer = self._owner.set_timer(self.interval, self.refresh_now, name="next-refresh")
