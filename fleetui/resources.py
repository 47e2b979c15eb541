"""Finds the data that ships with fleetui (Jinja2 templates, themes) in a checkout or an installed wheel.

In a source checkout (and an editable install) they sit at the repository root; a wheel carries them as
`fleetui/_data/{templates,themes}` (see `[tool.hatch.build.targets.wheel.force-include]`).
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`templates` or `themes`: the installed copy if present, else the checkout's."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"fleetui's {name}/ directory is missing from {_PKG} (broken install?)")


def templates_dir() -> Path:
    return data_dir("templates")


def themes_dir() -> Path:
    return data_dir("themes")
