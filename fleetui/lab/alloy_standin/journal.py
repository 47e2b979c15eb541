"""The journal of a lab host, and `journalctl` over it, as far as fleetui reads them (fleetui lab stand-in).

No journald runs in the lab, so the stand-in `systemctl` writes what a unit prints, one JSON record per line,
to /var/log/journal/fleetui-standin/<unit>.jsonl. `journalctl` reads those files with journald's semantics
where fleetui depends on them:

- Cursors: every entry has one, `s=<seqnum id>;i=<seqnum>;b=<boot id>;m=<monotonic>;t=<realtime>;x=<hash>`
  (hex, like journald's); `-o json` carries it as `__CURSOR`, `--show-cursor` prints the last one as
  `-- cursor: …`, `--cursor=C` starts at that entry and `--after-cursor=C` just after it. A cursor from another
  journal file (other seqnum id) seeks by its realtime; a malformed one fails like journalctl:
  `Failed to seek to cursor: Invalid argument`, exit 1.
- Where to start, in journalctl's order of precedence: cursor, else `--since`, else `-n N` (the last N; `-f`
  alone means `-n 10`), else the first entry. `--until`, `-p/--priority` and `-g/--grep` filter.
- `-o short|short-iso|short-precise|short-iso-precise|short-unix|cat|json|json-pretty` with `--utc`; in
  `json`, a MESSAGE that is not printable UTF-8 is written as an array of byte values, as journalctl does, and
  `--output-fields=A,B` (systemd 236+) keeps those fields plus the four it always prints (__CURSOR, …).
- `-f` follows by reading only what was appended since the last read (offsets, not a re-read of the file), so
  a host logging fast streams fast; like journalctl since systemd 249 it ends when stdout's reader goes away
  (POLLERR/POLLHUP on the pipe), not only on the next failed write.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import select
import socket
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL = Path("/var/log/journal/fleetui-standin")
_BLOCK = 4 << 20


def _unit_name(u: str) -> str:
    return u if "." in u else f"{u}.service"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
    except OSError:
        return "0" * 32


def _seqnum_id(unit: str) -> str:
    """The journal file's seqnum id (journald: one per file), made once, exclusively."""
    path = JOURNAL / f"{unit}.id"
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    JOURNAL.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(16) + "\n")
    return path.read_text().strip()


