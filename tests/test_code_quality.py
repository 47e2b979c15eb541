"""Project-wide checks that CI must enforce: ruff (lint + format), mypy, the UI/IO boundary, the wheel's data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint() -> None:
    proc = _run(str(BIN / "ruff"), "check", "fleetui", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format() -> None:
    proc = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict() -> None:
    proc = _run(str(BIN / "mypy"), "fleetui")
    assert proc.returncode == 0, proc.stdout + proc.stderr


HEADLESS = [
    "fleetui.cli",
    "fleetui.config",
    "fleetui.domain.fleet",
    "fleetui.domain.classify",
    "fleetui.domain.filter",
    "fleetui.domain.labels",
    "fleetui.adapters.prometheus",
    "fleetui.adapters.ssh",
    "fleetui.adapters.targets",
    "fleetui.deploy.pipeline",
    "fleetui.deploy.render",
    "fleetui.alloy.syntax",
    "fleetui.commands.status",
    "fleetui.commands.enroll",
    "fleetui.commands.check",
    "fleetui.commands.logs",
    "fleetui.commands.doctor",
    "fleetui.adapters.alloy_logs",
    "fleetui.domain.logline",
    "fleetui.domain.logbuffer",
    "fleetui.doctor.probe",
    "fleetui.doctor.fleet",
    "fleetui.lab",
]


def test_headless_modules_never_import_textual_or_rich() -> None:
    """The core must stay UI-free: `fleetui status --json` should not pay for Textual (Harlequin's contract)."""
    code = (
        "import importlib, sys\n"
        f"for m in {HEADLESS!r}: importlib.import_module(m)\n"
        "ui = ('textual', 'rich')\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ui or k.startswith('fleetui.tui'))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert proc.stdout.strip() == "", f"headless modules pulled in: {proc.stdout.strip()}"


@pytest.mark.slow
def test_wheel_ships_templates_and_themes(tmp_path: Path) -> None:
    """An installed copy (not the checkout) must find templates/ and themes/ through fleetui.resources."""
    proc = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), ".")
    assert proc.returncode == 0, proc.stderr
    wheel = next((tmp_path / "dist").glob("fleetui-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("fleetui/_data/templates/") for n in names)
    assert any(n.startswith("fleetui/_data/themes/") for n in names)
    target = tmp_path / "site"
    proc = _run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel))
    assert proc.returncode == 0, proc.stderr
    probe = "import fleetui.resources as r; print(r.templates_dir()); print(r.themes_dir())"
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    templates, themes = proc.stdout.split()
    assert templates.startswith(str(target)) and themes.startswith(str(target))
