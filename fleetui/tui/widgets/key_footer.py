"""The footer of every screen: Textual's Footer, rebuilt only when the keys it shows change, and showing whole keys.

Why: Textual's Footer rebuilds itself (a recompose: every key a widget of its own, styled and mounted) on every
bindings signal of its screen, and a screen sends several in a row while it starts (each focus change, each
`refresh_bindings`), most of them naming the same keys. The fleet screen's footer was rebuilt five times
before the console's first frame with rows, for two different sets of keys, on the UI's thread while the first
refresh's replies were being read: that thread's work before the first paint was 282-439 ms of CPU with this
against 439-648 ms without (10,000 hosts, 4 starts each).

Here a rebuild whose keys are the ones on screen is skipped: each signal still asks for one (as Textual's
does), and the first that runs brings the footer up to date, so the others find nothing to do. Not one flag
for a pending rebuild: Textual runs it after the *current* screen's next refresh, and a screen closed before
that could drop it, which would leave such a flag set for good.

Also: the keys that do not fit whole are hidden (`_fit`), where Textual's Footer cuts the last one shown.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A Footer that recomposes only when what it would show differs from what it shows, and shows no key cut."""

    def __init__(self, *, compact: bool = False, show_command_palette: bool = True) -> None:
        super().__init__(compact=compact, show_command_palette=show_command_palette)
        self._shown: Hashable | None = None  # the keys of the last compose (None: none composed with keys yet)

    def shown_keys(self) -> Hashable:
        """What the footer shows, as a value: every shown binding with whether it is enabled and its tooltip,
        in the screen's order, and whether the command palette's key is shown."""
        keys = tuple(
            (b.key, b.action, b.description, b.key_display, b.group, enabled, tooltip)
            for (_, b, enabled, tooltip) in self.screen.active_bindings.values()
            if b.show
        )
        return keys, self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self.shown_keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        # Footer.bindings_changed, asking for a rebuild that first compares the keys
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        if not self.is_attached or self.shown_keys() == self._shown:
            return
        await self.recompose()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        for key in self.children:
            key.display = True
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Hide the keys from the first one that does not fit whole onwards: Textual's Footer cuts the last one
        it shows at the edge ("q Qui", "s Save  es" at 80 columns), a key a newcomer cannot read. The hidden
        ones are in help (?) and the palette."""
        palette = [k for k in self.children if k.has_class("-command-palette")]
        room = self.size.width - sum(k.outer_size.width for k in palette)
        cut = False
        for key in self.children:
            if key in palette:
                continue
            # a key's last column is blank (its description's padding): that one may be cut
            cut = cut or key.virtual_region.right - 1 > room
            key.display = not cut
