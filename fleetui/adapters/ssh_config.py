"""Where a host name really leads: the operator's OpenSSH client config (`~/.ssh/config`), read as OpenSSH does.

Operators on a jump host already describe their fleet there (`Host web-7` with `HostName`, `Port`, `User`,
`IdentityFile`, `ProxyJump bastion`), so `fleetui enroll web-7` must go where `ssh web-7` goes, through the
same bastions. The file is parsed by asyncssh's own OpenSSH-compatible parser (Host and Match blocks, Include,
first value wins, `%` tokens), but resolved here into a plain `Route` instead of being handed to
`asyncssh.connect`, because asyncssh would open the ProxyJump hosts itself and check their keys against
OpenSSH's known_hosts: every hop must pass fleetui's own host-key check instead (`ssh._open_route`).

Precedence, highest first, as OpenSSH's: what the operator gave explicitly (`--port`, `--user`, `--identity`;
for a jump host, `user@host:port` in the ProxyJump entry), then the ssh config, then fleetui's `ssh.port`,
`ssh.user` and `ssh.identity_file`, which act like a trailing `Host *` block. As with `ssh -J`, the explicit
flags and the password belong to the target only; a jump host gets its config and fleetui's defaults.
A ProxyJump chain `a,b` is dialled a then b; only the first entry's own ProxyJump is followed (OpenSSH runs the
later ones with `-J` set to the previous entry). `ProxyCommand` is refused rather than silently bypassed:
fleetui runs no local commands for a connection.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from asyncssh.config import SSHClientConfig

from fleetui.adapters.ssh import Hop, Route, SshConfigError, SshTarget
from fleetui.domain.host import InputError, check_address

if TYPE_CHECKING:
    from fleetui.config import Settings

DEFAULT_CONFIG_FILE = "~/.ssh/config"
MAX_HOPS = 8  # a longer chain is a loop in the config (Host * ProxyJump x, with x's own ProxyJump y -> x)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Defaults:
    """fleetui's own `ssh.*` settings: used only where neither the operator nor the ssh config says."""

    port: int = 22
    user: str | None = None
    identity_file: Path | None = None


@dataclass(frozen=True)
class _Entry:
    """What the ssh config says for one name (None: it says nothing)."""

    hostname: str | None
    port: int | None
    user: str | None
    identity_files: tuple[str, ...]
    proxy_jump: str | None


def route_for(settings: Settings, target: SshTarget, *, identity_file: Path | str | None = None) -> Route:
    """`resolve_route` with the config file and defaults from fleetui's settings."""
    ident = settings["ssh.identity_file"]
    defaults = Defaults(int(settings["ssh.port"]), str(settings["ssh.user"]), Path(ident) if ident else None)
    return resolve_route(
        target,
        config_file=config_path(settings["ssh.config_file"]),
        defaults=defaults,
        identity_file=Path(identity_file).expanduser() if identity_file else None,
    )


def resolve_address(settings: Settings, name: str, port: int | None = None, user: str | None = None) -> str:
    """Where `name` leads (its HostName), without connecting: for finding a host's target file by its alias."""
    return route_for(settings, SshTarget(name, port, user)).target.host


def config_path(value: object) -> Path | None:
    """The ssh config file to read: None (unset or empty) means none; `~` is expanded."""
    return Path(str(value)).expanduser() if value else None


def resolve_route(
    target: SshTarget,
    *,
    config_file: Path | None,
    defaults: Defaults = Defaults(),
    identity_file: Path | None = None,
) -> Route:
    """The hops to dial for `target.host`, which may be an alias. Pure but for reading the config file.

    Raises SshConfigError (one line, naming the file) for a config that cannot be used for this host.
    """
    paths = _config_files(config_file)
    hops = _resolve(target.host, target.port, target.user, identity_file, paths, defaults, depth=0)
    target_hop = replace(hops[-1], known_as=target.known_as) if target.known_as else hops[-1]
    return Route(target_hop, tuple(hops[:-1]))


def _config_files(config_file: Path | None) -> list[Path]:
    if config_file is None:
        return []
    if config_file.is_file():
        return [config_file]
    if config_file.exists() or config_file != Path(DEFAULT_CONFIG_FILE).expanduser():
        # a missing ~/.ssh/config is normal; a file the operator named that is not there is a mistake
        raise SshConfigError(f"ssh config {config_file}: not a readable file (ssh.config_file)")
    return []


