"""The last step of every fix: wait until Prometheus no longer reports what was fixed.

Pull and push fixes differ only in what counts as "fixed" for the host's row (`remaining`) and in how the fleet
is read: a pull fix reads one refresh per look (the host is live, its problems need no history), a push fix a
full snapshot, because whether a renamed instance's old series still make a duplicate nodename depends on the
history the snapshot reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from fleetui.config import Settings
from fleetui.deploy.decisions import first_line
from fleetui.deploy.operation import Outcome, StepContext, StepFailed, done
from fleetui.domain.fleet import HostStatus

VERIFY_TIMEOUT_S = 60.0
VERIFY_EVERY_S = 1.0


async def wait_until_fixed(
    settings: Settings,
    ctx: StepContext,
    instance: str,
    codes: Iterable[str],
    remaining: Callable[[HostStatus | None], set[str] | None],
    *,
    history: bool,
    timeout: float = VERIFY_TIMEOUT_S,  # noqa: ASYNC109 (a step's own deadline, reported in its message)
) -> Outcome:
    """Look every VERIFY_EVERY_S until `remaining(row)` is empty (None: the row is not there as it must be yet);
    StepFailed after `timeout`, naming what Prometheus still reports."""
    from fleetui.adapters.prometheus import FleetReader, PrometheusClient, PrometheusError

    fixed = ", ".join(codes)
    t0 = time.monotonic()
    left: set[str] = set(codes)
    try:
        async with PrometheusClient(settings) as client:
            reader = FleetReader(client, settings)
            while True:
                snap = await (reader.snapshot() if history else reader.refresh())
                now = remaining(snap.by_instance().get(instance))
                if now is not None:
                    left = now
                    if not left:
                        took = time.monotonic() - t0
                        return done(f"Prometheus no longer reports {fixed}", seconds=took)
                if time.monotonic() - t0 > timeout:
                    raise StepFailed(
                        f"Prometheus still reports {', '.join(sorted(left))} for {instance} after {timeout:.0f}s"
                    )
                await ctx.progress("waiting for Prometheus to see the new labels")
                await asyncio.sleep(VERIFY_EVERY_S)
    except PrometheusError as e:
        raise StepFailed(f"cannot read Prometheus: {first_line(e)}") from None
