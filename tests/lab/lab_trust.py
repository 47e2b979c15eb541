"""Helpers for lab tests that reach lab hosts over SSH with a known_hosts file of their own.

The lab's shared known_hosts starts empty on purpose (enrollment tests show a first fingerprint), so these
tests trust the hosts they use in their own file: each key is taken from the host itself (ssh-keygen over
nsenter) and compared with what the server presents, which is what an operator does before trusting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fleetui import lab as lab_mod
from fleetui.adapters.ssh import HostKeyInfo, SshTarget, connect_with_settings
from fleetui.config import Settings


def fingerprint(host: str) -> str:
    out = lab_mod.host_exec(host, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout
    return out.split()[1]


def settings_trusting(lab: Any, lab_settings: Settings, known_hosts: Path, names: list[str]) -> Settings:
    """lab settings with `known_hosts` holding the verified keys of `names`."""
    settings = lab_settings.with_overrides({"ssh.known_hosts": str(known_hosts)})

    async def trust_all() -> None:
        for name in names:
            h = lab.host(name)
            want = fingerprint(name)

            async def check(info: HostKeyInfo, want: str = want) -> bool:
                return info.fingerprint == want

            async with connect_with_settings(settings, SshTarget(h.address, h.ssh_port, "root"), on_unknown_key=check):
                pass

    asyncio.run(trust_all())
    return settings