def _lookup(name: str, port: int | None, user: str | None, paths: list[Path]) -> _Entry:
    """What the config says for `name`, with an explicit port/user taking part in Match as OpenSSH's would."""
    if not paths:
        return _Entry(None, None, None, (), None)
    try:
        local_user = getpass.getuser()
    except (KeyError, OSError):
        local_user = ""
    try:
        cfg = SSHClientConfig.load(
            None, paths, False, False, False, local_user, user if user else (), name, port if port else ()
        )
    except (OSError, ValueError) as e:  # asyncssh's ConfigParseError is a ValueError naming file and line
        raise SshConfigError(f"ssh config: {_one_line(e)}") from None
    hostname = cfg.get("Hostname")
    cfg_port = cfg.get("Port")
    cfg_user = cfg.get("User")
    idents = cfg.get("IdentityFile") or []
    jump = cfg.get("ProxyJump")
    if cfg.get("ProxyCommand"):
        raise SshConfigError(
            f"ssh config gives a ProxyCommand for {name}; fleetui runs no local command to connect: "
            "use ProxyJump instead (or `ProxyCommand none` for this host)"
        )
    return _Entry(
        str(hostname) if hostname else None,
        cfg_port if isinstance(cfg_port, int) else None,
        str(cfg_user) if cfg_user else None,
        tuple(str(i) for i in idents) if isinstance(idents, list) else (),
        str(jump) if jump else None,
    )


def _resolve(
    name: str,
    port: int | None,
    user: str | None,
    identity: Path | None,
    paths: list[Path],
    defaults: Defaults,
    depth: int,
    follow_jump: bool = True,
) -> list[Hop]:
    """[jump hops..., the hop for `name`]."""
    if depth > MAX_HOPS:
        raise SshConfigError(f"ssh config: ProxyJump for {name} goes more than {MAX_HOPS} hops deep (a loop?)")
    entry = _lookup(name, port, user, paths)
    host = _checked_host(name, entry.hostname)
    hop_port = port or entry.port or defaults.port
    if not 1 <= hop_port <= 65535:
        raise SshConfigError(f"ssh config: Port {hop_port} for {name} is not between 1 and 65535")
    hop_user = user or entry.user or defaults.user
    if hop_user is not None and _CONTROL.search(hop_user):
        raise SshConfigError(f"ssh config: User for {name} contains control characters")
    if identity is not None:
        idents: tuple[Path, ...] = (identity,)
    elif entry.identity_files:
        # OpenSSH skips an IdentityFile that does not exist; so do we
        idents = tuple(p for p in (Path(i).expanduser() for i in entry.identity_files) if p.is_file())
    else:
        idents = (defaults.identity_file,) if defaults.identity_file is not None else ()
    hop = Hop(name, host, hop_port, hop_user, idents)
    jumps: list[Hop] = []
    if follow_jump and entry.proxy_jump:
        specs = [s.strip() for s in entry.proxy_jump.split(",") if s.strip()]
        for i, spec in enumerate(specs):
            j_user, j_name, j_port = parse_jump(spec)
            if i == 0 and j_name == name and j_port in (None, hop_port):
                break  # `Host * / ProxyJump bastion` also matches bastion itself: OpenSSH does not jump to itself
            # the first entry's own ProxyJump is followed; a later entry is reached through the previous one
            jumps += _resolve(j_name, j_port, j_user, None, paths, defaults, depth + 1, follow_jump=i == 0)
    return [*jumps, hop]


def parse_jump(spec: str) -> tuple[str | None, str, int | None]:
    """One ProxyJump entry: `[user@]host[:port]`, `[user@][v6addr]:port` or `ssh://[user@]host[:port]`."""
    s = spec.removeprefix("ssh://")
    user, sep, rest = s.rpartition("@")
    if not sep:
        user, rest = "", s
    port: str | None = None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail:
            if not tail.startswith(":"):
                raise SshConfigError(f"ssh config: ProxyJump entry {spec!r} is not [user@]host[:port]")
            port = tail[1:]
    elif rest.count(":") == 1:
        host, _, port = rest.partition(":")
    else:
        host = rest
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise SshConfigError(f"ssh config: ProxyJump entry {spec!r} has a bad port")
    if not host or _CONTROL.search(user):
        raise SshConfigError(f"ssh config: ProxyJump entry {spec!r} is not [user@]host[:port]")
    try:
        check_address(host)
    except InputError:
        raise SshConfigError(f"ssh config: ProxyJump entry {spec!r} does not name a host") from None
    return user or None, host, int(port) if port is not None else None


def _checked_host(name: str, hostname: str | None) -> str:
    """The address to dial. A HostName becomes Alloy's listen address and the target file's name, so it must
    be a plain host name or IP address like any address an operator types."""
    if hostname is None:
        return name
    try:
        return check_address(hostname)
    except InputError:
        raise SshConfigError(
            f"ssh config: HostName {hostname[:60]!r} for {name} is not a host name or IP address"
        ) from None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
