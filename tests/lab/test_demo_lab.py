"""`fleetui demo` in a real terminal (a pty), ended by a hang-up as when the operator's SSH session drops.

The session's lab is already up, so the demo leaves it running; what this proves is that SIGHUP ends the
console through the demo's clean-up (which takes down a lab the demo started), not by killing Python outright.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from fleetui import lab as lab_mod

pytestmark = pytest.mark.lab


def _read_until(fd: int, needle: bytes, limit: float) -> bytes:
    seen = b""  # what the terminal was sent
    deadline = time.monotonic() + limit
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {needle!r}; the terminal showed {seen[-400:]!r}"
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def test_a_hangup_ends_the_demo_through_its_clean_up(lab: Any) -> None:
    primary, secondary = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "30"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetui", "demo"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,  # the console draws on stderr
        env=env,
        start_new_session=True,
    )
    os.close(secondary)
    try:
        _read_until(primary, b"Down", 60)  # the fleet screen is drawn (its footer)
        proc.send_signal(signal.SIGHUP)
        said = _read_until(primary, b"lab down`)", 30)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(primary)
    assert proc.returncode != 0 and proc.returncode != -signal.SIGHUP, proc.returncode
    assert b"fleetui demo: the lab is still running" in said
    assert lab_mod.status() is not None  # the session's lab, which the demo did not start, is still up
