"""LabelSets: one dict per distinct label set while refreshes keep seeing it, forgotten when they stop
(pure: JSON texts in, dicts out)."""

from __future__ import annotations

import msgspec
import pytest

from fleetui.adapters.labelsets import LabelSets


def test_same_text_same_dict_across_one_refresh_forgotten_after_two() -> None:
    sets = LabelSets()
    a = sets.of(msgspec.Raw(b'{"instance":"web-01","job":"node"}'))
    assert a == {"instance": "web-01", "job": "node"}
    assert sets.of(msgspec.Raw(b'{"instance":"web-01","job":"node"}')) is a
    sets.rotate()
    assert sets.of(msgspec.Raw(b'{"instance":"web-01","job":"node"}')) is a  # seen by the previous refresh
    other = sets.of(msgspec.Raw(b'{"instance":"web-02","job":"node"}'))
    assert other["instance"] == "web-02" and len(sets) == 2
    sets.rotate()
    sets.rotate()  # a refresh that decoded nothing (it failed) forgets nothing
    assert sets.of(msgspec.Raw(b'{"instance":"web-02","job":"node"}')) is other
    sets.rotate()
    assert sets.of(msgspec.Raw(b'{"instance":"web-02","job":"node"}')) is other
    again = sets.of(msgspec.Raw(b'{"instance":"web-01","job":"node"}'))  # two refreshes did not see it
    assert again == a and again is not a


def test_anything_but_a_string_map_is_refused() -> None:
    with pytest.raises(msgspec.DecodeError):
        LabelSets().of(msgspec.Raw(b'{"instance":1}'))


def test_many_at_once_is_one_at_a_time() -> None:
    """`of_many` answers as `of` would, one text after the other: the same dict for a text the previous
    refresh or this one already had, and for a text twice in one call; a new dict for a new text; refused
    like `of` for anything but a string map."""
    texts = [b'{"instance":"a"}', b'{"instance":"b"}', b'{"instance":"c"}']
    sets = LabelSets()
    a, b = sets.of(msgspec.Raw(texts[0])), sets.of(msgspec.Raw(texts[1]))
    sets.rotate()
    sets.of(msgspec.Raw(texts[1]))  # met again in this refresh before the call
    got = sets.of_many([msgspec.Raw(t) for t in (texts[0], texts[1], texts[2], texts[2], texts[0])])
    assert got[0] is a and got[1] is b and got[4] is a
    assert got[2] == {"instance": "c"} and got[3] is got[2]
    empty = sets.of_many([msgspec.Raw(b"{}"), msgspec.Raw(b"{}")])  # an empty set is a set like any other
    assert empty == [{}, {}] and empty[1] is empty[0]
    sets.rotate()
    assert sets.of(msgspec.Raw(texts[2])) is got[2]  # remembered for the next refresh, as `of` does
    assert sets.of_many([msgspec.Raw(t) for t in texts]) == [a, b, got[2]]
    with pytest.raises(msgspec.DecodeError):
        sets.of_many([msgspec.Raw(b'{"instance":"a"}'), msgspec.Raw(b'{"instance":1}')])
