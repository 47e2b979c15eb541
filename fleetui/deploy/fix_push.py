"""Fixing a push host's `instance`/`job`/macOS memory names in its own Alloy config, with enrollment's on-host safety.

A push host's identity labels are set where Alloy scrapes, so the fix edits the host's config
(fleetui.domain.alloy_fix: only the lines that carry the problem) and applies it with exactly the steps
enrollment uses: upload next to the live file, `alloy validate` (or `alloy fmt` on Alloy before validate
existed) on the staged file, the on-host apply script (swap, restart, wait for /-/ready, restore the old file
itself when Alloy does not come back), and the runner's rollback when a later step fails. `verify` then waits
until Prometheus reports the host up (under its nodename when `instance` was the problem) without the fixed
codes and without any code it did not have before; when that does not happen, the step fails and the old
config is put back. The wait is about `history_after` (30 s): until the old series count as history.

A push host has no target file, so where to reach it by SSH is `--address` or, by default, its nodename.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetui.adapters.ssh import OnUnknownKey
from fleetui.config import Settings
from fleetui.deploy.diffs import unified
from fleetui.deploy.enroll import EnrollOperation
from fleetui.deploy.fix_wait import VERIFY_TIMEOUT_S, wait_until_fixed
from fleetui.deploy.operation import Observation, Outcome, Step, StepContext, StepFailed, done, planned
from fleetui.deploy.render import Rendered
from fleetui.domain.alloy_fix import PUSH_FIXABLE, fix_alloy_config
from fleetui.domain.classify import is_component_path
from fleetui.domain.fixes import FixError
from fleetui.domain.fleet import FleetSnapshot, HostStatus, Mode
from fleetui.domain.host import EnrollRequest, InputError, check_address

_LISTEN = re.compile(r"--server\.http\.listen-addr[= ](\S+?)[\"']?(?:\s|$)")


@dataclass(frozen=True)
class PushFixTarget:
    """One push host to fix: its row, the codes to fix and where to reach it by SSH."""

    host: HostStatus
    codes: tuple[str, ...]
    address: str


def push_fix_targets(
    snap: FleetSnapshot, manual: Mapping[str, Mapping[str, str]], addresses: Mapping[str, str]
) -> tuple[list[PushFixTarget], dict[str, dict[str, str]]]:
    """The push hosts among `manual` whose codes fleetui can fix in their Alloy config, and what stays manual.

    `addresses`: instance -> SSH address given by the operator (default: the host's nodename). Raises
    FixError for a host without a nodename (fleetui cannot tell what `instance` should be).
    """
    by = snap.by_instance()
    out: list[PushFixTarget] = []
    left: dict[str, dict[str, str]] = {}
    for inst, todo in manual.items():
        host = by.get(inst)
        codes = tuple(c for c in todo if c in PUSH_FIXABLE)
        rest = {c: w for c, w in todo.items() if c not in PUSH_FIXABLE}
        if host is None or host.mode is not Mode.PUSH or not codes:
            left[inst] = dict(todo)
            continue
        if rest:
            left[inst] = rest
        if not host.nodename:
            raise FixError(f"{inst}: Prometheus reports no nodename for it, so the right instance is unknown")
        address = addresses.get(inst) or host.nodename
        try:
            check_address(address)
        except InputError as e:
            raise FixError(f"{inst}: {e}") from None
        out.append(PushFixTarget(host, codes, address))
    return out, left


def _listen_addr(env_text: str | None, port: int) -> str:
    """Where Alloy's HTTP server answers on the host: its --server.http.listen-addr, else Alloy's default."""
    m = _LISTEN.search(env_text or "")
    addr = m.group(1) if m else f"127.0.0.1:{port}"
    return addr.replace("0.0.0.0:", "127.0.0.1:")


class PushFixOperation(EnrollOperation):
    """Enrollment's connect/detect/upload/validate/swap/restart/ready with a config edit instead of a render."""

    kind = "fix"

    def __init__(
        self, target: PushFixTarget, settings: Settings, *, on_unknown_key: OnUnknownKey | None = None
    ) -> None:
        super().__init__(
            EnrollRequest(target.address, mode=Mode.PUSH),
            settings,
            on_unknown_key=on_unknown_key,
            known_as=target.host.instance,  # the address typed is the way to this row
        )
        self.t = target
        self.had = {p.code for p in target.host.problems}
        self.verify_timeout = VERIFY_TIMEOUT_S
        self.config_diff = ""
        self._push_steps = (
            Step("connect", self._connect),
            Step("detect", self._detect),
            Step("render", self._render),
            Step("upload", self._upload, plan=self._plan_upload),
            Step("validate", self._validate, plan=self._plan_validate),
            Step("swap", self._swap, plan=self._plan_swap, settle=self._settle_apply, undo=self._undo_apply),
            Step("restart", self._restart, plan=self._plan_later, settle=self._settle_apply),
            Step("ready", self._ready, plan=self._plan_later, settle=self._settle_apply),
            Step("verify", self._verify, plan=self._plan_verify),
        )

    @property
    def steps(self) -> Sequence[Step]:
        return self._push_steps

    @property
    def new_instance(self) -> str:
        fixed = "instance_nodename_mismatch" in self.t.codes and self.t.host.nodename
        return self.t.host.nodename if fixed and self.t.host.nodename else self.t.host.instance

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        out = super().summary(dry_run=dry_run)
        out.update(
            instance=self.t.host.instance,
            plan={"instance": self.t.host.instance, "codes": list(self.t.codes), "new_instance": self.new_instance},
            config_diff=self.config_diff,
        )
        return out

    async def _render(self, ctx: StepContext) -> Outcome:
        from fleetui.alloy.syntax import check

        assert self.facts is not None
        f, p, s = self.facts, self._p(), await ctx.session()
        if self.t.host.nodename and f.nodename != self.t.host.nodename:
            raise StepFailed(
                f"{self.t.address} reports nodename {f.nodename!r}, the fleet row says {self.t.host.nodename!r}"
            )
        self.config_before = await s.read_file(p.config_path)
        if self.config_before is None:
            raise StepFailed(f"{p.config_path} does not exist on {self.t.address}")
        self.env_before = await s.read_file(p.env_path) if p.env_path else None
        old = self.config_before.decode("utf-8", "replace")
        codes = set(self.t.codes)
        jobs = [j for j in (self.t.host.labels.get("job"),) if j and is_component_path(j)]
        try:
            new = fix_alloy_config(
                old,
                instance=self.t.host.instance if "instance_nodename_mismatch" in codes else None,
                nodename=f.nodename,
                bad_jobs=jobs if "job_component_path" in codes else (),
                fix_jobs="job_component_path" in codes,
                macos="macos_memory_names" in codes,
            )
        except FixError as e:
            raise StepFailed(str(e)) from None
        diags = check(new, p.config_path)
        if diags:
            raise StepFailed(f"the fixed config does not parse: {diags[0]}")
        env_text = None if self.env_before is None else self.env_before.decode("utf-8", "replace")
        port = int(self.settings["alloy.port"])
        self.rendered = Rendered(new, None, None, "", _listen_addr(env_text, port), "", ("/-/ready",))
        self.was_active = (await s.run(p.is_active, check=False)).ok
        self.config_changed = new != old
        if not self.config_changed:
            raise StepFailed("the Alloy config already has the fix, yet Prometheus reports the problem")
        self.config_diff = unified(old, new, p.config_path)
        self.plan.update(config_diff=self.config_diff)
        return done(f"fixed config passes the offline check ({len(self.t.codes)} problem(s))")

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        """Enrollment's read-back, plus the instance the fix was for: the operation log keeps it next to the
        address, so the console can offer that address the next time this host needs a fix."""
        seen = await super().observe(ctx, finished=finished)
        return Observation(seen.changes, {**seen.observed, "instance": self.new_instance})

    async def _plan_verify(self, ctx: StepContext) -> Outcome:
        codes = ", ".join(self.t.codes)
        return planned(f"would wait until Prometheus no longer reports {codes} for {self.new_instance}")

    async def _verify(self, ctx: StepContext) -> Outcome:
        codes, had = set(self.t.codes), self.had

        def remaining(row: HostStatus | None) -> set[str] | None:
            if row is None or row.state.value != "up":
                return None
            # the fixed codes gone, and no code the host did not have before (after an instance fix the old
            # name's series count as a duplicate nodename until they are history)
            return {p.code for p in row.problems} - (had - codes)

        return await wait_until_fixed(
            self.settings, ctx, self.new_instance, self.t.codes, remaining, history=True, timeout=self.verify_timeout
        )
