"""`fleetui logs HOST... [-f] [--since D] [--grep RE] [--level L] [--json]`: Alloy's logs, the log pane's twin.

One host or many (`[user@]host[:port]`); with several, each line is prefixed by its host and, without `-f`,
the lines of all hosts are printed in time order. Text output shows control characters as visible pictures
(a log line cannot drive the terminal); `--json` prints JSON Lines, one object per log line
(`host ts level source cursor text`) and one per stream event (`{"host", "event", "message"}`: lost,
resumed, failed), so a script sees a reconnect too. A dropped connection is retried and the read resumes after
the last journal cursor printed; the reconnect is reported on stderr (text) or as an event (JSON).
Exit codes: 0 read everything, 1 a host could not be read (the reason on stderr), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fleetui.config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("hosts", nargs="+", metavar="HOST", help="[user@]host[:port] (several: one merged stream)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl+C stops)")
    p.add_argument("--since", metavar="DURATION", help="lines of the last DURATION (30s, 10m, 1h30m, 2d)")
    p.add_argument("-n", "--lines", type=int, default=None, metavar="N", help="the last N lines (default 100)")
    p.add_argument("--grep", metavar="RE", help="only lines matching this regular expression (case-insensitive)")
    p.add_argument("--level", metavar="L", help="only lines of level L or worse: debug, info, warn, error")
    p.add_argument("--file", metavar="PATH", help="read this Alloy log file instead of the journal")
    p.add_argument("--json", action="store_true", help="JSON Lines: one object per log line and per stream event")
    p.add_argument("--port", type=int, default=None, help="SSH port (default: ssh.port)")
    p.add_argument("--user", default=None, help="SSH user (default: ssh.user); non-root users need sudo")
    p.add_argument("--identity", metavar="FILE", default=None, help="private key (default: ssh.identity_file)")
    p.add_argument("--password-env", metavar="VAR", default=None, help="environment variable holding the password")
    p.add_argument(
        "--trust-host-key", metavar="SHA256:...", default=None, help="trust an unknown host key with this fingerprint"
    )


class BadInput(Exception):
    pass


def _inputs(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Everything checked before any connection; BadInput with one line otherwise."""
    from fleetui.domain.host import InputError, check_path
    from fleetui.domain.hostarg import parse_host_arg
    from fleetui.domain.logline import FilterError, LineFilter, parse_duration, parse_level

    try:
        user = args.user or str(settings["ssh.user"])
        port = args.port or int(settings["ssh.port"])
        hosts = [parse_host_arg(h, default_user=user, default_port=port) for h in args.hosts]
        names = [h.name for h in hosts]
        if len(set(names)) != len(names):
            raise BadInput("a host is given twice")
        since = parse_duration(args.since) if args.since else None
        if args.lines is not None and args.lines < 0:
            raise BadInput("--lines must be 0 or more")
        level = parse_level(args.level) if args.level else None
        filt = LineFilter(args.grep or "", level)
        path = check_path("--file", args.file) if args.file else None
    except (InputError, FilterError, ValueError) as e:
        raise BadInput(str(e)) from None
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            raise BadInput(f"--password-env {args.password_env}: that environment variable is not set")
    lines = args.lines if args.lines is not None else (None if since is not None else 100)
    return {"hosts": hosts, "since": since, "lines": lines, "filter": filt, "path": path, "password": password}


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    try:
        inp = _inputs(args, settings)
    except BadInput as e:
        print(f"fleetui logs: {e}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_stream(args, settings, inp))
    except KeyboardInterrupt:
        return 130


async def _stream(args: argparse.Namespace, settings: Settings, inp: dict[str, Any]) -> int:
    import json

    from fleetui.adapters.alloy_logs import FileSource, HostLogStream, LinesEvent, StreamState, merge
    from fleetui.adapters.ssh import SshTarget
    from fleetui.commands.enroll import host_key_callback
    from fleetui.domain.logline import LogLine, visible

    on_key = host_key_callback(args)
    source = FileSource(inp["path"]) if inp["path"] else None
    streams = [
        HostLogStream.over_ssh(
            settings,
            h.name,
            SshTarget(h.host, h.port, h.user),
            identity_file=args.identity,
            password=inp["password"],
            on_unknown_key=on_key,
            follow=args.follow,
            lines=inp["lines"],
            since=inp["since"],
            source=source,
        )
        for h in inp["hosts"]
    ]
    filt = inp["filter"]
    rx = filt.compiled()
    many = len(streams) > 1
    width = max(len(s.name) for s in streams)
    held: list[LogLine] = []  # without -f and with several hosts: printed in time order at the end
    failed = False

    def emit(line: LogLine) -> None:
        if args.json:
            sys.stdout.write(json.dumps(line.to_json(), ensure_ascii=False) + "\n")
        else:
            sys.stdout.write((f"{line.host:<{width}} " if many else "") + visible(line.text) + "\n")

    async for ev in merge(streams):
        if isinstance(ev, LinesEvent):
            chosen = [ln for ln in ev.lines if filt.matches(ln, rx)]
            if many and not args.follow:
                held.extend(chosen)
            else:
                for ln in chosen:
                    emit(ln)
                if args.follow:
                    sys.stdout.flush()
            continue
        if ev.state is StreamState.FAILED:
            failed = True
        if ev.state in (StreamState.STREAMING, StreamState.ENDED):
            continue
        if args.json:
            event = {"host": ev.host, "event": ev.state.value, "message": ev.message}
            sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            print(f"fleetui logs: {ev.host}: {visible(ev.message)}", file=sys.stderr, flush=True)
    for ln in sorted(held, key=lambda ln: ln.ts if ln.ts is not None else 0.0):
        emit(ln)
    return 1 if failed else 0
