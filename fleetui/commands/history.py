"""`fleetui history`: the targets directory read as an audit trail (enrolled and retired hosts, with times),
then the local operation log (every operation the console or the CLI ran from this machine: user, host, outcome)."""

from __future__ import annotations

import argparse
import sys

from fleetui.config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--filter", default="", metavar="TEXT", help="only rows containing TEXT (any column)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from fleetui.adapters.oplog import OpLog
    from fleetui.adapters.ssh import SshError
    from fleetui.adapters.targets import HistoryEntry, TargetStoreError, iso_utc, open_store

    async def read() -> list[HistoryEntry]:
        async with open_store(settings) as store:
            return await store.history()

    try:
        entries = asyncio.run(read())
    except (TargetStoreError, SshError) as err:
        print(f"fleetui history: {err}", file=sys.stderr)
        return 2
    oplog = OpLog()
    try:
        records = oplog.read()
    except OSError as err:
        print(f"fleetui history: cannot read the operation log {oplog.path}: {err}", file=sys.stderr)
        return 2
    needle = str(args.filter).lower()

    def keep(cells: list[str]) -> bool:
        return not needle or any(needle in c.lower() for c in cells)

    trail = [e for e in entries if keep([e.name, e.state, *e.targets, *(f"{k}={v}" for k, v in e.labels.items())])]
    ops = [r for r in records if keep([str(v) for v in r.to_json().values() if v is not None])]
    if args.json:
        print(
            json.dumps(
                {
                    "targets_dir": str(settings["targets.dir"]),
                    "entries": [e.to_json() for e in trail],
                    "operation_log": str(oplog.path),
                    "operations": [r.to_json() for r in ops],
                }
            )
        )
        return 0
    if not trail:
        print(f"No target files in {settings['targets.dir']}" + (" match" if needle else ""))
    else:
        print(f"{'HOST':<28} {'STATE':<8} {'LAST ENROLLED':<21} {'RETIRED':<21} TARGETS")
    for e in trail:
        retired = iso_utc(e.retired_at) if e.retired_at is not None else "-"
        print(f"{e.name:<28} {e.state:<8} {iso_utc(e.updated_at):<21} {retired:<21} {', '.join(e.targets) or '-'}")
    print(f"\nOperations run from this machine ({oplog.path}):")
    if not ops:
        print("  none")
    for r in ops:
        j = r.to_json()
        sha = (r.config_sha256 or "-")[:12]
        print(f"  {j['time']}  {r.user:<10} {r.operation:<7} {r.outcome:<9} {r.host:<28} {r.host_state}  config {sha}")
    return 0
