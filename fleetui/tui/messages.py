"""Messages between the console's screens (small, typed, carrying domain values only)."""

from __future__ import annotations

from textual.message import Message

from fleetui.domain.fleet import FleetSnapshot


class FleetRefreshed(Message):
    """The fleet screen finished a refresh: new data, or the last data plus the error that stopped a new one.

    Only the newest matters, so a queued one is superseded (`can_replace`) instead of worked through.
    """

    def __init__(self, snapshot: FleetSnapshot | None, error: str | None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetRefreshed)