def journal_write(unit: str, ident: str, pid: int, msg: str, priority: int = 6) -> None:
    """Append one entry; one write() on an O_APPEND descriptor, so concurrent writers never interleave."""
    _seqnum_id(unit)
    now = time.time()
    rec = {
        "ts": now,
        "rt": int(now * 1e6),
        "mono": time.monotonic_ns() // 1000,
        "host": socket.gethostname(),
        "ident": ident,
        "pid": pid,
        "unit": unit,
        "prio": priority,
        "msg": msg,
    }
    data = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8", "surrogateescape")
    fd = os.open(JOURNAL / f"{unit}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# --- reading ------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    unit: str
    sid: str
    seq: int  # 1-based position in the unit's file
    rec: dict[str, Any]

    @property
    def rt(self) -> int:
        return int(self.rec.get("rt") or int(float(self.rec.get("ts", 0)) * 1e6))

    @property
    def cursor(self) -> str:
        mono = int(self.rec.get("mono", 0))
        x = zlib.crc32(f"{self.sid}:{self.seq}:{self.rt}".encode())
        return f"s={self.sid};i={self.seq:x};b={_BOOT};m={mono:x};t={self.rt:x};x={x:x}"


_BOOT = _boot_id()


@dataclass
class Reader:
    """Reads one unit's file from an offset, keeping the partial last line for the next read."""

    unit: str
    offset: int = 0
    seq: int = 0
    partial: bytes = b""
    sid: str = field(default="")

    def read(self) -> Iterator[Entry]:
        path = JOURNAL / f"{self.unit}.jsonl"
        try:
            f = path.open("rb")
        except FileNotFoundError:
            return
        if not self.sid:
            self.sid = _seqnum_id(self.unit)
        with f:
            f.seek(self.offset)
            while True:
                chunk = f.read(_BLOCK)
                if not chunk:
                    break
                self.offset += len(chunk)
                lines = (self.partial + chunk).split(b"\n")
                self.partial = lines.pop()
                for raw in lines:
                    self.seq += 1
                    try:
                        rec = json.loads(raw)
                    except ValueError:
                        continue
                    yield Entry(self.unit, self.sid, self.seq, rec)


class CursorError(ValueError):
    pass


def parse_cursor(c: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in c.split(";"):
        k, sep, v = item.partition("=")
        if not sep or not re.fullmatch(r"[0-9a-f]+", v):
            raise CursorError(c)
        parts[k] = v
    if "s" not in parts and "t" not in parts:
        raise CursorError(c)
    return parts


# --- time arguments ----------------------------------------------------------------------------------------

_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*(usec|us|msec|ms|seconds?|sec|s|minutes?|min|m|hours?|hr|h|days?|d|weeks?|w)?")
_SPAN_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1}
_SPAN_UNITS.update({"m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600})
_SPAN_UNITS.update({"hours": 3600, "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800})
_SPAN_UNITS["weeks"] = 604800


def _span(s: str) -> float:
    total, pos = 0.0, 0
    s = s.strip()
    for m in _SPAN.finditer(s):
        if m.start() != pos or not m.group(0):
            break
        total += float(m.group(1)) * _SPAN_UNITS[m.group(2) or "s"]
        pos = m.end()
        while pos < len(s) and s[pos] == " ":
            pos += 1
    if pos != len(s) or not s:
        raise ValueError(s)
    return total


def parse_time(s: str, now: float | None = None) -> float:
    """systemd.time(7) as journalctl reads --since/--until: `-10min`, `+5s`, `10 min ago`, `@epoch`, `now`,
    `today`, `yesterday`, `YYYY-MM-DD [HH:MM[:SS]]` (local time, which is UTC in the lab)."""
    now = time.time() if now is None else now
    t = s.strip()
    if t == "now":
        return now
    if t in ("today", "yesterday", "tomorrow"):
        midnight = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
        return midnight + {"today": 0, "yesterday": -86400, "tomorrow": 86400}[t]
    if t.startswith("@"):
        return float(t[1:])
    if t.startswith("-"):
        return now - _span(t[1:])
    if t.startswith("+"):
        return now + _span(t[1:])
    if t.endswith(" ago"):
        return now - _span(t[:-4])
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            return time.mktime(time.strptime(t, fmt))
    raise ValueError(s)


_PRIORITIES = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}


def _priority(s: str) -> tuple[int, int]:
    def one(x: str) -> int:
        return int(x) if x.isdigit() else _PRIORITIES[x]

    lo, sep, hi = s.partition("..")
    return (one(lo), one(hi)) if sep else (0, one(lo))


# --- formatting --------------------------------------------------------------------------------------------


def _printable(msg: str) -> bool:
    return not any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in msg) and "\ufffd" not in msg


_ALWAYS = ("__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "_BOOT_ID")


def _json(e: Entry, pretty: bool, fields: tuple[str, ...] | None = None) -> str:
    r = e.rec
    systemd = r.get("ident") == "systemd"
    msg = str(r.get("msg", ""))
    rec: dict[str, Any] = {
        "__CURSOR": e.cursor,
        "__REALTIME_TIMESTAMP": str(e.rt),
        "__MONOTONIC_TIMESTAMP": str(int(r.get("mono", 0))),
        "_BOOT_ID": _BOOT,
        "PRIORITY": str(r.get("prio", 6)),
        "SYSLOG_FACILITY": "3",
        "SYSLOG_IDENTIFIER": str(r.get("ident", "")),
        "_PID": str(r.get("pid", "")),
        "_UID": "0",
        "_GID": "0",
        "_COMM": str(r.get("ident", "")),
        "_TRANSPORT": "journal" if systemd else "stdout",
        "_SYSTEMD_UNIT": "init.scope" if systemd else e.unit,
        "_SYSTEMD_SLICE": "-.slice" if systemd else "system.slice",
        "_HOSTNAME": str(r.get("host", "")),
        "MESSAGE": msg if _printable(msg) else list(msg.encode("utf-8", "surrogateescape")),
    }
    if systemd:
        rec["UNIT"] = e.unit
    if fields is not None:  # --output-fields: these, plus the four journalctl always prints
        rec = {k: v for k, v in rec.items() if k in fields or k in _ALWAYS}
    return json.dumps(rec, indent=1 if pretty else None, ensure_ascii=False)


def format_entry(e: Entry, output: str, utc: bool, fields: tuple[str, ...] | None = None) -> str:
    r = e.rec
    if output == "cat":
        return str(r.get("msg", ""))
    if output in ("json", "json-pretty"):
        return _json(e, output == "json-pretty", fields)
    secs = e.rt / 1e6
    tm = time.gmtime(secs) if utc else time.localtime(secs)
    micros = f"{e.rt % 1_000_000:06d}"
    if output == "short-iso":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", tm)
    elif output == "short-iso-precise":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.", tm) + micros + time.strftime("%z", tm)
    elif output == "short-precise":
        stamp = time.strftime("%b %d %H:%M:%S.", tm) + micros
    elif output == "short-unix":
        stamp = f"{e.rt // 1_000_000}.{micros}"
    else:
        stamp = time.strftime("%b %d %H:%M:%S", tm)
    return f"{stamp} {r.get('host', '')} {r.get('ident', '')}[{r.get('pid', '')}]: {r.get('msg', '')}"


def journal_lines(unit: str, n: int | None, output: str) -> list[str]:
    """The last `n` entries of one unit, formatted (systemctl status shows 10 of them)."""
    entries = list(Reader(unit).read())
    if n is not None:
        entries = entries[-n:] if n > 0 else []
    return [format_entry(e, output, False) for e in entries]


# --- journalctl ----------------------------------------------------------------------------------------------

OUTPUTS = ("short", "short-iso", "short-precise", "short-iso-precise", "short-unix", "cat", "json", "json-pretty")
_NO_VALUE = {"--no-pager", "-q", "--quiet", "-b", "--boot", "-e", "--pager-end", "-x", "--catalog", "-a", "--all"}
_NO_VALUE |= {"--no-hostname", "--system", "-m", "--merge"}


@dataclass
class Args:
    units: list[str] = field(default_factory=list)
    lines: int | None = None
    follow: bool = False
    no_tail: bool = False
    output: str = "short"
    utc: bool = False
    quiet: bool = False
    since: float | None = None
    until: float | None = None
    cursor: str | None = None
    after_cursor: str | None = None
    show_cursor: bool = False
    priority: tuple[int, int] | None = None
    grep: re.Pattern[str] | None = None
    fields: tuple[str, ...] | None = None


class Usage(Exception):
    pass


def parse_args(argv: list[str]) -> Args:
    a = Args()
    i = 0

    def value(opt: str) -> str:
        nonlocal i
        cur = argv[i]
        if cur.startswith("--") and "=" in cur:
            return cur.split("=", 1)[1]
        if not cur.startswith("--") and len(cur) > 2:
            return cur[2:]
        i += 1
        if i >= len(argv):
            raise Usage(f"option '{opt}' requires an argument")
        return argv[i]

    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
        try:
            if name in ("-u", "--unit"):
                a.units.append(_unit_name(value(name)))
            elif name in ("-n", "--lines"):
                v = value(name)
                a.lines = None if v == "all" else int(v.lstrip("+"))
            elif name in ("-f", "--follow") and arg in ("-f", "--follow"):
                a.follow = True
            elif arg == "--no-tail":
                a.no_tail = True
            elif name in ("-o", "--output"):
                a.output = value(name)
                if a.output not in OUTPUTS:
                    raise Usage(f"Unknown output format '{a.output}'.")
            elif arg == "--utc":
                a.utc = True
            elif arg in ("-q", "--quiet"):
                a.quiet = True
            elif name in ("-S", "--since"):
                a.since = parse_time(value(name))
            elif name in ("-U", "--until"):
                a.until = parse_time(value(name))
            elif name in ("-c", "--cursor"):
                a.cursor = value(name)
            elif name == "--after-cursor":
                a.after_cursor = value(name)
            elif name == "--output-fields":
                a.fields = tuple(f for f in value(name).split(",") if f)
            elif arg == "--show-cursor":
                a.show_cursor = True
            elif name in ("-p", "--priority"):
                a.priority = _priority(value(name))
            elif name in ("-g", "--grep"):
                pat = value(name)
                a.grep = re.compile(pat, 0 if any(c.isupper() for c in pat) else re.IGNORECASE)
            elif arg in _NO_VALUE:
                pass
            else:
                raise Usage(f"unrecognized option '{arg}'")
        except (ValueError, KeyError, re.error) as e:
            if isinstance(e, Usage):
                raise
            raise Usage(f"Failed to parse {arg}: {e}") from None
        i += 1
    if a.follow and a.lines is None and not a.no_tail:
        a.lines = 10
    return a


def _wanted(a: Args, e: Entry) -> bool:
    if a.priority is not None and not a.priority[0] <= int(e.rec.get("prio", 6)) <= a.priority[1]:
        return False
    if a.until is not None and e.rt / 1e6 > a.until:
        return False
    return a.grep is None or a.grep.search(str(e.rec.get("msg", ""))) is not None


def _start(a: Args, entries: list[Entry]) -> list[Entry]:
    """Apply journalctl's seek: cursor, else --since, else the last -n, else everything."""
    cursor = a.after_cursor or a.cursor
    if cursor is not None:
        c = parse_cursor(cursor)
        same = [i for i, e in enumerate(entries) if e.sid == c.get("s") and f"{e.seq:x}" == c.get("i")]
        if same:
            return entries[same[0] + (1 if a.after_cursor else 0) :]
        t = int(c.get("t", "0"), 16)
        found = next((i for i, e in enumerate(entries) if e.rt > t or (e.rt == t and not a.after_cursor)), None)
        return entries[len(entries) if found is None else found :]
    if a.since is not None:
        return [e for e in entries if e.rt / 1e6 >= a.since]
    if a.lines is not None:
        return entries[-a.lines :] if a.lines > 0 else []
    return entries


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def journalctl(argv: list[str]) -> int:
    try:
        a = parse_args(argv)
    except Usage as bad:
        print(f"journalctl: {bad}", file=sys.stderr)
        return 1
    if not a.units:
        a.units = sorted(p.name[: -len(".jsonl")] for p in JOURNAL.glob("*.jsonl")) if JOURNAL.is_dir() else []
    readers = [Reader(u) for u in a.units]
    matched = sorted((e for r in readers for e in r.read() if _wanted(a, e)), key=lambda e: e.rt)
    try:
        shown = _start(a, matched)
    except CursorError:
        print("Failed to seek to cursor: Invalid argument", file=sys.stderr)
        return 1
    last: Entry | None = None
    try:
        for entry in shown:
            _out(format_entry(entry, a.output, a.utc, a.fields))
            last = entry
        if not shown and not a.quiet and not a.follow and not a.output.startswith("json"):
            _out("-- No entries --")
        if a.show_cursor and last is not None and not a.follow:
            _out(f"-- cursor: {last.cursor}")
        sys.stdout.flush()
        if not a.follow or not readers:
            return 0
        # like journalctl since systemd 249: stop following once nobody reads stdout any more
        gone = select.poll()
        gone.register(sys.stdout.fileno(), 0)
        while True:
            if gone.poll(50):
                return 0
            new = sorted((e for r in readers for e in r.read() if _wanted(a, e)), key=lambda e: e.rt)
            for entry in new:
                _out(format_entry(entry, a.output, a.utc, a.fields))
            if new:
                sys.stdout.flush()
    except (KeyboardInterrupt, BrokenPipeError):
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
