"""The embedded lab: real Prometheus, sshd and node_exporter on loopback, one namespace per host.

This module stays light (dataclasses and thin wrappers): the work lives in `fleetui.lab.manager`, imported
only when a function is called, so `import fleetui.lab` costs nothing for a test collection or the CLI.

The lab is for the demo and the tests only; product code never imports it. Root on Debian only.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LabHost:
    """One lab host: where to reach it over SSH and what the starting fleet made of it.

    `enrolled` is "pull", "push" or None as the starting fleet set it up (a "down" host is a pull host whose
    Alloy is stopped). `password_file`/`ssh_password_user`: the one host with password login has a non-root
    user whose password (also its sudo password) is in that 0600 file. `key_user`: a non-root user that logs
    in with the lab key and has NOPASSWD sudo.
    """

    name: str
    address: str
    ssh_port: int
    ssh_user: str
    identity_file: Path
    os: str
    enrolled: str | None
    os_id: str = ""
    role: str = ""
    alloy_version: str | None = None
    password_file: Path | None = None
    ssh_password_user: str | None = None
    key_user: str | None = None


@dataclass(frozen=True)
class LabInfo:
    """A running lab: Prometheus URL, the file_sd targets dir fleetui writes to, the hosts, and a fleetui
    config file (`config_file`) that points at all of it (`fleetui --config <config_file> ...`)."""

    prometheus: str
    targets_dir: Path
    hosts: tuple[LabHost, ...]
    config_file: Path
    state_dir: Path
    rules_dir: Path
    known_hosts: Path
    identity_file: Path
    apt_repo_url: str
    apt_key_url: str
    gone_instance: str
    backend: str = "prometheus"  # the metrics backend at `prometheus`: "prometheus" or "victoriametrics"

    def host(self, name: str) -> LabHost:
        """The host called `name` (KeyError if the lab has none)."""
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)


def up(backend: str | None = None, *, extra_hosts: int = 0) -> LabInfo:
    """Start whatever part of the lab is not running (idempotent) and return its description.

    `backend` is the metrics backend of a cold start: "prometheus" (the default) or "victoriametrics"
    (Debian's victoria-metrics on the same address); a running lab on the other one is an error.

    A host that was not running is provisioned fresh (its overlay upper dirs are reset); a cold start (no
    Prometheus running) also resets the targets dir, the lab known_hosts file and the starting fleet.
    Raises `fleetui.lab.manager.LabError` (with a one-line message) when not root or a binary is missing.
    `extra_hosts`: add that many not-yet-enrolled batch hosts (`batch-001`..., 127.0.0.21...).
    """
    from fleetui.lab import manager

    return manager.up(backend, extra_hosts=extra_hosts)


def down() -> None:
    """Stop every lab process; hosts' mounts vanish with their namespaces. Prometheus data is kept."""
    from fleetui.lab import manager

    manager.down()


def status() -> LabInfo | None:
    """The running lab, or None when it is not up (Prometheus or every host not running)."""
    from fleetui.lab import manager

    return manager.status()


def flush() -> None:
    """Make every sample written so far visible to queries (VictoriaMetrics needs a few seconds otherwise)."""
    from fleetui.lab import manager

    manager.flush()


def forget_series(match: str) -> None:
    """Delete the series `match` selects from the lab's metrics backend (tests tidying up what they pushed)."""
    from fleetui.lab import manager

    manager.forget_series(match)


def stop_prometheus() -> None:
    """Stop only Prometheus (for tests of an unreachable Prometheus); its data dir is kept."""
    from fleetui.lab import manager

    manager.stop_prometheus()


def start_prometheus() -> None:
    """Start Prometheus again on the same data dir (data written before the stop survives); waits until ready."""
    from fleetui.lab import manager

    manager.start_prometheus()


def host_exec(
    host: LabHost | str, argv: Sequence[str], *, input: str | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run `argv` as root inside a lab host's namespaces (nsenter), to inspect or break things in tests.

    Not over SSH on purpose: it works even when a test broke the host's sshd. Output is captured as text.
    """
    from fleetui.lab import manager

    return manager.host_exec(host if isinstance(host, str) else host.name, argv, input=input, timeout=timeout)


def stall_ssh_session(host: LabHost | str) -> int:
    """SIGSTOP the sshd process of the newest root SSH session on a lab host: that session's commands wait where
    they are until `resume_ssh_session`. For tests that must stop, cancel or cut an operation while it runs (a
    short operation on an idle host can otherwise end first). `pgrep` runs in the host's own PID namespace and
    /proc, so only that host's sessions are candidates; one operation per host at a time makes "newest" the one
    the test means."""
    found = host_exec(host, ["pgrep", "-n", "-f", "sshd: root@notty"]).stdout.strip()
    if not found.isdigit() or host_exec(host, ["kill", "-STOP", found]).returncode != 0:
        name = host if isinstance(host, str) else host.name
        raise RuntimeError(f"no root SSH session to stall on {name}: pgrep said {found!r}")
    return int(found)


def resume_ssh_session(host: LabHost | str, pid: int, *, kill: bool = False) -> None:
    """Let a session `stall_ssh_session` stopped go on, or with `kill` end it (SIGCONT first, so the kill is
    delivered now rather than when something else wakes it)."""
    host_exec(host, ["sh", "-c", f"kill -CONT {pid}" + (f"; kill -KILL {pid}" if kill else "")])
