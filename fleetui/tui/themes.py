"""Console themes: YAML files in themes/ (and the user's `<config dir>/themes/`) turned into Textual Themes.

Themes are data, not code, so operators can add one without touching Python (as Posting does). Loading
never raises: each bad file becomes one readable line that the app shows as a notification, and an
unknown configured theme falls back to DEFAULT_THEME.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "fleet-dark"

# fleetui's own CSS variables; every theme must give them (defaults below keep Textual's built-in themes usable).
STATUS_VARIABLES: dict[str, str] = {
    "status-up": "#5CC46A",
    "status-down": "#F2554A",
    "status-stale": "#E8C43C",
    "status-gone": "#8A93A3",
    "problem": "#E8A33C",
}

_COLOR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_OTHER_FIELDS = ("name", "dark", "luminosity_spread", "text_alpha", "variables")


@dataclass
class LoadedThemes:
    themes: list[Theme] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "file: problem", one per bad file


def theme_from_mapping(data: Any, source: str) -> Theme:
    """Validate one theme document; ValueError names the first problem."""
    if not isinstance(data, dict):
        raise ValueError("must be a YAML mapping")
    unknown = sorted(set(data) - set(_COLOR_FIELDS) - set(_OTHER_FIELDS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("needs a 'name'")
    if "primary" not in data:
        raise ValueError("needs a 'primary' colour")
    colours: dict[str, str] = {}
    for key in _COLOR_FIELDS:
        if key in data:
            colours[key] = _colour(str(data[key]), key)
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError("'variables' must be a mapping")
    for key, value in variables.items():
        if key in STATUS_VARIABLES:
            _colour(str(value), f"variables.{key}")
    return Theme(
        name=name.strip(),
        primary=colours["primary"],
        secondary=colours.get("secondary"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        success=colours.get("success"),
        accent=colours.get("accent"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        boost=colours.get("boost"),
        dark=bool(data.get("dark", True)),
        luminosity_spread=float(data.get("luminosity_spread", 0.15)),
        text_alpha=float(data.get("text_alpha", 0.95)),
        variables={**STATUS_VARIABLES, **{str(k): str(v) for k, v in variables.items()}},
    )


def _colour(value: str, key: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"{key}: {value!r} is not a colour") from None
    return value


def load_themes(*dirs: Path) -> LoadedThemes:
    """Every *.yaml/*.yml in the given directories, later directories overriding earlier names."""
    out = LoadedThemes()
    by_name: dict[str, Theme] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted([*d.glob("*.yaml"), *d.glob("*.yml")]):
            try:
                theme = theme_from_mapping(yaml.safe_load(path.read_text()), str(path))
            except (OSError, yaml.YAMLError, ValueError, TypeError) as e:
                problem = str(e).splitlines()[0] if str(e) else type(e).__name__
                out.failures.append(f"{path}: {problem}")
                continue
            by_name[theme.name] = theme
    out.themes = list(by_name.values())
    return out
