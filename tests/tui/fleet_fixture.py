"""A fixed fleet and a frozen clock for console tests, so every snapshot renders the same.

This feeds the screens a domain value (a FleetSnapshot) through FixedSource; it does not stand in for
Prometheus: tests of refreshing, failing and recovering use the real adapter against the lab.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec

from fleetui.config import KEYS, Settings
from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, HostTimes, Mode, Problem
from fleetui.tui.app import FleetApp
from fleetui.tui.source import FixedSource, FleetSource

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

_MISSING_ENV = Problem(
    "missing_label",
    "required label 'environment' is missing",
    "add environment=<prod|staging|dev> to the host's target (fleetui enroll --label)",
)
_ALIAS = Problem(
    "alias_label",
    "label 'maintainer' looks like a misspelling of 'maintainers'",
    "rename maintainer to maintainers in the host's labels",
)


# each fixture host's last-seen time (the snapshot's, not the row's)
_SEEN: dict[str, float] = {}


def _host(
    i: int, state: HostState, mode: Mode = Mode.PULL, age: float = 15.0, instance: str = "", **labels: str
) -> HostStatus:
    base = {
        "job": "node" if mode is Mode.PULL else "alloy-push",
        "hostname": f"web-{i:02d}",
        "environment": "prod",
        "maintainers": "ops-team",
    }
    base.update(labels)
    base = {k: v for k, v in base.items() if v != ""}
    problems = []
    if "environment" not in base:
        problems.append(_MISSING_ENV)
    if "maintainer" in base:
        problems.append(_ALIAS)
    instance = instance or f"10.0.0.{i}:{9100 if mode is Mode.PULL else 12345}"
    _SEEN[instance] = NOW - age
    return HostStatus(
        instance=instance,
        state=state,
        mode=mode,
        labels=base,
        problems=tuple(problems),
        nodename=f"web-{i:02d}.lab",
        scrape_url=f"http://{instance}/metrics" if mode is Mode.PULL else None,
        last_error=f'Get "http://{instance}/metrics": connection refused' if state is HostState.DOWN else None,
    )


def fleet() -> FleetSnapshot:
    hosts = [
        _host(2, HostState.DOWN, age=3 * 3600 + 22 * 60, environment="", maintainer="alice"),
        _host(3, HostState.UP, environment="staging"),
        _host(4, HostState.UP, environment="[red]", maintainers="[bold]ops[/bold]"),
        _host(5, HostState.STALE, Mode.PUSH, age=600),
        _host(6, HostState.GONE, age=2 * 86400 + 3 * 3600),
        _host(7, HostState.UP, Mode.PUSH, age=4, environment="dev"),
        _host(8, HostState.DOWN, age=125),
        # what anyone pushing through remote_write may send: shown as typed, never as markup or escapes
        _host(
            9,
            HostState.DOWN,
            age=40,
            instance="aa-bad[/nope]:9100",
            hostname="[reverse]zz[/reverse]",
            job="\x1b[31mnode\u202e",
            maintainers="[link=https://evil.example]ops[/link]",
        ),
    ]
    hosts += [_host(i, HostState.UP, age=10 + i, environment=("prod", "staging", "dev")[i % 3]) for i in range(10, 40)]
    seen = {h.instance: _SEEN[h.instance] for h in hosts}
    took = {h.instance: 0.0123 if h.mode is Mode.PULL else None for h in hosts}  # a pull host's last scrape
    times = HostTimes(seen, took)
    return FleetSnapshot(tuple(hosts), NOW - 95, times=times)


def settings(**overrides: Any) -> Settings:
    """Built-in defaults only (no file, no environment), a refresh interval that never fires in a test."""
    values = {k.path: k.default for k in KEYS}
    return Settings(values).with_overrides({"refresh_interval": 3600, **overrides})


def make_app(source: FleetSource | None = None, *, config_file: Path | None = None, **overrides: Any) -> FleetApp:
    return FleetApp(settings(**overrides), source or FixedSource(fleet()), config_file=config_file, clock=lambda: NOW)


UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


class FixedThenPrometheus:
    """The fixed fleet once, then the real Prometheus adapter at `url` (unreachable in the stale tests).

    The first value is a domain value for a deterministic table; the failure after it is real: the adapter's
    own error from a refused connection, not a fabricated one.
    """

    def __init__(self, url: str = UNREACHABLE) -> None:
        from fleetui.tui.source import PrometheusSource

        self.first: FixedSource | None = FixedSource(fleet())
        self.real = PrometheusSource(settings(**{"prometheus.url": url}))
        self.location = self.real.location

    async def snapshot(self) -> FleetSnapshot:
        if self.first is not None:
            first, self.first = self.first, None
            return await first.snapshot()
        return await self.real.snapshot()


class FirstLookThenFleet:
    """A first look at the fixed fleet (FleetSnapshot.targets_only: its pull hosts that are up or down, without
    node names), then the whole fixed fleet once `release` is set.

    Domain values, as FixedSource's, for what the screen makes of a first look; how the Prometheus adapter
    makes one from a real targets reply is tested in tests/unit/test_reader_first_look.py and tests/lab.
    """

    def __init__(self) -> None:
        self.location = "fixed snapshot"
        self.enriched = True  # as the console's own source: alerts and Alloy columns, filled once the whole comes
        self.release = asyncio.Event()
        self.whole = fleet()
        pulled = [h for h in self.whole.hosts if h.mode is Mode.PULL and h.state is not HostState.GONE]
        looked = tuple(msgspec.structs.replace(h, nodename=None) for h in pulled)
        mine = [h.instance for h in looked]
        whole = self.whole.times  # as the reader's first look: its hosts' times with their rows
        times = HostTimes({i: whole.last_seen[i] for i in mine}, {i: whole.scrape_duration[i] for i in mine})
        self.look = FleetSnapshot(looked, self.whole.taken_at, targets_only=True, times=times)

    async def first_look(self) -> FleetSnapshot:
        return self.look

    async def snapshot(self) -> FleetSnapshot:
        await self.release.wait()
        return self.whole
