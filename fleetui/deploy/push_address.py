"""Where fleetui last reached a push host by SSH, to prefill the console's fix dialog.

A push host has no scrape address: Prometheus only sees what it remote-writes. What fleetui knows is where it
enrolled the host — the active target file whose labels name this instance is named after the address
enrollment connected to (`EnrollRequest.name`) — and the local operation log's successful enroll/fix runs,
whose `host` is the address typed then: a push fix records the instance it was for next to it, and any other
run is matched, as drift matches them, by that address against the host's instance, nodename and hostname.
The target file comes first: it names the instance. Nothing found: None, and the operator types the address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fleetui.domain.fleet import HostStatus
from fleetui.domain.host import InputError, check_address


class _Entry(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...


class _Record(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def instance(self) -> str | None: ...


def _valid(address: str) -> bool:
    try:
        check_address(address)
    except InputError:
        return False
    return True


def address_from(host: HostStatus, entries: Sequence[_Entry], records: Sequence[_Record]) -> tuple[str, str] | None:
    """(address, where it came from) for `host`, or None. `records` oldest first, as OpLog reads them."""
    for e in entries:
        if e.state == "active" and e.labels.get("instance") == host.instance and _valid(e.name):
            return e.name, "its target file (where fleetui enrolled it)"
    names = {host.instance, host.instance.rsplit(":", 1)[0], host.nodename or "", host.hostname or ""} - {""}
    for r in reversed(records):
        if r.operation not in ("enroll", "fix") or r.outcome != "ok" or not _valid(r.host):
            continue
        if r.host in names or (r.instance is not None and r.instance in (host.instance, host.nodename)):
            return r.host, f"the operation log (its last {r.operation})"
    return None
