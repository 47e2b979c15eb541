"""`[user@]host[:port]` as typed on the command line (`fleetui logs web-01 deploy@db-01:2222`), checked before
anything connects. Pure: the host and user rules are the enrollment's (`fleetui.domain.host`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fleetui.domain.fleet import HostStatus
from fleetui.domain.host import InputError, check_address, check_user


@dataclass(frozen=True)
class HostArg:
    """One host to reach over SSH, and the name it is shown under (what the operator typed, minus the user)."""

    name: str
    host: str
    port: int
    user: str


def parse_host_arg(text: str, *, default_user: str, default_port: int) -> HostArg:
    """`web-01`, `root@10.0.0.5`, `deploy@web-01:2222`, `[2001:db8::1]:22` -> HostArg; InputError otherwise."""
    s = text.strip()
    if not s:
        raise InputError("host must not be empty")
    user = default_user
    if "@" in s:
        user, _, s = s.rpartition("@")
        check_user(user)
    port = default_port
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        if not sep:
            raise InputError(f"host {text[:60]!r}: missing ] after an IPv6 address")
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"host {text[:60]!r}: expected :PORT after ]")
            port = _port(text, rest[1:])
    elif s.count(":") == 1:
        host, _, p = s.partition(":")
        port = _port(text, p)
    else:
        host = s
    host = check_address(host)
    name = host if port == default_port else f"{host}:{port}"
    return HostArg(name, host, port, user)


def _port(text: str, p: str) -> int:
    if not p.isdigit() or not 1 <= int(p) <= 65535:
        raise InputError(f"host {text[:60]!r}: port must be a number from 1 to 65535")
    return int(p)


def ssh_host_for(host: HostStatus) -> str:
    """Where to reach a fleet host over SSH: the address Prometheus scrapes (pull), else its `hostname` label,
    else its nodename, else its instance without a port (push hosts are known only by name)."""
    if host.scrape_url:
        parsed = urlsplit(host.scrape_url).hostname
        if parsed:
            return parsed
    name = host.hostname or host.nodename or host.instance
    if name.startswith("[") and "]" in name:
        return name[1 : name.index("]")]
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name
