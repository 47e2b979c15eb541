"""Messages of batch enrollment in the console: progress from the operations service, and the request to open
the batch screen (from the palette, or from history for a previous batch's results file)."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from fleetui.deploy.batch import BatchEvent


class BatchProgress(Message):
    """A batch event (a step of one host, a host started or ended, new starts stopped)."""

    def __init__(self, batch_id: int, event: BatchEvent) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.event = event


class BatchDone(Message):
    """A batch ended (finished, stopped or cancelled): every host has its outcome; the results file is written."""

    def __init__(self, batch_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id


class OpenBatch(Message):
    """Open the batch screen; `path`: a host list to load, or a previous batch's results file (None: ask)."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path
