"""Alloy's log lines as values: levels, logfmt fields, journal records, filters. No IO, no UI.

Alloy logs logfmt by default (`ts=… level=info msg="…" component_id=…`) or JSON with `logging { format =
"json" }`. journald stores those lines as MESSAGE with PRIORITY 6 whatever they say, so a line's level comes
from its own `level=` field; only lines without one (systemd's "Started alloy.service", "Failed with result")
fall back to the journal PRIORITY. Lines come from a host, so they are untrusted: `visible()` turns every
control character into something a person can see and that a terminal will not obey, for the pane and the CLI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, NamedTuple


class Level(IntEnum):
    """Alloy's four levels, ordered so `level >= Level.WARN` reads as "warn or worse"."""

    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40

    @property
    def label(self) -> str:
        return self.name.lower()


_LEVEL_WORDS: dict[str, Level] = {
    "debug": Level.DEBUG,
    "dbg": Level.DEBUG,
    "trace": Level.DEBUG,
    "info": Level.INFO,
    "notice": Level.INFO,
    "warn": Level.WARN,
    "warning": Level.WARN,
    "error": Level.ERROR,
    "err": Level.ERROR,
    "crit": Level.ERROR,
    "critical": Level.ERROR,
    "fatal": Level.ERROR,
    "panic": Level.ERROR,
}
LEVEL_CHOICES = ("debug", "info", "warn", "error")

# `level=info` in logfmt (quoted or not), `"level":"info"` in Alloy's JSON format
_LOGFMT_LEVEL = re.compile(r'(?:^|\s)level="?([A-Za-z]+)')
_JSON_LEVEL = re.compile(r'"level"\s*:\s*"([A-Za-z]+)"')


def parse_level(word: str) -> Level:
    """`warn`, `WARNING`, … -> Level; ValueError naming the choices for anything else (user input)."""
    level = _LEVEL_WORDS.get(word.strip().lower())
    if level is None:
        raise ValueError(f"level must be one of {', '.join(LEVEL_CHOICES)}, got {word[:20]!r}")
    return level


_FIRST4: dict[str, Level] = {
    "debu": Level.DEBUG,
    "info": Level.INFO,
    "warn": Level.WARN,
    "erro": Level.ERROR,
    "DEBU": Level.DEBUG,
    "INFO": Level.INFO,
    "WARN": Level.WARN,
    "ERRO": Level.ERROR,
}


def level_of(text: str, priority: int | None = None) -> Level | None:
    """The line's own level (logfmt or JSON), else the journal PRIORITY (0-3 error, 4 warn, 5-6 info, 7 debug)."""
    i = text.find("level=")
    if i == 0 or (i > 0 and text[i - 1] in " \t"):  # the common case, without a regex: `… level=info …`
        j = i + 7 if text.startswith('"', i + 6) else i + 6
        found = _FIRST4.get(text[j : j + 4])
        if found is not None:
            return found
    m = _LOGFMT_LEVEL.search(text) or (_JSON_LEVEL.search(text) if text.startswith("{") else None)
    if m:
        found = _LEVEL_WORDS.get(m.group(1).lower())
        if found is not None:
            return found
    if priority is None:
        return None
    if priority <= 3:
        return Level.ERROR
    if priority == 4:
        return Level.WARN
    return Level.DEBUG if priority >= 7 else Level.INFO


# --- logfmt -------------------------------------------------------------------------------------------------

