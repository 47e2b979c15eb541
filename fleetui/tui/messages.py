"""Messages of the console: small, typed, carrying domain values only.

The app's services (the fleet feed, the operations service) post them to the screens that subscribed, so a
screen learns about new data or a running operation without knowing who else is on the stack; a screen asks
for another screen (`OpenHost`) with a message the app answers, so screens never import each other.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

from textual.message import Message
from textual.message_pump import MessagePump

from fleetui.deploy.events import OperationResult, StepEvent
from fleetui.domain.fleet import FleetSnapshot, HostStatus


class FleetRefreshed(Message):
    """The feed finished a refresh: new data, or the last data plus the error that stopped a new one.

    Only the newest matters, so a queued one is superseded (`can_replace`) instead of worked through.
    """

    def __init__(self, snapshot: FleetSnapshot | None, error: str | None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetRefreshed)


class OpenHost(Message):
    """Show the host detail of `instance` (answered by the app, which owns the screens)."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance


class OpenLogs(Message):
    """Stream Alloy's logs of `hosts` in one pane (answered by the app)."""

    def __init__(self, hosts: Sequence[HostStatus]) -> None:
        super().__init__()
        self.hosts = list(hosts)


class OpenDoctor(Message):
    """Run the doctor on `hosts` (answered by the app)."""

    def __init__(self, hosts: Sequence[HostStatus]) -> None:
        super().__init__()
        self.hosts = list(hosts)


class OperationProgress(Message):
    """One event of a running operation (`op_id` from the operations service). Every one is kept: they are
    the lines of its log."""

    def __init__(self, op_id: int, event: StepEvent) -> None:
        super().__init__()
        self.op_id = op_id
        self.event = event


class OperationDone(Message):
    """An operation ended: its closing result (what the host is now)."""

    def __init__(self, op_id: int, result: OperationResult) -> None:
        super().__init__()
        self.op_id = op_id
        self.result = result


class Subscribers:
    """Screens (or the app) that want a service's messages. Held weakly: a popped screen simply drops out."""

    def __init__(self) -> None:
        self._nodes: weakref.WeakSet[MessagePump] = weakref.WeakSet()

    def add(self, node: MessagePump) -> None:
        self._nodes.add(node)

    def discard(self, node: MessagePump) -> None:
        self._nodes.discard(node)

    def post(self, make: Callable[[], Message]) -> None:
        """Post a fresh message (one per subscriber: a message has one recipient) to every one still running."""
        for node in list(self._nodes):
            if node.is_running:
                node.post_message(make())
