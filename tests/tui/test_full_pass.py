"""The console keeps its pauses for the operator: the collector's full pass and the refresh wait for the typing."""

from __future__ import annotations

import time

import pytest
from fleet_fixture import make_app

import fleetui.tui.app as app_module
from fleetui import gate
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


async def test_a_key_holds_the_refresh_back_until_its_frame_is_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """fleetui.gate from the console's side: a key says input came, and its frame, once out, says it is answered."""
    said: list[str] = []
    monkeypatch.setattr(gate, "input_arrived", lambda: said.append("input"))
    monkeypatch.setattr(gate, "answered", lambda: said.append("answered"))
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        said.clear()
        await pilot.press("down")
        await pilot.pause()
        assert said[:1] == ["input"] and "answered" in said
        assert said.count("answered") == said.count("input")
