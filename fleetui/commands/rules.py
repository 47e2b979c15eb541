"""`fleetui rules`: print the Prometheus rules file (last-seen recording rule, HostDown for pull and push).

`--format vmalert` prints them for VictoriaMetrics' vmalert (how to install and check them there differs).

The thresholds come from the same settings `fleetui status` uses (`stale_after`, `lookback`), so the alert
and the console agree on when a push host is stale.
"""

from __future__ import annotations

import argparse

from fleetui.config import Settings


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not v >= 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, got {text!r}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stale-after",
        type=_seconds,
        metavar="SECONDS",
        help="push hosts are down after this many seconds without a sample (default: stale_after)",
    )
    p.add_argument(
        "--lookback",
        type=_seconds,
        metavar="SECONDS",
        help="how long a vanished host keeps alerting (default: lookback)",
    )
    p.add_argument(
        "--format",
        choices=("prometheus", "vmalert"),
        default="prometheus",
        help="prometheus: a rule_files file for Prometheus; vmalert: the same rules for VictoriaMetrics' vmalert",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from fleetui.domain.rules import render_rules

    stale = args.stale_after if args.stale_after is not None else settings["stale_after"]
    lookback = args.lookback if args.lookback is not None else settings["lookback"]
    print(render_rules(stale, lookback, args.format), end="")
    return 0
