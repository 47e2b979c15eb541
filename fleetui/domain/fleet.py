"""The fleet as the console and `fleetui status` see it: one HostStatus per `instance`.

Plain frozen dataclasses so a snapshot can be diffed, compared in tests and serialised to JSON without
knowing where it came from (the Prometheus adapter builds them; the UI only reads them). `diff_snapshots`
exists so the console can patch its table row by row instead of rebuilding it on every refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fleetui.domain.age import format_age

if TYPE_CHECKING:
    from fleetui.domain.alerts import Alert, AlertsView
    from fleetui.domain.drift import Drift


class HostState(StrEnum):
    UP = "up"  # pull: last scrape succeeded; push: newest sample younger than the stale threshold
    DOWN = "down"  # pull: Prometheus scrapes it and the last scrape failed (up == 0)
    STALE = "stale"  # push: still in an instant query, but the newest sample is older than the threshold
    GONE = "gone"  # samples within the look-back window, none in the last 5 minutes (query look-back)
    SILENT = "silent"  # enrolled (an active target file) but no series at all within the look-back window


class Mode(StrEnum):
    PULL = "pull"  # Prometheus scrapes it: it is an active target in /api/v1/targets
    PUSH = "push"  # it only arrives through remote_write: liveness is the age of its newest sample


@dataclass(frozen=True)
class Problem:
    """A label problem with a fixed machine-readable code, a sentence for people and how to fix it."""

    code: str
    message: str
    hint: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class HostStatus:
    """One row of the fleet: everything the console shows about one `instance` label value.

    `labels` are the host's identifying labels (target labels for pull hosts, series labels for push hosts),
    without `__name__` and without node_uname_info's own labels; `nodename` comes from node_uname_info.
    `scrape_url`, `last_error` and `scrape_duration` are only known for pull hosts (from /api/v1/targets).
    """

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
    alerts: tuple[Alert, ...] = ()  # filled by fleetui.domain.alerts.with_alerts
    drift: Drift | None = None  # Alloy version and config drift, filled by fleetui.domain.drift.with_drift

    @property
    def hostname(self) -> str | None:
        """The `hostname` label (set by file_sd target files when `instance` is an address:port)."""
        return self.labels.get("hostname")

    @property
    def job(self) -> str | None:
        return self.labels.get("job")

    @property
    def healthy(self) -> bool:
        """Up with no label problem: what `fleetui status` exits 0 for."""
        return self.state is HostState.UP and not self.problems

    def age(self, now: float) -> str:
        """Last seen as people read it: "3h 22m ago" (or "never")."""
        return format_age(self.last_seen, now)

    def to_json(self) -> dict[str, Any]:
        """The shape of one entry of `fleetui status --json` "hosts"."""
        return {
            "instance": self.instance,
            "state": self.state.value,
            "mode": self.mode.value,
            "last_seen": self.last_seen,
            "labels": dict(sorted(self.labels.items())),
            "problems": [p.to_json() for p in self.problems],
            "nodename": self.nodename,
            "scrape_url": self.scrape_url,
            "last_error": self.last_error,
            "scrape_duration": self.scrape_duration,
            "alerts": [a.to_json() for a in self.alerts],
            "drift": None if self.drift is None else self.drift.to_json(),
        }


@dataclass(frozen=True)
class FleetSnapshot:
    """One refresh: the hosts sorted by instance, when it was taken and how last_seen was obtained.

    `last_seen_source` is "recording_rule" when `node_last_seen_timestamp` answered, "computed" otherwise,
    so the UI can say how precise the ages of gone hosts are. `backend` names what answered (Prometheus,
    VictoriaMetrics, Mimir, Thanos or "unknown"); `notes` are one-line warnings about what that backend
    cannot show (e.g. no targets API), for the UI to say once.
    """

    hosts: tuple[HostStatus, ...]
    taken_at: float  # unix seconds when the refresh ran
    last_seen_source: str = "computed"
    backend: str = "unknown"
    notes: tuple[str, ...] = ()
    unattributed_alerts: tuple[Alert, ...] = ()  # firing alerts no host matches (fleetui.domain.alerts)
    alerts_view: AlertsView | None = None  # None: alerts were not read

    def summary(self) -> dict[str, int]:
        """Count per state, every state present (0 included) in HostState order."""
        counts = {s.value: 0 for s in HostState}
        for h in self.hosts:
            counts[h.state.value] += 1
        return counts

    def versions_json(self) -> list[dict[str, Any]]:
        """Alloy versions in use and by how many hosts (fleetui.domain.drift), newest first."""
        from fleetui.domain.drift import versions_in_use

        return [{"version": v, "hosts": n} for v, n in versions_in_use(self.hosts)]

    def by_instance(self) -> dict[str, HostStatus]:
        return {h.instance: h for h in self.hosts}

    def to_json(self) -> dict[str, Any]:
        """The single object `fleetui status --json` prints."""
        return {
            "hosts": [h.to_json() for h in self.hosts],
            "summary": self.summary(),
            "taken_at": self.taken_at,
            "last_seen_source": self.last_seen_source,
            "backend": self.backend,
            "notes": list(self.notes),
            "versions": self.versions_json(),
            "alerts": None
            if self.alerts_view is None
            else {
                "source": self.alerts_view.source,
                "error": self.alerts_view.error,
                "unattributed": [a.to_json() for a in self.unattributed_alerts],
            },
        }


@dataclass(frozen=True)
class FleetDiff:
    """What changed between two refreshes, each part sorted by instance.

    `changed` holds the new HostStatus of rows whose content differs in any field (last_seen included, so
    the age cell of a push host is refreshed too).
    """

    added: tuple[HostStatus, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[HostStatus, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_snapshots(old: FleetSnapshot | None, new: FleetSnapshot) -> FleetDiff:
    """Rows to add, remove and update to turn `old`'s table into `new`'s (None: everything is added)."""
    new_by = new.by_instance()
    if old is None:
        return FleetDiff(added=tuple(new_by[k] for k in sorted(new_by)))
    old_by = old.by_instance()
    added = tuple(new_by[k] for k in sorted(new_by.keys() - old_by.keys()))
    removed = tuple(sorted(old_by.keys() - new_by.keys()))
    changed = tuple(new_by[k] for k in sorted(new_by.keys() & old_by.keys()) if new_by[k] != old_by[k])
    return FleetDiff(added, removed, changed)
