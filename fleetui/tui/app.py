"""FleetApp: owns the fleet feed, the operations service, the host-action registry and the screens.

Screens get what they need handed in (the feed, the operations service, the registry) and subscribe to the
services; they ask for other screens with messages (OpenHost) the app answers, so no screen imports another.
The fleet comes from a FleetSource handed in by the caller (fleetui.commands.tui builds a PrometheusSource),
and time from a `clock`, so tests can render a fixed FleetSnapshot at a frozen time and get the same screen
every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import events, on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.theme import Theme

from fleetui import gate
from fleetui.config import ConfigError, Settings, save_value
from fleetui.domain.fleet import HostStatus
from fleetui.gcpause import FullPasses, full_pass
from fleetui.resources import themes_dir
from fleetui.tui import safe
from fleetui.tui.actions import HostActions, default_actions
from fleetui.tui.batch_messages import OpenBatch
from fleetui.tui.commands import FleetCommands, PaletteCommand
from fleetui.tui.feed import FleetFeed
from fleetui.tui.messages import FleetRefreshed, OpenDoctor, OpenHost, OpenLogs
from fleetui.tui.operations import Operations
from fleetui.tui.screens.batch import BatchScreen
from fleetui.tui.screens.fix import FixDialog, register_fix
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.help import HelpScreen
from fleetui.tui.screens.history import HistoryScreen
from fleetui.tui.screens.host import host_screen
from fleetui.tui.screens.plan import PlanScreen
from fleetui.tui.screens.retire import RetireDialog, register_retire
from fleetui.tui.screens.welcome import WelcomeScreen
from fleetui.tui.screens.wizard import WizardScreen, register_reenroll
from fleetui.tui.screens.wizard.opener import reenroll_form, suggestions_from
from fleetui.tui.source import FleetSource
from fleetui.tui.themes import DEFAULT_THEME, STATUS_VARIABLES, load_themes

STYLES = Path(__file__).parent / "styles"


class FleetApp(App[None]):
    TITLE = "fleetui"
    CSS_PATH = STYLES / "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {FleetCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit fleetui"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Show every key of this screen"),
        Binding("t", "next_theme", "Theme", id="app.theme", tooltip="Switch to the next fleetui theme"),
    ]

    def __init__(
        self,
        settings: Settings,
        source: FleetSource,
        *,
        config_file: Path | None = None,
        clock: Callable[[], float] = time.time,
        extra_theme_dirs: Iterable[Path] = (),
        operations: Operations | None = None,
        host_actions: HostActions | None = None,
    ) -> None:
        """`config_file`: where a theme change is remembered (None: not remembered, e.g. in tests)."""
        super().__init__()
        self.settings = settings
        self.config_file = config_file
        self.clock = clock
        self.feed = FleetFeed(source, interval=float(settings["refresh_interval"]), clock=clock)
        self.operations = operations or Operations(settings)
        self.host_actions = host_actions or default_actions()
        if self.host_actions.get("host.retire") is None:
            register_retire(self.host_actions, self.open_retire)
        if self.host_actions.get("host.reenroll") is None:
            register_reenroll(self.host_actions, self.open_reenroll)
        if self.host_actions.get("host.fix") is None:
            register_fix(self.host_actions, self.open_fix)
        loaded = load_themes(themes_dir(), *extra_theme_dirs)
        self.fleet_themes: list[str] = []
        for theme in loaded.themes:
            self.register_theme(theme)
            self.fleet_themes.append(theme.name)
        self._theme_failures = loaded.failures
        self._remembered_theme = str(settings["theme"])
        # the theme set before the app's first styling: set once mounted, Textual styled the whole app a second
        # time before the first frame (2 stylesheet updates at start, 1 now: counted)
        if self._remembered_theme in self.available_themes:
            self.theme = self._remembered_theme
        self.heap = FullPasses()  # when the collector's full pass runs (see _full_pass)

    @property
    def source(self) -> FleetSource:
        return self.feed.source

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(STATUS_VARIABLES)

    def on_mount(self) -> None:
        wanted = str(self.settings["theme"])
        if wanted not in self.available_themes:  # (a known one was set as the app was made)
            self.theme = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
            self.notify(
                f"Theme {wanted!r} not found; using {self.theme}. Known: {', '.join(self.fleet_themes)}",
                severity="warning",
                timeout=8,
            )
        for failure in self._theme_failures:
            self.notify(f"Theme file skipped: {failure}", severity="warning", timeout=8)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.operations.attach(self)
        self.push_screen(FleetScreen(self.feed, key_labels=tuple(self.settings["schema.required_labels"])))
        self.feed.subscribe(self)
        self.feed.start(self)
        self.set_interval(1.0, self._full_pass)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.heap.input(time.monotonic())
            # the refresh's thread steps aside until the frame answering this input is out (fleetui.gate)
            gate.input_arrived()
            self.call_after_refresh(gate.answered)
        await super().on_event(event)

    def _full_pass(self) -> None:
        """The collector's full pass over the frozen heap (fleetui.gcpause.full_pass) when it is due: it holds
        the interpreter lock for as long as it walks the whole fleet, so it waits for a pause in the typing."""
        if self.heap.due(time.monotonic()):
            full_pass()
            self.heap.ran(time.monotonic())

    # --- screens asked for by other screens -------------------------------------------------------------

    @on(OpenHost)
    def _open_host(self, message: OpenHost) -> None:
        host = self.feed.host(message.instance)
        if host is not None:
            self.push_screen(host_screen(self.feed, self.host_actions, host))

    @on(OpenLogs)
    def _open_logs(self, message: OpenLogs) -> None:
        from fleetui.tui.screens.logs import MAX_MERGED, open_logs

        if len(message.hosts) > MAX_MERGED:
            self.notify(f"{len(message.hosts)} hosts shown: filter down to {MAX_MERGED} or fewer for one merged log")
        elif message.hosts:
            open_logs(self, message.hosts, self.settings, on_unknown_key=self.operations.ask_host_key)

    @on(OpenDoctor)
    def _open_doctor(self, message: OpenDoctor) -> None:
        from fleetui.tui.screens.doctor import open_doctor

        if message.hosts:
            ops = self.operations
            open_doctor(self, message.hosts, self.settings, runner=ops.runner, on_unknown_key=ops.ask_host_key)

    def open_retire(self, host: HostStatus) -> None:
        self.push_screen(RetireDialog(self.operations, self.settings, self.feed, host))

    def open_fix(self, host: HostStatus) -> None:
        from fleetui.tui.screens.fix_push import PushFixDialog, push_codes

        if push_codes(host):  # a push host: the fix is an edit of its own Alloy config, over SSH
            self.push_screen(PushFixDialog(self.operations, self.settings, self.feed, host))
            return
        self.push_screen(FixDialog(self.operations, self.settings, self.feed, host))

    def action_history(self) -> None:
        self.push_screen(HistoryScreen(self.settings, self.operations.oplog))

    def action_enroll(self) -> None:
        snapshot = self.feed.snapshot
        suggestions = suggestions_from(snapshot.hosts if snapshot else (), self.settings["schema.required_labels"])
        self.push_screen(WizardScreen(self.operations, self.settings, suggestions=suggestions), self._show_in_fleet)

    def open_reenroll(self, host: HostStatus) -> None:
        snapshot = self.feed.snapshot
        required = self.settings["schema.required_labels"]
        suggestions = suggestions_from(snapshot.hosts if snapshot else (), required)
        form = reenroll_form(host, required)
        screen = WizardScreen(self.operations, self.settings, form=form, suggestions=suggestions, reenroll=True)
        self.push_screen(screen, self._show_in_fleet)

    def _show_in_fleet(self, instance: str | None) -> None:
        """After an enrollment: back to the fleet with the cursor on the host's row. A host enrolled a moment ago
        may not be in the fleet yet: read it now and keep trying, every half second for up to half a minute."""
        fleet = next((s for s in self.screen_stack if isinstance(s, FleetScreen)), None)
        if not instance or fleet is None:
            return
        while self.screen is not fleet:
            self.pop_screen()
        if fleet.table.move_cursor_to(instance):
            return
        self.feed.refresh_now()
        deadline = time.monotonic() + 30.0

        def again() -> None:
            if fleet.table.move_cursor_to(instance) or time.monotonic() > deadline:
                timer.stop()

        timer = self.set_interval(0.5, again)

    def action_unattributed_alerts(self) -> None:
        from fleetui.tui.screens.alerts import UnattributedAlertsScreen

        self.push_screen(UnattributedAlertsScreen(self.feed))

    def action_alloy_versions(self) -> None:
        from fleetui.tui.screens.versions import VersionsScreen

        self.push_screen(VersionsScreen(self.feed))

    @on(OpenBatch)
    def _open_batch(self, message: OpenBatch) -> None:
        self.push_screen(BatchScreen(self.operations, self.settings, message.path))

    def action_plan_enrollment(self) -> None:
        self.push_screen(PlanScreen(self.operations, self.settings))

    @on(FleetRefreshed)
    def _fleet_refreshed(self, message: FleetRefreshed) -> None:
        """Show the first-run screen while there has never been data; close it on the first success."""
        welcome = next((s for s in self.screen_stack if isinstance(s, WelcomeScreen)), None)
        if message.snapshot is None and message.error is not None:
            if welcome is None:
                self.push_screen(WelcomeScreen(self.feed, self.settings.source))
            else:
                welcome.update_error(message.error)
        elif message.snapshot is not None and welcome is not None and self.screen is welcome:
            self.pop_screen()

    # --- themes -----------------------------------------------------------------------------------------

    def action_next_theme(self) -> None:
        names = self.fleet_themes or sorted(self.available_themes)
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)

    def _remember_theme(self, theme: Theme) -> None:
        if theme.name == self._remembered_theme or self.config_file is None:
            return
        try:
            save_value(self.config_file, "theme", theme.name)
        except (OSError, ConfigError) as e:
            self.notify(f"Could not remember the theme in {self.config_file}: {e}", severity="warning")
            return
        self._remembered_theme = theme.name

    # --- help and palette -------------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """The app's own palette entries; each screen adds its own (fleetui.tui.commands)."""
        yield PaletteCommand("Help: keys of this screen", "List every key of the current screen (?)", self.action_help)
        yield PaletteCommand(
            "Enroll a host…",
            "The enrollment wizard: connect, choose what to collect, plan, apply (e on the fleet)",
            self.action_enroll,
        )
        yield PaletteCommand(
            "Plan enrollment of a host…",
            "What enroll would change on a host, over SSH; changes nothing",
            self.action_plan_enrollment,
        )
        yield PaletteCommand(
            "Enroll from a file (batch)…",
            "Many hosts at once from a host list or an Ansible inventory: live status per host, retry the failed",
            lambda: self.post_message(OpenBatch()),
        )
        yield PaletteCommand(
            "History of enrolled and retired hosts",
            "The targets directory as the audit trail, and every operation run from this machine",
            self.action_history,
        )
        yield PaletteCommand(
            "Alerts no host matches",
            "Firing alerts whose instance is no host of the fleet (often a label problem)",
            self.action_unattributed_alerts,
        )
        yield PaletteCommand(
            "Alloy versions in use",
            "Which Alloy versions the fleet runs, by how many hosts, and which hosts drift",
            self.action_alloy_versions,
        )
        for name in self.fleet_themes:
            yield PaletteCommand(
                f"Theme: {name}", f"Switch the console to {name} (remembered)", partial(setattr, self, "theme", name)
            )

    # --- the plain-text rule for app-wide sinks -------------------------------------------------------------

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header: screens put outside values in sub_title (an instance, a URL); shown as typed, cut."""
        return super().format_title(safe.clip(title), safe.clip(sub_title))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text: messages carry outside values (paths, errors, instances), and
        Textual would parse them as markup. `markup` is accepted (Widget.notify passes it) and ignored."""
        super().notify(
            safe.clip(message, safe.NOTIFY_LIMIT),
            title=safe.clip(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )
