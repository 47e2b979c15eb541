"""The `fleetui` command: the console by default, and a headless twin of every screen.

Each subcommand lives in `fleetui/commands/<name>.py` with `add_arguments(parser)` and
`run(args, settings) -> int`. Those modules keep heavy imports (Textual, httpx, asyncssh) inside `run`, so
`fleetui status --json` never pays for the UI. Exit codes: 0 ok, 1 the operation found or hit a problem,
2 bad input or configuration (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fleetui import __version__
from fleetui.config import CONFIG_ENV, KEYS_BY_PATH, ConfigError, Settings, default_config_path, load

# name -> one-line help; the module is fleetui.commands.<name with - as _>
# (each helper adds its command here when the module exists)
COMMANDS: dict[str, str] = {
    "config": "show the effective configuration (secrets are never shown)",
    "tui": "open the console (the default when no command is given)",
    "status": "fleet status from Prometheus: state, last seen and label problems per host",
    "rules": "print Prometheus rules: last-seen recording rule and HostDown for pull and push hosts",
    "lab": "start, stop or describe the embedded lab (root, Debian)",
    "demo": "bring the embedded lab up and open the console on it (lab down on exit)",
    "check": "check Alloy configuration files for syntax errors, offline (like `alloy fmt`)",
    "enroll": "enroll a host over SSH: install Alloy, deploy its config, add it to Prometheus",
    "plan": "show what `fleetui enroll` would change on a host, changing nothing",
    "retire": "stop monitoring a host: rename its target file (audit trail), optionally stop Alloy",
    "history": "the targets directory as an audit trail: enrolled and retired hosts with times",
    "fix": "fix a host's label problem (or every host's, --all): plan, confirm, apply, wait until Prometheus agrees",
    "render": "print the Alloy config, env file and target JSON for a host description (no host touched)",
    "logs": "Alloy's logs from one or more hosts over SSH (journal or log file); -f follows, reconnecting",
    "doctor": "run the troubleshooting checklist on hosts (SSH, Alloy, exporter, remote_write, series, labels)",
}


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit 2."""


def _override_pairs(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fleetui",
        description="Keyboard-driven console for a Prometheus + Grafana Alloy fleet.",
    )
    p.add_argument("--version", action="version", version=f"fleetui {__version__}")
    p.add_argument("--config", type=Path, metavar="FILE", help="configuration file (default: XDG config path)")
    p.add_argument("--prometheus", metavar="URL", help="Prometheus base URL (prometheus.url)")
    p.add_argument("--targets-dir", metavar="DIR", help="file_sd targets directory or ssh://user@host/path")
    p.add_argument("--theme", metavar="NAME", help="console theme")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any configuration key, e.g. --set refresh_interval=5",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        _module(name).add_arguments(sp)
    return p


def _module(name: str) -> Any:
    return importlib.import_module(f"fleetui.commands.{name.replace('-', '_')}")


def settings_from_args(args: argparse.Namespace, module: Any) -> Settings:
    """The settings `module`'s command runs with. Each command module may say what it reads: READS_SETTINGS =
    False, none (the defaults: an offline command); TAKES_LAB_CONFIG = False, never the running lab's file in
    place of a missing one of your own (the lab's own commands)."""
    if not getattr(module, "READS_SETTINGS", True):
        return load(None, environ={})
    overrides: dict[str, Any] = _override_pairs(args.set)
    for flag, key in (("prometheus", "prometheus.url"), ("targets_dir", "targets.dir"), ("theme", "theme")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value
    unknown = [k for k in overrides if k not in KEYS_BY_PATH]
    if unknown:
        raise UsageError(f"--set {unknown[0]}: unknown key (see `fleetui --help` and the README's reference)")
    return load(_config_file(args, lab_config=getattr(module, "TAKES_LAB_CONFIG", True)), overrides=overrides)


def _config_file(args: argparse.Namespace, *, lab_config: bool) -> Path | None:
    """--config; else, for someone who has no configuration yet but has the embedded lab up, the lab's file.

    So `fleetui lab up && fleetui status` shows the lab's fleet instead of failing on the default
    http://127.0.0.1:9090. Said on stderr every time, so nobody mistakes the lab for their fleet. A config file
    of one's own, $FLEETUI_CONFIG or --config always win.
    """
    given: Path | None = args.config
    if given is not None or os.environ.get(CONFIG_ENV) or not lab_config:
        return given
    if default_config_path().exists():
        return None
    from fleetui import lab

    running = lab.status()
    if running is None:
        return None
    print(f"fleetui: no configuration file yet; using the running lab's ({running.config_file})", file=sys.stderr)
    return running.config_file


def _stdout_closed() -> int:
    """The reader of our output went away (`fleetui status --json | head -c 10`): end quietly, as `git log | head`
    does. stdout is pointed at /dev/null so the interpreter's final flush cannot raise a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + 13  # what a shell reports for a process ended by SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the guard: buffered output meets a closed pipe here, not at exit
        return code
    except BrokenPipeError:
        return _stdout_closed()


def _main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "tui"
    module = _module(command)
    try:
        settings = settings_from_args(args, module)
        code: int = module.run(args, settings)
        return code
    except ConfigError as e:
        print(f"fleetui: config error: {e}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"fleetui: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
