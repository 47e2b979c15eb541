"""Silent hosts: enrolled (an active target file in the targets directory) but without a single series in
Prometheus within the look-back window.

Without this a push host that never sent anything is simply absent from the fleet: nothing in Prometheus names
it. The targets directory does (fleetui writes a target file for push hosts too, with no targets, to keep the
audit trail), so every active file whose host Prometheus does not know becomes a row of its own, `silent`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, Mode


@dataclass(frozen=True)
class Enrolled:
    """One active target file, as far as silence is concerned."""

    name: str  # the file's base name
    targets: tuple[str, ...] = ()  # scrape addresses (empty for a push host)
    labels: Mapping[str, str] = field(default_factory=dict)
    updated_at: float | None = None  # when it was last (re)enrolled

    @property
    def instance(self) -> str:
        return self.labels.get("instance") or (self.targets[0] if self.targets else self.name)


def _known(snap: FleetSnapshot) -> set[str]:
    keys: set[str] = set()
    for h in snap.hosts:
        keys.add(h.instance)
        if h.hostname:
            keys.add(h.hostname)
        if h.nodename:
            keys.add(h.nodename)
    return keys


def silent_hosts(snap: FleetSnapshot, enrolled: Sequence[Enrolled]) -> tuple[HostStatus, ...]:
    """Rows for the enrolled hosts Prometheus has no series of."""
    known = _known(snap)
    out: dict[str, HostStatus] = {}
    for e in enrolled:
        inst = e.instance
        if inst in known or any(t in known for t in e.targets) or inst in out:
            continue
        out[inst] = HostStatus(
            instance=inst,
            state=HostState.SILENT,
            mode=Mode.PULL if e.targets else Mode.PUSH,
            labels={k: v for k, v in sorted(e.labels.items()) if not k.startswith("__")},
            last_error=f"never seen: enrolled ({e.name}.json) but Prometheus has no series of it",
        )
    return tuple(out[k] for k in sorted(out))


def with_silent(snap: FleetSnapshot, enrolled: Sequence[Enrolled]) -> FleetSnapshot:
    extra = silent_hosts(snap, enrolled)
    if not extra:
        return snap
    return replace(snap, hosts=tuple(sorted((*snap.hosts, *extra), key=lambda h: h.instance)))
