"""`fleetui rules` prints a rules file Prometheus' own checker accepts (promtool is the real one)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def _rules(tmp_path: Path, *args: str) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("")
    p = subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(cfg), "rules", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = tmp_path / "fleetui.yml"
    out.write_text(p.stdout)
    return out


@pytest.mark.parametrize("args", [(), ("--stale-after", "45", "--lookback", "7200")])
def test_promtool_accepts_rules(tmp_path: Path, args: tuple[str, ...], debian_tool: Callable[[str], str]) -> None:
    promtool = debian_tool("promtool")
    path = _rules(tmp_path, *args)
    p = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 3 rules found" in p.stdout
    text = path.read_text()
    assert "record: node_last_seen_timestamp" in text and text.count("alert: HostDown") == 2
    assert "inhibit_rules:" in text and "equal: [instance]" in text
    if args:
        assert "> 45)" in text and "[2h]" in text


def test_rules_rejects_bad_threshold(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("")
    p = subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(cfg), "rules", "--stale-after", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "at least 1 second" in p.stderr
