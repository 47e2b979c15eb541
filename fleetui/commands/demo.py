"""`fleetui demo`: bring the embedded lab up (idempotent) and open the console on its fleet.

The quickest way to see fleetui without a Prometheus of your own. The lab needs root on Debian; when it
cannot run, this says why in one line and exits 2. The console reads the lab's own config file, so a theme
chosen during the demo is remembered there, not in your configuration. On exit (also Ctrl-C or a crash) the
lab is brought down again if the demo started it; a lab that was already running is left up, and `--keep`
leaves it up in any case. A closed SSH session (SIGHUP) or a `kill` (SIGTERM) ends the console the same way,
so the lab does not outlive the session that started it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from typing import Any

from fleetui.config import Settings, load

# it loads the lab's file itself once the lab is up: the CLI's stand-in for a missing file of your own would
# look the lab up, and say so on stderr, beforehand (fleetui.cli)
TAKES_LAB_CONFIG = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep", action="store_true", help="leave the lab running after the console closes")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from fleetui import lab
    from fleetui.lab.manager import LabError

    was_running = lab.status() is not None
    if not was_running:
        # the console opens once Prometheus has scraped the lab's hosts; say why the terminal is quiet till then
        print("fleetui demo: starting the lab (Prometheus and ten hosts; about half a minute)…", file=sys.stderr)
    try:
        info = lab.up()
    except LabError as e:
        print(f"fleetui demo: the lab cannot run here: {e}", file=sys.stderr)
        if not was_running:
            lab.down()
        return 2
    try:
        from fleetui.tui.source import PrometheusSource, prefetch

        overrides = {"theme": args.theme} if getattr(args, "theme", None) else {}
        demo_settings = load(info.config_file, overrides=overrides)
        source = PrometheusSource(demo_settings)
        prefetch(source)  # on its way while Textual is imported (see fleetui.commands.tui)
        try:
            try:
                from fleetui.tui.app import FleetApp
            except ImportError as e:
                print(f"fleetui demo: the console is not available in this build ({e})", file=sys.stderr)
                return 2
            app = FleetApp(demo_settings, source, config_file=info.config_file)
            _end_on_hangup(lambda code: app.exit(None, code))
            app.run()
            return 0 if app.return_code in (None, 0) else 1
        finally:
            source.close()
    finally:
        if args.keep or was_running:
            print("fleetui demo: the lab is still running (stop it with `fleetui lab down`)", file=sys.stderr)
        else:
            lab.down()


def _end_on_hangup(end: Callable[[int], object]) -> None:
    """SIGHUP and SIGTERM would end Python at once, skipping the `finally` that takes the lab down: turn them
    into `end(128 + signal)` on the console's event loop (or SystemExit before it runs)."""

    def handler(signum: int, _frame: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(end, 128 + signum)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, handler)
