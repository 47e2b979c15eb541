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


def test_a_fix_verdict_names_the_row_beside_the_address() -> None:
    """A fix is for a fleet row, dialled at an address: its verdict and its plan's name both (a pull fix's
    summary carries the row's instance, a push fix's plan does), and quote the row's name as plain text."""
    pull = OperationResult(
        "127.0.0.12", "fix", True, True, 1.0, (), summary={"instance": "web-02"}, host_state="changed"
    )
    assert result_text(pull).plain.startswith("Fix of web-02 (127.0.0.12) succeeded — the host is changed")
    push = OperationResult("10.0.0.9", "fix", False, False, 1.0, (), failed_step="verify", error="timed out",
                           summary={"plan": {"instance": "pi[/b]\x1b"}})  # fmt: skip
    assert result_text(push).plain.startswith("Fix of pi[/b]\\x1b (10.0.0.9) failed at verify: timed out")
    planned = OperationResult("127.0.0.12", "plan", True, False, 1.0, (), summary={"instance": "web-02"})
    assert result_text(planned).plain.startswith("Plan for web-02 (127.0.0.12) ready: nothing was changed")
    same = OperationResult("cache-01", "fix", True, False, 1.0, (), summary={"instance": "cache-01"})
    assert result_text(same).plain.startswith("Fix of cache-01 succeeded")


async def test_a_wait_that_says_the_same_at_every_poll_is_shown_once() -> None:
    """The verify step of a fix polls Prometheus and says so each time: the log shows the sentence once, a new
    sentence as it comes, and the step's end."""
    from textual.app import App, ComposeResult

    from fleetui.tui.widgets.operation_view import OperationView

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield OperationView()

    waiting = "waiting for Prometheus to see the new labels"
    events = [StepEvent("h", "verify", StepStatus.PROGRESS, waiting, 0.0) for _ in range(3)]
    events += [
        StepEvent("h", "verify", StepStatus.PROGRESS, "seen; waiting for the old series to go", 0.0),
        StepEvent("h", "verify", StepStatus.PROGRESS, waiting, 0.0),
        StepEvent("h", "verify", StepStatus.DONE, "no longer reported", 11.3),
    ]
    app = One()
    async with app.run_test() as pilot:
        view = app.query_one(OperationView)
        for ev in events:
            view.show_event(ev)
        await pilot.pause()
        assert view.lines == [
            f"  .. verify    {waiting}",
            "  .. verify    seen; waiting for the old series to go",
            f"  .. verify    {waiting}",
            "ok   verify    no longer reported (11.30s)",
        ]
