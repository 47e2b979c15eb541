"""Small text helpers for the console's cells, on top of the domain's own (ages come from fleetui.domain.age)."""

from __future__ import annotations

from fleetui.domain.age import format_age
from fleetui.domain.fleet import HostStatus

__all__ = ["format_age", "host_job", "host_name"]


def host_name(h: HostStatus) -> str:
    """The `hostname` label, else the node's own name, else the address part of the instance."""
    return h.hostname or h.nodename or h.instance.rsplit(":", 1)[0]


def host_job(h: HostStatus) -> str:
    return h.job or ""
