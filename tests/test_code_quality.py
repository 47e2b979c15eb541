"""Project-wide checks that CI must enforce: ruff (lint + format), mypy, the import contracts, the wheel's data."""

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


def test_import_contracts() -> None:
    """The architecture as import-linter contracts in pyproject.toml ([tool.importlinter]): the core (domain,
    adapters, deploy, commands, config, lab) never imports Textual, Rich or the console, even indirectly, so
    `fleetui status --json` stays headless and fast (Harlequin's contract); inside the console each layer only
    imports the ones below it, and no screen imports another. Replaces a hand-kept list of modules, which
    silently missed every module added after it."""
    proc = _run(str(BIN / "lint-imports"), "--no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout and proc.stdout.count("KEPT") >= 3, proc.stdout


@pytest.mark.slow
def test_wheel_ships_templates_and_themes(tmp_path: Path) -> None:
    """An installed copy (not the checkout) must find templates/ and themes/ through fleetui.resources.

    Built without build isolation (hatchling comes with the test extras), so the test needs no package registry.
    """
    dist = str(tmp_path / "dist")
    proc = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, ".")
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
