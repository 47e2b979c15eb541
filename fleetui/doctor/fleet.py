"""The doctor over many hosts: bounded concurrency, one Prometheus client, a tally of first failures.

TODO on merge: run on `fleetui.deploy.runner.Runner.run_many` once it lands (one operation per host, the
runner's concurrency and cancellation); until then an asyncio.Semaphore bounds the SSH sessions
(`ssh.concurrency`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from fleetui.adapters.ssh import OnUnknownKey
from fleetui.config import Settings
from fleetui.doctor.model import DoctorReport
from fleetui.doctor.probe import DoctorTarget, OnCheck, PromCache, doctor_host


async def doctor_fleet(
    settings: Settings,
    targets: Sequence[DoctorTarget],
    *,
    concurrency: int | None = None,
    identity_file: str | None = None,
    password: str | None = None,
    on_unknown_key: OnUnknownKey | None = None,
    on_report: Callable[[DoctorReport], None] | None = None,
    on_check: OnCheck | None = None,
) -> list[DoctorReport]:
    """Reports in the order of `targets`; `on_report` is called as each host finishes (progress)."""
    gate = asyncio.Semaphore(concurrency or int(settings["ssh.concurrency"]))
    async with PromCache(settings) as prom:

        async def one(t: DoctorTarget) -> DoctorReport:
            async with gate:
                report = await doctor_host(
                    settings,
                    t,
                    prom,
                    identity_file=identity_file,
                    password=password,
                    on_unknown_key=on_unknown_key,
                    on_check=on_check,
                )
            if on_report is not None:
                on_report(report)
            return report

        return list(await asyncio.gather(*(one(t) for t in targets)))
