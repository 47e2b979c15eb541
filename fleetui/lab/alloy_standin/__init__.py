"""fleetui lab stand-in for Grafana Alloy. NOT Grafana Alloy: a small Python program that behaves like it
where fleetui can see (CLI, exit codes, error formats, HTTP endpoints, logfmt logs, systemd unit), built from
../shared/design/ALLOY-FACTS.md, so the lab can enroll hosts without the real binary.

Parts: `cli` (`alloy --version|fmt|validate|run`), `graph` (validate + evaluate a config with the team's
offline parser), `agent` (`alloy run`: HTTP server, scrape + remote_write), `service` (`systemctl` and
`journalctl` stand-ins, since no init system runs in the lab). The version an installed copy reports comes
from `ALLOY_STANDIN_VERSION`, set by its /usr/bin/alloy wrapper.
"""

from __future__ import annotations

import os

DEFAULT_VERSION = "1.10.2"


def version() -> str:
    """The Alloy version this installed copy pretends to be, without the `v`."""
    return os.environ.get("ALLOY_STANDIN_VERSION", DEFAULT_VERSION).lstrip("v")


def version_tuple() -> tuple[int, ...]:
    parts = []
    for p in version().split("-")[0].split("."):
        parts.append(int(p) if p.isdigit() else 0)
    return tuple(parts)
