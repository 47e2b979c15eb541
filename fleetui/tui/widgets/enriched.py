"""The host detail's enriched sections — alerts and Alloy drift — filled from the fleet feed.

Kept out of the host screen so that screen only adds two sections; the text itself is built in
fleetui.tui.alerts_fmt (plain text through fleetui.tui.safe).
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from fleetui.domain.fleet import HostStatus
from fleetui.tui.alerts_fmt import drift_text, host_alerts_text
from fleetui.tui.source import enriched


def show_alerts(screen: Any, h: HostStatus, now: float) -> None:
    """Fill the host detail's alerts and Alloy sections (`#host-alerts`, `#host-alloy` and their titles); hidden
    when the console's source is not enriched (a fixed snapshot without alerts)."""
    feed = screen.feed
    shown = enriched(feed.source)
    for widget in screen.query("#host-alerts-title, #host-alerts, #host-alloy-title, #host-alloy"):
        widget.display = shown
    if shown:
        view = feed.snapshot.alerts_view if feed.snapshot is not None else None
        screen.query_one("#host-alerts", Static).update(host_alerts_text(h, view, now))
        screen.query_one("#host-alloy", Static).update(drift_text(h))
