"""Host lists for batch enrollment: fleetui's YAML or CSV list, or an Ansible inventory (INI or YAML).

Pure parsing, no I/O beyond the text handed in, so every format is unit-tested and every row is checked before
anything connects. Each format becomes the same `HostEntry` list; `validate` turns entries into enroll requests
and collects every bad row with its reasons (keyed by field, as `build_request` raises them).

Ansible mapping (group vars apply from the outermost group in, then host vars, as Ansible does):
- the inventory host name is the address unless `ansible_host` is set; `ansible_port` -> port;
  `ansible_user` -> user; `ansible_ssh_private_key_file` -> identity file;
- `fleetui_labels` (a mapping, merged key by key) and `fleetui_services` (a list, the most specific wins),
  `fleetui_mode` (pull/push), `fleetui_password_env` (the name of a variable holding the SSH/sudo password);
- any other variable is ignored; `ansible_password` / `ansible_become_password` are refused, because a batch
  must not read secrets from a file: name an environment variable with `fleetui_password_env`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from fleetui.domain.host import EnrollRequest, InputError, InputErrors, build_request
from fleetui.domain.labels import LabelSchema

SECRET_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_become_password", "ansible_become_pass")
ENTRY_KEYS = ("address", "port", "user", "identity", "password_env", "mode", "services", "labels", "name")


class HostListError(ValueError):
    """The file as a whole cannot be read (not YAML, no hosts, unknown shape): one sentence."""


@dataclass(frozen=True)
class HostEntry:
    """One host as the file describes it, before validation. `where` says where it came from (for errors)."""

    name: str
    address: str
    port: int | str | None = None  # str: as written, when it is not a number (validate reports it)
    user: str | None = None
    identity_file: str | None = None
    password_env: str | None = None
    mode: str = "pull"
    services: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    where: str = field(default="", compare=False)
    problems: Mapping[str, str] = field(default_factory=dict, compare=False)  # found while parsing

    def to_json(self) -> dict[str, Any]:
        """The entry as the results file keeps it (no secret: only the password variable's name)."""
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "user": self.user,
            "identity": self.identity_file,
            "password_env": self.password_env,
            "mode": self.mode,
            "services": list(self.services),
            "labels": dict(self.labels),
        }


@dataclass(frozen=True)
class BadRow:
    entry: HostEntry
    errors: Mapping[str, str]  # request field -> reason

    def line(self) -> str:
        why = "; ".join(f"{f}: {m}" if f else m for f, m in self.errors.items())
        e = self.entry
        where = f"{e.where} ({e.name})" if e.where and e.name and e.name not in e.where else e.where or e.name
        return f"{where}: {why}"


# --- reading ---------------------------------------------------------------------------------------------------


def parse(text: str, filename: str = "") -> list[HostEntry]:
    """Entries of a host list or inventory; the format comes from the extension, else from the content."""
    low = filename.lower()
    if low.endswith(".csv"):
        return parse_csv(text)
    if low.endswith((".ini", ".cfg")):
        return parse_ansible_ini(text)
    data: Any = None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        if low.endswith((".yml", ".yaml", ".json")):
            raise HostListError(f"not valid YAML: {str(e).splitlines()[0]}") from None
        return parse_ansible_ini(text)  # an extensionless Ansible `hosts` file
    if isinstance(data, str | None) and not low.endswith((".yml", ".yaml", ".json")):
        return parse_ansible_ini(text)
    return from_yaml_data(data)


def from_yaml_data(data: Any) -> list[HostEntry]:
    """fleetui's list (`hosts:` a list, optional `defaults:`; or a bare list) or an Ansible YAML inventory."""
    if isinstance(data, list):
        return _fleetui_list(data, {})
    if not isinstance(data, dict):
        raise HostListError("expected a list of hosts, a mapping with `hosts:`, or an Ansible inventory")
    if isinstance(data.get("hosts"), list):
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise HostListError("`defaults:` must be a mapping")
        return _fleetui_list(data["hosts"], defaults)
    if all(isinstance(v, dict | None) for v in data.values()):
        return parse_ansible_yaml(data)
    raise HostListError("expected a list of hosts, a mapping with `hosts:`, or an Ansible inventory")


def _fleetui_list(rows: Sequence[Any], defaults: Mapping[str, Any]) -> list[HostEntry]:
    out = []
    for i, row in enumerate(rows, 1):
        where = f"host {i}"
        if isinstance(row, str):
            row = {"address": row}
        if not isinstance(row, dict):
            out.append(HostEntry(str(row)[:40], str(row)[:40], where=where, problems={"": "not a mapping"}))
            continue
        merged = {**defaults, **row}
        labels = {**_labels_of(defaults.get("labels")), **_labels_of(row.get("labels"))}
        merged["labels"] = labels
        out.append(_entry_from_fields(merged, where))
    return out


def _labels_of(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):  # "k=v;k=v" (CSV) or "k=v,k=v"
        out = {}
        for part in re.split(r"[;,]", value):
            if part.strip():
                k, sep, v = part.partition("=")
                out[k.strip()] = v.strip() if sep else ""
        return out
    return {"": str(value)}


