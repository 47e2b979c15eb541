"""The local operation log: append-only JSON lines, 0600, built from an allow-list of fields, and
`fleetui history` showing it next to the targets directory's audit trail (CLI twin of the history screen)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fleetui import cli
from fleetui.adapters import oplog as oplog_mod
from fleetui.adapters.oplog import OpLog, record_for


def _record(host: str = "10.0.0.5", ok: bool = True) -> oplog_mod.OpRecord:
    return record_for(
        host=host,
        operation="enroll",
        ok=ok,
        cancelled=False,
        host_state="changed" if ok else "rolled back",
        failed_step=None if ok else "validate",
        observed={"config_sha256": "a" * 64, "password": "never-copied", "dsn": "postgresql://u:p@h/db"},
        now=1_700_000_000,
    )


def test_append_creates_a_0600_file_and_reads_back_oldest_first(tmp_path: Path) -> None:
    log = OpLog(tmp_path / "state" / "operations.jsonl")
    old = os.umask(0)  # even a permissive umask must not widen the file
    try:
        log.append(_record("a"))
        log.append(_record("b", ok=False))
    finally:
        os.umask(old)
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    first, second = log.read()
    assert (first.host, first.outcome, first.config_sha256) == ("a", "ok", "a" * 64)
    assert (second.host, second.outcome, second.failed_step) == ("b", "failed", "validate")
    assert first.time == 1_700_000_000


def test_only_named_fields_are_written(tmp_path: Path) -> None:
    """observed holds whatever a step read back; only the config's sha256 and Alloy's version are taken from it."""
    log = OpLog(tmp_path / "ops.jsonl")
    log.append(_record())
    text = log.path.read_text()
    assert "never-copied" not in text and "postgresql" not in text
    assert set(json.loads(text)) == {
        "time", "user", "host", "operation", "outcome", "host_state", "failed_step", "config_sha256",
        "alloy_version",
    }  # fmt: skip


def test_a_torn_line_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    log = OpLog(tmp_path / "ops.jsonl")
    log.append(_record("a"))
    with log.path.open("a") as f:
        f.write('{"time": "2024-01-01T00:00:00Z", "us\n')
    log.append(_record("b"))
    assert [r.host for r in log.read()] == ["a", "b"]


def test_history_cli_shows_the_trail_and_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = tmp_path / "targets"
    targets.mkdir()
    group = [{"targets": ["10.0.0.5:12345"], "labels": {"instance": "web-09", "environment": "production"}}]
    (targets / "10.0.0.5.json.deleted.20240101T000000Z").write_text(json.dumps(group))
    (targets / "10.0.0.6.json").write_text(json.dumps([{"targets": ["10.0.0.6:12345"], "labels": {}}]))
    log_path = tmp_path / "state" / "operations.jsonl"
    monkeypatch.setattr(oplog_mod, "default_path", lambda: log_path)
    OpLog(log_path).append(_record("10.0.0.5"))

    assert cli.main(["--targets-dir", str(targets), "history", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(e["name"], e["state"]) for e in doc["entries"]] == [("10.0.0.5", "retired"), ("10.0.0.6", "active")]
    assert doc["operation_log"] == str(log_path)
    assert [(o["host"], o["operation"], o["outcome"]) for o in doc["operations"]] == [("10.0.0.5", "enroll", "ok")]

    assert cli.main(["--targets-dir", str(targets), "history", "--filter", "10.0.0.5"]) == 0
    trail, ops = capsys.readouterr().out.split("Operations run from this machine")
    assert "10.0.0.5" in trail and "retired" in trail and "10.0.0.6" not in trail
    assert "enroll" in ops and "10.0.0.5" in ops and "changed" in ops


def test_a_test_logs_nowhere_near_the_machines_own_operation_log(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite's operations on the lab (enroll, retire, fix) are not the operator's: the log each test
    writes is in a temp dir of its own (tests/conftest.py), never in the state dir of the machine the suite
    runs on, whose log is its audit trail (found when a newcomer's console history listed 270 operations the
    suite had run)."""
    from fleetui.config import default_state_dir
    from fleetui.lab.topology import lab_dir

    temp_root = tmp_path_factory.getbasetemp().resolve()
    assert temp_root in oplog_mod.default_path().resolve().parents
    assert temp_root in default_state_dir().resolve().parents
    assert temp_root not in lab_dir().resolve().parents  # the lab stays where the session found it
