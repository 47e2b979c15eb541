"""PID 1 of one lab host: runs inside fresh mount + UTS + PID namespaces made by `unshare`.

`python -m fleetui.lab.hostinit SPEC.json` sets the hostname, lays overlays over /etc, /usr, /var, /home,
/tmp and /root (so `apt-get install` or `useradd` inside the host changes only that host), gives the host its
own tmpfs /run, creates its users on first boot, then starts its sshd, its node_exporter and (when the host is
enrolled) its Alloy stand-in through the host's `systemctl` stand-in. It then reaps orphans forever. Killing it
kills every process of the host, and the kernel drops the host's mounts with its mount namespace: that is how
`lab down` leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} hostinit: {msg}", flush=True)


LAYERS = Path("/run/fleetui-lab")  # inside the host: upper/, work/ and lower/ of each overlaid dir


def _layers_in_memory(overlays: list[dict[str, str]]) -> list[dict[str, str]]:
    """Move each overlay's writable layer onto the host's own /run tmpfs, and keep its read-only layer in view.

    Overlayfs refuses an upper dir that itself lies on overlayfs, and a fresh CI machine or container often has
    an overlay as its root filesystem, so upper dirs in the lab dir cannot be used there. The manager provisions
    them in the lab dir (identity files, users, the Alloy stand-in); they are copied to LAYERS/upper here. /run
    dies with the host's mount namespace, so a host still starts fresh each time and `lab down` still leaves
    nothing behind. LAYERS/lower holds a bind mount of each real dir, so a test can lay a throwaway overlay
    over a host from both layers instead of stacking a third overlay, which the kernel refuses.
    """
    moved = []
    for d in overlays:
        name = Path(d["lower"]).name
        upper, work, lower = LAYERS / "upper" / name, LAYERS / "work" / name, LAYERS / "lower" / name
        upper.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        work.mkdir(parents=True)
        lower.mkdir(parents=True)
        subprocess.run(["cp", "-a", "--", d["upper"], str(upper)], check=True)
        _mount("--bind", d["lower"], str(lower))
        moved.append({**d, "upper": str(upper), "work": str(work)})
    LAYERS.chmod(0o700)
    return moved


def _setup_users(spec: dict[str, Any]) -> None:
    marker = Path("/etc/fleetui-lab/users-done")
    if marker.exists():
        return
    for user in spec["users"]:
        name = user["name"]
        # `*`: no password but not locked (sshd without PAM refuses a locked `!` account even with a key)
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", "-p", "*", name], check=True)
        home = Path("/home") / name
        if user.get("authorized_key"):
            ssh = home / ".ssh"
            ssh.mkdir(mode=0o700, exist_ok=True)
            (ssh / "authorized_keys").write_text(user["authorized_key"])
            subprocess.run(["chown", "-R", f"{name}:{name}", str(ssh)], check=True)
            (ssh / "authorized_keys").chmod(0o600)
        if user.get("password"):
            subprocess.run(["chpasswd"], input=f"{name}:{user['password']}\n", text=True, check=True)
        rule = f"{name} ALL=(ALL) {'NOPASSWD: ' if user.get('nopasswd') else ''}ALL\n"
        sudoers = Path("/etc/sudoers.d") / f"lab-{name}"
        sudoers.write_text(rule)
        sudoers.chmod(0o440)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("ok\n")


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())  # read before the overlays may hide the lab dir
    socket.sethostname(spec["hostname"])
    _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    for d in _layers_in_memory(spec["overlays"]):
        _mount(
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={d['lower']},upperdir={d['upper']},workdir={d['work']}",
            d["lower"],
        )
    for run_dir in ("/run/sshd", "/run/lock"):
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    os.chdir("/")
    _setup_users(spec)
    # -E: the host's own sshd log (LogLevel VERBOSE logs every connection), so a test can count who connected
    subprocess.run(["/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config", "-E", "/var/log/sshd.log"], check=True)
    subprocess.Popen(spec["node_exporter"], stdin=subprocess.DEVNULL)
    for argv in spec.get("then", []):
        subprocess.run(argv, stdin=subprocess.DEVNULL, check=False)
    _log(f"{spec['hostname']} up")

    def _stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while True:  # PID 1 duty: reap every orphan of the host
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
