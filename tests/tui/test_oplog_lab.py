"""A console run with an SSH password and a postgres DSN is logged, and neither secret is in the log.

Real run: a plan of new-02 as `ops` (password login, sudo that asks for the same password) with the postgres
service reading its DSN from the environment, through the console's operations service, which appends the
record to the local operation log.
"""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from fleetui import lab as lab_mod
from fleetui.adapters import oplog
from fleetui.adapters.ssh import HostKeyInfo, OnUnknownKey
from fleetui.config import Settings
from fleetui.deploy.enroll import enroll_operation, resolve_secrets
from fleetui.deploy.operation import Operation
from fleetui.domain.host import build_request
from fleetui.tui.app import FleetApp
from fleetui.tui.source import PrometheusSource

pytestmark = pytest.mark.lab

DSN = "postgresql://monitor:dsn-s3cret-9@127.0.0.1:5432/postgres?sslmode=disable"


async def test_a_run_with_a_password_and_a_dsn_leaves_neither_in_the_log(
    lab: Any, lab_settings: Settings, tmp_path: Path
) -> None:
    host = lab.host("new-02")
    password = host.password_file.read_text().strip()
    fp = lab_mod.host_exec("new-02", ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]
    settings = lab_settings.with_overrides({"ssh.known_hosts": str(tmp_path / "kh"), "refresh_interval": 3600})
    request = build_request(
        host.address,
        user=host.ssh_password_user,
        password_env="OPS_PW",
        mode="push",
        services=["postgres:dsn_env=PG_DSN"],
        labels={"environment": "lab", "maintainers": "console-tests"},
    )
    secrets = resolve_secrets(request, {"PG_DSN": DSN})

    async def trust_exactly(info: HostKeyInfo) -> bool:  # the fingerprint dialog is tested elsewhere
        return info.fingerprint == fp

    def make(on_unknown_key: OnUnknownKey) -> Operation:
        return enroll_operation(request, settings, password=password, secrets=secrets, on_unknown_key=trust_exactly)

    app = FleetApp(settings, PrometheusSource(settings), config_file=None)
    async with app.run_test(size=(100, 30)):
        handle = app.operations.start(make, dry_run=True, title="plan new-02")
        deadline = time.monotonic() + 60
        while handle.result is None:
            assert time.monotonic() < deadline, "the plan did not finish"
            await asyncio.sleep(0.05)
        assert handle.result.ok, handle.result
        assert DSN in str(secrets) and password  # the run really had both

    path = oplog.default_path()
    assert app.operations.oplog.path == path and stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert password not in text and "dsn-s3cret-9" not in text and "postgresql" not in text
    (record,) = oplog.OpLog(path).read()
    assert (record.host, record.operation, record.outcome) == (host.address, "plan", "ok")
