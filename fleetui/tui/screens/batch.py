"""The batch screen: enroll the hosts of a file at once, watch each host, retry the failed ones only.

Opened from the palette ("Enroll from a file (batch)…": a path input) or from history for a previous batch (its results
file: each host's outcome, `R` retries those that did not come up). What it does, in order:

1. reads the file (a fleetui YAML/CSV host list, an Ansible inventory, or a results file) and checks every row as
   `fleetui enroll --from` does; an unreadable or invalid file is said in one line, bad rows are listed with their
   reasons before anything starts (and only the valid hosts are ever started);
2. on `s`, reads every host's key first and lists each fingerprint not in fleetui's known_hosts for ONE review
   (trust all / refuse): a refused or changed key makes that host fail alone, with that reason;
3. hands the hosts to the app's operations service, which runs them on the shared runner (the screen only shows
   them): a table, one row per host (step, elapsed, outcome, failure), and one merged log whose lines are
   prefixed by host; `+`/`-` change how many hosts run at once (for hosts not yet started); `R` retries failed
   hosts only; leaving or quitting while it runs asks first, then cancels cleanly (running hosts roll back) and
   the table says what each host is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Input, Log, Static

from fleetui.adapters.keyscan import ScannedKey, scan
from fleetui.adapters.ssh import HostKeyInfo, SshTarget
from fleetui.commands.batch_enroll import build_hosts, default_results_path, key_message
from fleetui.config import Settings
from fleetui.deploy.batch import BatchEvent, BatchHost, failed_entries
from fleetui.domain.hostlist import HostEntry, HostListError, from_yaml_data, parse
from fleetui.tui import safe
from fleetui.tui.batch_messages import BatchDone, BatchProgress
from fleetui.tui.commands import PaletteCommand
from fleetui.tui.operations import BatchHandle, Operations
from fleetui.tui.widgets.batch_table import BatchTable, KeyReviewDialog, StopBatchDialog
from fleetui.tui.widgets.key_footer import KeyFooter
from fleetui.tui.widgets.plain_input import PlainInput

SHOWN = {"done": "ok  ", "skipped": "skip", "failed": "FAIL", "progress": "  .."}
MAX_LOG_LINES = 5000


def load_file(path: Path) -> tuple[list[HostEntry], str, dict[str, dict[str, Any]]]:
    """(entries, source, previous outcomes by host name) of a host list or a previous batch's results file;
    ValueError with one sentence when the file cannot be read or is not a host list."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None
    data: Any = None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if isinstance(data, dict) and "fleetui_batch" in data:
        try:
            failed_entries(data)  # checks the version and shape
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        keys = ("name", "address", "port", "user", "identity", "password_env", "mode", "services", "labels")
        rows = [{k: h.get(k) for k in keys} for h in data["hosts"] if isinstance(h, dict)]
        previous = {str(h.get("name")): h for h in data["hosts"] if isinstance(h, dict)}
        try:
            return from_yaml_data({"hosts": rows}), f"retry of {path}", previous
        except HostListError as e:
            raise ValueError(f"{path}: {e}") from None
    try:
        entries = parse(text, path.name)
    except HostListError as e:
        raise ValueError(f"{path}: {e}") from None
    if not entries:
        raise ValueError(f"{path}: no hosts")
    return entries, str(path), {}


class BatchScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start", id="batch.start", tooltip="Start the hosts that have not run yet"),
        Binding("R", "retry_failed", "Retry failed", id="batch.retry", tooltip="Run the failed hosts again, only"),
        Binding("plus,equals_sign", "concurrency(1)", "+1 at once", id="batch.more", tooltip="One more host at once"),
        Binding("minus", "concurrency(-1)", "-1 at once", id="batch.fewer", tooltip="One host fewer at once"),
        Binding(
            "o",
            "open_file",
            "Open file",
            id="batch.open",
            tooltip="Type the path of a host list",
            # handled as the key arrives, so a path typed right behind it (tmux, a fast typist, a laggy SSH link:
            # several keys in one read) goes into the box; handled where the table had the focus, the `s` of
            # `/srv/hosts.yaml` started the batch there
            priority=True,
        ),
        Binding("escape", "leave", "Back", id="batch.back", tooltip="Back (asks first while a batch runs)"),
        Binding("q", "leave(True)", "Quit", id="batch.quit", tooltip="Quit (asks first while a batch runs)"),
    ]
    HELP_TITLE = "batch enrollment"
    AUTO_FOCUS = "#batch-table"
    DEFAULT_CSS = """
    #batch-path { height: 3; }
    #batch-status { height: auto; max-height: 8; padding: 0 1; }
    #batch-summary { height: 1; padding: 0 1; background: $panel; }
    #batch-table { height: 1fr; }
    #batch-log { height: 1fr; border-top: solid $panel-lighten-2; }
    """

    def __init__(
        self,
        operations: Operations,
        settings: Settings,
        path: Path | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        results_path: Callable[[], Path] = default_results_path,
    ) -> None:
        """`now`: the clock of the elapsed column (fixed in snapshot tests); `results_path`: where each run's
        results file goes (default: the state dir's batches/)."""
        super().__init__(id="batch")
        self.operations, self.settings, self.path = operations, settings, path
        self.now, self.results_path = now, results_path
        self.concurrency = int(settings["ssh.concurrency"])
        self.source = ""
        self.hosts: dict[str, BatchHost] = {}
        self.bad: list[str] = []
        self.unknown_keys: dict[str, HostKeyInfo] = {}
        self.trusted: dict[str, str] = {}
        self.handle: BatchHandle | None = None
        self.handles: list[BatchHandle] = []
        self.message = ""
        self._quit_when_done = False
        self._stopping = False

    # --- layout -------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="◎")
        yield PlainInput(
            placeholder="path of a host list (YAML, CSV, Ansible inventory) or a results file", id="batch-path"
        )
        yield Static(id="batch-status")
        yield Static(id="batch-summary")
        yield BatchTable(now=self.now, id="batch-table")
        yield Log(id="batch-log", max_lines=MAX_LOG_LINES)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "batch enrollment"
        self.operations.subscribe(self)
        self.set_interval(1.0, self._tick)
        box = self.query_one("#batch-path", Input)
        if self.path is not None:
            box.value = str(self.path)
            self.load(self.path)
        else:
            box.focus()
        self._show()

    def palette_commands(self) -> Iterator[PaletteCommand]:
        yield PaletteCommand("Batch: start", "Start the hosts that have not run yet (s)", self.action_start)
        yield PaletteCommand(
            "Batch: retry failed hosts", "Run only the hosts that failed again (R)", self.action_retry_failed
        )
        yield PaletteCommand("Batch: open another file", "Type the path of a host list (o)", self.action_open_file)

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.running

    # --- loading ------------------------------------------------------------------------------------------

    @on(Input.Submitted, "#batch-path")
    def _path_given(self, event: Input.Submitted) -> None:
        if self.running:
            self.notify("A batch is running: open another file when it has ended", severity="warning")
            return
        value = event.value.strip()
        if not value:
            self._set_message("Type the path of a host list, then Enter.")
            return
        self.load(Path(value).expanduser())
        self.query_one("#batch-table", BatchTable).focus()

    def load(self, path: Path) -> None:
        """Read and check every row; bad rows are listed and never started. Nothing connects here."""
        self.path = path
        self.hosts, self.bad, self.unknown_keys, self.trusted = {}, [], {}, {}
        table = self.query_one("#batch-table", BatchTable)
        table.clear()
        try:
            entries, source, previous = load_file(path)
        except ValueError as e:
            self.source = ""
            self._set_message(f"Cannot use this file: {e}")
            self._show()
            return
        self.source = source
        hosts, self.bad = build_hosts(entries, self.settings, self.unknown_keys, self.trusted)
        for h in hosts:
            before = previous.get(h.name)
            if before is not None:
                _restore(h, before)
            self.hosts[h.name] = h
        self._set_message(self._loaded_message(len(entries)))
        self._show()

    def _loaded_message(self, total: int) -> str:
        lines = []
        if self.bad:
            lines.append(f"{len(self.bad)} of {total} hosts cannot be enrolled as listed (they will not be started):")
            lines += [f"  {line}" for line in self.bad]
        todo = sum(1 for h in self.hosts.values() if h.state == "waiting")
        failed = sum(1 for h in self.hosts.values() if h.state in ("failed", "not started"))
        if failed:
            lines.append(f"{failed} hosts did not come up in that batch: R retries them only.")
        elif todo:
            lines.append(f"{todo} hosts ready. Press s to start (host keys are reviewed first).")
        elif not self.hosts:
            lines.append("No host can be started: fix the file and open it again (o).")
        return "\n".join(lines)

    def action_open_file(self) -> None:
        """Put the cursor at the end of the path box; in the box, `o` is typed like any other character (the
        binding is a priority one, see BINDINGS)."""
        box = self.query_one("#batch-path", PlainInput)
        if not box.opened_by("o"):
            box.cursor_position = len(box.value)

    # --- starting ----------------------------------------------------------------------------------------

    def action_start(self) -> None:
        todo = [h for h in self.hosts.values() if h.state == "waiting"]
        self._begin(todo, "Nothing to start: every host has run (R retries the failed ones).")

    def action_retry_failed(self) -> None:
        failed = [h for h in self.hosts.values() if h.state in ("failed", "not started")]
        if not failed or self.running:
            self._begin([], "No failed host to retry.")
            return
        # fresh operations (every check again) for exactly the failed hosts; the others keep their rows
        rebuilt, bad = build_hosts([_entry_of(h) for h in failed], self.settings, self.unknown_keys, self.trusted)
        for h in failed:
            self.unknown_keys.pop(h.name, None)
        for h in rebuilt:
            self.hosts[h.name] = h
        self.bad = bad
        self._begin(rebuilt, "No failed host to retry.")

    def _begin(self, hosts: list[BatchHost], nothing: str) -> None:
        if self.running:
            self.notify("A batch is running already", severity="warning")
            return
        if not hosts:
            self.notify(nothing)
            return
        self._review_and_start(hosts)

    @work(group="batch-keys", exclusive=True, exit_on_error=False)
    async def _review_and_start(self, hosts: list[BatchHost]) -> None:
        self._set_message(f"Reading the host keys of {len(hosts)} hosts…")
        targets = [(h.name, _target(h)) for h in hosts]
        found = await scan(self.settings, targets, max(self.concurrency, 8))
        unknown = [k for k in found if k.state == "unknown"]
        changed = [k for k in found if k.state == "changed"]
        if unknown or changed:
            trust = await self.app.push_screen_wait(KeyReviewDialog(unknown, changed))
            if trust:
                for k in unknown:
                    assert k.info is not None
                    self.trusted[k.name] = k.info.fingerprint
        self._start(hosts, found)

    def _start(self, hosts: list[BatchHost], keys: list[ScannedKey]) -> None:
        refused = sum(1 for k in keys if k.state == "unknown" and k.name not in self.trusted)
        self.handle = self.operations.start_batch(
            hosts, concurrency=self.concurrency, source=self.source, results_path=self.results_path()
        )
        self.handles.append(self.handle)
        note = f"; {refused} unknown host key(s) refused: those hosts fail" if refused else ""
        self._set_message(f"Enrolling {len(hosts)} hosts from {self.source}{note}.")
        self._log_line("", f"batch: {len(hosts)} hosts, {self.concurrency} at a time{note}")
        self._show()

    # --- progress ---------------------------------------------------------------------------------------

    @on(BatchProgress)
    def _progress(self, message: BatchProgress) -> None:
        if self.handle is None or message.batch_id != self.handle.id:
            return
        ev = message.event
        host = self.hosts.get(ev.host) if ev.host else None
        if ev.kind == "host" and host is not None and host.state == "failed":
            self._explain_key(host)
        self._log_event(ev, host)
        if host is not None:
            self.query_one("#batch-table", BatchTable).show([host])
        self._show_summary()

    @on(BatchDone)
    def _done(self, message: BatchDone) -> None:
        handle = self.handle
        if handle is None or message.batch_id != handle.id:
            return
        b = handle.batch
        for h in b.hosts:
            if h.state != "ok":
                state = f"host {h.result.host_state}" if h.result is not None else "host untouched"
                self._log_line(h.name, f"{h.failure or h.state}; {state}")
        verdict = "stopped" if self._stopping else "finished"
        text = (
            f"Batch {verdict}: {b.count('ok')} enrolled, {b.count('failed')} failed, {b.count('not started')} "
            f"not started. Results: {handle.results_path}"
        )
        if handle.write_error:
            text += f"\n{handle.write_error}"
        if b.count("failed") or b.count("not started"):
            text += "\nR retries the failed hosts only."
        self._set_message(text)
        self._stopping = False
        self._show()
        if self._quit_when_done:
            self.app.exit()

    def _explain_key(self, h: BatchHost) -> None:
        info = self.unknown_keys.get(h.name)
        if info is not None and h.result is not None and h.result.failed_step == "connect":
            h.error = f"connect failed: {key_message(info, self.settings.known_hosts)}"

    def _log_event(self, ev: BatchEvent, host: BatchHost | None) -> None:
        if ev.kind == "stopped":
            self._log_line("", f"STOPPED: {ev.message}")
        elif ev.kind == "step" and ev.step is not None and ev.step.status.value in SHOWN:
            s = ev.step
            self._log_line(ev.host, f"{SHOWN[s.status.value]} {s.step:<9} {s.message}")
        elif ev.kind == "host" and host is not None and host.state in ("ok", "failed"):
            self._log_line(host.name, host.ending)

    def _log_line(self, host: str, text: str) -> None:
        """One merged-log line, prefixed by its host; all of it plain text (made visible, never markup)."""
        width = min(24, max((len(n) for n in self.hosts), default=8))
        prefix = f"{safe.clip(host, width):<{width}}  " if host else ""
        self.query_one("#batch-log", Log).write_line(prefix + safe.visible(text))

    def _tick(self) -> None:
        if self.running:
            self.query_one("#batch-table", BatchTable).show([h for h in self.hosts.values() if h.state == "running"])

    # --- controls ------------------------------------------------------------------------------------------

    def action_concurrency(self, delta: int) -> None:
        self.concurrency = max(1, min(500, self.concurrency + delta))
        if self.running and self.handle is not None:
            self.handle.batch.set_concurrency(self.concurrency)
        self._show_summary()

    def action_leave(self, quit_app: bool = False) -> None:
        if not self.running:
            if quit_app:
                self.app.exit()
            else:
                self.dismiss()
            return
        handle = self.handle
        assert handle is not None

        def answered(stop: bool | None) -> None:
            if stop and handle.running:
                self._stopping = True
                self._quit_when_done = quit_app
                handle.cancel()
                self._set_message("Stopping: no new host starts; running hosts are interrupted and roll back…")

        b = handle.batch
        self.app.push_screen(StopBatchDialog(b.count("running"), b.count("waiting")), callback=answered)

    # --- drawing -----------------------------------------------------------------------------------------

    def _set_message(self, text: str) -> None:
        self.message = text
        if self.is_mounted:
            self.query_one("#batch-status", Static).update(_lines(text))

    def _show(self) -> None:
        self.query_one("#batch-table", BatchTable).show(list(self.hosts.values()))
        self.query_one("#batch-status", Static).update(_lines(self.message))
        self._show_summary()

    def _show_summary(self) -> None:
        states = [h.state for h in self.hosts.values()]
        parts = [f"{states.count(s)} {s}" for s in ("ok", "failed", "running", "waiting", "not started") if s in states]
        text = Text()
        text.append(f"{len(states)} hosts", style="bold")
        if parts:
            text.append(": " + ", ".join(parts))
        text.append(f"  ·  {self.concurrency} at once (+/-)")
        self.query_one("#batch-summary", Static).update(text)


def _lines(text: str) -> Text:
    """Several lines of plain text (each made visible on its own, so the line breaks stay breaks)."""
    return Text("\n").join(safe.text(line, limit=None) for line in text.split("\n"))


def _restore(h: BatchHost, before: dict[str, Any]) -> None:
    """A host of a previous batch's results file: its outcome and failure as recorded there."""
    state = str(before.get("outcome") or "waiting")
    if state in ("ok", "failed", "not started"):
        h.state = state
        h.error = str(before.get("error") or "") if state != "ok" else ""
        h.step = str(before.get("failed_step") or "")
        try:
            took = float(before.get("elapsed_s") or 0.0)
        except (TypeError, ValueError):
            took = 0.0
        h.started, h.ended = 0.0, took


def _entry_of(h: BatchHost) -> HostEntry:
    return from_yaml_data({"hosts": [{k: v for k, v in h.entry.items() if v not in (None, [], {})}]})[0]


def _target(h: BatchHost) -> SshTarget:
    e = h.entry
    port = e.get("port")
    return SshTarget(str(e["address"]), port if isinstance(port, int) else None, e.get("user") or None)
