"""`alloy` command line of the fleetui lab stand-in for Grafana Alloy (ALLOY-FACTS §1, §1a).

`--version`/`-v`, `fmt [-w] [-t] [FILE|-]`, `validate PATH` (only from v1.9.0, like the real one), and
`run [flags] PATH`. Errors: cobra's `Error: <message>` on stderr and exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fleetui.lab.alloy_standin import version, version_tuple
from fleetui.lab.alloy_standin.graph import ConfigError, Diag

USAGE = """Grafana Alloy (fleetui lab stand-in)

Usage:
  alloy [flags]
  alloy [command]

Available Commands:
  convert     Convert a supported config file to River
  fmt         Format a configuration file
  help        Help about any command
  run         Run Grafana Alloy
  tools       Utilities for troubleshooting
{validate}
Flags:
  -h, --help      help for alloy
  -v, --version   version for alloy

Use "alloy [command] --help" for more information about a command.
"""


def banner() -> str:
    return (
        f"alloy, version v{version()} (branch: HEAD, revision: 5a8c9e1f0)\n"
        "  build user:       fleetui-lab@standin\n"
        "  build date:       2025-07-24T14:02:11Z\n"
        "  go version:       go1.24.5\n"
        "  platform:         linux/amd64\n"
        "  tags:             netgo,builtinassets,promtail_journal_enabled\n"
    )


def _err(msg: str) -> int:
    print(f"Error: {msg}", file=sys.stderr)
    return 1


def pretty(d: Diag, sources: dict[str, str]) -> str:
    """Alloy's diag printer: `Error: file:l:c: msg`, blank, context with a gutter and ^^^ under the span."""
    head = f"{d.severity}: {d.filename}:{d.pos.line}:{d.pos.col}: {d.message}"
    src = sources.get(d.filename)
    if src is None:
        return head
    lines = src.split("\n")
    first, last = max(1, d.pos.line - 1), min(len(lines), d.pos.line + 1)
    width = len(str(last))
    out = [head, ""]
    for n in range(first, last + 1):
        text = lines[n - 1].replace("\t", "    ")
        out.append(f"{str(n).rjust(width)} | {text}".rstrip() if text else f"{str(n).rjust(width)} | ")
        if n == d.pos.line:
            prefix = lines[n - 1][: d.pos.col - 1].replace("\t", "    ")
            span = 1
            if d.end is not None and d.end.line == d.pos.line and d.end.col > d.pos.col:
                span = d.end.col - d.pos.col
            out.append(f"{' ' * width} | {' ' * len(prefix)}{'^' * span}")
    return "\n".join(out)


def print_diags(e: ConfigError, sources: dict[str, str]) -> None:
    print("\n\n".join(pretty(d, sources) for d in e.diags), file=sys.stderr)
    print(file=sys.stderr)


def cmd_fmt(args: list[str]) -> int:
    from fleetui.alloy.syntax import AlloySyntaxError, format_file, parse

    write = test = False
    files = []
    for a in args:
        if a in ("-w", "--write"):
            write = True
        elif a in ("-t", "--test"):
            test = True
        elif a.startswith("-") and a != "-":
            return _err(f"unknown shorthand flag: {a!r}" if not a.startswith("--") else f"unknown flag: {a}")
        else:
            files.append(a)
    if write and test:
        return _err("cannot use -w and -t together")
    if len(files) > 1:
        return _err(f"accepts at most 1 arg(s), received {len(files)}")
    name = files[0] if files else "-"
    if name == "-":
        if write:
            return _err("cannot use -w with standard input")
        src, label = sys.stdin.read(), "<stdin>"
    else:
        p = Path(name)
        if p.is_dir():
            return _err("cannot format a directory")
        try:
            src, label = p.read_text(), name
        except OSError as e:
            return _err(f"open {name}: {e.strerror.lower() if e.strerror else e}")
    try:
        out = format_file(parse(src, label))
    except AlloySyntaxError as e:
        for d in e.diagnostics:
            print(str(d), file=sys.stderr)
        return _err("encountered errors during formatting")
    if test:
        if out != src:
            return _err(f"file {label} is not formatted correctly")
        return 0
    if write:
        if out != src:
            Path(name).write_text(out)
        return 0
    sys.stdout.write(out)
    return 0


def cmd_validate(args: list[str]) -> int:
    from fleetui.lab.alloy_standin.graph import load, read_sources

    paths = [a for a in args if not a.startswith("-")]
    if len(paths) != 1:
        return _err(f"accepts 1 arg(s), received {len(paths)}")
    try:
        sources = read_sources(paths[0])
    except OSError as e:
        return _err(f"failed to load config: {e}")
    try:
        load(sources)
    except ConfigError as e:
        print_diags(e, sources)
        return _err("validation failed")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    has_validate = version_tuple() >= (1, 9)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE.format(validate="  validate    Validate a configuration file\n" if has_validate else ""))
        return 0
    if args[0] in ("-v", "--version"):
        sys.stdout.write(banner())
        return 0
    cmd, rest = args[0], args[1:]
    if cmd in ("fmt", "format"):
        return cmd_fmt(rest)
    if cmd == "validate" and has_validate:
        return cmd_validate(rest)
    if cmd == "run":
        from fleetui.lab.alloy_standin.agent import cmd_run

        return cmd_run(rest)
    return _err(f'unknown command "{cmd}" for "alloy"\nRun \'alloy --help\' for usage.')
