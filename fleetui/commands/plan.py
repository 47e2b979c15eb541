"""`fleetui plan ADDRESS ...`: what `fleetui enroll` with the same arguments would do, changing nothing.

The same checks as enroll run first (bad input exits 2 before any connection). Then it is the enrollment run
with `dry_run`: it connects and reads (OS, installed Alloy, current config, env file and target file) but
writes nothing, and prints the install commands it would run, unified diffs of the config, the env file
(secrets masked) and the target file, and which steps would be skipped because their input is unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys

from fleetui.commands import enroll as _enroll
from fleetui.config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    _enroll.add_request_arguments(p)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from fleetui.deploy.enroll import enroll_operation, resolve_secrets
    from fleetui.deploy.runner import Runner
    from fleetui.domain.host import InputError

    try:
        req, password = _enroll.build(args, settings)
        secrets = resolve_secrets(req, os.environ)
        op = enroll_operation(
            req, settings, password=password, secrets=secrets, on_unknown_key=_enroll.host_key_callback(args)
        )
    except InputError as e:
        print(f"fleetui plan: {_enroll.error_line(e)}", file=sys.stderr)
        return 2
    result = asyncio.run(_enroll.drive(Runner(settings).start(op, dry_run=True), quiet=True, verb="plan"))
    if args.json:
        print(json.dumps(result.to_json()))
    elif result.ok:
        print(f"Plan for {req.address} ({req.mode.value} mode); nothing was changed")
        _enroll.print_plan(result)
    else:
        print(f"fleetui plan: {result.failed_step} failed: {result.error}; nothing was changed", file=sys.stderr)
    return _enroll.exit_code(result)
