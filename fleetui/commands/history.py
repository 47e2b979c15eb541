"""`fleetui history`: the targets directory read as an audit trail (enrolled and retired hosts, with times)."""

from __future__ import annotations

import argparse
import sys

from fleetui.config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

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
    if args.json:
        print(json.dumps({"targets_dir": str(settings["targets.dir"]), "entries": [e.to_json() for e in entries]}))
        return 0
    if not entries:
        print(f"No target files in {settings['targets.dir']}")
        return 0
    print(f"{'HOST':<28} {'STATE':<8} {'LAST ENROLLED':<21} {'RETIRED':<21} TARGETS")
    for e in entries:
        retired = iso_utc(e.retired_at) if e.retired_at is not None else "-"
        print(f"{e.name:<28} {e.state:<8} {iso_utc(e.updated_at):<21} {retired:<21} {', '.join(e.targets) or '-'}")
    return 0
