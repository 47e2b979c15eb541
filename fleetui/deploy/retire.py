"""Retiring a host as an operation for the runner: reach it (with --stop-agent), rename its target file, reload
Prometheus, then stop Alloy.

The target file is renamed to `<name>.json.deleted.<UTC timestamp>`, never deleted, so the targets directory
stays an audit trail of every host ever enrolled and when it left. The order puts the change that matters
first: once the file is renamed the host is retired, and a later failure (the reload, stopping the agent, a
lost connection) is reported as "retired, and this failed" — the rename is not undone, since a retired host that
is still running is harmless while a host half-retired back would be confusing. `observe` reads back the
targets directory and, if the agent was to be stopped, the service state.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fleetui.adapters.ssh import HostSession, OnUnknownKey, SshError
from fleetui.adapters.ssh_config import resolve_address
from fleetui.adapters.targets import SUFFIX, TargetStore, TargetStoreError, open_store
from fleetui.config import Settings
from fleetui.deploy.decisions import first_line
from fleetui.deploy.events import Change, ChangeState
from fleetui.deploy.operation import (
    Observation,
    Outcome,
    Step,
    StepContext,
    StepFailed,
    connect_request,
    done,
    planned,
    skipped,
)
from fleetui.deploy.verify import check_credentials, prometheus_reload
from fleetui.domain.host import EnrollRequest, InputError

_SYSTEMD_IS_ACTIVE = ("systemctl", "is-active", "alloy")


def retire_operation(
    request: EnrollRequest,
    settings: Settings,
    *,
    stop_agent: bool = False,
    password: str | None = None,
    on_unknown_key: OnUnknownKey | None = None,
) -> RetireOperation:
    """A retirement for a `Runner`. Raises InputError / ConfigError before anything connects."""
    if request.password_env and password is None:
        raise InputError(f"environment variable {request.password_env} is not set", "password_env")
    check_credentials(settings)
    return RetireOperation(request, settings, stop_agent=stop_agent, password=password, on_unknown_key=on_unknown_key)


class RetireOperation:
    kind = "retire"

    def __init__(
        self,
        request: EnrollRequest,
        settings: Settings,
        *,
        stop_agent: bool = False,
        password: str | None = None,
        on_unknown_key: OnUnknownKey | None = None,
    ) -> None:
        self.req, self.settings, self.stop_agent = request, settings, stop_agent
        self.host = request.address
        self.lock_key = (request.address, request.port)
        self._password, self._on_unknown_key = password, on_unknown_key
        self.name = request.name  # the target file's base name (found by target address if named otherwise)
        self.retired_as: str | None = None
        self.touched: set[str] = set()
        self.was_active: bool | None = None
        self._steps = (
            Step("connect", self._connect, plan=self._plan_connect),
            Step("retire", self._retire, plan=self._plan_retire),
            Step("reload", self._reload, plan=self._plan_reload),
            Step("stop", self._stop, plan=self._plan_stop),
        )

    @property
    def steps(self) -> Sequence[Step]:
        return self._steps

    def connect(self) -> AbstractAsyncContextManager[HostSession]:
        return connect_request(self.settings, self.req, self._password, self._on_unknown_key)

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        return {"address": self.req.address, "retired_as": self.retired_as, "stop_agent": self.stop_agent}

    async def _plan_connect(self, ctx: StepContext) -> Outcome:
        if not self.stop_agent:
            return skipped("not stopping the agent (no --stop-agent)")
        return await self._connect(ctx)

    async def _connect(self, ctx: StepContext) -> Outcome:
        if not self.stop_agent:
            return skipped("not stopping the agent (no --stop-agent)")
        s = await ctx.session()
        await s.sudo_prefix()  # fail now, before the rename, when sudo needs a password we lack
        self.was_active = (await s.run(_SYSTEMD_IS_ACTIVE, check=False)).ok
        return done("connected", alloy_active=self.was_active)

    async def _find(self) -> tuple[str, str]:
        """(file base name, store location) of the host's active target file."""
        # an ssh-config alias: the target file is named after, and points at, where the alias leads
        self.req = self.req.resolved(resolve_address(self.settings, self.req.address, self.req.port, self.req.user))
        self.name = self.req.name
        async with open_store(self.settings, self._on_unknown_key) as store:
            if await store.read(self.name) is not None:
                return self.name, store.location
            found = await store.find_by_target(_hostport_prefix(self.req.target_address))
            if found is None:
                raise StepFailed(f"no active target file for {self.req.address} in {store.location}")
            return found[: -len(SUFFIX)], store.location

    async def _plan_retire(self, ctx: StepContext) -> Outcome:
        name, where = await self._find()
        return planned(f"would rename {name}{SUFFIX} in {where} to {name}{SUFFIX}.deleted.<UTC timestamp>")

    async def _retire(self, ctx: StepContext) -> Outcome:
        self.name, _ = await self._find()
        self.touched.add("target")
        async with open_store(self.settings, self._on_unknown_key) as store:
            self.retired_as = await store.retire(self.name)
        return done(f"renamed {self.name}{SUFFIX} to {self.retired_as}", retired_as=self.retired_as)

    async def _plan_reload(self, ctx: StepContext) -> Outcome:
        return planned("would POST /-/reload to Prometheus")

    async def _reload(self, ctx: StepContext) -> Outcome:
        await prometheus_reload(self.settings)
        return done("Prometheus reloaded")

    async def _plan_stop(self, ctx: StepContext) -> Outcome:
        if not self.stop_agent:
            return skipped("agent left running")
        return planned("would stop and disable Alloy")

    async def _stop(self, ctx: StepContext) -> Outcome:
        if not self.stop_agent:
            return skipped("agent left running")
        s = await ctx.session()
        self.touched.add("service")
        await s.run(("systemctl", "stop", "alloy"), sudo=True)
        await ctx.progress("Alloy stopped")
        await s.run(("systemctl", "disable", "alloy"), sudo=True)
        return done("Alloy stopped and disabled")

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        out: list[Change] = []
        observed: dict[str, Any] = {}
        if "target" in self.touched:
            try:
                async with open_store(self.settings, self._on_unknown_key) as store:
                    current = await store.read(self.name)
                    kept = self.retired_as is not None and await _listed(store, self.retired_as)
                observed.update(target_present=current is not None, retired_file_present=kept)
                if current is None and kept:
                    out.append(Change("target file", ChangeState.CHANGED, f"renamed to {self.retired_as} (retired)"))
                elif current is not None and self.retired_as is None:
                    out.append(Change("target file", ChangeState.UNCHANGED, f"{self.name}{SUFFIX} is still active"))
                else:
                    out.append(Change("target file", ChangeState.UNKNOWN, f"check {store.location}"))
            except (SshError, TargetStoreError) as e:
                where = self.settings["targets.dir"]
                out.append(Change("target file", ChangeState.UNKNOWN, f"{first_line(e)}; check {where}"))
        if "service" in self.touched:
            try:
                s = await ctx.session()
                active = (await s.run(_SYSTEMD_IS_ACTIVE, check=False)).ok
                observed["alloy_active"] = active
                if not active and self.was_active:
                    out.append(Change("alloy service", ChangeState.CHANGED, "Alloy is stopped"))
                else:
                    out.append(
                        Change(
                            "alloy service",
                            ChangeState.UNCHANGED,
                            "Alloy is still running" if active else "Alloy was not running",
                        )
                    )
            except SshError as e:
                out.append(
                    Change(
                        "alloy service",
                        ChangeState.UNKNOWN,
                        f"{first_line(e)}; check `systemctl is-active alloy` on the host",
                    )
                )
        return Observation(tuple(out), observed)


async def _listed(store: TargetStore, file_name: str) -> bool:
    """Whether the retired file is there: it is not `<name>.json`, so look for it in the store's listing."""
    return any(e.file == file_name for e in await store.history())


def _hostport_prefix(address: str) -> str:
    return f"[{address}]:" if ":" in address else f"{address}:"
