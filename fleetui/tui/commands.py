"""The command palette: every action of the current screen, plus themes, as SystemCommands.

Built from the same places the keys come from (screen methods, HOST_ACTIONS, the theme list), so the
palette and the keymap cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.screen import Screen

if TYPE_CHECKING:
    from fleetui.tui.app import FleetApp


def screen_commands(app: FleetApp, screen: Screen[object]) -> Iterator[SystemCommand]:
    from fleetui.tui.actions import actions_for
    from fleetui.tui.screens.fleet import SCOPES, FleetScreen
    from fleetui.tui.screens.host import HostScreen

    yield SystemCommand("Help: keys of this screen", "List every key of the current screen (?)", app.action_help)
    for name in app.fleet_themes:
        yield SystemCommand(
            f"Theme: {name}", f"Switch the console to {name} (remembered)", partial(setattr, app, "theme", name)
        )
    if isinstance(screen, FleetScreen):
        yield SystemCommand("Refresh now", "Read the fleet from Prometheus now (r)", screen.action_refresh)
        yield SystemCommand(
            "Filter hosts", "Filter by text, label=value, label!=value, label=~regex (/)", screen.action_filter
        )
        yield SystemCommand("Clear filter", "Show every host again (Esc)", screen.action_clear_filter)
        for scope, (label, _) in SCOPES.items():
            yield SystemCommand(
                f"Show {label}", f"Show {label} hosts (press again for all)", partial(screen.action_scope, scope)
            )
        yield SystemCommand("Show all hosts", "Drop the show-only scope (a)", partial(screen.action_scope, ""))
        for col in screen.table.columns:
            yield SystemCommand(
                f"Sort by {col.title}", f"Order the table by {col.title}", partial(screen.sort_by, col.key)
            )
        yield SystemCommand("Reverse sort order", "Flip the current order (O)", screen.action_reverse_sort)
        host = screen.table.cursor_host
        if host is not None:
            yield SystemCommand(
                f"Open {host.instance}",
                "Host detail for the host under the cursor (Enter)",
                partial(screen.open_host, host.instance),
            )
    elif isinstance(screen, HostScreen):
        for action in actions_for(screen.host):
            yield SystemCommand(f"Host: {action.label}", action.help, partial(screen.action_host_action, action.id))
