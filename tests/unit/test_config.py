"""Configuration: precedence (default < file < env < flag) and one-line errors that name file, key, problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleetui.config import KEYS, ConfigError, load, reference_markdown, save_value


def test_defaults_without_a_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.touch()
    s = load(empty, environ={})
    assert s["prometheus.url"] == "http://127.0.0.1:9090"
    assert s["stale_after"] == 120.0
    assert s["schema.required_labels"] == ("environment", "maintainers")


def test_precedence_file_env_flag(tmp_path: Path) -> None:
    f = tmp_path / "config.yaml"
    f.write_text("prometheus:\n  url: http://file:9090\n  timeout: 3\nrefresh_interval: 7\n")
    s = load(f, environ={})
    assert (s["prometheus.url"], s["prometheus.timeout"], s["refresh_interval"]) == ("http://file:9090", 3.0, 7.0)
    s = load(f, environ={"FLEETUI_PROMETHEUS__URL": "http://env:9090"})
    assert s["prometheus.url"] == "http://env:9090"
    s = load(
        f, environ={"FLEETUI_PROMETHEUS__URL": "http://env:9090"}, overrides={"prometheus.url": "https://flag:443/"}
    )
    assert s["prometheus.url"] == "https://flag:443"
    assert s.source == f


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prometheus:\n  url: ftp://x\n", "prometheus.url: must be an http(s) URL"),
        ("refresh_interval: fast\n", "refresh_interval: must be a number of seconds, got 'fast'"),
        ("ssh:\n  port: 70000\n", "ssh.port: must be between 1 and 65535, got 70000"),
        ("schema:\n  required_labels: [ok, 'bad-name']\n", "schema.required_labels: 'bad-name' is not a valid"),
        ("targets:\n  dir: s3://bucket/x\n", "targets.dir: must be a local directory or ssh://user@host/path"),
        ("prometheus:\n  password_env: 'not a name'\n", "prometheus.password_env: must be an environment variable"),
        ("nonsense: 1\n", "nonsense: unknown key"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("a: [\n", "line 2, column 1"),
    ],
)
def test_bad_file_names_file_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "config.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(f, environ={})
    line = str(err.value)
    assert line.startswith(str(f) + ": ")
    assert expected in line
    assert "\n" not in line


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^environment FLEETUI_STALE_AFTER: stale_after: must be greater than 0"):
        empty = tmp_path / "empty.yaml"
        empty.touch()
        load(None, environ={"FLEETUI_STALE_AFTER": "0", "FLEETUI_CONFIG": str(empty)})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "missing.yaml", environ={})


def test_secrets_are_read_from_where_the_config_points(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    f = tmp_path / "config.yaml"
    f.write_text(f"prometheus:\n  bearer_token_file: {token}\n  password_env: PROM_PW\n")
    s = load(f, environ={})
    assert s.secret("prometheus.bearer_token_file", "prometheus.bearer_token_env") == "s3cret"
    with pytest.raises(ConfigError, match="PROM_PW is not set"):
        s.secret("prometheus.password_file", "prometheus.password_env")


def test_save_value_keeps_other_keys_and_validates(tmp_path: Path) -> None:
    f = tmp_path / "config.yaml"
    f.write_text("prometheus:\n  url: http://p:9090\n")
    save_value(f, "theme", "fleet-light")
    s = load(f, environ={})
    assert (s["theme"], s["prometheus.url"]) == ("fleet-light", "http://p:9090")
    with pytest.raises(ConfigError):
        save_value(f, "ssh.port", "x")


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "config.yaml"
    f.write_text("stale_after: -1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(f), "config"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"fleetui: config error: {f}: stale_after: must be greater than 0, got -1\n"


def test_readme_reference_lists_every_key() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert reference_markdown() in readme, (
        "README's configuration reference is out of date: paste the output of `fleetui config --reference`"
    )
    assert all(k.path in readme for k in KEYS)
