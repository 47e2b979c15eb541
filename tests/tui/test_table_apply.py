"""The fleet table applies a refresh's diff in place, and ends up exactly where a fresh load would.

Hosts whose last-seen time alone moved are named by the diff (their rows unchanged, the new times given with
it) and stay where they are unless the table sorts by last seen; rows that move are taken out of the view and
merged back in by the view's cached sort keys: whatever the diff, sort (either direction, any column) and
filter must give the same rows in the same order, showing the same ages, as loading the new fleet from scratch,
after one refresh and after the next (the cached keys must have followed), and the cursor must stay on its
host. The fleets are domain values generated here (the table's own logic; no Prometheus involved).
"""

from __future__ import annotations

import random

import msgspec
import pytest
from textual.app import App, ComposeResult

from fleetui.domain.fleet import FleetDiff, FleetSnapshot, HostState, HostStatus, HostTimes, Mode, diff_snapshots
from fleetui.tui.columns import fleet_columns
from fleetui.tui.widgets.fleet_table import FleetTable

NOW = 1_700_000_000.0
STATES = list(HostState)


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FleetTable(fleet_columns(("environment", "maintainers")), lambda: NOW, id="a")
        yield FleetTable(fleet_columns(("environment", "maintainers")), lambda: NOW, id="b")


Seen = dict[str, float]  # instance -> last seen: a snapshot's times (HostTimes), not the rows'


def _fleet(rng: random.Random, n: int, seen: Seen) -> list[HostStatus]:
    """`n` rows (and a few more), each one's last-seen time written into `seen`."""
    # `host-07` beside `host-7` (and `HOST-7`): instances the table's natural order cannot tell apart
    names = [f"host-{i}" for i in range(n)] + [f"host-0{i}" for i in range(7, n, 50)] + ["HOST-7"]
    rows = []
    for name in names:
        state, mode = rng.choice(STATES), rng.choice(list(Mode))
        seen[name] = NOW - rng.randrange(0, 7200)
        labels = {"job": rng.choice(["node", "alloy"]), "environment": rng.choice(["prod", "dev", "staging"])}
        rows.append(HostStatus(instance=name, state=state, mode=mode, labels=labels))
    return rows


def _next(
    rng: random.Random, hosts: list[HostStatus], seen: Seen, content: int, gone: int, new: int
) -> tuple[list[HostStatus], Seen]:
    """The next refresh: every host seen again (its row the very same object unless its content changed), a few
    changed, gone and new."""
    after = {h.instance: (seen.get(h.instance) or NOW) + rng.randrange(1, 30) for h in hosts}
    out = list(hosts)
    for i in rng.sample(range(len(out)), content):
        out[i] = msgspec.structs.replace(out[i], state=rng.choice(STATES), labels={**out[i].labels, "environment": "x"})
    for i in sorted(rng.sample(range(len(out)), gone), reverse=True):
        del after[out[i].instance]
        del out[i]
    fresh: Seen = {}
    for h in _fleet(rng, new, fresh):
        instance = f"new-{rng.random()}"
        out.append(msgspec.structs.replace(h, instance=instance))
        after[instance] = fresh[h.instance]
    return sorted(out, key=lambda h: h.instance), after


def _snapshot(hosts: list[HostStatus], seen: Seen, taken_at: float) -> FleetSnapshot:
    return FleetSnapshot(tuple(hosts), taken_at, times=HostTimes(seen))


def _ages(table: FleetTable) -> list[str]:
    """The last-seen cells of the rows shown, in display order."""
    column = next(c for c in table.columns if c.key == "last_seen")
    return [column.cell(h, NOW + 60) for h in table.view]


# nothing moves; a few rows move; hundreds; more than half the fleet
def _apply(table: FleetTable, diff: FleetDiff, snap: FleetSnapshot, given: bool) -> None:
    """What the fleet screen does with a refresh's diff (`given`: with the snapshot's rows by instance)."""
    table.apply(
        (*diff.added, *diff.altered), diff.removed, diff.retimed, snap.by_instance() if given else None, snap.times
    )


@pytest.mark.parametrize(("content", "gone", "new"), [(0, 0, 0), (5, 2, 3), (400, 50, 20), (560, 20, 40)])
@pytest.mark.parametrize(("sort", "reverse"), [("state", False), ("instance", True), ("last_seen", False)])
@pytest.mark.parametrize("only_prod", [False, True])
@pytest.mark.parametrize("given", [False, True], ids=["own-dict", "snapshot-dict"])
async def test_applied_diff_equals_a_fresh_load(
    content: int, gone: int, new: int, sort: str, reverse: bool, only_prod: bool, given: bool
) -> None:
    """`given`: the rows after the diff handed in by instance (the snapshot's, as the fleet screen does), or
    the diff written into the table's own dict."""
    rng = random.Random(f"{content}{sort}{reverse}{only_prod}")
    seen: Seen = {}
    first = _fleet(rng, 600, seen)
    second, seen_second = _next(rng, first, seen, content, gone, new)
    old, new_snap = _snapshot(first, seen, NOW), _snapshot(second, seen_second, NOW + 15)
    new_snap = new_snap.with_diff(old)
    diff = diff_snapshots(old, new_snap)
    assert len(diff.retimed) >= len(first) - content - gone - 1  # most rows changed only their age
    app = _TableApp()
    async with app.run_test(size=(120, 30)):
        a, b = app.query_one("#a", FleetTable), app.query_one("#b", FleetTable)
        for t in (a, b):
            t.sort_by(sort, reverse)
            if only_prod:
                t.set_filter(lambda h: h.labels.get("environment") == "prod")
        a.load(first, old.times)
        keep = next((h for h in reversed(a.view) if h.instance in {x.instance for x in second}), None)
        if keep is not None:
            a.move_cursor_to(keep.instance)
        _apply(a, diff, new_snap, given)
        b.load(second, new_snap.times)
        assert [h.instance for h in a.view] == [h.instance for h in b.view]
        assert all(x is y or x == y for x, y in zip(a.view, b.view, strict=True))  # the new rows, not the old
        assert a.hosts == b.hosts
        assert _ages(a) == _ages(b)  # the new times, not the old
        third_rows, seen_third = _next(rng, second, seen_second, content, gone, new)
        third = _snapshot(third_rows, seen_third, NOW + 30).with_diff(new_snap)
        again = diff_snapshots(new_snap, third)
        _apply(a, again, third, given)
        b.load(third.hosts, third.times)
        assert [h.instance for h in a.view] == [h.instance for h in b.view]
        assert _ages(a) == _ages(b)
        if keep is not None and a.cursor_host is not None and keep.instance in {h.instance for h in a.view}:
            assert a.cursor_host.instance == keep.instance
