"""What an enrollment is about: the request a user makes and the facts detected on the host.

Pure types and parsing: the CLI, the wizard and the batch screen all build an `EnrollRequest`, and everything
user-supplied in it is checked here (address, user, services and their parameters, labels) before the engine
connects anywhere, so bad input changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from urllib.parse import urlsplit

from fleetui.domain.fleet import Mode
from fleetui.domain.labels import LabelError, LabelSchema, validate_labels


class InputError(ValueError):
    """Bad input from a user: one sentence, and the request field it is about (`address`, `port`, `user`,
    `identity_file`, `password_env`, `mode`, `services`, `labels`, `trust_host_key`), so the console can show it
    beside that field and the CLI can name the flag. Nothing has been touched when it is raised."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class InputErrors(InputError):
    """Every bad field of one request at once: `errors` maps field -> one sentence, in form order."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        field, message = next(iter(self.errors.items()))
        super().__init__(message, field)

    def __str__(self) -> str:
        return "; ".join(f"{f}: {m}" if f else m for f, m in self.errors.items())


FIELDS = ("address", "port", "user", "identity_file", "password_env", "mode", "services", "labels", "trust_host_key")


class OsFamily(StrEnum):
    DEBIAN = "debian"
    RHEL = "rhel"
    SUSE = "suse"
    DARWIN = "darwin"


ARCH_MAP = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "amd64", "amd64": "amd64", "armv7l": "armv7"}


@dataclass(frozen=True)
class HostFacts:
    """What `detect` found: used to pick install commands, paths and template branches."""

    family: OsFamily
    os_id: str
    version_id: str
    arch: str
    nodename: str
    alloy_version: str | None = None  # "1.9.2" when installed, else None


_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_IPV6_RE = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_USER_RE = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\s\"'`\\$]")


def check_address(address: str, field: str = "address") -> str:
    a = address.strip()
    if a.startswith("[") and a.endswith("]"):
        a = a[1:-1]
    if ":" in a:
        if not _IPV6_RE.fullmatch(a):
            raise InputError(f"{address[:60]!r} is not a host name or IP address", field)
    elif not _HOST_RE.fullmatch(a):
        raise InputError(f"{address[:60]!r} is not a host name or IP address", field)
    return a


def check_user(user: str) -> str:
    if not _USER_RE.fullmatch(user):
        raise InputError(f"{user[:40]!r} is not a valid login name", "user")
    return user


def check_url(what: str, url: str, field: str = "") -> str:
    if _UNSAFE.search(url.replace(" ", "")) or " " in url:
        raise InputError(f"{what}: {url[:60]!r} contains spaces, quotes or control characters", field)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{what}: must be an http(s) URL, got {url[:60]!r}", field)
    return url


def check_path(what: str, path: str, field: str = "") -> str:
    if not path.startswith("/") or _UNSAFE.search(path.replace(" ", "")) or "\n" in path:
        raise InputError(
            f"{what}: must be an absolute path without quotes or control characters, got {path[:60]!r}", field
        )
    return path


def check_hostport(what: str, value: str, field: str = "") -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InputError(f"{what}: must look like host:port, got {value[:60]!r}", field)
    try:
        check_address(host)
    except InputError as e:
        raise InputError(f"{what}: {e}", field) from None
    return value


@dataclass(frozen=True)
class ServiceSpec:
    """One extra thing Alloy collects on the host. `params` never holds a secret, only where it is."""

    name: str
    params: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        v = self.params.get(key, default)
        return v if isinstance(v, str) else (v[0] if v else default)

    def list(self, key: str) -> tuple[str, ...]:
        v = self.params.get(key, ())
        return (v,) if isinstance(v, str) else tuple(v)


# service -> {param: (checker, required, repeatable)}
_SERVICE_PARAMS: dict[str, dict[str, tuple[str, bool, bool]]] = {
    "postgres": {"dsn_env": ("env", True, False)},
    "nginx": {"url": ("url", False, False), "exporter": ("hostport", False, False)},
    "journal": {"loki_url": ("url", False, False), "unit": ("unit", False, True)},
    "logfile": {"path": ("path", True, True), "loki_url": ("url", False, False)},
    "self": {},
}
SERVICES = tuple(_SERVICE_PARAMS)


def _check_param(service: str, key: str, kind: str, value: str) -> str:
    what = f"{service}: {key}"
    if kind == "env":
        if not _ENV_RE.fullmatch(value):
            raise InputError(f"{what}: must be an environment variable name, got {value[:40]!r}", "services")
        return value
    if kind == "url":
        return check_url(what, value, "services")
    if kind == "path":
        return check_path(what, value, "services")
    if kind == "hostport":
        return check_hostport(what, value, "services")
    if kind == "unit" and not re.fullmatch(r"[A-Za-z0-9@._:-]{1,200}", value):
        raise InputError(f"{what}: {value[:40]!r} is not a systemd unit name", "services")
    return value


def parse_service(text: str) -> ServiceSpec:
    """`NAME[:k=v,...]` -> ServiceSpec, checking the name, every key and every value (field `services`)."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if name not in _SERVICE_PARAMS:
        raise InputError(f"unknown service {name[:40]!r} (known: {', '.join(SERVICES)})", "services")
    allowed = _SERVICE_PARAMS[name]
    params: dict[str, str | tuple[str, ...]] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in allowed:
            known = ", ".join(allowed) or "none"
            raise InputError(f"{name}: unknown parameter {key[:40]!r} (known: {known})", "services")
        kind, _, repeatable = allowed[key]
        value = _check_param(name, key, kind, value)
        if key in params:
            if not repeatable:
                raise InputError(f"{name}: {key} given twice", "services")
            prev = params[key]
            params[key] = (*((prev,) if isinstance(prev, str) else prev), value)
        else:
            params[key] = (value,) if repeatable else value
    for key, (_, required, _) in allowed.items():
        if required and key not in params:
            raise InputError(f"{name}: needs {key}=...", "services")
    return ServiceSpec(name, params)


