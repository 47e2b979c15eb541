"""Next refused by the enrollment wizard puts the cursor on the first field whose error is shown.

What an operator does: presses Ctrl+N with a required label left empty (or a port that is no number) and types
on. The connect step's facts are handed in as domain values (as in test_snapshots_wizard.py): no host is
connected to here, and nothing is, since the refused Next starts no operation.
"""

from __future__ import annotations

from typing import Any

from fleet_fixture import make_app
from textual.pilot import Pilot
from textual.widgets import Input
from wizard_fixture import open_wizard

from fleetui.tui.screens.wizard.collect import CollectStep
from fleetui.tui.screens.wizard.connect import ConnectStep

FACTS = {"address": "10.0.0.9", "route": "root@10.0.0.9:22", "os": "debian", "version": "12", "nodename": "db-07"}


def _focused(pilot: Pilot[Any]) -> str | None:
    focused = pilot.app.focused
    return focused.id if isinstance(focused, Input) else None


async def test_next_with_empty_required_labels_moves_to_each_in_turn() -> None:
    app = make_app(**{"schema.required_labels": ["environment", "maintainers"]})
    async with app.run_test(size=(100, 30)) as pilot:
        wizard = await open_wizard(pilot)
        wizard.form.address, wizard.form.nodename = "10.0.0.9", "db-07"
        wizard.query_one(ConnectStep).show_facts(FACTS)
        wizard._go(2)
        wizard.query_one(CollectStep).show_instance()
        await pilot.pause()
        wizard.query_one("#extra_labels", Input).focus()  # the operator went down the form first
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert wizard.step == 2
        assert _focused(pilot) == "label-environment"
        await pilot.press(*"prod", "ctrl+n")
        await pilot.pause()
        assert wizard.step == 2
        assert wizard.query_one("#label-environment", Input).value == "prod"
        assert _focused(pilot) == "label-maintainers"
        assert wizard.plan is None and wizard.operations.running == []  # nothing was started


async def test_next_with_a_bad_port_moves_to_the_port() -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        wizard = await open_wizard(pilot)
        await pilot.press(*"10.0.0.9", "tab", "x", "shift+tab")  # back up to the address, as one does
        assert _focused(pilot) == "address"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert wizard.step == 0
        assert _focused(pilot) == "port"
        assert wizard.probe is None  # no connection was tried