def _services_of(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(s.strip() for s in value.split(";") if s.strip())
    if isinstance(value, list):
        return tuple(str(s) for s in value)
    return (str(value),)


def _port_of(value: Any) -> int | str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def _entry_from_fields(row: Mapping[str, Any], where: str) -> HostEntry:
    problems: dict[str, str] = {}
    unknown = sorted(str(k) for k in row if k not in ENTRY_KEYS)
    if unknown:
        problems[""] = f"unknown field {unknown[0]!r} (known: {', '.join(ENTRY_KEYS)})"
    address = str(row.get("address") or "").strip()
    if not address:
        problems["address"] = "no address"
    labels = _labels_of(row.get("labels"))
    return HostEntry(
        name=str(row.get("name") or address),
        address=address,
        port=_port_of(row.get("port")),
        user=_str_or_none(row.get("user")),
        identity_file=_str_or_none(row.get("identity")),
        password_env=_str_or_none(row.get("password_env")),
        mode=str(row.get("mode") or "pull"),
        services=_services_of(row.get("services")),
        labels=labels,
        where=where,
        problems=problems,
    )


def _str_or_none(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


def parse_csv(text: str) -> list[HostEntry]:
    """A header row naming columns (address required; port, user, identity, password_env, mode, services as
    `a;b`, labels as `k=v;k=v`, name), then one host per row."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "address" not in [f.strip() for f in reader.fieldnames]:
        raise HostListError("a CSV host list needs a header row with an `address` column")
    out = []
    for row in reader:
        clean = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(clean.values()):
            continue
        out.append(_entry_from_fields(clean, f"line {reader.line_num}"))
    return out


# --- Ansible ---------------------------------------------------------------------------------------------------


@dataclass
class _Group:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass
class _Inventory:
    groups: dict[str, _Group] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # hosts in the order first seen
    where: dict[str, str] = field(default_factory=dict)

    def group(self, name: str) -> _Group:
        return self.groups.setdefault(name, _Group(name))

    def add_host(self, group: str, host: str, hvars: Mapping[str, Any], where: str) -> None:
        if host not in self.host_vars:
            self.host_vars[host] = {}
            self.order.append(host)
            self.where[host] = where
        self.host_vars[host].update(hvars)
        g = self.group(group)
        if host not in g.hosts:
            g.hosts.append(host)


_RANGE = re.compile(r"\[(\d+):(\d+)\]")


def _expand(pattern: str) -> list[str]:
    """Ansible's numeric host ranges: `web[01:03]` -> web01, web02, web03 (leading zeros kept)."""
    m = _RANGE.search(pattern)
    if not m:
        return [pattern]
    lo, hi = m.group(1), m.group(2)
    width = len(lo) if lo.startswith("0") else 0
    out: list[str] = []
    for i in range(int(lo), int(hi) + 1):
        out += _expand(pattern[: m.start()] + str(i).zfill(width) + pattern[m.end() :])
    return out


def _ini_value(text: str) -> Any:
    """A `key=value` value as Ansible reads it: a YAML scalar/list/mapping literal, else the string."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_ansible_ini(text: str) -> list[HostEntry]:
    inv = _Inventory()
    section, kind = "ungrouped", "hosts"
    inv.group("all").children.append("ungrouped")
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            name, _, suffix = line[1:-1].partition(":")
            section, kind = name.strip(), (suffix.strip() or "hosts")
            if kind not in ("hosts", "vars", "children"):
                raise HostListError(f"line {n}: unknown section kind {suffix!r}")
            g = inv.group(section)
            if section != "all" and section not in inv.group("all").children:
                inv.group("all").children.append(section)
            del g
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise HostListError(f"line {n}: expected key=value in [{section}:vars]")
            inv.group(section).vars[key.strip()] = _ini_value(value.strip())
        elif kind == "children":
            inv.group(section).children.append(line.split()[0])
            inv.group(line.split()[0])
        else:
            try:
                words = _split_ini_host(line)
            except ValueError as e:
                raise HostListError(f"line {n}: {e}") from None
            hvars: dict[str, Any] = {}
            for w in words[1:]:
                key, sep, value = w.partition("=")
                if not sep:
                    raise HostListError(f"line {n}: expected key=value after the host name, got {w[:40]!r}")
                hvars[key] = _ini_value(value)
            for host in _expand(words[0]):
                inv.add_host(section, host, hvars, f"line {n}")
    return _entries(inv)


def _split_ini_host(line: str) -> list[str]:
    import shlex

    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split = True
    lex.commenters = "#"
    return list(lex)


def parse_ansible_yaml(data: Mapping[str, Any]) -> list[HostEntry]:
    inv = _Inventory()

    def walk(name: str, body: Any) -> None:
        g = inv.group(name)
        if body is None:
            return
        if not isinstance(body, dict):
            raise HostListError(f"group {name}: expected a mapping with hosts, vars or children")
        g.vars.update(body.get("vars") or {})
        for host, hvars in (body.get("hosts") or {}).items():
            for h in _expand(str(host)):
                inv.add_host(name, h, hvars or {}, f"host {h}")
        for child, cbody in (body.get("children") or {}).items():
            if child not in g.children:
                g.children.append(str(child))
            walk(str(child), cbody)

    for top, body in data.items():
        walk(str(top), body)
        if top != "all" and top not in inv.group("all").children:
            inv.group("all").children.append(str(top))
    return _entries(inv)


def _depths(inv: _Inventory) -> dict[str, int]:
    """Each group's depth below `all` (the longest path, as Ansible orders group vars)."""
    depth: dict[str, int] = {"all": 0}
    frontier = ["all"]
    for _ in range(len(inv.groups) + 1):
        nxt = []
        for g in frontier:
            for c in inv.groups[g].children:
                if c in inv.groups and depth.get(c, -1) < depth[g] + 1:
                    depth[c] = depth[g] + 1
                    nxt.append(c)
        if not nxt:
            break
        frontier = nxt
    return depth


def _entries(inv: _Inventory) -> list[HostEntry]:
    inv.group("all")
    depth = _depths(inv)
    parents: dict[str, set[str]] = {}
    for g in inv.groups.values():
        for c in g.children:
            parents.setdefault(c, set()).add(g.name)

    def ancestors(group: str) -> set[str]:
        seen: set[str] = set()
        todo = [group]
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            todo += parents.get(x, ())
        return seen

    out = []
    for host in inv.order:
        groups: set[str] = {"all"}
        for g in inv.groups.values():
            if host in g.hosts:
                groups |= ancestors(g.name)
        merged: dict[str, Any] = {}
        labels: dict[str, str] = {}
        problems: dict[str, str] = {}
        for name in sorted(groups, key=lambda x: (depth.get(x, 1), x)):
            _merge(merged, labels, inv.groups[name].vars, problems)
        _merge(merged, labels, inv.host_vars[host], problems)
        out.append(_ansible_entry(host, merged, labels, inv.where[host], problems))
    if not out:
        raise HostListError("the inventory has no hosts")
    return out


def _merge(merged: dict[str, Any], labels: dict[str, str], new: Mapping[str, Any], problems: dict[str, str]) -> None:
    for k, v in new.items():
        if k == "fleetui_labels":
            if isinstance(v, dict):
                labels.update({str(a): str(b) for a, b in v.items()})
            else:
                labels.update(_labels_of(v))
        elif k in SECRET_VARS:
            problems["password_env"] = (
                f"{k} is a secret in the inventory: fleetui does not read it; name an environment variable "
                "holding the password with fleetui_password_env"
            )
        else:
            merged[k] = v


def _ansible_entry(
    host: str, v: Mapping[str, Any], labels: Mapping[str, str], where: str, problems: Mapping[str, str]
) -> HostEntry:
    services = v.get("fleetui_services")
    if isinstance(services, str):
        services = [s.strip() for s in services.split(",") if s.strip()]
    return HostEntry(
        name=host,
        address=str(v.get("ansible_host") or host),
        port=_port_of(v.get("ansible_port")),
        user=_str_or_none(v.get("ansible_user")),
        identity_file=_str_or_none(v.get("ansible_ssh_private_key_file")),
        password_env=_str_or_none(v.get("fleetui_password_env")),
        mode=str(v.get("fleetui_mode") or "pull"),
        services=_services_of(services),
        labels=dict(labels),
        where=where,
        problems=dict(problems),
    )


# --- validating ------------------------------------------------------------------------------------------------


def validate(
    entries: Iterable[HostEntry], schema: LabelSchema | None = None
) -> tuple[list[tuple[HostEntry, EnrollRequest]], list[BadRow]]:
    """Every entry checked as `fleetui enroll` checks its flags: (good entries with their requests, bad rows
    with every reason). A host listed twice (same address and port) is bad from its second listing on."""
    good: list[tuple[HostEntry, EnrollRequest]] = []
    bad: list[BadRow] = []
    seen: dict[tuple[str, object], str] = {}
    for e in entries:
        errors: dict[str, str] = dict(e.problems)
        port: int | None = None
        if isinstance(e.port, str):
            errors.setdefault("port", f"{e.port[:20]!r} is not a port number")
        else:
            port = e.port
        req = None
        try:
            req = build_request(
                e.address,
                port=port,
                user=e.user,
                identity_file=e.identity_file,
                password_env=e.password_env,
                mode=e.mode,
                services=e.services,
                labels=e.labels,
                schema=schema,
            )
        except InputError as ex:
            found = ex.errors if isinstance(ex, InputErrors) else {ex.field: str(ex)}
            errors = {**found, **errors}
        key = (e.address, e.port)
        if key in seen and "address" not in errors:
            errors["address"] = f"listed twice (also {seen[key]})"
        seen.setdefault(key, e.where or e.name)
        if errors or req is None:
            bad.append(BadRow(e, errors or {"": "invalid"}))
        else:
            good.append((e, req))
    return good, bad
