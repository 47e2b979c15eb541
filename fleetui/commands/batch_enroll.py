"""`fleetui enroll --from FILE` / `--retry-failed RESULTS`: many hosts at once on the operation runner.

Every row is checked before any connection: bad rows are listed with their reasons and nothing starts unless
`--skip-invalid`. A batch never trusts a host key it has not seen: keys must already be in fleetui's known_hosts
(the README shows how to fill it from `ssh-keyscan` after checking), and a host with an unknown or changed key
fails alone, with that reason. Output: a live line per host on a terminal; plain lines when not one; with
`--json` one JSON object per event and a closing summary. The results file (per host: outcome, step, error,
what the host is now) is what `--retry-failed` reads: it runs only the hosts that did not come up there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetui.config import Settings, default_state_dir

if TYPE_CHECKING:
    from fleetui.adapters.ssh import HostKeyInfo
    from fleetui.deploy.batch import Batch, BatchEvent, BatchHost
    from fleetui.domain.hostlist import HostEntry

# per-host flags that a host list sets per row instead
HOST_FLAGS = (
    ("address", "ADDRESS"),
    ("port", "--port"),
    ("user", "--user"),
    ("identity", "--identity"),
    ("password_env", "--password-env"),
    ("trust_host_key", "--trust-host-key"),
    ("mode", "--mode"),
    ("service", "--service"),
    ("label", "--label"),
)


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("batch (many hosts; see the README's 'Batch enrollment')")
    g.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="host list: fleetui YAML or CSV, or an Ansible inventory (INI or YAML)",
    )
    g.add_argument("--retry-failed", metavar="RESULTS", help="run only the hosts that did not come up in RESULTS")
    g.add_argument("--concurrency", type=int, metavar="N", help="hosts at once (default: ssh.concurrency)")
    g.add_argument("--max-failures", type=int, metavar="N", help="start no new host once N hosts have failed")
    g.add_argument(
        "--max-fail-percentage",
        type=float,
        metavar="P",
        help="as Ansible's max_fail_percentage: start no new host once more than P%% of the batch failed",
    )
    g.add_argument("--canary", type=int, default=0, metavar="K", help="enroll K hosts first; go on only if all came up")
    g.add_argument("--skip-invalid", action="store_true", help="run the valid rows even when some rows are bad")
    g.add_argument("--results", metavar="FILE", help="results file (default: <state dir>/batches/enroll-<time>.json)")


def is_batch(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "from_file", None) or getattr(args, "retry_failed", None) or _addresses(args))


def _addresses(args: argparse.Namespace) -> list[str]:
    """`fleetui enroll A B ...`: two or more addresses on the command line are a batch (empty otherwise)."""
    given = getattr(args, "addresses", None) or []
    return list(given) if len(given) > 1 else []


def _usage(msg: str) -> int:
    print(f"fleetui enroll: {msg}", file=sys.stderr)
    return 2


def _check_flags(args: argparse.Namespace) -> str | None:
    if args.from_file and args.retry_failed:
        return "--from and --retry-failed: give one of them"
    if _addresses(args):
        if args.from_file or args.retry_failed:
            return "ADDRESS: give addresses, or --from FILE / --retry-failed RESULTS, not both"
        if args.trust_host_key:
            return (
                "--trust-host-key: one fingerprint cannot match several hosts; add their keys to fleetui's "
                "known_hosts (see the README: ssh-keyscan) or confirm them in the console's batch screen"
            )
    for dest, flag in HOST_FLAGS if not _addresses(args) else ():
        if getattr(args, dest, None):
            return f"{flag}: a batch takes every host's settings from its list, not from the command line"
    if args.concurrency is not None and args.concurrency < 1:
        return f"--concurrency: must be at least 1, got {args.concurrency}"
    if args.max_failures is not None and args.max_failures < 1:
        return f"--max-failures: must be at least 1, got {args.max_failures}"
    if args.max_fail_percentage is not None and not 0 <= args.max_fail_percentage < 100:
        return f"--max-fail-percentage: must be from 0 to below 100, got {args.max_fail_percentage:g}"
    if args.canary < 0:
        return f"--canary: must be 0 or more, got {args.canary}"
    return None


def read_entries(args: argparse.Namespace) -> tuple[list[HostEntry], str]:
    """(entries, source) from the addresses, --from or --retry-failed; raises ValueError with one sentence."""
    from fleetui.deploy.batch import failed_entries
    from fleetui.domain.hostlist import HostListError, from_yaml_data, parse

    if _addresses(args):
        return address_entries(args), "the command line"
    path = Path(args.from_file or args.retry_failed)
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    if args.from_file:
        try:
            return parse(text, path.name), str(path)
        except HostListError as e:
            raise ValueError(f"{path}: {e}") from None
    try:
        rows = failed_entries(json.loads(text))
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    entries = from_yaml_data({"hosts": rows}) if rows else []
    return entries, f"retry of {path}"


def address_entries(args: argparse.Namespace) -> list[HostEntry]:
    """One entry per address, each with the per-host flags (--port, --user, --service, --label ...), so the
    addresses are validated row by row exactly like a host list."""
    from fleetui.domain.hostlist import HostEntry
    from fleetui.domain.labels import LabelError, parse_label_args

    try:
        labels = parse_label_args(args.label)
    except LabelError as e:
        raise ValueError(f"--label: {e}") from None
    return [
        HostEntry(
            name=address,
            address=address,
            port=args.port,
            user=args.user,
            identity_file=args.identity,
            password_env=args.password_env,
            mode=args.mode or "pull",
            services=tuple(args.service),
            labels=labels,
            where=f"address {i}",
        )
        for i, address in enumerate(_addresses(args), 1)
    ]


def max_failures(args: argparse.Namespace, n: int) -> int | None:
    """--max-failures, or Ansible's rule for --max-fail-percentage: stop when failed/n exceeds P%."""
    budget: int | None = args.max_failures
    if args.max_fail_percentage is not None:
        by_pct = math.floor(n * args.max_fail_percentage / 100) + 1
        budget = by_pct if budget is None else min(budget, by_pct)
    return budget


