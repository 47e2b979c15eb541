"""The batch screen's pieces: the per-host table, the one host-key review, and the stop-the-batch question.

Every cell and line holds outside text (host names from a file, error messages from hosts) and goes through
fleetui.tui.safe. Elapsed times are read from a `now` clock handed in, so a test draws the same table every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from fleetui.adapters.keyscan import ScannedKey
from fleetui.adapters.ssh import HostKeyInfo
from fleetui.deploy.batch import BatchHost
from fleetui.tui import safe

COLUMNS = (("host", "host"), ("step", "step"), ("elapsed", "elapsed"), ("outcome", "outcome"), ("failure", "failure"))
STATE_STYLE = {"ok": "bold green", "failed": "bold red", "running": "bold", "not started": "yellow"}


def outcome(h: BatchHost) -> str:
    """The outcome cell: the state, and for a host that did not come up, what it is now."""
    if h.state == "failed" and h.result is not None:
        return f"failed; host {h.result.host_state}"
    return h.state


def elapsed(h: BatchHost, now: float) -> str:
    if h.started is None:
        return "-"
    return f"{(h.ended if h.ended is not None else now) - h.started:.1f}s"


class BatchTable(DataTable[Text]):
    """One row per host: current step, elapsed, outcome, failure message. `show` adds or updates rows."""

    def __init__(self, *, now: Callable[[], float] = time.monotonic, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.now = now

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    def show(self, hosts: Sequence[BatchHost]) -> None:
        now = self.now()
        for h in hosts:
            cells = {
                "host": safe.text(h.name, limit=30),
                "step": safe.text(h.step if h.state == "running" else h.step or "-", limit=12),
                "elapsed": Text(elapsed(h, now), justify="right"),
                "outcome": safe.text(outcome(h), limit=40, style=STATE_STYLE.get(h.state, "")),
                "failure": safe.text(h.failure, limit=200),
            }
            if h.name in self.rows:
                for key, value in cells.items():
                    self.update_cell(h.name, key, value, update_width=True)
            else:
                self.add_row(*cells.values(), key=h.name)


class KeyReviewDialog(ModalScreen[bool]):
    """Every host key not in fleetui's known_hosts, listed once before the batch starts: trust them all (`t`)
    or refuse (`n`/Esc: those hosts fail alone at connect, the others run). Changed keys are listed as failing:
    they cannot be trusted from here."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "answer(True)", "Trust all", id="keyreview.trust", tooltip="Trust every key listed"),
        Binding("n,escape", "answer(False)", "Refuse", id="keyreview.refuse", tooltip="Refuse: those hosts fail"),
    ]
    HELP_TITLE = "host keys of the batch"
    DEFAULT_CSS = """
    KeyReviewDialog { align: center middle; }
    #keyreview-box { width: 90%; max-width: 130; height: auto; max-height: 90%; border: thick $warning;
                     background: $surface; padding: 0 1; }
    #keyreview-list { height: auto; max-height: 20; }
    #keyreview-buttons { height: auto; align-horizontal: right; }
    """

    def __init__(self, unknown: Sequence[ScannedKey], changed: Sequence[ScannedKey]) -> None:
        super().__init__(id="keyreview")
        self.unknown, self.changed = list(unknown), list(changed)

    def compose(self) -> ComposeResult:
        head = Text()
        head.append(f"{len(self.unknown)} host key(s) are not in fleetui's known_hosts. ", style="bold")
        files = sorted({k.info.key_file for k in self.unknown if k.info})
        where = files[0] if len(files) == 1 else "the file of its key type: " + ", ".join(files)
        head.append(f"Compare each with the key on its host (ssh-keygen -lf {where}).")
        listing = Text()
        every = [*self.unknown, *self.changed]
        width = max((safe.text(k.info.describe, limit=40).cell_len for k in every if k.info), default=0)

        def host(info: HostKeyInfo) -> Text:
            """The host, padded to one column, so the key types and fingerprints line up."""
            t = safe.text(info.describe, limit=40, style="bold")
            t.pad_right(width - t.cell_len)
            return t

        for k in self.unknown:
            assert k.info is not None
            listing.append(host(k.info))
            listing.append("  ")
            listing.append(safe.text(k.info.key_type, limit=24))
            listing.append("  ")
            listing.append(safe.text(k.info.fingerprint, limit=safe.LINE_LIMIT))
            listing.append("\n")
        for k in self.changed:
            assert k.info is not None
            listing.append(host(k.info))
            listing.append("  KEY CHANGED: this host will fail alone (", style="bold red")
            listing.append(safe.text(k.why, limit=safe.LINE_LIMIT))
            listing.append(")\n")
        with Vertical(id="keyreview-box") as box:
            box.border_title = "Host keys of this batch"
            yield Static(head, id="keyreview-head")
            with VerticalScroll(id="keyreview-list"):
                yield Static(listing, id="keyreview-text")
            yield Static("Trust all: written to fleetui's known_hosts as each host connects. Refuse: those hosts fail.")
            with Horizontal(id="keyreview-buttons"):
                yield Button("Refuse (n)", id="keyreview-refuse", variant="default")
                yield Button("Trust all (t)", id="keyreview-trust", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#keyreview-refuse", Button).focus()

    def action_answer(self, trust: bool) -> None:
        self.dismiss(trust)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "keyreview-trust")


class StopBatchDialog(ModalScreen[bool]):
    """Asked before leaving (or quitting) while a batch runs: stopping cancels it cleanly — running hosts are
    interrupted and roll back, hosts not started stay untouched — and the screen then says what each host is."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Stop the batch", id="stopbatch.yes", tooltip="Cancel the running batch"),
        Binding("n,escape", "answer(False)", "Keep running", id="stopbatch.no", tooltip="Go back to the batch"),
    ]
    HELP_TITLE = "stop the batch"
    DEFAULT_CSS = """
    StopBatchDialog { align: center middle; }
    #stopbatch-box { width: 70; height: auto; border: thick $warning; background: $surface; padding: 0 1; }
    #stopbatch-buttons { height: auto; align-horizontal: right; }
    """

    def __init__(self, running: int, waiting: int) -> None:
        super().__init__(id="stopbatch")
        self.running, self.waiting = running, waiting

    def compose(self) -> ComposeResult:
        with Vertical(id="stopbatch-box") as box:
            box.border_title = "A batch is running"
            yield Static(
                Text(
                    f"{self.running} host(s) are being enrolled and {self.waiting} wait.\n\n"
                    "Stop: no new host starts; the running ones are interrupted and roll back, and the table then "
                    "says what each host is. Keep running: nothing changes."
                )
            )
            with Horizontal(id="stopbatch-buttons"):
                yield Button("Keep running (n)", id="stopbatch-no", variant="default")
                yield Button("Stop the batch (y)", id="stopbatch-yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#stopbatch-no", Button).focus()

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "stopbatch-yes")
