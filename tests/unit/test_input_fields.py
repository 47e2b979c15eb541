"""Input is checked before any connection, by every command, with errors keyed by field.

Pure checks (`build_request`, the operation factories) and the CLI commands themselves: each CLI case points at
127.0.0.1 port 1, where nothing listens, so a command that tried to connect would fail differently ("cannot
connect") — these must fail on the input, naming the flag, with exit 2 and one line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleetui.config import ConfigError, Settings, load
from fleetui.deploy.enroll import enroll_operation
from fleetui.deploy.retire import retire_operation
from fleetui.domain.host import FIELDS, InputError, InputErrors, build_request
from fleetui.domain.labels import LabelSchema


@pytest.fixture
def settings(_isolated_config: Path) -> Settings:
    return load(_isolated_config, environ={})


def test_every_bad_field_at_once_in_form_order() -> None:
    with pytest.raises(InputErrors) as err:
        build_request(
            "bad host",
            port=70000,
            user="Root",
            password_env="1X",
            mode="sideways",
            services=["nope"],
            labels={"job": "v1"},
            trust_host_key="MD5:aa",
        )
    assert list(err.value.errors) == [f for f in FIELDS if f != "identity_file"]
    assert err.value.field == "address"
    assert "'bad host' is not a host name" in err.value.errors["address"]
    assert "job" in err.value.errors["labels"] and "set by fleetui" in err.value.errors["labels"]
    assert str(err.value).startswith("address: 'bad host' is not a host name or IP address; port: 70000")


def test_job_and_instance_are_fleetuis_in_both_modes() -> None:
    for mode in ("pull", "push"):
        for label in ("job", "instance"):
            with pytest.raises(InputError) as err:
                build_request("127.0.0.1", mode=mode, labels={label: "x"})
            assert err.value.field == "labels"


def test_required_labels_are_the_labels_field() -> None:
    with pytest.raises(InputError) as err:
        build_request("127.0.0.1", labels={"environment": "x"}, schema=LabelSchema(("environment", "maintainers")))
    assert err.value.field == "labels" and "maintainers" in str(err.value)


def test_enroll_checks_before_connecting(settings: Settings) -> None:
    def refused(services: list[str], mode: str = "pull", s: Settings = settings, **kw: object) -> InputError:
        req = build_request("127.0.0.1", port=1, services=services, mode=mode)
        with pytest.raises(InputError) as err:
            enroll_operation(req, s, **kw)  # type: ignore[arg-type]
        return err.value

    e = refused(["logfile:path=/var/log/x"])
    assert e.field == "services" and "loki.url" in str(e) and "loki_url=" in str(e)
    e = refused(["nginx"])
    assert e.field == "services" and "push mode" in str(e)
    e = refused(["postgres:dsn_env=PG_DSN"])
    assert e.field == "services" and "PG_DSN" in str(e)
    # loki.url is a real key: with it set the same request is accepted (and nothing connected yet)
    with_loki = settings.with_overrides({"loki.url": "http://loki:3100/loki/api/v1/push"})
    enroll_operation(build_request("127.0.0.1", port=1, services=["logfile:path=/var/log/x"]), with_loki)
    req = build_request("127.0.0.1", port=1, password_env="OPS_PW")
    with pytest.raises(InputError) as err:
        enroll_operation(req, settings)
    assert err.value.field == "password_env"


def test_unreadable_prometheus_token_is_refused_up_front(settings: Settings, tmp_path: Path) -> None:
    broken = settings.with_overrides({"prometheus.bearer_token_file": str(tmp_path / "missing.token")})
    req = build_request("127.0.0.1", port=1)
    for make in (lambda: enroll_operation(req, broken), lambda: retire_operation(req, broken)):
        with pytest.raises(ConfigError, match="bearer_token_file"):
            make()


def fleetui(*args: str, cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetui", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("command", "args", "flag", "why"),
    [
        ("plan", ["--service", "logfile:path=/var/log/x"], "--service", "Loki push URL"),
        ("plan", ["--label", "job=v1"], "--label", "set by fleetui"),
        ("enroll", ["--mode", "push", "--label", "job=v1", "--yes"], "--label", "set by fleetui"),
        ("enroll", ["--service", "nginx", "--yes"], "--service", "needs push mode"),
        ("plan", ["--password-env", "FLEETUI_TEST_UNSET_PW"], "--password-env", "is not set"),
        ("retire", ["--user", "ops;id", "--yes"], "--user", "login name"),
    ],
)
def test_cli_names_the_flag_and_never_connects(
    _isolated_config: Path, command: str, args: list[str], flag: str, why: str
) -> None:
    _isolated_config.write_text("schema:\n  required_labels: []\n")
    r = fleetui(command, "127.0.0.1", "--port", "1", *args, cfg=_isolated_config)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"fleetui {command}: {flag}: ") and why in line, line
    assert "connect" not in line


def test_operator_text_names_no_planning_documents() -> None:
    """Every string literal that can reach an operator (messages, hints, help; docstrings and comments are for
    developers and excluded) speaks of the product only: no "seed 000", no "issue 11"."""
    import ast
    import re

    root = Path(__file__).resolve().parents[2] / "fleetui"
    offenders = []
    for path in root.rglob("*.py"):
        if "lab" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
            if id(node) not in docstrings and re.search(r"\b(seed|issue)s? ?\d{1,3}\b", text, re.IGNORECASE):
                offenders.append(f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}: {text[:80]!r}")
    assert offenders == []
