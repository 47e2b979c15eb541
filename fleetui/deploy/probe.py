"""A read-only look at a host before enrolling it: connect (the host-key check included) and detect.

The enrollment wizard's "Connect" step runs this so the operator sees the host's facts — OS and version,
architecture, nodename, the Alloy version if installed, and whether sudo asks for a password — before filling in
what to collect. It is an operation for the same runner (same locks, host-key callback and connection code as
enroll), but changes nothing: it has no `undo`, reads the host back as unchanged, and sudo is only probed with
`sudo -n true`, so a missing password is a fact to show, not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fleetui.adapters.ssh import HostSession, OnUnknownKey
from fleetui.config import Settings
from fleetui.deploy.detect import detect_host
from fleetui.deploy.operation import Observation, Outcome, Step, StepContext, connect_request, done
from fleetui.domain.host import EnrollRequest, HostFacts

SUDO_ROOT = "root"  # logged in as root: no sudo needed
SUDO_NOPASSWD = "passwordless"
SUDO_PASSWORD = "asks for a password"  # noqa: S105 (a fact shown, not a secret)


class ProbeOperation:
    kind = "probe"

    def __init__(
        self,
        request: EnrollRequest,
        settings: Settings,
        *,
        password: str | None = None,
        on_unknown_key: OnUnknownKey | None = None,
        known_as: str | None = None,
    ) -> None:
        """`known_as`: the fleet row this look is for, when `request.address` is only the way to it (the
        wizard's re-enroll of a row): a question about the host's key names it (SshTarget.known_as)."""
        self.req = request
        self.settings = settings
        self.host = request.address
        self.lock_key = (request.address, request.port)
        self._password = password
        self._on_unknown_key = on_unknown_key
        self.known_as = known_as
        self.facts: HostFacts | None = None
        self.sudo = ""
        self.route = ""
        self._steps = (Step("connect", self._connect), Step("detect", self._detect))

    @property
    def steps(self) -> Sequence[Step]:
        return self._steps

    def connect(self) -> AbstractAsyncContextManager[HostSession]:
        return connect_request(self.settings, self.req, self._password, self._on_unknown_key, known_as=self.known_as)

    async def _connect(self, ctx: StepContext) -> Outcome:
        s = await ctx.session()
        self.route = s.route.display
        return done(f"connected to {s.route.display}")

    async def _detect(self, ctx: StepContext) -> Outcome:
        s = await ctx.session()
        self.facts = f = await detect_host(s)
        if await s.is_root():
            self.sudo = SUDO_ROOT
        else:
            probe = await s.run(["sudo", "-n", "true"], check=False)
            self.sudo = SUDO_NOPASSWD if probe.ok else SUDO_PASSWORD
        return done(f"{f.os_id} {f.version_id} ({f.arch}), nodename {f.nodename}", **self.summary(dry_run=True))

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        return Observation()  # nothing was sent that changes anything

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.req.address, "route": self.route}
        if self.facts is not None:
            f = self.facts
            out.update(
                os=f.os_id,
                version=f.version_id,
                family=f.family.value,
                arch=f.arch,
                nodename=f.nodename,
                alloy=f.alloy_version,
                sudo=self.sudo,
            )
        return out