_PAIR = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s]*)')
_UNESCAPE = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def logfmt_fields(text: str) -> dict[str, str]:
    """`key=value key="quoted \\"value\\""` -> {key: value}; tolerant (a malformed tail is skipped, not fatal)."""
    out: dict[str, str] = {}
    for key, raw in _PAIR.findall(text):
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), raw[1:-1])
        out[key] = raw
    return out


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_rfc3339(s: str) -> float | None:
    """Alloy's `ts=2025-05-19T05:33:49.27152637Z` (variable-width nanoseconds) -> unix seconds, or None."""
    m = _RFC3339.match(s)
    if m is None:
        return None
    try:
        base = datetime.fromisoformat(m.group(1) + (m.group(3) or "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return base.timestamp() + (float("0." + m.group(2)) if m.group(2) else 0.0)


# --- the line -------------------------------------------------------------------------------------------------


class LogLine(NamedTuple):
    """One line as the pane and `fleetui logs` show it.

    `host` is the name the operator knows the host by (the prefix of a merged stream); `ts` unix seconds when
    known (journal entry time, else the line's `ts=`); `source` who wrote it: the journal's identifier
    (`alloy`, `systemd`), `file`, or `fleetui` for the pane's own notes (connection lost, resumed).
    `cursor` is the journal cursor of this entry (None for file lines and notes).
    """

    host: str
    text: str
    ts: float | None = None
    level: Level | None = None
    source: str = "alloy"
    cursor: str | None = None

    @property
    def is_note(self) -> bool:
        return self.source == "fleetui"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "ts": self.ts,
            "level": self.level.label if self.level is not None else None,
            "source": self.source,
            "cursor": self.cursor,
            "text": self.text,
        }


def note(host: str, text: str, ts: float | None = None) -> LogLine:
    """A line fleetui adds to a stream (never from the host): connection lost, reconnected, resumed."""
    return LogLine(host, text, ts, None, "fleetui", None)


def file_line(host: str, text: str) -> LogLine:
    """A line of Alloy's log file: level and time come from the line itself."""
    ts = None
    i = text.find("ts=")
    if i != -1:
        end = text.find(" ", i)
        ts = parse_rfc3339(text[i + 3 : end if end != -1 else len(text)].strip('"'))
    return LogLine(host, text, ts, level_of(text), "file", None)


def _field_text(v: Any) -> str:
    """journalctl -o json writes a field as a string, or as an array of byte values when it is not printable
    UTF-8 (control characters, invalid bytes); both end up as text here."""
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        try:
            return bytes(int(b) & 0xFF for b in v).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return ""
    return "" if v is None else str(v)


def parse_journal_json(host: str, raw: str) -> LogLine | None:
    """One line of `journalctl -o json` -> LogLine (with its cursor); None for anything that is not an entry.

    On the hot path of the log pane (one call per line at tens of thousands of lines a second): one json.loads
    and plain dict lookups, the common string case first."""
    if not raw.startswith("{"):
        return None
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    if type(rec) is not dict:
        return None
    cursor = rec.get("__CURSOR")
    if type(cursor) is not str:
        return None
    text = rec.get("MESSAGE")
    if type(text) is not str:
        text = _field_text(text)
    rt = rec.get("__REALTIME_TIMESTAMP")
    ts = int(rt) / 1e6 if type(rt) is str and rt.isdigit() else None
    prio = rec.get("PRIORITY")
    priority = int(prio) if type(prio) is str and prio.isdigit() else None
    source = rec.get("SYSLOG_IDENTIFIER") or rec.get("_COMM") or "alloy"
    if type(source) is not str:
        source = _field_text(source)
    return LogLine(host, text, ts, level_of(text, priority), source, cursor)


# --- showing untrusted text -----------------------------------------------------------------------------------

# C0 controls -> their Unicode "control pictures" (U+2400…), DEL -> ␡; tab becomes spaces
_VISIBLE = {c: 0x2400 + c for c in range(0x20) if c != 0x09}
_VISIBLE[0x7F] = 0x2421
_VISIBLE[0x09] = ord(" ")
_SUSPECT = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def visible(text: str) -> str:
    """Text safe to show: control characters become visible pictures (`␛`, `␤`), C1 controls and
    bidi/zero-width format characters become `<U+XXXX>`, so a log line can neither drive the terminal
    nor reorder what the operator reads."""
    if not _SUSPECT.search(text):
        return text
    text = text.translate(_VISIBLE)
    return _SUSPECT.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def clock_text(ts: float | None) -> str:
    """`05:33:49.271Z` (UTC, milliseconds): the pane's timestamp column."""
    if ts is None:
        return "--:--:--.---Z"
    whole, ms = divmod(round(ts * 1000), 1000)
    h, rem = divmod(whole % 86400, 3600)
    return f"{h:02d}:{rem // 60:02d}:{rem % 60:02d}.{ms:03d}Z"


# --- filters ----------------------------------------------------------------------------------------------------


class FilterError(ValueError):
    """A filter the operator typed that is not a valid regular expression."""


@dataclass(frozen=True)
class LineFilter:
    """What to show: a regular expression (case-insensitive, on host and text) and a lowest level.

    Lines without a level count as info, so `--level warn` hides systemd's chatter but `--level info` keeps it.
    fleetui's own notes always pass: the operator must see that the stream was cut and resumed.
    """

    pattern: str = ""
    min_level: Level | None = None

    def __post_init__(self) -> None:
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as e:
                raise FilterError(f"not a regular expression: {e}") from None

    @property
    def active(self) -> bool:
        return bool(self.pattern) or self.min_level is not None

    def compiled(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern, re.IGNORECASE) if self.pattern else None

    def level_ok(self, line: LogLine) -> bool:
        if self.min_level is None or line.is_note:
            return True
        return (line.level if line.level is not None else Level.INFO) >= self.min_level

    def matches(self, line: LogLine, rx: re.Pattern[str] | None = None) -> bool:
        if line.is_note:
            return True
        if not self.level_ok(line):
            return False
        rx = rx if rx is not None else self.compiled()
        return rx is None or rx.search(line.text) is not None or rx.search(line.host) is not None

    def select(self, lines: Iterable[LogLine]) -> list[LogLine]:
        rx = self.compiled()
        return [ln for ln in lines if self.matches(ln, rx)]


# --- durations --------------------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS: Mapping[str, float] = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """`90s`, `10m`, `1h30m`, `2d` or plain seconds -> seconds (> 0); ValueError with one sentence otherwise."""
    s = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        value = float(s)
    else:
        pos, value = 0, 0.0
        for m in _DURATION.finditer(s):
            if m.start() != pos:
                break
            value += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise ValueError(f"duration must look like 30s, 10m, 1h30m or 2d, got {text[:30]!r}")
    if value <= 0:
        raise ValueError(f"duration must be more than 0, got {text[:30]!r}")
    return value
