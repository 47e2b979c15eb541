"""The fleet table applies a refresh's diff in place, and ends up exactly where a fresh load would.

A diff of timing-only rows is swapped in place, rows that move are taken out of the view and merged back in
by the view's cached sort keys: whatever the diff, sort (either direction, any column) and filter must give
the same rows in the same order as loading the new fleet from scratch, after one refresh and after the next
(the cached keys must have followed), and the cursor must stay on its host. The fleets are domain values
generated here (the table's own logic; no Prometheus involved).
"""

from __future__ import annotations

import random

import msgspec
import pytest
from textual.app import App, ComposeResult

from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, Mode, diff_snapshots
from fleetui.tui.columns import fleet_columns
from fleetui.tui.widgets.fleet_table import FleetTable

NOW = 1_700_000_000.0
STATES = list(HostState)


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FleetTable(fleet_columns(("environment", "maintainers")), lambda: NOW, id="a")
        yield FleetTable(fleet_columns(("environment", "maintainers")), lambda: NOW, id="b")


def _fleet(rng: random.Random, n: int) -> list[HostStatus]:
    # `host-07` beside `host-7` (and `HOST-7`): instances the table's natural order cannot tell apart
    names = [f"host-{i}" for i in range(n)] + [f"host-0{i}" for i in range(7, n, 50)] + ["HOST-7"]
    return [
        HostStatus(
            instance=name,
            state=rng.choice(STATES),
            mode=rng.choice(list(Mode)),
            last_seen=NOW - rng.randrange(0, 7200),
            labels={"job": rng.choice(["node", "alloy"]), "environment": rng.choice(["prod", "dev", "staging"])},
        )
        for name in names
    ]


def _next(rng: random.Random, hosts: list[HostStatus], content: int, gone: int, new: int) -> list[HostStatus]:
    out = [msgspec.structs.replace(h, last_seen=(h.last_seen or NOW) + rng.randrange(1, 30)) for h in hosts]
    for i in rng.sample(range(len(out)), content):
        out[i] = msgspec.structs.replace(out[i], state=rng.choice(STATES), labels={**out[i].labels, "environment": "x"})
    for i in sorted(rng.sample(range(len(out)), gone), reverse=True):
        del out[i]
    out += [msgspec.structs.replace(h, instance=f"new-{rng.random()}") for h in _fleet(rng, new)]
    return sorted(out, key=lambda h: h.instance)


# nothing moves; a few rows move; hundreds; more than half the fleet
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
    first = _fleet(rng, 600)
    second = _next(rng, first, content, gone, new)
    old, new_snap = FleetSnapshot(tuple(first), NOW), FleetSnapshot(tuple(second), NOW + 15)
    new_snap = new_snap.with_diff(old)
    diff = diff_snapshots(old, new_snap)
    assert len(diff.timing) >= len(first) - content - gone - 1  # most rows changed only their age
    app = _TableApp()
    async with app.run_test(size=(120, 30)):
        a, b = app.query_one("#a", FleetTable), app.query_one("#b", FleetTable)
        for t in (a, b):
            t.sort_by(sort, reverse)
            if only_prod:
                t.set_filter(lambda h: h.labels.get("environment") == "prod")
        a.load(first)
        keep = next((h for h in reversed(a.view) if h.instance in {x.instance for x in second}), None)
        if keep is not None:
            a.move_cursor_to(keep.instance)
        a.apply((*diff.added, *diff.altered), diff.removed, diff.retimed, new_snap.by_instance() if given else None)
        b.load(second)
        assert [h.instance for h in a.view] == [h.instance for h in b.view]
        assert all(x is y or x == y for x, y in zip(a.view, b.view, strict=True))  # the new rows, not the old
        assert a.hosts == b.hosts
        third = FleetSnapshot(tuple(_next(rng, second, content, gone, new)), NOW + 30).with_diff(new_snap)
        again = diff_snapshots(new_snap, third)
        a.apply((*again.added, *again.altered), again.removed, again.retimed, third.by_instance() if given else None)
        b.load(third.hosts)
        assert [h.instance for h in a.view] == [h.instance for h in b.view]
        if keep is not None and a.cursor_host is not None and keep.instance in {h.instance for h in a.view}:
            assert a.cursor_host.instance == keep.instance
