"""The fleet as the console and `fleetui status` see it: one HostStatus per `instance`.

Frozen value objects (dataclasses, and HostStatus a msgspec Struct: see there why) so a snapshot can be
diffed, compared in tests and serialised to JSON without knowing where it came from (the Prometheus adapter
builds them; the UI only reads them). `diff_snapshots` exists so the console can patch its table row by row
instead of rebuilding it on every refresh; the console's source computes that diff where it builds the
snapshot (off the UI's event loop) and hands it along with the snapshot, so the UI gets it for free.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec

from fleetui.domain.age import format_age

# what a row says while its last-seen time is being looked up in Prometheus' history
LOOKING_UP = "looking up…"

# what a console or `fleetui status` suggests when last-seen is computed instead of read from the rule
RULES_HINT = (
    "last seen is computed from history: install the recording rule that `fleetui rules` prints "
    "so it is exact and cheap at any fleet size"
)

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


class HostStatus(msgspec.Struct, frozen=True, gc=False):
    """One row of the fleet: everything the console shows about one `instance` label value.

    A msgspec Struct and not a dataclass because a refresh builds one for every host it works out again (tens
    of thousands at 50,000 hosts, most of them then equal to the row before, which is kept): 0.09 µs each
    against 1.55 µs for a frozen dataclass (timeit). Copy one with `msgspec.structs.replace`. Not tracked by the
    cyclic collector: nothing it holds refers back to it.

    `labels` are the host's identifying labels (target labels for pull hosts, series labels for push hosts),
    without `__name__` and without node_uname_info's own labels; `nodename` comes from node_uname_info.
    `scrape_url` and `last_error` are only known for pull hosts (from /api/v1/targets). `last_seen_pending`:
    the host has no last-seen time because it is still being looked up, not because it was never seen.

    No times: when the host was last seen and how long its last scrape took are the snapshot's (HostTimes),
    not the row's. Every scrape and every push moves them, so in a row they made a new row for most hosts of
    every refresh (17,500 of 31,250 live hosts per refresh at 50,000 hosts, half down), each then compared
    again by the diff and written into the table; apart, a host keeps its row until something else changes.
    """

    instance: str
    state: HostState
    mode: Mode
    labels: Mapping[str, str] = msgspec.field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    nodename: str | None = None
    scrape_url: str | None = None
    last_error: str | None = None
    last_seen_pending: bool = False
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

    def to_json(self, times: HostTimes) -> dict[str, Any]:
        """The shape of one entry of `fleetui status --json` "hosts", with its times from `times`."""
        return {
            "instance": self.instance,
            "state": self.state.value,
            "mode": self.mode.value,
            "last_seen": times.last_seen.get(self.instance),
            "labels": dict(sorted(self.labels.items())),
            "problems": [p.to_json() for p in self.problems],
            "nodename": self.nodename,
            "scrape_url": self.scrape_url,
            "last_error": self.last_error,
            "scrape_duration": times.scrape_duration.get(self.instance),
            "alerts": [a.to_json() for a in self.alerts],
            "drift": None if self.drift is None else self.drift.to_json(),
        }


@dataclass(frozen=True)
class HostTimes:
    """When each host was last seen and how long its last scrape took, as of one refresh (see HostStatus for
    why apart from the rows). Read only.

    `last_seen`: instance -> unix seconds of its newest sample (None or absent: never seen, or still being
    looked up). `scrape_duration`: instance -> seconds its last scrape took (None or absent: not a pull host,
    or never scraped).
    """

    last_seen: Mapping[str, float | None] = field(default_factory=dict)
    scrape_duration: Mapping[str, float | None] = field(default_factory=dict)

    def age(self, h: HostStatus, now: float) -> str:
        """`h`'s last seen as people read it: "3h 22m ago" (or "never", or "looking up…" while it is)."""
        seen = self.last_seen.get(h.instance)
        if seen is None and h.last_seen_pending:
            return LOOKING_UP
        return format_age(seen, now)


NO_TIMES = HostTimes()


