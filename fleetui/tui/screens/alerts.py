"""Firing alerts that no host of the fleet matches ("unattributed").

An alert whose `instance` names no host is usually a label problem in disguise (the alert says
`raspberry-pi`, the host reports as `raspberry-4b`), so it is listed here rather than dropped. The screen
follows the fleet feed: every refresh redraws the list. Everything shown is outside text, through
fleetui.tui.safe (via fleetui.tui.alerts_fmt). The CLI twin is the tail of `fleetui status`.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from fleetui.tui import safe
from fleetui.tui.alerts_fmt import alert_lines
from fleetui.tui.feed import FleetFeed
from fleetui.tui.messages import FleetRefreshed
from fleetui.tui.widgets.key_footer import KeyFooter


class UnattributedAlertsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="alerts.refresh", tooltip="Read the fleet and its alerts now"),
        Binding("escape", "close", "Back", id="alerts.back", tooltip="Back to the fleet"),
    ]
    HELP_TITLE = "alerts no host matches"

    def __init__(self, feed: FleetFeed) -> None:
        super().__init__(id="unattributed-alerts")
        self.feed = feed

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        with VerticalScroll(id="unattributed-body"):
            yield Static(id="unattributed-intro")
            yield Static(id="unattributed-list")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "firing alerts no host matches"
        self._render_alerts()
        self.feed.subscribe(self)
        self.query_one("#unattributed-body", VerticalScroll).focus()

    @on(FleetRefreshed)
    def _fleet_refreshed(self, event: FleetRefreshed) -> None:
        self._render_alerts()

    def _render_alerts(self) -> None:
        snap = self.feed.snapshot
        intro = Text()
        items = Text()
        if snap is None or snap.alerts_view is None:
            intro.append("No alerts read yet.")
        elif snap.alerts_view.error:
            intro.append("Alerts could not be read: ")
            intro.append(safe.text(snap.alerts_view.error, limit=safe.LINE_LIMIT))
        else:
            n = len(snap.unattributed_alerts)
            many = n != 1
            intro.append(
                f"{n} alert{'s' if many else ''} from {snap.alerts_view.source} match{'' if many else 'es'} no host"
            )
            if n:
                intro.append(
                    ": their `instance` label is no host's instance or hostname — often a label problem "
                    "(the host reports under another name).\n"
                )
                items = alert_lines(snap.unattributed_alerts, self.feed.clock(), with_instance=True)
        self.query_one("#unattributed-intro", Static).update(intro)
        self.query_one("#unattributed-list", Static).update(items)

    def action_refresh(self) -> None:
        self.feed.refresh_now()

    def action_close(self) -> None:
        self.dismiss()
