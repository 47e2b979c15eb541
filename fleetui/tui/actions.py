"""What can be done to a host from its detail screen: a registry each feature adds its actions to.

Registering an action is all a feature does: the host screen takes its key, its footer and help line (the
Binding's description and tooltip), its palette entry and its line in the actions list from here, every time
a host screen opens — so an action registered after the console started works like the built-in ones (a
class-level key list would leave its key dead). Only actions whose `available(host)` is true are offered.
The registry belongs to the app (no module-level list), so a test can build its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from textual.binding import Binding
from textual.message import Message

from fleetui.domain.fleet import HostStatus
from fleetui.tui.messages import OpenDoctor, OpenLogs


class HostActionTarget(Protocol):
    """What an action may use: the host shown, and the screen showing it."""

    @property
    def host(self) -> HostStatus: ...

    def request_refresh(self) -> None: ...

    def close(self) -> None: ...

    def post_message(self, message: Message) -> bool: ...


def _always(host: HostStatus) -> bool:
    return True


@dataclass(frozen=True)
class HostAction:
    id: str  # "host.refresh": the binding id, so users can remap it from the keymap
    key: str  # one key, as Textual names it ("r", "escape")
    label: str  # footer and list
    help: str  # help screen, palette and list
    run: Callable[[HostActionTarget], object]
    available: Callable[[HostStatus], bool] = field(default=_always)

    def binding(self) -> Binding:
        return Binding(self.key, f"host_action('{self.id}')", self.label, id=self.id, tooltip=self.help)


class HostActions:
    """The registry. `version` changes with every registration, so screens know when to rebuild their keys."""

    def __init__(self, actions: Iterable[HostAction] = ()) -> None:
        self._actions: dict[str, HostAction] = {}
        self.version = 0
        for action in actions:
            self.register(action)

    def register(self, action: HostAction) -> None:
        """Add an action; an id or a key already taken is a programming error (ValueError), not a silent clash."""
        if action.id in self._actions:
            raise ValueError(f"host action {action.id!r} is already registered")
        clash = next((a for a in self._actions.values() if a.key == action.key), None)
        if clash is not None:
            raise ValueError(f"key {action.key!r} of {action.id!r} is already used by {clash.id!r}")
        self._actions[action.id] = action
        self.version += 1

    def all(self) -> list[HostAction]:
        return list(self._actions.values())

    def get(self, action_id: str) -> HostAction | None:
        return self._actions.get(action_id)

    def for_host(self, host: HostStatus) -> list[HostAction]:
        return [a for a in self._actions.values() if a.available(host)]

    def bindings(self) -> list[Binding]:
        return [a.binding() for a in self._actions.values()]


def _refresh(target: HostActionTarget) -> None:
    target.request_refresh()


def _back(target: HostActionTarget) -> None:
    target.close()


def _logs(target: HostActionTarget) -> None:
    target.post_message(OpenLogs([target.host]))


def _doctor(target: HostActionTarget) -> None:
    target.post_message(OpenDoctor([target.host]))


def default_actions() -> HostActions:
    """The actions every console has; features register theirs on the app's registry."""
    return HostActions(
        [
            HostAction("host.refresh", "r", "Refresh", "Read the fleet from Prometheus now", _refresh),
            HostAction("host.logs", "l", "Logs", "Stream Alloy's logs from the host over SSH", _logs),
            HostAction("host.doctor", "D", "Doctor", "Run the troubleshooting checklist on the host", _doctor),
            HostAction("host.back", "escape", "Back", "Back to the fleet", _back),
        ]
    )
