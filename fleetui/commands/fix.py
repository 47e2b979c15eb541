"""`fleetui fix HOST... [--problem CODE] [--label KEY=VALUE] [--all] [--yes] [--json]`: fix label problems.

Reads the fleet, plans each host's fix (a pull host's target file: a drifted key renamed to the schema's, a
missing required label added from `--label`), shows the plan as a diff, asks (unless --yes), then runs every fix
through the operation runner, which waits until Prometheus no longer reports the problem and rolls the file back
when it does not go away. `--all --problem CODE` fixes every host of the fleet with that problem in one batch.
Problems fleetui cannot fix (a cloned image's duplicate nodename...) are listed with what to do by hand.

Exit 0 when every fix went through, 1 when one failed, 2 on bad input (before anything is touched).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from fleetui.config import Settings

if TYPE_CHECKING:
    from fleetui.deploy.events import OperationResult
    from fleetui.deploy.fix import FixTarget


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("hosts", nargs="*", metavar="HOST", help="instance of a host in the fleet (as `status` lists it)")
    p.add_argument("--problem", metavar="CODE", help="fix only this problem code")
    p.add_argument("--all", action="store_true", help="every host with --problem CODE")
    p.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="value for a missing required label"
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--dry-run", action="store_true", help="show the plan only, change nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--trust-host-key", metavar="SHA256:...", default=None, help="trust an unknown host key")
    p.add_argument("--concurrency", type=int, default=8, help="hosts fixed at once (default 8)")


def _fail(msg: str) -> int:
    print(f"fleetui fix: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from fleetui.adapters.prometheus import FleetReader, PrometheusClient, PrometheusError
    from fleetui.commands.enroll import host_key_callback
    from fleetui.domain.classify import PROBLEM_CODES
    from fleetui.domain.fixes import FixError
    from fleetui.domain.labels import LabelError, check_value, parse_label_args

    if args.problem is not None and args.problem not in PROBLEM_CODES:
        return _fail(f"unknown problem code {args.problem!r} (one of: {', '.join(PROBLEM_CODES)})")
    if args.all and args.problem is None:
        return _fail("--all needs --problem CODE")
    if not args.all and not args.hosts:
        return _fail("name at least one HOST, or give --all --problem CODE")
    try:
        values = parse_label_args(args.label)
        for k, v in values.items():
            check_value(k, v)
    except LabelError as e:
        return _fail(str(e))
    on_key = host_key_callback(args)

    async def prepare() -> tuple[list[FixTarget], dict[str, dict[str, str]]]:
        from fleetui.deploy.fix import fix_targets

        async with PrometheusClient(settings) as client:
            snap = await FleetReader(client, settings).snapshot()
        hosts = list(args.hosts)
        if args.all:
            hosts += [h.instance for h in snap.hosts if any(p.code == args.problem for p in h.problems)]
        return await fix_targets(settings, snap, hosts, only=args.problem, values=values, on_unknown_key=on_key)

    try:
        targets, manual = asyncio.run(prepare())
    except (FixError, PrometheusError) as e:
        return _fail(str(e))
    if not args.json:
        for inst, todo in manual.items():
            for code, what in todo.items():
                print(f"{inst}: {code} cannot be fixed automatically: {what}")
    if not targets:
        if args.json:
            print(json.dumps({"results": [], "manual": manual}))
        elif not manual:
            print("nothing to fix")
        return 0 if not manual else 1

    plans = asyncio.run(_run(targets, settings, on_key, dry_run=True, quiet=True))
    if not args.json or args.dry_run:
        for r in plans:
            _print_plan(r)
    if args.dry_run:
        if args.json:
            print(json.dumps({"results": [r.to_json() for r in plans], "manual": manual}))
        return 0 if all(r.ok for r in plans) else 1
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail("refusing without confirmation: pass --yes")
        if input(f"Apply {len(targets)} fix(es)? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    from fleetui.commands import oplog_write

    results = asyncio.run(_run(targets, settings, on_key, dry_run=False, quiet=args.json, concurrency=args.concurrency))
    oplog_write.log_results(results, verb="fix")
    if args.json:
        print(json.dumps({"results": [r.to_json() for r in results], "manual": manual}))
    else:
        for r in results:
            line = f"{r.summary.get('instance')}: " + ("fixed" if r.ok else f"{r.failed_step} failed: {r.error}")
            print(line + f" ({r.host_state})")
    return 0 if all(r.ok for r in results) and not manual else 1


def _print_plan(r: OperationResult) -> None:
    diff = r.summary.get("target_diff") or ""
    print(f"{r.summary.get('instance')}: fix {', '.join(r.summary.get('plan', {}).get('codes', []))}")
    if not r.ok:
        print(f"  plan failed at {r.failed_step}: {r.error}")
    for line in diff.splitlines():
        print(f"    {line}")


async def _run(
    targets: list[FixTarget], settings: Settings, on_key: Any, *, dry_run: bool, quiet: bool, concurrency: int = 8
) -> list[Any]:
    from fleetui.commands.enroll import print_event
    from fleetui.deploy.fix import FixOperation
    from fleetui.deploy.runner import Run, Runner

    ops = [FixOperation(t, settings, on_unknown_key=on_key) for t in targets]
    runs: list[Run] = []
    async for ev in Runner(settings).run_many(ops, concurrency=concurrency, dry_run=dry_run, runs=runs):
        if not quiet and not dry_run:
            print_event(ev)
    return [r.result for r in runs]
