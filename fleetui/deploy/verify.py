"""What enrollment and retirement ask of Prometheus: reload its configuration, and wait until a host is up.

"Up" means a scrape or sample *newer than the change*: pull, the target's last scrape succeeded after it;
push, the newest remote-written `up` is 1 and newer. So an `up` from before this enrollment cannot pass for a
new one.

Many hosts at once (a batch) share Prometheus instead of each asking on its own, because 50 reloads and 50
target lists a second cost Prometheus (and this machine) more than the enrollments themselves:
- reloads are coalesced: a reload asked for while one is on its way waits for the next one, which starts after
  it (so it reads every target file written before it was asked for) — a batch reloads a few times, not once per
  host;
- the waits for "up" share one poll of the target list: a waiter gets a list fetched after its previous look.
Each host is still checked on its own (its own target, its own fresh scrape): only the requests are shared.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from fleetui.adapters.prometheus import PrometheusClient, PrometheusError
from fleetui.config import Settings
from fleetui.deploy.decisions import first_line
from fleetui.deploy.operation import StepFailed
from fleetui.deploy.render import Rendered
from fleetui.domain.fleet import Mode


def check_credentials(settings: Settings) -> None:
    """Read Prometheus' secrets now (ConfigError if a file or variable is missing), before anything changes,
    instead of discovering it at the reload after the host was already changed."""
    settings.secret("prometheus.bearer_token_file", "prometheus.bearer_token_env")
    if settings["prometheus.username"]:
        settings.secret("prometheus.password_file", "prometheus.password_env")


@dataclass
class _Shared:
    """Per event loop and Prometheus URL: the reload to come, and the newest target list."""

    next_reload: asyncio.Future[None] | None = None
    reloading: asyncio.Task[None] | None = None
    targets_at: float = float("-inf")
    targets: list[Any] | BaseException = field(default_factory=list)
    fetching: asyncio.Future[tuple[float, list[Any] | BaseException]] | None = None


_SHARED: dict[tuple[int, str], _Shared] = {}


def _shared(settings: Settings) -> _Shared:
    loop = asyncio.get_running_loop()
    key = (id(loop), str(settings["prometheus.url"]))
    found = _SHARED.get(key)
    if found is None:
        for k in [k for k in _SHARED if k[0] != id(loop)]:  # a finished loop's state (CLI runs, tests)
            del _SHARED[k]
        found = _SHARED[key] = _Shared()
    return found


async def _reload_once(settings: Settings) -> None:
    try:
        async with PrometheusClient(settings) as prom:
            await prom.reload()
    except PrometheusError as e:
        raise StepFailed(f"Prometheus reload failed: {first_line(e)}") from None


async def prometheus_reload(settings: Settings) -> None:
    """Reload Prometheus; concurrent callers share reloads (see the module docstring). Each caller's reload
    starts after the call, so it sees every file written before; its failure is each waiter's failure."""
    sh = _shared(settings)
    if sh.next_reload is None:
        sh.next_reload = asyncio.get_running_loop().create_future()
        if sh.reloading is None or sh.reloading.done():
            sh.reloading = asyncio.ensure_future(_reloader(settings, sh))
    await asyncio.shield(sh.next_reload)


async def _reloader(settings: Settings, sh: _Shared) -> None:
    """Runs the reloads asked for, one after the other, until nobody waits for another."""
    while sh.next_reload is not None:
        fut, sh.next_reload = sh.next_reload, None
        try:
            await _reload_once(settings)
        except BaseException as e:  # handed to every waiter of this reload
            if not fut.done():
                fut.set_exception(e)
                fut.exception()  # retrieved here too: a waiter that was cancelled must not leave it unread
        else:
            if not fut.done():
                fut.set_result(None)


async def _targets_newer_than(settings: Settings, after: float) -> tuple[float, list[Any] | BaseException]:
    """(fetch time, active targets or the error) fetched after `after` (monotonic), one fetch for all waiters."""
    sh = _shared(settings)
    if sh.targets_at > after:
        return sh.targets_at, sh.targets
    if sh.fetching is not None and not sh.fetching.done():
        other = await asyncio.shield(sh.fetching)
        if other[0] > after:
            return other
    fut: asyncio.Future[tuple[float, list[Any] | BaseException]] = asyncio.get_running_loop().create_future()
    sh.fetching = fut
    at = time.monotonic()
    got: list[Any] | BaseException
    try:
        async with PrometheusClient(settings) as prom:
            got = await prom.targets()
    except PrometheusError as e:
        got = e
    except BaseException as e:
        fut.set_result((at, PrometheusError(str(settings["prometheus.url"]), f"target list: {type(e).__name__}")))
        raise
    sh.targets_at, sh.targets = at, got
    fut.set_result((at, got))
    return at, got


def _promql_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


async def wait_up(
    settings: Settings,
    mode: Mode,
    rendered: Rendered,
    nodename: str,
    timeout: float,  # noqa: ASYNC109
    since: float | None = None,
) -> tuple[bool, str]:
    """Poll Prometheus until the host is up (see the module docstring); `since` is unix seconds or None."""
    want = f"http://{rendered.listen_addr}{rendered.metrics_path}"
    sel = f'up{{instance={_promql_str(nodename)},job="node_exporter"}}'
    deadline = time.monotonic() + timeout
    why = "not scraped yet"
    if mode is Mode.PULL:
        seen = time.monotonic() - 0.001  # a target list fetched from now on
        while True:
            seen, got = await _targets_newer_than(settings, seen)
            if isinstance(got, BaseException):
                why = first_line(got)
            else:
                for t in got:
                    if t.scrape_url == want:
                        why = f"target {t.health}" + (f": {t.last_error}" if t.last_error else "")
                        fresh = since is None or (t.last_scrape is not None and t.last_scrape >= since)
                        if t.health == "up" and fresh:
                            return True, f"target {want} is up"
            if time.monotonic() >= deadline:
                return False, why
            await asyncio.sleep(1.0)
    async with PrometheusClient(settings) as prom:
        while True:
            try:
                q = f"({sel} == 1) and (timestamp({sel}) >= {since or 0:.3f})"
                if await prom.query(q):
                    return True, f"up{{instance={nodename!r}}} arrives through remote_write"
                why = "no fresh remote-written up == 1 yet"
            except PrometheusError as e:
                why = first_line(e)
            if time.monotonic() >= deadline:
                return False, why
            await asyncio.sleep(1.0)
