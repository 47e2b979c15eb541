"""`fleetui` / `fleetui tui`: open the console on the fleet Prometheus reports.

Textual is imported inside `run`, so the other commands never pay for it. `--prometheus`, `--config` and
`--theme` are global flags (fleetui.cli) and arrive here through `settings`.
"""

from __future__ import annotations

import argparse

from fleetui.config import Settings, default_config_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = "Keys: ? lists every key of the screen, Ctrl+P every action, q quits."


def run(args: argparse.Namespace, settings: Settings) -> int:
    from fleetui.tui.app import FleetApp
    from fleetui.tui.source import PrometheusSource

    config_file = settings.source or default_config_path()
    app = FleetApp(settings, PrometheusSource(settings), config_file=config_file)
    app.run()
    return 0 if app.return_code in (None, 0) else 1
