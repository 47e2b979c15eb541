"""`fleetui retire ADDRESS`: stop monitoring a host, keeping its record.

The target file is renamed `<name>.json.deleted.<UTC timestamp>` (the audit trail `fleetui history` reads) and
Prometheus reloaded; with `--stop-agent` fleetui first makes sure it can reach the host, and stops and disables
Alloy there last. A failure after the rename says that the host *was* retired, and what failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from fleetui.commands import enroll as _enroll
from fleetui.config import Settings

if TYPE_CHECKING:
    from fleetui.deploy.events import OperationResult


def add_arguments(p: argparse.ArgumentParser) -> None:
    _enroll.add_connection_arguments(p)
    p.add_argument("--stop-agent", action="store_true", help="also stop and disable Alloy on the host")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from fleetui.deploy.retire import retire_operation
    from fleetui.deploy.runner import Runner
    from fleetui.domain.host import InputError

    try:
        req, password = _enroll.build(args, settings, with_services=False)
        op = retire_operation(
            req,
            settings,
            stop_agent=args.stop_agent,
            password=password,
            on_unknown_key=_enroll.host_key_callback(args),
        )
    except InputError as e:
        print(f"fleetui retire: {_enroll.error_line(e)}", file=sys.stderr)
        return 2
    if not args.yes:
        if not sys.stdin.isatty():
            print("fleetui retire: refusing without confirmation: pass --yes", file=sys.stderr)
            return 2
        what = " and stop its Alloy" if args.stop_agent else ""
        if input(f"Retire {req.address}{what}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    from fleetui.commands import oplog_write

    run = Runner(settings).start(op)
    try:
        result = asyncio.run(_enroll.drive(run, quiet=args.json, verb="retire"))
    finally:
        oplog_write.log_results([run.result], verb="retire")
    if args.json:
        print(json.dumps(result.to_json()))
    elif result.ok:
        print(f"{req.address} retired ({result.summary.get('retired_as')})")
    else:
        print(failure_line(result), file=sys.stderr)
    return _enroll.exit_code(result)


def failure_line(result: OperationResult) -> str:
    """After the rename the host *is* retired, whatever failed next: say that first, then the rest."""
    from fleetui.deploy.decisions import describe
    from fleetui.deploy.events import ChangeState

    renamed = any(c.what == "target file" and c.state is ChangeState.CHANGED for c in result.changes)
    if not renamed:
        return _enroll.failure_line("retire", result)
    rest = describe([c for c in result.changes if c.what != "target file"])
    also = "" if rest == "nothing changed" else f"; {rest}"
    return (
        f"fleetui retire: {result.failed_step} failed: {result.error}; the host was retired "
        f"(target file renamed to {result.summary.get('retired_as')}){also}"
    )
