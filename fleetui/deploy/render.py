"""Render the Alloy config, its environment file and the Prometheus target file for one host.

Pure (no IO but reading templates): `fleetui render`, `fleetui plan` and the pipeline all call `render_host`, so
what is reviewed is byte for byte what is deployed. Jinja2 runs with StrictUndefined and no autoescape; safety
comes from three filters instead: `alloy_str` (an Alloy string literal with every special character escaped),
`relabel_str` (the same, with `$` doubled because relabel replacements expand `$1`), and `env_str` (a
double-quoted value for systemd's EnvironmentFile, also safe when a shell sources it). Block labels are
identifiers made from the host name (`alloy_ident`), never the raw name.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import jinja2

from fleetui.domain.fleet import Mode
from fleetui.domain.host import InputError, OsFamily, ServiceSpec
from fleetui.resources import templates_dir

POSTGRES_DSN_ENV = "FLEETUI_POSTGRES_DSN"
_SIMPLE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def alloy_str(value: object) -> str:
    """A double-quoted Alloy string literal for any text (escapes per Alloy's scanner, ALLOY-FACTS §5)."""
    out = ['"']
    for ch in str(value):
        if ch in _SIMPLE:
            out.append(_SIMPLE[ch])
            continue
        cat = unicodedata.category(ch)
        if cat == "Cs":
            raise ValueError("text contains an unpaired surrogate and cannot be written")
        if cat in ("Cc", "Cf", "Zl", "Zp", "Co", "Cn"):
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def relabel_str(value: object) -> str:
    """`alloy_str` for a relabel `replacement`, where `$` starts a capture-group reference."""
    return alloy_str(str(value).replace("$", "$$"))


def env_str(value: object) -> str:
    """A value for an EnvironmentFile line: one line, double-quoted, `\\ " $ ``` escaped."""
    s = str(value)
    if any(c in s for c in "\n\r\x00"):
        raise ValueError("an environment value must be one line without NUL")
    return '"' + re.sub(r'([\\"$`])', r"\\\1", s) + '"'


def alloy_ident(name: str) -> str:
    """A valid Alloy identifier from a host name: web-01 -> web_01, 01db -> h_01db."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name.strip())
    if not ident:
        return "host"
    if ident[0].isdigit():
        ident = "h_" + ident
    return ident


def _journal_match(unit: str) -> str:
    return f"_SYSTEMD_UNIT={unit}"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "alloy")),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # not HTML: escaping is done by the filters above  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(alloy_str=alloy_str, relabel_str=relabel_str, env_str=env_str, journal_match=_journal_match)
    return env


@dataclass(frozen=True)
class RenderInput:
    """A host description: detected facts plus what the user asked for. No secrets, only where they are."""

    address: str
    nodename: str
    family: OsFamily
    mode: Mode
    alloy_port: int
    remote_write_url: str
    services: tuple[ServiceSpec, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    loki_url: str | None = None
    scrape_interval: str = "15s"
    config_path: str = "/etc/alloy/config.alloy"


@dataclass(frozen=True)
class Rendered:
    config: str
    env_file: str | None = field(repr=False)  # holds secrets: never printed, logged or put in an event
    env_file_masked: str | None
    target_json: str
    listen_addr: str
    host_label: str
    component_paths: tuple[str, ...]  # component endpoints to check after a (re)start

    @property
    def metrics_path(self) -> str:
        return self.component_paths[0]


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _component_path(kind: str, label: str) -> str:
    return f"/api/v0/component/prometheus.exporter.{kind}.{label}/metrics"


def check_services(
    services: tuple[ServiceSpec, ...], mode: Mode, family: OsFamily | None, loki_url: str | None
) -> None:
    """Refuse service combinations that cannot work, before anything is rendered or touched. `family` None:
    the OS is not known yet (before connecting), so only the checks that do not depend on it run."""
    names = {s.name for s in services}
    if "nginx" in names and mode is Mode.PULL:
        raise InputError(
            "nginx needs push mode: Alloy has no nginx exporter component, so it scrapes "
            "nginx-prometheus-exporter and remote-writes the result",
            "services",
        )
    if names & {"journal", "logfile"} and not (
        loki_url or any(s.get("loki_url") for s in services if s.name in ("journal", "logfile"))
    ):
        raise InputError(
            "journal and logfile need a Loki push URL: give loki_url=... or set loki.url in the configuration",
            "services",
        )
    if family is OsFamily.DARWIN:
        if "postgres" in names:
            raise InputError("postgres is not supported on macOS (Homebrew's service reads no env file)", "services")
        if "journal" in names:
            raise InputError("journal: macOS has no systemd journal", "services")


def check_combination(inp: RenderInput) -> None:
    check_services(inp.services, inp.mode, inp.family, inp.loki_url)


def render_host(inp: RenderInput, secrets: Mapping[str, str] | None = None) -> Rendered:
    """Render everything for one host. `secrets` maps env names (FLEETUI_POSTGRES_DSN) to values, if known."""
    check_combination(inp)
    label = alloy_ident(inp.nodename)
    listen = _hostport(inp.address, inp.alloy_port)
    loki_url = inp.loki_url
    for s in inp.services:
        if s.get("loki_url"):
            loki_url = s.get("loki_url")
    sink = (
        "prometheus.relabel.node_exporter_compat.receiver"
        if inp.family is OsFamily.DARWIN
        else "prometheus.remote_write.default.receiver"
    )
    paths = [_component_path("unix", label)]
    env = _env()
    ctx = {
        "mode": inp.mode.value,
        "family": inp.family.value,
        "host_label": label,
        "nodename": inp.nodename,
        "labels": dict(sorted(inp.labels.items())),
        "services": sorted(inp.services, key=lambda s: s.name),
        "scrape_interval": inp.scrape_interval,
        "remote_write_url": inp.remote_write_url,
        "loki_url": loki_url or "",
        "needs_loki": any(s.name in ("journal", "logfile") for s in inp.services),
        "metrics_sink": sink,
        "listen_addr": listen,
        "unix_metrics_path": paths[0],
    }
    config = env.get_template("config.alloy.j2").render(ctx)
    config = re.sub(r"\n{3,}", "\n\n", config).rstrip("\n") + "\n"

    groups: list[dict[str, object]] = []
    base = {"instance": inp.nodename, **inp.labels}
    if inp.mode is Mode.PULL:
        groups.append({"targets": [listen], "labels": {**base, "__metrics_path__": paths[0]}})
        for s in sorted(inp.services, key=lambda s: s.name):
            if s.name in ("postgres", "self"):
                p = _component_path(s.name, label)
                paths.append(p)
                job = "alloy" if s.name == "self" else "integrations/postgres"
                groups.append({"targets": [listen], "labels": {**base, "job": job, "__metrics_path__": p}})
    else:
        # push: Prometheus scrapes nothing here; the file keeps the host's labels in the audit trail
        groups.append({"targets": [], "labels": base})
    target_json = json.dumps(groups, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    env_text = masked = None
    if inp.family is not OsFamily.DARWIN:
        names = [POSTGRES_DSN_ENV] if any(s.name == "postgres" for s in inp.services) else []
        given = secrets or {}
        values = {n: given.get(n, "") for n in names}
        tmpl = env.get_template("env.j2")
        common = {"config_path": inp.config_path, "custom_args": f"--server.http.listen-addr={listen}"}
        env_text = tmpl.render(common, env_secrets=values)
        masked = tmpl.render(common, env_secrets={n: "********" for n in names})
    return Rendered(config, env_text, masked, target_json, listen, label, tuple(paths))
