"""Helpers for Pilot tests that read the console the way a person does: what is on screen, what the palette lists.

`screen_lines` reads the frame Textual would send to the terminal (the current screen's compositor, which
also draws the screens below a modal one), so an assertion on it is an assertion on what the operator sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from textual import events
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.worker import WorkerFailed

# what a terminal would interpret instead of showing: C0/C1 controls, DEL, bidi controls, line separators
UNINTERPRETED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def screen_lines(app: Any) -> list[str]:
    """The text of every line of the frame on screen now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def assert_nothing_raw(app: Any) -> None:
    """No character that the terminal would interpret (rather than show) is in the frame."""
    for y, line in enumerate(screen_lines(app)):
        found = UNINTERPRETED.search(line)
        assert found is None, f"line {y} sends {found.group()!r} to the terminal: {line!r}"


async def keys_in_one_read(app: Any, pilot: Pilot[Any], *keys: tuple[str, str]) -> None:
    """(key, character) pairs queued all at once, as the driver queues what one read of the terminal brought
    (a fast typist, a laggy SSH link, tmux send-keys), then handled: pilot.press waits after each key."""
    for key, char in keys:
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()


async def settle(app: Any, pilot: Pilot[Any]) -> None:
    """Wait for running workers (a failed refresh included: its error is what the screen shows)."""
    with contextlib.suppress(WorkerFailed):
        await app.workers.wait_for_complete()
    await pilot.pause()


async def palette_prompts(app: Any, pilot: Pilot[Any], query: str = "") -> list[str]:
    """Open the palette with Ctrl+P, type `query`, and return each entry's text (title, newline, help).

    The palette stays open; the caller closes it (Esc) when done.
    """
    if not isinstance(app.screen, CommandPalette):
        await pilot.press("ctrl+p")
    if query:
        await pilot.press(*query)
    await settle(app, pilot)
    await pilot.pause(0.05)  # the palette shows gathered hits on a short timer
    commands = app.screen.query_one(CommandList)
    return [commands.get_option_at_index(i).prompt.plain for i in range(commands.option_count)]


@contextlib.asynccontextmanager
async def ssh_session_held(name: str) -> AsyncIterator[None]:
    """Lab host `name`'s running root SSH session stalled (its sshd stopped) for the block, then let go on. For a
    test that must stop or cancel an operation while it runs: unheld, a short operation on an idle host can end
    before the stop comes."""
    from fleetui import lab as lab_mod

    pid = await asyncio.to_thread(lab_mod.stall_ssh_session, name)
    try:
        yield
    finally:
        await asyncio.to_thread(lab_mod.resume_ssh_session, name, pid)
