"""An OpenSSH-config alias with a ProxyJump, against the lab's real sshds: one lab host reached through another.

`labalias` (HostName/Port/User/IdentityFile/ProxyJump in a temp ssh config) is new-03, reached through
`labjump`, which is new-01 (the lab's spare: it is only passed through, never changed). fleetui's own `ssh.*`
defaults point nowhere useful here (port 22, user nobody, no key), so only the ssh config can get a connection
through. new-03 is reset before and after this module.

That the jump was really used is checked where it cannot be faked: while the enrollment's connection is open,
the TCP connection to new-03's sshd must belong to a process in new-01's mount namespace (new-01's sshd
forwarding it), not to this test process; `test_the_route_check_sees_a_direct_connection` shows the same check
catching a direct connection. Tests in this module run in order and share new-03's state.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest

from fleetui import lab as lab_mod
from fleetui.adapters.ssh import (
    ConnectFailed,
    HostKeyChanged,
    HostKeyInfo,
    HostKeyUnknown,
    SshTarget,
    connect_with_settings,
    trust_exactly,
)
from fleetui.cli import build_parser
from fleetui.commands import enroll
from fleetui.config import Settings
from fleetui.deploy.enroll import enroll_operation
from fleetui.deploy.events import OperationResult, StepStatus
from fleetui.deploy.runner import Runner
from fleetui.lab.manager import host_pid

pytestmark = pytest.mark.lab

HOST, JUMP = "new-03", "new-01"
ALIAS, JUMP_ALIAS = "labalias", "labjump"
LABELS = ["--label", "environment=lab", "--label", "maintainers=ssh-config-tests"]


def fingerprint(host: str) -> str:
    return lab_mod.host_exec(host, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]


def connection_owners(address: str, port: int) -> dict[int, str]:
    """{pid: its mount namespace} for every process holding an established TCP connection to address:port in
    this network namespace (the lab's), read at once: the processes end with the connection."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        ip_hex, port_hex = f[2].split(":")
        remote = socket.inet_ntoa(struct.pack("<I", int(ip_hex, 16)))
        if (remote, int(port_hex, 16), f[3]) == (address, port, "01"):
            inodes.add(f"socket:[{f[9]}]")
    owners = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                owners[int(proc.name)] = os.readlink(proc / "ns" / "mnt")
        except OSError:  # a process that ended meanwhile
            continue
    return owners


def mount_ns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/mnt")


@pytest.fixture(scope="module")
def hosts(lab: Any, reset_lab_host: Any) -> Iterator[tuple[Any, Any]]:
    """(target, jump host); the target reset to not enrolled before and after the module."""
    target = reset_lab_host(HOST)
    yield target, lab.host(JUMP)
    reset_lab_host(HOST)


def alias_config(lab: Any, target: Any, jump: Any) -> str:
    return (
        f"Host {ALIAS}\n"
        f"    HostName {target.address}\n    Port {target.ssh_port}\n    User root\n"
        f"    IdentityFile {lab.identity_file}\n    ProxyJump {JUMP_ALIAS}\n"
        f"Host {JUMP_ALIAS}\n"
        f"    HostName {jump.address}\n    Port {jump.ssh_port}\n    User root\n    IdentityFile {lab.identity_file}\n"
    )


@pytest.fixture(scope="module")
def ssh_config(lab: Any, hosts: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = tmp_path_factory.mktemp("sshcfg") / "config"
    cfg.write_text(alias_config(lab, *hosts))
    return cfg


@pytest.fixture(scope="module")
def settings(lab_settings: Settings, ssh_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    kh = tmp_path_factory.mktemp("kh") / "known_hosts"
    return lab_settings.with_overrides(
        {
            "ssh.config_file": str(ssh_config),
            "ssh.known_hosts": str(kh),
            "alloy.up_timeout": "60",
            # fleetui's defaults lead nowhere: only the ssh config's Port, User and IdentityFile work
            "ssh.port": "22",
            "ssh.user": "nobody",
            "ssh.identity_file": "",
        }
    )


async def test_jump_host_key_goes_through_the_same_check(
    hosts: tuple[Any, Any], settings: Settings, tmp_path: Path
) -> None:
    target, jump = hosts
    kh = tmp_path / "known_hosts"
    s = settings.with_overrides({"ssh.known_hosts": str(kh)})
    shown: list[HostKeyInfo] = []

    def only(*fingerprints: str) -> Any:
        async def decide(info: HostKeyInfo) -> bool:
            shown.append(info)
            return info.fingerprint in fingerprints

        return decide

    # nothing trusted: the jump host's key is shown first and refused, so the target is never reached
    with pytest.raises(HostKeyUnknown) as e:
        async with connect_with_settings(s, SshTarget(ALIAS), on_unknown_key=only()):
            pass
    assert f"jump host {JUMP_ALIAS} ({jump.address}:{jump.ssh_port}) on the way to {ALIAS}" in str(e.value)
    assert fingerprint(JUMP) in str(e.value)
    assert [(i.host, i.name, i.jump_for) for i in shown] == [(jump.address, JUMP_ALIAS, ALIAS)]
    assert not kh.exists() or kh.read_text() == ""

    # the jump host trusted, the target not: recorded under the jump host's resolved address only
    shown.clear()
    with pytest.raises(HostKeyUnknown) as e:
        async with connect_with_settings(s, SshTarget(ALIAS), on_unknown_key=only(fingerprint(JUMP))):
            pass
    assert f"host key of {ALIAS} ({target.address}:{target.ssh_port}) is not known" in str(e.value)
    assert [(i.host, i.jump_for) for i in shown] == [(jump.address, ALIAS), (target.address, None)]
    assert [ln.split()[0] for ln in kh.read_text().splitlines()] == [f"[{jump.address}]:{jump.ssh_port}"]

    # a jump host presenting another key than the recorded one is refused, naming the file and line
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    kh.write_text(f"[{jump.address}]:{jump.ssh_port} {other}\n")
    with pytest.raises(HostKeyChanged) as changed:
        async with connect_with_settings(s, SshTarget(ALIAS), on_unknown_key=only(fingerprint(JUMP))):
            pass
    assert f"HOST KEY CHANGED for jump host {JUMP_ALIAS}" in str(changed.value) and f"{kh}:1" in str(changed.value)


async def test_a_target_the_jump_host_cannot_reach_is_named_with_the_route(
    lab: Any, hosts: tuple[Any, Any], settings: Settings, tmp_path: Path
) -> None:
    target, jump = hosts
    cfg = tmp_path / "config"
    cfg.write_text(
        f"Host closed\n    HostName {target.address}\n    Port 2299\n    ProxyJump {JUMP_ALIAS}\n"
        + alias_config(lab, target, jump)
    )
    s = settings.with_overrides({"ssh.config_file": str(cfg), "ssh.known_hosts": str(tmp_path / "kh")})
    with pytest.raises(ConnectFailed) as e:
        async with connect_with_settings(
            s, SshTarget("closed", None, "root"), on_unknown_key=trust_exactly(fingerprint(JUMP))
        ):
            pass
    assert str(e.value).startswith(
        f"closed (root@{target.address}:2299) via {JUMP_ALIAS} (root@{jump.address}:{jump.ssh_port}): "
        "the jump host could not connect onwards:"
    ), str(e.value)


async def test_the_route_check_sees_a_direct_connection(
    lab: Any, hosts: tuple[Any, Any], settings: Settings, tmp_path: Path
) -> None:
    """The proof used below must fail when the jump is bypassed: connect to the target directly and look."""
    target, _ = hosts
    direct = settings.with_overrides(
        {
            "ssh.config_file": "",
            "ssh.known_hosts": str(tmp_path / "known_hosts"),
            "ssh.port": str(target.ssh_port),
            "ssh.identity_file": str(lab.identity_file),
        }
    )
    async with connect_with_settings(
        direct, SshTarget(target.address, None, "root"), on_unknown_key=trust_exactly(fingerprint(HOST))
    ) as s:
        assert s.route.jumps == ()
        owners = connection_owners(target.address, target.ssh_port)
    assert os.getpid() in owners
    assert mount_ns(host_pid(JUMP)) not in owners.values()


async def enroll_by_alias(settings: Settings, target: Any) -> tuple[OperationResult, dict[int, str], list[HostKeyInfo]]:
    """Enroll `labalias` as `fleetui enroll labalias` builds it; return the result, the owners of the TCP
    connection to the target's sshd while the session was open, and the host keys the operator was shown."""
    args = build_parser().parse_args(["enroll", ALIAS, *LABELS, "--yes"])
    req, password = enroll.build(args, settings)
    assert (req.address, req.port, req.user, password) == (ALIAS, None, None, None)
    shown: list[HostKeyInfo] = []
    wanted = {fingerprint(JUMP), fingerprint(HOST)}

    async def trust(info: HostKeyInfo) -> bool:
        shown.append(info)
        return info.fingerprint in wanted

    run = Runner(settings).start(enroll_operation(req, settings, on_unknown_key=trust))
    owners: dict[int, str] = {}
    async for ev in run.events():
        if ev.step == "detect" and ev.status is StepStatus.DONE:
            owners = connection_owners(target.address, target.ssh_port)
    assert run.result is not None
    return run.result, owners, shown


def test_alias_with_proxyjump_enrolls_a_lab_host(lab: Any, hosts: tuple[Any, Any], settings: Settings) -> None:
    target, jump = hosts
    result, owners, shown = asyncio.run(enroll_by_alias(settings, target))
    assert result.ok, (result.failed_step, result.error)

    # the connection went through the jump host: new-01's sshd held the TCP connection to new-03, not we
    assert owners and os.getpid() not in owners
    assert set(owners.values()) == {mount_ns(host_pid(JUMP))}
    steps = {e.step: e for e in result.events if e.status is not StepStatus.STARTED}
    assert steps["connect"].message == (
        f"connected to {ALIAS} (root@{target.address}:{target.ssh_port}) "
        f"via {JUMP_ALIAS} (root@{jump.address}:{jump.ssh_port})"
    )
    assert steps["detect"].detail["nodename"] == HOST

    # both keys passed the same check, jump host first, recorded under the addresses really dialled
    assert [(i.host, i.name, i.jump_for) for i in shown] == [
        (jump.address, JUMP_ALIAS, ALIAS),
        (target.address, ALIAS, None),
    ]
    kh = Path(settings["ssh.known_hosts"]).read_text()
    assert [ln.split()[0] for ln in kh.splitlines()] == [
        f"[{jump.address}]:{jump.ssh_port}",
        f"[{target.address}]:{target.ssh_port}",
    ]

    # the operator's name in every event and the result; the resolved address for Alloy and the target
    assert {e.host for e in result.events} == {ALIAS} and result.host == ALIAS
    assert result.summary["address"] == ALIAS and result.summary["target"] == f"{target.address}:12345"
    env = lab_mod.host_exec(HOST, ["cat", "/etc/default/alloy"]).stdout
    assert f'CUSTOM_ARGS="--server.http.listen-addr={target.address}:12345"' in env
    targets = Path(lab.targets_dir)
    mine = [p.name for p in targets.iterdir() if p.name.endswith(".json") and ALIAS in p.read_text()]
    assert mine == [] and not (targets / f"{ALIAS}.json").exists()
    group = json.loads((targets / f"{target.address}.json").read_text())[0]
    assert group["targets"] == [f"{target.address}:12345"]
    assert group["labels"]["instance"] == HOST

    # and Prometheus, asked on its own, scrapes it and reports it up
    data = httpx.get(f"{lab.prometheus}/api/v1/targets", params={"state": "active"}, timeout=5).json()
    scraped = [t for t in data["data"]["activeTargets"] if t["scrapeUrl"].startswith(f"http://{target.address}:12345/")]
    assert len(scraped) == 1 and scraped[0]["health"] == "up", scraped


def fleetui(lab: Any, settings: Settings, *args: str) -> dict[str, Any]:
    """Run `fleetui ... --json` as an operator would, with this module's ssh config, known_hosts and defaults."""
    argv = [sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "--set", "alloy.up_timeout=60"]
    for k in ("ssh.config_file", "ssh.known_hosts", "ssh.port", "ssh.user", "ssh.identity_file"):
        argv += ["--set", f"{k}={settings[k] if settings[k] is not None else ''}"]
    out = subprocess.run(
        [*argv, *args, "--json"], capture_output=True, text=True, timeout=240, check=False, stdin=subprocess.DEVNULL
    )
    assert out.returncode == 0, out.stdout + out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def test_cli_reenroll_by_alias_changes_nothing_and_keeps_one_target_file(
    lab: Any, hosts: tuple[Any, Any], settings: Settings
) -> None:
    """`fleetui enroll labalias` as an operator types it (both host keys now known): a no-op, one target file."""
    target, _ = hosts
    target_file = Path(lab.targets_dir) / f"{target.address}.json"
    before = target_file.stat().st_mtime_ns
    result = fleetui(lab, settings, "enroll", ALIAS, *LABELS, "--yes")
    assert result["ok"] and not result["changed"], result
    assert {e["host"] for e in result["events"]} == {ALIAS}
    assert target_file.stat().st_mtime_ns == before
    assert not (Path(lab.targets_dir) / f"{ALIAS}.json").exists()


def test_cli_retire_by_alias_finds_the_target_file_of_the_resolved_address(
    lab: Any, hosts: tuple[Any, Any], settings: Settings
) -> None:
    target, _ = hosts
    result = fleetui(lab, settings, "retire", ALIAS, "--stop-agent", "--yes")
    assert result["ok"] and {e["host"] for e in result["events"]} == {ALIAS}, result
    retired = result["summary"]["retired_as"]
    assert retired.startswith(f"{target.address}.json.deleted.")
    assert (Path(lab.targets_dir) / retired).exists()
    assert not (Path(lab.targets_dir) / f"{target.address}.json").exists()
    # --stop-agent reached the host through the jump host again
    assert lab_mod.host_exec(HOST, ["systemctl", "is-active", "alloy"]).returncode != 0
