"""fleetui's settings: one YAML file, every key overridable by an env var and by a flag.

Precedence, lowest first: built-in default < YAML file < `FLEETUI_<KEY>` environment variable < command-line
flag. Keys are dotted paths (`prometheus.url`); the env var is the path upper-cased with `.` turned into `__`
(`FLEETUI_PROMETHEUS__URL`), and every key can be set with `--set prometheus.url=...` (common ones also have
their own flag, see `fleetui.cli`).

Secrets are never stored in the file: the file names *where* a secret is (a file path or an env var name)
and `Settings.secret(...)` reads it when a client needs it. Errors are `ConfigError`, which the CLI prints as
one line naming the file, the key and what is wrong, then exits 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
import yaml

APP_NAME = "fleetui"
ENV_PREFIX = "FLEETUI_"
CONFIG_ENV = "FLEETUI_CONFIG"


class ConfigError(Exception):
    """A bad configuration value: rendered as `source: key: problem` on one line."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


def default_config_path() -> Path:
    """The XDG config file (`~/.config/fleetui/config.yaml` on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.yaml"


def default_state_dir() -> Path:
    """Where fleetui keeps state that is not configuration (the lab lives under it)."""
    return Path(platformdirs.user_state_dir(APP_NAME))


# --- value parsers: each takes the raw value (YAML scalar or string) and returns the typed one ---------------


def _url(v: Any) -> str:
    s = str(v).strip()
    parts = urlsplit(s)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL such as http://prometheus:9090, got {s!r}")
    return s.rstrip("/")


def _opt_url(v: Any) -> str | None:
    return None if v in (None, "") else _url(v)


def _pos_float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number of seconds, got {v!r}") from None
    if not f > 0:
        raise ValueError(f"must be greater than 0, got {v!r}")
    return f


def _port(v: Any) -> int:
    try:
        n = int(str(v))
    except ValueError:
        raise ValueError(f"must be a port number, got {v!r}") from None
    if not 1 <= n <= 65535:
        raise ValueError(f"must be between 1 and 65535, got {n}")
    return n


def _pos_int(v: Any) -> int:
    try:
        n = int(str(v))
    except ValueError:
        raise ValueError(f"must be a whole number, got {v!r}") from None
    if n < 1:
        raise ValueError(f"must be at least 1, got {n}")
    return n


def _opt_str(v: Any) -> str | None:
    if v in (None, ""):
        return None
    if not isinstance(v, str | int | float):
        raise ValueError(f"must be a string, got {type(v).__name__}")
    return str(v)


def _str(v: Any) -> str:
    s = _opt_str(v)
    if s is None:
        raise ValueError("must not be empty")
    return s


def _opt_path(v: Any) -> Path | None:
    s = _opt_str(v)
    return None if s is None else Path(os.path.expanduser(s))


def _env_name(v: Any) -> str | None:
    s = _opt_str(v)
    if s is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s):
        raise ValueError(f"must be an environment variable name, got {s!r}")
    return s


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _label_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [p for p in (x.strip() for x in v.split(",")) if p]
    if not isinstance(v, list | tuple):
        raise ValueError("must be a list of label names")
    out = []
    for item in v:
        name = str(item)
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"{name!r} is not a valid Prometheus label name")
        out.append(name)
    return tuple(out)


def _alias_map(v: Any) -> dict[str, str]:
    if isinstance(v, str):  # env/flag form: "maintainer=maintainers,env=environment"
        pairs = [p.split("=", 1) for p in v.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("must look like alias=label,alias=label")
        v = {a.strip(): b.strip() for a, b in pairs}
    if not isinstance(v, dict):
        raise ValueError("must be a mapping of alias: label")
    out = {}
    for k, val in v.items():
        for name in (str(k), str(val)):
            if not _LABEL_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid Prometheus label name")
        out[str(k)] = str(val)
    return out


def _targets_location(v: Any) -> str:
    s = _str(v)
    if s.startswith("ssh://"):
        parts = urlsplit(s)
        if not parts.hostname or not parts.path or parts.path == "/":
            raise ValueError(f"must look like ssh://user@host/path/to/targets, got {s!r}")
    elif "://" in s:
        raise ValueError(f"must be a local directory or ssh://user@host/path, got {s!r}")
    return s


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        s = str(v)
        if s not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {s!r}")
        return s

    return parse


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {v!r}")


@dataclass(frozen=True)
class Key:
    """One configuration key: its dotted path, parser, default and the line the reference prints."""

    path: str
    parse: Callable[[Any], Any]
    default: Any
    doc: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.path.upper().replace(".", "__")


KEYS: tuple[Key, ...] = (
    Key("prometheus.url", _url, "http://127.0.0.1:9090", "Prometheus (or Mimir/Cortex query frontend) base URL"),
    Key("prometheus.username", _opt_str, None, "basic-auth user name"),
    Key("prometheus.password_file", _opt_path, None, "file holding the basic-auth password"),
    Key("prometheus.password_env", _env_name, None, "env var holding the basic-auth password"),
    Key("prometheus.bearer_token_file", _opt_path, None, "file holding a bearer token"),
    Key("prometheus.bearer_token_env", _env_name, None, "env var holding a bearer token"),
    Key("prometheus.ca_file", _opt_path, None, "CA bundle to verify Prometheus' TLS certificate"),
    Key("prometheus.tenant", _opt_str, None, "X-Scope-OrgID header for Mimir/Cortex"),
    Key("prometheus.timeout", _pos_float, 10.0, "seconds before a Prometheus request times out"),
    Key("alertmanager.url", _opt_url, None, "Alertmanager base URL (unset: firing alerts from Prometheus' own API)"),
    Key("alertmanager.username", _opt_str, None, "Alertmanager basic-auth user name"),
    Key("alertmanager.password_file", _opt_path, None, "file holding Alertmanager's basic-auth password"),
    Key("alertmanager.password_env", _env_name, None, "env var holding Alertmanager's basic-auth password"),
    Key("alertmanager.bearer_token_file", _opt_path, None, "file holding a bearer token for Alertmanager"),
    Key("alertmanager.bearer_token_env", _env_name, None, "env var holding a bearer token for Alertmanager"),
    Key("alertmanager.ca_file", _opt_path, None, "CA bundle to verify Alertmanager's TLS certificate"),
    Key(
        "prometheus.remote_write_url",
        _opt_url,
        None,
        "remote_write URL push-mode hosts send to (default: <prometheus.url>/api/v1/write)",
    ),
    Key(
        "loki.url",
        _opt_url,
        None,
        "Loki push URL the journal and logfile services send to (a service's loki_url=... wins)",
    ),
    Key("refresh_interval", _pos_float, 15.0, "seconds between fleet refreshes in the console"),
    Key("stale_after", _pos_float, 120.0, "a push host whose newest sample is older than this is stale"),
    Key(
        "history_after",
        _pos_float,
        30.0,
        "seconds a push series may be older than its host's newest before its labels count as history "
        "(about two scrape intervals)",
    ),
    Key("lookback", _pos_float, 86400.0, "how far back (seconds) a vanished host is still listed as gone"),
    Key("schema.required_labels", _label_list, ("environment", "maintainers"), "labels every host must carry"),
    Key(
        "schema.aliases",
        _alias_map,
        {"maintainer": "maintainers", "env": "environment", "owner": "maintainers"},
        "label keys that are known misspellings of a schema key (alias: key)",
    ),
    Key(
        "targets.dir",
        _targets_location,
        "/etc/prometheus/targets",
        "Prometheus file_sd directory: a local path or ssh://user@host/path",
    ),
    Key("ssh.user", _str, "root", "SSH user when neither --user nor the ssh config gives one"),
    Key("ssh.port", _port, 22, "SSH port when neither --port nor the ssh config gives one"),
    Key(
        "ssh.identity_file",
        _opt_path,
        None,
        "private key when neither --identity nor the ssh config gives one (else agent and ~/.ssh defaults)",
    ),
    Key("ssh.known_hosts", _opt_path, None, "fleetui's own known_hosts file (default: <config dir>/known_hosts)"),
    Key(
        "ssh.config_file",
        _opt_path,
        "~/.ssh/config",
        "OpenSSH client config whose Host aliases (HostName, Port, User, IdentityFile, ProxyJump) fleetui follows; "
        "empty: none",
    ),
    Key("ssh.connect_timeout", _pos_float, 15.0, "seconds to establish an SSH connection"),
    Key("ssh.command_timeout", _pos_float, 300.0, "seconds a single remote command may run"),
    Key("ssh.concurrency", _pos_int, 8, "hosts enrolled at once in a batch"),
    Key("alloy.port", _port, 12345, "Alloy HTTP port (pull mode: Prometheus scrapes it)"),
    Key("alloy.apt_repo_url", _url, "https://apt.grafana.com", "Grafana apt repository"),
    Key("alloy.apt_key_url", _url, "https://apt.grafana.com/gpg-full.key", "Grafana apt signing key"),
    Key("alloy.rpm_repo_url", _url, "https://rpm.grafana.com", "Grafana rpm repository (dnf/yum/zypper)"),
    Key("alloy.rpm_key_url", _url, "https://rpm.grafana.com/gpg.key", "Grafana rpm signing key"),
    Key("alloy.up_timeout", _pos_float, 120.0, "seconds to wait for Prometheus to report a new host up"),
    Key("logs.buffer_lines", _pos_int, 10000, "lines the log pane keeps; older ones are dropped (and counted)"),
    Key("theme", _str, "fleet-dark", "console theme (a file in themes/ or the user theme dir)"),
)
KEYS_BY_PATH = {k.path: k for k in KEYS}


@dataclass(frozen=True)
class Settings:
    """The effective configuration: typed values by dotted key, plus where the file came from."""

    values: Mapping[str, Any]
    source: Path | None = None
    config_dir: Path = field(default_factory=lambda: default_config_path().parent)

    def __getitem__(self, path: str) -> Any:
        return self.values[path]

    @property
    def known_hosts(self) -> Path:
        kh = self.values["ssh.known_hosts"]
        return Path(kh) if kh else self.config_dir / "known_hosts"

    @property
    def remote_write_url(self) -> str:
        return self.values["prometheus.remote_write_url"] or f"{self.values['prometheus.url']}/api/v1/write"

    def secret(self, file_key: str, env_key: str) -> str | None:
        """Read a secret from the file or env var the config names; never cached, never logged."""
        path = self.values[file_key]
        if path is not None:
            try:
                return Path(path).read_text().strip()
            except OSError as e:
                raise ConfigError(str(self.source or "config"), file_key, f"cannot read {path}: {e.strerror}") from None
        env = self.values[env_key]
        if env is not None:
            val = os.environ.get(env)
            if val is None:
                raise ConfigError(str(self.source or "config"), env_key, f"environment variable {env} is not set")
            return val
        return None

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "command line") -> Settings:
        vals = dict(self.values)
        for path, raw in overrides.items():
            vals[path] = _parse_key(path, raw, source)
        return Settings(vals, self.source, self.config_dir)


def _parse_key(path: str, raw: Any, source: str) -> Any:
    key = KEYS_BY_PATH.get(path)
    if key is None:
        raise ConfigError(source, path, f"unknown key (known keys: {', '.join(sorted(KEYS_BY_PATH))})")
    try:
        return key.parse(raw)
    except ValueError as e:
        raise ConfigError(source, path, str(e)) from None


def _flatten(data: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    """Nested YAML mapping -> {dotted.key: raw value}; a mapping is a leaf where the key expects one."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and path not in KEYS_BY_PATH:
            out.update(_flatten(v, source, path + "."))
        else:
            out[path] = v
    return out


