"""Opening the enrollment wizard from the fleet, as an operator does (`e`), for the wizard's TUI tests."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from fleetui.tui.screens.wizard import WizardScreen


async def open_wizard(pilot: Pilot[Any]) -> WizardScreen:
    """The wizard, opened with `e` once the fleet's first refresh is in."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.press("e")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, WizardScreen)
    return screen
