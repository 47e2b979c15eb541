"""`fleetui config`: print the effective configuration and where each value came from.

Only locations of secrets (file paths, env var names) are configuration, so nothing secret can be shown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fleetui.config import KEYS, Settings, reference_markdown


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--reference", action="store_true", help="print the configuration reference (Markdown)")


def _plain(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.reference:
        print(reference_markdown())
        return 0
    values = {k.path: _plain(settings[k.path]) for k in KEYS}
    if args.json:
        print(json.dumps({"file": str(settings.source) if settings.source else None, "values": values}))
        return 0
    print(f"# file: {settings.source or '(none: built-in defaults)'}")
    width = max(len(k) for k in values)
    for k, v in values.items():
        print(f"{k.ljust(width)}  {'' if v is None else v}")
    return 0