def build_hosts(
    entries: list[HostEntry],
    settings: Settings,
    unknown_keys: dict[str, HostKeyInfo],
    trusted: Mapping[str, str] | None = None,
) -> tuple[list[BatchHost], list[str]]:
    """(hosts ready to run, one line per bad row). Each row goes through every check `fleetui enroll` makes.
    `trusted`: host name -> the one fingerprint the operator confirmed for it (the console's key review; it may
    be filled after this returns, before the batch starts); any other unknown key is recorded and refused."""
    approved: Mapping[str, str] = {} if trusted is None else trusted
    from fleetui.deploy.batch import BatchHost
    from fleetui.deploy.enroll import enroll_operation, resolve_secrets
    from fleetui.domain.host import InputError, InputErrors
    from fleetui.domain.hostlist import BadRow, validate
    from fleetui.domain.labels import LabelSchema

    schema = LabelSchema(tuple(settings["schema.required_labels"]), dict(settings["schema.aliases"]))
    good, bad = validate(entries, schema)
    lines = [b.line() for b in bad]
    hosts: list[BatchHost] = []
    for entry, req in good:
        password = os.environ.get(req.password_env) if req.password_env else None

        async def refuse(info: HostKeyInfo, name: str = entry.name) -> bool:
            if approved.get(name) == info.fingerprint:
                return True  # confirmed in the console's review, before the batch started
            unknown_keys[name] = info  # a batch never trusts a key silently: recorded, refused, reported
            return False

        try:
            secrets = resolve_secrets(req, os.environ)
            op = enroll_operation(req, settings, password=password, secrets=secrets, on_unknown_key=refuse)
        except InputError as e:
            errors = e.errors if isinstance(e, InputErrors) else {e.field: str(e)}
            lines.append(BadRow(entry, errors).line())
            continue
        hosts.append(BatchHost(entry.name, entry.to_json(), op))
    return hosts, lines


