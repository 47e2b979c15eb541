"""`fleetui check FILE...`: Alloy's syntax check, offline, for hosts and jump hosts without an `alloy` binary.

Prints each error as `FILE:LINE:COL: message` (the lines `alloy fmt` prints), nothing for a valid file unless
`-v`. Exit 0 when every file parses, 1 when any does not, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fleetui.config import Settings

STDIN_NAME = "<stdin>"  # what `alloy fmt` calls standard input in its messages
# offline: no configuration is read (neither one's own nor a running lab's), so a broken or absent one never
# stops a syntax check, and nothing on stderr suggests the check reads Prometheus (see fleetui.cli)
READS_SETTINGS = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="Alloy configuration file(s); - reads standard input")
    p.add_argument("-v", "--verbose", action="store_true", help="also print `FILE: ok` for files that parse")
    p.add_argument("--json", action="store_true", help='print [{"file", "ok", "errors": [...]}]')


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as fh:
        return fh.read()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from fleetui.alloy.syntax import check

    results: list[dict[str, Any]] = []
    unreadable = invalid = False
    for path in args.files:
        name = STDIN_NAME if path == "-" else path
        try:
            src = _read(path)
        except OSError as e:
            unreadable = True
            reason = e.strerror or str(e)
            print(f"fleetui: cannot read {name}: {reason}", file=sys.stderr)
            results.append({"file": name, "ok": False, "errors": [], "read_error": reason})
            continue
        diags = check(src, name)
        invalid = invalid or bool(diags)
        results.append(
            {
                "file": name,
                "ok": not diags,
                "errors": [{"line": d.line, "col": d.col, "message": d.message} for d in diags],
            }
        )
        if not args.json:
            for d in diags:
                print(d)
            if not diags and args.verbose:
                print(f"{name}: ok")
    if args.json:
        print(json.dumps(results))
    return 2 if unreadable else 1 if invalid else 0
