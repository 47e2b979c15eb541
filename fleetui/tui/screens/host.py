"""One host in full: state, where it is scraped, its last error, every label, each problem with its fix.

The actions come from the app's registry (fleetui.tui.actions): their keys become this screen's bindings, so
they also appear in the footer, the help screen, the palette and the actions list. The screen subscribes to
the fleet feed, so what it shows is never older than the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from fleetui.domain.fleet import HostStatus, HostTimes
from fleetui.tui import safe
from fleetui.tui.actions import HostAction, HostActions
from fleetui.tui.columns import state_text
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.feed import FleetFeed
from fleetui.tui.fmt import format_age, host_job, host_name
from fleetui.tui.messages import FleetRefreshed
from fleetui.tui.widgets.enriched import show_alerts
from fleetui.tui.widgets.key_footer import KeyFooter


class HostScreen(Screen[None]):
    """Build it with `host_screen(...)`, which gives it the keys of the actions registered right now."""

    HELP_TITLE = "host detail"

    def __init__(self, feed: FleetFeed, actions: HostActions, host: HostStatus) -> None:
        super().__init__(id="host")
        self.feed = feed
        self.actions = actions
        self.host = host
        self.times: HostTimes = feed.times()  # the host's times, as of the snapshot its row is from
        self.clock = feed.clock
        self.gone_from_fleet = False

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        with VerticalScroll(id="host-body"):
            yield Static(id="host-title")
            yield Static("Scrape", classes="section-title")
            yield Static(id="host-overview")
            yield Static("Alerts", classes="section-title", id="host-alerts-title")
            yield Static(id="host-alerts")
            yield Static("Alloy", classes="section-title", id="host-alloy-title")
            yield Static(id="host-alloy")
            yield Static("Labels", classes="section-title")
            yield Static(id="host-labels")
            yield Static("Problems", classes="section-title")
            yield Static(id="host-problems")
            yield Static("Actions", classes="section-title")
            yield OptionList(id="host-actions")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.host.instance
        self._render_host()
        self.feed.subscribe(self)
        self.query_one("#host-body", VerticalScroll).focus()  # arrows scroll; actions have their own keys

    # --- content ----------------------------------------------------------------------------------------

    def _render_host(self) -> None:
        h, now = self.host, self.clock()
        title = Text()
        retired_as = self.feed.retired_as(h.instance)
        title.append(("⊘ retired" if retired_as is not None else state_text(h.state)) + "  ")
        title.append(safe.text(h.instance, limit=safe.LINE_LIMIT, style="bold"))  # in full below
        if retired_as is not None:
            title.append(safe.text(f"   (target file renamed to {retired_as}; Prometheus still has its last samples)"))
        elif self.gone_from_fleet:
            title.append("   (no longer in the fleet: showing the last data)")
        self.query_one("#host-title", Static).update(title)
        self.query_one("#host-title", Static).set_classes(f"state-{h.state.value}")

        seen = "never"
        last_seen, took = self.times.last_seen.get(h.instance), self.times.scrape_duration.get(h.instance)
        if last_seen is not None:
            stamp = dt.datetime.fromtimestamp(last_seen, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            seen = f"{format_age(last_seen, now)} ({stamp})"
        rows = [
            ("instance", h.instance),
            ("hostname", host_name(h)),
            ("job", host_job(h) or "—"),
            ("mode", f"{h.mode.value} ({'Prometheus scrapes it' if h.mode.value == 'pull' else 'remote_write'})"),
            ("last seen", seen),
            ("scrape URL", h.scrape_url or "—"),
            ("scrape took", f"{took:.3f} s" if took is not None else "—"),
            ("last error", h.last_error or "none"),
        ]
        self.query_one("#host-overview", Static).update(_pairs(rows))
        show_alerts(self, h, now)
        labels = sorted(h.labels.items())
        self.query_one("#host-labels", Static).update(_pairs(labels) if labels else Text("no labels"))

        problems = Text()
        if not h.problems:
            problems.append("none")
        for i, p in enumerate(h.problems):
            if i:
                problems.append("\n")
            problems.append("⚠ ")
            problems.append(safe.text(p.code, style="bold"))
            problems.append("  ")
            problems.append(safe.text(p.message))  # quotes label keys and values
            problems.append("\n  fix: ")
            problems.append(safe.text(p.hint))
        self.query_one("#host-problems", Static).update(problems)

        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options([Option(_action_line(a), id=a.id) for a in self.actions.for_host(h)])
        if options.option_count:
            options.highlighted = min(highlighted or 0, options.option_count - 1)

    @on(FleetRefreshed)
    def _fleet_refreshed(self, event: FleetRefreshed) -> None:
        host = self.feed.host(self.host.instance)
        self.gone_from_fleet = event.snapshot is not None and host is None
        if host is not None:
            self.host, self.times = host, self.feed.times()
        self._render_host()

    # --- actions ----------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "host_action" and parameters:
            return any(a.id == parameters[0] for a in self.actions.for_host(self.host))
        return True

    def action_host_action(self, action_id: str) -> None:
        action = self.actions.get(action_id)
        if action is not None and action.available(self.host):
            action.run(self)

    @on(OptionList.OptionSelected, "#host-actions")
    def _action_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.action_host_action(event.option.id)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        for action in self.actions.for_host(self.host):
            yield PaletteCommand(f"Host: {action.label}", action.help, partial(self.action_host_action, action.id))

    def request_refresh(self) -> None:
        self.feed.refresh_now()
        self.notify("Refreshing the fleet…", timeout=2)

    def close(self) -> None:
        self.dismiss()


_SCREEN_CLASSES: dict[tuple[int, int], type[HostScreen]] = {}


def host_screen(feed: FleetFeed, actions: HostActions, host: HostStatus) -> HostScreen:
    """A host screen whose keys are the registry's actions as registered now.

    Textual reads a screen's bindings from its class, so the registry's bindings go into a subclass made for
    this registry version (cached): an action registered after the console started gets a working key on the
    next host screen opened.
    """
    key = (id(actions), actions.version)
    cls = _SCREEN_CLASSES.get(key)
    if cls is None:
        bindings: list[BindingType] = list(actions.bindings())
        cls = _SCREEN_CLASSES[key] = type("HostScreen", (HostScreen,), {"BINDINGS": bindings})
    return cls(feed, actions, host)


def _action_line(a: HostAction) -> Text:
    key = "Esc" if a.key == "escape" else a.key
    line = Text()
    line.append(f"{key:>5}  ", "bold")
    line.append(f"{a.label:<10} ")
    line.append(a.help)
    return line


def _pairs(rows: list[tuple[str, str]]) -> Text:
    """`key  value` lines, keys and values as typed (a label `[red]` stays `[red]`), values in full (folded):
    this is where a value cut elsewhere can be read whole."""
    keys = [safe.text(k, limit=safe.LINE_LIMIT // 2, style="bold") for k, _ in rows]
    width = max((k.cell_len for k in keys), default=0)
    text = Text(overflow="fold")
    for i, (key, (_, v)) in enumerate(zip(keys, rows, strict=True)):
        if i:
            text.append("\n")
        text.append(key)
        text.append(" " * (width - key.cell_len + 2))
        text.append(safe.text(v))
    return text
