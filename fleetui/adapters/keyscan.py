"""Host keys of many hosts read before a batch starts, so the operator reviews every unknown one at once.

A batch never trusts a key silently. The CLI only accepts keys already in fleetui's known_hosts; the console
first reads each host's key (an SSH key exchange, no login: what `ssh-keyscan` does) and compares it with
known_hosts, so every unknown fingerprint can be listed in one review before anything starts. The fingerprint
the operator trusts is then the only one the batch's connection accepts for that host (another key presented
later is refused, and that host fails alone). A key that differs from the one known is never offered for trust:
the host fails with that reason when it connects. Hosts reached through a jump host are not scanned here (the
key exchange would have to pass the jump host first): their unknown key is refused at connect and said so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncssh

from fleetui.adapters.ssh import HostKeyInfo, KnownHosts, SshTarget
from fleetui.adapters.ssh_config import route_for
from fleetui.config import Settings


@dataclass(frozen=True)
class ScannedKey:
    """One host's key: state "known", "unknown" (to review), "changed" (fails alone), or "unscanned"
    (unreachable, behind a jump host: `why` says; the connection decides later)."""

    name: str
    state: str
    info: HostKeyInfo | None = None
    why: str = ""


async def scan_one(settings: Settings, name: str, target: SshTarget, kh: KnownHosts) -> ScannedKey:
    try:
        route = route_for(settings, target)
    except Exception as e:  # a bad ssh config line: the connection will say the same, with the host
        return ScannedKey(name, "unscanned", why=str(e).splitlines()[0] if str(e) else type(e).__name__)
    if route.jumps:
        return ScannedKey(name, "unscanned", why="reached through a jump host")
    hop = route.target
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(
                hop.host, hop.port, server_host_key_algs="default", config=None, proxy_command=None
            ),
            float(settings["ssh.connect_timeout"]),
        )
    except (OSError, asyncssh.Error, TimeoutError) as e:
        return ScannedKey(name, "unscanned", why=f"cannot read its key ({type(e).__name__}: {e})".strip())
    if key is None:
        return ScannedKey(name, "unscanned", why="the server presented no host key")
    info = HostKeyInfo(
        hop.host, hop.port, key.get_algorithm(), key.get_fingerprint("sha256"), name if name != hop.host else None
    )
    known = [k for _, k in kh.entries(hop.host, hop.port)]
    if not known:
        return ScannedKey(name, "unknown", info)
    if any(k.get_fingerprint("sha256") == info.fingerprint for k in known):
        return ScannedKey(name, "known", info)
    return ScannedKey(name, "changed", info, why=f"differs from the key in {kh.path}")


async def scan(settings: Settings, hosts: Sequence[tuple[str, SshTarget]], concurrency: int) -> list[ScannedKey]:
    """Every host's key, at most `concurrency` key exchanges at once, in the order given."""
    kh = KnownHosts(settings.known_hosts)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(name: str, target: SshTarget) -> ScannedKey:
        async with gate:
            return await scan_one(settings, name, target, kh)

    return list(await asyncio.gather(*(one(n, t) for n, t in hosts)))
