"""Pilot tests of the footer every screen shows (KeyFooter): it shows the keys of the focused widget and what
the screen allows, and it is rebuilt only when those change.

A small app of its own: the footer's behaviour does not depend on any fleetui screen, and here each case
(a key enabled, focus moved, the same keys signalled again) is one line to bring about.
"""

from __future__ import annotations

from typing import ClassVar

from console import screen_lines
from fleet_fixture import make_app
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from fleetui.tui.widgets.key_footer import KeyFooter


class Pane(Static, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("x", "poke", "Pane key")]

    def action_poke(self) -> None:
        pass


class Keys(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f", "fire", "Fire"), Binding("g", "noop", "Go")]

    def __init__(self, footer: type[Footer]) -> None:
        super().__init__()
        self.footer = footer
        self.armed = False

    def compose(self) -> ComposeResult:
        yield Pane("one", id="one")
        yield Static("two", id="two")
        yield self.footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fire":
            return True if self.armed else None  # None: shown, disabled
        return True

    def action_fire(self) -> None:
        pass

    def action_noop(self) -> None:
        pass


class KeysApp(App[None]):
    def __init__(self, footer: type[Footer]) -> None:
        super().__init__()
        self.footer = footer

    def on_mount(self) -> None:
        self.push_screen(Keys(self.footer))


def _keys(app: App[None]) -> list[FooterKey]:
    return list(app.screen.query(FooterKey))


def _shown(app: App[None]) -> dict[str, bool]:
    """Each shown key's description and whether it is enabled."""
    return {k.description: not k.has_class("-disabled") for k in _keys(app) if k.description}


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await pilot.pause()


async def test_the_same_keys_signalled_again_keep_the_footer_as_it_is() -> None:
    """Five bindings signals naming the same keys: the footer's key widgets are the ones it had, while
    Textual's Footer (the control, run the same way) builds them all again."""
    for footer, rebuilt in ((KeyFooter, False), (Footer, True)):
        app = KeysApp(footer)
        async with app.run_test(size=(100, 10)) as pilot:
            await _settle(pilot)
            before = _keys(app)
            assert {"Fire", "Go", "Pane key"} <= set(_shown(app))
            for _ in range(5):
                app.screen.refresh_bindings()
            await _settle(pilot)
            after = _keys(app)
            assert [k.description for k in after] == [k.description for k in before]
            assert any(a is not b for a, b in zip(after, before, strict=True)) is rebuilt, footer.__name__


async def test_a_key_the_screen_enables_is_shown_enabled() -> None:
    app = KeysApp(KeyFooter)
    async with app.run_test(size=(100, 10)) as pilot:
        await _settle(pilot)
        assert _shown(app)["Fire"] is False
        screen = app.screen
        assert isinstance(screen, Keys)
        screen.armed = True
        screen.refresh_bindings()
        await _settle(pilot)
        assert _shown(app)["Fire"] is True


async def test_moving_focus_shows_the_focused_widgets_keys() -> None:
    app = KeysApp(KeyFooter)
    async with app.run_test(size=(100, 10)) as pilot:
        await _settle(pilot)
        assert "Pane key" in _shown(app)  # the pane has focus: the only focusable widget
        app.screen.set_focus(None)
        await _settle(pilot)
        assert "Pane key" not in _shown(app)
        assert {"Fire", "Go"} <= set(_shown(app))
        app.screen.query_one(Pane).focus()
        await _settle(pilot)
        assert "Pane key" in _shown(app)


async def test_a_key_enabled_while_another_screen_is_on_top_is_shown_when_it_closes() -> None:
    """The fleet screen's keys change under the wizard or a dialog (a refresh lands): its footer asks for its
    rebuild while another screen is current, and shows the change once that screen closes."""
    app = KeysApp(KeyFooter)
    async with app.run_test(size=(100, 10)) as pilot:
        await _settle(pilot)
        keys = app.screen
        assert isinstance(keys, Keys)
        await app.push_screen(Screen())
        await _settle(pilot)
        keys.armed = True
        keys.refresh_bindings()
        await _settle(pilot)
        app.pop_screen()
        await _settle(pilot)
        assert app.screen is keys
        assert _shown(app)["Fire"] is True


def _visible(app: App[None]) -> str:
    """The footer line as the terminal shows it."""
    return screen_lines(app)[-1]


async def test_a_key_that_does_not_fit_whole_is_not_shown_cut() -> None:
    """At 30 columns the three keys and the palette's do not all fit: the footer ends on a whole key (Textual's
    Footer, run the same way, cuts one mid-word); wider again, every key is back."""
    for footer in (KeyFooter, Footer):
        app = KeysApp(footer)
        async with app.run_test(size=(30, 10)) as pilot:
            await _settle(pilot)
            keys, _, palette = _visible(app).partition("▏")
            assert palette.strip() == "^p palette"
            whole = keys.rstrip().endswith(("Pane key", "Fire", "Go"))
            assert whole is (footer is KeyFooter), (footer.__name__, keys)
            if footer is KeyFooter:
                await pilot.resize_terminal(100, 10)
                await _settle(pilot)
                assert all(word in _visible(app) for word in ("Pane key", "Fire", "Go"))


async def test_the_host_detail_footer_at_80_columns_ends_on_a_whole_key() -> None:
    """The host detail's footer ran out at "q Qui" at 80 columns."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("enter")
        await _settle(pilot)
        keys, _, _ = _visible(app).partition("▏")
        assert keys.split()[-2:] == ["E", "Re-enroll"], keys
