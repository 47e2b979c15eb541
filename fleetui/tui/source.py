"""Where the console gets the fleet from: anything with `async def snapshot() -> FleetSnapshot`.

The app never holds an HTTP client; it asks a FleetSource. In production that is PrometheusSource (the real
adapter, one short-lived client per refresh so a restarted Prometheus is simply reached again). Snapshot
tests hand the screen a fixed FleetSnapshot through FixedSource: that feeds the screen a domain value to
render deterministically; it does not stand in for Prometheus (Pilot tests use the real adapter on the lab).
"""

from __future__ import annotations

from typing import Protocol

from fleetui.config import Settings
from fleetui.domain.fleet import FleetSnapshot


class FleetSource(Protocol):
    #: shown to the operator when a refresh fails ("http://prometheus:9090")
    location: str

    async def snapshot(self) -> FleetSnapshot: ...


class PrometheusSource:
    """The fleet as the real Prometheus adapter reads it (≤ 6 HTTP requests per refresh)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.location = str(settings["prometheus.url"])

    async def snapshot(self) -> FleetSnapshot:
        from fleetui.adapters.prometheus import FleetReader, PrometheusClient

        async with PrometheusClient(self.settings) as client:
            return await FleetReader(client, self.settings).snapshot()


class FixedSource:
    """A fixed FleetSnapshot, for snapshot tests and the 10k-host bench (a domain value, not a fake edge)."""

    def __init__(self, snapshot: FleetSnapshot, location: str = "fixed snapshot") -> None:
        self.current = snapshot
        self.location = location
        self.calls = 0

    async def snapshot(self) -> FleetSnapshot:
        self.calls += 1
        return self.current
