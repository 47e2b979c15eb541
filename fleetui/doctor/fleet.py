"""The doctor over many hosts, run by the operation runner: its concurrency, its per-host locks, its cancel.

Each host is one `DoctorOperation` (a single read-only step) handed to `Runner.run_many`, so a fleet doctor
waits for an enrollment running on the same host instead of examining a host in mid-change, runs at most
`concurrency` hosts at once (default `ssh.concurrency`), and Ctrl-C or leaving the screen cancels what is
still running. The step opens its own SSH session through `doctor_host`, because a host that cannot be
reached is a finding (the `ssh` check), not a failed operation. One Prometheus client (`PromCache`) serves
every host of the run. A run the runner ended without a report (cancelled, or a bug) gives a report whose
`error` says so: such a host is never counted as healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from fleetui.adapters.ssh import HostSession, OnUnknownKey, SshTarget, connect_with_settings
from fleetui.config import Settings
from fleetui.deploy.events import StepStatus
from fleetui.deploy.operation import Observation, Outcome, Step, StepContext, done
from fleetui.deploy.runner import Run, Runner
from fleetui.doctor.model import CHECKS, DoctorReport, skipped
from fleetui.doctor.probe import DoctorTarget, OnCheck, PromCache, doctor_host

if TYPE_CHECKING:
    from fleetui.domain.fleet import HostStatus


class DoctorOperation:
    """One host's checklist as an operation for the runner. Changes nothing; `report` is set when it ends."""

    kind = "doctor"

    def __init__(
        self,
        settings: Settings,
        target: DoctorTarget,
        prom: PromCache,
        *,
        identity_file: str | None = None,
        password: str | None = None,
        on_unknown_key: OnUnknownKey | None = None,
        on_check: OnCheck | None = None,
    ) -> None:
        self.settings = settings
        self.target = target
        self.host = target.name
        # the key an enrollment of this host takes: its port is None when it is the default one
        default = target.ssh.port is None or target.ssh.port == int(settings["ssh.port"])
        self.lock_key: tuple[str, int | None] = (target.ssh.host, None if default else target.ssh.port)
        self.report: DoctorReport | None = None
        self._prom = prom
        self._identity_file = identity_file
        self._password = password
        self._on_unknown_key = on_unknown_key
        self._on_check = on_check

    @property
    def steps(self) -> Sequence[Step]:
        return [Step("doctor", self._examine)]

    async def _examine(self, ctx: StepContext) -> Outcome:
        self.report = await doctor_host(
            self.settings,
            self.target,
            self._prom,
            identity_file=self._identity_file,
            password=self._password,
            on_unknown_key=self._on_unknown_key,
            on_check=self._on_check,
        )
        first = self.report.first_failure
        return done(f"first failure: {first.id}" if first else "no check failed", first_failure=first and first.id)

    def connect(self) -> AbstractAsyncContextManager[HostSession]:
        """The runner's own connection (its reconnects after a loss); the doctor's step never asks for it."""
        return connect_with_settings(
            self.settings,
            self.target.ssh,
            identity_file=self._identity_file,
            password=self._password,
            on_unknown_key=self._on_unknown_key,
        )

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        return Observation()  # read-only: nothing on the host to read back

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        return {"first_failure": self.report.first_failure.id if self.report and self.report.first_failure else None}


def stopped_report(target: DoctorTarget, why: str) -> DoctorReport:
    """The report of a host the doctor did not finish: every check skipped, and `error` saying why."""
    checks = tuple(skipped(spec.id, f"not checked: {why}") for spec in CHECKS)
    return DoctorReport(target.name, target.ssh.display, checks, error=why)


async def doctor_fleet(
    settings: Settings,
    targets: Sequence[DoctorTarget],
    *,
    runner: Runner | None = None,
    concurrency: int | None = None,
    identity_file: str | None = None,
    password: str | None = None,
    on_unknown_key: OnUnknownKey | None = None,
    on_report: Callable[[DoctorReport], None] | None = None,
    on_check: OnCheck | None = None,
) -> list[DoctorReport]:
    """Reports in the order of `targets`; `on_report` is called as each host finishes (progress).

    `runner`: the console's (shared locks with its enrollments and retirements); default a new one.
    """
    runner = runner or Runner(settings)
    limit = concurrency or int(settings["ssh.concurrency"])
    async with PromCache(settings) as prom:
        ops = [
            DoctorOperation(
                settings,
                t,
                prom,
                identity_file=identity_file,
                password=password,
                on_unknown_key=on_unknown_key,
                on_check=on_check,
            )
            for t in targets
        ]
        by_host = {op.host: op for op in ops}
        runs: list[Run] = []
        async for ev in runner.run_many(ops, concurrency=limit, runs=runs):
            op = by_host.get(ev.host)
            finished = ev.step == "doctor" and ev.status is StepStatus.DONE
            if finished and op is not None and op.report is not None and on_report is not None:
                on_report(op.report)
        reports = []
        for op, run in zip(ops, runs, strict=True):
            if op.report is not None:
                reports.append(op.report)
                continue
            why = (run.result.error if run.result is not None else None) or "the doctor did not run"
            report = stopped_report(op.target, f"the doctor stopped: {why}")
            if on_report is not None:
                on_report(report)
            reports.append(report)
        return reports


def fleet_targets(
    hosts: Sequence[HostStatus], settings: Settings, *, user: str | None = None, port: int | None = None
) -> list[DoctorTarget]:
    """Doctor targets for fleet hosts: reached where `ssh_host_for` says, as `user` (default `ssh.user`) on
    `port` (default `ssh.port`), and named by their instance in a question about their host key."""
    from fleetui.domain.hostarg import ssh_host_for

    port, user = port or int(settings["ssh.port"]), user or str(settings["ssh.user"])
    return [DoctorTarget(h.instance, SshTarget(ssh_host_for(h), port, user, known_as=h.instance)) for h in hosts]
