"""The lab's journalctl stand-in keeps journalctl's cursor semantics, which the log stream's resume relies on.

Run against a scratch journal directory (the same code the lab hosts run as /usr/bin/journalctl); the
end-to-end resume over SSH is in tests/lab/test_logs_lab.py.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from fleetui.lab.alloy_standin import journal as j


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(j, "JOURNAL", tmp_path)
    for i in range(6):
        j.journal_write("alloy.service", "alloy", 42, f"level=info msg=line{i}")
    j.journal_write("alloy.service", "systemd", 1, "alloy.service: Failed with result 'exit-code'.", 4)
    j.journal_write("other.service", "other", 7, "not alloy")
    return tmp_path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = j.journalctl(list(argv))
    return rc, out.getvalue(), err.getvalue()


def cursors(text: str) -> list[str]:
    return [json.loads(line)["__CURSOR"] for line in text.splitlines()]


def test_json_entries_carry_cursors_and_after_cursor_resumes_exactly(journal: Path) -> None:
    rc, out, _ = run("-u", "alloy", "-o", "json")
    recs = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and len(recs) == 7
    assert [r["MESSAGE"] for r in recs[:2]] == ["level=info msg=line0", "level=info msg=line1"]
    assert recs[-1]["SYSLOG_IDENTIFIER"] == "systemd" and recs[-1]["PRIORITY"] == "4"
    assert len(set(cursors(out))) == 7 and all(c.startswith("s=") and ";i=" in c for c in cursors(out))
    third = cursors(out)[2]
    _, after, _ = run("-u", "alloy", "-o", "cat", f"--after-cursor={third}")
    assert after.splitlines()[:3] == ["level=info msg=line3", "level=info msg=line4", "level=info msg=line5"]
    _, at, _ = run("-u", "alloy", "-o", "cat", f"--cursor={third}")
    assert at.splitlines()[0] == "level=info msg=line2"
    # a cursor beats -n and --since (journalctl's precedence)
    _, both, _ = run("-u", "alloy", "-o", "cat", "-n", "1", f"--after-cursor={third}")
    assert len(both.splitlines()) == 4


def test_show_cursor_and_bad_cursor(journal: Path) -> None:
    rc, out, _ = run("-u", "alloy", "-n", "2", "--show-cursor", "-o", "cat")
    lines = out.splitlines()
    assert rc == 0 and lines[0] == "level=info msg=line5" and lines[-1].startswith("-- cursor: s=")
    _, again, _ = run("-u", "alloy", "-o", "cat", f"--after-cursor={lines[-1].removeprefix('-- cursor: ')}")
    assert again == "-- No entries --\n"  # nothing after the last entry
    rc, _, err = run("-u", "alloy", "--after-cursor=not a cursor")
    assert rc == 1 and err.strip() == "Failed to seek to cursor: Invalid argument"


def test_a_cursor_from_another_journal_seeks_by_time(journal: Path) -> None:
    _, out, _ = run("-u", "alloy", "-o", "json")
    rec = json.loads(out.splitlines()[3])
    foreign = f"s={'0' * 32};i=ffff;b=0;m=0;t={int(rec['__REALTIME_TIMESTAMP']):x};x=0"
    _, after, _ = run("-u", "alloy", "-o", "cat", f"--after-cursor={foreign}")
    assert after.splitlines()[0] == "level=info msg=line4"


def test_filters_and_formats(journal: Path) -> None:
    assert run("-u", "alloy", "-o", "cat", "-p", "warning")[1] == "alloy.service: Failed with result 'exit-code'.\n"
    assert run("-u", "alloy", "-o", "cat", "-g", "line[12]")[1].splitlines() == [
        "level=info msg=line1",
        "level=info msg=line2",
    ]
    assert run("-u", "alloy", "-o", "cat", "--since=-1h", "-n", "1")[1].count("\n") == 7  # --since wins over -n
    assert run("-u", "alloy", "--since=+1h")[1] == "-- No entries --\n"
    assert run("-u", "alloy", "--since=+1h", "-o", "json")[1] == ""
    short = run("-u", "alloy", "-n", "1", "--utc", "-o", "short-iso")[1]
    assert short.endswith(" systemd[1]: alloy.service: Failed with result 'exit-code'.\n") and "+0000 " in short
    assert run("-u", "alloy", "-o", "verbose")[0] == 1


def test_output_fields_keeps_the_four_journalctl_always_prints(journal: Path) -> None:
    rec = json.loads(run("-u", "alloy", "-o", "json", "-n", "1", "--output-fields=MESSAGE,PRIORITY")[1])
    assert set(rec) == {"__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "_BOOT_ID", "MESSAGE", "PRIORITY"}


def test_unprintable_messages_become_byte_arrays(journal: Path) -> None:
    j.journal_write("alloy.service", "alloy", 42, "level=warn msg=\x1b[31mred")
    rec = json.loads(run("-u", "alloy", "-o", "json", "-n", "1")[1])
    assert rec["MESSAGE"] == list(b"level=warn msg=\x1b[31mred")


def test_time_arguments() -> None:
    assert j.parse_time("-10min", 1000.0) == 400.0
    assert j.parse_time("1h 30min ago", 10000.0) == 4600.0
    assert j.parse_time("@1700000000") == 1700000000.0
    with pytest.raises(ValueError):
        j.parse_time("soonish")
