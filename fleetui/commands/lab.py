"""`fleetui lab up|down|status [--json]`: the embedded lab the demo and the tests run on.

Root on Debian only; it never installs packages (a missing binary is named with its Debian package, exit 2).
The lab dir is `<state dir>/lab`, or `$FLEETUI_LAB_DIR`. `lab up --backend victoriametrics` runs the lab's
metrics backend on VictoriaMetrics instead of Prometheus (same address; takes effect on a cold start).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from fleetui.config import Settings

# the lab's own command: the running lab's file never stands in for a missing one of your own here (fleetui.cli)
TAKES_LAB_CONFIG = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("up", "down", "status"), help="start, stop or describe the lab")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--backend",
        choices=("prometheus", "victoriametrics"),
        default=None,
        help="up: the metrics backend (default: the running lab's, else prometheus)",
    )
    p.add_argument(
        "--hosts",
        type=int,
        default=0,
        metavar="N",
        help="up: also start N not-yet-enrolled batch hosts (Debian, Ubuntu, Rocky, openSUSE in turn; at most 200)",
    )


def info_json(info: Any) -> dict[str, Any]:
    """The `lab status --json` object (also printed by `lab up --json`)."""

    def plain(v: Any) -> Any:
        return str(v) if isinstance(v, Path) else v

    return {
        "prometheus": info.prometheus,
        "targets_dir": str(info.targets_dir),
        "hosts": [{k: plain(v) for k, v in vars(h).items()} for h in info.hosts],
        "config_file": str(info.config_file),
        "state_dir": str(info.state_dir),
        "rules_dir": str(info.rules_dir),
        "known_hosts": str(info.known_hosts),
        "identity_file": str(info.identity_file),
        "apt_repo_url": info.apt_repo_url,
        "apt_key_url": info.apt_key_url,
        "gone_instance": info.gone_instance,
        "backend": info.backend,
    }


def _table(info: Any) -> str:
    rows = [("NAME", "ADDRESS", "SSH", "OS", "ENROLLED", "ALLOY", "USERS")]
    for h in info.hosts:
        users = ["root (key)"]
        if h.key_user:
            users.append(f"{h.key_user} (key, sudo)")
        if h.ssh_password_user:
            users.append(f"{h.ssh_password_user} (password, sudo asks)")
        role = h.enrolled or "-"
        if h.role == "down":
            role = "pull (down)"
        rows.append((h.name, h.address, str(h.ssh_port), h.os, role, h.alloy_version or "-", ", ".join(users)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    head = [
        f"prometheus   {info.prometheus}   ({info.backend})",
        f"targets dir  {info.targets_dir}",
        f"config       {info.config_file}   (fleetui --config {info.config_file} ...)",
        f"apt repo     {info.apt_repo_url}",
        f"gone host    {info.gone_instance} (history only)",
        "",
    ]
    return "\n".join(head + lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from fleetui import lab
    from fleetui.lab import LabInfo
    from fleetui.lab.manager import LabError

    info: LabInfo | None

    try:
        if args.action == "down":
            lab.down()
            if args.json:
                print(json.dumps({"down": True}))
            else:
                print("lab down")
            return 0
        if args.action == "up":
            t0 = time.monotonic()
            if not 0 <= args.hosts <= 200:
                print(f"fleetui lab: --hosts must be between 0 and 200, got {args.hosts}", file=sys.stderr)
                return 2
            info = lab.up(args.backend, extra_hosts=args.hosts)
            took = time.monotonic() - t0
        else:
            info = lab.status()
            took = None
    except LabError as e:
        print(f"fleetui lab: {e}", file=sys.stderr)
        return 2
    if info is None:
        if args.json:
            print(json.dumps({"up": False}))
        else:
            print("the lab is not up (start it with `fleetui lab up`)")
        return 1
    if args.json:
        out = info_json(info)
        if took is not None:
            out["up_seconds"] = round(took, 2)
        print(json.dumps(out))
    else:
        print(_table(info))
        if took is not None:
            print(f"\nlab up in {took:.1f}s")
    return 0
