"""The lab itself: real Prometheus, real sshd and node_exporter per host, namespaces that really isolate.

Host keys are read from each host's own /etc/ssh (via nsenter) and given to asyncssh as known_hosts, so these
tests check host keys like the product does instead of switching checking off.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest

from fleetui import lab as lab_mod
from fleetui.lab import LabHost, LabInfo

pytestmark = pytest.mark.lab


def _known_hosts(host: LabHost) -> asyncssh.SSHKnownHosts:
    pub = lab_mod.host_exec(host, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()
    return asyncssh.import_known_hosts(f"[{host.address}]:{host.ssh_port} {pub[0]} {pub[1]}\n")


async def _ssh(
    host: LabHost, command: str, *, username: str | None = None, password: str | None = None, stdin: str | None = None
) -> asyncssh.SSHCompletedProcess:
    kw: dict[str, Any] = (
        {"client_keys": [str(host.identity_file)]} if password is None else {"password": password, "client_keys": None}
    )
    async with asyncssh.connect(
        host.address,
        port=host.ssh_port,
        username=username or host.ssh_user,
        known_hosts=_known_hosts(host),
        agent_path=None,
        **kw,
    ) as conn:
        return await conn.run(command, input=stdin, check=False)


def test_status_json_shape(lab: LabInfo) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fleetui", "lab", "status", "--json"], capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout)
    assert data["prometheus"] == "http://127.0.0.1:19090"
    assert Path(data["targets_dir"]).is_dir()
    assert len(data["hosts"]) >= 6
    for h in data["hosts"]:
        assert {"name", "address", "ssh_port", "ssh_user", "identity_file", "os", "enrolled"} <= set(h)
        assert h["enrolled"] in ("pull", "push", None)
        assert h["address"].startswith("127.0.0.")
    assert {"pull", "push", None} <= {h["enrolled"] for h in data["hosts"]}
    assert Path(data["identity_file"]).stat().st_mode & 0o777 == 0o600
    assert data["backend"] == lab.backend


def test_up_on_the_other_backend_needs_a_down_first(lab: LabInfo) -> None:
    other = "victoriametrics" if lab.backend == "prometheus" else "prometheus"
    out = subprocess.run(
        [sys.executable, "-m", "fleetui", "lab", "up", "--backend", other], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and f"the lab is up on {lab.backend}" in out.stderr
    assert (
        json.loads(
            subprocess.run(
                [sys.executable, "-m", "fleetui", "lab", "status", "--json"], capture_output=True, text=True, check=True
            ).stdout
        )["backend"]
        == lab.backend
    )


async def test_each_host_has_own_hostname_and_os_over_real_ssh(lab: LabInfo) -> None:
    seen = {}
    for host in lab.hosts:
        r = await _ssh(host, "hostname; . /etc/os-release; echo $ID; id -un")
        assert r.exit_status == 0, r.stderr
        name, os_id, user = str(r.stdout).split()
        assert name == host.name
        assert user == "root"
        seen[host.name] = os_id
    assert {"debian", "ubuntu", "rocky", "opensuse-leap"} <= set(seen.values())
    assert len(seen) >= 6


def test_node_exporter_reports_host_nodename(lab: LabInfo) -> None:
    for host in lab.hosts:
        text = httpx.get(f"http://{host.address}:19100/metrics", timeout=5).text
        line = next(x for x in text.splitlines() if x.startswith("node_uname_info{"))
        assert f'nodename="{host.name}"' in line


@pytest.mark.both_backends
def test_prometheus_is_real_and_configured(lab: LabInfo) -> None:
    assert httpx.get(f"{lab.prometheus}/-/ready", timeout=5).status_code == 200
    if lab.backend == "victoriametrics":  # its own flags page: only the flags set on its command line
        flags = httpx.get(f"{lab.prometheus}/flags", timeout=5).text
        assert '-promscrape.fileSDCheckInterval="5s"' in flags and "-promscrape.config=" in flags
        assert "-search.latencyOffset" not in flags  # left at its default on purpose
    else:
        flags = httpx.get(f"{lab.prometheus}/api/v1/status/flags", timeout=5).json()["data"]
        assert flags["web.enable-lifecycle"] == "true"
        assert flags["web.enable-remote-write-receiver"] == "true"
    cfg = httpx.get(f"{lab.prometheus}/api/v1/status/config", timeout=5).json()["data"]["yaml"]
    assert "job_name: alloy" in cfg and str(lab.targets_dir) in cfg


async def test_password_user_and_sudo_with_password(lab: LabInfo) -> None:
    host = next(h for h in lab.hosts if h.password_file)
    assert host.password_file is not None and host.ssh_password_user
    assert host.password_file.stat().st_mode & 0o777 == 0o600
    password = host.password_file.read_text().strip()
    r = await _ssh(host, "sudo -n true", username=host.ssh_password_user, password=password)
    assert r.exit_status != 0  # sudo wants the password
    r = await _ssh(
        host, "sudo -S -p '' id -u", username=host.ssh_password_user, password=password, stdin=password + "\n"
    )
    assert r.exit_status == 0 and str(r.stdout).strip() == "0"
    with pytest.raises(asyncssh.PermissionDenied):
        await _ssh(host, "true", username=host.ssh_password_user, password="wrong-" + password)


async def test_key_user_has_passwordless_sudo(lab: LabInfo) -> None:
    host = next(h for h in lab.hosts if h.key_user)
    r = await _ssh(host, "id -un; sudo -n id -u", username=host.key_user)
    assert r.exit_status == 0, r.stderr
    assert str(r.stdout).split() == [host.key_user, "0"]


def test_hosts_are_isolated_from_the_machine(lab: LabInfo) -> None:
    host = lab.host("new-03")
    marker = f"/etc/fleetui-lab-isolation-{time.time_ns()}"
    assert lab_mod.host_exec(host, ["touch", marker]).returncode == 0
    try:
        assert lab_mod.host_exec(host, ["test", "-e", marker]).returncode == 0
        assert not Path(marker).exists()
        assert lab_mod.host_exec(lab.host("new-01"), ["test", "-e", marker]).returncode != 0
    finally:
        lab_mod.host_exec(host, ["rm", "-f", marker])


def test_lab_does_not_pretrust_host_keys(lab: LabInfo) -> None:
    from fleetui.config import load

    settings = load(lab.config_file, environ={})
    assert settings.known_hosts == lab.known_hosts
    assert settings["ssh.port"] == 2222 and settings["ssh.identity_file"] == lab.identity_file
    assert settings["targets.dir"] == str(lab.targets_dir)
    # no lab host key is in the machine's own known_hosts
    own = Path("/root/.ssh/known_hosts")
    if own.exists():
        assert "]:2222 " not in own.read_text()


def test_up_is_idempotent(lab: LabInfo) -> None:
    before = {h.name: lab_mod.host_exec(h, ["cat", "/proc/1/stat"]).stdout.split()[21] for h in lab.hosts}
    t0 = time.monotonic()
    again = lab_mod.up()
    took = time.monotonic() - t0
    assert [h.name for h in again.hosts] == [h.name for h in lab.hosts]
    after = {h.name: lab_mod.host_exec(h, ["cat", "/proc/1/stat"]).stdout.split()[21] for h in lab.hosts}
    assert after == before  # same PID 1 start times: nothing was restarted
    assert took < 30


def _lab_leftovers(state_dir: Path) -> list[str]:
    """Processes whose command line or mount table still mentions the lab dir."""
    found = []
    marker = str(state_dir)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            mounts = (proc / "mountinfo").read_text()
        except OSError:
            continue
        if marker in mounts:
            found.append(f"pid {proc.name} has a lab mount: {cmd}")
        elif marker in cmd and "pytest" not in cmd:
            found.append(f"pid {proc.name}: {cmd}")
    return found


def test_down_leaves_nothing_then_up_again(lab: LabInfo, lab_owned: bool) -> None:
    """Runs last in this module; only when this session started the lab (others may be using a shared one)."""
    if not lab_owned:
        pytest.skip("the lab was already running (shared): down/up is only tested by the session that owns it")
    lab_mod.down()
    assert lab_mod.status() is None
    assert _lab_leftovers(lab.state_dir) == []
    for h in lab.hosts:
        for port in (2222, 19100, 12345):
            with pytest.raises(OSError):
                socket.create_connection((h.address, port), timeout=0.5).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 19090), timeout=0.5).close()
    again = lab_mod.up()
    assert [h.name for h in again.hosts] == [h.name for h in lab.hosts]