@dataclass(frozen=True)
class EnrollRequest:
    """Everything needed to enroll one host. `password_env` names a variable; the password is never stored.

    `address` is the operator's name for the host (an ssh-config alias stays one). `port`/`user` None: not given,
    so the ssh config and then fleetui's `ssh.*` settings decide. `resolved_address` is where the connection
    really went (the ssh config's HostName), set once connected: Alloy listens there and the target file is
    named after it, so an alias and its address never make two target files.
    """

    address: str
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    password_env: str | None = None
    mode: Mode = Mode.PULL
    services: tuple[ServiceSpec, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    trust_host_key: str | None = None
    resolved_address: str | None = None

    @property
    def target_address(self) -> str:
        """The address Alloy listens on and Prometheus scrapes: the resolved one once known."""
        return self.resolved_address or self.address

    @property
    def name(self) -> str:
        """The target file's base name: one file per (resolved) address."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.target_address)

    def resolved(self, address: str) -> EnrollRequest:
        """This request once the connection showed where `address` really leads."""
        return replace(self, resolved_address=check_address(address))


def build_request(
    address: str,
    *,
    port: int | None = None,
    user: str | None = None,
    identity_file: str | None = None,
    password_env: str | None = None,
    mode: str = "pull",
    services: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    trust_host_key: str | None = None,
    schema: LabelSchema | None = None,
) -> EnrollRequest:
    """Validate every field and build the request.

    Raises `InputErrors` holding one sentence per bad field (all fields are checked, so a form can mark each
    one), before anything connects anywhere.
    """
    errors: dict[str, str] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, message)

    addr = ""
    try:
        addr = check_address(address)
    except InputError as e:
        bad("address", str(e))
    if port is not None and not 1 <= port <= 65535:
        bad("port", f"{port} is not between 1 and 65535")
    if user is not None:
        try:
            check_user(user)
        except InputError as e:
            bad("user", str(e))
    if password_env is not None and not _ENV_RE.fullmatch(password_env):
        bad("password_env", f"{password_env[:40]!r} is not an environment variable name")
    m = Mode.PULL
    try:
        m = Mode(mode)
    except ValueError:
        bad("mode", f"must be pull or push, got {mode[:20]!r}")
    specs: tuple[ServiceSpec, ...] = ()
    try:
        specs = tuple(parse_service(s) for s in services)
        names = [s.name for s in specs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            bad("services", f"{dup[0]} given twice")
    except InputError as e:
        bad("services", str(e))
    checked: dict[str, str] = {}
    try:
        checked = validate_labels(labels or {}, schema)
    except LabelError as e:
        bad("labels", str(e))
    if trust_host_key is not None and not re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}=?", trust_host_key):
        bad("trust_host_key", "must be a SHA256:... fingerprint as ssh-keygen -lf prints it")
    if errors:
        raise InputErrors({f: errors[f] for f in FIELDS if f in errors})
    return EnrollRequest(addr, port, user, identity_file, password_env, m, specs, checked, trust_host_key)
