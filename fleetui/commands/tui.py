"""`fleetui` / `fleetui tui`: open the console on the fleet Prometheus reports.

Textual is imported inside `run`, so the other commands never pay for it. `--prometheus`, `--config` and
`--theme` are global flags (fleetui.cli) and arrive here through `settings`.
"""

from __future__ import annotations

import argparse

from fleetui.config import Settings, default_config_path, default_state_dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = "Keys: ? lists every key of the screen, Ctrl+P every action, q quits."


def run(args: argparse.Namespace, settings: Settings) -> int:
    from fleetui.tui.app import FleetApp
    from fleetui.tui.source import PrometheusSource

    config_file = settings.source or default_config_path()
    # remembered last-seen times live in the state dir, so a restart does not look them up again
    source = PrometheusSource(settings, state_dir=default_state_dir())
    try:
        app = FleetApp(settings, source, config_file=config_file)
        app.run()
    finally:
        source.close()
    return 0 if app.return_code in (None, 0) else 1
