"""Time one enrollment on the lab, as an operator would run it: `fleetui enroll ADDRESS --json --yes`.

Prints the total and each step's time from the JSON events (the numbers the report quotes). Needs a running
lab (`fleetui lab up`). Usage: python bench/enroll_time.py [HOST] (default new-03, the enrollment tests'
host; it is reset first so the run includes the apt install from the lab repository; --keep times a
re-enrollment instead).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from fleetui import lab


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    name = args[0] if args else "new-03"
    info = lab.status()
    if info is None:
        print("the lab is not running: fleetui lab up", file=sys.stderr)
        return 2
    h = info.host(name)
    if "--keep" not in sys.argv:
        lab.host_exec(
            name,
            [
                "sh",
                "-c",
                "systemctl stop alloy >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive "
                "apt-get purge -y alloy >/dev/null 2>&1; rm -rf /etc/alloy /etc/default/alloy; true",
            ],
        )
        (info.targets_dir / f"{h.address}.json").unlink(missing_ok=True)
    fp = lab.host_exec(name, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]
    argv = [
        sys.executable,
        "-m",
        "fleetui",
        "--config",
        str(info.config_file),
        "enroll",
        h.address,
        "--yes",
        "--json",
        "--trust-host-key",
        fp,
        "--label",
        "environment=lab",
        "--label",
        "maintainers=bench",
    ]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    if not proc.stdout.strip():
        print(proc.stderr, file=sys.stderr)
        return 1
    doc = json.loads(proc.stdout)
    print(f"host {name} ({h.address}): ok={doc['ok']} changed={doc['changed']} exit={proc.returncode}")
    for ev in doc["events"]:
        if ev["status"] != "started":
            print(f"  {ev['step']:<9} {ev['status']:<8} {ev['elapsed_s']:7.3f}s  {ev['message'][:70]}")
    print(f"engine elapsed_s: {doc['elapsed_s']:.2f}s; wall clock incl. CLI start-up: {wall:.2f}s")
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
