"""Pilot tests of the host-action registry: an action registered on the app's registry after the console started
gets a key that works, a footer and help line, a palette entry and a line in the detail's actions list.

The fleet is the fixed domain value of fleet_fixture (no network); the action is a real one that records
which host it ran on.
"""

from __future__ import annotations

import pytest
from console import palette_prompts
from fleet_fixture import make_app
from textual.widgets import OptionList

from fleetui.domain.fleet import HostState
from fleetui.tui.actions import HostAction, HostActions, HostActionTarget, default_actions
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.help import HelpScreen
from fleetui.tui.screens.host import HostScreen


def _recorder(ran: list[str]) -> HostAction:
    def run(target: HostActionTarget) -> None:
        ran.append(target.host.instance)

    return HostAction(
        "host.mark",
        "m",
        "Mark",
        "Mark this host for the next batch",
        run,
        available=lambda host: host.state is not HostState.GONE,
    )


async def _open(app, pilot, instance: str) -> HostScreen:  # type: ignore[no-untyped-def]
    await app.workers.wait_for_complete()
    await pilot.pause()
    fleet = app.screen
    assert isinstance(fleet, FleetScreen)
    fleet.open_host(instance)
    await pilot.pause()
    assert isinstance(app.screen, HostScreen)
    return app.screen


async def test_an_action_registered_after_start_has_a_working_key_palette_entry_and_help_line() -> None:
    app = make_app()
    ran: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        app.host_actions.register(_recorder(ran))  # the console is already running
        detail = await _open(app, pilot, "10.0.0.3:9100")

        await pilot.press("m")
        assert ran == ["10.0.0.3:9100"]

        options = detail.query_one("#host-actions", OptionList)
        lines = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("Mark" in line and "next batch" in line for line in lines)

        titles = [p.split("\n")[0] for p in await palette_prompts(app, pilot)]
        assert "Host: Mark" in titles
        await pilot.press("escape")

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert ("m", "Mark this host for the next batch") in app.screen.rows
        await pilot.press("escape")

        options.focus()
        options.highlighted = next(i for i, line in enumerate(lines) if "Mark" in line)
        await pilot.press("enter")  # chosen from the list, as with the key
        assert ran == ["10.0.0.3:9100", "10.0.0.3:9100"]


async def test_an_action_not_available_for_a_host_is_offered_nowhere_and_its_key_does_nothing() -> None:
    app = make_app()
    ran: list[str] = []
    app.host_actions.register(_recorder(ran))
    async with app.run_test(size=(120, 40)) as pilot:
        await _open(app, pilot, "10.0.0.6:9100")  # the gone host
        await pilot.press("m")
        assert ran == []
        titles = [p.split("\n")[0] for p in await palette_prompts(app, pilot)]
        assert "Host: Mark" not in titles and "Host: Refresh" in titles


def test_the_registry_refuses_a_taken_id_or_key() -> None:
    actions = default_actions()
    with pytest.raises(ValueError, match="already registered"):
        actions.register(HostAction("host.refresh", "z", "Again", "again", lambda t: None))
    with pytest.raises(ValueError, match=r"already used by 'host\.refresh'"):
        actions.register(HostAction("host.other", "r", "Other", "other", lambda t: None))
    assert [a.id for a in HostActions().all()] == []
