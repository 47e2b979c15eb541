"""`fleetui enroll/retire/history --json` as a user runs them, on new-02: password login as `ops`, sudo that asks
for the password, push mode, and a postgres DSN that must only ever land in the host's 0600 env file."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fleetui import lab as lab_mod
from fleetui.adapters.prometheus import PrometheusClient
from fleetui.config import load
from fleetui.domain.classify import Sample

pytestmark = [pytest.mark.lab, pytest.mark.both_backends]

HOST = "new-02"
DSN = "postgresql://monitor:t0p-s3cret@127.0.0.1:5432/postgres?sslmode=disable"


def fleetui(lab: Any, kh: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "fleetui",
        "--config",
        str(lab.config_file),
        "--set",
        f"ssh.known_hosts={kh}",
        "--set",
        "alloy.up_timeout=60",
        *args,
    ]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        argv, capture_output=True, text=True, env=full_env, stdin=subprocess.DEVNULL, timeout=240, check=False
    )


async def _query(lab: Any, expr: str) -> list[Sample]:
    """Through fleetui's adapter, which reads just-written samples on every backend (VictoriaMetrics would
    evaluate a plain query at now - 30 s)."""
    async with PrometheusClient(load(lab.config_file, environ={})) as c:
        return await c.query(expr)


@pytest.fixture(scope="module")
def host(reset_lab_host: Any) -> Any:
    return reset_lab_host(HOST)


@pytest.mark.backend_independent  # refused before any connection
def test_bad_input_and_missing_confirmation_touch_nothing(lab: Any, host: Any, tmp_path: Path) -> None:
    kh = tmp_path / "kh"
    before = sorted(p.name for p in Path(lab.targets_dir).iterdir())
    cases = [
        ([host.address, "--label", "environment=a\nb", "--label", "maintainers=x", "--yes"], "one line"),
        ([host.address, "--label", "__address__=x", "--yes"], "reserves"),
        ([host.address, "--label", "environment=a", "--label", "maintainer=x", "--yes"], "misspelling"),
        ([f"{host.address};id", "--yes"], "not a host name"),
        ([host.address, "--user", "ops;id", "--yes"], "login name"),
        ([host.address, "--service", "logfile:path=/x/$(id)", "--yes"], "absolute path"),
        (
            [host.address, "--service", "nginx", "--label", "environment=a", "--label", "maintainers=b", "--yes"],
            "--service: nginx needs push mode",
        ),
        (
            [host.address, "--mode", "push", "--label", "job=v1", "--label", "environment=a", "--yes"],
            "--label: label 'job' is set by fleetui",
        ),
        (
            [
                host.address,
                "--service",
                "logfile:path=/var/log/x",
                "--label",
                "environment=a",
                "--label",
                "maintainers=b",
                "--yes",
            ],
            "--service: journal and logfile need a Loki push URL",
        ),
        ([host.address, "--password-env", "FLEETUI_TEST_UNSET", "--yes"], "not set"),
        ([host.address, "--label", "environment=a", "--label", "maintainers=b"], "pass --yes"),
    ]
    for args, why in cases:
        for command in ("enroll", "plan"):
            if command == "plan" and "--yes" not in args:
                continue
            r = fleetui(lab, kh, command, *[a for a in args if command == "enroll" or a != "--yes"])
            assert r.returncode == 2, (command, args, r.stderr)
            assert why in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
            assert r.stdout == ""
    assert sorted(p.name for p in Path(lab.targets_dir).iterdir()) == before
    assert not kh.exists()  # never even connected


def test_enroll_push_with_password_sudo_and_a_secret(lab: Any, host: Any, tmp_path: Path) -> None:
    kh = tmp_path / "kh"
    fp = lab_mod.host_exec(HOST, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]
    password = host.password_file.read_text().strip()
    env = {"OPS_PW": password, "PG_DSN": DSN}
    r = fleetui(
        lab,
        kh,
        "enroll",
        host.address,
        "--user",
        host.ssh_password_user,
        "--password-env",
        "OPS_PW",
        "--mode",
        "push",
        "--service",
        "postgres:dsn_env=PG_DSN",
        "--label",
        "environment=lab",
        "--label",
        "maintainers=cli-tests",
        "--trust-host-key",
        fp,
        "--yes",
        "--json",
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    done = [(e["step"], e["status"]) for e in doc["events"] if e["status"] not in ("started", "progress")]
    assert [s for s, _ in done] == [
        "connect",
        "detect",
        "install",
        "render",
        "upload",
        "validate",
        "swap",
        "restart",
        "ready",
        "target",
        "reload",
        "verify",
    ]
    assert all(status == "done" for _, status in done)
    for secret in (password, "t0p-s3cret"):
        assert secret not in r.stdout and secret not in r.stderr
        assert secret not in (Path(lab.targets_dir) / f"{host.address}.json").read_text()
    config = lab_mod.host_exec(HOST, ["cat", "/etc/alloy/config.alloy"]).stdout
    assert "t0p-s3cret" not in config and 'sys.env("FLEETUI_POSTGRES_DSN")' in config
    assert lab_mod.host_exec(HOST, ["stat", "-c", "%a %U", "/etc/default/alloy"]).stdout.split() == ["600", "root"]
    assert DSN in lab_mod.host_exec(HOST, ["cat", "/etc/default/alloy"]).stdout
    (sample,) = asyncio.run(_query(lab, 'up{instance="new-02",job="node_exporter"}'))
    assert sample.value == 1 and sample.labels["environment"] == "lab"
    print(f"\nCLI push enrollment of {HOST} as ops with sudo -S, incl. apt install: {doc['elapsed_s']:.2f}s")

    # retire it again through the CLI (sudo with the password stops the agent), then read the history
    r = fleetui(
        lab,
        kh,
        "retire",
        host.address,
        "--user",
        host.ssh_password_user,
        "--password-env",
        "OPS_PW",
        "--stop-agent",
        "--yes",
        "--json",
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    retired = json.loads(r.stdout)["summary"]["retired_as"]
    assert lab_mod.host_exec(HOST, ["systemctl", "is-active", "alloy"]).returncode != 0
    h = json.loads(fleetui(lab, kh, "history", "--json").stdout)
    entry = next(e for e in h["entries"] if e["file"] == retired)
    assert entry["state"] == "retired" and entry["retired_at"].endswith("Z")
    assert entry["labels"]["maintainers"] == "cli-tests"
    assert sum(e["name"] == entry["name"] for e in h["entries"]) == 1  # each address once
    ops = [(o["operation"], o["outcome"]) for o in h["operations"] if o["host"] == host.address]
    assert ops[-2:] == [("enroll", "ok"), ("retire", "ok")]  # the CLI's runs are in the operation log too
