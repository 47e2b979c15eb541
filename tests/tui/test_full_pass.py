"""The console runs the collector's full pass over its frozen heap at a pause in the operator's typing."""

from __future__ import annotations

import time

import pytest
from fleet_fixture import make_app

import fleetui.tui.app as app_module
from fleetui.gcpause import FullPasses


async def test_keys_hold_the_full_pass_back_until_they_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[float] = []
    monkeypatch.setattr(app_module, "full_pass", lambda: ran.append(time.monotonic()))
    app = make_app()
    async with app.run_test() as pilot:
        # the last pass an hour ago: due at a pause, but the pause must be an hour long
        app.heap = FullPasses(every=3600.0, idle=3600.0, now=time.monotonic() - 3600.0)
        before = app.heap.last_input
        await pilot.press("down")
        assert app.heap.last_input > before
        await pilot.pause(1.3)  # the app asks every second
        assert ran == []
        app.heap.idle = 0.0  # no key for as long as it needs now
        await pilot.pause(1.3)
        assert len(ran) >= 1 and app.heap.passes == len(ran)
