"""`fleetui doctor HOST... | --all [--json]`: the troubleshooting checklist, run for you, read-only.

One host: every check with its evidence and fix, the first failure marked. Several hosts (or `--all`: every
host of the fleet as Prometheus lists it, reached like the console reaches it): they run through the
operation runner, `--concurrency` at a time, each printed as it finishes, then a tally of where each host's
trouble starts (first failing check -> how many hosts, and which). `--json` prints one object (one host) or
`{"hosts": [...], "tally": {check: n}, "first_failures": {check: [host, ...]}}`. Exit codes: 0 no check
failed, 1 a check failed on some host (or the doctor could not finish one), 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fleetui.config import Settings

SYMBOL = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skipped": "skip"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("hosts", nargs="*", metavar="HOST", help="[user@]host[:port]; several: a fleet doctor with a tally")
    p.add_argument("--all", action="store_true", help="every host of the fleet (as Prometheus lists it)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--port", type=int, default=None, help="SSH port (default: ssh.port)")
    p.add_argument("--user", default=None, help="SSH user (default: ssh.user); non-root users need sudo")
    p.add_argument("--identity", metavar="FILE", default=None, help="private key (default: ssh.identity_file)")
    p.add_argument("--password-env", metavar="VAR", default=None, help="environment variable holding the password")
    p.add_argument(
        "--trust-host-key", metavar="SHA256:...", default=None, help="trust an unknown host key with this fingerprint"
    )
    p.add_argument("--concurrency", type=int, default=None, help="hosts examined at once (default: ssh.concurrency)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the evidence of passing checks too")


def _targets(args: argparse.Namespace, settings: Settings) -> list[Any]:
    from fleetui.adapters.ssh import SshTarget
    from fleetui.doctor.probe import DoctorTarget
    from fleetui.domain.hostarg import parse_host_arg

    if args.all:
        return []
    user = args.user or str(settings["ssh.user"])
    port = args.port or int(settings["ssh.port"])
    out = []
    for h in args.hosts:
        arg = parse_host_arg(h, default_user=user, default_port=port)
        out.append(DoctorTarget(arg.name, SshTarget(arg.host, arg.port, arg.user)))
    if len({t.name for t in out}) != len(out):
        raise ValueError("a host is given twice")
    return out


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from fleetui.adapters.prometheus import PrometheusError
    from fleetui.commands.enroll import host_key_callback
    from fleetui.doctor.fleet import doctor_fleet
    from fleetui.doctor.model import tally, tally_hosts
    from fleetui.domain.host import InputError

    try:
        if bool(args.hosts) == bool(args.all):
            raise ValueError("name the hosts to examine, or give --all (not both)")
        targets = _targets(args, settings)
        if args.concurrency is not None and args.concurrency < 1:
            raise ValueError("--concurrency must be at least 1")
        password = None
        if args.password_env:
            password = os.environ.get(args.password_env)
            if password is None:
                raise ValueError(f"--password-env {args.password_env}: that environment variable is not set")
    except (InputError, ValueError) as e:
        print(f"fleetui doctor: {e}", file=sys.stderr)
        return 2
    if args.all:
        try:
            targets = asyncio.run(_fleet_targets(args, settings))
        except (PrometheusError, ValueError) as e:  # no Prometheus, or no fleet at all: one line, exit 2
            print(f"fleetui doctor --all: {e}", file=sys.stderr)
            return 2
    many = len(targets) > 1 or args.all
    progress = (lambda r: print(_one_line(r), file=sys.stderr, flush=True)) if many and not args.json else None
    reports = asyncio.run(
        doctor_fleet(
            settings,
            targets,
            concurrency=args.concurrency,
            identity_file=args.identity,
            password=password,
            on_unknown_key=host_key_callback(args),
            on_report=progress,
        )
    )
    if args.json:
        doc: Any = (
            reports[0].to_json()
            if not many
            else {
                "hosts": [r.to_json() for r in reports],
                "tally": tally(reports),
                "first_failures": tally_hosts(reports),
            }
        )
        print(json.dumps(doc, ensure_ascii=False))
    else:
        for r in reports:
            print_report(r, verbose=args.verbose)
        if many:
            print_tally(reports)
        hint = asyncio.run(_rules_hint(settings))
        if hint:  # one calm line for a person reading the checklist; --json stays quiet
            print(f"fleetui: hint: {hint}", file=sys.stderr)
    return 0 if all(r.healthy for r in reports) else 1


async def _rules_hint(settings: Settings) -> str | None:
    """The `fleetui rules` suggestion when the recording rule records nothing (one query)."""
    from fleetui.adapters.prometheus import PrometheusClient, recording_rule_hint

    async with PrometheusClient(settings) as client:
        return await recording_rule_hint(client)


async def _fleet_targets(args: argparse.Namespace, settings: Settings) -> list[Any]:
    """Every host of the fleet, as the console would reach it over SSH."""
    from fleetui.adapters.prometheus import FleetReader, PrometheusClient
    from fleetui.doctor.fleet import fleet_targets

    async with PrometheusClient(settings) as client:
        snap = await FleetReader(client, settings).snapshot()
    if not snap.hosts:
        raise ValueError("the fleet has no hosts")
    return fleet_targets(snap.hosts, settings, user=args.user, port=args.port)


def _one_line(report: Any) -> str:
    from fleetui.domain.logline import visible

    first = report.first_failure
    if report.error:
        return f"{visible(report.host)}: {visible(report.error)}"
    return f"{visible(report.host)}: " + (
        f"first failure: {first.id}: {visible(first.summary)}" if first else "no failure"
    )


def print_tally(reports: Any) -> None:
    """Where the trouble starts: per first failing check, how many hosts and which (in checklist order)."""
    from fleetui.doctor.model import TROUBLE_TITLES, tally_hosts
    from fleetui.domain.logline import visible

    print("Where the trouble starts (first failing check):")
    for check, hosts in tally_hosts(reports).items():
        print(f"  {len(hosts):>4}  {check:<12} {TROUBLE_TITLES[check]:<34} {visible(', '.join(hosts))}")


def print_report(report: Any, *, verbose: bool = False) -> None:
    from fleetui.domain.logline import visible

    first = report.first_failure
    mode = f" ({report.mode})" if report.mode else ""
    print(f"{visible(report.host)} — {visible(report.address)}{mode}")
    for c in report.checks:
        mark = "→" if c is first else " "
        print(f" {mark} {SYMBOL[c.status.value]}  {c.title:<32} {visible(c.summary)}")
        if c.status.value in ("fail", "warn") or verbose:
            for ev in c.evidence:
                print(f"            {visible(ev)}")
            if c.hint:
                print(f"            fix: {c.hint}")
    if report.error:
        print(f"   {visible(report.error)}")
    else:
        print(f"   first failure: {first.title}" if first else "   no check failed")
