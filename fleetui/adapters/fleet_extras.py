"""What a fleet refresh adds to Prometheus' view: silent hosts from the targets directory, and firing alerts.

Separate from the Prometheus reader so each stays small: `enrich(settings, snapshot)` reads the alerts and the
targets directory concurrently and returns the snapshot with silent rows added and alerts attributed. A
targets directory that cannot be read adds no silent rows (and says so in `FleetSnapshot.alerts_view`'s
sibling field, never failing the refresh); an alert source that cannot be read leaves the alerts empty with the
error in the snapshot's alerts view.
"""

from __future__ import annotations

import asyncio

from fleetui.adapters.alertmanager import read_alerts
from fleetui.config import Settings
from fleetui.domain.alerts import AlertsView, with_alerts
from fleetui.domain.fleet import FleetSnapshot
from fleetui.domain.silent import Enrolled, with_silent


async def read_enrolled(settings: Settings) -> tuple[Enrolled, ...] | None:
    """The active target files, or None when the targets directory cannot be read."""
    from fleetui.adapters.ssh import SshError
    from fleetui.adapters.targets import TargetStoreError, open_store

    try:
        async with open_store(settings) as store:
            entries = await store.history()
    except (TargetStoreError, SshError, OSError):
        return None
    return tuple(Enrolled(e.name, e.targets, e.labels, e.updated_at) for e in entries if e.state == "active")


async def enrich(settings: Settings, snap: FleetSnapshot, *, alerts: bool = True) -> FleetSnapshot:
    enrolled, view = await asyncio.gather(
        read_enrolled(settings), read_alerts(settings) if alerts else asyncio.sleep(0, None)
    )
    if enrolled is not None:
        snap = with_silent(snap, enrolled)
    if isinstance(view, AlertsView):
        snap = with_alerts(snap, view)
    return snap
