"""One label dict per distinct label set, refresh after refresh.

Why: every refresh decodes the same tens of thousands of label sets again (a host's labels almost never
change), and each decode made a fresh dict of fresh strings. `LabelSets` keys them by their JSON text as
Prometheus sent it: a set seen in this refresh or the previous one comes back as the very same dict, so
decoding costs a byte copy and a dict look-up, memory holds one copy of each set (its texts shared through
`fleetui.domain.classify`), and fleetui.domain.reclassify can tell an unchanged host by identity.

Bounded: what the previous refresh did not see is forgotten at the next `rotate()`. The two-refresh memory is
`ByText`, which the fleet reader also uses for whole targets; `LabelSets` is a `ByText` of label dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Generic, TypeVar

import msgspec

from fleetui.domain.classify import intern_labels

_DICT = msgspec.json.Decoder(dict[str, str])


T = TypeVar("T")


class ByText(Generic[T]):
    """Objects made from JSON texts, for the current and the previous refresh: an element whose text is byte
    for byte what the previous refresh sent comes back as the very same object, without being decoded.

    Why: a target's entry in /api/v1/targets changes only when Prometheus scrapes it (its last-scrape time and
    duration), so between two refreshes that are closer than the scrape interval most entries are the same
    text again, and decoding them (timestamps, labels, health) was a fifth of a refresh's CPU.
    """

    __slots__ = ("_current", "_previous")

    def __init__(self) -> None:
        self._current: dict[bytes, T] = {}
        self._previous: dict[bytes, T] = {}

    def rotate(self) -> None:
        """A new refresh begins: texts neither it nor the one before sees are dropped after it."""
        if self._current:
            self._previous, self._current = self._current, {}

    def get(self, key: bytes) -> T | None:
        # the previous refresh first: in a steady fleet nearly every text is there, met for the first time in
        # this refresh (a text is in one of the two dicts, never both)
        found = self._previous.pop(key, None)
        if found is not None:
            self._current[key] = found
            return found
        return self._current.get(key)

    def put(self, key: bytes, value: T) -> None:
        self._current[key] = value

    def __len__(self) -> int:
        return len(self._current)


class LabelSets(ByText[dict[str, str]]):
    """Label dicts by their JSON text, for the current and the previous refresh (see the module docstring)."""

    __slots__ = ()

    def of(self, raw: msgspec.Raw) -> dict[str, str]:
        """The label dict of this JSON object (raises msgspec.DecodeError/ValidationError on anything else)."""
        key = bytes(raw)
        # ByText.get spelled out: this runs once per sample of every refresh (tens of thousands)
        found = self._previous.pop(key, None)
        if found is not None:
            self._current[key] = found
            return found
        found = self._current.get(key)
        if found is None:
            found = self._current[key] = intern_labels(_DICT.decode(key))
        return found

    def of_many(self, raws: Sequence[msgspec.Raw]) -> list[dict[str, str]]:
        """`[self.of(raw) for raw in raws]`, with the look-ups done by C loops (map, dict.update) instead of a
        Python call per sample: in a steady fleet nearly every text is the previous refresh's (see
        fleetui.adapters.prometheus._samples for what that saves)."""
        keys = list(map(bytes, raws))
        found: list[dict[str, str] | None] = list(map(self._previous.pop, keys, repeat(None)))
        current = self._current
        if None not in found:
            current.update(zip(keys, found, strict=True))  # type: ignore[arg-type]  # no None, checked
            return found  # type: ignore[return-value]
        # new texts, or texts met earlier in this refresh: the hits kept first, then `of` for each of the others
        current.update((k, f) for k, f in zip(keys, found, strict=True) if f is not None)
        return [self.of(raws[i]) if got is None else got for i, got in enumerate(found)]
