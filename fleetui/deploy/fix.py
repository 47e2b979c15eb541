"""Fixing a pull host's label problem as an operation for the runner: confirm the host, rewrite its target
file, reload Prometheus, then wait until Prometheus no longer reports the problem.

Steps: `connect` (read the host's nodename: the fix is for the machine the operator means, and a session lets
the runner roll back after a failure), `target` (plan: the diff; apply: write the file; undo: write the old
text back), `reload`, `verify` (poll the fleet until the fixed problem codes are gone from the host, else fail,
which rolls the target file back). `observe` reads the target file back, so the result says what is there.

`fix_operations` does every check before anything connects: each host is in the fleet, has a problem it can
fix, has one active target file, and every missing label has a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fleetui.adapters.ssh import HostSession, OnUnknownKey, SshError, SshTarget, connect_with_settings
from fleetui.adapters.targets import SUFFIX, HistoryEntry, TargetStoreError, open_store
from fleetui.config import Settings
from fleetui.deploy.decisions import first_line
from fleetui.deploy.diffs import unified
from fleetui.deploy.events import Change, ChangeState
from fleetui.deploy.fix_wait import VERIFY_TIMEOUT_S, wait_until_fixed
from fleetui.deploy.operation import Observation, Outcome, Step, StepContext, StepFailed, done, planned
from fleetui.deploy.verify import prometheus_reload
from fleetui.domain.classify import Policy
from fleetui.domain.fixes import FixError, FixPlan, fix_target_json, plan_fix
from fleetui.domain.fleet import FleetSnapshot, HostStatus, Mode


@dataclass(frozen=True)
class FixTarget:
    """One host to fix: its row, the plan, its target file and where to reach it."""

    host: HostStatus
    plan: FixPlan
    file: str  # base name in the targets dir (without .json)
    address: str


def _entry_for(host: HostStatus, entries: Sequence[HistoryEntry]) -> HistoryEntry | None:
    active = [e for e in entries if e.state == "active"]
    for e in active:
        if e.labels.get("instance") == host.instance or host.instance in e.targets:
            return e
    return next((e for e in active if e.name == host.instance), None)


def _address(host: HostStatus, entry: HistoryEntry) -> str:
    if entry.targets:
        addr = entry.targets[0].rsplit(":", 1)[0]
        return addr.strip("[]")
    return host.hostname or host.nodename or host.instance


def policy_of(settings: Settings) -> Policy:
    return Policy(
        stale_after=settings["stale_after"],
        required_labels=tuple(settings["schema.required_labels"]),
        aliases=dict(settings["schema.aliases"]),
        history_after=settings["history_after"],
    )


async def fix_targets(
    settings: Settings,
    snap: FleetSnapshot,
    instances: Sequence[str],
    *,
    only: str | None = None,
    values: Mapping[str, str] | None = None,
    on_unknown_key: OnUnknownKey | None = None,
) -> tuple[list[FixTarget], dict[str, dict[str, str]]]:
    """The fixes to run and, per host, the problems left to a person. Raises FixError on bad input."""
    by = snap.by_instance()
    unknown = [i for i in instances if i not in by]
    if unknown:
        raise FixError(f"no host {', '.join(map(repr, unknown))} in the fleet (see `fleetui status`)")
    policy = policy_of(settings)
    try:
        async with open_store(settings, on_unknown_key) as store:
            entries = await store.history()
    except (TargetStoreError, SshError) as e:
        raise FixError(f"cannot read the targets directory: {first_line(e)}") from None
    out: list[FixTarget] = []
    manual: dict[str, dict[str, str]] = {}
    for inst in dict.fromkeys(instances):
        host = by[inst]
        plan = plan_fix(host, policy, only=only, values=values, fleet=snap.hosts)
        if plan.manual:
            manual[inst] = dict(plan.manual)
        if plan.empty:
            continue
        if host.mode is not Mode.PULL:
            raise FixError(f"{inst}: only pull hosts' target files can be fixed automatically")
        entry = _entry_for(host, entries)
        if entry is None:
            raise FixError(f"{inst}: no active target file for it in {settings['targets.dir']}")
        out.append(FixTarget(host, plan, entry.name, _address(host, entry)))
    return out, manual


class FixOperation:
    kind = "fix"

    def __init__(self, target: FixTarget, settings: Settings, *, on_unknown_key: OnUnknownKey | None = None) -> None:
        self.t, self.settings = target, settings
        self.host = target.address
        self.lock_key: tuple[str, int | None] = (target.address, None)
        self._on_unknown_key = on_unknown_key
        self.old: str | None = None
        self.new: str | None = None
        self.nodename: str | None = None
        self.written = False
        self.verify_timeout = VERIFY_TIMEOUT_S
        self._steps = (
            Step("connect", self._connect),
            Step("target", self._target, plan=self._plan_target, undo=self._undo_target),
            Step("reload", self._reload, plan=self._plan_reload),
            Step("verify", self._verify, plan=self._plan_verify),
        )

    @property
    def steps(self) -> Sequence[Step]:
        return self._steps

    def connect(self) -> AbstractAsyncContextManager[HostSession]:
        # dialled at the target's address, named as the fleet row it fixes (a question about its key says which)
        target = SshTarget(self.t.address, known_as=self.t.host.instance)
        return connect_with_settings(self.settings, target, on_unknown_key=self._on_unknown_key)

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        name = f"{self.settings['targets.dir']}/{self.t.file}{SUFFIX}"
        return {
            "instance": self.t.host.instance,
            "file": f"{self.t.file}{SUFFIX}",
            "plan": self.t.plan.to_json(),
            "nodename": self.nodename,
            "target_diff": unified(self.old, self.new, name) if self.new is not None else "",
        }

    async def _connect(self, ctx: StepContext) -> Outcome:
        s = await ctx.session()
        self.nodename = (await s.run(("uname", "-n"))).stdout.strip()
        expected = {self.t.host.nodename, self.t.host.instance, self.t.host.hostname} - {None}
        if self.t.host.nodename and self.nodename not in expected:
            raise StepFailed(
                f"{self.t.address} reports nodename {self.nodename!r}, the fleet row says {self.t.host.nodename!r}"
            )
        return done(f"connected to {self.nodename}", nodename=self.nodename)

    async def _render(self) -> None:
        async with open_store(self.settings, self._on_unknown_key) as store:
            self.old = await store.read(self.t.file)
        if self.old is None:
            raise StepFailed(f"{self.t.file}{SUFFIX} is gone from {self.settings['targets.dir']}")
        try:
            self.new = fix_target_json(self.old, self.t.plan)
        except FixError as e:
            raise StepFailed(str(e)) from None

    async def _plan_target(self, ctx: StepContext) -> Outcome:
        await self._render()
        name = f"{self.settings['targets.dir']}/{self.t.file}{SUFFIX}"
        return planned(f"would rewrite {self.t.file}{SUFFIX}", target_diff=unified(self.old, self.new, name))

    async def _target(self, ctx: StepContext) -> Outcome:
        await self._render()
        assert self.new is not None
        if self.new == self.old:
            raise StepFailed(f"{self.t.file}{SUFFIX} already has the fix, yet Prometheus reports the problem")
        async with open_store(self.settings, self._on_unknown_key) as store:
            self.written = True
            await store.write(self.t.file, self.new)
        return done(f"rewrote {self.t.file}{SUFFIX}")

    async def _undo_target(self, ctx: StepContext) -> str | None:
        if not self.written or self.old is None:
            return None
        async with open_store(self.settings, self._on_unknown_key) as store:
            await store.write(self.t.file, self.old)
        await prometheus_reload(self.settings)
        return f"{self.t.file}{SUFFIX} restored"

    async def _plan_reload(self, ctx: StepContext) -> Outcome:
        return planned("would POST /-/reload to Prometheus")

    async def _reload(self, ctx: StepContext) -> Outcome:
        await prometheus_reload(self.settings)
        return done("Prometheus reloaded")

    async def _plan_verify(self, ctx: StepContext) -> Outcome:
        codes = ", ".join(self.t.plan.codes)
        return planned(f"would wait until Prometheus no longer reports {codes} for {self.t.host.instance}")

    async def _verify(self, ctx: StepContext) -> Outcome:
        codes = set(self.t.plan.codes)

        def remaining(row: HostStatus | None) -> set[str] | None:
            return None if row is None else {p.code for p in row.problems} & codes

        return await wait_until_fixed(
            self.settings,
            ctx,
            self.t.host.instance,
            self.t.plan.codes,
            remaining,
            history=False,
            timeout=self.verify_timeout,
        )

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        what = "target file"
        try:
            async with open_store(self.settings, self._on_unknown_key) as store:
                now = await store.read(self.t.file)
        except (TargetStoreError, SshError) as e:
            return Observation(
                (Change(what, ChangeState.UNKNOWN, f"{first_line(e)}; check {self.settings['targets.dir']}"),)
            )
        observed = {"target_text_is_fixed": now == self.new, "target_text_is_original": now == self.old}
        if not self.written or now == self.old:
            state = ChangeState.ROLLED_BACK if self.written else ChangeState.UNCHANGED
            return Observation((Change(what, state, f"{self.t.file}{SUFFIX} as it was"),), observed)
        if now == self.new:
            return Observation((Change(what, ChangeState.CHANGED, f"{self.t.file}{SUFFIX} fixed"),), observed)
        return Observation(
            (Change(what, ChangeState.UNKNOWN, f"{self.t.file}{SUFFIX} differs from both; check it by hand"),),
            observed,
        )