def load(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from defaults, the YAML file, the environment and flag overrides.

    `path` None means `$FLEETUI_CONFIG` or the XDG default; a missing default file is fine (first run), a
    missing explicitly named file is an error.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or CONFIG_ENV in env
    cfg_path = path or Path(env.get(CONFIG_ENV) or default_config_path())
    values = {k.path: k.default for k in KEYS}
    source: Path | None = None
    if cfg_path.exists() or explicit:
        src = str(cfg_path)
        try:
            text = cfg_path.read_text()
        except FileNotFoundError:
            raise ConfigError(src, "", "file not found") from None
        except OSError as e:
            raise ConfigError(src, "", f"cannot read: {e.strerror}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(e, "problem", None) or "invalid YAML"
            raise ConfigError(src, "", f"{where}{problem}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(src, "", "must be a YAML mapping of keys to values")
        for k, raw in _flatten(data, src).items():
            values[k] = _parse_key(k, raw, src)
        source = cfg_path
    for key in KEYS:
        if key.env in env:
            values[key.path] = _parse_key(key.path, env[key.env], f"environment {key.env}")
    settings = Settings(values, source, cfg_path.parent)
    return settings.with_overrides(overrides or {})


def save_value(path: Path, key: str, value: Any) -> None:
    """Set one key in the YAML file, keeping the others (used to remember the console theme)."""
    _parse_key(key, value, str(path))
    data: dict[str, Any] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text())
        if isinstance(loaded, dict):
            data = loaded
    node = data
    *parents, leaf = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)


def reference_markdown() -> str:
    """The configuration reference table for the README (kept in sync by a test)."""
    rows = ["| key | env var | default | meaning |", "|---|---|---|---|"]
    for k in KEYS:
        default = k.default
        if isinstance(default, tuple):
            default = ", ".join(default)
        elif isinstance(default, dict):
            default = ", ".join(f"{a}→{b}" for a, b in default.items())
        rows.append(f"| `{k.path}` | `{k.env}` | {'' if default is None else f'`{default}`'} | {k.doc} |")
    return "\n".join(rows)
