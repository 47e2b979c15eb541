"""What enrollment and retirement ask of Prometheus: reload its configuration, and wait until a host is up.

"Up" means a scrape or sample *newer than the change*: pull, the target's last scrape succeeded after it;
push, the newest remote-written `up` is 1 and newer. So an `up` from before this enrollment cannot pass for a
new one.
"""

from __future__ import annotations

import asyncio
import time

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


async def prometheus_reload(settings: Settings) -> None:
    try:
        async with PrometheusClient(settings) as prom:
            await prom.reload()
    except PrometheusError as e:
        raise StepFailed(f"Prometheus reload failed: {first_line(e)}") from None


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
    async with PrometheusClient(settings) as prom:
        while True:
            try:
                if mode is Mode.PULL:
                    for t in await prom.targets():
                        if t.scrape_url == want:
                            why = f"target {t.health}" + (f": {t.last_error}" if t.last_error else "")
                            fresh = since is None or (t.last_scrape is not None and t.last_scrape >= since)
                            if t.health == "up" and fresh:
                                return True, f"target {want} is up"
                else:
                    q = f"({sel} == 1) and (timestamp({sel}) >= {since or 0:.3f})"
                    if await prom.query(q):
                        return True, f"up{{instance={nodename!r}}} arrives through remote_write"
                    why = "no fresh remote-written up == 1 yet"
            except PrometheusError as e:
                why = first_line(e)
            if time.monotonic() >= deadline:
                return False, why
            await asyncio.sleep(1.0)
