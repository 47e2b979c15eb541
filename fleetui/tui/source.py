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


def enriched(source: object) -> bool:
    """Whether `source`'s snapshots are enriched like `fleetui status`'s — firing alerts and Alloy drift — so
    the console shows their columns and sections. A source without the attribute is not: its fleet is shown
    without them."""
    return bool(getattr(source, "enriched", False))


class PrometheusSource:
    """The fleet as the real Prometheus adapter reads it (≤ 6 HTTP requests per refresh), enriched the way
    `fleetui status` enriches it: silent hosts from the targets directory, firing alerts (one more request, to
    Alertmanager or Prometheus' /api/v1/alerts) and Alloy drift (one instant query), read concurrently."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.location = str(settings["prometheus.url"])
        self.enriched = True

    async def snapshot(self) -> FleetSnapshot:
        from fleetui.adapters.fleet_extras import enrich
        from fleetui.adapters.prometheus import FleetReader, PrometheusClient

        async with PrometheusClient(self.settings) as client:
            snap = await FleetReader(client, self.settings).snapshot()
            return await enrich(self.settings, snap, client=client)


class FixedSource:
    """A fixed FleetSnapshot, for snapshot tests and the 10k-host bench (a domain value, not a fake edge)."""

    def __init__(self, snapshot: FleetSnapshot, location: str = "fixed snapshot") -> None:
        self.current = snapshot
        self.location = location
        self.calls = 0

    @property
    def enriched(self) -> bool:
        """A fixed snapshot counts as enriched when it was built with alerts (`alerts_view` set)."""
        return self.current.alerts_view is not None

    async def snapshot(self) -> FleetSnapshot:
        self.calls += 1
        return self.current
