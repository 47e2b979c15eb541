"""The banner shown while refreshes fail: the error, how old the data on screen is, that we keep trying."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from fleetui.domain.age import format_duration
from fleetui.tui import safe
from fleetui.tui.fmt import format_age


class StaleBanner(Static):
    def show(self, error: str, data_taken_at: float | None, now: float, retry: float) -> None:
        age = format_age(data_taken_at, now) if data_taken_at is not None else "no data yet"
        text = Text(no_wrap=False)
        text.append("⚠ STALE ", "bold")
        text.append("cannot refresh: ")
        text.append(safe.text(error, limit=safe.NOTIFY_LIMIT))  # may quote a proxy's reply
        text.append(f" — showing data from {age}; retrying every {format_duration(retry)} (r retries now)")
        self.update(text)
        self.display = True

    def clear(self) -> None:
        self.display = False