def default_results_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return default_state_dir() / "batches" / f"enroll-{stamp}.json"


def write_results(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def key_message(info: HostKeyInfo, known_hosts: Path) -> str:
    return (
        f"host key of {info.describe} is not in fleetui's known_hosts ({known_hosts}): {info.key_type} "
        f"{info.fingerprint}; a batch never trusts a key by itself: check it on the host and add it "
        "(see the README: ssh-keyscan), or confirm it in the console's batch screen"
    )


# --- output ------------------------------------------------------------------------------------------------------

SHOWN = {"done": "ok  ", "skipped": "skip", "failed": "FAIL"}


class PlainOutput:
    """Not a terminal: one line per step result, prefixed by host, and one line per host as it ends."""

    def __init__(self, width: int) -> None:
        self.width = width

    def event(self, batch: Batch, ev: BatchEvent) -> None:
        if ev.kind == "stopped":
            print(f"STOPPED: {ev.message}", flush=True)
            return
        if ev.kind == "step" and ev.step is not None and ev.step.status.value in SHOWN:
            s = ev.step
            print(f"{ev.host:<{self.width}}  {SHOWN[s.status.value]} {s.step:<9} {s.message}", flush=True)
        elif ev.kind == "host":
            h = next(x for x in batch.hosts if x.name == ev.host)
            if h.state in ("ok", "failed"):
                print(f"{h.name:<{self.width}}  {_plain(h.ending)}", flush=True)

    def close(self, batch: Batch) -> None:
        pass


class LiveOutput:
    """A terminal: one line per host (state, step, elapsed, failure), redrawn in place at most 5 times a second;
    with more hosts than the screen holds, the hosts that are running or failed come first."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.drawn = 0
        self.last = 0.0

    def event(self, batch: Batch, ev: BatchEvent) -> None:
        if ev.kind == "stopped" or time.monotonic() - self.last > 0.2 or ev.kind == "host":
            self.draw(batch)

    def draw(self, batch: Batch) -> None:
        self.last = time.monotonic()
        cols, rows = shutil.get_terminal_size((100, 30))
        order = {"running": 0, "failed": 1, "waiting": 2, "not started": 3, "ok": 4}
        hosts = batch.hosts
        if len(hosts) > rows - 3:
            hosts = sorted(hosts, key=lambda h: order[h.state])[: max(1, rows - 3)]
        lines = [_host_line(h, self.width)[: cols - 1] for h in hosts]
        head = (
            f"{batch.count('ok')} ok, {batch.count('failed')} failed, {batch.count('running')} running, "
            f"{batch.count('waiting')} waiting  ({batch.elapsed_s:.0f}s, concurrency {batch.concurrency})"
        )
        if batch.stopped_because:
            head += f"  STOPPED: {batch.stopped_because}"
        out = "\x1b[F\x1b[2K" * self.drawn + "\n".join(["\x1b[2K" + head[: cols - 1], *lines]) + "\n"
        sys.stdout.write(out)
        sys.stdout.flush()
        self.drawn = len(lines) + 1

    def close(self, batch: Batch) -> None:
        self.draw(batch)


def _host_line(h: BatchHost, width: int) -> str:
    what = {"ok": "ok", "failed": "FAILED", "running": h.step, "waiting": "waiting", "not started": "not started"}
    text = f"{h.name:<{width}}  {what[h.state]:<11} {h.elapsed_s:6.1f}s"
    if h.failure:
        text += f"  {_plain(h.failure)}"
    return text


def _plain(text: str) -> str:
    """Text from a host or a log, made safe for a terminal: control characters (escape sequences) shown as ?."""
    return "".join(c if c.isprintable() else "?" for c in text)


# --- the command ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from fleetui.deploy.batch import Batch
    from fleetui.deploy.runner import Runner

    bad_flag = _check_flags(args)
    if bad_flag:
        return _usage(bad_flag)
    try:
        entries, source = read_entries(args)
    except ValueError as e:
        return _usage(str(e))
    if not entries:
        if args.retry_failed:
            print(f"Nothing to retry: every host of {args.retry_failed} came up.")
            return 0
        return _usage(f"{args.from_file}: no hosts")
    unknown_keys: dict[str, HostKeyInfo] = {}
    hosts, bad_lines = build_hosts(entries, settings, unknown_keys)
    if bad_lines:
        print(
            f"fleetui enroll: {len(bad_lines)} of {len(entries)} hosts cannot be enrolled as listed:", file=sys.stderr
        )
        for line in bad_lines:
            print(f"  {_plain(line)}", file=sys.stderr)
        if not args.skip_invalid:
            print("Nothing was started (fix the rows, or pass --skip-invalid to run the others).", file=sys.stderr)
            return 2
        if not hosts:
            return 2
    if not args.yes and not sys.stdin.isatty():
        return _usage(f"refusing to change {len(hosts)} hosts without confirmation: pass --yes")
    if not args.yes:
        answer = input(f"Enroll {len(hosts)} hosts from {source}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    results_path = Path(args.results) if args.results else default_results_path()
    concurrency = args.concurrency or int(settings["ssh.concurrency"])
    batch = Batch(
        Runner(settings),
        hosts,
        concurrency=concurrency,
        max_failures=max_failures(args, len(hosts)),
        canary=args.canary,
    )
    width = min(30, max(len(h.name) for h in hosts))
    out: PlainOutput | LiveOutput | None = None
    if not args.json:
        out = LiveOutput(width) if sys.stdout.isatty() else PlainOutput(width)
        print(f"Enrolling {len(hosts)} hosts from {source}, {concurrency} at a time; results: {results_path}")

    async def main() -> None:
        async for ev in batch.events():
            if ev.kind == "host":
                _explain_key(batch, ev.host, unknown_keys, settings.known_hosts)
            if args.json:
                print(json.dumps(_json_event(batch, ev)), flush=True)
            elif out is not None:
                out.event(batch, ev)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        write_results(results_path, batch.results_json(source))
        print(
            f"\nfleetui enroll: interrupted; running hosts were rolled back; results: {results_path}", file=sys.stderr
        )
        return 130
    finally:
        if out is not None:
            out.close(batch)
    from fleetui.commands import oplog_write

    oplog_write.log_results((h.result for h in batch.hosts), verb="enroll")
    data = batch.results_json(source)
    write_results(results_path, data)
    if args.json:
        print(
            json.dumps(
                {"event": "summary", **{k: v for k, v in data.items() if k != "hosts"}, "results": str(results_path)}
            )
        )
    else:
        _print_summary(batch, results_path)
    return 0 if batch.count("ok") == len(batch.hosts) else 1


def _explain_key(batch: Batch, name: str, unknown_keys: dict[str, HostKeyInfo], known_hosts: Path) -> None:
    h = next(x for x in batch.hosts if x.name == name)
    info = unknown_keys.get(name)
    if h.state == "failed" and info is not None and h.result is not None and h.result.failed_step == "connect":
        h.error = f"connect failed: {key_message(info, known_hosts)}"


def _json_event(batch: Batch, ev: BatchEvent) -> dict[str, Any]:
    out = ev.to_json()
    if ev.kind == "host":
        h = next(x for x in batch.hosts if x.name == ev.host)
        out.update(h.to_json())
    return out


def _print_summary(batch: Batch, results_path: Path) -> None:
    ok, failed, waiting = batch.count("ok"), batch.count("failed"), batch.count("not started")
    print(f"\n{ok} enrolled, {failed} failed, {waiting} not started in {batch.elapsed_s:.1f}s")
    for h in batch.hosts:
        if h.state in ("failed", "not started"):
            state = f"; host is {h.result.host_state}" if h.result is not None else ""
            print(f"  {h.name}: {_plain(h.failure)}{state}")
    if failed or waiting:
        print(f"Retry those only: fleetui enroll --retry-failed {results_path} --yes")
    print(f"Results: {results_path}")
