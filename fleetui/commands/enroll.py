"""`fleetui enroll ADDRESS ...`: the headless twin of the enrollment wizard.

Every argument is validated before anything connects (exit 2, nothing touched), with the flag named. Without
`--yes` it shows the plan and asks on a terminal, and refuses without one, because enrolling changes a host.
Progress is the runner's event stream: one line per step (and progress lines), or with `--json` one object
holding every event. A failure ends with what the host is now, as read back: nothing changed, rolled back,
changed (what), or unknown and how to check. Ctrl-C stops safely: the run rolls back first. Passwords and DSNs
are read from environment variables named on the command line and never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from fleetui.config import Settings

if TYPE_CHECKING:
    from fleetui.deploy.events import OperationResult
    from fleetui.deploy.runner import Run
    from fleetui.domain.host import EnrollRequest, InputError

# request field -> the flag that sets it, so an error keyed by field names what to fix
FLAGS = {
    "address": "ADDRESS",
    "port": "--port",
    "user": "--user",
    "identity_file": "--identity",
    "password_env": "--password-env",
    "mode": "--mode",
    "services": "--service",
    "labels": "--label",
    "trust_host_key": "--trust-host-key",
}


def add_connection_arguments(p: argparse.ArgumentParser, *, address_optional: bool = False) -> None:
    p.add_argument(
        "address",
        metavar="ADDRESS",
        nargs="?" if address_optional else None,
        help="host name or IP address of the host" + (" (or --from FILE for many)" if address_optional else ""),
    )
    p.add_argument("--port", type=int, default=None, help="SSH port (default: ssh.port)")
    p.add_argument("--user", default=None, help="SSH user (default: ssh.user); non-root users need sudo")
    p.add_argument("--identity", metavar="FILE", default=None, help="private key (default: agent, ~/.ssh)")
    p.add_argument(
        "--password-env", metavar="VAR", default=None, help="environment variable holding the SSH (and sudo) password"
    )
    p.add_argument(
        "--trust-host-key",
        metavar="SHA256:...",
        default=None,
        help="trust an unknown host key only if its fingerprint is exactly this",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object with every step's event")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """enroll: one host (ADDRESS), or many (--from FILE / --retry-failed RESULTS)."""
    from fleetui.commands import batch_enroll

    add_request_arguments(p, address_optional=True)
    batch_enroll.add_batch_arguments(p)


def add_request_arguments(p: argparse.ArgumentParser, *, address_optional: bool = False) -> None:
    """Everything one host's request takes (enroll and plan)."""
    add_connection_arguments(p, address_optional=address_optional)
    p.add_argument(
        "--mode",
        choices=("pull", "push"),
        default=None,
        help="pull: Prometheus scrapes Alloy (default); push: Alloy remote-writes",
    )
    p.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME[:k=v,...]",
        help="postgres:dsn_env=VAR, nginx[:exporter=H:P,url=URL], journal[:unit=U,loki_url=URL], "
        "logfile:path=P[,path=P...], self",
    )
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="a target label")
    p.add_argument("--yes", action="store_true", help="do not ask before changing the host")


def error_line(e: InputError) -> str:
    """One line naming each bad flag: `--label: label 'job' is set by fleetui ...`."""
    from fleetui.domain.host import InputErrors

    errors = e.errors if isinstance(e, InputErrors) else {e.field: str(e)}
    return "; ".join(f"{FLAGS.get(f, f)}: {m}" if f else m for f, m in errors.items())


def build(
    args: argparse.Namespace, settings: Settings, *, with_services: bool = True
) -> tuple[EnrollRequest, str | None]:
    """(EnrollRequest, password) from the arguments; InputErrors naming every bad field."""
    from fleetui.domain.host import InputError, InputErrors, build_request
    from fleetui.domain.labels import LabelError, LabelSchema, parse_label_args

    errors: dict[str, str] = {}
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            errors["password_env"] = f"environment variable {args.password_env} is not set"
    labels: dict[str, str] = {}
    try:
        labels = parse_label_args(args.label) if with_services else {}
    except LabelError as e:
        errors["labels"] = str(e)
    schema = LabelSchema(tuple(settings["schema.required_labels"]), dict(settings["schema.aliases"]))
    try:
        req = build_request(
            args.address,
            port=args.port,  # None: the ssh config's Port, else ssh.port (resolved when connecting)
            user=args.user,  # None: the ssh config's User, else ssh.user
            identity_file=args.identity,
            password_env=args.password_env,
            mode=getattr(args, "mode", None) or "pull",
            services=args.service if with_services else (),
            labels=labels,
            trust_host_key=args.trust_host_key,
            schema=schema if with_services and "labels" not in errors else None,
        )
    except InputError as e:
        found = e.errors if isinstance(e, InputErrors) else {e.field: str(e)}
        raise InputErrors({**found, **errors}) from None
    if errors:
        raise InputErrors(errors)
    return req, password


