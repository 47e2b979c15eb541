"""Writing to a reader that went away (`fleetui … | head -c 10`) ends quietly, as `git log | head` does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("args", [("config", "--reference"), ("config", "--json"), ("rules",), ("--help",)])
def test_closed_stdout_is_not_a_traceback(args: tuple[str, ...]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write meets EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fleetui", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.stderr == ""
    assert proc.returncode in (0, 141)
