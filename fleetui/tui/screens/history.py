"""History: the targets directory read as the audit trail, and the local log of every operation the console ran.

Two tables, one filter (`/`, free text matched against every cell): hosts enrolled and retired with their
times and labels, each target file once; and the operation log, newest first (local user, time, host,
operation, outcome, what the host was left as, sha256 of its config). Every cell is outside text and goes
through fleetui.tui.safe. The CLI twin is `fleetui history`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from fleetui.adapters.oplog import OpLog, OpRecord
from fleetui.adapters.ssh import SshError
from fleetui.adapters.targets import HistoryEntry, TargetStoreError, iso_utc, open_store
from fleetui.config import Settings
from fleetui.tui import safe
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.widgets.key_footer import KeyFooter
from fleetui.tui.widgets.plain_input import PlainInput


def entry_row(e: HistoryEntry) -> tuple[str, ...]:
    labels = " ".join(f"{k}={v}" for k, v in sorted(e.labels.items()))
    retired = iso_utc(e.retired_at) if e.retired_at is not None else "-"
    return (e.name, e.state, iso_utc(e.updated_at), retired, ", ".join(e.targets) or "-", labels)


def record_row(r: OpRecord) -> tuple[str, ...]:
    j = r.to_json()
    return (j["time"], r.user, r.host, r.operation, r.outcome, r.host_state, (r.config_sha256 or "-")[:12])


def matches(row: tuple[str, ...], needle: str) -> bool:
    return not needle or any(needle.lower() in cell.lower() for cell in row)


class HistoryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        # a priority binding, handled as `/` arrives: the keys behind it in one read are the filter's (see
        # PlainInput.opened_by)
        Binding(
            "slash", "filter", "Filter", id="history.filter", tooltip="Filter both tables by any text", priority=True
        ),
        Binding("r", "reload", "Reload", id="history.reload", tooltip="Read the targets directory and the log again"),
        Binding("b", "last_batch", "Last batch", id="history.batch", tooltip="The last batch: its hosts, retry failed"),
        Binding("escape", "close", "Back", id="history.back", tooltip="Clear the filter, or back"),
    ]
    HELP_TITLE = "history"
    AUTO_FOCUS = "#history-trail"
    DEFAULT_CSS = """
    #history-body { height: 1fr; }
    #history-trail { height: 1fr; }
    #history-log { height: 1fr; }
    """

    def __init__(self, settings: Settings, oplog: OpLog) -> None:
        super().__init__(id="history")
        self.settings, self.oplog = settings, oplog
        self.entries: list[HistoryEntry] = []
        self.records: list[OpRecord] = []
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        yield PlainInput(placeholder="filter: any text (host, label, operation, user)", id="history-filter")
        with Vertical(id="history-body"):
            yield Static("Enrolled and retired hosts (targets directory)", classes="section-title", id="trail-title")
            yield DataTable(id="history-trail", cursor_type="row", zebra_stripes=True)
            yield Static("Operations run from this machine (newest first)", classes="section-title", id="log-title")
            yield DataTable(id="history-log", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "history"
        self.query_one("#history-filter", Input).display = False
        trail = self.query_one("#history-trail", DataTable)
        trail.add_columns("host", "state", "last enrolled", "retired", "targets", "labels")
        log = self.query_one("#history-log", DataTable)
        log.add_columns("time (UTC)", "user", "host", "operation", "outcome", "host left", "config")
        self.action_reload()

    def palette_commands(self) -> Iterator[PaletteCommand]:
        yield PaletteCommand("History: filter", "Filter the audit trail and the operation log (/)", self.action_filter)
        yield PaletteCommand("History: reload", "Read the targets directory and the log again (r)", self.action_reload)
        yield PaletteCommand(
            "History: last batch", "The last batch's hosts; retry the failed (b)", self.action_last_batch
        )

    def action_last_batch(self) -> None:
        """The newest results file of a batch (written by the console and by `fleetui enroll --from`)."""
        from fleetui.commands.batch_enroll import default_results_path
        from fleetui.tui.batch_messages import OpenBatch

        found = sorted(default_results_path().parent.glob("enroll-*.json"))
        if not found:
            self.notify("No batch has been run from this machine yet")
            return
        self.post_message(OpenBatch(found[-1]))

    @work(group="history", exclusive=True, exit_on_error=False)
    async def action_reload(self) -> None:
        try:
            async with open_store(self.settings) as store:
                self.entries = await store.history()
                self.error = ""
        except (TargetStoreError, SshError, OSError) as e:
            self.error = f"Cannot read the targets directory: {e}"
        try:
            self.records = list(reversed(self.oplog.read()))
        except OSError as e:
            self.error = f"Cannot read the operation log {self.oplog.path}: {e}"
        self._fill()

    def _fill(self) -> None:
        needle = self.query_one("#history-filter", Input).value.strip()
        trail = self.query_one("#history-trail", DataTable)
        trail.clear()
        rows = [entry_row(e) for e in self.entries]
        for row in rows:
            if matches(row, needle):
                trail.add_row(*(safe.text(c, limit=safe.LINE_LIMIT) for c in row))
        log = self.query_one("#history-log", DataTable)
        log.clear()
        for r in self.records:
            row = record_row(r)
            if matches(row, needle):
                log.add_row(*(safe.text(c, limit=safe.LINE_LIMIT) for c in row))
        title = f"Enrolled and retired hosts ({trail.row_count} of {len(rows)})"
        self.query_one("#trail-title", Static).update(safe.text(self.error or title, limit=safe.NOTIFY_LIMIT))
        count = f"Operations run from this machine, newest first ({log.row_count} of {len(self.records)})"
        self.query_one("#log-title", Static).update(count)

    @on(Input.Changed, "#history-filter")
    def _filtered(self) -> None:
        self._fill()

    @on(Input.Submitted, "#history-filter")
    def _filter_done(self) -> None:
        self.query_one("#history-trail", DataTable).focus()

    def action_filter(self) -> None:
        """Open the filter box, focused at once; in the open box, `/` is typed like any other character."""
        box = self.query_one("#history-filter", PlainInput)
        box.display = True
        box.opened_by("/")

    def action_close(self) -> None:
        box = self.query_one("#history-filter", Input)
        if box.value:
            box.value = ""
            box.display = False
            self.query_one("#history-trail", DataTable).focus()
            return
        self.dismiss()