def host_key_callback(args: argparse.Namespace) -> Any:
    """--trust-host-key, else (on a terminal, without --json) ask the operator; else refuse unknown keys."""
    import asyncio

    from fleetui.adapters.ssh import HostKeyInfo, trust_exactly

    if args.trust_host_key or args.json or not sys.stdin.isatty():
        return trust_exactly(args.trust_host_key)

    async def ask(info: HostKeyInfo) -> bool:
        prompt = (
            f"The host key of {info.display} is not known.\n  {info.key_type} {info.fingerprint}\n"
            "Check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). Trust it? [y/N] "
        )
        answer = await asyncio.to_thread(input, prompt)
        return answer.strip().lower() in ("y", "yes")

    return ask


SYMBOL = {"done": "ok  ", "skipped": "skip", "failed": "FAIL", "planned": "plan", "progress": "  .."}


def print_event(ev: Any) -> None:
    if ev.status.value == "started":
        return
    if ev.status.value == "progress":
        print(f"  {SYMBOL['progress']} {ev.step:<9} {ev.message}", flush=True)
        return
    print(f"  {SYMBOL[ev.status.value]} {ev.step:<9} {ev.message} ({ev.elapsed_s:.2f}s)", flush=True)


def print_plan(result: OperationResult) -> None:
    plan = result.summary.get("plan", {})
    if plan.get("install"):
        print("Would install Alloy with:")
        for c in plan["install"]:
            print(f"    {c}")
    for key, title in (
        ("config_diff", "Alloy config"),
        ("env_diff", "environment file (secrets masked)"),
        ("target_diff", "Prometheus target file"),
    ):
        diff = plan.get(key)
        print(f"{title}: {'unchanged' if not diff else 'changes:'}")
        if diff:
            print(diff.rstrip("\n"))
    skipped = [e.step for e in result.events if e.status.value == "skipped"]
    if skipped:
        print(f"Steps that would be skipped (unchanged): {', '.join(skipped)}")


def exit_code(result: OperationResult) -> int:
    if result.ok:
        return 0
    return 2 if result.error_kind is not None and result.error_kind.value == "connect" else 1


def failure_line(verb: str, result: OperationResult) -> str:
    """`fleetui enroll: ready failed: <why>; <what the host is now>` on one line."""
    from fleetui.deploy.decisions import host_sentence

    host = host_sentence(result.host_state, result.changes)
    return f"fleetui {verb}: {result.failed_step} failed: {result.error}; {host}"


async def drive(run: Run, *, quiet: bool, verb: str) -> OperationResult:
    """Iterate the run's events (printing them unless quiet). On Ctrl-C the run rolls back before events()
    gives up, and the outcome is printed before the interrupt goes on."""
    import asyncio

    try:
        async for ev in run.events():
            if not quiet:
                print_event(ev)
    except asyncio.CancelledError:
        if run.result is not None:
            print(failure_line(verb, run.result), file=sys.stderr)
        raise
    assert run.result is not None
    return run.result


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from fleetui.commands import batch_enroll, oplog_write
    from fleetui.deploy.enroll import enroll_operation, resolve_secrets
    from fleetui.deploy.runner import Runner
    from fleetui.domain.host import InputError

    if batch_enroll.is_batch(args):
        return batch_enroll.run(args, settings)
    if args.address is None:
        print("fleetui enroll: give an ADDRESS, or --from FILE for many hosts", file=sys.stderr)
        return 2
    try:
        req, password = build(args, settings)
        secrets = resolve_secrets(req, os.environ)
        enroll_operation(req, settings, password=password, secrets=secrets)  # every check, before connecting
    except InputError as e:
        print(f"fleetui enroll: {error_line(e)}", file=sys.stderr)
        return 2
    if not args.yes and not sys.stdin.isatty():
        print(
            "fleetui enroll: refusing to change a host without confirmation: pass --yes "
            "(see what would change with `fleetui plan`)",
            file=sys.stderr,
        )
        return 2
    on_key = host_key_callback(args)

    def op() -> Any:
        return enroll_operation(req, settings, password=password, secrets=secrets, on_unknown_key=on_key)

    async def main() -> int:
        runner = Runner(settings)
        if not args.yes:
            pres = await drive(runner.start(op(), dry_run=True), quiet=True, verb="enroll")
            if not pres.ok:
                print(f"fleetui enroll: plan failed at {pres.failed_step}: {pres.error}", file=sys.stderr)
                return exit_code(pres)
            print_plan(pres)
            answer = await asyncio.to_thread(input, f"Enroll {req.address}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing changed.")
                return 0
        if not args.json:
            print(f"Enrolling {req.address} ({req.mode.value} mode)")
        run = runner.start(op())
        try:
            result = await drive(run, quiet=args.json, verb="enroll")
        finally:
            oplog_write.log_results([run.result], verb="enroll")  # Ctrl-C too: the run rolled back first
        if args.json:
            print(json.dumps(result.to_json()))
        elif result.ok:
            print(
                f"{req.address} enrolled in {result.elapsed_s:.1f}s" + ("" if result.changed else " (nothing changed)")
            )
        else:
            print(failure_line("enroll", result), file=sys.stderr)
        return exit_code(result)

    return asyncio.run(main())
