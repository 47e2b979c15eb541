"""The enriched snapshot's diff, from the reader's own (fleetui.domain.fleet.enriched_diff): the same answer as
comparing the two enriched snapshots whole, refresh after refresh (pure: snapshots in, diffs out)."""

from __future__ import annotations

import random

import msgspec

from fleetui.domain.alerts import Alert
from fleetui.domain.fleet import (
    FleetSnapshot,
    HostState,
    HostStatus,
    HostTimes,
    Mode,
    diff_snapshots,
    enriched_diff,
    enriched_rows,
)

NOW = 1_800_000_000.0


def _plain(rng: random.Random, rows: dict[str, HostStatus], seen: dict[str, float | None], step: int) -> None:
    """One refresh of the reader: some hosts come, some go, some are seen again, some change state (`seen`: the
    hosts' last-seen times, which live beside the rows)."""
    for inst in list(rows):
        r = rng.random()
        if r < 0.05:
            del rows[inst], seen[inst]
        elif r < 0.40:
            seen[inst] = NOW + step
        elif r < 0.48:
            rows[inst] = msgspec.structs.replace(rows[inst], state=rng.choice([HostState.UP, HostState.DOWN]))
    for _ in range(rng.randint(0, 3)):
        inst = f"h{rng.randint(0, 99):02d}"
        if inst not in rows:
            rows[inst] = HostStatus(inst, HostState.UP, Mode.PULL, {"instance": inst})
            seen[inst] = NOW + step


def _enrich(rng: random.Random, plain: FleetSnapshot) -> FleetSnapshot:
    """Alerts on a few hosts (kept, changed or dropped at random) and a silent row or two, as with_extras
    makes them: the other rows are the plain snapshot's very objects, and the times are the plain snapshot's."""
    hosts = [
        msgspec.structs.replace(h, alerts=(Alert(rng.choice(["HostDown", "DiskFull"]), {"instance": h.instance}),))
        if rng.random() < 0.15
        else h
        for h in plain.hosts
    ]
    seen = {h.instance for h in hosts}
    for inst in rng.sample([f"s{i}" for i in range(6)], rng.randint(0, 2)):
        if inst not in seen:
            hosts.append(HostStatus(inst, HostState.SILENT, Mode.PULL, {"instance": inst}))
    return FleetSnapshot(tuple(sorted(hosts, key=lambda h: h.instance)), plain.taken_at, times=plain.times)


def test_enriched_diff_is_the_whole_comparison_refresh_after_refresh() -> None:
    rng = random.Random(7)
    rows: dict[str, HostStatus] = {}
    seen: dict[str, float | None] = {}
    plain_before: FleetSnapshot | None = None
    before: FleetSnapshot | None = None
    composed = retimed = 0
    for step in range(300):
        _plain(rng, rows, seen, step)
        new = FleetSnapshot(tuple(rows[i] for i in sorted(rows)), NOW + step, times=HostTimes(dict(seen)))
        plain = new.with_diff(plain_before, diff_snapshots(plain_before, new))
        after = _enrich(rng, plain)
        got = enriched_diff(plain_before, plain, before, after)
        if before is None:
            assert got is None
        else:
            assert got is not None
            assert got == diff_snapshots(before, after), f"refresh {step}"
            composed += not enriched_rows(plain, after)  # some refreshes enrich nothing
            retimed += bool(got.retimed)
        plain_before, before = plain, after
    assert composed  # the reader's diff was taken as it is, at least once
    assert retimed  # and hosts seen again without a new row were in it


def test_a_reader_diff_from_another_snapshot_is_not_used() -> None:
    """A plain snapshot whose diff is from another snapshot than the one the last enriched was made from (a
    refresh failed in between): None, so the caller compares whole."""
    a = FleetSnapshot((HostStatus("a", HostState.UP, Mode.PULL),), NOW, times=HostTimes({"a": NOW}))
    b = FleetSnapshot((HostStatus("a", HostState.UP, Mode.PULL),), NOW + 15, times=HostTimes({"a": NOW + 15}))
    c = FleetSnapshot((HostStatus("a", HostState.DOWN, Mode.PULL),), NOW + 30, times=HostTimes({"a": NOW + 15}))
    b = b.with_diff(a, diff_snapshots(a, b))
    c = c.with_diff(b, diff_snapshots(b, c))
    assert enriched_diff(a, c, a, c) is None  # c's diff is from b, not a
    assert enriched_diff(b, c, b, c) == diff_snapshots(b, c)
    assert enriched_diff(None, c, None, c) is None
    assert enriched_diff(b, FleetSnapshot(c.hosts, NOW + 30, times=c.times), b, c) is None  # no diff carried
