"""`fleetui status`: the fleet table (or one JSON object) from Prometheus, headless.

Exit 0 when every listed host is up with no problem, 1 when any is not up or has a problem, 2 when
Prometheus cannot be read or the arguments are bad (one line on stderr). `--filter` narrows the hosts first
(same syntax as the console's `/`), and the exit code and summary describe only the listed hosts, so a
script can ask "is production healthy?" with `--filter environment=production`. A term on a label no host
has (`env=production`) is said on stderr in the console's words, as the likely reason for an empty list.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import TYPE_CHECKING

from fleetui.config import Settings

if TYPE_CHECKING:
    from fleetui.domain.fleet import FleetSnapshot

_LABEL_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return v


def _label_name(text: str) -> str:
    if not text or text[0].isdigit() or text.startswith("__") or any(c not in _LABEL_NAME_CHARS for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Prometheus label name")
    return text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # also accepted after the command name; SUPPRESS keeps the global flag's value when absent here
    p.add_argument(
        "--prometheus", metavar="URL", default=argparse.SUPPRESS, help="Prometheus base URL (prometheus.url)"
    )
    p.add_argument(
        "--stale-after",
        type=_seconds,
        metavar="SECONDS",
        help="a push host whose newest sample is older than this is stale (default: stale_after)",
    )
    p.add_argument(
        "--require-label",
        type=_label_name,
        action="append",
        default=[],
        metavar="NAME",
        help="also require this label on every host (repeatable)",
    )
    p.add_argument(
        "--filter",
        default="",
        metavar="EXPR",
        help="free text and label=value, label!=value, label=~regex, label!~regex terms",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from fleetui.adapters.fleet_extras import enrich
    from fleetui.adapters.prometheus import FleetReader, PrometheusClient, PrometheusError
    from fleetui.domain.filter import FilterError, label_names, parse_filter, unknown_labels_note
    from fleetui.domain.fleet import RULES_HINT
    from fleetui.domain.logline import visible

    try:
        host_filter = parse_filter(args.filter)
    except FilterError as e:
        print(f"fleetui: {e}", file=sys.stderr)
        return 2

    async def read() -> FleetSnapshot:
        async with PrometheusClient(settings) as client:
            reader = FleetReader(client, settings, stale_after=args.stale_after, required_labels=args.require_label)
            return await enrich(settings, await reader.snapshot(), client=client)

    try:
        snap = asyncio.run(read())
    except PrometheusError as e:
        print(f"fleetui: {e}", file=sys.stderr)
        return 2
    if not snap.recording_rule and not args.json:  # for a person reading the table; --json stays quiet
        print(f"fleetui: hint: {RULES_HINT}", file=sys.stderr)
    shown = dataclasses.replace(snap, hosts=tuple(host_filter.apply(snap.hosts)))
    for note in snap.notes:  # what the backend cannot show: once, one line each, not mixed into stdout
        print(f"fleetui: note: {note}", file=sys.stderr)
    unknown = host_filter.unknown_labels(snap.hosts)
    if unknown:  # why the list is likely empty; label names suggested come from Prometheus: made visible
        print(f"fleetui: filter: {visible(unknown_labels_note(unknown, label_names(snap.hosts)))}", file=sys.stderr)
    if args.json:
        print(json.dumps(shown.to_json()))
    else:
        print(render_table(shown))
    return 0 if all(h.healthy for h in shown.hosts) else 1


def render_table(snap: FleetSnapshot) -> str:
    """Aligned columns: instance, state, mode, last seen, job, alerts, Alloy version and config drift, problem
    codes; then a summary line, the Alloy versions in use and the firing alerts no host matches."""
    from fleetui.domain import drift
    from fleetui.domain.alerts import short

    now = snap.taken_at or time.time()
    header = ("INSTANCE", "STATE", "MODE", "LAST SEEN", "JOB", "ALERTS", "ALLOY", "PROBLEMS")
    rows = [
        (
            h.instance,
            h.state.value,
            h.mode.value,
            snap.times.age(h, now),
            h.job or "-",
            short(h.alerts) or "-",
            drift.short(h.drift).replace("·", "-"),
            ", ".join(dict.fromkeys(p.code for p in h.problems)) or "-",
        )
        for h in snap.hosts
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in (header, *rows)]
    counts = ", ".join(f"{n} {state}" for state, n in snap.summary().items())
    n_problems = sum(len(h.problems) for h in snap.hosts)
    lines.append("")
    lines.append(f"{len(snap.hosts)} hosts: {counts}; {n_problems} problems")
    versions = drift.versions_in_use(snap.hosts)
    if any(v != "unknown" for v, _ in versions):
        lines.append("alloy versions: " + ", ".join(f"{v} ({n})" for v, n in versions))
    view = snap.alerts_view
    if view is not None and view.error:
        lines.append(f"alerts: not read ({view.error})")
    for a in snap.unattributed_alerts:
        where = f"instance={a.instance}" if a.instance else "no instance label"
        lines.append(f"unattributed alert: {a.name} [{a.state.value}] {where}: {a.summary}".rstrip(": "))
    return "\n".join(lines)
