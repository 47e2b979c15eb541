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


def test_vmalert_accepts_its_form_and_promtool_does_not(tmp_path: Path, debian_tool: Callable[[str], str]) -> None:
    """The vmalert form is checked by the real vmalert (Debian's victoria-metrics package); it is a real
    second form: promtool refuses its `type` field, and vmalert refuses a broken expression."""
    vmalert, promtool = debian_tool("vmalert"), debian_tool("promtool")
    path = _rules(tmp_path, "--format", "vmalert")
    ok = subprocess.run([vmalert, "-dryRun", f"-rule={path}"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    text = path.read_text()
    assert text.count("type: prometheus") == 2 and "-remoteWrite.url=" in text and "vmalert -dryRun" in text
    assert "record: node_last_seen_timestamp" in text and text.count("alert: HostDown") == 2
    refused = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "field type not found" in refused.stdout + refused.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("(timestamp(up) and up == 1)", "(timestamp(up) and up == )"))
    bad = subprocess.run([vmalert, "-dryRun", f"-rule={broken}"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "node_last_seen_timestamp" in bad.stdout + bad.stderr


def test_rules_text_names_no_planning_documents(tmp_path: Path) -> None:
    for form in ("prometheus", "vmalert"):
        assert "seed" not in _rules(tmp_path, "--format", form).read_text().lower()
