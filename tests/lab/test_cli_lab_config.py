"""A newcomer with no configuration of their own: after `fleetui lab up`, `fleetui status` reads the lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleetui.lab import LabInfo


def _fleetui(tmp_path: Path, *args: str, config_env: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLEETUI_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # no ~/.config/fleetui/config.yaml here
    if config_env is not None:
        env["FLEETUI_CONFIG"] = config_env
    return subprocess.run(
        [sys.executable, "-m", "fleetui", *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_status_without_a_config_file_reads_the_running_lab(lab: LabInfo, tmp_path: Path) -> None:
    r = _fleetui(tmp_path, "status", "--json")
    assert f"using the running lab's ({lab.config_file})" in r.stderr
    hosts = {h["instance"] for h in json.loads(r.stdout)["hosts"]}
    assert {"web-01", "cache-01", lab.gone_instance} <= hosts


def test_a_config_of_ones_own_wins_over_the_lab(lab: LabInfo, tmp_path: Path) -> None:
    own = tmp_path / "own.yaml"
    own.write_text("prometheus:\n  url: http://127.0.0.1:9\n")
    r = _fleetui(tmp_path, "config", "--json", config_env=str(own))
    assert "running lab" not in r.stderr
    assert json.loads(r.stdout)["file"] == str(own)


def test_the_lab_command_never_takes_the_labs_file_for_yours(lab: LabInfo, tmp_path: Path) -> None:
    """`lab` manages the lab: with it running and no file of your own, it says nothing about using the lab's file
    (each command module says so itself, fleetui.cli.settings_from_args)."""
    r = _fleetui(tmp_path, "lab", "status", "--json")
    assert r.returncode == 0, r.stderr
    assert "running lab" not in r.stderr
    assert json.loads(r.stdout)["prometheus"] == lab.prometheus
