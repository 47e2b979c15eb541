"""Alloy versions in use: which versions the fleet runs and by how many hosts, and which hosts drift.

Versions come from `alloy_build_info` in Prometheus where Alloy exports it, else from what fleetui read at the
host's last enrollment from this machine (fleetui.domain.drift); hosts with neither count as "unknown". Below
the counts, every host whose version is not the fleet's most common one or whose running config is not the
one fleetui applied. Follows the fleet feed. The CLI twin is `fleetui status` (`versions` in `--json`).
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

from fleetui.domain.drift import UNKNOWN, short, unknown_why, versions_in_use
from fleetui.tui import safe
from fleetui.tui.feed import FleetFeed
from fleetui.tui.messages import FleetRefreshed
from fleetui.tui.widgets.key_footer import KeyFooter


class VersionsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="versions.refresh", tooltip="Read the fleet now"),
        Binding("escape", "close", "Back", id="versions.back", tooltip="Back to the fleet"),
    ]
    HELP_TITLE = "Alloy versions"

    def __init__(self, feed: FleetFeed) -> None:
        super().__init__(id="versions")
        self.feed = feed

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        with VerticalScroll(id="versions-body"):
            yield Static("Versions in use", classes="section-title")
            yield Static(id="versions-counts")
            yield Static("Drift", classes="section-title")
            yield Static(id="versions-drift")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "Alloy versions in use"
        self._render_versions()
        self.feed.subscribe(self)
        self.query_one("#versions-body", VerticalScroll).focus()

    @on(FleetRefreshed)
    def _fleet_refreshed(self, event: FleetRefreshed) -> None:
        self._render_versions()

    def _render_versions(self) -> None:
        snap = self.feed.snapshot
        hosts = snap.hosts if snap is not None else ()
        counts = Text()
        rows = versions_in_use(hosts)
        width = max((len(v) for v, _ in rows), default=0)
        total = len(hosts) or 1
        for i, (version, n) in enumerate(rows):
            if i:
                counts.append("\n")
            counts.append(safe.text(version.ljust(width), limit=64, style="bold"))
            bar = "█" * max(1, round(30 * n / total))
            counts.append(f"  {n:>5} host{'s' if n != 1 else ' '}  {bar}")
        if not rows:
            counts.append("no hosts")
        if any(version == UNKNOWN for version, _ in rows):  # why, as the host detail says it (a whole lab reads so)
            counts.append(f"\n\n{UNKNOWN}: {unknown_why(one=False)}", style="dim")
        drifted = [h for h in hosts if h.drift is not None and (h.drift.version_drift or h.drift.config == "changed")]
        lines = Text()
        if not drifted:
            lines.append(
                "none: every host with a known version runs the fleet's most common one, and no running "
                "config differs from the one fleetui applied"
            )
        for i, h in enumerate(sorted(drifted, key=lambda h: h.instance)):
            if i:
                lines.append("\n")
            lines.append(safe.text(h.instance, limit=60))
            lines.append("  ")
            lines.append(safe.text(short(h.drift), limit=40))
            d = h.drift
            if d is not None and d.version_drift and d.majority_version:
                lines.append(f"  ({d.version_drift} than ")
                lines.append(safe.text(d.majority_version, limit=40))
                lines.append(")")
            if d is not None and d.config == "changed":
                lines.append("  config changed since fleetui applied it")
        self.query_one("#versions-counts", Static).update(counts)
        self.query_one("#versions-drift", Static).update(lines)

    def action_refresh(self) -> None:
        self.feed.refresh_now()

    def action_close(self) -> None:
        self.dismiss()
