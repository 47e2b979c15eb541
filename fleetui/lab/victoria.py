"""The lab's metrics backend on VictoriaMetrics (Debian's `victoria-metrics`, single node) instead of Prometheus.

Same address (127.0.0.1:19090), same file_sd targets dir, same remote_write path (/api/v1/write), so fleetui's
configuration for the lab and everything it does are identical on both backends; only this module knows.
The flags, and why:

- `-promscrape.config`: the same one scrape job over `targets/*.json` as the Prometheus lab, without what
  VictoriaMetrics' strict parser (`-promscrape.config.strictParse`, on by default and left on) rejects:
  `refresh_interval` under file_sd_configs, `evaluation_interval`, `rule_files`, `storage`.
- `-promscrape.fileSDCheckInterval=5s`: the Prometheus lab re-reads target files at once (fsnotify) and every
  5 s; VictoriaMetrics only polls them, every 5 m by default, and its /-/reload does not re-read them
  (measured on 1.79.5). 5 s keeps enrollment as quick as on Prometheus. fleetui warns about a slower
  setting on a real VictoriaMetrics (fleetui.adapters.backend).
- `-search.latencyOffset` is left at its 30 s default on purpose: fleetui must see "just now" samples on a
  VictoriaMetrics as it comes out of the box (the adapter sends `nocache=1`), and the lab proves it does.
- `-retentionPeriod=15d`, as the Prometheus lab's `--storage.tsdb.retention.time=15d`. Out-of-order and
  back-dated samples (the gone host's history, the tests' stale hosts) need no flag: it accepts any
  timestamp within the retention.

What it does not do: evaluate rules (that is vmalert's job; the lab's rules dir is read by Prometheus only).
Samples become searchable a few seconds after they arrive (in-memory buffers, up to ~8 s measured);
`flush()` makes them searchable at once, for tests that write and read back straight away.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import yaml

BINARY = "victoria-metrics"
PACKAGE = "victoria-metrics"
FILE_SD_CHECK_INTERVAL = "5s"


def scrape_config(targets: Path) -> str:
    """The -promscrape.config file: global scrape interval and the lab's file_sd job."""
    cfg = {
        "global": {"scrape_interval": "5s"},
        "scrape_configs": [{"job_name": "alloy", "file_sd_configs": [{"files": [str(targets / "*.json")]}]}],
    }
    return "# written by `fleetui lab up --backend victoriametrics`\n" + yaml.safe_dump(cfg, sort_keys=False)


def argv(config: Path, data: Path, listen: str) -> list[str]:
    return [
        BINARY,
        f"-promscrape.config={config}",
        f"-promscrape.fileSDCheckInterval={FILE_SD_CHECK_INTERVAL}",
        f"-storageDataPath={data}",
        f"-httpListenAddr={listen}",
        "-retentionPeriod=15d",
        "-loggerLevel=WARN",
    ]


def flush(listen: str, timeout: float = 10.0) -> None:
    """Make every sample received so far searchable now (VictoriaMetrics' /internal/force_flush)."""
    with urllib.request.urlopen(f"http://{listen}/internal/force_flush", timeout=timeout) as r:
        r.read()
