"""The doctor screen: the checklist of one host (host detail `D`), or a fleet's first failures (fleet `D`).

One host: the checks in order as they complete, the first failure highlighted and selected, and under the list
the evidence and the fix of the check under the cursor. Several hosts: one row per host with its first
failing check, a tally of where the trouble starts, and Enter opens that host's checklist. The work is a
`DoctorRunner` (the real one runs fleetui.doctor over SSH and Prometheus; snapshot tests hand a fixed report,
a domain value). Every string shown comes from a host or Prometheus: it is built into Text as plain text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from fleetui.doctor.model import CHECKS, HEALTHY, TROUBLE_TITLES, CheckResult, DoctorReport, Status, tally_hosts
from fleetui.tui import safe
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.messages import OpenLogs
from fleetui.tui.safe import visible
from fleetui.tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from fleetui.adapters.ssh import OnUnknownKey
    from fleetui.config import Settings
    from fleetui.deploy.runner import Runner
    from fleetui.doctor.probe import DoctorTarget
    from fleetui.domain.fleet import HostStatus

SYMBOLS = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIPPED: "·"}
_VARIABLE = {Status.OK: "success", Status.WARN: "warning", Status.FAIL: "error"}

OnCheck = Callable[[str, CheckResult], None]


class DoctorRunner(Protocol):
    def __call__(self, targets: Sequence[DoctorTarget], on_check: OnCheck) -> Awaitable[list[DoctorReport]]: ...


class SshDoctor:
    """The real doctor: fleetui.doctor over SSH and Prometheus, on the console's operation runner (its
    per-host locks: no doctor in the middle of an enrollment), `ssh.concurrency` hosts at once. An unknown
    host key is asked about with the console's host-key dialog (`on_unknown_key`)."""

    def __init__(
        self, settings: Settings, *, runner: Runner | None = None, on_unknown_key: OnUnknownKey | None = None
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.on_unknown_key = on_unknown_key

    async def __call__(self, targets: Sequence[DoctorTarget], on_check: OnCheck) -> list[DoctorReport]:
        from fleetui.doctor.fleet import doctor_fleet

        return await doctor_fleet(
            self.settings, targets, runner=self.runner, on_unknown_key=self.on_unknown_key, on_check=on_check
        )


class FixedDoctor:
    """Fixed reports (snapshot tests): a domain value rendered the same every run, not a fake host."""

    def __init__(self, reports: Sequence[DoctorReport]) -> None:
        self.reports = list(reports)

    async def __call__(self, targets: Sequence[DoctorTarget], on_check: OnCheck) -> list[DoctorReport]:
        for r in self.reports:
            for c in r.checks:
                on_check(r.host, c)
        return self.reports


def _plain(text: str) -> str:
    return visible(text)


class DoctorScreen(Screen[None]):
    DEFAULT_CSS = """
    DoctorScreen #doctor-summary { height: auto; padding: 0 1; background: $panel; color: $text; }
    DoctorScreen #doctor-summary.-failed { background: $error-muted; }
    DoctorScreen #doctor-list {
        height: auto; max-height: 60%; border: none; background: $surface; text-wrap: nowrap; text-overflow: ellipsis;
    }
    DoctorScreen #doctor-detail-box {
        height: 1fr; padding: 0 1; background: $surface; border-top: solid $panel-lighten-1;
    }
    DoctorScreen #doctor-detail { color: $text; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun", "Run again", id="doctor.rerun", tooltip="Run every check again"),
        Binding("l", "logs", "Logs", id="doctor.logs", tooltip="Stream Alloy's logs of this host"),
        Binding("escape", "back", "Back", id="doctor.back", tooltip="Back"),
    ]

    HELP_TITLE = "doctor"
    HELP_ROWS: ClassVar[list[tuple[str, str]]] = [
        ("↑ ↓", "A check (its evidence and fix below); several hosts: a host"),
        ("⏎", "Several hosts: that host's checklist"),
    ]

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """This screen's palette entries (the app adds help and themes)."""
        if self.check_action("rerun", ()):
            yield PaletteCommand("Doctor: run again", "Run every check again (r)", self.action_rerun)
        if self.check_action("logs", ()):
            yield PaletteCommand("Doctor: Alloy logs of this host", "Stream its logs (l)", self.action_logs)

    def __init__(
        self,
        runner: DoctorRunner,
        targets: Sequence[DoctorTarget],
        *,
        reports: Sequence[DoctorReport] | None = None,
        settings: Settings | None = None,
        hosts: Sequence[HostStatus] = (),
    ) -> None:
        super().__init__(id="doctor")
        self.hosts = list(hosts)  # the fleet hosts behind `targets` (for their logs), when opened from the fleet
        self.runner = runner
        self.targets = list(targets)
        self.settings = settings
        self.reports: list[DoctorReport] = list(reports or [])
        self.partial: dict[str, dict[str, CheckResult]] = {}
        self.running = False
        self._worker: Worker[list[DoctorReport]] | None = None

    @property
    def fleet_mode(self) -> bool:
        return len(self.targets) > 1 or len(self.reports) > 1

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        yield Static(id="doctor-summary")
        yield OptionList(id="doctor-list")
        with VerticalScroll(id="doctor-detail-box"):
            yield Static(id="doctor-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = "Doctor"
        names = [t.name for t in self.targets] or [r.host for r in self.reports]
        self.sub_title = names[0] if len(names) == 1 else f"{len(names)} hosts"
        self.query_one(OptionList).focus()
        if self.reports:
            self._show()
        else:
            self.action_rerun()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "logs":
            return not self.fleet_mode and self.settings is not None and bool(self.targets)
        if action == "rerun":
            return bool(self.targets) and not self.running
        return True

    # --- running ------------------------------------------------------------------------------------------

    def action_rerun(self) -> None:
        if self.running or not self.targets:
            return
        self.running = True
        self.partial = {t.name: {} for t in self.targets}
        self.reports = []
        self._worker = self.run_worker(
            self.runner(self.targets, self._check_done),
            name="doctor",
            group="doctor",
            description=f"doctor {', '.join(t.name for t in self.targets[:3])}",
            exit_on_error=False,
        )
        self._show()
        self.refresh_bindings()

    def _check_done(self, host: str, result: CheckResult) -> None:
        self.partial.setdefault(host, {})[result.id] = result
        self._show()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.running = False
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            self.reports = list(event.worker.result)
        else:
            why = visible(str(event.worker.error))
            self.notify(f"The doctor stopped: {why}", severity="error", timeout=8, markup=False)
        self._show()
        self.refresh_bindings()

    # --- showing ------------------------------------------------------------------------------------------

    def _colour(self, status: Status) -> str:
        """The theme's colour for a status (skipped: dim), as a Rich style string."""
        if status not in _VARIABLE:
            return "dim"
        return self.app.get_css_variables().get(_VARIABLE[status], "")

    def _show(self) -> None:
        if self.fleet_mode:
            self._show_fleet()
        else:
            self._show_host()

    def _checks(self) -> tuple[list[CheckResult], DoctorReport | None]:
        if self.reports:
            return list(self.reports[0].checks), self.reports[0]
        done = self.partial.get(self.targets[0].name, {}) if self.targets else {}
        return [done[s.id] for s in CHECKS if s.id in done], None

    def _show_host(self) -> None:
        results, report = self._checks()
        summary = self.query_one("#doctor-summary", Static)
        first = next((c for c in results if c.status is Status.FAIL), None)
        line = Text()
        name = report.host if report else (self.targets[0].name if self.targets else "")
        line.append(_plain(name), "bold")
        if report is not None:
            line.append(f"  {_plain(report.address)}")
            if report.mode:
                line.append(f"  ({report.mode})")
        if self.running:
            line.append(f"   examining… {len(results)}/{len(CHECKS)} checks")
        elif first is not None:
            line.append(f"   first failure: {first.title}")
        elif results:
            line.append("   no check failed")
        summary.update(line)
        summary.set_class(first is not None, "-failed")
        options = self.query_one(OptionList)
        keep = options.highlighted
        options.clear_options()
        width = max(len(s.title) for s in CHECKS)
        for c in results:
            row = Text(no_wrap=True, overflow="ellipsis")
            row.append("→ " if c is first else "  ", "bold")
            row.append(f"{SYMBOLS[c.status]} {c.status.value:<7} ", self._colour(c.status))
            row.append(f"{c.title:<{width}}  ", "bold" if c is first else "")
            row.append(_plain(c.summary))
            options.add_option(Option(row, id=c.id))
        if results:
            if keep is None or not self.running:
                keep = results.index(first) if first is not None else 0
            options.highlighted = min(keep, len(results) - 1)
            self._detail_check(results[options.highlighted])

    def _detail_check(self, c: CheckResult) -> None:
        text = Text()
        text.append(f"{SYMBOLS[c.status]} {c.title}: ", self._colour(c.status) + " bold")
        text.append(_plain(c.summary))
        if c.elapsed_s:
            text.append(f"   ({c.elapsed_s:.2f}s)")
        if c.evidence:
            text.append("\nevidence:", "bold")
            for ev in c.evidence:
                text.append("\n  " + _plain(ev))
        if c.hint:
            text.append("\nfix: ", "bold")
            text.append(_plain(c.hint))
        self.query_one("#doctor-detail", Static).update(text)

    def _host_rows(self) -> list[tuple[str, CheckResult | None, bool]]:
        """(host, first failure or None, finished) per host, in target order."""
        rows = []
        by_host = {r.host: r for r in self.reports}
        for name in [t.name for t in self.targets] or list(by_host):
            report = by_host.get(name)
            if report is not None:
                rows.append((name, report.first_failure, True))
            else:
                done = self.partial.get(name, {})
                first = next((done[s.id] for s in CHECKS if s.id in done and done[s.id].status is Status.FAIL), None)
                rows.append((name, first, len(done) == len(CHECKS)))
        return rows

    def tally_text(self) -> Text:
        """Where the fleet's trouble starts: per first failing check, how many hosts and which."""
        out = Text(no_wrap=True, overflow="ellipsis")
        for key, hosts in tally_hosts(self.reports).items():
            if key == HEALTHY:
                continue
            out.append("\n")
            out.append(f"{len(hosts):>4}  ", "bold")
            out.append(f"{TROUBLE_TITLES[key]:<30} ", self._colour(Status.FAIL))
            out.append(visible(", ".join(hosts)))
        return out

    def _show_fleet(self) -> None:
        rows = self._host_rows()
        finished = [r for r in rows if r[2]]
        summary = Text()
        summary.append(f"{len(rows)} hosts", "bold")
        if self.running:
            summary.append(f" · examining… {len(finished)}/{len(rows)} done")
        if self.reports:
            healthy = sum(1 for r in self.reports if r.healthy)
            summary.append(f" · {healthy} without failure · where the trouble starts:")
            summary.append_text(self.tally_text())
        self.query_one("#doctor-summary", Static).update(summary)
        self.query_one("#doctor-summary", Static).set_class(any(r[1] for r in rows), "-failed")
        options = self.query_one(OptionList)
        keep = options.highlighted
        options.clear_options()
        width = min(24, max((len(visible(r[0])) for r in rows), default=4))
        stopped = {r.host: r.error for r in self.reports if r.error}
        for name, first, done in rows:
            row = Text(no_wrap=True, overflow="ellipsis")
            if first is not None or name in stopped:
                row.append(f"{SYMBOLS[Status.FAIL]} ", self._colour(Status.FAIL))
            elif done:
                row.append(f"{SYMBOLS[Status.OK]} ", self._colour(Status.OK))
            else:
                row.append("… ")
            row.append(f"{visible(name):<{width}}  ", "bold")
            if first is not None:
                row.append(f"{first.title}: ", self._colour(Status.FAIL))
                row.append(_plain(first.summary))
            elif name in stopped:
                row.append(_plain(stopped[name] or ""), self._colour(Status.FAIL))
            elif done:
                row.append("no check failed")
            else:
                row.append("examining…")
            options.add_option(Option(row, id=f"host-{len(options.options)}"))
        if rows:
            options.highlighted = min(keep or 0, len(rows) - 1)
            self._detail_host(options.highlighted)

    def _detail_host(self, index: int) -> None:
        rows = self._host_rows()
        if not 0 <= index < len(rows):
            return
        name, first, done = rows[index]
        detail = self.query_one("#doctor-detail", Static)
        error = next((r.error for r in self.reports if r.host == name and r.error), None)
        if first is not None:
            self._detail_check(first)
        elif error is not None:
            detail.update(safe.text(f"{name}: {error}"))
        else:
            detail.update(Text(f"{_plain(name)}: " + ("no check failed" if done else "examining…")))

    @on(OptionList.OptionHighlighted, "#doctor-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.fleet_mode:
            self._detail_host(event.option_index)
            return
        results, _ = self._checks()
        if 0 <= event.option_index < len(results):
            self._detail_check(results[event.option_index])

    @on(OptionList.OptionSelected, "#doctor-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if not self.fleet_mode:
            return
        rows = self._host_rows()
        name = rows[event.option_index][0]
        report = next((r for r in self.reports if r.host == name), None)
        target = next((t for t in self.targets if t.name == name), None)
        if report is not None:
            self.app.push_screen(
                DoctorScreen(self.runner, [target] if target else [], reports=[report], settings=self.settings)
            )

    # --- other actions ------------------------------------------------------------------------------------

    def action_logs(self) -> None:
        if self.hosts:
            self.post_message(OpenLogs(self.hosts[:1]))

    def action_back(self) -> None:
        self.dismiss()


def open_doctor(
    app: object,
    hosts: Sequence[HostStatus],
    settings: Settings,
    *,
    runner: Runner | None = None,
    on_unknown_key: OnUnknownKey | None = None,
) -> DoctorScreen:
    """Push the doctor for fleet hosts (one: its checklist; several: first failures and a tally), on the
    console's `runner` with its host-key question `on_unknown_key`."""
    from textual.app import App

    from fleetui.doctor.fleet import fleet_targets

    assert isinstance(app, App)
    doctor = SshDoctor(settings, runner=runner, on_unknown_key=on_unknown_key)
    screen = DoctorScreen(doctor, fleet_targets(hosts, settings), settings=settings, hosts=hosts)
    app.push_screen(screen)
    return screen
