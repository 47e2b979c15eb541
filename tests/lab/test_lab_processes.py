"""`fleetui lab down` takes this lab's processes for its own and no other lab's.

The lab knows its processes by its directory's path in their command lines, and the same path names another
lab in a chroot or container sharing this machine's process IDs: quitting a demo while a clean-machine test
run went on beside it (its own root and network namespace) killed that run's Prometheus. Real processes
here, one of them in a network namespace of its own (`unshare --net`: root, like the rest of the lab); no lab
is started.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetui.lab import manager

pytestmark = pytest.mark.lab


def _spawn(marker: str, *prefix: str) -> subprocess.Popen[bytes]:
    """A process whose command line looks like one of the lab's (the module name and the lab's directory)."""
    return subprocess.Popen([*prefix, sys.executable, "-c", "import time; time.sleep(60)", "fleetui.lab.x", marker])


def _wait_cmdline(pid: int, marker: str) -> None:
    """Until the process runs its final program (`unshare` execs it once the namespace is made)."""
    deadline = time.monotonic() + 10
    while True:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        if marker in args and "unshare" not in args[0]:
            return
        assert time.monotonic() < deadline, f"the process did not start: {args}"
        time.sleep(0.02)


def test_lab_down_finds_its_own_processes_and_not_those_of_a_lab_on_another_loopback(tmp_path: Path) -> None:
    paths = manager._Paths(tmp_path / "lab")
    ours = _spawn(paths.marker)
    elsewhere = _spawn(paths.marker, "unshare", "--net", "--")
    try:
        for p in (ours, elsewhere):
            _wait_cmdline(p.pid, paths.marker)
        # what `lab down` kills beyond the processes its state names, and how it tells a named one still runs
        assert manager._strays(paths) == [ours.pid]
        assert manager._alive(ours.pid, paths.marker)
        assert not manager._alive(elsewhere.pid, paths.marker)
    finally:
        for p in (ours, elsewhere):
            p.kill()
            p.wait()
