"""Log line values: levels, logfmt, journal JSON records, visible text, filters, durations (pure)."""

from __future__ import annotations

import json

import pytest

from fleetui.domain.logline import (
    FilterError,
    Level,
    LineFilter,
    LogLine,
    clock_text,
    file_line,
    level_of,
    logfmt_fields,
    note,
    parse_duration,
    parse_journal_json,
    parse_level,
    parse_rfc3339,
    visible,
)

# real Alloy lines (ALLOY-FACTS §3, from grafana/alloy issues)
NON_RECOVERABLE = (
    'ts=2025-12-04T00:14:28.436638912Z level=error msg="non-recoverable error" component_path=/ '
    "component_id=prometheus.remote_write.default subcomponent=rw remote_name=564de6 "
    "url=http://10.0.0.5:9090/api/v1/write failedSampleCount=771 failedHistogramCount=0 failedExemplarCount=0 "
    'err="server returned HTTP status 404 Not Found: remote write receiver needs to be enabled with '
    '--web.enable-remote-write-receiver"'
)
NO_MSG = (
    "ts=2024-08-16T19:46:05.609982858Z level=info component_path=/ "
    "component_id=prometheus.exporter.unix.default collector=netclass"
)


def test_level_from_logfmt_json_and_journal_priority() -> None:
    assert level_of(NON_RECOVERABLE) is Level.ERROR
    assert level_of(NO_MSG) is Level.INFO
    assert level_of('ts=x level="warn" msg=y') is Level.WARN
    assert level_of('{"ts":"x","level":"debug","msg":"y"}') is Level.DEBUG
    # journald stores Alloy's lines with PRIORITY 6: the line's own level wins
    assert level_of(NON_RECOVERABLE, 6) is Level.ERROR
    # systemd's own lines have no level=: PRIORITY decides (4 warning, 3 err)
    assert level_of("alloy.service: Failed with result 'exit-code'.", 4) is Level.WARN
    assert level_of("Started alloy.service", 6) is Level.INFO
    assert level_of("x", 3) is Level.ERROR and level_of("x", 7) is Level.DEBUG
    assert level_of("no level here") is None
    assert level_of("msg=novel level=shouting") is None  # an unknown word is not a level
    assert level_of("level=WARNING x") is Level.WARN and level_of('a level="error"') is Level.ERROR


def test_parse_level_user_input() -> None:
    assert parse_level("WARNING") is Level.WARN
    with pytest.raises(ValueError, match="debug, info, warn, error"):
        parse_level("loud")


def test_logfmt_fields_quoted_escaped_and_tolerant() -> None:
    f = logfmt_fields(NON_RECOVERABLE)
    assert f["level"] == "error" and f["failedSampleCount"] == "771"
    assert f["err"].startswith("server returned HTTP status 404 Not Found: remote write receiver")
    assert logfmt_fields('a="x \\"q\\" y" b=') == {"a": 'x "q" y', "b": ""}
    assert logfmt_fields('controller_id="" trace_id=95e7')["controller_id"] == ""
    assert logfmt_fields('broken="unterminated k=v') == {"broken": '"unterminated', "k": "v"}


def test_rfc3339_variable_nanoseconds() -> None:
    assert parse_rfc3339("2025-05-19T05:33:49.27152637Z") == pytest.approx(1747632829.27152637)
    assert parse_rfc3339("2025-05-19T05:33:49Z") == 1747632829.0
    assert parse_rfc3339("2025-05-19T07:33:49+02:00") == 1747632829.0
    assert parse_rfc3339("yesterday") is None
    line = file_line("h", NON_RECOVERABLE)
    assert line.level is Level.ERROR and line.ts == pytest.approx(1764807268.4366)


def _record(**fields: object) -> str:
    base = {
        "__CURSOR": "s=abc;i=1f;b=def;m=10;t=5f3;x=9",
        "__REALTIME_TIMESTAMP": "1747632829271526",
        "PRIORITY": "6",
        "SYSLOG_IDENTIFIER": "alloy",
        "MESSAGE": NO_MSG,
    }
    base.update(fields)
    return json.dumps(base)


def test_journal_json_entries() -> None:
    e = parse_journal_json("web-01", _record())
    assert e is not None and e.cursor == "s=abc;i=1f;b=def;m=10;t=5f3;x=9"
    assert e == LogLine("web-01", NO_MSG, 1747632829.271526, Level.INFO, "alloy", e.cursor)
    # a MESSAGE that is not printable UTF-8 comes as an array of bytes (journalctl -o json)
    raw = b"level=warn msg=\x1b[31mred"
    e = parse_journal_json("web-01", _record(MESSAGE=list(raw)))
    assert e is not None and e.text == "level=warn msg=\x1b[31mred" and e.level is Level.WARN
    e = parse_journal_json("h", _record(MESSAGE=[0xFF, 0x41], SYSLOG_IDENTIFIER="systemd", PRIORITY="3"))
    assert e is not None and e.text == "\ufffdA" and e.source == "systemd" and e.level is Level.ERROR
    for junk in ("-- cursor: s=1", "-- No entries --", "{not json", "[1,2]", json.dumps({"MESSAGE": "no cursor"})):
        assert parse_journal_json("h", junk) is None


def test_visible_neutralises_terminal_controls_and_bidi() -> None:
    assert visible("plain [red]markup[/red] stays") == "plain [red]markup[/red] stays"
    assert visible("a\x1b[31mb\x07\r\nc") == "a␛[31mb␇␍␊c"
    assert visible("tab\there") == "tab here"
    assert visible("evil\u202etxt.exe\x9b2J") == "evil<U+202E>txt.exe<U+009B>2J"
    assert visible("zero\u200bwidth") == "zero<U+200B>width"
    assert visible("日本語 ✓") == "日本語 ✓"


def test_clock_text_utc_milliseconds() -> None:
    assert clock_text(1747632829.271) == "05:33:49.271Z"
    assert clock_text(1747632829.9996) == "05:33:50.000Z"
    assert clock_text(None) == "--:--:--.---Z"


def test_filter_regex_level_and_notes() -> None:
    lines = [
        LogLine("web-01", NON_RECOVERABLE, 1.0, Level.ERROR),
        LogLine("web-01", NO_MSG, 2.0, Level.INFO),
        LogLine("cache-01", "Started alloy.service", 3.0, None, "systemd"),
        LogLine("web-01", 'level=debug msg="x"', 4.0, Level.DEBUG),
        note("web-01", "── connection lost ──"),
    ]
    assert LineFilter("REMOTE_WRITE").select(lines) == [lines[0], lines[4]]  # case-insensitive; notes always pass
    assert LineFilter("cache").select(lines) == [lines[2], lines[4]]  # matches the host too
    assert LineFilter(min_level=Level.WARN).select(lines) == [lines[0], lines[4]]
    assert LineFilter(min_level=Level.INFO).select(lines) == [*lines[:3], lines[4]]  # no level counts as info
    assert not LineFilter().active and LineFilter("x").active
    with pytest.raises(FilterError, match="not a regular expression"):
        LineFilter("([")


def test_durations() -> None:
    assert parse_duration("90s") == 90 and parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800 and parse_duration("45") == 45
    for bad in ("", "10 minutes", "m", "1x", "-5m", "0s", "1h30"):
        with pytest.raises(ValueError):
            parse_duration(bad)
