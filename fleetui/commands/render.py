"""`fleetui render`: print the Alloy config, env file and target JSON the engine would deploy, touching no host.

There is no host to detect, so the description comes from flags (`--hostname`, `--os`, `--address`...). The
output is exactly what `fleetui enroll` would write for such a host (same templates, same escaping), already
checked by the offline parser, so it can be reviewed or committed. Secret values are shown masked.
"""

from __future__ import annotations

import argparse
import sys

from fleetui.config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hostname", required=True, help="the host's nodename (uname -n): the instance label")
    p.add_argument("--address", default=None, help="address Prometheus reaches it on (default: --hostname)")
    p.add_argument("--os", choices=("debian", "rhel", "suse", "darwin"), default="debian", help="OS family")
    p.add_argument("--arch", choices=("amd64", "arm64", "armv7"), default="amd64", help="CPU architecture")
    p.add_argument("--mode", choices=("pull", "push"), default="pull", help="pull (default) or push")
    p.add_argument("--service", action="append", default=[], metavar="NAME[:k=v,...]", help="as for enroll")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="a target label")
    p.add_argument("--only", choices=("config", "env", "target"), default=None, help="print just one part")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from fleetui.alloy.syntax import check
    from fleetui.deploy.platform import platform_for
    from fleetui.deploy.render import RenderInput, render_host
    from fleetui.domain.fleet import Mode
    from fleetui.domain.host import HostFacts, InputError, OsFamily, check_address, parse_service
    from fleetui.domain.labels import LabelError, LabelSchema, parse_label_args, validate_labels

    try:
        hostname = args.hostname
        if not hostname or any(c.isspace() or ord(c) < 32 for c in hostname):
            raise InputError(f"--hostname {hostname[:40]!r} is not a host name")
        address = check_address(args.address or hostname)
        schema = LabelSchema(tuple(settings["schema.required_labels"]), dict(settings["schema.aliases"]))
        labels = validate_labels(parse_label_args(args.label), schema)
        services = tuple(parse_service(s) for s in args.service)
        facts = HostFacts(OsFamily(args.os), args.os, "", args.arch, hostname)
        platform = platform_for(facts)
        loki = settings.values.get("loki.url")
        rendered = render_host(
            RenderInput(
                address,
                hostname,
                facts.family,
                Mode(args.mode),
                int(settings["alloy.port"]),
                settings.remote_write_url,
                services,
                labels,
                loki_url=str(loki) if loki else None,
                config_path=platform.config_path,
            )
        )
    except (InputError, LabelError, ValueError) as e:
        print(f"fleetui render: {e}", file=sys.stderr)
        return 2
    diags = check(rendered.config, platform.config_path)
    if args.json:
        print(
            json.dumps(
                {
                    "config_path": platform.config_path,
                    "config": rendered.config,
                    "env_path": platform.env_path,
                    "env_file": rendered.env_file_masked,
                    "target": json.loads(rendered.target_json),
                    "diagnostics": [str(d) for d in diags],
                }
            )
        )
    else:
        parts = {
            "config": (platform.config_path, rendered.config),
            "env": (platform.env_path or "(no env file)", rendered.env_file_masked or ""),
            "target": (f"{settings['targets.dir']}/{address}.json", rendered.target_json),
        }
        for key, (path, text) in parts.items():
            if args.only in (None, key):
                if args.only is None:
                    print(f"# ---- {path}")
                sys.stdout.write(text)
    for d in diags:
        print(f"fleetui render: {d}", file=sys.stderr)
    return 1 if diags else 0
