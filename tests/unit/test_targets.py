"""file_sd target files on a real temporary directory: atomic write, retire by rename, history."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fleetui.adapters.targets import LocalTargetStore, TargetStoreError, file_name, history_from, utc_stamp

GROUP = [
    {"targets": ["127.0.0.16:12345"], "labels": {"instance": "new-01", "environment": "lab", "__metrics_path__": "/x"}}
]


async def test_write_read_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    store = LocalTargetStore(tmp_path / "targets")
    await store.write("127.0.0.16", json.dumps(GROUP))
    assert await store.read("127.0.0.16") == json.dumps(GROUP)
    await store.write("127.0.0.16", "[]")
    assert sorted(p.name for p in (tmp_path / "targets").iterdir()) == ["127.0.0.16.json"]
    assert oct((tmp_path / "targets" / "127.0.0.16.json").stat().st_mode & 0o777) == "0o644"


async def test_retire_renames_with_utc_stamp_and_history_lists_both(tmp_path: Path) -> None:
    store = LocalTargetStore(tmp_path)
    await store.write("a", json.dumps(GROUP))
    await store.write("b", "[]")
    os.utime(tmp_path / "a.json", (1_700_000_000, 1_700_000_000))
    new = await store.retire("a", now=1_800_000_000)
    assert new == f"a.json.deleted.{utc_stamp(1_800_000_000)}" == "a.json.deleted.20270115T080000Z"
    assert not (tmp_path / "a.json").exists()
    hist = await store.history()
    by = {h.name: h for h in hist}
    assert by["a"].state == "retired" and by["a"].retired_at == 1_800_000_000
    assert by["a"].updated_at == 1_700_000_000 and by["a"].targets == ("127.0.0.16:12345",)
    assert by["a"].labels == {"instance": "new-01", "environment": "lab"}
    assert by["b"].state == "active" and by["b"].retired_at is None
    assert by["a"].to_json()["retired_at"] == "2027-01-15T08:00:00Z"


async def test_retire_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TargetStoreError, match=r"no target file x\.json"):
        await LocalTargetStore(tmp_path).retire("x")


async def test_find_by_target(tmp_path: Path) -> None:
    store = LocalTargetStore(tmp_path)
    await store.write("web-01", json.dumps(GROUP))
    assert await store.find_by_target("127.0.0.16:") == "web-01.json"
    assert await store.find_by_target("127.0.0.1:") is None


def test_history_ignores_temp_and_other_files() -> None:
    entries = history_from(
        [(".a.json.1.tmp", 1.0), ("README", 1.0), ("h.json", 5.0), ("h.json.deleted.20260101T000000Z", 2.0)],
        {"h.json": "not json"},
    )
    assert [(e.name, e.state) for e in entries] == [("h", "active")]  # each address once
    assert [e.to_json()["retirements"] for e in entries] == [["2026-01-01T00:00:00Z"]]


def test_history_lists_a_retired_address_once_with_every_retirement() -> None:
    entries = history_from(
        [("g.json.deleted.20260101T000000Z", 1.0), ("g.json.deleted.20260301T000000Z", 3.0)],
        {"g.json.deleted.20260301T000000Z": '[{"targets": ["g:12345"], "labels": {"environment": "lab"}}]'},
    )
    assert len(entries) == 1 and entries[0].state == "retired" and entries[0].targets == ("g:12345",)
    assert entries[0].file == "g.json.deleted.20260301T000000Z" and len(entries[0].retirements) == 2


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", ".hidden", "a b", "x;y", ""])
def test_file_names_are_checked(bad: str) -> None:
    with pytest.raises(ValueError):
        file_name(bad)
