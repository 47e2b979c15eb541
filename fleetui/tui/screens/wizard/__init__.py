"""The enrollment wizard (one file per section, plus the screen) and Re-enroll on the host detail."""

from __future__ import annotations

from collections.abc import Callable

from fleetui.domain.fleet import HostStatus
from fleetui.tui.actions import HostAction, HostActions, HostActionTarget
from fleetui.tui.screens.wizard.screen import WizardScreen

__all__ = ["WizardScreen", "register_reenroll"]


def register_reenroll(actions: HostActions, open_wizard: Callable[[HostStatus], object]) -> None:
    """Add Re-enroll to the host detail (key `E`): the wizard prefilled from the host's labels and address."""

    def run(target: HostActionTarget) -> None:
        open_wizard(target.host)

    actions.register(
        HostAction(
            "host.reenroll",
            "E",
            "Re-enroll",
            "Open the enrollment wizard prefilled from this host; the plan shows only what would change",
            run,
        )
    )
