"""Retiring a host: optionally stop Alloy on it, rename its target file, reload Prometheus.

The target file is renamed to `<name>.json.deleted.<UTC timestamp>`, never deleted, so the targets directory
stays an audit trail of every host ever enrolled and when it left (seed 004 Part 4). Same event stream and
per-host lock as enrollment.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from fleetui.adapters.ssh import HostSession, OnUnknownKey, SshError, SshTarget, connect_with_settings
from fleetui.adapters.ssh_config import resolve_address
from fleetui.adapters.targets import SUFFIX, TargetStoreError, open_store
from fleetui.config import Settings
from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.deploy.locks import HostLocks
from fleetui.deploy.pipeline import StepFailed, _one_line, _prometheus_reload
from fleetui.domain.host import EnrollRequest

RETIRE_STEPS = ("connect", "stop", "retire", "reload")


class Retirement:
    def __init__(
        self,
        request: EnrollRequest,
        settings: Settings,
        *,
        stop_agent: bool = False,
        password: str | None = None,
        on_unknown_key: OnUnknownKey | None = None,
        locks: HostLocks | None = None,
    ) -> None:
        self.req, self.settings, self.stop_agent = request, settings, stop_agent
        self._password, self._on_unknown_key = password, on_unknown_key
        self._locks = locks or HostLocks()
        self.session: HostSession | None = None
        self.events: list[StepEvent] = []
        self.result: OperationResult | None = None
        self.retired_as: str | None = None

    def _event(
        self, step: str, status: StepStatus, msg: str = "", elapsed: float = 0.0, detail: dict[str, Any] | None = None
    ) -> StepEvent:
        ev = StepEvent(self.req.address, step, status, msg, elapsed, detail or {})
        self.events.append(ev)
        return ev

    async def run(self) -> AsyncIterator[StepEvent]:
        started = time.monotonic()
        failed: str | None = None
        error: str | None = None
        async with self._locks.lock_for(self.req.address, self.req.port), contextlib.AsyncExitStack() as stack:
            self._stack = stack
            for name in RETIRE_STEPS:
                t0 = time.monotonic()
                yield self._event(name, StepStatus.STARTED)
                try:
                    status, msg = await getattr(self, f"_step_{name}")()
                except (StepFailed, SshError, TargetStoreError, OSError) as e:
                    failed, error = name, _one_line(e)
                    yield self._event(name, StepStatus.FAILED, error, time.monotonic() - t0)
                    break
                yield self._event(name, status, msg, time.monotonic() - t0)
        self.result = OperationResult(
            self.req.address,
            "retire",
            failed is None,
            failed is None,
            time.monotonic() - started,
            tuple(self.events),
            failed,
            error,
            summary={"retired_as": self.retired_as},
        )

    async def _step_connect(self) -> tuple[StepStatus, str]:
        if not self.stop_agent:
            return StepStatus.SKIPPED, "not stopping the agent (no --stop-agent)"
        self.session = await self._stack.enter_async_context(
            connect_with_settings(
                self.settings,
                SshTarget(self.req.address, self.req.port, self.req.user),
                identity_file=self.req.identity_file,
                password=self._password,
                on_unknown_key=self._on_unknown_key,
            )
        )
        return StepStatus.DONE, "connected"

    async def _step_stop(self) -> tuple[StepStatus, str]:
        if self.session is None:
            return StepStatus.SKIPPED, "agent left running"
        for argv in (("systemctl", "stop", "alloy"), ("systemctl", "disable", "alloy")):
            await self.session.run(argv, sudo=True)
        return StepStatus.DONE, "Alloy stopped and disabled"

    async def _step_retire(self) -> tuple[StepStatus, str]:
        self.req = self.req.resolved(resolve_address(self.settings, self.req.address, self.req.port, self.req.user))
        async with open_store(self.settings, self._on_unknown_key) as store:
            name = self.req.name
            if await store.read(name) is None:
                found = await store.find_by_target(_hostport_prefix(self.req.target_address))
                if found is None:
                    raise StepFailed(f"no active target file for {self.req.address} in {store.location}")
                name = found[: -len(SUFFIX)]
            self.retired_as = await store.retire(name)
        return StepStatus.DONE, f"renamed {name}{SUFFIX} to {self.retired_as}"

    async def _step_reload(self) -> tuple[StepStatus, str]:
        await _prometheus_reload(self.settings)
        return StepStatus.DONE, "Prometheus reloaded"


def _hostport_prefix(address: str) -> str:
    return f"[{address}]:" if ":" in address else f"{address}:"
