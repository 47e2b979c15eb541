"""The plan screen's form: bad input is refused field by field, before anything connects.

No host is needed: every case here is refused by the input checks, and the test asserts that no operation was
started at all. The real plan against a lab host is in test_operations_lab.py.
"""

from __future__ import annotations

from console import assert_nothing_raw, palette_prompts, settle
from fleet_fixture import make_app
from textual import events
from textual.widgets import Input, Static

from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.tui.screens.plan import PlanScreen
from fleetui.tui.widgets.operation_view import event_line, result_text


def _error(screen: PlanScreen, field: str) -> str:
    box = screen.query_one(f"#{field}-error", Static)
    return str(box.render()) if box.display else ""


async def _plan_screen(app, pilot) -> PlanScreen:  # type: ignore[no-untyped-def]
    await settle(app, pilot)
    await palette_prompts(app, pilot, "plan enrollment")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, PlanScreen)
    return app.screen


async def test_each_bad_field_is_named_beside_it_and_nothing_starts() -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await _plan_screen(app, pilot)
        await pilot.press("enter")  # empty form
        assert "is not a host name or IP address" in _error(screen, "address")
        assert "environment" in _error(screen, "labels")  # the schema's required labels are missing
        assert app.operations.handles == {}

        screen.query_one("#address", Input).value = "web 01; rm -rf /"
        screen.query_one("#labels", Input).value = "environment"
        await pilot.press("ctrl+r")
        assert "web 01; rm -rf /" in _error(screen, "address")
        assert "expected KEY=VALUE" in _error(screen, "labels")
        assert app.operations.handles == {}


async def test_hostile_input_is_refused_and_shown_as_typed() -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await _plan_screen(app, pilot)
        app.post_message(events.Paste("aa-bad[/nope]"))
        await pilot.pause()
        await pilot.press("tab", "tab")
        app.post_message(events.Paste("environment=[bold]x maintainers=\x1b[31mops"))
        await pilot.pause()
        assert screen.query_one("#labels", Input).value == "environment=[bold]x maintainers=\\x1b[31mops"
        await pilot.press("ctrl+r")
        assert "aa-bad[/nope]" in _error(screen, "address")
        assert app.operations.handles == {} and app.is_running
        assert_nothing_raw(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, PlanScreen)


def test_operation_lines_show_what_a_host_sent_as_typed() -> None:
    """Event messages and results quote the host (its nodename, command output, files); rendered plain."""
    event = StepEvent("10.0.0.9", "detect", StepStatus.DONE, "nodename [/nope]\x1b[2J\u202e", 0.5)
    line = event_line(event)
    assert line == "ok   detect    nodename [/nope]\\x1b[2J\\u202e (0.50s)"
    result = OperationResult(
        host="10.0.0.9",
        operation="plan",
        ok=True,
        changed=False,
        elapsed_s=1.0,
        events=(event,),
        summary={"plan": {"install": ["echo [b]"], "config_diff": "+\tprometheus.x\n+[/red]\x07"}},
    )
    text = result_text(result).plain
    assert "echo [b]" in text and "+   prometheus.x" in text and "+[/red]\\x07" in text
    assert "Plan for 10.0.0.9 ready: nothing was changed" in text
