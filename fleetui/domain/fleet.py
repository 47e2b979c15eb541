"""The fleet as the console and `fleetui status` see it: one HostStatus per `instance`.

Plain frozen dataclasses so a snapshot can be diffed, compared in tests and serialised to JSON without
knowing where it came from (the Prometheus adapter builds them; the UI only reads them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class HostState(StrEnum):
    UP = "up"
    DOWN = "down"
    STALE = "stale"
    GONE = "gone"


class Mode(StrEnum):
    PULL = "pull"  # Prometheus scrapes it: it has `up` and a target
    PUSH = "push"  # it only arrives through remote_write: liveness is the age of its newest sample


@dataclass(frozen=True)
class Problem:
    """A label problem with a fixed machine-readable code, a sentence for people and how to fix it."""

    code: str
    message: str
    hint: str


@dataclass(frozen=True)
class HostStatus:
    instance: str
    state: HostState
    mode: Mode
    last_seen: float | None  # unix seconds of the newest sample, None if never seen
    labels: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    nodename: str | None = None
    scrape_url: str | None = None
    last_error: str | None = None
    scrape_duration: float | None = None


@dataclass(frozen=True)
class FleetSnapshot:
    hosts: tuple[HostStatus, ...]
    taken_at: float  # unix seconds when the refresh ran

    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in HostState}
        for h in self.hosts:
            counts[h.state.value] += 1
        return counts
