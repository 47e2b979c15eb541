"""`?` names each key once: the cursor and scrolling keys a screen's own widget handles (the fleet table, the
doctor's checklist, the log pane) were listed twice, once in the widget's words ("↑ Up", "pgup Page Up") and
again in the screen's ("↑ ↓ A check (…)", "PgUp PgDn Page up / down"). Found on a walk of the console."""

from __future__ import annotations

from typing import Any

import pytest
from doctor_fixture import fleet_reports
from fleet_fixture import make_app
from log_fixture import alloy_lines

from fleetui.tui.log_source import FixedLogFeed
from fleetui.tui.screens.doctor import DoctorScreen, FixedDoctor
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.help import HelpScreen
from fleetui.tui.screens.logs import LogScreen


def _doctor(several: bool) -> DoctorScreen:
    reports = fleet_reports() if several else fleet_reports()[1:2]
    return DoctorScreen(FixedDoctor(reports), [], reports=reports)


def _logs() -> LogScreen:
    return LogScreen(FixedLogFeed(alloy_lines("web-01"), "web-01"))


@pytest.mark.parametrize("opened", [None, "doctor", "doctors", "logs"], ids=["fleet", "doctor", "doctors", "logs"])
async def test_help_lists_each_key_once(opened: str | None) -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if opened is not None:
            app.push_screen({"doctor": _doctor(False), "doctors": _doctor(True), "logs": _logs()}[opened])
            await pilot.pause()
        else:
            assert isinstance(app.screen, FleetScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen: Any = app.screen
        assert isinstance(help_screen, HelpScreen)
        named: dict[str, str] = {}
        for keys, what in help_screen.rows:
            for key in keys.split():
                token = key if len(key) == 1 else {"enter": "⏎"}.get(key.lower(), key.lower())  # g and G differ
                if token == "/" and keys != "/":
                    continue  # "a / b": a separator
                assert token not in named, f"{key!r} listed twice: {named[token]!r} and {what!r}"
                named[token] = what
        for key in ("↑", "↓", "home", "end", "pgup", "pgdn"):  # still listed, once
            assert key in named, key