@dataclass(frozen=True)
class FleetSnapshot:
    """One refresh: the hosts sorted by instance, when it was taken and how last_seen was obtained.

    `last_seen_source` is "recording_rule" when `node_last_seen_timestamp` answered, "computed" otherwise,
    so the UI can say how precise the ages of gone hosts are and suggest installing the rule. `backend`
    names what answered (Prometheus, VictoriaMetrics, Mimir, Thanos or "unknown"); `notes` are one-line
    warnings about what that backend cannot show (e.g. no targets API), for the UI to say once.
    `targets_only`: a first look at a large fleet from its scrape targets alone, while the rest of the first
    refresh is still on its way (see fleetui.adapters.prometheus.FleetReader.first_look): no push hosts, no
    node names, no alerts yet, and `last_seen_source` not known.
    """

    hosts: tuple[HostStatus, ...]
    taken_at: float  # unix seconds when the refresh ran
    last_seen_source: str = "computed"
    backend: str = "unknown"
    notes: tuple[str, ...] = ()
    unattributed_alerts: tuple[Alert, ...] = ()  # firing alerts no host matches (fleetui.domain.alerts)
    alerts_view: AlertsView | None = None  # None: alerts were not read
    targets_only: bool = False
    times: HostTimes = NO_TIMES  # the hosts' last-seen times and scrape durations
    # the diff from the snapshot this one was built after (see with_diff); not part of the value, and not an
    # __init__ argument, so `dataclasses.replace(snap, hosts=...)` (filters, enrichment) never carries a diff
    # computed for other rows
    _base: weakref.ref[FleetSnapshot] | None = field(default=None, init=False, compare=False, repr=False)
    _diff: FleetDiff | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def recording_rule(self) -> bool:
        """True when last-seen came from the recording rule; False: suggest `fleetui rules` (RULES_HINT)."""
        return self.last_seen_source == "recording_rule"

    def with_diff(self, old: FleetSnapshot | None, diff: FleetDiff | None = None) -> FleetSnapshot:
        """This snapshot carrying its diff from `old`, so `diff_snapshots(old, it)` costs nothing later.

        Computed here, by whoever builds snapshots (the console's source does it on its own thread), unless
        the builder already knows it (`diff`: exactly what diff_snapshots(old, self) would say; see
        rows_diff); `old` is only weakly referenced, so snapshots never keep their predecessors alive.
        """
        if diff is None:
            diff = diff_snapshots(old, self)
        new = replace(self)
        object.__setattr__(new, "_base", weakref.ref(old) if old is not None else None)
        object.__setattr__(new, "_diff", diff)
        return new

    def summary(self) -> dict[str, int]:
        """Count per state, every state present (0 included) in HostState order (counted once per snapshot)."""
        return dict(self._summary)

    @cached_property
    def _summary(self) -> dict[str, int]:
        # counted in C, and once: the console's source counts it on its own thread (see counted), so the
        # UI's thread, which shows it after every refresh, finds it done (50,000 hosts)
        by_state = Counter(map(_STATE, self.hosts))
        return {s.value: by_state[s] for s in HostState}

    @cached_property
    def with_problems(self) -> int:
        """How many hosts have a label problem (counted once per snapshot, like summary)."""
        return sum(map(bool, map(_PROBLEMS, self.hosts)))

    def counted(self) -> FleetSnapshot:
        """This snapshot, with its summary, problem count and rows by instance made now (the console's
        source calls it on its own thread, so the UI's thread gets them made)."""
        _ = self._summary, self.with_problems, self._by_instance
        return self

    def versions_json(self) -> list[dict[str, Any]]:
        """Alloy versions in use and by how many hosts (fleetui.domain.drift), newest first."""
        from fleetui.domain.drift import versions_in_use

        return [{"version": v, "hosts": n} for v, n in versions_in_use(self.hosts)]

    def by_instance(self) -> Mapping[str, HostStatus]:
        """The rows by instance: made once per snapshot and shared, so read only."""
        return self._by_instance

    @cached_property
    def _by_instance(self) -> dict[str, HostStatus]:
        return {h.instance: h for h in self.hosts}

    def to_json(self) -> dict[str, Any]:
        """The single object `fleetui status --json` prints."""
        return {
            "hosts": [h.to_json(self.times) for h in self.hosts],
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

    `added` and `altered` are rows (new, or differing in any field from the row before); `removed` and
    `retimed` are instances. `retimed`: hosts whose row is the same but whose last-seen time moved (the
    snapshots' HostTimes): nothing the table measures or filters on changed, only their age cell and, when
    the table sorts by last seen, their place. On most refreshes that is most live hosts (every scrape, every
    push), so it is names only: no row is made or compared for it.
    """

    added: tuple[HostStatus, ...] = ()
    removed: tuple[str, ...] = ()
    retimed: tuple[str, ...] = ()
    altered: tuple[HostStatus, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.retimed or self.altered)


def times_moved(old: HostTimes, new: HostTimes) -> list[str]:
    """The instances whose last-seen time is not the same in `new` as in `old` (come, gone or moved)."""
    before, after = old.last_seen, new.last_seen
    moved = [i for i, t in after.items() if before.get(i) != t]
    if not before.keys() <= after.keys():  # some lost their time
        moved += [i for i in before if i not in after]
    return moved


def diff_snapshots(old: FleetSnapshot | None, new: FleetSnapshot) -> FleetDiff:
    """Rows to add, remove and update to turn `old`'s table into `new`'s (None: everything is added)."""
    if new._diff is not None:
        base = new._base
        if (base is None and old is None) or (base is not None and old is not None and base() is old):
            return new._diff
    if old is None:
        return FleetDiff(added=tuple(sorted(new.hosts, key=_instance)))
    new_by = new.by_instance()
    return rows_diff(old.by_instance(), new_by, new_by, times_moved(old.times, new.times))


def rows_diff(
    old: Mapping[str, HostStatus],
    new: Mapping[str, HostStatus],
    touched: Iterable[str],
    retimed: Iterable[str] = (),
    *,
    removed: Sequence[str] | None = None,
) -> FleetDiff:
    """`diff_snapshots` of two snapshots given as their rows by instance, looking only at the instances in
    `touched`: every other instance of `new` has the very same row object in `old`. `retimed`: the instances
    whose last-seen time moved (those among them whose row was added, altered or removed are left out).
    `removed`: the instances of `old` that `new` has not, when the caller knows them (else they are found).

    The incremental classifier knows which rows it made anew and whose times moved, so the Prometheus
    reader's diff costs no pass over the whole fleet.
    """
    added: list[HostStatus] = []
    altered: list[HostStatus] = []
    _compare(old, new, touched, added, [], altered)
    if removed is None:
        removed = [k for k in old if k not in new] if len(old) != len(new) or old.keys() != new.keys() else []
    return _sorted_diff(added, removed, retimed, altered)


def _compare(
    old: Mapping[str, HostStatus],
    new: Mapping[str, HostStatus],
    touched: Iterable[str],
    added: list[HostStatus],
    removed: list[str],
    altered: list[HostStatus],
) -> None:
    """Each instance of `touched` put in the part of a diff it belongs to, if any (appended to those lists)."""
    for inst in touched:
        h, o = new.get(inst), old.get(inst)
        if h is None:
            if o is not None:
                removed.append(inst)
        elif o is None:
            added.append(h)
        elif o is not h and o != h:
            altered.append(h)


def _sorted_diff(
    added: list[HostStatus], removed: Sequence[str], retimed: Iterable[str], altered: list[HostStatus]
) -> FleetDiff:
    """The parts, each sorted by instance, `retimed` without the instances of the other parts. They are mostly
    in that order already (classify's rows are, and enriched_diff's are the reader's with a few appended): then
    sorting is one linear pass or a merge."""
    moved = list(retimed)
    if moved and (added or removed or altered):
        other = {*map(_instance, added), *removed, *map(_instance, altered)}
        moved = [i for i in moved if i not in other]
    return FleetDiff(
        tuple(sorted(added, key=_instance)),
        tuple(sorted(removed)),
        tuple(sorted(moved)),
        tuple(sorted(altered, key=_instance)),
    )


def enriched_rows(plain: FleetSnapshot, enriched: FleetSnapshot) -> set[str]:
    """The instances whose row in `enriched` (built from `plain` by adding rows and replacing some: alerts,
    drift, silent hosts) is not `plain`'s very row object."""
    if enriched.hosts is plain.hosts:
        return set()
    if len(enriched.hosts) == len(plain.hosts):  # no row added: both in instance order, side by side
        return {h.instance for h, p in zip(enriched.hosts, plain.hosts, strict=True) if h is not p}
    rows = plain.by_instance()
    return {h.instance for h in enriched.hosts if rows.get(h.instance) is not h}


def enriched_diff(
    plain_before: FleetSnapshot | None, plain: FleetSnapshot, before: FleetSnapshot | None, after: FleetSnapshot
) -> FleetDiff | None:
    """`diff_snapshots(before, after)`, where `before` and `after` are `plain_before` and `plain` enriched (with
    their times), from the diff `plain` carries (its rows' diff from `plain_before`): only the instances the
    enrichment touched in either are compared again. None when `plain` carries no diff from `plain_before`
    (then take it whole).

    Why: enrichment builds a new snapshot, so its diff was taken again over every host (at 50,000 hosts a pass
    over all of them, on every refresh), although only the few rows with alerts, drift or no series of their
    own differ from the rows the reader had already diffed."""
    if before is None or plain_before is None or plain._diff is None or plain._base is None:
        return None
    if plain._base() is not plain_before:
        return None
    if before.times is not plain_before.times or after.times is not plain.times:
        return None
    base = plain._diff
    touched = enriched_rows(plain_before, before) | enriched_rows(plain, after)
    if not touched:
        return base
    added = [h for h in base.added if h.instance not in touched]
    removed = [i for i in base.removed if i not in touched]
    altered = [h for h in base.altered if h.instance not in touched]
    _compare(before.by_instance(), after.by_instance(), touched, added, removed, altered)
    return _sorted_diff(added, removed, base.retimed, altered)


_STATE = attrgetter("state")
_PROBLEMS = attrgetter("problems")


def _instance(h: HostStatus) -> str:
    return h.instance
