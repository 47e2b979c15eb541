"""Marking hosts on the fleet (space), without a lab: the mark, the summary, what `l` and `D` will act on,
and the help and palette entries for marks, logs and the doctor. (`l` and `D` on marked lab hosts, streaming
and examining for real, are in test_lab_logs.py.)"""

from __future__ import annotations

from fleet_fixture import make_app

from fleetui.tui.log_source import FixedLogFeed
from fleetui.tui.screens.doctor import DoctorScreen
from fleetui.tui.screens.fleet import FleetScreen
from fleetui.tui.screens.help import key_rows
from fleetui.tui.screens.logs import LogScreen


async def test_space_marks_and_unmarks_and_l_d_act_on_the_marks() -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        table = fleet.table
        first, second = table.view[0].instance, table.view[1].instance
        assert [h.instance for h in fleet._acted_on()] == [first]  # nothing marked: the cursor host
        await pilot.press("space")
        assert table.marked == {first} and table.cursor_host is table.view[1]  # marked, cursor moved on
        await pilot.press("space")
        assert [h.instance for h in table.marked_hosts] == [first, second]
        assert [h.instance for h in fleet._acted_on()] == [first, second]
        assert table.render_line(1).text.startswith("✓ ") and table.render_line(3).text.startswith("  ")
        assert "2 marked" in str(fleet.query_one("#summary").render())
        fleet.set_filter(second)  # a marked host the filter hides stays marked
        await pilot.pause()
        assert {h.instance for h in table.marked_hosts} == {first, second}
        fleet.action_clear_filter()
        await pilot.press("up", "up", "space")  # unmark the first
        assert [h.instance for h in table.marked_hosts] == [second]
        titles = [c.title for c in fleet.palette_commands()]
        assert {"Mark or unmark host", "Unmark every host", "Alloy logs", "Doctor"} <= set(titles)
        fleet.action_clear_marks()
        await pilot.pause()
        assert not table.marked and "marked" not in str(fleet.query_one("#summary").render())
        assert not table.render_line(1).text.startswith("  ")  # no gutter without marks
        keys = dict(key_rows(fleet))
        assert "space" in keys and "marked" in keys["space"] and "marked" in keys["D"]
        assert "go to the next" in keys["space"]  # it moves the cursor: a newcomer marking row by row was surprised


async def test_logs_and_doctor_screens_have_help_and_palette_entries() -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await app.workers.wait_for_complete()
        logs = LogScreen(FixedLogFeed([], "web-01"))
        app.push_screen(logs)
        await pilot.pause()
        assert {"Logs: follow", "Logs: filter", "Logs: save the buffer"} <= {c.title for c in logs.palette_commands()}
        assert logs.HELP_TITLE == "Alloy logs" and "s" in dict(key_rows(logs))
        await pilot.press("escape")
        from doctor_fixture import fleet_reports

        from fleetui.tui.screens.doctor import FixedDoctor

        reports = fleet_reports()
        doctor = DoctorScreen(FixedDoctor(reports), [], reports=reports)
        app.push_screen(doctor)
        await pilot.pause()
        assert doctor.HELP_TITLE == "doctor" and any("checklist" in what for _, what in key_rows(doctor))
