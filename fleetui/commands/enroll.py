"""`fleetui enroll ADDRESS ...`: the headless twin of the enrollment wizard.

Every argument is validated before anything connects (exit 2, nothing touched). Without `--yes` it shows the
plan and asks on a terminal, and refuses without one, because enrolling changes a host. Progress is the
engine's event stream: one line per step, or with `--json` one object holding every event. Passwords and
DSNs are read from environment variables named on the command line and never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fleetui.config import Settings


def add_connection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", metavar="ADDRESS", help="host name or IP address of the host")
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
    add_connection_arguments(p)
    p.add_argument(
        "--mode",
        choices=("pull", "push"),
        default="pull",
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


class BadInput(Exception):
    pass


def build(args: argparse.Namespace, settings: Settings, *, with_services: bool = True) -> tuple[Any, str | None]:
    """(EnrollRequest, password) from the arguments, or BadInput with one line."""
    from fleetui.domain.host import InputError, build_request
    from fleetui.domain.labels import LabelError, LabelSchema, parse_label_args

    try:
        password = None
        if args.password_env:
            password = os.environ.get(args.password_env)
            if password is None:
                raise BadInput(f"--password-env {args.password_env}: that environment variable is not set")
        schema = LabelSchema(tuple(settings["schema.required_labels"]), dict(settings["schema.aliases"]))
        req = build_request(
            args.address,
            port=args.port,  # None: the ssh config's Port, else ssh.port (resolved when connecting)
            user=args.user,  # None: the ssh config's User, else ssh.user
            identity_file=args.identity,
            password_env=args.password_env,
            mode=getattr(args, "mode", "pull"),
            services=args.service if with_services else (),
            labels=parse_label_args(args.label) if with_services else {},
            trust_host_key=args.trust_host_key,
            schema=schema if with_services else None,
        )
        return req, password
    except (InputError, LabelError) as e:
        raise BadInput(str(e)) from None


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


SYMBOL = {"done": "ok  ", "skipped": "skip", "failed": "FAIL"}


def print_event(ev: Any) -> None:
    if ev.status.value == "started":
        return
    print(f"  {SYMBOL[ev.status.value]} {ev.step:<9} {ev.message} ({ev.elapsed_s:.2f}s)", flush=True)


def print_plan(result: Any) -> None:
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
    skipped = [e.step for e in result.events if e.status.value == "skipped" and "plan:" not in e.message]
    if skipped:
        print(f"Steps that would be skipped (unchanged): {', '.join(skipped)}")


def exit_code(result: Any) -> int:
    if result.ok:
        return 0
    return 2 if result.failed_step == "connect" else 1


async def drive(op: Any, as_json: bool) -> Any:
    async for ev in op.run():
        if not as_json:
            print_event(ev)
    return op.result


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from fleetui.deploy.pipeline import Enrollment, resolve_secrets
    from fleetui.deploy.render import RenderInput, check_combination
    from fleetui.domain.host import InputError, OsFamily

    try:
        req, password = build(args, settings)
        secrets = resolve_secrets(req, os.environ)
        # combination rules that do not depend on the OS, before connecting
        check_combination(
            RenderInput(
                req.address, "x", OsFamily.DEBIAN, req.mode, 1, "http://x", req.services, loki_url=_loki(settings)
            )
        )
    except (BadInput, InputError) as e:
        print(f"fleetui enroll: {e}", file=sys.stderr)
        return 2
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "fleetui enroll: refusing to change a host without confirmation: pass --yes "
                "(see what would change with `fleetui plan`)",
                file=sys.stderr,
            )
            return 2
        plan = Enrollment(
            req, settings, password=password, secrets=secrets, on_unknown_key=host_key_callback(args), dry_run=True
        )
        pres = asyncio.run(drive(plan, True))
        if not pres.ok:
            print(f"fleetui enroll: plan failed at {pres.failed_step}: {pres.error}", file=sys.stderr)
            return exit_code(pres)
        print_plan(pres)
        if input(f"Enroll {req.address}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    op = Enrollment(req, settings, password=password, secrets=secrets, on_unknown_key=host_key_callback(args))
    if not args.json:
        print(f"Enrolling {req.address} ({req.mode.value} mode)")
    result = asyncio.run(drive(op, args.json))
    if args.json:
        print(json.dumps(result.to_json()))
    elif result.ok:
        print(f"{req.address} enrolled in {result.elapsed_s:.1f}s" + ("" if result.changed else " (nothing changed)"))
    else:
        state = "previous state restored" if result.rolled_back else "host left as it was"
        print(f"fleetui enroll: {result.failed_step} failed: {result.error} ({state})", file=sys.stderr)
    return exit_code(result)


def _loki(settings: Settings) -> str | None:
    try:
        v = settings["loki.url"]
    except KeyError:
        return None
    return str(v) if v else None
