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
