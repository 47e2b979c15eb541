"""Actions offered on a host's detail screen: a list that grows as features land.

Each later feature (enroll, retire, logs, doctor) appends one HostAction to HOST_ACTIONS; the detail screen
lists the ones whose `available(host)` is true, binds their keys, and puts them in the command palette and
the help screen. Only actions that work are listed, so nothing here is a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleetui.domain.fleet import HostStatus

if TYPE_CHECKING:
    from fleetui.tui.screens.host import HostScreen


@dataclass(frozen=True)
class HostAction:
    id: str
    key: str  # one key, as Textual names it ("r", "escape")
    label: str
    help: str
    run: Callable[[HostScreen], None]
    available: Callable[[HostStatus], bool] = lambda host: True


def _refresh(screen: HostScreen) -> None:
    screen.request_refresh()


def _back(screen: HostScreen) -> None:
    screen.dismiss()


def _logs(screen: HostScreen) -> None:
    from fleetui.tui.screens.logs import open_logs

    open_logs(screen.app, [screen.host], screen.fleet.fleet_app.settings)


def _doctor(screen: HostScreen) -> None:
    from fleetui.tui.screens.doctor import open_doctor

    open_doctor(screen.app, [screen.host], screen.fleet.fleet_app.settings)


HOST_ACTIONS: list[HostAction] = [
    HostAction("host.refresh", "r", "Refresh", "Read the fleet from Prometheus now", _refresh),
    HostAction("host.logs", "l", "Logs", "Stream Alloy's logs from the host over SSH", _logs),
    HostAction("host.doctor", "D", "Doctor", "Run the troubleshooting checklist on the host", _doctor),
    HostAction("host.back", "escape", "Back", "Back to the fleet", _back),
]


def actions_for(host: HostStatus) -> list[HostAction]:
    return [a for a in HOST_ACTIONS if a.available(host)]
