"""The command palette: the current screen's own commands and the app's, shown as plain text.

Each screen declares its commands (`palette_commands()`, the `HasCommands` protocol) next to its keys, and
the app adds its own (help, themes); this provider only lists them, so it imports no screen. Titles often
hold outside values ("Open <instance>"), and Textual's SystemCommand parses titles and help as markup — an
instance `aa-bad[/nope]` crashed the palette — so here every title and help line goes through
fleetui.tui.safe, and the fuzzy match is highlighted on the plain title rather than re-parsed from markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from fleetui.tui import safe


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry. `title` and `help` are plain text (outside values welcome: they are shown as typed)."""

    title: str
    help: str
    callback: Callable[[], object]
    discover: bool = True  # listed before anything is typed


@runtime_checkable
class HasCommands(Protocol):
    def palette_commands(self) -> Iterable[PaletteCommand]: ...


class FleetCommands(Provider):
    """The calling screen's commands first, then the app's."""

    def _commands(self) -> Iterator[PaletteCommand]:
        for source in (self.screen, self.app):
            if isinstance(source, HasCommands):
                yield from source.palette_commands()

    def _title(self, command: PaletteCommand, offsets: Iterable[int] = ()) -> Content:
        title = safe.content(command.title, limit=None)
        for offset in offsets:
            if offset < len(title.plain) and not title.plain[offset].isspace():
                title = title.stylize(self.match_style or "reverse", offset, offset + 1)
        return title.truncate(safe.LINE_LIMIT, ellipsis=True)

    async def discover(self) -> Hits:
        for command in self._commands():
            if command.discover:
                yield DiscoveryHit(
                    self._title(command),
                    command.callback,
                    text=safe.clip(command.title),
                    help=safe.markup(command.help, None),
                )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            plain = safe.clip(command.title, None)[: safe.LINE_LIMIT * 2]  # fuzzy matching is not linear
            score, offsets = matcher.fuzzy_search.match(matcher.query, plain)
            if score > 0:
                yield Hit(
                    score,
                    self._title(command, offsets),
                    command.callback,
                    text=safe.clip(command.title),
                    help=safe.markup(command.help, None),
                )
