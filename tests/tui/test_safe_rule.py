"""The plain-text rule, checked in the console's code: outside strings reach widgets only through fleetui.tui.safe.

A scan of fleetui/tui (AST, not regexes) for the shapes that let a label value be parsed as markup or reach
the terminal raw:

- markup parsers called directly (`from_markup`, `Text.from_ansi`, `SystemCommand`, whose titles are markup);
- a markup sink (Static, Label, Option, `.update`, `border_title`, …) given a built string: an f-string, a
  concatenation, `.format`, `str(...)` or an attribute (`host.instance`) — it must get a Text/Content instead;
- a plain-text sink (`Text(...)`, `.append`, `Segment`) given an f-string that interpolates an outside value
  (instance, labels, error, …) without `safe.`: plain, but a control character would still reach the terminal.

A local variable passed to a sink is not followed; the Pilot tests on the hostile corpus cover what runs.
Palette titles (PaletteCommand) and notifications are plain by contract: the palette provider and
FleetApp.notify apply the rule in one place, so they are not sinks here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TUI = Path(__file__).resolve().parents[2] / "fleetui" / "tui"
EXEMPT = {"safe.py"}  # the rule itself

MARKUP_PARSERS = {"from_markup", "from_ansi", "SystemCommand", "to_content", "render_markup"}
MARKUP_SINK_CALLS = {"Static", "Label", "Button", "Option", "update", "add_option", "Hit", "DiscoveryHit"}
MARKUP_SINK_ATTRS = {"border_title", "border_subtitle", "tooltip"}
PLAIN_SINK_CALLS = {"Text", "append", "Segment", "Strip"}
# names that hold text from Prometheus, a host, a file or a server
OUTSIDE = {
    "instance",
    "labels",
    "job",
    "hostname",
    "nodename",
    "host_name",
    "host_job",
    "scrape_url",
    "last_error",
    "message",
    "hint",
    "error",
    "location",
    "config_file",
    "line",
    "annotations",
}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _built_string(node: ast.expr) -> bool:
    """An expression that makes a str at run time from parts (so it may carry an outside value)."""
    if isinstance(node, ast.JoinedStr | ast.Attribute | ast.Subscript):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return isinstance(node, ast.Call) and _name(node.func) in {"format", "str", "repr", "join"}


def _mentions_outside(node: ast.expr) -> bool:
    for sub in ast.walk(node):
        func = sub.func if isinstance(sub, ast.Call) else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "safe":
            return False
        if isinstance(sub, ast.expr) and _name(sub) in OUTSIDE:
            return True
    return False


def violations(source: str, filename: str = "<code>") -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            name = _name(node.func)
            args = [*node.args[:1], *(k.value for k in node.keywords if k.arg in ("renderable", "content", "prompt"))]
            if name in MARKUP_PARSERS:
                found.append(f"{where}: {name}() parses markup; build Text/Content through fleetui.tui.safe")
            elif name in MARKUP_SINK_CALLS and any(_built_string(a) for a in args):
                found.append(f"{where}: {name}() gets a built string, parsed as markup; pass safe.text/content")
            elif name in PLAIN_SINK_CALLS:
                for a in node.args[:1]:
                    if isinstance(a, ast.JoinedStr) and any(
                        isinstance(v, ast.FormattedValue) and _mentions_outside(v.value) for v in a.values
                    ):
                        found.append(f"{where}: {name}() interpolates an outside value; append safe.text(value)")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in MARKUP_SINK_ATTRS and _built_string(node.value):
                    found.append(f"{where}: {target.attr} = a built string, parsed as markup; use safe.content")
    return found


def test_the_console_code_follows_the_rule() -> None:
    problems: list[str] = []
    for path in sorted(TUI.rglob("*.py")):
        if path.name not in EXEMPT:
            problems += violations(path.read_text(), str(path.relative_to(TUI.parent.parent)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "code",
    [
        'SystemCommand(f"Open {host.instance}", "help", cb)',
        'Static(f"{h.instance}")',
        "self.query_one(Static).update(host.last_error)",
        'box.border_subtitle = "bad: " + error',
        "box.border_title = str(e)",
        'OptionList().add_option(Option("x " + h.job))',
        'Text(f"cannot refresh: {error}")',
        't.append(f"{self.location}\\n")',
        "Content.from_markup(title)",
        "Text.from_ansi(line)",
    ],
)
def test_the_scan_finds_each_kind_of_breach(code: str) -> None:
    assert violations(code), code


@pytest.mark.parametrize(
    "code",
    [
        'Static("Scrape", classes="section-title")',
        "self.query_one(Static).update(safe.text(host.last_error))",
        "box.border_subtitle = safe.content(str(e))",
        't.append(f"{STATE_GLYPH[state]} {state.value} {count}")',
        "t.append(safe.text(self.error))",
        'PaletteCommand(f"Open {host.instance}", "help", cb)',
    ],
)
def test_the_scan_lets_plain_or_safe_text_through(code: str) -> None:
    assert not violations(code), code
